"""``batch-lustre deploy|preview|destroy|outputs``: the Automation API through the command line, against a fake
``pulumi`` on PATH (see test_automation.py), and the one-line errors when the CLI or the stack is missing."""

from __future__ import annotations

import json

import pytest
from test_automation import FakePulumi
from typer.testing import CliRunner

from batch_lustre.cli.app import app

runner = CliRunner()
STACK_COMMANDS = ["deploy", "preview", "refresh", "destroy", "outputs"]


@pytest.fixture
def fake(tmp_path, monkeypatch):
    return FakePulumi(tmp_path).install(monkeypatch)


def invoke(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.mark.parametrize("command", STACK_COMMANDS)
def test_without_the_pulumi_cli_each_command_says_how_to_install_it_in_one_line(command, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = invoke(command, "taskexport", *(["--yes"] if command in ("deploy", "destroy") else []))
    assert result.exit_code == 1
    assert result.stderr == (
        "error: the pulumi CLI is not on PATH: install it from https://www.pulumi.com/docs/install/ "
        "(e.g. `curl -fsSL https://get.pulumi.com | sh`)\n"
    )


@pytest.mark.parametrize("command", STACK_COMMANDS)
def test_an_unknown_stack_is_one_line_exit_2(command):
    result = invoke(command, "-s", "prod", *(["--yes"] if command in ("deploy", "destroy") else []))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: stack 'prod' is not accepted: accepted autoexport, taskexport")
    assert result.stderr.count("\n") == 1


def test_deploy_streams_pulumi_output_and_shows_the_stack_outputs(fake):
    result = invoke("deploy", "taskexport", "--yes")
    assert result.exit_code == 0, result.output
    assert "Updating (taskexport)" in result.output
    assert "secretName" in result.output and "bucketName" in result.output


def test_deploy_shows_the_preview_then_asks_and_a_no_applies_nothing(fake):
    result = runner.invoke(app, ["deploy", "-s", "taskexport"], input="n\n")
    assert result.exit_code == 1
    preview_at = result.output.index("preview of taskexport: 42 to create")
    assert result.output.index("Apply these changes to stack taskexport?") > preview_at
    assert result.stderr.endswith("error: deploy cancelled: nothing was changed\n")
    assert [c[:1] for c in fake.commands() if c[:1] in (["up"], ["preview"])] == [["preview"]]


def test_deploy_applies_after_a_yes_as_pulumi_up_does(fake):
    result = runner.invoke(app, ["deploy", "taskexport"], input="y\n")
    assert result.exit_code == 0, result.output
    assert result.output.index("Apply these changes") < result.output.index("Updating (taskexport)")
    assert [c[:1] for c in fake.commands() if c[:1] in (["up"], ["preview"])] == [["preview"], ["up"]]


def test_deploy_yes_does_not_ask(fake):
    result = invoke("deploy", "--stack=taskexport", "--yes")
    assert result.exit_code == 0, result.output
    assert "Apply these changes" not in result.output
    assert any(c[:1] == ["up"] for c in fake.commands())


def test_the_deploy_flow_on_the_automation_layer_previews_asks_then_deploys(monkeypatch):
    """The flow without any pulumi executable: the Automation API layer replaced, the order of its calls seen."""
    calls: list[str] = []

    def fake_preview(stack, *, on_output=None, work_dir=None):
        calls.append(f"preview {stack}")
        return {"create": 3, "same": 1}

    def fake_deploy(stack, *, on_output=None, work_dir=None, wait_minutes=None, force=False):
        calls.append(f"deploy {stack}")
        return {"bucketName": "b"}

    def fake_guard(stack, action, *, wait_minutes=None, force=False, on_wait=None):
        calls.append(f"guard {action} {stack}")
        return []

    def fake_repository_check(stack, *, force=False):
        calls.append(f"repository {stack}")

    monkeypatch.setattr("batch_lustre.automation.guard_stack", fake_guard)
    monkeypatch.setattr("batch_lustre.automation.repository_check", fake_repository_check)
    monkeypatch.setattr("batch_lustre.automation.preview", fake_preview)
    monkeypatch.setattr("batch_lustre.automation.deploy", fake_deploy)
    refused = runner.invoke(app, ["deploy", "-s", "autoexport"], input="n\n")
    assert refused.exit_code == 1 and calls == [
        "guard deploy autoexport",
        "repository autoexport",
        "preview autoexport",
    ]
    assert "preview of autoexport: 3 to create" in refused.output
    accepted = runner.invoke(app, ["deploy", "-s", "autoexport"], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert calls[3:] == ["guard deploy autoexport", "repository autoexport", "preview autoexport", "deploy autoexport"]
    assert "bucketName" in accepted.output


def test_preview_summarises_the_planned_changes(fake):
    fake.deployed("taskexport")
    result = invoke("preview", "taskexport")
    assert result.exit_code == 0, result.output
    assert "preview of taskexport: 42 to create" in result.output


def test_outputs_json_can_be_used_as_an_outputs_file(fake, tmp_path):
    fake.deployed("taskexport")
    invoke("deploy", "taskexport", "--yes")
    result = invoke("outputs", "taskexport", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["bucketName"] == "b"


def test_outputs_of_a_stack_never_deployed_is_one_line_exit_2(fake):
    result = invoke("outputs", "autoexport")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: stack 'autoexport' has not been deployed: deploy it first (batch-lustre deploy autoexport)\n"
    )


def test_destroy_of_a_stack_never_deployed_fails_before_asking(fake):
    result = runner.invoke(app, ["destroy", "-s", "autoexport"], input="y\n")
    assert result.exit_code == 2
    assert "Destroy every resource" not in result.output
    assert result.stderr == (
        "error: stack 'autoexport' has not been deployed: deploy it first (batch-lustre deploy autoexport)\n"
    )
    assert not any(c[:1] == ["destroy"] for c in fake.commands())


def test_destroy_without_the_pulumi_cli_fails_before_asking(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = runner.invoke(app, ["destroy", "taskexport"], input="y\n")
    assert result.exit_code == 1
    assert "Destroy every resource" not in result.output
    assert result.stderr.startswith("error: the pulumi CLI is not on PATH")


def test_destroy_asks_first_and_a_no_changes_nothing(fake):
    fake.deployed("taskexport")
    result = runner.invoke(app, ["destroy", "taskexport"], input="n\n")
    assert result.exit_code == 1
    assert "Destroy every resource of stack taskexport" in result.output
    assert result.stderr.endswith("error: destroy cancelled: nothing was changed\n")
    assert not any(c[:1] == ["destroy"] for c in fake.commands())


def test_destroy_yes_runs_pulumi_destroy(fake):
    fake.deployed("taskexport")
    result = invoke("destroy", "taskexport", "--yes")
    assert result.exit_code == 0, result.output
    assert "Destroying (taskexport)" in result.output
    assert any(c[:1] == ["destroy"] for c in fake.commands())


def test_a_failed_deploy_is_one_line_with_pulumis_error(fake):
    fake.fail("up", "error: stack taskexport: lustreStorageCapacity=1000 is not accepted")
    result = invoke("deploy", "taskexport", "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: pulumi up of stack taskexport failed (exit code 1): "
        "error: stack taskexport: lustreStorageCapacity=1000 is not accepted\n"
    )
