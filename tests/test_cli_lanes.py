"""The lanes as operators see them (``automation.lanes``, ``batch-lustre lanes`` and ``status``), ``batch-lustre
sweep`` freeing the lanes of ended runs, and ``batch-lustre run`` showing its place in line; against the emulated
AWS, with lane items written into the deployed lane table as the workflow writes them (docs/design.md)."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from rich.console import Console
from typer.testing import CliRunner

from batch_lustre import automation
from batch_lustre.automation import RunHandle, RunOutcome, deploy_emulated, lane_view
from batch_lustre.cli.app import app
from batch_lustre.cli.progress import RunProgress
from batch_lustre.emulation import Emulation, Scenario
from batch_lustre.program.asl.lane_queue import TAKEOVER_GRACE_SECONDS
from batch_lustre.program.asl.naming import OUTPUT_LANES, OUTPUT_STATE_MACHINE_ARN

runner = CliRunner()
REGION = "us-east-1"
SINCE = "2026-12-05T18:00:00Z"
# A state machine whose executions wait (held by the emulation) stands for the workflow: five runs, a to e, started
# in that order within one second (the line orders them by start time, then ARN).
LINE = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}


def hold(table: str, lane: int, owner: str) -> None:
    """The item of ``lane`` held by ``owner``, as the workflow's putItem writes it."""
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=table, Item={"lane": {"N": str(lane)}, "owner": {"S": owner}, "since": {"S": SINCE}}
    )


def items(table: str) -> dict[int, str]:
    found = boto3.client("dynamodb", region_name=REGION).scan(TableName=table, ConsistentRead=True)["Items"]
    return {int(item["lane"]["N"]): item["owner"]["S"] for item in found}


@pytest.fixture
def line(tmp_path):
    """Three lanes: 0 held by RUNNING run a, 1 held by run gone (ended: unknown to Step Functions), 2 free; runs b
    to e RUNNING without a lane. Yields (outputs file, outputs, {name: execution ARN})."""
    with Emulation(Scenario()) as emu:
        stack, outputs = deploy_emulated(emu, "taskexport")
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(name="line", roleArn=stack.role_arn, definition=json.dumps(LINE))[
            "stateMachineArn"
        ]
        emu.hold_waits()
        arns = {name: sfn.start_execution(stateMachineArn=machine, name=name)["executionArn"] for name in "abcde"}
        arns["gone"] = arns["a"].rsplit(":", 1)[0] + ":gone"
        lane = outputs[OUTPUT_LANES][0]
        outputs = {**outputs, OUTPUT_STATE_MACHINE_ARN: machine, OUTPUT_LANES: [lane, lane, lane]}
        hold(outputs["laneTable"], 0, arns["a"])
        hold(outputs["laneTable"], 1, arns["gone"])
        path = tmp_path / "outputs.json"
        path.write_text(json.dumps(outputs))
        yield str(path), outputs, arns
        emu.release_waits()


def test_lanes_name_each_lanes_owner_and_the_runs_waiting_in_line_by_the_workflows_rule(line):
    _, outputs, arns = line
    view = automation.lanes("taskexport", outputs)
    assert [(lane.index, lane.state, lane.run) for lane in view.lanes] == [
        (0, "held", "a"),
        (1, "owner ended", "gone"),
        (2, "free", None),
    ]
    assert view.lanes[1].owner_status == "NOT_FOUND"
    assert view.lanes[0].since == dt.datetime(2026, 12, 5, 18, tzinfo=dt.UTC)
    # Two lanes are free for the line (2, and 1 whose owner ended): b and c may take them; d and e wait.
    assert [(run.name, run.ahead, run.next_lane) for run in view.waiting] == [
        ("b", 0, 1),
        ("c", 1, 2),
        ("d", 2, None),
        ("e", 3, None),
    ]
    assert view.waiting_run(arns["d"]).ahead == 2 and view.waiting_run(arns["a"]) is None


def test_lanes_json_and_status_show_the_same_lanes(line):
    path, _, _ = line
    shown = runner.invoke(app, ["lanes", "taskexport", "--outputs-file", path, "--json"])
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.stdout)
    assert [(lane["lane"], lane["state"], lane["run"]) for lane in document["lanes"]] == [
        (0, "held", "a"),
        (1, "owner ended", "gone"),
        (2, "free", None),
    ]
    assert [(run["run"], run["ahead"]) for run in document["waiting"]] == [("b", 0), ("c", 1), ("d", 2), ("e", 3)]
    status = runner.invoke(app, ["status", "taskexport", "--outputs-file", path])
    assert status.exit_code == 0, status.output
    assert "lanes of stack taskexport" in status.output and "owner NOT_FOUND" in status.output
    assert "runs waiting for a lane, first in line first (4)" in status.output
    as_json = json.loads(runner.invoke(app, ["status", "taskexport", "--outputs-file", path, "--json"]).stdout)
    assert {run["run"]: (run["lane"], run["ahead"]) for run in as_json} == {
        "a": (0, None),
        "b": (None, 0),
        "c": (None, 1),
        "d": (None, 2),
        "e": (None, 3),
    }


def test_sweep_frees_the_lane_of_an_ended_run_only_and_a_no_frees_nothing(line):
    path, outputs, arns = line
    table = outputs["laneTable"]
    refused = runner.invoke(app, ["sweep", "taskexport", "--outputs-file", path], input="n\n")
    assert refused.exit_code == 1
    assert (
        "lanes of stack taskexport held by ended runs" in refused.output and "Free these 1 lane(s)?" in refused.output
    )
    assert items(table) == {0: arns["a"], 1: arns["gone"]}
    swept = runner.invoke(app, ["sweep", "taskexport", "--outputs-file", path, "--yes"])
    assert swept.exit_code == 0, swept.output
    assert "freed lane 1 (held by run gone, NOT_FOUND)" in swept.output
    assert items(table) == {0: arns["a"]}  # the RUNNING owner's lane is untouched
    again = runner.invoke(app, ["sweep", "taskexport", "--outputs-file", path, "--yes"])
    assert "nothing to sweep" in again.output


def test_a_lane_another_run_took_over_meanwhile_is_left_alone(line):
    _, outputs, arns = line
    table = outputs["laneTable"]
    ended = automation.lanes("taskexport", outputs).owner_ended
    assert [lane.index for lane in ended] == [1]
    hold(table, 1, arns["b"])  # b takes lane 1 over between the sweep's look and its delete
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    assert automation.free_lane(table, ended[0], dynamodb) is False
    assert items(table)[1] == arns["b"]


def test_lanes_of_a_stack_deployed_before_lanes_is_one_line_naming_the_output(line):
    _, outputs, _ = line
    with pytest.raises(automation.MissingOutput, match="has no output laneTable"):
        automation.lanes("taskexport", {k: v for k, v in outputs.items() if k != "laneTable"})
    with pytest.raises(automation.MissingOutput, match="has no output lanes: accepted a list of lanes"):
        automation.lanes("taskexport", {**outputs, OUTPUT_LANES: "[]"})


def _view(held: dict[int, str], waiting: dict[str, int]) -> automation.LaneView:
    start = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)
    return automation.LaneView(
        "t",
        tuple(automation.Lane(k, "ce", "q", owner) for k, owner in held.items()),
        tuple(automation.WaitingRun(arn.rsplit(":", 1)[-1], arn, start, ahead, None) for arn, ahead in waiting.items()),
    )


def test_run_shows_waiting_for_a_lane_with_the_runs_ahead_when_it_changes_then_the_lane_it_took():
    me = "arn:aws:states:us-east-1:1:execution:m:me"
    views = iter(
        [
            _view({0: "x"}, {me: 2}),
            _view({0: "x"}, {me: 2}),
            _view({0: "x"}, {me: 1}),
            _view({0: "x", 1: me}, {}),
        ]
    )
    console = Console(record=True, width=120, force_terminal=False)
    progress = RunProgress(console, RunHandle("me", me, "m"), None, lambda: next(views))
    outcome = RunOutcome("me", me, "RUNNING", None, None)
    for _ in range(5):  # the fifth look reads no lanes: the run holds one
        progress.on_poll(outcome)
    lines = [line.strip() for line in console.export_text().splitlines() if line.strip()]
    assert [line.split(maxsplit=1)[1] for line in lines] == [
        "waiting for a lane (2 ahead)",
        "waiting for a lane (1 ahead)",
        "took lane 1",
    ]


def test_run_waits_in_line_while_every_lane_is_held_and_says_so(tmp_path):
    """One lane, taken by run holder for longer than laneWaitTimeoutMinutes=5: ``batch-lustre run`` of the next run
    shows "waiting for a lane (0 ahead)", then the run fails with NoLaneAvailable naming the owner."""
    with Emulation(Scenario()) as emu:
        _, outputs = deploy_emulated(emu, "taskexport", runtime_params={"laneWaitTimeoutMinutes": 5})
        holder = automation.start_run("taskexport", stack_outputs=outputs, name="holder")
        path = tmp_path / "outputs.json"
        path.write_text(json.dumps(outputs))
        result = runner.invoke(
            app, ["run", "taskexport", "--outputs-file", str(path), "--name", "queued", "--poll-seconds", "0.01"]
        )
        assert result.exit_code == 1, result.output
        assert "waiting for a lane (0 ahead)" in result.output
        assert "Error: NoLaneAvailable" in result.output and "holder" in result.output
        assert "took lane" not in result.output
        assert automation.wait_for_run(holder.execution_arn, poll_seconds=0.01, timeout_seconds=120).succeeded


class At:
    """A time source (``automation.TimeSource``) fixed at ``when``."""

    def __init__(self, when: dt.datetime) -> None:
        self.when = when

    def now(self) -> dt.datetime:
        return self.when

    def pause(self, seconds: float) -> None:
        raise AssertionError("lanes does not wait")


def test_a_lane_whose_owner_just_ended_is_left_to_its_run_cleanup_until_the_take_over_grace_has_passed(line):
    _, outputs, arns = line
    sfn = boto3.client("stepfunctions", region_name=REGION)
    sfn.stop_execution(executionArn=arns["e"], error="Stopped", cause="by the test")
    stopped = sfn.describe_execution(executionArn=arns["e"])["stopDate"]
    hold(outputs["laneTable"], 2, arns["e"])
    soon = automation.lanes("taskexport", outputs, time_source=At(stopped + dt.timedelta(seconds=60)))
    assert (soon.lanes[2].state, soon.lanes[2].owner_status) == (lane_view.ENDING, "ABORTED")
    assert [lane.index for lane in soon.owner_ended] == [1]  # sweep leaves it to the run cleanup
    assert [run.next_lane for run in soon.waiting] == [1, None, None]  # b may take lane 1 only
    later = stopped + dt.timedelta(seconds=TAKEOVER_GRACE_SECONDS + 1)
    past = automation.lanes("taskexport", outputs, time_source=At(later))
    assert past.lanes[2].state == lane_view.OWNER_ENDED
    assert [lane.index for lane in past.owner_ended] == [1, 2]
    assert [run.next_lane for run in past.waiting] == [1, 2, None]
