"""The run's lane (docs/design.md, "The run queue"): wait in line for one (``FindLane`` ... ``TakeLane``, after
``ResolveJobImage``, before anything billable exists) and give it back (``ReleaseLane``, in Cleanup).

A lane is one compute environment with its baseline launch template and its job queue (``WorkflowRefs.lanes``);
the lane table holds an item per lane held: ``{lane: N, owner: <execution ARN>, since: <time taken>}``. WaitFor's
``lane`` check (lambda/wait_for.py, with asl/lane_queue.py's rule) says when this run may take which lane;
``TakeLane`` takes it with a conditional write (free, or its owner ended), and a write another run won first sends
the run back to look again. The check's last answer (``paths.LANE``) holds the lane's refs, which every later state
uses: no state copies them elsewhere.
"""

from __future__ import annotations

from typing import Any

from batch_lustre.program.asl.paths import LANE, PARAMS
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.asl.sections import record_failure
from batch_lustre.program.asl.states import (
    Graph,
    State,
    choice,
    failure_record,
    last,
    pass_parameters,
    wait_for,
    wait_for_next,
    waiting_rules,
)

DYNAMODB_PUT_ITEM = "arn:aws:states:::dynamodb:putItem"
DYNAMODB_DELETE_ITEM = "arn:aws:states:::dynamodb:deleteItem"
# A write whose condition does not hold (docs/aws-rules.md, "DynamoDB: conditional writes through Step Functions").
CONDITION_FAILED = "DynamoDB.ConditionalCheckFailedException"
# DynamoDB's throttling and server errors, as the optimized integration names them (DynamoDB.<modelled code>).
# Not DynamoDB.AmazonDynamoDBException: an unmodelled code is also an access or validation error, which asking
# again cannot heal.
DYNAMODB_TRANSIENT = [
    f"DynamoDB.{code}"
    for code in ("ProvisionedThroughputExceededException", "RequestLimitExceeded", "ThrottlingException")
] + ["DynamoDB.InternalServerError"]
LANE_FIELDS = (
    "index",
    "computeEnvironmentArn",
    "jobQueueArn",
    "baselineLaunchTemplateId",
    "baselineLaunchTemplateVersion",
)
# The lane item's key, as the conditional writes name it.
LANE_KEY = {"lane": {"N.$": f"States.Format('{{}}', {LANE}.index)"}}


def lane_list(refs: WorkflowRefs) -> list[dict[str, Any]]:
    """The stack's lanes as the WaitFor Lambda returns the chosen one (``paths.LANE``: ``LANE_FIELDS``)."""
    return [
        {
            "index": index,
            "computeEnvironmentArn": lane.compute_environment_arn,
            "jobQueueArn": lane.job_queue_arn,
            "baselineLaunchTemplateId": lane.baseline_launch_template_id,
            "baselineLaunchTemplateVersion": lane.baseline_launch_template_version,
        }
        for index, lane in enumerate(refs.lanes)
    ]


def _retry_dynamodb(attempts: int, interval: int, backoff: float) -> list[dict[str, Any]]:
    return [
        {
            "ErrorEquals": DYNAMODB_TRANSIENT,
            "IntervalSeconds": interval,
            "MaxAttempts": attempts,
            "BackoffRate": backoff,
        }
    ]


def add_find_lane(g: Graph, refs: WorkflowRefs, next_state: str) -> str:
    """``FindLane`` -> ``IsLaneFree`` -> ``TakeLane`` -> ``next_state``; waiting in line
    (``WaitForLane``), bounded by laneWaitTimeoutMinutes (``NoLaneAvailable``). Returns the first state."""
    g.add(
        "FindLane",
        wait_for(
            refs.wait_for_function_arn,
            "lane",
            "lane",
            "lane",
            {
                "lanes": lane_list(refs),
                "laneTable": refs.lane_table_name,
                "stateMachineArn.$": "$$.StateMachine.Id",
                "executionArn.$": "$$.Execution.Id",
                "startTime.$": "$$.Execution.StartTime",
            },
            next_state="IsLaneFree",
            catch_to=record_failure(g, "FindLaneFailed", "NothingToExport"),
        ),
    )
    g.add("WaitForLane", wait_for_next("lane", "FindLane"))
    # The chosen lane stays in the check's answer (LANE) from here on: a write whose answer was lost may still have
    # taken it, and Cleanup releases the lane it finds there (only if this run owns it).
    g.add("IsLaneFree", choice(waiting_rules("lane", "WaitForLane", "NoLaneAvailable"), "TakeLane"))
    g.add("TakeLane", _take_lane(refs, next_state))
    record_failure(g, "TakeLaneFailed", "NothingToExport")
    g.add(
        "NoLaneAvailable",
        pass_parameters(
            failure_record(
                "NoLaneAvailable",
                "Every lane stayed held for laneWaitTimeoutMinutes={} ({} runs ahead), so the run ended before "
                "creating anything: {}",
                f"{PARAMS}.laneWaitTimeoutMinutes",
                last("lane", "Ahead"),
                last("lane", "Owners"),
            ),
            "$.failure",
            "NothingToExport",
        ),
    )
    return "FindLane"


def _take_lane(refs: WorkflowRefs, next_state: str) -> State:
    """The conditional write: the lane is free (no item) or held by the ended owner WaitFor named (``Ended``; this
    run itself when an earlier write of it was answered but the answer lost). Another run's write first: look
    again (``FindLane``); any other error: the run ends, having created nothing."""
    return {
        "Type": "Task",
        "Resource": DYNAMODB_PUT_ITEM,
        "Parameters": {
            "TableName": refs.lane_table_name,
            "Item": {**LANE_KEY, "owner": {"S.$": "$$.Execution.Id"}, "since": {"S.$": "$$.State.EnteredTime"}},
            "ConditionExpression": "attribute_not_exists(#lane) OR #owner = :ended",
            "ExpressionAttributeNames": {"#lane": "lane", "#owner": "owner"},
            "ExpressionAttributeValues": {":ended": {"S.$": last("lane", "Ended")}},
        },
        "ResultPath": None,
        "Retry": _retry_dynamodb(4, 2, 2.0),
        "Catch": [
            {"ErrorEquals": [CONDITION_FAILED], "ResultPath": "$.laneRace", "Next": "FindLane"},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "TakeLaneFailed"},
        ],
        "Next": next_state,
    }


def release_lane(table_name: str, lane_index: str, *, next_state: str) -> State:
    """deleteItem of the lane ``lane_index`` (a path to its index) only while this execution holds it (the run's
    own ``ReleaseLane``, with ``paths.LANE``; the run cleanup's, which took the ended run's lane for itself). A
    failed condition (the lane is not, or no longer, its) is no error: the cleanup goes on. Any other error is
    recorded at ``$.cleanupErrors.releaseLane`` and the cleanup goes on too; transient errors are retried first, as
    the cleanup's other steps do."""
    return {
        "Type": "Task",
        "Resource": DYNAMODB_DELETE_ITEM,
        "Parameters": {
            "TableName": table_name,
            "Key": {"lane": {"N.$": f"States.Format('{{}}', {lane_index})"}},
            "ConditionExpression": "#owner = :owner",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": {":owner": {"S.$": "$$.Execution.Id"}},
        },
        "ResultPath": None,
        "Retry": _retry_dynamodb(8, 15, 1.5),
        "Catch": [
            {"ErrorEquals": [CONDITION_FAILED], "ResultPath": "$.laneNotOwned", "Next": next_state},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.cleanupErrors.releaseLane", "Next": next_state},
        ],
        "Next": next_state,
    }
