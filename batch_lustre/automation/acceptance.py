"""The acceptance check of a deployed stack: one budget-guarded run of a tiny job, then a verdict
(``batch-lustre acceptance`` draws it; ``acceptance --emulated`` runs it on ``emulated``'s stack).

1. refuses to start unless the secret holds ``lustreStorageCapacity=1200`` (the smallest SCRATCH_2 file system)
   and ``deleteLustre=true`` (a kept file system would bill on after the check): ``check_acceptance_secret``;
2. starts a run whose per-run overrides make a tiny job (``acceptance_overrides``): 1 vCPU, 2048 MiB, command
   ``sh -c "mkdir -p ... && printf ... > /scratch/batch-lustre-acceptance/<run>/ok.txt"`` (the image needs ``sh``);
3. follows it; once the run's file system has lived longer than ``budget_minutes``, stops the run
   (StopExecution: the stack's run-cleanup state machine then cleans up after it) and fails;
4. if the run did not succeed, waits (bounded) for the run-cleanup execution EventBridge starts after it;
5. checks that ``s3://<bucket>/batch-lustre-acceptance/<run>/ok.txt`` holds what the job wrote and that the run left
   nothing behind (the per-run resources ``batch-lustre sweep`` would find: ``leftovers.find_leftovers``);
6. returns an ``AcceptanceReport``: ``passed``, the reasons, the run, and the file system's minutes and GiB-hours.

The same code checks the emulated stack: only the clients (moto intercepts them) and the clock (a
``TimeSource``: ``RealTime``, or ``emulated.SteppedEmulatedTime``) differ.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batch_lustre.automation import clients as aws
from batch_lustre.automation.boundary import operation
from batch_lustre.automation.errors import AutomationError, one_line
from batch_lustre.automation.guard import TimeSource
from batch_lustre.automation.history import HistoryReader, RunEvent, RunOutcome, RunTracker
from batch_lustre.automation.leftovers import LeftoverClients, find_leftovers
from batch_lustre.automation.parameters import read_parameters
from batch_lustre.automation.runs import RunHandle, new_run_name, run_cleanup_of, start_run
from batch_lustre.automation.stacks import required_output
from batch_lustre.program.asl.naming import (
    CONTAINER_SCRATCH_DIR,
    OUTPUT_BUCKET_NAME,
    OUTPUT_RUN_CLEANUP_STATE_MACHINE_ARN,
    OUTPUT_SECRET_NAME,
)
from batch_lustre.program.asl.run_cleanup_output import run_cleanup_did
from batch_lustre.program.parameters import BY_NAME, ParameterError, validate_value

MARKER_DIR = "batch-lustre-acceptance"  # under /scratch, hence at the bucket's root
SMALLEST_CAPACITY_GIB = 1200  # SCRATCH_2's smallest file system
JOB_VCPUS = 1
JOB_MEMORY_MIB = 2048
BUDGET_ERROR = "AcceptanceBudgetExceeded"
DEFAULT_BUDGET_MINUTES = 60
DEFAULT_CLEANUP_WAIT_MINUTES = 60
CAUSE_CHARS = 300  # of a run's Cause in a reason line


# --- what the job does, and where its result lands ---------------------------------------------------


@operation
def acceptance_marker_key(run: str) -> str:
    """The file the acceptance job writes, relative to /scratch: also its key in the bucket."""
    return f"{MARKER_DIR}/{run}/ok.txt"


@operation
def acceptance_marker_content(run: str) -> bytes:
    return f"batch-lustre acceptance {run}: ok\n".encode()


@operation
def acceptance_job_command(run: str) -> list[str]:
    """The tiny job: ``sh -c`` writing the marker file (run names are [A-Za-z0-9_-]: nothing to quote)."""
    path = f"{CONTAINER_SCRATCH_DIR}/{acceptance_marker_key(run)}"
    text = acceptance_marker_content(run).decode().rstrip("\n")
    return ["sh", "-c", f"mkdir -p {path.rsplit('/', 1)[0]} && printf '%s\\n' '{text}' > {path}"]


@operation
def acceptance_overrides(run: str, image_tag: str | None = None) -> dict[str, Any]:
    """The run's execution input: the tiny job (and the image tag, when given)."""
    overrides: dict[str, Any] = {"command": acceptance_job_command(run), "vcpus": JOB_VCPUS, "memory": JOB_MEMORY_MIB}
    if image_tag is not None:
        overrides["imageTag"] = image_tag
    return overrides


@operation
def new_acceptance_name(now: dt.datetime | None = None) -> str:
    """``acceptance-<UTC time>-<random>``: an execution name that says what the run was."""
    return "acceptance-" + new_run_name(now).removeprefix("run-")


# --- the check ---------------------------------------------------------------------------------------


@dataclass
class AcceptanceClients:
    """The AWS clients the check uses (moto intercepts them on the emulation)."""

    found: LeftoverClients  # fsx, ec2, batch, stepfunctions
    s3: Any
    secrets: Any

    @classmethod
    def for_region(cls, region: str | None) -> AcceptanceClients:
        return cls(
            LeftoverClients.for_region(region),
            aws.aws_client("s3", region),
            aws.aws_client("secretsmanager", region),
        )


@dataclass
class AcceptanceReport:
    """What the acceptance check found. ``reasons`` empty: PASS."""

    stack: str
    run: str
    budget_minutes: int
    bucket: str
    status: str = "NOT STARTED"
    error: str | None = None
    cause: str | None = None
    started_at: dt.datetime | None = None
    stopped_at: dt.datetime | None = None
    file_system_id: str | None = None
    capacity_gib: int = SMALLEST_CAPACITY_GIB
    fs_created: dt.datetime | None = None
    fs_delete_accepted: dt.datetime | None = None  # DeleteFileSystem accepted (by the run or its run cleanup)
    fs_state_at_end: str | None = None  # its lifecycle when the check ended; "gone"; None: no file system
    fs_counted_until: dt.datetime | None = None
    stop_requested: bool = False  # StopExecution was asked for (once), the budget being spent
    stopped_for_budget: bool = False  # ...and accepted
    run_cleanup: str | None = None  # "<execution> SUCCEEDED: what it did" ...; None: none was waited for
    marker_found: bool = False
    leftovers: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.reasons

    @property
    def marker_url(self) -> str:
        return f"s3://{self.bucket}/{acceptance_marker_key(self.run)}"

    @property
    def fs_minutes(self) -> float | None:
        """Minutes the file system lived (until DeleteFileSystem was accepted, or until the check ended)."""
        if self.fs_created is None or self.fs_counted_until is None:
            return None
        return max(0.0, (self.fs_counted_until - self.fs_created).total_seconds() / 60)

    @property
    def fs_still_exists(self) -> bool:
        return self.fs_state_at_end not in (None, "gone", "DELETING") and self.fs_delete_accepted is None

    @property
    def gib_hours(self) -> float | None:
        minutes = self.fs_minutes
        return None if minutes is None else self.capacity_gib * minutes / 60


@operation
def check_acceptance_secret(stack: str, stack_outputs: dict[str, Any], secrets: Any) -> int:
    """The secret's lustreStorageCapacity (1200), or ``ParameterError`` naming how to set what is needed."""
    secret_id = required_output(stack_outputs, OUTPUT_SECRET_NAME, stack)
    found = read_parameters(stack, secret_id=secret_id, client=secrets)
    current = found.current
    capacity = _secret_value(current, "lustreStorageCapacity")
    if capacity != SMALLEST_CAPACITY_GIB:
        raise ParameterError(
            f"lustreStorageCapacity={_shown(current, 'lustreStorageCapacity')} in the secret of stack {stack} is not "
            f"accepted by the acceptance check: accepted {SMALLEST_CAPACITY_GIB} (the smallest SCRATCH_2 file "
            f"system, the cheapest check); set it with `batch-lustre params set {stack} lustreStorageCapacity=1200` "
            "(and back after the check)"
        )
    if _secret_value(current, "deleteLustre") is not True:
        raise ParameterError(
            f"deleteLustre={_shown(current, 'deleteLustre')} in the secret of stack {stack} is not accepted by the "
            "acceptance check: accepted true (the run's file system would be kept and bill on); set it with "
            f"`batch-lustre params set {stack} deleteLustre=true`"
        )
    return int(capacity)


def _secret_value(document: dict[str, Any], key: str) -> Any:
    """The secret's value of ``key``, typed; None when missing or not valid."""
    try:
        return validate_value(BY_NAME[key], document[key])
    except (KeyError, ParameterError):
        return None


def _shown(document: dict[str, Any], key: str) -> str:
    return json.dumps(document[key]) if key in document else "(missing)"


@operation
def run_acceptance(
    stack: str,
    stack_outputs: dict[str, Any],
    *,
    clients: AcceptanceClients,
    time_source: TimeSource,
    name: str | None = None,
    budget_minutes: int = DEFAULT_BUDGET_MINUTES,
    cleanup_wait_minutes: int = DEFAULT_CLEANUP_WAIT_MINUTES,
    image_tag: str | None = None,
    poll_seconds: float = 30.0,
    on_event: Callable[[RunEvent, RunOutcome], Any] | None = None,
    on_started: Callable[[RunHandle], Any] | None = None,
) -> AcceptanceReport:
    """The acceptance check of ``stack`` (module docstring). Refusals before the start raise ``ParameterError``
    (nothing started); whatever happens after the start is in the ``AcceptanceReport``."""
    bucket = required_output(stack_outputs, OUTPUT_BUCKET_NAME, stack)
    capacity = check_acceptance_secret(stack, stack_outputs, clients.secrets)
    run = name or new_acceptance_name()
    handle = start_run(
        stack,
        stack_outputs=stack_outputs,
        name=run,
        sfn=clients.found.sfn,
        overrides=acceptance_overrides(run, image_tag),
        batch=clients.found.batch,
    )
    if on_started is not None:
        on_started(handle)
    report = AcceptanceReport(stack, run, budget_minutes, bucket, status="RUNNING", capacity_gib=capacity)
    try:
        _follow(report, handle, clients, time_source, poll_seconds, on_event)
    except Exception as err:  # noqa: BLE001 - without the check following it, the run would go on unguarded
        _stop_unguarded(clients.found.sfn, handle, err)
    if report.status != "SUCCEEDED":
        _wait_for_run_cleanup(report, stack_outputs, clients, time_source, poll_seconds, cleanup_wait_minutes)
    _file_system_at_end(report, clients.found.fsx, time_source.now())
    _check_marker(report, clients.s3)
    _check_leftovers(report, stack, stack_outputs, clients.found)
    _judge(report)
    return report


def _delete_accepted_at(event: dict[str, Any]) -> dt.datetime | None:
    """When DeleteFileSystem was accepted, if ``event`` says it was."""
    details = event.get("taskSucceededEventDetails") or {}
    if event["type"] == "TaskSucceeded" and details.get("resource") == "deleteFileSystem":
        return event["timestamp"]
    return None


def _describe_file_system(fsx: Any, file_system_id: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        found = fsx.describe_file_systems(FileSystemIds=[file_system_id]).get("FileSystems", [])
    except ClientError as err:
        if "NotFound" in str(err.response.get("Error", {}).get("Code", "")):
            return None
        raise
    return found[0] if found else None


def _follow(
    report: AcceptanceReport,
    handle: RunHandle,
    clients: AcceptanceClients,
    time_source: TimeSource,
    poll_seconds: float,
    on_event: Callable[..., Any] | None,
) -> None:
    """Follow the run to its end; stop it once its file system has outlived the budget."""
    sfn = clients.found.sfn
    reader = HistoryReader(handle.execution_arn, sfn)
    tracker = RunTracker(handle.name, handle.execution_arn)
    budget = dt.timedelta(minutes=report.budget_minutes)
    while True:
        for event in reader.new_events():
            run_event = tracker.add(event)
            if on_event is not None:
                on_event(run_event, tracker.outcome)
            report.fs_delete_accepted = report.fs_delete_accepted or _delete_accepted_at(event)
            if report.file_system_id is None and tracker.outcome.file_system_id:
                report.file_system_id = tracker.outcome.file_system_id
                described = _describe_file_system(clients.found.fsx, report.file_system_id) or {}
                report.fs_created = described.get("CreationTime") or event["timestamp"]
                report.capacity_gib = int(described.get("StorageCapacity") or report.capacity_gib)
        outcome = tracker.outcome
        if outcome.status != "RUNNING":
            break
        if (
            report.fs_created is not None
            and report.fs_delete_accepted is None
            and not report.stop_requested
            and time_source.now() - report.fs_created > budget
        ):
            lived = (time_source.now() - report.fs_created).total_seconds() / 60
            _stop(sfn, handle, report, lived)
        time_source.pause(poll_seconds)
    report.status, report.error, report.cause = outcome.status, outcome.error, outcome.cause
    report.started_at, report.stopped_at = outcome.started_at, outcome.stopped_at


def _stop(sfn: Any, handle: RunHandle, report: AcceptanceReport, lived: float) -> None:
    """StopExecution of the run, its file system past the budget (the run-cleanup state machine then cleans up)."""
    from botocore.exceptions import ClientError

    report.stop_requested = True
    try:
        sfn.stop_execution(
            executionArn=handle.execution_arn,
            error=BUDGET_ERROR,
            cause=f"batch-lustre acceptance: file system {report.file_system_id} lived {lived:.1f} min, longer than "
            f"--budget-fs-minutes={report.budget_minutes}; the run-cleanup state machine cleans up",
        )
    except ClientError as err:  # it ended meanwhile: the next look at its history says how
        info = err.response.get("Error", {})
        report.notes.append(f"could not stop the run: {info.get('Code', '?')}: {info.get('Message', '')}")
        return
    report.stopped_for_budget = True
    report.notes.append(
        f"stopped the run after its file system lived {lived:.1f} min (--budget-fs-minutes={report.budget_minutes})"
    )


def _stop_unguarded(sfn: Any, handle: RunHandle, err: Exception) -> None:
    """Following the run failed: stop it (its budget can no longer be kept) and raise one line saying so."""
    from botocore.exceptions import BotoCoreError, ClientError

    what = one_line(f"{type(err).__name__}: {err}")
    try:
        sfn.stop_execution(
            executionArn=handle.execution_arn,
            error="AcceptanceCheckFailed",
            cause=f"batch-lustre acceptance could not follow the run: {what}",
        )
    except (BotoCoreError, ClientError):
        raise AutomationError(
            f"following run {handle.name} failed ({what}) and it could not be stopped: stop it with `aws "
            f"stepfunctions stop-execution --execution-arn {handle.execution_arn}`"
        ) from err
    raise AutomationError(
        f"following run {handle.name} failed ({what}): the run was stopped, its run cleanup cleans up after it"
    ) from err


def _wait_for_run_cleanup(
    report: AcceptanceReport,
    stack_outputs: dict[str, Any],
    clients: AcceptanceClients,
    time_source: TimeSource,
    poll_seconds: float,
    wait_minutes: int,
) -> None:
    """Wait (at most ``wait_minutes``) for the run-cleanup execution EventBridge starts after the run."""
    machine = stack_outputs.get(OUTPUT_RUN_CLEANUP_STATE_MACHINE_ARN)
    if not isinstance(machine, str) or not machine:
        report.reasons.append(
            f"stack {report.stack} has no output {OUTPUT_RUN_CLEANUP_STATE_MACHINE_ARN}: nothing cleans up "
            f"after the run (deploy the stack again: batch-lustre deploy {report.stack})"
        )
        return
    sfn = clients.found.sfn
    deadline = time_source.now() + dt.timedelta(minutes=wait_minutes)
    execution = None
    while execution is None:
        execution = run_cleanup_of(report.run, machine, sfn=sfn, since=report.stopped_at)
        if execution is None:
            if time_source.now() >= deadline:
                report.run_cleanup = f"none started within {wait_minutes} min"
                report.reasons.append(
                    f"no run-cleanup execution started for run {report.run} within "
                    f"--cleanup-wait-minutes={wait_minutes} (is the stack's EventBridge rule "
                    "enabled?)"
                )
                return
            time_source.pause(poll_seconds)
    reader = HistoryReader(execution["executionArn"], sfn)
    tracker = RunTracker(execution["name"], execution["executionArn"])
    while True:
        for event in reader.new_events():
            tracker.add(event)
            report.fs_delete_accepted = report.fs_delete_accepted or _delete_accepted_at(event)
        outcome = tracker.outcome
        if outcome.status != "RUNNING":
            break
        if time_source.now() >= deadline:
            report.run_cleanup = f"{outcome.name} still RUNNING after {wait_minutes} min"
            report.reasons.append(
                f"run cleanup {outcome.name} was still RUNNING after "
                f"--cleanup-wait-minutes={wait_minutes}: see `batch-lustre sweep {report.stack}` "
                "once it ended"
            )
            return
        time_source.pause(poll_seconds)
    if outcome.status == "SUCCEEDED":
        report.run_cleanup = f"{outcome.name} SUCCEEDED: {_run_cleanup_did(outcome.output)}"
    else:
        said = one_line(outcome.cause or "-")
        report.run_cleanup = f"{outcome.name} {outcome.status}: {outcome.error or '-'}: {said}"
        report.reasons.append(f"the run cleanup ended {outcome.status}: {outcome.error or '-'}: {said}")


def _run_cleanup_did(output: Any) -> str:
    return run_cleanup_did(output) or "done"


def _file_system_at_end(report: AcceptanceReport, fsx: Any, now: dt.datetime) -> None:
    if report.file_system_id is None:
        return
    described = _describe_file_system(fsx, report.file_system_id)
    report.fs_state_at_end = (described or {}).get("Lifecycle") or ("gone" if described is None else "?")
    report.fs_counted_until = report.fs_delete_accepted or now


def _check_marker(report: AcceptanceReport, s3: Any) -> None:
    from botocore.exceptions import ClientError

    try:
        body = s3.get_object(Bucket=report.bucket, Key=acceptance_marker_key(report.run))["Body"].read()
    except ClientError as err:
        code = str(err.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchKey", "404", "NotFound"):
            report.reasons.append(f"{report.marker_url} is not in the bucket: the job's result did not reach S3")
            return
        raise
    if body != acceptance_marker_content(report.run):
        report.reasons.append(f"{report.marker_url} does not hold what the job wrote ({body[:80]!r})")
        return
    report.marker_found = True


def _check_leftovers(
    report: AcceptanceReport, stack: str, stack_outputs: dict[str, Any], clients: LeftoverClients
) -> None:
    ended, running = find_leftovers(stack, stack_outputs, clients)
    for item in [*ended, *running]:
        if item.run != report.run:
            continue
        detail = f" ({item.detail})" if item.detail else ""
        report.leftovers.append(
            f"{item.kind} {item.name} {item.resource_id}{detail}"
            if item.name != item.resource_id
            else f"{item.kind} {item.name}{detail}"
        )


def _judge(report: AcceptanceReport) -> None:
    reasons: list[str] = []
    if report.stopped_for_budget:
        reasons.append(
            f"the file system lived longer than --budget-fs-minutes={report.budget_minutes}: the run "
            f"was stopped (StopExecution), {report.status}"
        )
    elif report.status != "SUCCEEDED":
        said = one_line(report.cause or "-")
        reasons.append(f"the run ended {report.status}: {report.error or '-'}: {said}")
    minutes = report.fs_minutes
    if not report.stopped_for_budget and minutes is not None and minutes > report.budget_minutes:
        reasons.append(
            f"the file system lived {minutes:.1f} min, longer than --budget-fs-minutes={report.budget_minutes}"
        )
    if report.leftovers:
        reasons.append(
            f"left behind by run {report.run}: {'; '.join(report.leftovers)} (batch-lustre sweep "
            f"{report.stack} finds and deletes them)"
        )
    report.reasons[:0] = reasons  # the run's own outcome first, then what was checked after it
