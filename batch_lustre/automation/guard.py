"""No deploy, refresh or destroy under a run: the check ``deploy``, ``refresh`` and ``destroy`` make first.

A run points the stack's compute environment at its own launch template and owns a file system the stack's
Pulumi resources do not know of. ``pulumi up`` after a refresh would put the compute environment back on its
baseline under the run's jobs, and ``pulumi destroy`` would remove the network the file system lives in and the
rule that cleans up after the run. So each of them first lists the RUNNING executions of the stack's state
machines (the workflow and the run cleanup, from the stack outputs) and refuses while there is one, naming it;
unless asked to wait for them to end (``wait_minutes``, bounded by ``MAX_WAIT_MINUTES``, checking every
``poll_seconds``) or forced (``force``). Time comes from a ``TimeSource``: the real clock, or a test's.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from batch_lustre.automation import clients
from batch_lustre.automation.boundary import operation
from batch_lustre.automation.errors import ParameterError, StackBusy
from batch_lustre.program.asl.naming import OUTPUT_RUN_CLEANUP_STATE_MACHINE_ARN, OUTPUT_STATE_MACHINE_ARN

# The longest wait a deploy, refresh or destroy accepts: two days, more than the longest run the parameters
# allow (file system creation, a 24-hour job, the export) takes.
MAX_WAIT_MINUTES = 2880
DEFAULT_POLL_SECONDS = 30.0


class TimeSource(Protocol):
    """What a bounded wait needs of time: now, and a pause between two looks at the account."""

    def now(self) -> dt.datetime: ...

    def pause(self, seconds: float) -> None: ...


class RealTime:
    """Wall-clock time; a pause sleeps."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def pause(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True)
class RunningExecution:
    """A RUNNING execution of one of the stack's state machines."""

    name: str
    execution_arn: str
    state_machine_arn: str
    started: dt.datetime | None

    def describe(self) -> str:
        """``run <name> (<arn>) RUNNING since <ISO time>``."""
        since = self.started.astimezone(dt.UTC).isoformat(timespec="seconds") if self.started else "an unknown time"
        return f"run {self.name} ({self.execution_arn}) RUNNING since {since}"


@operation
def check_wait_minutes(value: Any, key: str = "wait_minutes") -> int | None:
    """``value`` as whole minutes to wait (None: do not wait); ``ParameterError`` naming ``key`` otherwise."""
    if value is None:
        return None
    accepted = f"accepted a whole number of minutes from 1 to {MAX_WAIT_MINUTES}"
    if isinstance(value, bool):
        raise ParameterError(f"{key}={value!r} is not accepted: {accepted}")
    try:
        minutes = int(str(value).strip())
    except ValueError:
        raise ParameterError(f"{key}={value!r} is not accepted: {accepted}") from None
    if not 1 <= minutes <= MAX_WAIT_MINUTES:
        raise ParameterError(f"{key}={minutes} is not accepted: {accepted}")
    return minutes


@operation
def stack_state_machines(stack_outputs: Mapping[str, Any]) -> list[str]:
    """The state machines of a deployed stack whose executions use its resources (empty: not deployed yet)."""
    found = (stack_outputs.get(name) for name in (OUTPUT_STATE_MACHINE_ARN, OUTPUT_RUN_CLEANUP_STATE_MACHINE_ARN))
    return [arn for arn in found if isinstance(arn, str) and arn]


@operation
def running_runs(state_machine_arns: Iterable[str], *, sfn: Any | None = None) -> list[RunningExecution]:
    """The RUNNING executions of ``state_machine_arns`` (ListExecutions, every page), oldest first."""
    found: list[RunningExecution] = []
    for machine in state_machine_arns:
        client = sfn or clients.aws_client("stepfunctions", clients.region_of(machine))
        kwargs: dict[str, Any] = {"stateMachineArn": machine, "statusFilter": "RUNNING", "maxResults": 100}
        while True:
            page = client.list_executions(**kwargs)
            for item in page.get("executions", []):
                found.append(RunningExecution(item["name"], item["executionArn"], machine, item.get("startDate")))
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    return sorted(found, key=lambda e: e.started or dt.datetime.min.replace(tzinfo=dt.UTC))


@operation
def check_no_run(
    stack: str,
    action: str,
    stack_outputs: Mapping[str, Any],
    *,
    wait_minutes: int | None = None,
    force: bool = False,
    sfn: Any | None = None,
    time_source: TimeSource | None = None,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    on_wait: Callable[[str], Any] | None = None,
) -> list[RunningExecution]:
    """Refuse ``action`` (``deploy``, ``refresh``, ``destroy``) of ``stack`` while a run of it is RUNNING.

    ``StackBusy`` (one line naming the oldest RUNNING execution: name, ARN, start time) unless ``force`` (then the
    RUNNING executions are returned, for the caller to say what it went ahead under) or ``wait_minutes`` is given:
    then the executions are listed again every ``poll_seconds`` (``on_wait`` hears one line each time) until none
    runs, and ``StackBusy`` if one still runs when ``wait_minutes`` have passed. Returns [] when none runs.
    """
    minutes = check_wait_minutes(wait_minutes)
    machines = stack_state_machines(stack_outputs)
    if not machines:
        return []
    running = running_runs(machines, sfn=sfn)
    if not running or force:
        return running
    if minutes is None:
        raise StackBusy(
            f"{action} refused: {running[0].describe()} in stack {stack}{_others(running)}; a {action} now could "
            f"cost the run its results: wait for it to end (--wait MINUTES) or force it (--force)"
        )
    source = time_source or RealTime()
    deadline = source.now() + dt.timedelta(minutes=minutes)
    while running:
        left = (deadline - source.now()).total_seconds()
        if left <= 0:
            raise StackBusy(
                f"{action} refused: {running[0].describe()} in stack {stack}{_others(running)} after waiting "
                f"{minutes} minute(s): wait longer (--wait MINUTES, at most {MAX_WAIT_MINUTES}) or force it (--force)"
            )
        if on_wait is not None:
            on_wait(f"{action} waits: {running[0].describe()} ({left / 60:.0f} minute(s) left to wait)")
        source.pause(min(max(poll_seconds, 0.0), left))
        running = running_runs(machines, sfn=sfn)
    return []


def _others(running: list[RunningExecution]) -> str:
    return f" (and {len(running) - 1} more)" if len(running) > 1 else ""
