"""Run a state machine definition on the emulation and report what happened.

``run_workflow`` creates (or updates) the state machine in moto, starts one
execution, waits for its end (bounded in real seconds; emulated time runs much
faster), and returns a ``RunResult``: status, error/cause, output, the states'
timeline on the emulated clock, the AWS calls the state machine made, the
resources the run left behind, and the Lustre file system's lifetime split.

Also: ``stop_workflow`` (StopExecution: ABORTED), ``execution_timeout_seconds`` (the state machine's
TimeoutSeconds: TIMED_OUT on the emulated clock), ``wait_for_executions`` (executions that EventBridge
started, e.g. the run-cleanup state machine), ``transitions`` (states entered) and ``figures`` (the file
system figures of a run, ``RunFigures``).
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.model import ListShape, Shape, StructureShape
from dateutil.tz import tzlocal

from batch_lustre.emulation.active_emulation import active
from batch_lustre.emulation.clients import client
from batch_lustre.emulation.core import Emulation
from batch_lustre.emulation.figures import RunFigures
from batch_lustre.emulation.moto_seam import batch_backends, ec2_backends, fsx_backends, stepfunctions_parser_backends
from batch_lustre.emulation.stack import EmulatedStack
from batch_lustre.program.asl.naming import TAG_RUN, TAG_STACK_ID


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
    # A lane's compute environment's launch template and its baseline: the first lane not restored, else lane 0.
    compute_environment_launch_template: dict[str, Any] | None
    baseline_launch_template: dict[str, Any] | None
    unfinished_jobs: list[str]  # job ids not SUCCEEDED/FAILED

    @property
    def compute_environment_restored(self) -> bool:
        current, baseline = self.compute_environment_launch_template or {}, self.baseline_launch_template or {}
        return current.get("launchTemplateId") == baseline.get("launchTemplateId") and str(
            current.get("version")
        ) == str(baseline.get("version"))

    @property
    def none(self) -> bool:
        return (
            not (self.file_systems or self.launch_templates or self.active_job_definitions or self.unfinished_jobs)
            and self.compute_environment_restored
        )


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
    history_events: int = 0  # events in the execution's history (quota: 25,000)
    transitions: int = 0  # states entered (``transitions(events)``)
    figures: RunFigures | None = None  # the file system figures of the run (``figures(result)``)

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
    execution_timeout_seconds: int | None = None,
) -> RunResult:
    """Run ``definition`` as state machine ``name`` once, named ``execution_name``; wait at most ``timeout_seconds``.

    ``stack`` (from ``setup_stack``) enables the leftover checks, which need the run prefix and the baseline.
    ``execution_timeout_seconds`` sets the state machine's TimeoutSeconds (emulated seconds; TIMED_OUT).
    """
    started = start_workflow(
        definition,
        role_arn=role_arn,
        name=name,
        execution_name=execution_name,
        execution_input=execution_input,
        emulation=emulation,
        execution_timeout_seconds=execution_timeout_seconds,
    )
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
    execution_timeout_seconds: int | None = None,
) -> StartedRun:
    """Create or update state machine ``name`` and start one execution; returns at once.

    ``execution_timeout_seconds``: the state machine's top-level TimeoutSeconds (overrides the definition's).
    """
    emu = emulation or active()
    sfn = client("stepfunctions", emu.region)
    if execution_timeout_seconds is not None:
        definition = {**definition, "TimeoutSeconds": int(execution_timeout_seconds)}
    text = json.dumps(definition)
    existing = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == name]
    if existing:
        sfn.update_state_machine(stateMachineArn=existing[0], definition=text, roleArn=role_arn)
        machine_arn = existing[0]
    else:
        machine_arn = sfn.create_state_machine(name=name, definition=text, roleArn=role_arn)["stateMachineArn"]
    started_at, real_start = emu.now(), time.monotonic()
    execution_arn = sfn.start_execution(
        stateMachineArn=machine_arn, name=execution_name, input=json.dumps(execution_input or {})
    )["executionArn"]
    return StartedRun(execution_arn, execution_name, started_at, real_start, emu)


def finish_workflow(
    started: StartedRun, *, stack: EmulatedStack | None = None, timeout_seconds: float = 60.0
) -> RunResult:
    """Wait (at most ``timeout_seconds`` real seconds, then stop it) for a started execution; report on it."""
    emu = started.emulation
    sfn = client("stepfunctions", emu.region)
    execution_arn = started.execution_arn
    status = _wait(emu, execution_arn, time.monotonic() + timeout_seconds)
    if status == "RUNNING":
        sfn.stop_execution(
            executionArn=execution_arn,
            error="EmulationTimeout",
            cause=f"not ended within {timeout_seconds} real seconds",
        )
        _wait(emu, execution_arn, time.monotonic() + 5.0)
    real_seconds = time.monotonic() - started.real_start
    _until_end_published(emu, execution_arn, time.monotonic() + 5.0)
    events = execution_history(emu, execution_arn)
    emu.clock.settle()
    error, cause, output = _outcome(events)
    calls = emu.calls.of(execution_arn)
    result = RunResult(
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
        history_events=len(events),
        transitions=transitions(events),
    )
    result.figures = run_figures(emu, result, started.started_at, stack.refs.stack_id if stack is not None else "")
    return result


def stop_workflow(
    started: StartedRun,
    error: str | None = None,
    cause: str | None = None,
    *,
    stack: EmulatedStack | None = None,
    timeout_seconds: float = 60.0,
) -> RunResult:
    """StopExecution (with ``error`` and ``cause``): the execution ends ABORTED where it is; report on it.

    Typically after ``emu.hold_waits()`` parked it in a Wait state. No state of it runs after the stop, so a
    run stopped this way never reaches its own cleanup.
    """
    sfn = client("stepfunctions", started.emulation.region)
    kwargs = {k: v for k, v in (("error", error), ("cause", cause)) if v is not None}
    sfn.stop_execution(executionArn=started.execution_arn, **kwargs)
    return finish_workflow(started, stack=stack, timeout_seconds=timeout_seconds)


def wait_for_executions(
    emu: Emulation,
    state_machine_arn: str,
    timeout_seconds: float = 60.0,
    *,
    at_least: int = 0,
    stack: EmulatedStack | None = None,
) -> list[RunResult]:
    """Every execution of ``state_machine_arn`` (e.g. started by an EventBridge rule), once all have ended.

    Delivers the pending EventBridge status events first (advancing the emulated clock by their latency),
    waits (real seconds, bounded) until at least ``at_least`` executions exist and all have ended, and
    returns their ``RunResult``s in start order.
    """
    deadline = time.monotonic() + timeout_seconds
    backend = stepfunctions_parser_backends[emu.account_id][emu.region]
    while True:
        emu.events.flush()
        # moto's parser executions (exec_arn, exec_status); its stubs declare the older model's class
        executions: list[Any] = list(backend.describe_state_machine(state_machine_arn).executions)
        running = [e for e in executions if _status_of(e) == "RUNNING"]
        ended_unpublished = [
            e for e in executions if _status_of(e) != "RUNNING" and not emu.events.ended_published(e.exec_arn)
        ]
        settled = len(executions) >= at_least and not running and not ended_unpublished and not emu.events.pending()
        if settled or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    results = []
    for execution in sorted(executions, key=lambda e: emu.clock.seconds_of(e.start_date)):
        started = StartedRun(
            execution.exec_arn, execution.name, emu.clock.seconds_of(execution.start_date), time.monotonic(), emu
        )
        results.append(finish_workflow(started, stack=stack, timeout_seconds=max(1.0, deadline - time.monotonic())))
    return results


def _status_of(execution: Any) -> str:
    return str(getattr(execution.exec_status, "value", execution.exec_status))


def _until_end_published(emu: Emulation, execution_arn: str, deadline: float) -> None:
    """The execution's end event reaches the bus just after its status changes: wait for it (bounded)."""
    while not emu.events.ended_published(execution_arn) and time.monotonic() < deadline:
        time.sleep(0.001)


def transitions(events: list[dict[str, Any]]) -> int:
    """State transitions of an execution: the states it entered (billing counts one per state entered)."""
    return sum(1 for e in events if e["type"].endswith("StateEntered"))


def _wait(emu: Emulation, execution_arn: str, deadline: float) -> str:
    """Poll the execution's status in moto's backend (describe_execution fails on outputs with datetimes)."""
    # moto's parser execution (exec_status); its stubs declare the older model's class
    execution: Any = stepfunctions_parser_backends[emu.account_id][emu.region].describe_execution(execution_arn)
    while True:
        status = str(getattr(execution.exec_status, "value", execution.exec_status))
        if status != "RUNNING" or time.monotonic() > deadline:
            return status
        time.sleep(0.002)


def execution_history(emu: Emulation, execution_arn: str) -> list[dict[str, Any]]:
    """The execution's history events as GetExecutionHistory returns them through boto3, read from moto's backend.

    Same events, members (in the API's order) and values as the API: members without a value left out,
    timestamps as botocore parses them; without serialising the whole history to JSON and parsing it back
    (a long run's history is thousands of events).
    """
    backend = stepfunctions_parser_backends[emu.account_id][emu.region]
    shape = _history_event_shape()
    return [_as_returned(event, shape) for event in backend.get_execution_history(execution_arn)["events"]]


@functools.cache
def _history_event_shape() -> Shape:
    model = botocore.session.get_session().get_service_model("stepfunctions")
    operation = model.operation_model("GetExecutionHistory")
    output = operation.output_shape
    assert isinstance(output, StructureShape)  # GetExecutionHistoryOutput
    events = output.members["events"]
    assert isinstance(events, ListShape)
    return events.member


def _as_returned(value: Any, shape: Shape | None) -> Any:
    if isinstance(value, dict):
        members = getattr(shape, "members", {})
        ordered = [k for k in members if k in value] + [k for k in value if k not in members]
        return {
            key: _timestamp(value[key]) if key == "timestamp" else _as_returned(value[key], members.get(key))
            for key in ordered
            if value[key] is not None
        }
    if isinstance(value, list):
        return [_as_returned(item, getattr(shape, "member", None)) for item in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


@functools.lru_cache(maxsize=4096)
def _timestamp(text: str) -> datetime.datetime:
    """moto's ISO text (``2026-01-05T10:00:00.000Z``) as the datetime boto3 returns: aware, in local time."""
    return datetime.datetime.fromisoformat(text).astimezone(tzlocal())


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
    """What a run left behind: per-run resources still there, and the compute environment's launch template.

    File systems and jobs are looked at account-wide (one the run made untagged counts), except those tagged with
    another stack's id (``TAG_STACK_ID``): another stack deployed in the same account, whose resources are its own.
    """
    emu.clock.settle()
    run_prefix = f"{stack.refs.name_prefix}-{execution_name}"
    fsx = fsx_backends[emu.account_id][emu.region]
    file_systems = []
    for fs_id, found in fsx.file_systems.items():
        if _of_another_stack(_tag_dict(fsx.list_tags_for_resource(found.resource_arn)), stack):
            continue
        state = emu.fsx.file_systems.get(fs_id)
        lifecycle = state.lifecycle if state is not None else "AVAILABLE"
        if lifecycle != "DELETING":
            file_systems.append((fs_id, lifecycle))
    ec2 = ec2_backends[emu.account_id][emu.region]
    templates = sorted(t.name for t in ec2.launch_templates.values() if t.name.startswith(run_prefix))
    batch = batch_backends[emu.account_id][emu.region]
    job_defs = sorted(
        d.arn for d in batch._job_definitions.values() if d.status == "ACTIVE" and d.name.startswith(run_prefix)
    )
    # Every lane's compute environment: the first one not back on its baseline (else lane 0's) is reported.
    on_templates = []
    for lane in stack.refs.lanes:
        env = batch.get_compute_environment(lane.compute_environment_arn)
        current = dict((env.compute_resources or {}).get("launchTemplate") or {}) if env is not None else None
        baseline = {
            "launchTemplateId": lane.baseline_launch_template_id,
            "version": lane.baseline_launch_template_version,
        }
        on_templates.append((current, baseline))
    current, baseline = next(
        (pair for pair in on_templates if not Leftovers([], [], [], *pair, []).compute_environment_restored),
        on_templates[0],
    )
    return Leftovers(
        file_systems=file_systems,
        launch_templates=templates,
        active_job_definitions=job_defs,
        compute_environment_launch_template=current,
        baseline_launch_template=baseline,
        unfinished_jobs=[
            j.job_id
            for j in emu.batch.jobs.values()
            if j.status not in ("SUCCEEDED", "FAILED") and not _of_another_stack(j.tags, stack)
        ],
    )


def _tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}


def _of_another_stack(tags: dict[str, str], stack: EmulatedStack) -> bool:
    """The resource carries another stack's id (a resource without the tag is not another stack's)."""
    return tags.get(TAG_STACK_ID, stack.refs.stack_id) != stack.refs.stack_id


def lustre_lifetime(emu: Emulation, since: float = 0.0) -> LustreLifetime | None:
    """Phases of the first file system created at or after emulated second ``since``."""
    created = sorted(
        (fs for fs in emu.fsx.file_systems.values() if fs.created_at >= since), key=lambda fs: fs.created_at
    )
    if not created:
        return None
    fs = created[0]
    jobs = [j for j in emu.batch.jobs.values() if j.created_at >= since]
    job = jobs[0] if jobs else None
    job_start = job.started_at if job is not None else None
    job_end = job.stopped_at if job is not None else None
    ends = [
        t.end_time
        for t in emu.fsx.tasks.values()
        if t.file_system_id == fs.file_system_id
        and t.task_type == "EXPORT_TO_REPOSITORY"
        and t.lifecycle == "SUCCEEDED"
        and t.end_time is not None
    ]
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


# --- file system figures (README "The figures of a run") -----------------------------------------------------------------

METRIC_READ = "cloudwatch:GetMetricData"  # CheckMetrics' read of the export-queue metric (autoexport)


def figures(result: RunResult, emulation: Emulation | None = None) -> dict[str, Any]:
    """``RunFigures`` of a run as a dict, in the stable order of the dataclass's fields."""
    found = result.figures
    if found is None:
        found = run_figures(emulation or active(), result, 0.0)
    return dataclasses.asdict(found)


def run_figures(emu: Emulation, result: RunResult, started_at: float, stack_id: str = "") -> RunFigures:
    """Compute a run's figures from the emulation's records (file systems, associations, tasks, jobs) and history."""
    name = result.execution_arn.rsplit(":", 1)[-1]
    fs = _run_file_system(emu, result, started_at)
    parent, job_running = _run_job(emu, name, started_at, stack_id)
    job_end = parent.stopped_at if parent is not None else None

    def span(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else b - a

    dra_available = export_requested = export_done = import_end = import_created = None
    if fs is not None:
        fs_id = fs.file_system_id
        dras = [
            d
            for d in [*emu.fsx.associations.values(), *emu.fsx.removed_associations.values()]
            if d.file_system_id == fs_id and d.available_at is not None
        ]
        dra_available = min((d.available_at for d in dras if d.available_at is not None), default=None)
        imports = sorted(
            (
                t
                for t in [*emu.fsx.tasks.values(), *emu.fsx.removed_tasks.values()]
                if t.file_system_id == fs_id and t.task_type == "IMPORT_METADATA_FROM_REPOSITORY"
            ),
            key=lambda t: t.created_at,
        )
        if imports:
            import_created, import_end = imports[0].created_at, imports[0].end_time
        exports = sorted(
            (
                t
                for t in [*emu.fsx.tasks.values(), *emu.fsx.removed_tasks.values()]
                if t.file_system_id == fs_id and t.task_type == "EXPORT_TO_REPOSITORY"
            ),
            key=lambda t: t.created_at,
        )
        if job_end is not None:
            exports = [t for t in exports if t.created_at >= job_end]
            checks = [at for at, _, call in emu.iam.function_calls if call == METRIC_READ and at >= job_end]
            requested = [*checks, *(t.created_at for t in exports[:1])]
            export_requested = min(requested) if requested else None
        done = [t.end_time for t in exports if t.lifecycle == "SUCCEEDED" and t.end_time is not None]
        if fs.queue_drained_at is not None and not fs.queue:
            # auto export drained (it may have drained while the job still ran: nothing was left when it ended)
            done.append(max(fs.queue_drained_at, job_end) if job_end is not None else fs.queue_drained_at)
        export_done = min(done) if done else None
    return RunFigures(
        fs_lifetime_s=span(fs.created_at, fs.delete_requested_at) if fs is not None else None,
        fs_available_before_job_s=span(fs.available_at, job_running) if fs is not None else None,
        association_available_before_job_s=span(dra_available, job_running),
        after_job_until_export_requested_s=span(job_end, export_requested),
        after_export_done_until_delete_requested_s=span(export_done, fs.delete_requested_at) if fs else None,
        import_s=span(import_created, import_end),
        import_wait_s=max(0.0, import_end - dra_available) if import_end is not None and dra_available else None,
        transitions=result.transitions or transitions(result.events),
        history_events=result.history_events or len(result.events),
        status=result.status,
        error=result.error,
    )


def _run_file_system(emu: Emulation, result: RunResult, started_at: float) -> Any:
    """The file system this execution created (from its CreateFileSystem result; else the first created since)."""
    for event in result.events:
        details = event.get("taskSucceededEventDetails") or {}
        if event["type"] == "TaskSucceeded" and details.get("resource") == "createFileSystem":
            try:
                fs_id = json.loads(details.get("output") or "{}").get("FileSystem", {}).get("FileSystemId")
            except ValueError:
                fs_id = None
            if fs_id in emu.fsx.file_systems:
                return emu.fsx.file_systems[fs_id]
    created = sorted(
        (fs for fs in emu.fsx.file_systems.values() if fs.created_at >= started_at), key=lambda fs: fs.created_at
    )
    return created[0] if created else None


def stack_jobs(emu: Emulation, stack_id: str = "") -> list[Any]:
    """The Batch jobs of stack ``stack_id`` (and untagged ones); every job when ``stack_id`` is ""."""
    return [j for j in emu.batch.jobs.values() if not stack_id or j.tags.get(TAG_STACK_ID, stack_id) == stack_id]


def run_jobs(emu: Emulation, execution_name: str, stack_id: str = "") -> list[Any]:
    """The Batch jobs of run ``execution_name`` of stack ``stack_id`` (another stack may name a run alike)."""
    return [j for j in stack_jobs(emu, stack_id) if j.tags.get(TAG_RUN) == execution_name]


def _run_jobs(emu: Emulation, execution_name: str, started_at: float, stack_id: str = "") -> list[Any]:
    """The jobs of run ``execution_name``; else those created since it started."""
    jobs = run_jobs(emu, execution_name, stack_id)
    return jobs or [j for j in stack_jobs(emu, stack_id) if j.created_at >= started_at]


def _run_job(emu: Emulation, execution_name: str, started_at: float, stack_id: str = "") -> tuple[Any, float | None]:
    """The run's (parent) job and when its first attempt, or first array child, was RUNNING."""
    jobs = _run_jobs(emu, execution_name, started_at, stack_id)
    parents = [
        j
        for j in jobs
        if ":" not in j.job_id and getattr(j, "array_parent", None) is None and getattr(j, "parent_id", None) is None
    ]
    parent = min(parents or jobs, key=lambda j: j.created_at, default=None)
    if parent is None:
        return None, None
    starts = [j.started_at for j in jobs if j.started_at is not None and j.created_at >= parent.created_at]
    for child in getattr(parent, "children", None) or []:  # array children: ids "<parent id>:<index>"
        child_start = getattr(emu.batch.jobs.get(child) if isinstance(child, str) else child, "started_at", None)
        if child_start is not None:
            starts.append(child_start)
    return parent, min(starts) if starts else None
