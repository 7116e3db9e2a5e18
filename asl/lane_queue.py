"""The run queue's rule: which lane a run may take, if any (docs/design.md, "The run queue").

A stack has ``lanes`` lanes (0 .. lanes-1); the lane table holds one item per lane held (lane, owner: the
execution ARN, since). The RUNNING executions of the stack's state machine, ordered by (start time, execution
ARN), are the line. A lane is free when no item holds it, or its owner has ended (an owner the caller confirmed
is not RUNNING: ListExecutions is eventually consistent, so an owner missing from its list is described first).
A RUNNING execution that holds no lane and comes before me in the line is "ahead" of me. I may take a lane when
there are more free lanes than runs ahead of me; I take ``free[len(ahead)]`` (free lanes in index order), so
callers that see the same table and the same line never choose the same lane, and no run takes a lane while an
older lane-less run could.

Plain standard-library Python: the WaitFor Lambda ships it (``lane_queue.py``, asl/naming.py LAMBDA_FILES) and
the tools import it (``batch_lustre.program.asl.lane_queue``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# A lane whose owner has ended is taken over only this long after the owner stopped (an owner Step Functions does
# not know: this long after it took the lane). The run cleanup that EventBridge starts for a run that ended without
# its own Cleanup takes the run's lane for itself first (lambda/find_run_resources.py), puts the lane's compute
# environment back on its baseline, then gives the lane back: the grace leaves it the time to arrive. EventBridge
# documents no bound on its delivery (docs/aws-rules.md, "EventBridge delivers status changes, with no stated
# bound"): a later run cleanup finds the lane taken over and leaves that lane's compute environment alone.
TAKEOVER_GRACE_SECONDS = 900
RUNNING = "RUNNING"

# ``:ended`` when the lane taken is free (no item): no execution ARN is "-", so the condition's second half
# (``#owner = :ended``) can only hold for an ended owner being taken over.
NO_OWNER = "-"


@dataclass(frozen=True, order=True)
class Execution:
    """A run in the line: ordered by its start time, then its ARN (two runs may start in the same millisecond)."""

    start: datetime
    arn: str


@dataclass(frozen=True)
class Holder:
    """A lane table item: ``lane`` is held by the execution ``owner`` since ``since`` (ISO-8601)."""

    lane: int
    owner: str
    since: str


@dataclass(frozen=True)
class Choice:
    """What a run sees in line: the lane it may take (``None``: wait), the ``:ended`` value of its conditional
    write (``NO_OWNER``, or the ended owner it takes over; itself when it already holds the lane), the free lanes,
    the runs ahead of it, and each held lane's owner."""

    lane: int | None
    ended: str
    free: tuple[int, ...]
    ahead: tuple[str, ...]
    owners: Mapping[int, str]


def owner_has_ended(described: Mapping[str, Any] | None, since: str, now: float) -> bool:
    """Whether a lane's owner may be taken over, from DescribeExecution's answer for it (``status``, ``stopDate``):
    not RUNNING, and stopped more than ``TAKEOVER_GRACE_SECONDS`` before ``now`` (epoch seconds). ``described``
    None: Step Functions does not know the execution (it forgets one 90 days after it ended; a brand-new one may not
    show yet, DescribeExecution being eventually consistent): then counted from ``since``, when it took the lane; an
    unreadable ``since`` never ends."""
    if described is not None:
        if described.get("status") == RUNNING:
            return False
        stopped = described.get("stopDate")
        if isinstance(stopped, datetime):
            return now - stopped.timestamp() > TAKEOVER_GRACE_SECONDS
    try:
        taken = datetime.fromisoformat(since)
    except ValueError:
        return False
    if taken.tzinfo is None:
        return False
    return now - taken.timestamp() > TAKEOVER_GRACE_SECONDS


def owners_to_describe(running: Iterable[Execution], holders: Iterable[Holder]) -> list[str]:
    """The owners whose status the list of RUNNING executions does not tell (not in it): ended, or started so
    recently that the list does not show them yet. Sorted, each once."""
    listed = {execution.arn for execution in running}
    return sorted({holder.owner for holder in holders} - listed)


def choose_lane(
    me: Execution,
    lanes: int,
    running: Iterable[Execution],
    holders: Iterable[Holder],
    ended: Collection[str],
) -> Choice:
    """The lane ``me`` may take now. ``lanes``: the stack's number of lanes; ``running``: the RUNNING executions
    listed (``me`` among them or not: when it is, its listed start time counts); ``holders``: the lane table's items (items of lanes >= ``lanes``, left
    by a stack that had more, hold no lane of this stack, but their owners are not waiting); ``ended``: the owners confirmed not RUNNING."""
    if lanes < 1:
        raise ValueError(f"lanes={lanes}: a stack has at least one lane")
    running = list(running)
    # Where the list shows me, its start time is the one every other caller compares me by: mine from elsewhere
    # (the execution's context object) may be written with another precision.
    me = next((execution for execution in running if execution.arn == me.arn), me)
    holders = list(holders)
    held = {holder.lane: holder.owner for holder in holders if 0 <= holder.lane < lanes}
    mine = sorted(lane for lane, owner in held.items() if owner == me.arn)
    # An owner of a lane the stack no longer has is not waiting either: it is not ahead of anyone.
    live_owners = {holder.owner for holder in holders if holder.owner not in ended}
    free = tuple(lane for lane in range(lanes) if lane not in held or held[lane] in ended)
    ahead = tuple(
        execution.arn
        for execution in sorted(set(running))
        if execution < me and execution.arn != me.arn and execution.arn not in live_owners
    )
    if mine:  # a run that took its lane and lost the answer: take it again (``:ended`` = itself)
        return Choice(mine[0], me.arn, free, ahead, held)
    if len(free) > len(ahead):
        lane = free[len(ahead)]
        return Choice(lane, held.get(lane, NO_OWNER), free, ahead, held)
    return Choice(None, NO_OWNER, free, ahead, held)
