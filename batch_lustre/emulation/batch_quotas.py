"""AWS Batch's Region quotas that cannot be raised, which moto does not enforce (docs/aws-rules.md, "Batch", "Region
quotas").

"Maximum number of job queues: 50"; "Maximum number of compute environments across Amazon ECS and Amazon EKS: 50";
"The following table provides the service quotas for AWS Batch that can't be changed. Each quota is Region
specific." (AWS Batch User Guide, "AWS Batch service quotas"). The 51st CreateComputeEnvironment or CreateJobQueue
of a Region is refused. **Assumed:** the refusal is Batch's ``ClientException`` (its error for a refused request,
API Reference, Common errors) and its wording; the guide documents neither. ``BatchScenario.enforce_region_quotas``
switches the rule off, for tests that show what goes wrong without it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from batch_lustre.emulation import moto_seam
from batch_lustre.emulation.moto_seam import BatchBackend, ClientException
from batch_lustre.emulation.scenario import BatchScenario

MAX_COMPUTE_ENVIRONMENTS = 50  # per Region, not adjustable
MAX_JOB_QUEUES = 50  # per Region, not adjustable


def quota_message(kind: str, limit: int, region: str) -> str:
    return f"Maximum number of {kind} per Region is {limit}: the account already has {limit} in {region}"


def install(stack: ExitStack, scenario_for: Callable[[], BatchScenario]) -> None:
    """Refuse the 51st compute environment and the 51st job queue of a Region, for ``stack``'s duration."""
    original_environment = BatchBackend.create_compute_environment
    original_queue = BatchBackend.create_job_queue

    def create_compute_environment(self: BatchBackend, *args: Any, **kwargs: Any) -> Any:
        existing = len(self._compute_environments)
        if scenario_for().enforce_region_quotas and existing >= MAX_COMPUTE_ENVIRONMENTS:
            raise ClientException(quota_message("compute environments", MAX_COMPUTE_ENVIRONMENTS, self.region_name))
        return original_environment(self, *args, **kwargs)

    def create_job_queue(self: BatchBackend, *args: Any, **kwargs: Any) -> Any:
        if scenario_for().enforce_region_quotas and len(self._job_queues) >= MAX_JOB_QUEUES:
            raise ClientException(quota_message("job queues", MAX_JOB_QUEUES, self.region_name))
        return original_queue(self, *args, **kwargs)

    moto_seam.patch(stack, BatchBackend, "create_compute_environment", create_compute_environment)
    moto_seam.patch(stack, BatchBackend, "create_job_queue", create_job_queue)
