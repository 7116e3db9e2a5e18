"""The view of a run as it goes (states as they happen, elapsed time, the file system) and its final report.

On a terminal a live line shows the elapsed time, the current state and the file system; anywhere else (piped)
there is no live display, only one line per change. Every line of the timeline is on one clock: the time since
the run started (``+M:SS``).
"""

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
from batch_lustre.automation.lane_view import LaneView
from batch_lustre.cli.common import clock, elapsed, is_plain
from batch_lustre.cli.export_queue import ObservationLog
from batch_lustre.cli.job_summary import summarize_cause
from batch_lustre.cli.listing import Column, Listing, render

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
CAUSE_LIMIT = 600  # characters of a Cause shown without --verbose (a state's input can be much longer)


def real_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RunProgress:
    """``on_event`` callback of ``automation.follow_run`` that draws the run as it goes.

    Each state is printed once, when first entered (a polling loop's later turns only update
    the live line with their count); facts (file system id and state, job...) are printed when
    they change, the export queue's observations once each. On a terminal, a live line shows the
    elapsed time, the current state and the file system; piped, there is no live line.
    """

    def __init__(
        self,
        console: Console,
        handle: RunHandle,
        now: Callable[[], dt.datetime] | None = real_now,
        lanes: Callable[[], LaneView | None] | None = None,
    ) -> None:
        self.console = console
        self.lanes = lanes  # the stack's lanes now (``automation.lane_view.lanes``); None: not shown
        self.lane: int | None = None  # the lane the run took
        self.ahead: int | None = None  # while it waits for a lane: runs ahead of it
        self.handle = handle
        self.now = now  # None: the elapsed time is that of the latest event (a replay, e.g. the demo)
        self.started_at: dt.datetime | None = None
        self.latest: dt.datetime | None = None
        self._spinner = Spinner("dots")
        self.state = "starting"
        self.visit = 0
        self.facts: dict[str, str] = {}
        self.export_queue = ObservationLog()
        self._live = None if is_plain(console) else Live(self, console=console, refresh_per_second=4, transient=True)

    def __enter__(self) -> RunProgress:
        if self._live is not None:
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def _at(self, moment: dt.datetime) -> str:
        return elapsed(moment - self.started_at) if self.started_at is not None else elapsed(0)

    def on_event(self, event: RunEvent, outcome: RunOutcome) -> None:
        self.latest = event.timestamp
        if event.type == "ExecutionStarted":
            self.started_at = event.timestamp
        if event.state is not None and event.type.endswith("StateEntered"):
            self.state, self.visit = event.state, event.visit
            if event.visit == 1:
                self.console.print(Text.assemble((f"  {self._at(event.timestamp):>6}  ", "dim"), event.state))
        for fact, value in event.facts.items():
            if fact == "exportQueue":
                text = self.export_queue.new(value, self.started_at)
                if text is not None:
                    self._fact(event.timestamp, FACT_LABELS[fact].format(text))
            elif self.facts.get(fact) != value:
                self._fact(event.timestamp, FACT_LABELS[fact].format(value))
            self.facts[fact] = value

    def on_poll(self, _outcome: RunOutcome) -> None:
        """After each look at the history, until the run holds a lane: its place in line (the lane table and the
        RUNNING executions, judged by the workflow's own rule), printed when it changes; then the lane it took."""
        if self.lanes is None or self.lane is not None:
            return
        view = self.lanes()
        if view is None:  # a stack deployed before lanes
            self.lanes = None
            return
        moment = self.latest or real_now()
        held = next((lane.index for lane in view.lanes if lane.owner == self.handle.execution_arn), None)
        if held is not None:
            self.lane, self.ahead = held, None
            self._fact(moment, f"took lane {held}")
            return
        waiting = view.waiting_run(self.handle.execution_arn)
        ahead = waiting.ahead if waiting is not None else None
        if ahead is not None and ahead != self.ahead:
            self._fact(moment, waiting_text(ahead))
        self.ahead = ahead

    def _fact(self, moment: dt.datetime, text: str) -> None:
        self.console.print(Text(f"  {self._at(moment):>6}    {text}", style="cyan"))

    def __rich__(self) -> RenderableType:
        current = self.now() if self.now is not None else self.latest
        since = elapsed(current - self.started_at) if self.started_at is not None and current else elapsed(0)
        state = self.state + (f" (turn {self.visit})" if self.visit > 1 else "")
        parts = [f"run {self.handle.name}", since, state]
        if self.ahead is not None:
            parts.append(waiting_text(self.ahead))
        elif self.lane is not None:
            parts.append(f"lane {self.lane}")
        if "fileSystemId" in self.facts:
            parts.append(f"{self.facts['fileSystemId']} {self.facts.get('fileSystem', '')}".strip())
        if "job" in self.facts:
            parts.append(f"job {self.facts['job']}")
        line = Table.grid(padding=(0, 1))
        line.add_column(no_wrap=True)
        line.add_column(no_wrap=True, overflow="ellipsis")
        line.add_row(self._spinner, Text("  |  ".join(parts)))
        return line


def waiting_text(ahead: int) -> str:
    """``waiting for a lane (N ahead)``."""
    return f"waiting for a lane ({ahead} ahead)"


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
    verbose: bool = False,
    lanes: Callable[[], LaneView | None] | None = None,
) -> RunOutcome:
    """Follow the run live, then print its outcome and what it exported; return the outcome.

    ``verbose``: a failed run's whole Cause, not its one-line summary. ``lanes``: the stack's lanes now, to show
    "waiting for a lane (N ahead)" while the run waits in line, then the lane it took."""
    console.print(f"[bold]run {handle.name}[/] of {handle.state_machine_arn.rsplit(':', 1)[-1]}")
    with RunProgress(console, handle, now, lanes) as progress:
        outcome = automation.follow_run(
            handle.execution_arn,
            sfn=sfn,
            on_event=progress.on_event,
            on_poll=progress.on_poll,
            poll_seconds=poll_seconds,
            timeout_seconds=timeout_seconds,
        )
    if outcome.status == "RUNNING":
        return outcome
    exported = automation.objects_since(bucket, outcome.started_at, s3=s3)
    console.print(outcome_report(outcome, bucket, exported, console, verbose=verbose))
    return outcome


def cause_line(cause: str | None, limit: int = CAUSE_LIMIT) -> str:
    """A run's Cause in one line: a failed job's description summarised (``job_summary``), cut to ``limit``."""
    line = summarize_cause(cause)
    if len(line) <= limit:
        return line
    return f"{line[:limit]}... ({len(line) - limit} more characters: --verbose shows the whole Cause)"


def outcome_report(
    outcome: RunOutcome, bucket: str, exported: list[StoredObject], console: Console, *, verbose: bool = False
) -> RenderableType:
    """The end of a run: outcome, duration, file system, Error/Cause, what is in the bucket."""
    style = STATUS_STYLES.get(outcome.status, "bold red")
    lines: list[RenderableType] = [
        Text.assemble(("\n" + outcome.status, style), f"  run {outcome.name} in {clock(outcome.duration)}")
    ]
    output = outcome.output if isinstance(outcome.output, dict) else {}
    fs_id = outcome.file_system_id or output.get("fileSystemId")
    if fs_id:
        found = output.get("fileSystem")
        fate: dict[str, Any] = found if isinstance(found, dict) else {}
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
        cause = (outcome.cause or "-") if verbose else cause_line(outcome.cause)
        lines.append(Text.assemble(("Cause: ", "bold red"), cause))
    if exported:
        # The bucket name on its own line: as a table title it would wrap to the table's width.
        lines.append(Text(f"written to s3://{bucket} during the run:"))
        listing = Listing([Column("key", key=True), Column("bytes", justify="right")])
        for item in exported:
            listing.add_row(item.key, str(item.size))
        lines.append(render(listing, console))
    else:
        lines.append(Text(f"nothing was written to s3://{bucket} during the run"))
    return Group(*lines)
