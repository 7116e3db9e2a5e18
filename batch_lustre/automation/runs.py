"""Runs of a stack's workflow: start one (with per-run overrides), follow it, wait for it, list runs, find the
run-cleanup execution after a run that did not succeed, and the objects a run wrote to the bucket."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batch_lustre.automation import clients
from batch_lustre.automation.boundary import operation
from batch_lustre.automation.errors import RunFailed, RunStillRunning
from batch_lustre.automation.history import (
    HistoryReader,
    RunEvent,
    RunOutcome,
    RunTracker,
    execution_input,
    execution_name,
    run_error,
)
from batch_lustre.automation.stacks import known_stacks, load_outputs, required_output, stack_settings
from batch_lustre.program.asl.naming import OUTPUT_COMPUTE_ENVIRONMENT, OUTPUT_STATE_MACHINE_ARN
from batch_lustre.program.parameters import check_execution_name, validate_overrides

EventHandler = Callable[[RunEvent, RunOutcome], Any]


@dataclass(frozen=True)
class RunHandle:
    """A started run: its execution name and ARN, and the execution input it was started with."""

    name: str
    execution_arn: str
    state_machine_arn: str
    execution_input: dict[str, Any] = field(default_factory=dict)


@operation
def new_run_name(now: dt.datetime | None = None) -> str:
    """A unique, sortable execution name (per-run resource names embed it: [A-Za-z0-9_-] only)."""
    now = now or dt.datetime.now(dt.UTC)
    return f"run-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


@operation
def running_executions(state_machine_arn: str, sfn: Any) -> list[dict[str, Any]]:
    """The RUNNING executions of the state machine."""
    found = sfn.list_executions(stateMachineArn=state_machine_arn, statusFilter="RUNNING", maxResults=100)
    return list(found.get("executions", []))


@operation
def compute_environment_max_vcpus(
    stack: str,
    stack_outputs: Mapping[str, Any],
    *,
    batch: Any | None = None,
    work_dir: Path | None = None,
) -> int:
    """maxvCpus of the stack's compute environment: the bound ExtractParameters checks ``vcpus`` against.

    Read from the deployed compute environment (stack output ``computeEnvironment``), which the stack
    deploys with the same value it gives ExtractParameters; from ``Pulumi.<stack>.yaml`` when that
    output is missing.
    """
    name = stack_outputs.get(OUTPUT_COMPUTE_ENVIRONMENT)
    if isinstance(name, str) and name:
        region = clients.region_of(str(stack_outputs.get(OUTPUT_STATE_MACHINE_ARN, "")))
        batch = batch or clients.aws_client("batch", region)
        for env in batch.describe_compute_environments(computeEnvironments=[name]).get("computeEnvironments", []):
            found = (env.get("computeResources") or {}).get("maxvCpus")
            if isinstance(found, int):
                return found
    return stack_settings(stack, work_dir).compute_environment_max_vcpus


@operation
def run_input(overrides: Mapping[str, Any] | None, max_vcpus: int) -> dict[str, Any]:
    """The execution input for per-run ``overrides``: the given keys, typed, as ExtractParameters accepts them.

    ``ParameterError`` (one line: key, value, what is accepted) for anything ExtractParameters would refuse.
    """
    return validate_overrides({} if overrides is None else overrides, max_vcpus)


@operation
def check_run_input(
    stack: str, overrides: Mapping[str, Any] | None, *, max_vcpus: int | None = None, work_dir: Path | None = None
) -> dict[str, Any]:
    """The execution input for ``overrides``, checked offline as ``start_run`` first checks it: ``run_input``
    against ``max_vcpus`` (default: the stack config's computeEnvironmentMaxvCpus, ``Pulumi.<stack>.yaml``).

    No call to Pulumi or AWS: a command line checks its input with it before it looks for either.
    ``ParameterError`` for a refused value.
    """
    if max_vcpus is None:
        max_vcpus = stack_settings(stack, work_dir).compute_environment_max_vcpus
    return run_input(overrides, max_vcpus)


@operation
def start_run(
    stack: str,
    *,
    stack_outputs: Mapping[str, Any] | None = None,
    outputs_file: Path | None = None,
    name: str | None = None,
    sfn: Any | None = None,
    overrides: Mapping[str, Any] | None = None,
    max_vcpus: int | None = None,
    batch: Any | None = None,
    check_overrides: bool = True,
    work_dir: Path | None = None,
) -> RunHandle:
    """Start a run of the stack's state machine. Runs of one stack may overlap: each waits in line for a lane
    (a compute environment of its own; docs/design.md, "The run queue").

    ``overrides``: per-run overrides (keys ``command``, ``environment``, ``vcpus``, ``memory``, ``imageTag``,
    ``arraySize``, ``warmComputeCapacity``; see the package docstring), sent as the execution input. They are
    checked as ExtractParameters checks them (``run_input``), as ``batch-lustre run`` checks them, before
    anything is started: first offline (``check_run_input``, against ``max_vcpus`` or else the stack config's
    computeEnvironmentMaxvCpus, before the outputs are loaded or AWS is called), then against the deployed
    compute environment's maxvCpus (``compute_environment_max_vcpus``, read with ``batch``) unless
    ``max_vcpus`` is given. A refused one raises ``ParameterError`` and nothing is started. None or ``{}``
    sends ``{}``: the secret's values apply. ``check_overrides=False`` sends them unchecked, to see the
    workflow refuse them itself (the demo's scenarios of a bad input). The handle holds the input sent.
    """
    name = name or new_run_name()
    check_execution_name(name)
    given = overrides is not None and not (isinstance(overrides, Mapping) and not overrides)
    if check_overrides and given and (max_vcpus is not None or stack in known_stacks(work_dir)):
        check_run_input(stack, overrides, max_vcpus=max_vcpus, work_dir=work_dir)
    found = dict(stack_outputs) if stack_outputs is not None else load_outputs(stack, outputs_file, work_dir=work_dir)
    machine = required_output(found, OUTPUT_STATE_MACHINE_ARN, stack)
    execution_input: Any = {}
    if not check_overrides:
        execution_input = {} if overrides is None else overrides
    elif given:
        if max_vcpus is None:
            max_vcpus = compute_environment_max_vcpus(stack, found, batch=batch, work_dir=work_dir)
        execution_input = run_input(overrides, max_vcpus)
    sfn = sfn or clients.aws_client("stepfunctions", clients.region_of(machine))
    sent = dict(execution_input) if isinstance(execution_input, Mapping) else execution_input
    arn = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(sent, sort_keys=True))[
        "executionArn"
    ]
    return RunHandle(
        name=name, execution_arn=arn, state_machine_arn=machine, execution_input=sent if isinstance(sent, dict) else {}
    )


@operation
def follow_run(
    execution_arn: str,
    *,
    sfn: Any | None = None,
    region: str | None = None,
    on_event: EventHandler | None = None,
    poll_seconds: float = 5.0,
    timeout_seconds: float | None = None,
    sleep: Callable[[float], Any] = time.sleep,
    on_poll: Callable[[RunOutcome], Any] | None = None,
) -> RunOutcome:
    """Read the run's history until it ends (or ``timeout_seconds`` pass); call ``on_event`` for each event, and
    ``on_poll`` with the outcome so far after each look while the run goes on (e.g. to show its place in line).

    Returns the outcome whatever it is (``status`` stays RUNNING on timeout); never raises for a failed run.
    """
    sfn = sfn or clients.aws_client("stepfunctions", region or clients.region_of(execution_arn))
    reader = HistoryReader(execution_arn, sfn)
    tracker = RunTracker(execution_name(execution_arn), execution_arn)
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    while True:
        for event in reader.new_events():
            run_event = tracker.add(event)
            if on_event is not None:
                on_event(run_event, tracker.outcome)
        if tracker.outcome.status != "RUNNING":
            return tracker.outcome
        if on_poll is not None:
            on_poll(tracker.outcome)
        if deadline is not None and time.monotonic() >= deadline:
            return tracker.outcome
        sleep(poll_seconds)


@operation
def wait_for_run(
    execution_arn: str,
    *,
    sfn: Any | None = None,
    region: str | None = None,
    on_event: EventHandler | None = None,
    poll_seconds: float = 5.0,
    timeout_seconds: float | None = None,
) -> RunOutcome:
    """Wait for the run to end: its outcome if it SUCCEEDED; ``RunFailed(error, cause)`` otherwise;
    ``RunStillRunning`` if ``timeout_seconds`` passed first."""
    outcome = follow_run(
        execution_arn,
        sfn=sfn,
        region=region,
        on_event=on_event,
        poll_seconds=poll_seconds,
        timeout_seconds=timeout_seconds,
    )
    if outcome.status == "RUNNING":
        raise RunStillRunning(f"run {outcome.name} is still RUNNING after {timeout_seconds} s of waiting")
    if not outcome.succeeded:
        raise RunFailed(outcome)
    return outcome


@operation
def run(
    stack: str,
    *,
    stack_outputs: Mapping[str, Any] | None = None,
    outputs_file: Path | None = None,
    name: str | None = None,
    sfn: Any | None = None,
    on_event: EventHandler | None = None,
    poll_seconds: float = 5.0,
    timeout_seconds: float | None = None,
    overrides: Mapping[str, Any] | None = None,
    work_dir: Path | None = None,
) -> RunOutcome:
    """Start a run and wait for it: ``start_run`` (with its per-run ``overrides``) then ``wait_for_run``."""
    handle = start_run(
        stack,
        stack_outputs=stack_outputs,
        outputs_file=outputs_file,
        name=name,
        sfn=sfn,
        overrides=overrides,
        work_dir=work_dir,
    )
    return wait_for_run(
        handle.execution_arn, sfn=sfn, on_event=on_event, poll_seconds=poll_seconds, timeout_seconds=timeout_seconds
    )


@dataclass(frozen=True)
class RunSummary:
    """One run as ``list_runs`` reports it."""

    name: str
    execution_arn: str
    status: str
    started_at: dt.datetime | None
    stopped_at: dt.datetime | None
    error: str | None  # the Error of a run that did not succeed

    @property
    def duration(self) -> dt.timedelta | None:
        if self.started_at is None or self.stopped_at is None:
            return None
        return self.stopped_at - self.started_at


@operation
def iter_executions(state_machine_arn: str, sfn: Any) -> Iterator[dict[str, Any]]:
    """Every execution of the state machine, newest first."""
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": 100}
    while True:
        page = sfn.list_executions(**kwargs)
        yield from page.get("executions", [])
        if not page.get("nextToken"):
            return
        kwargs["nextToken"] = page["nextToken"]


def _newest_first(executions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(executions, key=lambda e: e.get("startDate") or dt.datetime.min.replace(tzinfo=dt.UTC), reverse=True)


@operation
def list_runs(
    state_machine_arn: str, *, sfn: Any | None = None, region: str | None = None, limit: int = 10
) -> list[RunSummary]:
    """The ``limit`` most recent runs, newest first, with the Error of those that did not succeed."""
    sfn = sfn or clients.aws_client("stepfunctions", region or clients.region_of(state_machine_arn))
    runs = []
    for execution in _newest_first(list(iter_executions(state_machine_arn, sfn)))[:limit]:
        error = None
        if execution["status"] not in ("RUNNING", "SUCCEEDED"):
            error = run_error(execution["executionArn"], sfn)
        runs.append(
            RunSummary(
                execution["name"],
                execution["executionArn"],
                execution["status"],
                execution.get("startDate"),
                execution.get("stopDate"),
                error,
            )
        )
    return runs


@operation
def run_cleanup_of(
    run_name: str, run_cleanup_state_machine_arn: str, *, sfn: Any | None = None, since: dt.datetime | None = None
) -> dict[str, Any] | None:
    """The run-cleanup execution EventBridge started after run ``run_name`` ended without success, or None (yet).

    The stack's rule hands the run's "Step Functions Execution Status Change" event to the run-cleanup state
    machine (stack output ``runCleanupStateMachineArn``) as its input: ``detail.name`` is the run's name.
    Executions started before ``since`` (a minute of clock skew allowed) are not looked at.
    """
    sfn = sfn or clients.aws_client("stepfunctions", clients.region_of(run_cleanup_state_machine_arn))
    floor = None if since is None else since - dt.timedelta(minutes=1)
    found = [
        e
        for e in iter_executions(run_cleanup_state_machine_arn, sfn)
        if floor is None or e.get("startDate") is None or e["startDate"] >= floor
    ]
    for execution in _newest_first(found):
        event = execution_input(execution["executionArn"], sfn)
        detail = event.get("detail") if isinstance(event, dict) else None
        if isinstance(detail, dict) and detail.get("name") == run_name:
            return execution
    return None


@dataclass(frozen=True)
class StoredObject:
    """An object of the bucket: its key, size in bytes and when it was written."""

    key: str
    size: int
    last_modified: dt.datetime


@operation
def objects_since(
    bucket: str, since: dt.datetime | None, *, s3: Any | None = None, region: str | None = None, limit: int = 1000
) -> list[StoredObject]:
    """Objects of ``bucket`` written at or after ``since`` (a minute of clock skew allowed), up to ``limit``."""
    s3 = s3 or clients.aws_client("s3", region)
    floor = None if since is None else since - dt.timedelta(minutes=1)
    found: list[StoredObject] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            modified = item["LastModified"]
            if floor is None or modified >= floor:
                found.append(StoredObject(item["Key"], item.get("Size", 0), modified))
                if len(found) >= limit:
                    return found
    return found
