"""``run`` (start the workflow and follow it live) and ``status`` (recent runs)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from batch_lustre import automation
from batch_lustre.cli.common import (
    EXIT_FAILED,
    OutputsFileOption,
    PollOption,
    StackOption,
    clock,
    console,
    fail,
    one_line_errors,
    when,
)
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
from batch_lustre.cli.progress import STATUS_STYLES, follow_and_report


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
        found = automation.load_outputs(stack, outputs_file)
        bucket = automation.required_output(found, "bucketName", stack)
        region = automation.stack_region(stack)
        sfn = automation.aws_client("stepfunctions", region)
        max_vcpus = (
            automation.compute_environment_max_vcpus(stack, found, batch=automation.aws_client("batch", region))
            if raw
            else None
        )
        execution_input = automation.run_input(raw, max_vcpus) if max_vcpus is not None else {}
        handle = automation.start_run(
            stack, stack_outputs=found, name=name, sfn=sfn, overrides=execution_input, max_vcpus=max_vcpus
        )
        if execution_input:
            console.print(f"per-run overrides: {describe(execution_input)}", soft_wrap=True)
        if detach:
            console.print(f"started run [bold]{handle.name}[/] of stack {stack}: {handle.execution_arn}")
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
            )
        except KeyboardInterrupt:
            fail(f"stopped following; run {handle.name} goes on (batch-lustre status {stack})", 130)
    if not outcome.succeeded:
        raise typer.Exit(EXIT_FAILED)


def status(
    stack: StackOption,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs to show.")] = 10,
    outputs_file: OutputsFileOption = None,
) -> None:
    """Recent runs of the stack, newest first: outcome, start, duration, error."""
    with one_line_errors():
        found = automation.load_outputs(stack, outputs_file)
        machine = automation.required_output(found, "stateMachineArn", stack)
        runs = automation.list_runs(machine, region=automation.stack_region(stack), limit=limit)
    if not runs:
        console.print(f"stack {stack} has no runs yet (start one with `batch-lustre run {stack}`)")
        return
    table = Table(title=f"recent runs of stack {stack}", title_justify="left")
    for column in ("run", "status", "started", "duration", "error"):
        table.add_column(column, overflow="fold")
    now = dt.datetime.now(dt.UTC)
    for item in runs:
        style = STATUS_STYLES.get(item.status, "bold red")
        duration = clock(item.duration)
        if item.status == "RUNNING" and item.started_at is not None:
            duration = f"{clock(now - item.started_at)} so far"
        table.add_row(item.name, f"[{style}]{item.status}[/]", when(item.started_at), duration, item.error or "")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("status")(status)
