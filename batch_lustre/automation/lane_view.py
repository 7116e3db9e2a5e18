"""The stack's lanes as an operator sees them: which run holds each lane since when, which runs wait in line and
how many are ahead of each (``lanes``); and the lanes whose owner has ended, freed by ``free_lane`` (``batch-lustre
sweep``).

A lane is one compute environment with its job queue (stack output ``lanes``); the lane table (output
``laneTable``) holds one item per lane held: ``lane`` (N), ``owner`` (the execution ARN), ``since`` (ISO-8601).
The line is the stack's RUNNING executions, ordered and judged by the workflow's own rule
(``batch_lustre.program.asl.lane_queue``, docs/design.md "The run queue"), imported here, not re-implemented: a run
is waiting when it is RUNNING and holds no lane, and the runs ahead of it are those the rule counts.

An owner missing from the list of RUNNING executions is described (``DescribeExecution``), as the workflow does:
ListExecutions is eventually consistent. A lane whose owner has ended is free for the next run in line, which takes
it over once the owner has been stopped ``TAKEOVER_GRACE_SECONDS`` (the time its run cleanup has to take the lane
for itself first: ``ending`` until then); until one does, the item stays, and ``free_lane`` deletes it on the
condition that this owner still holds it, so a lane a new run took meanwhile is left alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from batch_lustre.automation import clients as aws
from batch_lustre.automation.boundary import operation
from batch_lustre.automation.errors import MissingOutput
from batch_lustre.automation.guard import RealTime, TimeSource
from batch_lustre.automation.history import execution_name
from batch_lustre.automation.stacks import required_output
from batch_lustre.program.asl.lane_queue import (
    RUNNING,
    Execution,
    Holder,
    choose_lane,
    owner_has_ended,
    owners_to_describe,
)
from batch_lustre.program.asl.naming import OUTPUT_LANE_TABLE, OUTPUT_LANES, OUTPUT_STATE_MACHINE_ARN

OWNER_NOT_FOUND = "NOT_FOUND"  # the owner's execution is unknown to Step Functions (its history expired)
FREE = "free"
HELD = "held"
OWNER_ENDED = "owner ended"
ENDING = "owner ending"  # ended less than TAKEOVER_GRACE_SECONDS ago: left to its run cleanup


@dataclass(frozen=True)
class Lane:
    """One lane: its compute environment and job queue (empty for a lane the stack no longer has, whose item is
    left), and the item that holds it, if any: the owner execution, since when, and the owner's status."""

    index: int
    compute_environment: str
    job_queue: str
    owner: str | None = None  # execution ARN (None: no item, the lane is free)
    since: dt.datetime | None = None
    owner_status: str | None = None  # RUNNING, SUCCEEDED, FAILED, ABORTED, TIMED_OUT or OWNER_NOT_FOUND
    owner_ended: bool = False  # ended TAKEOVER_GRACE_SECONDS ago or more (lane_queue.owner_has_ended)

    @property
    def state(self) -> str:
        """``free`` (no item), ``held`` (by a RUNNING run), ``owner ending`` (its owner ended less than
        ``TAKEOVER_GRACE_SECONDS`` ago: its run cleanup takes it first) or ``owner ended`` (the next run in line
        takes it over; ``batch-lustre sweep`` frees it)."""
        if self.owner is None:
            return FREE
        if self.owner_status == RUNNING:
            return HELD
        return OWNER_ENDED if self.owner_ended else ENDING

    @property
    def run(self) -> str | None:
        """The owner's execution name."""
        return None if self.owner is None else execution_name(self.owner)


@dataclass(frozen=True)
class WaitingRun:
    """A RUNNING run that holds no lane: its place in line (``ahead``: runs before it that hold none either) and
    the lane the queue rule would give it now (None: it waits)."""

    name: str
    execution_arn: str
    started: dt.datetime
    ahead: int
    next_lane: int | None


@dataclass(frozen=True)
class LaneView:
    """What ``lanes`` found: the lane table's name, every lane in index order, and the runs waiting in line, first
    in line first."""

    table: str
    lanes: tuple[Lane, ...]
    waiting: tuple[WaitingRun, ...]

    def waiting_run(self, execution_arn: str) -> WaitingRun | None:
        """The run ``execution_arn`` if it waits in line."""
        return next((run for run in self.waiting if run.execution_arn == execution_arn), None)

    @property
    def owner_ended(self) -> tuple[Lane, ...]:
        """Lanes still held by an owner that has ended (what ``batch-lustre sweep`` frees)."""
        return tuple(lane for lane in self.lanes if lane.state == OWNER_ENDED)


@dataclass
class LaneClients:
    """The AWS clients that read and free the lanes (the user's credentials; moto intercepts them offline)."""

    sfn: Any
    dynamodb: Any

    @classmethod
    def for_region(cls, region: str | None) -> LaneClients:
        return cls(aws.aws_client("stepfunctions", region), aws.aws_client("dynamodb", region))


def _lane_outputs(stack: str, stack_outputs: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = stack_outputs.get(OUTPUT_LANES)
    if not isinstance(found, list) or not found or not all(isinstance(lane, Mapping) for lane in found):
        raise MissingOutput(
            f"stack {stack} has no output {OUTPUT_LANES}: accepted a list of lanes (computeEnvironment, jobQueue) "
            "as a stack deployed with lanes outputs it; deploy it again (batch-lustre deploy)"
        )
    return found


def _running(state_machine_arn: str, sfn: Any) -> Iterator[Execution]:
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "statusFilter": RUNNING, "maxResults": 100}
    while True:
        page = sfn.list_executions(**kwargs)
        for execution in page.get("executions", []):
            yield Execution(execution["startDate"], execution["executionArn"])
        if not page.get("nextToken"):
            return
        kwargs["nextToken"] = page["nextToken"]


def _holders(table: str, dynamodb: Any) -> list[Holder]:
    """The lane table's items, read strongly consistent (a lane taken a moment ago is seen)."""
    holders = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page.get("Items", []):
            holders.append(Holder(int(item["lane"]["N"]), item["owner"]["S"], item.get("since", {}).get("S", "")))
    return holders


@operation
def execution_status(execution_arn: str, sfn: Any) -> str:
    """An execution's status (``DescribeExecution``); ``OWNER_NOT_FOUND`` when Step Functions does not know it."""
    return _status(_describe(execution_arn, sfn))


def _status(described: Mapping[str, Any] | None) -> str:
    return str(described["status"]) if described is not None else OWNER_NOT_FOUND


def _describe(execution_arn: str, sfn: Any) -> dict[str, Any] | None:
    """DescribeExecution's answer (None: Step Functions does not know the execution)."""
    try:
        return dict(sfn.describe_execution(executionArn=execution_arn))
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
            return None
        raise


def _since(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


@operation
def lanes(
    stack: str,
    stack_outputs: Mapping[str, Any],
    clients: LaneClients | None = None,
    time_source: TimeSource | None = None,
) -> LaneView:
    """The lanes of ``stack`` (from its outputs ``lanes``, ``laneTable`` and ``stateMachineArn``): each lane's
    owner and since when, and the runs waiting in line with how many are ahead of each (the workflow's rule,
    ``asl.lane_queue``; ``time_source``: whose now the take-over grace is counted to, the real clock unless
    given). ``MissingOutput`` for a stack deployed without lanes."""
    machine = required_output(stack_outputs, OUTPUT_STATE_MACHINE_ARN, stack)
    table = required_output(stack_outputs, OUTPUT_LANE_TABLE, stack)
    deployed = _lane_outputs(stack, stack_outputs)
    clients = clients or LaneClients.for_region(aws.region_of(machine))
    holders = _holders(table, clients.dynamodb)
    running = sorted(set(_running(machine, clients.sfn)))
    described = {owner: _describe(owner, clients.sfn) for owner in owners_to_describe(running, holders)}
    status = {execution.arn: RUNNING for execution in running}
    status |= {owner: _status(found) for owner, found in described.items()}
    now = (time_source or RealTime()).now().timestamp()
    ended = {
        holder.owner
        for holder in holders
        if holder.owner in described and owner_has_ended(described[holder.owner], holder.since, now)
    }
    by_lane = {holder.lane: holder for holder in holders}
    view = []
    for index in sorted(set(range(len(deployed))) | set(by_lane)):
        outputs = deployed[index] if index < len(deployed) else {}
        holder = by_lane.get(index)
        view.append(
            Lane(
                index,
                str(outputs.get("computeEnvironment", "")),
                str(outputs.get("jobQueue", "")),
                holder.owner if holder else None,
                _since(holder.since) if holder else None,
                status[holder.owner] if holder else None,
                holder is not None and holder.owner in ended,
            )
        )
    live_owners = {holder.owner for holder in holders if holder.owner not in ended}
    waiting = []
    for execution in running:
        if execution.arn in live_owners:
            continue
        choice = choose_lane(execution, len(deployed), running, holders, ended)
        waiting.append(
            WaitingRun(execution_name(execution.arn), execution.arn, execution.start, len(choice.ahead), choice.lane)
        )
    return LaneView(table, tuple(view), tuple(waiting))


@operation
def free_lane(table: str, lane: Lane, dynamodb: Any) -> bool:
    """Delete ``lane``'s item on the condition that its owner is still ``lane.owner`` (``DeleteItem`` with
    ``ConditionExpression``): True when freed; False when another run holds it now (or none: nothing to free)."""
    if lane.owner is None:
        return False
    try:
        dynamodb.delete_item(
            TableName=table,
            Key={"lane": {"N": str(lane.index)}},
            ConditionExpression="#owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":owner": {"S": lane.owner}},
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True
