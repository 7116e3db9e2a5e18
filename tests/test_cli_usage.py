"""The command line's habits: Pulumi's ``-s/--stack``, usage errors as one line (exit code 2), errors as JSON with
``--json`` (as pcluster prints them), and input checked before credentials or the pulumi CLI are looked for."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from batch_lustre.cli.app import app
from batch_lustre.cli.usage import stack_flag_as_argument

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (["run", "taskexport", "extra"], "batch-lustre run: Got unexpected extra argument"),
        (["run", "--no-such-flag", "taskexport"], "batch-lustre run: No such option: --no-such-flag"),
        (["status"], "batch-lustre status: Missing argument 'STACK'"),
        (["status", "taskexport", "--limit", "zero"], "batch-lustre status: Invalid value for '--limit' / '-n'"),
        (["no-such-command"], "batch-lustre: No such command 'no-such-command'"),
        (["params", "show", "--bogus"], "batch-lustre params show: No such option: --bogus"),
        (["run", "-s"], "batch-lustre run: -s needs a value"),
        (["run", "-s", "taskexport", "--stack", "autoexport"], "batch-lustre run: --stack is given twice"),
    ],
)
def test_a_usage_error_is_one_line_on_stderr_exit_2(args, where):
    result = runner.invoke(app, args, env={"COLUMNS": "80"})
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {where}"), result.stderr
    assert result.stderr.count("\n") == 1


def test_with_json_a_usage_error_is_a_json_object_on_stdout():
    result = runner.invoke(app, ["scenarios", "--json", "--mode"])
    assert result.exit_code == 2
    found = json.loads(result.stdout)
    assert found["code"] == 2 and found["error"].endswith("Option '--mode' requires an argument.")
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("args", "code", "start"),
    [
        (["scenarios", "--mode", "nope", "--json"], 2, "mode='nope' is not accepted"),
        (["demo", "--json", "--vcpus", "300"], 2, "execution input vcpus=300 is not accepted"),
        (["params", "show", "-s", "prod", "--json"], 2, "stack 'prod' is not accepted"),
        (["status", "taskexport", "--json", "--outputs-file", "/no/such/file"], 1, "outputs file /no/such/file"),
    ],
)
def test_with_json_every_error_is_a_json_object_on_stdout(args, code, start):
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    found = json.loads(result.stdout)
    assert list(found) == ["error", "code"]
    assert found["code"] == code and found["error"].startswith(start), found
    assert result.stderr == ""


def test_without_json_the_same_error_is_one_line_on_stderr():
    result = runner.invoke(app, ["scenarios", "--mode", "nope"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "error: mode='nope' is not accepted: accepted taskexport or autoexport\n"


def test_no_arguments_still_prints_the_help():
    result = runner.invoke(app, [])
    assert "Usage: batch-lustre [OPTIONS] COMMAND" in result.output
    assert "error:" not in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-s", "taskexport", "--json"], ["taskexport", "--json"]),
        (["--stack", "taskexport"], ["taskexport"]),
        (["--stack=autoexport", "-n", "3"], ["autoexport", "-n", "3"]),
        (["-sautoexport"], ["autoexport"]),
        (["taskexport", "-n", "3"], ["taskexport", "-n", "3"]),
        # The value of an option is never taken for the flag: --name -s is a run named "-s".
        (["--name", "-s", "taskexport"], ["--name", "-s", "taskexport"]),
        (["taskexport", "-s", "taskexport"], ["taskexport"]),
        (["--", "-s", "x"], ["--", "-s", "x"]),
    ],
)
def test_the_stack_flag_becomes_the_positional_stack(args, expected):
    from typer.main import get_command

    run = get_command(app).commands["run"]  # type: ignore[attr-defined]
    assert stack_flag_as_argument(run, args) == expected


COMMANDS_WITH_A_STACK = [
    ["deploy"],
    ["preview"],
    ["destroy"],
    ["outputs"],
    ["params", "show"],
    ["params", "set"],
    ["run"],
    ["status"],
    ["acceptance"],
    ["sweep"],
]


@pytest.mark.parametrize("command", COMMANDS_WITH_A_STACK, ids=" ".join)
@pytest.mark.parametrize("spelling", [["-s", "prod"], ["--stack", "prod"], ["--stack=prod"], ["prod"]])
def test_every_command_taking_a_stack_takes_pulumis_spelling(command, spelling):
    # An unknown stack is refused by the command itself, offline, naming it: the flag reached the command.
    extra = ["KEY=1"] if command == ["params", "set"] else []
    result = runner.invoke(app, [*command, *spelling, *extra])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: stack 'prod' is not accepted: accepted autoexport, taskexport")


@pytest.mark.parametrize("flag", ["--vcpus=300", "--memory=3", "--array-size=0", "--env=1X=y", "--command="])
def test_run_refuses_bad_input_offline_with_the_error_demo_gives(flag, tmp_path, monkeypatch):
    # No pulumi CLI, no credentials, a profile this machine lacks: the input is refused before any of them matters.
    monkeypatch.setenv("PATH", str(tmp_path))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    run = runner.invoke(app, ["run", "-s", "taskexport", flag])
    demo = runner.invoke(app, ["demo", "--mode", "taskexport", flag])
    assert run.exit_code == demo.exit_code == 2, run.output
    assert run.stderr == demo.stderr
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1
    assert "pulumi" not in run.stderr and "credentials" not in run.stderr


def test_run_refuses_a_bad_run_name_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = runner.invoke(app, ["run", "-s", "taskexport", "--name", "my run"])
    assert result.exit_code == 2
    assert result.stderr.startswith('error: execution name="my run" is not accepted')
