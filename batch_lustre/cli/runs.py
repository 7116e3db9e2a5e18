"""``run`` (start the workflow and follow it live) and ``status`` (recent runs)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer
from rich.text import Text

from batch_lustre import automation
from batch_lustre.automation import lane_view
from batch_lustre.cli import fs_cost
from batch_lustre.cli.common import (
    EXIT_FAILED,
    JsonOption,
    OutputsFileOption,
    PollOption,
    StackOption,
    VerboseOption,
    clock,
    fail,
    one_line_errors,
    out,
    print_json,
    progress_console,
    when,
)
from batch_lustre.cli.lanes import read_lanes, show_lanes
from batch_lustre.cli.listing import Column, Listing, show
from batch_lustre.cli.overrides import (
    ArraySizeOption,
    CommandOption,
    EnvOption,
    ImageTagOption,
    MemoryOption,
    VcpusOption,
    WarmOption,
    describe,
    from_flags,
)
from batch_lustre.cli.progress import STATUS_STYLES, cause_line, follow_and_report
from batch_lustre.program.asl import naming
from batch_lustre.program.parameters import check_execution_name


def run(
    stack: StackOption,
    detach: Annotated[bool, typer.Option("--detach", help="Start the run and return at once.")] = False,
    name: Annotated[
        str | None, typer.Option("--name", help="Execution name (default: run-<UTC time>-<random>).")
    ] = None,
    outputs_file: OutputsFileOption = None,
    poll_seconds: PollOption = 5.0,
    command: CommandOption = None,
    env: EnvOption = None,
    vcpus: VcpusOption = None,
    memory: MemoryOption = None,
    image_tag: ImageTagOption = None,
    array_size: ArraySizeOption = None,
    warm: WarmOption = None,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
) -> None:
    """Start a run of the stack's workflow and follow it live. Exit code 0 only if the run SUCCEEDED.

    The per-run overrides (--command, --env, --vcpus, --memory, --image-tag, --array-size, --warm/--no-warm) are
    the run's execution input; they are checked as the workflow checks them before anything starts (a refused
    one: one line, exit code 2, no run started).
    """
    with one_line_errors():
        raw = from_flags(
            command=command, env=env, vcpus=vcpus, memory=memory, image_tag=image_tag, array_size=array_size, warm=warm
        )
        # The input first, offline (as `demo` checks it): against the stack file's computeEnvironmentMaxvCpus,
        # before Pulumi or AWS is asked anything; start_run checks the deployed compute environment's bound.
        automation.check_run_input(stack, raw)
        if name is not None:
            check_execution_name(name)
        found = automation.load_outputs(stack, outputs_file)
        bucket = automation.required_output(found, naming.OUTPUT_BUCKET_NAME, stack)
        region = automation.stack_region(stack)
        sfn = automation.aws_client("stepfunctions", region)
        handle = automation.start_run(
            stack, stack_outputs=found, name=name, sfn=sfn, overrides=raw, batch=automation.aws_client("batch", region)
        )
        execution_input = handle.execution_input
        console = progress_console(as_json)
        if execution_input:
            console.print(Text(f"per-run overrides: {describe(execution_input)}"))
        if detach:
            if as_json:
                print_json(started_json(handle, execution_input))
                return
            console.print(
                Text.assemble("started run ", (handle.name, "bold"), f" of stack {stack}: {handle.execution_arn}")
            )
            console.print(f"follow it with `batch-lustre status {stack}`")
            return
        try:
            outcome = follow_and_report(
                console,
                handle,
                sfn=sfn,
                s3=automation.aws_client("s3", region),
                bucket=bucket,
                poll_seconds=poll_seconds,
                verbose=verbose,
                lanes=lambda: read_lanes(stack, found),
            )
        except KeyboardInterrupt:
            fail(f"stopped following; run {handle.name} goes on (batch-lustre status {stack})", 130)
        use = None
        if outcome.status != "RUNNING":
            use = fs_cost.run_use(handle.execution_arn, sfn, fs_cost.stack_price(stack))
            if use is not None:
                console.print(Text(use.line()))
    if as_json:
        print_json(outcome_json(outcome, use, execution_input))
    if not outcome.succeeded:
        raise typer.Exit(EXIT_FAILED)


def started_json(handle: automation.RunHandle, execution_input: dict[str, Any]) -> dict[str, Any]:
    """``run --detach --json``: the run just started."""
    return {
        "run": handle.name,
        "execution_arn": handle.execution_arn,
        "status": "RUNNING",
        "execution_input": execution_input,
    }


def outcome_json(
    outcome: automation.RunOutcome, use: fs_cost.FileSystemUse | None, execution_input: dict[str, Any]
) -> dict[str, Any]:
    """``run --json``: the run as ``status --json`` shows it, with its execution input and file system."""
    return {
        "run": outcome.name,
        "execution_arn": outcome.execution_arn,
        "status": outcome.status,
        "started_at": outcome.started_at.isoformat() if outcome.started_at else None,
        "stopped_at": outcome.stopped_at.isoformat() if outcome.stopped_at else None,
        "duration_s": _seconds(outcome.duration),
        "error": outcome.error,
        "cause": outcome.cause,
        "cause_summary": cause_line(outcome.cause) if outcome.cause else None,
        "file_system_id": outcome.file_system_id,
        "fs_cost_usd": use.usd if use is not None else None,
        "execution_input": execution_input,
    }


def run_cause(execution_arn: str, sfn: Any) -> str | None:
    """The Cause a run ended with (None while it runs, or if it succeeded)."""
    events = sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=1)["events"]
    last = max(events, key=lambda e: e["id"]) if events else None  # moto answers every event, oldest first
    if last is None or last["type"] not in automation.TERMINAL_EVENTS or last["type"] == "ExecutionSucceeded":
        return None
    kind = last["type"]
    return last.get(kind[0].lower() + kind[1:] + "EventDetails", {}).get("cause")


def _seconds(delta: dt.timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds()


def run_json(
    item: automation.RunSummary,
    cause: str | None,
    use: fs_cost.FileSystemUse | None = None,
    view: lane_view.LaneView | None = None,
) -> dict[str, Any]:
    """One run as ``status --json`` prints it (keys documented in the README); ``fs_cost_usd`` null without a file
    system; ``lane`` the lane it holds and ``ahead`` the runs ahead of it while it waits for one (else null)."""
    lanes = view.lanes if view is not None else ()
    waiting = view.waiting_run(item.execution_arn) if view is not None else None
    return {
        "run": item.name,
        "execution_arn": item.execution_arn,
        "status": item.status,
        "started_at": item.started_at.isoformat() if item.started_at else None,
        "stopped_at": item.stopped_at.isoformat() if item.stopped_at else None,
        "duration_s": _seconds(item.duration),
        "error": item.error,
        "cause": cause,
        "cause_summary": cause_line(cause) if cause else None,
        "fs_cost_usd": use.usd if use is not None else None,
        "lane": next((lane.index for lane in lanes if lane.owner == item.execution_arn), None),
        "ahead": waiting.ahead if waiting is not None else None,
    }


def status(
    stack: StackOption,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs to show.")] = 10,
    outputs_file: OutputsFileOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Recent runs of the stack, newest first: outcome, start, duration, error (--verbose: and the whole Cause); then
    its lanes (free, or which run holds each since when) and the runs waiting in line."""
    with one_line_errors():
        found = automation.load_outputs(stack, outputs_file)
        machine = automation.required_output(found, "stateMachineArn", stack)
        region = automation.stack_region(stack)
        runs = automation.list_runs(machine, region=region, limit=limit)
        causes: dict[str, str | None] = {}
        sfn = automation.aws_client("stepfunctions", region)
        if as_json or verbose:
            causes = {r.execution_arn: run_cause(r.execution_arn, sfn) for r in runs if r.error is not None}
        price = fs_cost.stack_price(stack)
        uses = {r.execution_arn: fs_cost.run_use(r.execution_arn, sfn, price) for r in runs}
        view = read_lanes(stack, found)
    if as_json:
        print_json([run_json(r, causes.get(r.execution_arn), uses.get(r.execution_arn), view) for r in runs])
        return
    console = out()
    if not runs:
        console.print(f"stack {stack} has no runs yet (start one with `batch-lustre run {stack}`)")
        return
    listing = Listing(
        [
            Column("run", key=True),
            Column("status"),
            Column("started"),
            Column("duration"),
            Column("fs cost", justify="right"),
            Column("error"),
        ],
        title=f"recent runs of stack {stack}",
    )
    now = dt.datetime.now(dt.UTC)
    for item in runs:
        style = STATUS_STYLES.get(item.status, "bold red")
        duration = clock(item.duration)
        if item.status == "RUNNING" and item.started_at is not None:
            duration = f"{clock(now - item.started_at)} so far"
        use = uses.get(item.execution_arn)
        cost = "-" if use is None else f"${use.usd:.2f}" + ("" if use.deleted else " so far")
        listing.add_row(
            item.name, Text(item.status, style=style), when(item.started_at), duration, cost, item.error or ""
        )
    show(listing, console)
    for item in runs:
        if item.execution_arn in causes:
            console.print(
                Text.assemble((f"{item.name}: {item.error}: ", "bold red"), causes[item.execution_arn] or "-")
            )
    if view is not None:
        show_lanes(stack, view, console)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("status")(status)
