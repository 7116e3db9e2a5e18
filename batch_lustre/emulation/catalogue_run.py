"""Run a scenario of the catalogue on a fresh emulated stack, and judge it.

    from batch_lustre.emulation.catalogue_run import run_scenario
    result = run_scenario("export-fails", "taskexport")
    result.passed, result.got, result.violations, result.mismatches, result.lustre, result.calls

Two kinds of checks:

- the rules, the same for every scenario (``rule_violations``): the run ended; a failed run says why; no
  per-run launch template and no ACTIVE per-run job definition is left; the compute environment
  is back on its baseline launch template; no job is left unfinished; a file system is left only
  when deleteLustre=false or its data is not in S3, and then the output or the Cause says so;
  every file the job wrote was in the bucket when DeleteFileSystem was accepted (recorded by the
  emulation at that moment), and is in the bucket at the end of a run that succeeded; two runs
  never both go ahead, and a refused run creates nothing;
- the scenario's expectation (``emulation.catalogue.Expected``): status, Error, what the Cause or
  the output says, file system kept or not, states seen, failed calls handled, job attempts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from batch_lustre.emulation import day2
from batch_lustre.emulation import sfn as emulated_sfn
from batch_lustre.emulation.catalogue import (
    ABORT_DURING_JOB,
    ABORT_WHILE_CREATING,
    BASELINE_WHILE_PREPARING,
    BOTH_AT_ONCE,
    DEPLOY_DURING_JOB,
    DESTROY_DURING_AND_AFTER,
    FS,
    LANE_RUNS,
    REFRESH_DURING_JOB,
    SCENARIOS,
    SECOND_WHILE_FIRST_RUNS,
    SWEEP_BESIDE_ANOTHER_STACK,
    TWO_STACKS,
    UPDATING_AT_START,
    Expected,
    NamedScenario,
    default_secret,
)
from batch_lustre.emulation.core import Emulation
from batch_lustre.emulation.environment import offline_environment
from batch_lustre.emulation.iam import acting_as_operator
from batch_lustre.emulation.moto_seam import stepfunctions_parser_backends
from batch_lustre.emulation.runner import (
    Leftovers,
    LustreLifetime,
    RunResult,
    StartedRun,
    StateVisit,
    execution_history,
    figures,
    finish_workflow,
    leftovers,
    lustre_lifetime,
    run_jobs,
    start_workflow,
    stop_workflow,
    transitions,
    wait_for_executions,
)
from batch_lustre.emulation.stack import (
    EmulatedStack,
    RunCleanupStack,
    attach_workflow_policy,
    remove_run_cleanup,
    setup_run_cleanup,
    setup_stack,
)
from batch_lustre.program.asl import build_definition

REGION = "us-east-1"
# Scenarios of two stacks in one account (emulation.catalogue_stacks).
PAIR_RUNS = (TWO_STACKS, SWEEP_BESIDE_ANOTHER_STACK)
# Statuses of a run that did not reach its own Cleanup, whatever its Error.
ENDED_WITHOUT_CLEANUP = ("ABORTED", "TIMED_OUT")
DELETE_REFUSED = "DeleteFileSystem was refused"
# The calls that create a per-run resource.
CREATES = (
    "fsx:createFileSystem",
    "fsx:createDataRepositoryAssociation",
    "ec2:createLaunchTemplate",
    "batch:registerJobDefinition",
    "batch:submitJob",
)


@dataclass
class ExecutionReport:
    """One execution of the scenario and what the emulation saw of it."""

    name: str  # the execution name
    result: RunResult
    file_system_id: str | None  # the file system this run created (None: it created none)
    leftovers: Leftovers
    job_attempts: int | None  # attempts of this run's Batch job (None: no job)
    files_seen: list[str] = field(default_factory=list)  # on the file system when the job started
    stack_id: str = ""  # of the stack the run belongs to ("": any)

    @property
    def got(self) -> str:
        return self.result.status + (f": {self.result.error}" if self.result.error else "")


@dataclass
class ScenarioResult:
    """The outcome of one scenario in one mode, judged against its expectation and the rules."""

    name: str
    mode: str
    description: str
    expected: Expected
    expected_label: str
    got: str
    status: str
    error: str | None
    cause: str | None
    executions: list[ExecutionReport]
    leftovers: list[str]  # what is left afterwards, one line per resource ([] : nothing)
    violations: list[str] = field(default_factory=list)  # rules broken
    mismatches: list[str] = field(default_factory=list)  # expectation not met
    transitions: int = 0  # states entered, all executions together
    calls: dict[str, int] = field(default_factory=dict)  # AWS calls by operation, all executions together
    lustre: LustreLifetime | None = None  # the file system of the run that went ahead
    timeline: list[StateVisit] = field(default_factory=list)  # of the run that went ahead (or the first)
    emulated_seconds: float = 0.0
    real_seconds: float = 0.0
    run_cleanups: list[RunResult] = field(default_factory=list)  # run-cleanup executions EventBridge started
    figures: dict[str, Any] = field(default_factory=dict)  # emulation.runner.figures of the run that went ahead
    # The Lambdas' AWS calls, (emulated seconds since the start, function, "service:Operation"), and the faults
    # their attempts were answered with (emulation.lambda_faults), (seconds, function, "service:Operation", kind).
    function_calls: list[tuple[float, str, str]] = field(default_factory=list)
    lambda_faults: list[tuple[float, str, str, str]] = field(default_factory=list)
    operator: list[str] = field(default_factory=list)  # what an operator's actions during the run said

    @property
    def passed(self) -> bool:
        return not self.violations and not self.mismatches

    @property
    def problems(self) -> list[str]:
        return [*self.mismatches, *self.violations]


def run_scenario(
    name: str,
    mode: str,
    *,
    timeout_seconds: float = 180.0,
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    policy_transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    with_run_cleanup: bool = True,
    stack_config: Mapping[str, Any] | None = None,
) -> ScenarioResult:
    """Run scenario ``name`` of the catalogue in ``mode`` on a fresh emulated stack; judge the outcome.

    To show that the rules catch a defect (a workflow that breaks a rule): ``transform`` changes the generated
    definition before it runs, ``policy_transform`` the state machine role's policy, and ``with_run_cleanup=False``
    deploys no run-cleanup state machine. ``stack_config``: the stack config instead of the scenario's own (e.g. a
    scenario run in another data layout).
    """
    entry = SCENARIOS[name]
    if mode not in entry.modes:
        raise ValueError(f"scenario {name!r} does not apply to mode {mode!r}: it applies to {', '.join(entry.modes)}")
    if entry.runs in LANE_RUNS:
        from batch_lustre.emulation.catalogue_lane_runs import run_lanes  # it judges with this module's rules

        return run_lanes(
            name, mode, entry, timeout_seconds=timeout_seconds, transform=transform, stack_config=stack_config
        )
    if entry.runs in PAIR_RUNS:
        from batch_lustre.emulation.catalogue_stacks import run_pair  # it judges with this module's rules

        return run_pair(name, mode, entry, timeout_seconds=timeout_seconds)
    real_start = time.monotonic()
    with (
        offline_environment(REGION),
        Emulation(entry.scenario(), region=REGION) as emu,
        _history_limit(entry.history_limit),
    ):
        stack = setup_stack(
            emu,
            mode,
            runtime_params=dict(entry.runtime_params),
            secret_string=entry.secret_string(mode),
            config_changes=entry.stack_config if stack_config is None else stack_config,
            job_image_tags=entry.job_image_tags,
        )
        definition = build_definition(stack.refs)
        if entry.definition_change is not None:
            entry.definition_change(definition)
        policy = attach_workflow_policy(emu, stack, definition)
        if transform is not None:
            definition = transform(definition)
        if policy_transform is not None:
            attach_workflow_policy(emu, stack, definition, document=policy_transform(policy))
        if with_run_cleanup:
            cleanup: RunCleanupStack | None = setup_run_cleanup(emu, stack)
        else:
            remove_run_cleanup(emu, stack)
            cleanup = None
        started_at = emu.now()
        operator: list[str] = []
        runs = _execute(emu, stack, entry, definition, timeout_seconds, operator)
        cleanups = (
            wait_for_executions(emu, cleanup.state_machine_arn, timeout_seconds=timeout_seconds, stack=stack)
            if cleanup is not None
            else []
        )
        reports = [execution_report(emu, stack, run) for run in runs]
        ahead = _went_ahead(reports)
        result = ScenarioResult(
            name=name,
            mode=mode,
            description=entry.description,
            expected=entry.expectation(mode),
            expected_label=entry.expected_label(mode),
            got="; ".join(f"{r.name} {r.got}" for r in reports) if len(reports) > 1 else reports[0].got,
            status=ahead.result.status,
            error=ahead.result.error,
            cause=ahead.result.cause,
            executions=reports,
            leftovers=leftover_lines(emu, stack, reports),
            transitions=sum(transitions(r.result.events) for r in reports),
            calls=merged_calls(reports),
            lustre=lustre_lifetime(emu, started_at) if ahead.file_system_id else None,
            timeline=ahead.result.timeline,
            emulated_seconds=emu.now() - started_at,
            run_cleanups=cleanups,
            figures=figures(ahead.result, emu),
            function_calls=[(at - started_at, fn, call) for at, fn, call in emu.iam.function_calls],
            lambda_faults=[(at - started_at, fn, call, kind) for at, fn, call, kind in emu.lambda_faults.injected],
            operator=operator,
        )
        result.violations = rule_violations(emu, stack, entry, mode, reports, cleanups, cleanup)
        result.mismatches = expectation_mismatches(emu, entry, mode, reports, cleanups, operator)
        result.mismatches += bucket_mismatches(emu, stack.refs.bucket_name, entry.expectation(mode), ahead)
    result.real_seconds = time.monotonic() - real_start
    return result


# --- running ---------------------------------------------------------------------------------------


@contextmanager
def _history_limit(limit: int | None) -> Iterator[None]:
    """Step Functions' history limit lowered for one scenario (so that reaching it takes a short run)."""
    if limit is None:
        yield
        return
    with mock.patch.object(emulated_sfn, "MAX_HISTORY_EVENTS", limit):
        yield


# Emulated seconds after the start at which a person stops a run while its job runs (it starts about 12.5
# minutes in and runs 10).
STOP_DURING_JOB_AT = 1080.0


def stop_at(emu: Emulation, started: StartedRun, seconds: float) -> None:
    """StopExecution of ``started`` at emulated second ``started + seconds``, as a person would."""
    backend = stepfunctions_parser_backends[emu.account_id][emu.region]

    def stop(_at: float) -> None:
        # As StopExecution does (emulation/sfn.py): the execution ends ABORTED where it is, at this emulated time.
        execution = backend.describe_execution(started.execution_arn)
        execution.stop(
            stop_date=emu.clock.now(),
            error="StoppedByOperator",
            cause="stopped from the console while the run was going",
        )

    emu.clock.schedule(started.started_at + seconds, stop, f"stop {started.execution_name}")


# Emulated seconds after the start at which a console edit puts the compute environment back on its baseline: the
# run's compute side is ready (about 100 s in), its file system still being created (until about 420 s).
BASELINE_EDIT_AT = 300.0
OPERATOR_ACTIONS = {
    DEPLOY_DURING_JOB: (STOP_DURING_JOB_AT, day2.deploy_during_run),
    REFRESH_DURING_JOB: (STOP_DURING_JOB_AT, day2.refresh_during_run),
    BASELINE_WHILE_PREPARING: (BASELINE_EDIT_AT, day2.baseline_during_run),
    UPDATING_AT_START: (0.0, day2.baseline_during_run),
    DESTROY_DURING_AND_AFTER: (STOP_DURING_JOB_AT, day2.destroy_during_run),
}
# What the operator does once the run has ended, by the scenario's ``runs``.
OPERATOR_AFTER = {DESTROY_DURING_AND_AFTER: day2.destroy_after_run}


def _operate_at(emu: Emulation, stack: EmulatedStack, started: StartedRun, kind: str, said: list[str]) -> None:
    """The operator's action of ``kind`` at its emulated second after the start; what it says goes to ``said``."""
    seconds, action = OPERATOR_ACTIONS[kind]

    def act(_at: float) -> None:
        with acting_as_operator():
            said.extend(action(emu, stack))

    emu.clock.schedule(started.started_at + seconds, act, f"operator {kind}")


def _execute(
    emu: Emulation,
    stack: EmulatedStack,
    entry: NamedScenario,
    definition: dict[str, Any],
    timeout_seconds: float,
    operator: list[str] | None = None,
) -> list[RunResult]:
    def start(execution_name: str) -> StartedRun:
        return start_workflow(
            definition,
            role_arn=stack.role_arn,
            name=stack.refs.state_machine_name,
            execution_name=execution_name,
            emulation=emu,
            execution_input=dict(entry.execution_input) or None,
            execution_timeout_seconds=entry.execution_timeout_seconds,
        )

    if entry.runs == ABORT_WHILE_CREATING:
        emu.hold_waits()  # both preparation branches park in their first wait: the file system is CREATING
        try:
            started = start("run-1")
            _until(lambda: emulated_sfn.held(started.execution_arn) >= 2, timeout_seconds)
            stopped = stop_workflow(
                started,
                "StoppedByOperator",
                "stopped from the console while the run was going",
                stack=stack,
                timeout_seconds=timeout_seconds,
            )
        finally:
            emu.release_waits()
        return [stopped]
    if entry.runs in OPERATOR_ACTIONS:
        said = operator if operator is not None else []
        started = start("run-1")
        _operate_at(emu, stack, started, entry.runs, said)
        ended = finish_workflow(started, stack=stack, timeout_seconds=timeout_seconds)
        if entry.runs in OPERATOR_AFTER:
            with acting_as_operator():
                said.extend(OPERATOR_AFTER[entry.runs](emu, stack))
        return [ended]
    if entry.runs == ABORT_DURING_JOB:
        started = start("run-1")
        stop_at(emu, started, STOP_DURING_JOB_AT)
        return [finish_workflow(started, stack=stack, timeout_seconds=timeout_seconds)]

    if entry.runs == SECOND_WHILE_FIRST_RUNS:
        emu.hold_waits()
        try:
            first = start("first")
            _until(lambda: emulated_sfn.held(first.execution_arn) >= 1, timeout_seconds)
            second = finish_workflow(start("second"), stack=stack, timeout_seconds=timeout_seconds)
        finally:
            emu.release_waits()
        return [finish_workflow(first, stack=stack, timeout_seconds=timeout_seconds), second]
    if entry.runs == BOTH_AT_ONCE:
        emu.hold_waits()  # neither can end (so the other would see it no more) before both have started
        try:
            both = [start("first"), start("second")]
            _until(lambda: any(_ended(emu, s.execution_arn) for s in both), timeout_seconds)
        finally:
            emu.release_waits()
        return [finish_workflow(s, stack=stack, timeout_seconds=timeout_seconds) for s in both]
    return [finish_workflow(start("run-1"), stack=stack, timeout_seconds=timeout_seconds)]


def _until(condition: Any, timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


def _ended(emu: Emulation, execution_arn: str) -> bool:
    return any(
        e["type"] in ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut")
        for e in execution_history(emu, execution_arn)
    )


# --- what each execution did ---------------------------------------------------------------------


def state_outputs(result: RunResult, state: str) -> list[Any]:
    """The parsed output of every exit of ``state`` in the run's history."""
    outputs = []
    for event in result.events:
        details = event.get("stateExitedEventDetails")
        if event["type"].endswith("StateExited") and details and details.get("name") == state:
            try:
                outputs.append(json.loads(details.get("output") or "null"))
            except ValueError:
                outputs.append(None)
    return outputs


def _dig(data: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            return _MISSING
        data = data[key]
    return data


_MISSING = object()


def execution_report(emu: Emulation, stack: EmulatedStack, result: RunResult) -> ExecutionReport:
    """What the emulation saw of one execution of ``stack``: its file system, leftovers and job."""
    name = result.execution_arn.rsplit(":", 1)[-1]
    fs_ids = [_dig(out, "fs.FileSystemId") for out in state_outputs(result, "CreateLustreFileSystem")]
    fs_id = next((f for f in fs_ids if isinstance(f, str)), None)
    jobs = run_jobs(emu, name, stack.refs.stack_id)
    return ExecutionReport(
        name=name,
        stack_id=stack.refs.stack_id,
        result=result,
        file_system_id=fs_id,
        leftovers=leftovers(emu, stack, name),
        job_attempts=len(jobs[0].attempts) if jobs else None,
        files_seen=list(jobs[0].files_seen) if jobs else [],
    )


def _went_ahead(reports: list[ExecutionReport]) -> ExecutionReport:
    """The execution the scenario's single-run checks look at: the first."""
    return reports[0]


def merged_calls(reports: list[ExecutionReport]) -> dict[str, int]:
    """AWS calls by operation, all executions together."""
    calls: dict[str, int] = {}
    for report in reports:
        for operation, count in report.result.calls.items():
            calls[operation] = calls.get(operation, 0) + count
    return dict(sorted(calls.items()))


def leftover_lines(emu: Emulation, stack: EmulatedStack, reports: list[ExecutionReport]) -> list[str]:
    """What ``stack``'s executions left, one line per resource ([]: nothing)."""
    lines: list[str] = []
    left = reports[0].leftovers  # file systems and the compute environment are stack-wide
    lines += [f"file system {fs_id} ({lifecycle})" for fs_id, lifecycle in left.file_systems]
    for report in reports:
        lines += [f"launch template {t}" for t in report.leftovers.launch_templates]
        lines += [f"job definition {d.rsplit('/', 1)[-1]}" for d in report.leftovers.active_job_definitions]
    lines += [f"job {j} not ended" for j in left.unfinished_jobs]
    if not left.compute_environment_restored:
        lines.append(f"compute environment on {left.compute_environment_launch_template}")
    return lines


# --- judging -------------------------------------------------------------------------------------


def _delete_lustre(entry: NamedScenario, mode: str) -> bool:
    """The run's deleteLustre, as its secret holds it (true when the secret does not say)."""
    values: dict[str, Any] = {**default_secret(mode), **entry.runtime_params}
    text = entry.secret_string(mode)
    if text is not None:
        try:
            values = json.loads(text)
        except ValueError:
            return True
    return str(values.get("deleteLustre", True)).lower() != "false"


def _says(result: RunResult) -> str:
    """What the run tells its user: the Cause of a failed run, the output of a succeeded one."""
    if result.status == "SUCCEEDED":
        return json.dumps(result.output)
    return result.cause or ""


def _ended_without_cleanup(result: RunResult) -> bool:
    """The run ended before its own Cleanup could run (stopped, timed out, or an error no Catch takes)."""
    return result.status in ENDED_WITHOUT_CLEANUP or (result.error or "").startswith("States.")


def rule_violations(
    emu: Emulation,
    stack: EmulatedStack,
    entry: NamedScenario,
    mode: str,
    reports: list[ExecutionReport],
    cleanups: list[RunResult] | None = None,
    cleanup: RunCleanupStack | None = None,
) -> list[str]:
    """The rules every run keeps (the module docstring lists them) that these executions broke, one line each."""
    problems: list[str] = []
    cleanups = cleanups or []
    delete_lustre = _delete_lustre(entry, mode)
    for report in reports:
        result, who = report.result, report.name
        if result.status == "RUNNING" or (
            result.status not in ("SUCCEEDED", "FAILED") and result.status != entry.expectation(mode).status
        ):
            problems.append(f"{who}: ended {result.status} ({result.error})")
        if _ended_without_cleanup(result) and not cleanups:
            problems.append(
                f"{who}: ended {result.status} ({result.error}) without its cleanup, and no run cleanup followed"
            )
        if result.status == "FAILED" and not (result.error and (result.cause or "").strip()):
            problems.append(f"{who}: failed without an Error and a Cause")
        left = report.leftovers
        if left.launch_templates:
            problems.append(f"{who}: launch template left: {', '.join(left.launch_templates)}")
        if left.active_job_definitions:
            problems.append(f"{who}: ACTIVE job definition left: {', '.join(left.active_job_definitions)}")
    left = reports[0].leftovers
    if not left.compute_environment_restored:
        problems.append(f"compute environment not back on its baseline: {left.compute_environment_launch_template}")
    if left.unfinished_jobs:
        problems.append(f"jobs not ended: {', '.join(left.unfinished_jobs)}")
    problems += _file_system_rules(emu, reports, delete_lustre, cleanups)
    stopped = emu.batch.stopped_instances()
    if stopped:
        problems.append(f"instances left stopped (billing for their volumes): {', '.join(map(str, stopped))}")
    for run in cleanups:
        if run.status not in ("SUCCEEDED", "FAILED") or (run.status == "FAILED" and not (run.cause or "").strip()):
            problems.append(f"run cleanup {run.execution_arn.rsplit(':', 1)[-1]} ended {run.status} ({run.error})")
    return problems


def _file_system_rules(
    emu: Emulation, reports: list[ExecutionReport], delete_lustre: bool, cleanups: list[RunResult]
) -> list[str]:
    problems: list[str] = []
    left = dict(reports[0].leftovers.file_systems)
    owners = {r.file_system_id: r for r in reports if r.file_system_id}
    for fs_id in left:
        owner = owners.get(fs_id)
        if owner is None:
            problems.append(f"file system {fs_id} left, made by no run of this scenario")
            continue
        says = _says(owner.result) + " ".join(_says(c) for c in cleanups)
        if not delete_lustre:
            if "deleteLustre=false" not in says:
                problems.append(f"file system {fs_id} kept (deleteLustre=false) but the run does not say so")
            continue
        if (owner.result.status == "SUCCEEDED" and not cleanups) or fs_id not in says or "kept" not in says:
            problems.append(f"file system {fs_id} left and the run's Cause does not say it was kept")
        elif DELETE_REFUSED in says:
            continue  # AWS refused to delete it (for hours): nothing more the run could do than say so
        if not _unsafe_files(emu, owner, fs_id):
            problems.append(f"file system {fs_id} kept although every file the job wrote is in S3")
    for report in reports:
        jobs = run_jobs(emu, report.name, report.stack_id)
        for job in jobs:
            if job.files_lost:
                problems.append(f"{report.name}: the job's files {job.files_lost} did not land on Lustre")
        fs = emu.fsx.file_systems.get(report.file_system_id or "")
        if fs is not None and fs.in_s3_at_delete is not None:
            missing = sorted({p for j in jobs for p in j.files_written if not fs.in_s3_at_delete.get(p)})
            if missing:
                problems.append(
                    f"{report.name}: DeleteFileSystem {fs.file_system_id} accepted while {', '.join(missing)} not in S3"
                )
        if report.result.status == "SUCCEEDED" and fs is not None and fs.in_s3_at_delete is None:  # else: as above
            missing = sorted({p for j in jobs for p in j.files_written if not emu.fsx.in_s3(fs, p)})
            if missing:
                problems.append(f"{report.name}: succeeded while {', '.join(missing)} not in S3")
    return problems


def _unsafe_files(emu: Emulation, report: ExecutionReport, fs_id: str) -> list[str]:
    """Files the run's job wrote on ``fs_id`` whose content is not in S3."""
    fs = emu.fsx.file_systems.get(fs_id)
    if fs is None:
        return []
    written = {p for j in run_jobs(emu, report.name, report.stack_id) for p in j.files_written}
    return sorted(p for p in written if not emu.fsx.in_s3(fs, p))


def expectation_mismatches(
    emu: Emulation,
    entry: NamedScenario,
    mode: str,
    reports: list[ExecutionReport],
    cleanups: list[RunResult] | None = None,
    operator: list[str] | None = None,
) -> list[str]:
    """How the executions differ from the scenario's expectation, one line each."""
    expected = entry.expectation(mode)
    problems: list[str] = _run_cleanup_mismatches(expected, cleanups or [])
    said = " | ".join(operator or [])
    for fragment in expected.operator_says:
        text = fragment.replace("{run}", reports[0].name).replace(FS, reports[0].file_system_id or "<no file system>")
        if text not in said:
            problems.append(f"the operator's actions lack {text!r} (they said: {said or 'nothing'})")
    if entry.runs in (SECOND_WHILE_FIRST_RUNS, BOTH_AT_ONCE):  # each run waits in line for the lane, then goes
        for report in reports:
            problems += _single_mismatches(expected, report, f"{report.name}: ")
        return problems
    return problems + _single_mismatches(expected, reports[0])


def bucket_mismatches(emu: Emulation, bucket: str, expected: Expected, report: ExecutionReport) -> list[str]:
    """Where the run's results landed in the bucket, and what it left alone, against the expectation."""
    objects = emu.s3_objects(bucket)
    problems = [
        f"no object {key} in the bucket after the run (results under: {', '.join(sorted(objects)) or 'none'})"
        for key in (k.replace("{run}", report.name) for k in expected.lands_at)
        if key not in objects
    ]
    before = emu.fsx.scenario.bucket_objects
    problems += [
        f"object {key} was {'changed' if key in objects else 'deleted'} by the run"
        for key in expected.untouched
        if objects.get(key) != before.get(key)
    ]
    return problems


def _run_cleanup_mismatches(expected: Expected, cleanups: list[RunResult]) -> list[str]:
    got = [c.status + (f": {c.error}" if c.error else "") for c in cleanups]
    if expected.run_cleanup is None:
        return [f"run cleanup ran ({', '.join(got)}), expected none"] if cleanups else []
    if not expected.run_cleanup:
        return []
    problems = (
        []
        if got == [expected.run_cleanup]
        else [f"run cleanup: expected {expected.run_cleanup}, got {', '.join(got) or 'none'}"]
    )
    says = " ".join(_says(c) for c in cleanups)
    problems += [f"run cleanup lacks {text!r}" for text in expected.run_cleanup_says if text not in says]
    return problems


def _single_mismatches(expected: Expected, report: ExecutionReport, who: str = "") -> list[str]:
    result = report.result
    problems: list[str] = []
    if (result.status, result.error) != (expected.status, expected.error):
        problems.append(f"{who}expected {expected.label}, got {report.got}")
    says = _says(result)
    for fragment in expected.says:
        text = fragment.replace(FS, report.file_system_id or "<no file system>")
        if text not in says:
            problems.append(f"{who}{'output' if result.status == 'SUCCEEDED' else 'Cause'} lacks {text!r}")
    kept = any(fs_id == report.file_system_id for fs_id, _ in report.leftovers.file_systems)
    if report.file_system_id and kept != expected.keeps_file_system:
        problems.append(
            f"{who}file system {report.file_system_id} "
            f"{'kept' if kept else 'deleted'}, expected {'kept' if expected.keeps_file_system else 'deleted'}"
        )
    if expected.keeps_file_system and not report.file_system_id:
        problems.append(f"{who}expected a kept file system, the run created none")
    for state, path, value in expected.saw:
        seen: list[Any] = []
        for out in state_outputs(result, state):
            found = _dig(out, path)
            seen.extend(found if isinstance(found, list) else [found])  # a list: every value it holds was seen
        if value not in seen:
            shown = sorted({repr(s) for s in seen if s is not _MISSING})
            problems.append(f"{who}{state} never saw {path}={value!r} (saw {', '.join(shown) or 'nothing'})")
    failed = {f"{operation}:{code}" for operation, code in result.call_errors}
    for call_error in expected.call_errors:
        if call_error not in failed:
            problems.append(f"{who}no failed call {call_error} (failed: {', '.join(sorted(failed)) or 'none'})")
    missed = [path for path in expected.job_sees if path not in report.files_seen]
    if missed:
        problems.append(f"{who}the job did not find {', '.join(missed)} when it started")
    if expected.job_attempts is not None and report.job_attempts != expected.job_attempts:
        problems.append(f"{who}job attempts {report.job_attempts}, expected {expected.job_attempts}")
    if expected.creates_nothing:
        failed_calls = [operation for operation, _ in result.call_errors]
        created = [op for op in CREATES if result.calls.get(op, 0) > failed_calls.count(op)]
        if created:
            problems.append(f"{who}expected nothing created, but {', '.join(created)} succeeded")
    return problems
