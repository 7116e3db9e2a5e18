"""Batch's service role: the service-linked role when none is given, and what infrastructure updates need
(docs/aws-rules.md, "Batch: service role and infrastructure updates").

- CreateComputeEnvironment without ``serviceRole`` uses the ``AWSServiceRoleForBatch`` service-linked role,
  creating it in the account if it is missing (Batch API Reference, CreateComputeEnvironment, ``serviceRole``;
  Batch User Guide, "Using service-linked roles for AWS Batch"). moto requires a role instead.
- An update of a managed compute environment's infrastructure (its launch template among others) is accepted only
  when the compute environment uses the service-linked role and an allocation strategy of BEST_FIT_PROGRESSIVE,
  SPOT_CAPACITY_OPTIMIZED or SPOT_PRICE_CAPACITY_OPTIMIZED (Batch User Guide, "Updating compute environments",
  "Infrastructure updates"). The refusal's code is ``ClientException`` (Batch's client-side error); its message
  text is Assumed.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from batch_lustre.emulation import moto_seam
from batch_lustre.emulation.moto_seam import BatchBackend, ClientException, iam_backends

SERVICE_LINKED_ROLE = "AWSServiceRoleForBatch"
INFRASTRUCTURE_UPDATE_STRATEGIES = ("BEST_FIT_PROGRESSIVE", "SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED")
# computeResources members whose change is an infrastructure update (Batch User Guide, "Infrastructure updates").
INFRASTRUCTURE_KEYS = (
    "launchTemplate",
    "instanceTypes",
    "allocationStrategy",
    "subnets",
    "securityGroupIds",
    "instanceRole",
    "ec2Configuration",
    "ec2KeyPair",
    "imageId",
    "placementGroup",
    "bidPercentage",
    "updateToLatestImageVersion",
    "type",
    "tags",
)


def service_linked_role_arn(account_id: str) -> str:
    """The ARN of Batch's service-linked role in ``account_id``, created as Batch creates it when missing."""
    backend = iam_backends[account_id]["aws"]
    for role in backend.roles.values():
        if role.name.lower() == SERVICE_LINKED_ROLE.lower():  # moto's iam:CreateServiceLinkedRole lower-cases it
            return role.arn
    return backend.create_service_linked_role("batch.amazonaws.com", "", "").arn


def uses_service_linked_role(service_role: str | None) -> bool:
    return bool(service_role) and str(service_role).lower().endswith(f"/{SERVICE_LINKED_ROLE.lower()}")


def check_infrastructure_update(
    backend: BatchBackend, identifier: str, compute_resources: Any | None, service_role: str | None
) -> None:
    """Refuse an infrastructure update of compute environment ``identifier`` that Batch would refuse."""
    environment = backend.get_compute_environment(identifier)
    changed = [key for key in INFRASTRUCTURE_KEYS if key in (compute_resources or {})]
    if environment is None or not changed:
        return
    role = service_role or environment.service_role
    strategy = (compute_resources or {}).get("allocationStrategy") or environment.compute_resources.get(
        "allocationStrategy", "BEST_FIT"
    )
    if not uses_service_linked_role(role):
        raise ClientException(
            f"Infrastructure updates ({', '.join(changed)}) need the compute environment to use the "
            f"{SERVICE_LINKED_ROLE} service-linked role; it uses {role}"
        )
    if strategy not in INFRASTRUCTURE_UPDATE_STRATEGIES:
        raise ClientException(
            f"Infrastructure updates ({', '.join(changed)}) need allocation strategy "
            f"{' or '.join(INFRASTRUCTURE_UPDATE_STRATEGIES)}; the compute environment uses {strategy}"
        )


def install(stack: ExitStack) -> None:
    """CreateComputeEnvironment without a service role uses the service-linked role (the update rule is checked by
    the compute environments' model, ``batch_environments.update_environment``)."""
    original_create = BatchBackend.create_compute_environment

    def create_compute_environment(
        self: BatchBackend,
        compute_environment_name: str,
        _type: str,
        state: str,
        compute_resources: dict[str, Any],
        service_role: str,
        tags: dict[str, str] | None = None,
    ) -> Any:
        role = service_role or service_linked_role_arn(self.account_id)
        return original_create(self, compute_environment_name, _type, state, compute_resources, role, tags)

    moto_seam.patch(stack, BatchBackend, "create_compute_environment", create_compute_environment)
