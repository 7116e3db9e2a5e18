"""A run's execution history (``GetExecutionHistory``) read into its events and its outcome.

The history is the source of every run's progress and outcome, not ``DescribeExecution`` (whose
output moto cannot serialise when it holds datetimes).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from batch_lustre.automation.boundary import operation

TERMINAL_EVENTS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
    "ExecutionTimedOut": "TIMED_OUT",
}
# Facts read from a state's output when it exits: name -> path in the state data (asl/paths.py layout; a waiting
# loop's last check is under polls.<record>.Last, as lambda/wait_for.py returns it).
FACT_PATHS: dict[str, tuple[str, ...]] = {
    "fileSystemId": ("fs", "FileSystemId"),
    "fileSystem": ("polls", "fileSystem", "Last", "Lifecycle"),
    "association": ("polls", "fileSystem", "Last", "AssociationLifecycle"),
    "jobId": ("job", "JobId"),
    "job": ("polls", "runnable", "Last", "Status"),
    "export": ("polls", "export", "Last", "Lifecycle"),
    "exportQueue": ("polls", "metrics", "Last", "reason"),
}


@dataclass(frozen=True)
class RunEvent:
    """One history event of a run, with what it says about the run."""

    id: int
    type: str  # history event type, e.g. "TaskStateEntered"
    timestamp: dt.datetime
    state: str | None  # state name of StateEntered / StateExited events
    visit: int  # how many times ``state`` has been entered so far (loops)
    facts: dict[str, str]  # what this event taught (fileSystemId, job status...), see ``FACT_PATHS``


@dataclass
class RunOutcome:
    """How a run ended (or where it is, while ``status`` is RUNNING)."""

    name: str
    execution_arn: str
    status: str  # RUNNING | SUCCEEDED | FAILED | ABORTED | TIMED_OUT
    started_at: dt.datetime | None
    stopped_at: dt.datetime | None
    error: str | None = None
    cause: str | None = None
    output: Any = None
    facts: dict[str, str] = field(default_factory=dict)
    states_entered: int = 0

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def duration(self) -> dt.timedelta | None:
        if self.started_at is None or self.stopped_at is None:
            return None
        return self.stopped_at - self.started_at

    @property
    def file_system_id(self) -> str | None:
        return self.facts.get("fileSystemId")


@operation
def execution_name(execution_arn: str) -> str:
    """The execution (run) name: the last part of its ARN."""
    return execution_arn.rsplit(":", 1)[-1]


def _details(event: dict[str, Any]) -> dict[str, Any]:
    """An event's details: ``ExecutionFailed`` -> its ``executionFailedEventDetails``."""
    kind = event["type"]
    return event.get(kind[0].lower() + kind[1:] + "EventDetails") or {}


class HistoryReader:
    """Reads an execution's history incrementally: each ``new_events()`` returns events not seen yet."""

    def __init__(self, execution_arn: str, sfn: Any) -> None:
        self.execution_arn = execution_arn
        self.sfn = sfn
        self.last_id = 0

    @operation
    def new_events(self) -> list[dict[str, Any]]:
        # Newest first, down to the last event already seen: one call per poll on a long history.
        fresh: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": self.execution_arn, "reverseOrder": True, "maxResults": 200}
        while True:
            page = self.sfn.get_execution_history(**kwargs)
            events = page.get("events", [])
            fresh.extend(e for e in events if e["id"] > self.last_id)
            if not page.get("nextToken") or not events or events[-1]["id"] <= self.last_id:
                break
            kwargs["nextToken"] = page["nextToken"]
        fresh.sort(key=lambda e: e["id"])
        if fresh:
            self.last_id = fresh[-1]["id"]
        return fresh


class RunTracker:
    """Turns history events into ``RunEvent``s and the run's ``RunOutcome``."""

    def __init__(self, handle_name: str, execution_arn: str) -> None:
        self.outcome = RunOutcome(handle_name, execution_arn, "RUNNING", None, None)
        self.visits: dict[str, int] = {}

    def add(self, event: dict[str, Any]) -> RunEvent:
        kind = event["type"]
        timestamp = event["timestamp"]
        state: str | None = None
        facts: dict[str, str] = {}
        if kind == "ExecutionStarted":
            self.outcome.started_at = timestamp
        elif kind.endswith("StateEntered"):
            state = event["stateEnteredEventDetails"]["name"]
            self.visits[state] = self.visits.get(state, 0) + 1
            self.outcome.states_entered += 1
        elif kind.endswith("StateExited"):
            details = event["stateExitedEventDetails"]
            state = details["name"]
            facts = _facts(details.get("output"))
            self.outcome.facts.update(facts)
        elif kind in TERMINAL_EVENTS:
            self._end(kind, event)
        visit = self.visits.get(state, 0) if state else 0
        return RunEvent(event["id"], kind, timestamp, state, visit, facts)

    def _end(self, kind: str, event: dict[str, Any]) -> None:
        outcome = self.outcome
        outcome.status = TERMINAL_EVENTS[kind]
        outcome.stopped_at = event["timestamp"]
        details = _details(event)
        if kind == "ExecutionSucceeded":
            text = details.get("output")
            try:
                outcome.output = json.loads(text) if text else None
            except ValueError:
                outcome.output = text
        else:
            outcome.error, outcome.cause = details.get("error"), details.get("cause")


def _facts(output: str | None) -> dict[str, str]:
    try:
        data = json.loads(output) if output else None
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    found = {}
    for fact, path in FACT_PATHS.items():
        value: Any = data
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            found[fact] = value
    return found


@operation
def execution_input(execution_arn: str, sfn: Any) -> Any:
    """The input an execution was started with (from its ExecutionStarted event), parsed; None if unreadable."""
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1)["events"]
    # The oldest event (moto ignores maxResults: it answers every event, oldest first).
    first = min(events, key=lambda e: e["id"]) if events else None
    if first is None or first["type"] != "ExecutionStarted":
        return None
    try:
        return json.loads(first.get("executionStartedEventDetails", {}).get("input") or "null")
    except ValueError:
        return None


@operation
def run_error(execution_arn: str, sfn: Any) -> str | None:
    """The Error a run ended with (None while it runs, or if it succeeded)."""
    events = sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=1)["events"]
    # The newest event (moto ignores reverseOrder and maxResults: it answers every event, oldest first).
    last = max(events, key=lambda e: e["id"]) if events else None
    if last is None or last["type"] not in TERMINAL_EVENTS or last["type"] == "ExecutionSucceeded":
        return None
    return _details(last).get("error")
