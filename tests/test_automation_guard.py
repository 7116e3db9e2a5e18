"""No deploy, refresh or destroy under a run (``automation.guard``): refused naming the run, or a bounded wait on an
injected clock, or forced; through the Automation API (against the fake ``pulumi`` of test_automation.py) and the
command line. No test here waits on the real clock."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_automation import EmptyAccount, FakePulumi
from typer.testing import CliRunner

from batch_lustre import automation
from batch_lustre.cli.app import app

MACHINE = "arn:aws:states:us-east-1:111122223333:stateMachine:taskexport"
CLEANUP = "arn:aws:states:us-east-1:111122223333:stateMachine:taskexport-run-cleanup"
OUTPUTS = {"stateMachineArn": MACHINE, "runCleanupStateMachineArn": CLEANUP, "secretName": "s", "bucketName": "b"}
STARTED = dt.datetime(2026, 12, 5, 3, 0, tzinfo=dt.UTC)
RUN_ARN = "arn:aws:states:us-east-1:111122223333:execution:taskexport:run-20261205-030000-abcd"


class FakeSfn(EmptyAccount):
    """ListExecutions answering RUNNING for the workflow for the first ``running_for`` looks, then nothing (and
    an account that holds nothing else)."""

    def __init__(self, running_for: int = 10**6) -> None:
        self.running_for = running_for
        self.looks = 0

    def list_executions(self, **kwargs):
        assert kwargs["statusFilter"] == "RUNNING"
        if kwargs["stateMachineArn"] != MACHINE:
            return {"executions": []}
        self.looks += 1
        if self.looks > self.running_for:
            return {"executions": []}
        execution = {"name": "run-20261205-030000-abcd", "executionArn": RUN_ARN, "startDate": STARTED}
        return {"executions": [execution]}


class SteppedClock:
    """A clock a pause moves forward (no real waiting)."""

    def __init__(self) -> None:
        self.at = STARTED + dt.timedelta(hours=1)
        self.pauses: list[float] = []

    def now(self) -> dt.datetime:
        return self.at

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.at += dt.timedelta(seconds=seconds)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    fake = FakePulumi(tmp_path).install(monkeypatch)
    fake.deployed("taskexport", outputs=OUTPUTS)
    return fake


def applied(fake: FakePulumi) -> list[str]:
    return [c[0] for c in fake.commands() if c[:1] in (["up"], ["refresh"], ["destroy"])]


OPERATIONS = {"deploy": automation.deploy, "refresh": automation.refresh, "destroy": automation.destroy}


@pytest.mark.parametrize("action", OPERATIONS)
def test_each_stack_change_is_refused_during_a_run_naming_it_in_one_line(fake, action):
    with pytest.raises(automation.StackBusy) as raised:
        OPERATIONS[action]("taskexport", sfn=FakeSfn())
    assert str(raised.value).startswith(
        f"{action} refused: run run-20261205-030000-abcd ({RUN_ARN}) RUNNING since 2026-12-05T03:00:00+00:00 "
        "in stack taskexport; "
    )
    assert "(--wait MINUTES) or force it (--force)" in str(raised.value) and "\n" not in str(raised.value)
    assert applied(fake) == []


@pytest.mark.parametrize("action", OPERATIONS)
def test_forced_the_change_goes_ahead_during_a_run(fake, action):
    OPERATIONS[action]("taskexport", sfn=FakeSfn(), force=True)
    assert applied(fake) == [{"deploy": "up"}.get(action, action)]


def test_a_wait_ends_as_soon_as_the_run_has_ended_then_deploys(fake):
    clock, sfn, lines = SteppedClock(), FakeSfn(running_for=3), []
    automation.deploy(
        "taskexport", sfn=sfn, wait_minutes=10, time_source=clock, poll_seconds=60, on_output=lines.append
    )
    assert clock.pauses == [60, 60, 60]
    assert applied(fake) == ["up"]
    assert (
        lines[0]
        == f"deploy waits: run run-20261205-030000-abcd ({RUN_ARN}) RUNNING since 2026-12-05T03:00:00+00:00 (10 minute(s) left to wait)"
    )


def test_a_wait_is_bounded_and_its_last_pause_ends_at_the_bound(fake):
    clock = SteppedClock()
    with pytest.raises(automation.StackBusy) as raised:
        automation.destroy("taskexport", sfn=FakeSfn(), wait_minutes=2, time_source=clock, poll_seconds=50)
    assert clock.pauses == [50, 50, 20]  # 120 s in all, not one second more
    assert "after waiting 2 minute(s): wait longer (--wait MINUTES, at most 2880) or force it" in str(raised.value)
    assert applied(fake) == []


def test_a_stack_without_a_run_changes_at_once_and_a_new_stack_is_not_checked(fake):
    clock = SteppedClock()
    automation.deploy("taskexport", sfn=FakeSfn(running_for=0), wait_minutes=5, time_source=clock)
    automation.deploy("autoexport", sfn=FakeSfn())  # never deployed: no outputs, no run
    assert clock.pauses == [] and applied(fake) == ["up", "up"]


@pytest.mark.parametrize("value", [0, -1, 2881, "soon", True, 1.5])
def test_a_wait_out_of_bounds_is_refused_before_anything_runs(fake, value):
    with pytest.raises(automation.ParameterError) as raised:
        automation.deploy("taskexport", sfn=FakeSfn(running_for=0), wait_minutes=value)
    assert "is not accepted: accepted a whole number of minutes from 1 to 2880" in str(raised.value)
    assert str(raised.value).startswith("wait_minutes=")
    assert applied(fake) == []


@given(st.one_of(st.integers(), st.text(max_size=8), st.floats(allow_nan=True), st.none(), st.booleans()))
def test_check_wait_minutes_accepts_exactly_whole_minutes_within_its_bounds(value):
    try:
        minutes = automation.check_wait_minutes(value)
    except automation.ParameterError as refused:
        assert "\n" not in str(refused)
        return
    assert minutes is None or 1 <= minutes <= automation.MAX_WAIT_MINUTES
    assert value is None or str(minutes) == str(value).strip()


# --- the command line ---------------------------------------------------------------------------------


@pytest.fixture
def cli(fake, monkeypatch):
    sfn = FakeSfn()
    monkeypatch.setattr("batch_lustre.automation.clients.aws_client", lambda service, region=None: sfn)
    return fake, sfn


@pytest.mark.parametrize("command", ["deploy", "refresh", "destroy"])
def test_the_cli_refuses_during_a_run_before_any_question_exit_1(cli, command):
    fake, _ = cli
    yes = ["--yes"] if command != "refresh" else []
    result = CliRunner().invoke(app, [command, "taskexport", *yes], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {command} refused: run run-20261205-030000-abcd ({RUN_ARN}) RUNNING")
    assert result.stderr.count("\n") == 1
    assert not any(c[:1] in (["preview"], ["up"], ["refresh"], ["destroy"]) for c in fake.commands())


def test_the_cli_refuses_a_bad_wait_naming_the_flag_exit_2(cli):
    result = CliRunner().invoke(app, ["deploy", "taskexport", "--yes", "--wait", "0"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert result.stderr == ("error: --wait=0 is not accepted: accepted a whole number of minutes from 1 to 2880\n")


def test_the_cli_forced_refresh_runs_and_says_what_it_went_ahead_under(cli):
    fake, _ = cli
    result = CliRunner().invoke(app, ["refresh", "taskexport", "--force"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "warning: refresh forced during run run-20261205-030000-abcd" in result.output
    assert applied(fake) == ["refresh"]
