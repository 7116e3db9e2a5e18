"""``batch-lustre deploy`` and ``automation.deploy`` refuse a change of the deployed stack's envName, mode or
aws:region with the program's own check (``settings.check_identity``), against the outputs of its last deploy,
before any preview, question or ``pulumi up`` (against the fake ``pulumi`` of test_automation.py)."""

from __future__ import annotations

import pytest
from test_automation import FakePulumi
from typer.testing import CliRunner

from batch_lustre import automation
from batch_lustre.cli.app import app

MACHINE = "arn:aws:states:us-east-1:111122223333:stateMachine:taskexport"
DEPLOYED = {"stateMachineArn": MACHINE, "secretName": "s", "bucketName": "b", "mode": "taskexport"}
IDENTITY = {"envName": "TaskExport", "region": "us-east-1"}


@pytest.fixture
def fake(tmp_path, monkeypatch):
    return FakePulumi(tmp_path).install(monkeypatch)


def changes(fake: FakePulumi) -> list[str]:
    return [c[0] for c in fake.commands() if c[:1] in (["preview"], ["up"])]


@pytest.mark.parametrize(
    ("deployed", "key"),
    [
        ({"envName": "Prod"}, 'batch-lustre:envName="TaskExport"'),
        ({"mode": "autoexport"}, 'batch-lustre:mode="taskexport"'),
        ({"region": "eu-west-1"}, 'aws:region="us-east-1"'),
    ],
    ids=["envName", "mode", "region"],
)
def test_a_change_of_identity_is_refused_before_pulumi_up(fake, deployed, key):
    fake.deployed("taskexport", outputs={**DEPLOYED, **IDENTITY, **deployed})
    with pytest.raises(automation.ParameterError) as refused:
        automation.deploy("taskexport")
    assert str(refused.value).startswith(f"{key} is not accepted: stack taskexport was deployed with ")
    assert "pulumi stack init" in str(refused.value) and "\n" not in str(refused.value)
    assert changes(fake) == []


@pytest.mark.parametrize("deployed", [{**DEPLOYED, **IDENTITY}, DEPLOYED], ids=["same", "previous-release"])
def test_the_same_identity_or_none_recorded_deploys(fake, deployed):
    fake.deployed("taskexport", outputs=deployed)
    automation.deploy("taskexport")
    assert changes(fake) == ["up"]


def test_the_cli_refuses_in_one_line_exit_2_before_the_preview(fake):
    fake.deployed("taskexport", outputs={**DEPLOYED, **IDENTITY, "envName": "Prod"})
    result = CliRunner().invoke(app, ["deploy", "taskexport", "--yes"], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith('error: batch-lustre:envName="TaskExport" is not accepted: stack taskexport was ')
    assert result.stderr.count("\n") == 1
    assert changes(fake) == []
