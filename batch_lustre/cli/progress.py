"""The live view of a run (states as they happen, elapsed time, the file system) and its final report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from batch_lustre import automation
from batch_lustre.automation import RunEvent, RunHandle, RunOutcome, StoredObject
from batch_lustre.cli.common import clock

# How each fact is shown when it changes.
FACT_LABELS = {
    "fileSystemId": "file system {}",
    "fileSystem": "file system is {}",
    "association": "data repository association is {}",
    "jobId": "submitted job {}",
    "job": "job is {}",
    "export": "export task is {}",
    "exportQueue": "export queue: {}",
}
STATUS_STYLES = {"SUCCEEDED": "bold green", "RUNNING": "bold cyan"}
CAUSE_LIMIT = 1500  # characters of a Cause shown (a job's description or a state's input can be much longer)


def real_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RunProgress:
    """``on_event`` callback of ``automation.follow_run`` that draws the run live.

    Each state is printed once, when first entered (a polling loop's later turns only update
    the live line with their count); facts (file system id and state, job...) are printed when
    they change. The live line shows the elapsed time, the current state and the file system.
    """

    def __init__(self, console: Console, handle: RunHandle, now: Callable[[], dt.datetime] | None = real_now) -> None:
        self.console = console
        self.handle = handle
        self.now = now  # None: the elapsed time is that of the latest event (a replay, e.g. the demo)
        self.started_at: dt.datetime | None = None
        self.latest: dt.datetime | None = None
        self._spinner = Spinner("dots")
        self.state = "starting"
        self.visit = 0
        self.facts: dict[str, str] = {}
        self._live = Live(self, console=console, refresh_per_second=4, transient=True)

    def __enter__(self) -> RunProgress:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._live.__exit__(*exc)

    def _at(self, moment: dt.datetime) -> str:
        return clock(moment - self.started_at) if self.started_at is not None else clock(0)

    def on_event(self, event: RunEvent, outcome: RunOutcome) -> None:
        self.latest = event.timestamp
        if event.type == "ExecutionStarted":
            self.started_at = event.timestamp
        if event.state is not None and event.type.endswith("StateEntered"):
            self.state, self.visit = event.state, event.visit
            if event.visit == 1:
                self.console.print(Text.assemble((f"  {self._at(event.timestamp)}  ", "dim"), event.state))
        for fact, value in event.facts.items():
            if self.facts.get(fact) != value:
                self.facts[fact] = value
                self.console.print(
                    Text(f"  {self._at(event.timestamp)}    {FACT_LABELS[fact].format(value)}", style="cyan")
                )

    def __rich__(self) -> RenderableType:
        current = self.now() if self.now is not None else self.latest
        elapsed = clock(current - self.started_at) if self.started_at is not None and current else clock(0)
        state = self.state + (f" (turn {self.visit})" if self.visit > 1 else "")
        parts = [f"run {self.handle.name}", f"elapsed {elapsed}", state]
        if "fileSystemId" in self.facts:
            parts.append(f"{self.facts['fileSystemId']} {self.facts.get('fileSystem', '')}".strip())
        if "job" in self.facts:
            parts.append(f"job {self.facts['job']}")
        line = Table.grid(padding=(0, 1))
        line.add_column(no_wrap=True)
        line.add_column(no_wrap=True, overflow="ellipsis")
        line.add_row(self._spinner, Text("  |  ".join(parts)))
        return line


def follow_and_report(
    console: Console,
    handle: RunHandle,
    *,
    sfn: Any,
    s3: Any,
    bucket: str,
    poll_seconds: float,
    now: Callable[[], dt.datetime] | None = real_now,
    timeout_seconds: float | None = None,
) -> RunOutcome:
    """Follow the run live, then print its outcome and what it exported; return the outcome."""
    console.print(f"[bold]run {handle.name}[/] of {handle.state_machine_arn.rsplit(':', 1)[-1]}")
    with RunProgress(console, handle, now) as progress:
        outcome = automation.follow_run(
            handle.execution_arn,
            sfn=sfn,
            on_event=progress.on_event,
            poll_seconds=poll_seconds,
            timeout_seconds=timeout_seconds,
        )
    if outcome.status == "RUNNING":
        return outcome
    exported = automation.objects_since(bucket, outcome.started_at, s3=s3)
    console.print(outcome_report(outcome, bucket, exported))
    return outcome


def shorten(cause: str, limit: int = CAUSE_LIMIT) -> str:
    """``cause`` cut to ``limit`` characters, saying where the rest is."""
    if len(cause) <= limit:
        return cause
    return (
        f"{cause[:limit]}... ({len(cause) - limit} more characters: "
        "`aws stepfunctions get-execution-history --reverse-order --max-results 1` has the whole Cause)"
    )


def outcome_report(outcome: RunOutcome, bucket: str, exported: list[StoredObject]) -> RenderableType:
    """The end of a run: outcome, duration, file system, Error/Cause, what is in the bucket."""
    style = STATUS_STYLES.get(outcome.status, "bold red")
    lines: list[RenderableType] = [
        Text.assemble(("\n" + outcome.status, style), f"  run {outcome.name} in {clock(outcome.duration)}")
    ]
    output = outcome.output if isinstance(outcome.output, dict) else {}
    fs_id = outcome.file_system_id or output.get("fileSystemId")
    if fs_id:
        fate = output.get("fileSystem") if isinstance(output.get("fileSystem"), dict) else {}
        if fate.get("FileSystemDeleted"):
            lines.append(Text(f"file system {fs_id}: deleted"))
        elif fate:
            lines.append(Text(f"file system {fs_id}: kept ({fate.get('Reason', 'see the cause')})", style="yellow"))
        else:
            lines.append(Text(f"file system {fs_id}"))
    if "jobId" in outcome.facts:
        # The run succeeds only if the job (every child of an array) did; otherwise: the last status seen.
        status = "SUCCEEDED" if outcome.succeeded else outcome.facts.get("job", "?")
        lines.append(Text(f"job {outcome.facts['jobId']}: {status}"))
    if not outcome.succeeded:
        lines.append(Text.assemble(("Error: ", "bold red"), outcome.error or "-"))
        lines.append(Text.assemble(("Cause: ", "bold red"), shorten(outcome.cause or "-")))
    if exported:
        # The bucket name on its own line: as a table title it would wrap to the table's width.
        lines.append(Text(f"written to s3://{bucket} during the run:"))
        table = Table()
        table.add_column("key")
        table.add_column("bytes", justify="right")
        for item in exported:
            table.add_row(item.key, str(item.size))
        lines.append(table)
    else:
        lines.append(Text(f"nothing was written to s3://{bucket} during the run"))
    return Group(*lines)
