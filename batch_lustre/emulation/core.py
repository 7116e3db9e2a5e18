"""``Emulation``: moto plus everything ``emulation`` adds, active for the duration of a ``with`` block.

    with Emulation(Scenario(batch=BatchScenario.app_error(3))) as emu:
        stack = setup_stack(emu, "taskexport")
        result = run_workflow(asl.build_definition(stack.refs), role_arn=stack.role_arn, ...)

Every patch is undone on exit (moto's own backends are reset by ``mock_aws``), so
other tests in the same process see stock moto.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock

import boto3

from batch_lustre.emulation import (
    active_emulation,
    batch_api,
    batch_quotas,
    batch_roles,
    batch_sync,
    branches,
    call_overhead,
    dynamodb,
    events,
    fsx_api,
    iam,
    lambda_faults,
    lambdas,
    s3_policy,
    secret_versions,
    sfn,
)
from batch_lustre.emulation.batch import BatchModel
from batch_lustre.emulation.clients import shared_session
from batch_lustre.emulation.clock import EmulatedClock
from batch_lustre.emulation.environment import environment_variables
from batch_lustre.emulation.fsx import FsxModel
from batch_lustre.emulation.iam import IamAuthorizer
from batch_lustre.emulation.lambdas import LambdaRunner, archive_directories
from batch_lustre.emulation.metrics import ExportQueueMetric
from batch_lustre.emulation.moto_seam import default_user_config, mock_aws, mock_random, s3_backends
from batch_lustre.emulation.scenario import METRIC_NEVER_ZERO, Scenario
from batch_lustre.emulation.sfn import CallLog
from batch_lustre.project import project_dir

PROJECT_DIR = project_dir()  # the Pulumi program's directory: lambda/, asl/, parameters.py
ACCOUNT_ID = "123456789012"

# moto's identifiers (subnet, security group, launch template ids, the secret's ARN suffix) come from one seeded
# generator, so the same stack gets the same ids in every emulation: the same definition text, parsed once per
# process (emulation/sfn.py, parse cache).
ID_SEED = 20_240_601


class Emulation:
    """Emulated AWS for one test: clock, scenario, and the models moto lacks."""

    def __init__(
        self, scenario: Scenario | None = None, *, region: str = "us-east-1", lambda_source_dir: Path | None = None
    ) -> None:
        self.scenario = scenario or Scenario()
        self.region = region
        self.account_id = ACCOUNT_ID
        self.clock = EmulatedClock()
        self.lock = self.clock.lock
        self.calls = CallLog()
        self.faults = list(self.scenario.faults)
        self.lambda_faults = lambda_faults.FaultPlan(list(self.scenario.lambda_faults))
        self.fsx = FsxModel(
            clock=self.clock,
            scenario=self.scenario.fsx,
            put_object=self._put_object,
            list_objects=self._list_objects,
            bucket_exists=self._bucket_exists,
            metrics_stuck=self.scenario.metrics.behaviour == METRIC_NEVER_ZERO,
            remove_from_backend=fsx_api.remover(self.account_id, region),
        )
        self.metrics = ExportQueueMetric(
            self.clock, self.scenario.metrics, self.account_id, region, self.fsx.queue_oldest
        )
        self.fsx.on_queue_active = self.metrics.queue_active
        self.batch = BatchModel(
            self.clock,
            self.scenario.batch,
            self.fsx,
            region,
            self.account_id,
        )
        self.lambdas = LambdaRunner(
            lambda_source_dir or PROJECT_DIR / "lambda",
            extra_paths=[PROJECT_DIR, *archive_directories(PROJECT_DIR)],
            clock=self.clock,
        )
        self.iam = IamAuthorizer(self.account_id, region)  # every call authorised against its role's policies
        self.dynamodb = dynamodb.DynamoDbRules()  # Step Functions' DynamoDB integration: rules a test may switch off
        self.events = events.StatusEvents(self.clock, self.account_id, region)  # Step Functions -> EventBridge
        self._stack: ExitStack | None = None

    # --- context ---------------------------------------------------------------------------------
    def __enter__(self) -> Emulation:
        stack = ExitStack()
        try:
            # No AMI catalogue (nothing here launches instances): saves a quarter second per emulation.
            stack.enter_context(environment_variables({"MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}))
            stack.enter_context(mock_aws())
            # moto resets boto3's default session on start; reuse one, so botocore's service models
            # are parsed once per process instead of once per emulation.
            stack.enter_context(mock.patch.object(boto3, "DEFAULT_SESSION", shared_session()))
            random_state = mock_random.getstate()
            mock_random.seed(ID_SEED)
            stack.callback(mock_random.setstate, random_state)
            previous = dict(default_user_config.get("stepfunctions", {}))
            default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
            stack.callback(lambda: default_user_config.__setitem__("stepfunctions", previous))
            branches.install(stack)
            sfn.install(stack, lambda: self.clock, lambda: self.calls, lambda: self.faults)
            events.install(stack, lambda: self.events)
            fsx_api.install(stack, lambda: self.fsx, self.lock)
            batch_api.install(stack, lambda: self.batch, self.lock)
            batch_roles.install(stack)
            batch_quotas.install(stack, lambda: self.scenario.batch)
            secret_versions.install(stack)
            s3_policy.install(stack)
            batch_sync.install(stack, lambda: self.batch, self.lock)
            dynamodb.install(stack, lambda: self.dynamodb)
            lambdas.install(stack, lambda: self.lambdas)
            lambda_faults.install(stack, lambda: self.lambda_faults, self.clock.seconds)
            iam.install(stack, lambda: self)
            call_overhead.install(stack)
        except BaseException:
            stack.close()
            raise
        active_emulation.enter(self)
        stack.callback(active_emulation.leave, self)
        self._stack = stack
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stack is not None
        self.release_waits()
        self._stack.close()
        self._stack = None

    # --- time ------------------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of emulated time pass (lifecycles progress; nothing sleeps)."""
        self.clock.advance(seconds)

    def now(self) -> float:
        return self.clock.seconds()

    def hold_waits(self) -> None:
        """From now on, an execution that waits (a Wait state, a sleeping Lambda) stays there (RUNNING) until ``release_waits``."""
        self.clock.waits_released.clear()

    def release_waits(self) -> None:
        self.clock.waits_released.set()

    # --- moto glue -------------------------------------------------------------------------------
    def _s3(self) -> Any:
        return s3_backends[self.account_id]["aws"]

    def _put_object(self, bucket: str, key: str, body: bytes) -> None:
        self._s3().put_object(bucket, key, body)

    def _bucket_exists(self, bucket: str) -> bool:
        return bucket in self._s3().buckets

    def _list_objects(self, bucket: str, prefix: str) -> dict[str, bytes]:
        found = self._s3().buckets.get(bucket)
        if found is None:
            return {}
        return {name: key.value for name, key in found.keys.items() if name.startswith(prefix)}

    def s3_objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """What is in the (moto) bucket now: key -> body."""
        return self._list_objects(bucket, prefix)
