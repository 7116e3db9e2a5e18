"""Step Functions' optimized Batch integration (``arn:aws:states:::batch:submitJob.sync``) on the emulated clock.

moto 5.2.5 has the integration (``StateTaskServiceBatch``) but: it passes the Task's PascalCase
Parameters to boto3 unchanged (``JobName`` never reaches the request), reads ``JobId`` from a
camelCase response, drops ``PropagateTags``, and waits for the job by polling DescribeJobs with
real sleeps, so a job on the emulated clock would never end. ``install`` patches the class so that:

- Request members spelt in any case (PascalCase in ASL: ``JobName``, ``ArrayProperties.Size``,
  ``ContainerOverrides.Environment[].Name``, ``Timeout.AttemptDurationSeconds``, ``Tags``,
  ``PropagateTags``...) are renamed to the Batch API's members; responses come back in Step
  Functions' casing (``JobId``, ``Status``, ``Attempts[].Container.ExitCode``), as ``emulation.sfn``
  does for aws-sdk tasks.
- ``.sync`` waits on the emulated clock: the task ends ``BatchScenario.sync_notice_seconds`` after the
  job (for an array job, the parent) reached SUCCEEDED or FAILED (Step Functions learns the end from
  EventBridge within seconds). SUCCEEDED: the output is the job description (DescribeJobs' JobDetail,
  Step Functions casing). FAILED: the task fails with ``States.TaskFailed``, Cause = that description
  as JSON. The Task's ``TimeoutSeconds``/``TimeoutSecondsPath`` ends it with ``States.Timeout`` at that
  emulated time; the job is left as it is (the workflow terminates it).

Time while a ``.sync`` task waits: the task is a waiter of its execution (``emulation.branches``). While
another Parallel branch of the execution is still acting (the workflow's watchdog), it only watches the
clock; when every branch waits, the clock moves to the earliest second any of them waits for, so each
branch's checks see every state of the job in order.

Hook points (for the IAM check, emulation/sfn.py): SubmitJob goes through
``StateTaskServiceBatch._eval_service_task`` (not patched here, wrap it freely). The calls the
integration makes afterwards on the execution role's behalf go through ``sync_call_hooks``: each
hook is called ``hook(env, action)`` with the IAM action name, before waiting with each of
``SYNC_RULE_ACTIONS`` (the managed EventBridge rule), and ``"batch:DescribeJobs"`` when it reads the
ended job. A hook that raises fails the task with that exception, as the call's own error would.
Register one with ``add_sync_call_hook(stack, hook)`` (removed when ``stack`` closes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from functools import cache
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

from batch_lustre.emulation import moto_seam
from batch_lustre.emulation.batch import BatchModel
from batch_lustre.emulation.batch_records import TERMINAL
from batch_lustre.emulation.branches import ACTIVITY, WATCH_SECONDS, Waiter, execution_arn
from batch_lustre.emulation.moto_seam import (
    EvalTimeoutError,
    EventDetails,
    FailureEvent,
    FailureEventException,
    HistoryEventType,
    StatesErrorName,
    StatesErrorNameType,
    StateTaskServiceBatch,
    TaskFailedEventDetails,
    TimeoutSeconds,
    batch_service_module,
    to_json_str,
)
from batch_lustre.emulation.sfn import to_boto_request, to_sfn_response

# Parameters Step Functions accepts for batch:submitJob besides moto's list (Step Functions developer guide,
# "Run AWS Batch workloads with Step Functions": the example Task sets PropagateTags; Batch API SubmitJob).
EXTRA_SUBMIT_JOB_PARAMETERS = (
    "PropagateTags",
    "SchedulingPriorityOverride",
    "ShareIdentifier",
    "EksPropertiesOverride",
    "EcsPropertiesOverride",
    "NodeOverrides",
)
# What .sync needs besides SubmitJob/DescribeJobs (AWS_FACTS.md, "Step Functions"): the managed rule
# StepFunctionsGetEventsForBatchJobsRule through which Step Functions learns that the job ended.
SYNC_RULE_ACTIONS = ("events:PutTargets", "events:PutRule", "events:DescribeRule")
DESCRIBE_JOBS_ACTION = "batch:DescribeJobs"

SyncCallHook = Callable[[Any, str], None]
sync_call_hooks: list[SyncCallHook] = []


def add_sync_call_hook(stack: ExitStack, hook: SyncCallHook) -> None:
    """Call ``hook(env, iam_action)`` before each call the .sync integration makes after SubmitJob (until ``stack`` closes)."""
    sync_call_hooks.append(hook)

    def remove() -> None:
        if hook in sync_call_hooks:
            sync_call_hooks.remove(hook)

    stack.callback(remove)


def _call_hooks(env: Any, action: str) -> None:
    for hook in list(sync_call_hooks):
        hook(env, action)


@cache
def _batch_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("batch")


def _operation(action: str) -> OperationModel:
    """The Batch operation of ``submitJob`` / ``submit_job`` / ``SubmitJob``."""
    wanted = action.replace("_", "").lower()
    for name in _batch_model().operation_names:
        if name.lower() == wanted:
            return _batch_model().operation_model(name)
    raise ValueError(f"batch has no API action {action!r}")


def _job_detail_shape() -> Shape:
    return _operation("DescribeJobs").output_shape.members["jobs"].member


class _SyncJob:
    """What ``_build_sync_resolver`` returns: the submitted job, and how to read it once it ended."""

    def __init__(self, service: StateTaskServiceBatch, env: Any, job_id: str, region: str, credentials: Any) -> None:
        self.service, self.env, self.job_id = service, env, job_id
        self.region, self.credentials = region, credentials

    def __call__(self) -> dict[str, Any]:
        """DescribeJobs of the ended job, in Step Functions' casing; a FAILED job fails the task (States.TaskFailed)."""
        _call_hooks(self.env, DESCRIBE_JOBS_ACTION)
        client = batch_service_module.boto_client_for(
            service="batch", region=self.region, state_credentials=self.credentials
        )
        jobs = client.describe_jobs(jobs=[self.job_id])["jobs"]
        if not jobs:
            raise RuntimeError(f"job {self.job_id} is gone")
        job = jobs[0]
        to_sfn_response(job, _job_detail_shape())
        if job.get("Status") == "SUCCEEDED":
            return job
        raise FailureEventException(
            FailureEvent(
                env=self.env,
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(  # type: ignore[typeddict-item]  # moto declares every member required; AWS's are optional
                    taskFailedEventDetails=TaskFailedEventDetails(
                        resource=self.service._get_sfn_resource(),
                        resourceType=self.service._get_sfn_resource_type(),
                        error=StatesErrorNameType.StatesTaskFailed.to_name(),
                        cause=to_json_str(job),
                    )
                ),
            )
        )


def install(stack: ExitStack, model_for: Callable[[], BatchModel], lock: Any) -> None:
    """Patch moto's optimized Batch integration: casing, supported parameters, .sync on the emulated clock."""
    original_eval_sync = StateTaskServiceBatch._eval_sync

    supported = batch_service_module._SUPPORTED_API_PARAM_BINDINGS
    moto_seam.patch_dict(
        stack,
        batch_service_module,
        "_SUPPORTED_API_PARAM_BINDINGS",
        {"submitjob": set(supported.get("submitjob", set())) | set(EXTRA_SUBMIT_JOB_PARAMETERS)},
    )

    def normalise_parameters(
        self: StateTaskServiceBatch,
        parameters: dict,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        shape = _operation(service_action_name or self.resource.api_action).input_shape
        if shape is not None:
            to_boto_request(parameters, shape)

    def normalise_response(
        self: StateTaskServiceBatch,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        shape = _operation(service_action_name or self.resource.api_action).output_shape
        if shape is not None:
            to_sfn_response(response, shape)

    def build_sync_resolver(
        self: StateTaskServiceBatch,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict,
        state_credentials: Any,
    ) -> _SyncJob:
        submission = env.stack.pop()
        job_id = submission.get("JobId") or submission.get("jobId")
        return _SyncJob(self, env, job_id, resource_runtime_part.region, state_credentials)

    def eval_sync(
        self: StateTaskServiceBatch,
        env: Any,
        sync_resolver: Any,
        timeout_seconds: int | None,
        callback_endpoint: Any,
        heartbeat_endpoint: Any,
    ) -> Any:
        if not isinstance(sync_resolver, _SyncJob):
            return original_eval_sync(self, env, sync_resolver, timeout_seconds, callback_endpoint, heartbeat_endpoint)
        model = model_for()
        clock = model.clock
        notice = model.scenario.sync_notice_seconds
        with lock:
            started = clock.seconds()
        deadline = (
            started + float(timeout_seconds)
            if timeout_seconds and timeout_seconds < TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS
            else None
        )
        for action in SYNC_RULE_ACTIONS:
            _call_hooks(env, action)
        waiter = Waiter(execution_arn(env))
        ACTIVITY.add(waiter)
        try:
            while env.is_running():
                with lock:
                    clock.settle()
                    now = clock.seconds()
                    job = model.get(sync_resolver.job_id)
                    done_at = None
                    if job is not None and job.status in TERMINAL and job.stopped_at is not None:
                        done_at = job.stopped_at + notice
                    if done_at is not None and now >= done_at and (deadline is None or done_at <= deadline):
                        break
                    if deadline is not None and now >= deadline:
                        raise EvalTimeoutError()
                    wakes = [t for t in (done_at, deadline) if t is not None]
                    waiter.wake_at = min(wakes) if wakes else None
                    if ACTIVITY.step(clock, waiter):
                        continue
                time.sleep(WATCH_SECONDS)  # another branch acts (or nothing is scheduled): watch the clock
            else:
                return None  # the execution was stopped
        finally:
            ACTIVITY.remove(waiter)
        return sync_resolver()

    moto_seam.patch(stack, StateTaskServiceBatch, "_normalise_parameters", normalise_parameters)
    moto_seam.patch(stack, StateTaskServiceBatch, "_normalise_response", normalise_response)
    moto_seam.patch(stack, StateTaskServiceBatch, "_build_sync_resolver", build_sync_resolver)
    moto_seam.patch(stack, StateTaskServiceBatch, "_eval_sync", eval_sync)
