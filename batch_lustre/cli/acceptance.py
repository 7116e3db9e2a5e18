"""``acceptance``: the budget-guarded end-to-end check of a deployed stack, drawn live, then one summary.

The check itself is the Automation API's (``batch_lustre.automation.acceptance``: what the job does, when the run
is stopped, what is checked after it); this module draws the run as ``batch-lustre run`` draws it and prints the
verdict: PASS or FAIL, the reasons, and the file system's cost in minutes and GiB-hours. ``--emulated`` runs the
same check on ``automation.emulated``'s stack, with ``automation.SteppedEmulatedTime`` as its clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from batch_lustre import automation
from batch_lustre.automation.acceptance import (
    DEFAULT_BUDGET_MINUTES,
    DEFAULT_CLEANUP_WAIT_MINUTES,
    JOB_MEMORY_MIB,
    SMALLEST_CAPACITY_GIB,
    AcceptanceClients,
    AcceptanceReport,
    acceptance_marker_content,
    acceptance_marker_key,
    new_acceptance_name,
    run_acceptance,
)
from batch_lustre.automation.guard import RealTime, TimeSource
from batch_lustre.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    OutputsFileOption,
    StackOption,
    clock,
    fail,
    one_line_errors,
    out,
)
from batch_lustre.cli.progress import RunProgress, real_now
from batch_lustre.program.asl.naming import CONTAINER_SCRATCH_DIR
from batch_lustre.program.parameters import check_execution_name

# --- output --------------------------------------------------------------------------------------


def cost_line(report: AcceptanceReport) -> str:
    """What the check cost in file system time."""
    if report.file_system_id is None:
        return "cost: no file system was created (0 file-system minutes)"
    minutes = report.fs_minutes or 0.0
    gib_hours = report.gib_hours or 0.0
    if report.fs_still_exists:
        return (
            f"cost: file system {report.file_system_id} ({report.capacity_gib} GiB) has lived {minutes:.1f} min "
            f"so far = {gib_hours:.1f} GiB-hours, and still exists ({report.fs_state_at_end}): it bills until it "
            f"is deleted (batch-lustre sweep {report.stack}); budget {report.budget_minutes} min"
        )
    return (
        f"cost: file system {report.file_system_id} ({report.capacity_gib} GiB) lived {minutes:.1f} min until "
        f"its deletion was accepted = {gib_hours:.1f} GiB-hours ({report.capacity_gib} GiB x {minutes:.1f} min "
        f"/ 60); budget {report.budget_minutes} min"
    )


def print_summary(out: Console, report: AcceptanceReport) -> None:
    """One summary: PASS or FAIL, the reasons, the run, its results, what is left, what it cost."""
    verdict = "[bold green]PASS[/]" if report.passed else "[bold red]FAIL[/]"
    out.print(f"\nacceptance of stack {report.stack}, run {report.run}: {verdict}", soft_wrap=True)
    for reason in report.reasons:
        out.print(f"  [red]-[/] {escape(reason)}", soft_wrap=True)
    duration = (report.stopped_at - report.started_at) if report.started_at and report.stopped_at else None
    lines = [
        f"run: {report.status}" + (f": {report.error}" if report.error else "") + f" in {clock(duration)}",
        *report.notes,
    ]
    if report.run_cleanup:
        lines.append(f"run cleanup: {report.run_cleanup}")
    lines.append(
        f"result: {report.marker_url} "
        + ("is in the bucket, as the job wrote it" if report.marker_found else "missing")
    )
    lines.append("left behind: " + ("; ".join(report.leftovers) or "nothing"))
    lines.append(cost_line(report))
    for line in lines:  # AWS's words (a Cause, an error message) are shown as they are, never as markup
        out.print(f"  {escape(line)}", soft_wrap=True)


# --- the command ---------------------------------------------------------------------------------


def _minutes(flag: str, text: str) -> int:
    """A whole number of minutes >= 1 from a flag, or a one-line error naming the flag (exit 2)."""
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if value < 1:
        fail(f"{flag}={text!r} is not accepted: accepted a whole number of minutes, at least 1", EXIT_BAD_INPUT)
    return value


def acceptance(
    stack: StackOption,
    budget_fs_minutes: Annotated[
        str,
        typer.Option(
            "--budget-fs-minutes",
            metavar="N",
            help="Stop the run (StopExecution) and fail once its file system has lived longer than N minutes; the "
            "stack's run-cleanup state machine then exports what the job wrote and deletes the file system.",
        ),
    ] = str(DEFAULT_BUDGET_MINUTES),
    cleanup_wait_minutes: Annotated[
        str,
        typer.Option(
            "--cleanup-wait-minutes",
            metavar="N",
            help="After a run that did not succeed: how long to wait for its run-cleanup execution to end.",
        ),
    ] = str(DEFAULT_CLEANUP_WAIT_MINUTES),
    image_tag: Annotated[
        str | None,
        typer.Option(
            "--image-tag",
            metavar="TAG",
            show_default=False,
            help="Tag of the job image in the stack's ECR repository (default: latest); the image must have `sh`.",
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Execution name (default: acceptance-<UTC time>-<random>).")
    ] = None,
    outputs_file: OutputsFileOption = None,
    poll_seconds: Annotated[
        float, typer.Option("--poll-seconds", min=0.0, help="Seconds between two looks at the run.")
    ] = 30.0,
    emulated: Annotated[
        bool,
        typer.Option(
            "--emulated",
            help="Check a stack deployed in an emulated AWS instead (no credentials, no network): the "
            "same check, on the stack `batch-lustre demo` runs.",
        ),
    ] = False,
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario",
            show_default=False,
            help="With --emulated: what the emulated AWS does (batch-lustre demo --list); default success.",
        ),
    ] = None,
) -> None:
    """Check a deployed stack end to end on your AWS account, within a budget. Exit code 0 only on PASS.

    One run with the smallest file system and a tiny job: the secret must hold lustreStorageCapacity=1200 (set it
    with `batch-lustre params set STACK lustreStorageCapacity=1200`; the check refuses to start otherwise) and
    deleteLustre=true. The job runs with 1 vCPU and 2048 MiB and the command
    `sh -c "... > /scratch/batch-lustre-acceptance/<run>/ok.txt"`: the job image (<ecrRepositoryUrl>:latest, or
    --image-tag) must have `sh`.

    Then: the run is followed (and stopped past --budget-fs-minutes); after a run that did not succeed, its
    run-cleanup execution is waited for; s3://<bucket>/batch-lustre-acceptance/<run>/ok.txt must hold what the job
    wrote and nothing of the run may be left behind. One summary: PASS or FAIL, why, and the file system's cost in
    minutes and GiB-hours (capacity x minutes / 60).
    """
    if scenario is not None and not emulated:
        fail(
            f"--scenario={scenario!r} is not accepted without --emulated: accepted only with --emulated (a real "
            "account does what it does)",
            EXIT_BAD_INPUT,
        )
    budget = _minutes("--budget-fs-minutes", budget_fs_minutes)
    cleanup_wait = _minutes("--cleanup-wait-minutes", cleanup_wait_minutes)
    with one_line_errors():
        automation.check_stack(stack)
        run = name or new_acceptance_name()
        check_execution_name(run)
    if emulated:
        from batch_lustre.cli.demo import choose

        scenario = scenario or "success"
        with one_line_errors():
            choose(scenario, automation.stack_settings(stack).mode)  # one line, exit 2, before anything is emulated
        with (
            one_line_errors(),
            automation.emulated(
                stack,
                scenario=scenario,
                runtime_params={"lustreStorageCapacity": SMALLEST_CAPACITY_GIB},
                job_files={acceptance_marker_key(run): acceptance_marker_content(run)},
            ) as deployed,
        ):
            out().print(f"[bold]acceptance[/] of stack {stack} on an emulated AWS, scenario [bold]{scenario}[/]")
            time_source = automation.SteppedEmulatedTime(deployed.emulation)
            try:
                report = _check(
                    stack,
                    deployed.outputs,
                    AcceptanceClients.for_region(deployed.region),
                    time_source,
                    run,
                    budget,
                    cleanup_wait,
                    image_tag,
                    poll_seconds,
                    now=None,
                )
            finally:
                time_source.close()
    else:
        with one_line_errors():
            outputs = automation.load_outputs(stack, outputs_file)
            report = _check(
                stack,
                outputs,
                AcceptanceClients.for_region(automation.stack_region(stack)),
                RealTime(),
                run,
                budget,
                cleanup_wait,
                image_tag,
                poll_seconds,
                now=real_now,
            )
    print_summary(out(), report)
    if not report.passed:
        raise typer.Exit(EXIT_FAILED)


def _check(
    stack: str,
    outputs: dict[str, Any],
    clients: AcceptanceClients,
    time_source: TimeSource,
    run: str,
    budget: int,
    cleanup_wait: int,
    image_tag: str | None,
    poll_seconds: float,
    now: Callable[[], dt.datetime] | None,
) -> AcceptanceReport:
    """``run_acceptance`` with the run drawn live, as ``batch-lustre run`` draws it."""
    started: list[automation.RunHandle] = []
    progress: list[RunProgress] = []

    def on_started(handle: automation.RunHandle) -> None:
        started.append(handle)
        out().print(
            f"[bold]run {handle.name}[/] of {handle.state_machine_arn.rsplit(':', 1)[-1]}: 1 vCPU, "
            f"{JOB_MEMORY_MIB} MiB, writes {CONTAINER_SCRATCH_DIR}/{acceptance_marker_key(handle.name)}; budget "
            f"{budget} file-system minutes"
        )
        progress.append(RunProgress(out(), handle, now).__enter__())

    def on_event(event: automation.RunEvent, outcome: automation.RunOutcome) -> None:
        progress[0].on_event(event, outcome)
        if outcome.status != "RUNNING":
            progress.pop().__exit__(None, None, None)

    try:
        return run_acceptance(
            stack,
            outputs,
            clients=clients,
            time_source=time_source,
            name=run,
            budget_minutes=budget,
            cleanup_wait_minutes=cleanup_wait,
            image_tag=image_tag,
            poll_seconds=poll_seconds,
            on_event=on_event,
            on_started=on_started,
        )
    except KeyboardInterrupt:
        for live in progress:
            live.__exit__(None, None, None)
        if started:
            fail(
                f"stopped following; run {started[0].name} goes on: stop it with `aws stepfunctions stop-execution "
                f"--execution-arn {started[0].execution_arn}` (its run cleanup then cleans up)",
                130,
            )
        raise
    finally:
        for live in progress:
            live.__exit__(None, None, None)


def register(app: typer.Typer) -> None:
    app.command("acceptance")(acceptance)
