"""Runs take, wait for and give back lanes (docs/design.md, "The run queue"): the real workflow on the emulated
stack's one lane (the default, maxConcurrentRuns 1). The lane a run holds is read from the emulated calls and the
lane table, not from the runs' own records."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from conftest import wait_until_held
from test_find_run_resources import RUN
from test_run_cleanup import clean_up, deploy

from batch_lustre.emulation import Emulation, finish_workflow, setup_stack, start_workflow
from batch_lustre.emulation.catalogue_lane_runs import lane_wait
from batch_lustre.emulation.runner import RunResult, StartedRun, leftovers, stop_workflow
from batch_lustre.emulation.stack import EmulatedStack
from batch_lustre.program import asl
from batch_lustre.program.asl.lane import CONDITION_FAILED
from batch_lustre.program.asl.lane_queue import TAKEOVER_GRACE_SECONDS
from batch_lustre.program.asl.paths import LANE
from batch_lustre.program.asl.states import last

REGION = "us-east-1"
# Short waits, so the emulated runs take few checks.
QUICK = {"waitForLustreCreationSeconds": 30, "waitForJobCompletionSeconds": 30}
# Billable resources a run creates: one that waited in vain must have called none of them.
CREATES = ("fsx:createFileSystem", "ec2:createLaunchTemplate", "batch:registerJobDefinition", "batch:submitJob")


def client(service: str):
    return boto3.client(service, region_name=REGION)


@pytest.fixture
def emu() -> Iterator[Emulation]:
    with Emulation() as emulation:
        yield emulation


def start(stack: EmulatedStack, name: str) -> StartedRun:
    refs = stack.refs
    return start_workflow(
        asl.build_definition(refs), role_arn=stack.role_arn, name=refs.state_machine_name, execution_name=name
    )


def lane_items(stack: EmulatedStack) -> list[dict]:
    return client("dynamodb").scan(TableName=stack.refs.lane_table_name, ConsistentRead=True)["Items"]


def entered_at(started: StartedRun, result: RunResult, state: str) -> list[float]:
    """Emulated seconds (the emulation's clock) at which ``state`` was entered."""
    return [started.started_at + visit.entered for visit in result.visits(state)]


def exited_at(started: StartedRun, result: RunResult, state: str) -> list[float]:
    return [started.started_at + visit.exited for visit in result.visits(state) if visit.exited is not None]


def task_parameters(result: RunResult, state: str) -> list[dict]:
    """The resolved Parameters of each call a Task state made (TaskScheduled events after its entry)."""
    found, inside = [], False
    for event in result.events:
        if event["type"].endswith("StateEntered"):
            inside = event["stateEnteredEventDetails"]["name"] == state
        elif inside and event["type"] == "TaskScheduled":
            found.append(json.loads(event["taskScheduledEventDetails"]["parameters"]))
    return found


def test_a_second_run_on_the_one_lane_waits_in_line_then_succeeds(emu):
    stack = setup_stack(emu, "taskexport", runtime_params=QUICK)
    first_started = start(stack, "first")
    second_started = start(stack, "second")
    first = finish_workflow(first_started, stack=stack, timeout_seconds=120)
    second = finish_workflow(second_started, stack=stack, timeout_seconds=120)
    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED"), (first.cause, second.cause)
    assert "WaitForLane" in second.states() and "WaitForLane" not in first.states()
    # The second took the lane only after the first gave it back: never two runs on one lane.
    assert min(entered_at(second_started, second, "TakeLane")) >= max(exited_at(first_started, first, "ReleaseLane"))
    assert first.calls["dynamodb:putItem"] == second.calls["dynamodb:putItem"] == 1
    assert leftovers(emu, stack, "first").none and leftovers(emu, stack, "second").none
    assert lane_items(stack) == []


def test_a_run_that_waited_its_whole_bound_fails_with_no_lane_available_having_created_nothing(emu):
    stack = setup_stack(emu, "taskexport", runtime_params={**QUICK, "laneWaitTimeoutMinutes": 1})
    holder_started = start(stack, "holder")
    waiting = finish_workflow(start(stack, "waiting"), stack=stack, timeout_seconds=120)
    holder = finish_workflow(holder_started, stack=stack, timeout_seconds=120)
    assert (waiting.status, waiting.error) == ("FAILED", "NoLaneAvailable")
    assert "laneWaitTimeoutMinutes=1" in waiting.cause and "lane 0: holder since " in waiting.cause
    assert "\n" not in waiting.cause
    assert not set(CREATES) & set(waiting.calls), waiting.calls
    assert "dynamodb:putItem" not in waiting.calls
    assert leftovers(emu, stack, "waiting").none
    assert holder.status == "SUCCEEDED"


def lost(delivery: object) -> None:
    """An EventBridge start hook: the delivery is lost (no run cleanup starts)."""
    raise RuntimeError("the status change event was lost")


def test_a_lane_whose_owner_ended_without_giving_it_back_is_taken_over(emu):
    stack = setup_stack(emu, "taskexport", runtime_params=QUICK)
    emu.events.start_hooks.append(lost)
    emu.hold_waits()
    try:
        gone = start(stack, "gone")
        wait_until_held(gone.execution_arn)
        ended = stop_workflow(gone, "Stopped", "by the test", stack=stack)  # and no run cleanup comes
    finally:
        emu.release_waits()
    assert ended.status == "ABORTED"
    assert [item["owner"]["S"] for item in lane_items(stack)] == [gone.execution_arn]
    started = start(stack, "next")
    taker = finish_workflow(started, stack=stack, timeout_seconds=120)
    assert taker.status == "SUCCEEDED", taker.cause
    [take] = task_parameters(taker, "TakeLane")
    assert take["ExpressionAttributeValues"][":ended"] == {"S": gone.execution_arn}
    # Not at once: its run cleanup (none in this stack) has TAKEOVER_GRACE_SECONDS after the stop to take it first.
    waited = lane_wait(taker)
    assert waited is not None and TAKEOVER_GRACE_SECONDS <= waited < TAKEOVER_GRACE_SECONDS + 120
    assert lane_items(stack) == []


def test_a_run_that_lost_the_race_for_a_lane_looks_again(emu):
    # A holder the lane table shows but WaitFor did not see: the write's condition refuses the lane, and the run
    # goes back to FindLane instead of failing.
    stack = setup_stack(emu, "taskexport", runtime_params=QUICK)
    phantom = f"arn:aws:states:{REGION}:{emu.account_id}:execution:{stack.refs.state_machine_name}:phantom"
    original = emu.lambdas.load("wait_for")._lane

    def stale(event):
        ready, description = original(event)
        if ready and not lane_items(stack):
            emu.iam.enforce = False  # the test writes, not the function's role
            try:
                # An owner Step Functions does not know, long since: ended (lambda/wait_for.py).
                item = {"lane": {"N": "0"}, "owner": {"S": phantom}, "since": {"S": "2026-01-01T00:00:00+00:00"}}
                client("dynamodb").put_item(TableName=stack.refs.lane_table_name, Item=item)
            finally:
                emu.iam.enforce = True
        return ready, description

    module = emu.lambdas.load("wait_for")
    module.CHECKS["lane"] = stale
    try:
        result = finish_workflow(start(stack, "racer"), stack=stack, timeout_seconds=120)
    finally:
        module.CHECKS["lane"] = original
    assert result.status == "SUCCEEDED", result.cause
    takes = result.visits("TakeLane")
    assert len(takes) == 2 and result.visits("FindLane")[1].entered >= takes[0].exited
    failed = [e["taskFailedEventDetails"]["error"] for e in result.events if e["type"] == "TaskFailed"]
    assert failed == [CONDITION_FAILED]


def aborted_holding_the_lane(emu: Emulation, stack: EmulatedStack) -> StartedRun:
    """Run ``RUN`` stopped while it holds the lane (before its Cleanup could give it back)."""
    emu.hold_waits()
    try:
        started = start(stack, RUN)
        wait_until_held(started.execution_arn)
        assert stop_workflow(started, "Stopped", "by the test", stack=stack).status == "ABORTED"
    finally:
        emu.release_waits()
    assert [item["owner"]["S"] for item in lane_items(stack)] == [started.execution_arn]
    return started


def test_the_run_cleanup_releases_the_lane_an_aborted_run_held(emu):
    stack = setup_stack(emu, "taskexport", runtime_params=QUICK)
    aborted_holding_the_lane(emu, stack)
    cleanup = clean_up(emu, stack, deploy(emu, stack))
    assert cleanup.status == "SUCCEEDED", cleanup.cause
    assert "ReleaseRunLane" in cleanup.states()
    assert lane_items(stack) == []
    assert cleanup.calls["dynamodb:deleteItem"] == 1


def test_the_run_cleanup_leaves_a_lane_another_run_has_taken_over_since(emu):
    stack = setup_stack(emu, "taskexport", runtime_params=QUICK)
    aborted_holding_the_lane(emu, stack)
    other = f"arn:aws:states:{REGION}:{emu.account_id}:execution:{stack.refs.state_machine_name}:next"
    client("dynamodb").put_item(TableName=stack.refs.lane_table_name, Item={"lane": {"N": "0"}, "owner": {"S": other}})
    cleanup = clean_up(emu, stack, deploy(emu, stack))
    assert cleanup.status == "SUCCEEDED", cleanup.cause
    assert "ReleaseRunLane" not in cleanup.states()
    assert [item["owner"]["S"] for item in lane_items(stack)] == [other]


def test_the_lane_path_every_state_reads_is_the_lane_checks_last_answer():
    assert LANE == last("lane", "Lane")  # one path: no state copies the lane elsewhere
