"""Run a state machine definition on the emulation and report what happened.

``run_workflow`` creates (or updates) the state machine in moto, starts one
execution, waits for its end (bounded in real seconds; emulated time runs much
faster), and returns a ``RunResult``: status, error/cause, output, the states'
timeline on the emulated clock, the AWS calls the state machine made, the
resources the run left behind, and the Lustre file system's lifetime split.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.batch.models import batch_backends
from moto.ec2.models import ec2_backends
from moto.fsx.models import fsx_backends
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from emulation.core import Emulation, active
from emulation.stack import EmulatedStack


@dataclass
class StateVisit:
    name: str
    state_type: str  # e.g. "Task", "Wait" (from the history event type)
    entered: float  # emulated seconds since the execution started
    exited: float | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.exited is None else self.exited - self.entered


@dataclass
class Leftovers:
    file_systems: list[tuple[str, str]]  # (id, lifecycle) of file systems neither DELETING nor deleted
    launch_templates: list[str]  # names starting with the run prefix
    active_job_definitions: list[str]  # ARNs of ACTIVE job definitions named with the run prefix
    compute_environment_launch_template: dict[str, Any] | None
    baseline_launch_template: dict[str, Any] | None
    unfinished_jobs: list[str]  # job ids not SUCCEEDED/FAILED

    @property
    def compute_environment_restored(self) -> bool:
        current, baseline = self.compute_environment_launch_template or {}, self.baseline_launch_template or {}
        return (current.get("launchTemplateId") == baseline.get("launchTemplateId")
                and str(current.get("version")) == str(baseline.get("version")))

    @property
    def none(self) -> bool:
        return not (self.file_systems or self.launch_templates or self.active_job_definitions
                    or self.unfinished_jobs) and self.compute_environment_restored


@dataclass
class LustreLifetime:
    """Emulated seconds of each phase of the run's file system (None: the phase did not happen)."""

    file_system_id: str
    creating: float | None  # CreateFileSystem -> AVAILABLE
    waiting_before_job: float | None  # AVAILABLE -> job RUNNING (association, launch template, scheduling)
    job: float | None  # job RUNNING (first attempt) -> job ended
    after_job_until_export_done: float | None  # job ended -> last file in S3 (task SUCCEEDED / queue drained)
    after_export_until_delete: float | None  # export done -> DeleteFileSystem accepted
    total: float | None  # CreateFileSystem -> DeleteFileSystem accepted


@dataclass
class RunResult:
    execution_arn: str
    status: str  # SUCCEEDED | FAILED | ABORTED | TIMED_OUT | RUNNING (real-time bound hit; then stopped)
    error: str | None
    cause: str | None
    output: Any
    timeline: list[StateVisit]
    calls: dict[str, int]  # "fsx:describeFileSystems" -> count, for this execution
    call_errors: list[tuple[str, str]]  # (operation, AWS error code) of failed calls
    leftovers: Leftovers | None
    lustre: LustreLifetime | None
    emulated_seconds: float
    real_seconds: float
    events: list[dict[str, Any]] = field(repr=False, default_factory=list)

    def visits(self, state_name: str) -> list[StateVisit]:
        return [v for v in self.timeline if v.name == state_name]

    def states(self) -> list[str]:
        return [v.name for v in self.timeline]


def run_workflow(
    definition: dict[str, Any],
    *,
    role_arn: str,
    name: str,
    execution_name: str,
    execution_input: dict[str, Any] | None = None,
    stack: EmulatedStack | None = None,
    emulation: Emulation | None = None,
    timeout_seconds: float = 60.0,
) -> RunResult:
    """Run ``definition`` as state machine ``name`` once, named ``execution_name``; wait at most ``timeout_seconds``.

    ``stack`` (from ``setup_stack``) enables the leftover checks, which need the run prefix and the baseline.
    """
    started = start_workflow(definition, role_arn=role_arn, name=name, execution_name=execution_name,
                             execution_input=execution_input, emulation=emulation)
    return finish_workflow(started, stack=stack, timeout_seconds=timeout_seconds)


@dataclass(frozen=True)
class StartedRun:
    execution_arn: str
    execution_name: str
    started_at: float  # emulated second
    real_start: float
    emulation: Emulation


def start_workflow(
    definition: dict[str, Any],
    *,
    role_arn: str,
    name: str,
    execution_name: str,
    execution_input: dict[str, Any] | None = None,
    emulation: Emulation | None = None,
) -> StartedRun:
    """Create or update state machine ``name`` and start one execution; returns at once."""
    emu = emulation or active()
    sfn = boto3.client("stepfunctions", region_name=emu.region)
    text = json.dumps(definition)
    existing = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == name]
    if existing:
        sfn.update_state_machine(stateMachineArn=existing[0], definition=text, roleArn=role_arn)
        machine_arn = existing[0]
    else:
        machine_arn = sfn.create_state_machine(name=name, definition=text, roleArn=role_arn)["stateMachineArn"]
    started_at, real_start = emu.now(), time.monotonic()
    execution_arn = sfn.start_execution(stateMachineArn=machine_arn, name=execution_name,
                                        input=json.dumps(execution_input or {}))["executionArn"]
    return StartedRun(execution_arn, execution_name, started_at, real_start, emu)


def finish_workflow(started: StartedRun, *, stack: EmulatedStack | None = None,
                    timeout_seconds: float = 60.0) -> RunResult:
    """Wait (at most ``timeout_seconds`` real seconds, then stop it) for a started execution; report on it."""
    emu = started.emulation
    sfn = boto3.client("stepfunctions", region_name=emu.region)
    execution_arn = started.execution_arn
    status = _wait(emu, execution_arn, time.monotonic() + timeout_seconds)
    if status == "RUNNING":
        sfn.stop_execution(executionArn=execution_arn, error="EmulationTimeout",
                           cause=f"not ended within {timeout_seconds} real seconds")
        _wait(emu, execution_arn, time.monotonic() + 5.0)
    real_seconds = time.monotonic() - started.real_start
    events = _history(sfn, execution_arn)
    emu.clock.settle()
    error, cause, output = _outcome(events)
    calls = emu.calls.of(execution_arn)
    return RunResult(
        execution_arn=execution_arn,
        status=status,
        error=error,
        cause=cause,
        output=output,
        timeline=_timeline(emu, events, started.started_at),
        calls=emu.calls.counts(execution_arn),
        call_errors=[(c.operation, c.error) for c in calls if c.error],
        leftovers=leftovers(emu, stack, started.execution_name) if stack is not None else None,
        lustre=lustre_lifetime(emu, started.started_at),
        emulated_seconds=emu.now() - started.started_at,
        real_seconds=real_seconds,
        events=events,
    )


def _wait(emu: Emulation, execution_arn: str, deadline: float) -> str:
    """Poll the execution's status in moto's backend (describe_execution fails on outputs with datetimes)."""
    execution = stepfunctions_parser_backends[emu.account_id][emu.region].describe_execution(execution_arn)
    while True:
        status = str(getattr(execution.exec_status, "value", execution.exec_status))
        if status != "RUNNING" or time.monotonic() > deadline:
            return status
        time.sleep(0.002)


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def _outcome(events: list[dict[str, Any]]) -> tuple[str | None, str | None, Any]:
    for event in reversed(events):
        kind = event["type"]
        if kind == "ExecutionSucceeded":
            text = event.get("executionSucceededEventDetails", {}).get("output")
            return None, None, json.loads(text) if text else None
        if kind in ("ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"):
            key = kind[0].lower() + kind[1:] + "EventDetails"
            details = event.get(key, {})
            return details.get("error"), details.get("cause"), None
    return None, None, None


def _timeline(emu: Emulation, events: list[dict[str, Any]], started_at: float) -> list[StateVisit]:
    visits: list[StateVisit] = []
    open_visits: dict[str, StateVisit] = {}
    for event in events:
        kind = event["type"]
        at = emu.clock.seconds_of(event["timestamp"]) - started_at
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            visit = StateVisit(name, kind[: -len("StateEntered")], at)
            visits.append(visit)
            open_visits[name] = visit
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            if name in open_visits:
                open_visits.pop(name).exited = at
    return visits


def leftovers(emu: Emulation, stack: EmulatedStack, execution_name: str) -> Leftovers:
    """What a run left behind: per-run resources still there, and the compute environment's launch template."""
    emu.clock.settle()
    run_prefix = f"{stack.refs.name_prefix}-{execution_name}"
    fsx = fsx_backends[emu.account_id][emu.region]
    file_systems = []
    for fs_id in fsx.file_systems:
        state = emu.fsx.file_systems.get(fs_id)
        lifecycle = state.lifecycle if state is not None else "AVAILABLE"
        if lifecycle != "DELETING":
            file_systems.append((fs_id, lifecycle))
    ec2 = ec2_backends[emu.account_id][emu.region]
    templates = sorted(t.name for t in ec2.launch_templates.values() if t.name.startswith(run_prefix))
    batch = batch_backends[emu.account_id][emu.region]
    job_defs = sorted(d.arn for d in batch._job_definitions.values()
                      if d.status == "ACTIVE" and d.name.startswith(run_prefix))
    env = batch.get_compute_environment(stack.refs.compute_environment_arn)
    current = dict((env.compute_resources or {}).get("launchTemplate") or {}) if env is not None else None
    return Leftovers(
        file_systems=file_systems,
        launch_templates=templates,
        active_job_definitions=job_defs,
        compute_environment_launch_template=current,
        baseline_launch_template={"launchTemplateId": stack.refs.baseline_launch_template_id,
                                  "version": stack.refs.baseline_launch_template_version},
        unfinished_jobs=[j.job_id for j in emu.batch.jobs.values() if j.status not in ("SUCCEEDED", "FAILED")],
    )


def lustre_lifetime(emu: Emulation, since: float = 0.0) -> LustreLifetime | None:
    """Phases of the first file system created at or after emulated second ``since``."""
    created = sorted((fs for fs in emu.fsx.file_systems.values() if fs.created_at >= since),
                     key=lambda fs: fs.created_at)
    if not created:
        return None
    fs = created[0]
    jobs = [j for j in emu.batch.jobs.values() if j.created_at >= since]
    job = jobs[0] if jobs else None
    job_start = job.started_at if job is not None else None
    job_end = job.stopped_at if job is not None else None
    ends = [t.end_time for t in emu.fsx.tasks.values() if t.file_system_id == fs.file_system_id
            and t.task_type == "EXPORT_TO_REPOSITORY" and t.lifecycle == "SUCCEEDED" and t.end_time is not None]
    if fs.queue_drained_at is not None and not fs.queue:
        ends.append(fs.queue_drained_at)
    export_done = max(ends) if ends else None
    if export_done is not None and job_end is not None:
        export_done = max(export_done, job_end)  # auto export may have drained while the job still ran

    def span(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else b - a

    return LustreLifetime(
        file_system_id=fs.file_system_id,
        creating=span(fs.created_at, fs.available_at),
        waiting_before_job=span(fs.available_at, job_start),
        job=span(job_start, job_end),
        after_job_until_export_done=span(job_end, export_done),
        after_export_until_delete=span(export_done, fs.delete_requested_at),
        total=span(fs.created_at, fs.delete_requested_at),
    )
