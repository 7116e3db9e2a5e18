"""The API's checks are the command line's: check_assignment refuses what ``params set`` refuses, start_run what
``run`` refuses, with the same one-line message, before Pulumi or AWS is asked anything."""

from __future__ import annotations

import os
from typing import Any

import pytest
from typer.testing import CliRunner

from batch_lustre import automation
from batch_lustre.automation import clients
from batch_lustre.cli.app import app

VCPUS_300 = (
    "jobDefinitionVcpus=300 is not accepted: accepted at most computeEnvironmentMaxvCpus=256, "
    "or the job would wait forever in RUNNABLE"
)
runner = CliRunner()


class NoAws:
    """A boto3 client that fails the test if any request is made."""

    def __getattr__(self, request: str) -> Any:
        raise AssertionError(f"an AWS request ({request}) was made before the input was checked")


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No pulumi CLI on PATH, no AWS credentials, and any AWS client fails the test."""
    for key in list(os.environ):
        if key.startswith("AWS_") and key not in ("AWS_DEFAULT_REGION",):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(clients, "aws_client", lambda service, region=None: NoAws())


def test_check_assignment_refuses_more_vcpus_than_the_compute_environment_has():
    with pytest.raises(automation.ParameterError) as refused:
        automation.check_assignment("taskexport", "jobDefinitionVcpus", "300")
    assert str(refused.value) == VCPUS_300


def test_check_assignment_bounds_vcpus_by_the_compute_environment_it_is_given():
    assert automation.check_assignment("taskexport", "jobDefinitionVcpus", "300", max_vcpus=512) == 300
    with pytest.raises(automation.ParameterError, match="computeEnvironmentMaxvCpus=64"):
        automation.check_assignment("taskexport", "jobDefinitionVcpus", "65", max_vcpus=64)


def test_check_assignments_checks_the_whole_secret_the_edit_makes():
    """A value fine alone is refused when the secret it lands in is refused, as params set refuses it."""
    assert automation.check_assignments("taskexport", {"jobTimeoutMinutes": "60"}) == {"jobTimeoutMinutes": 60}
    secret = {**automation.stack_settings("taskexport").runtime_defaults, "jobDefinitionVcpus": 300}
    with pytest.raises(automation.ParameterError) as refused:
        automation.check_assignments("taskexport", {"jobTimeoutMinutes": "60"}, current=secret)
    assert str(refused.value) == VCPUS_300


def test_update_parameters_refuses_it_word_for_word_before_reading_the_secret(offline):
    with pytest.raises(automation.ParameterError) as refused:
        automation.update_parameters("taskexport", {"jobDefinitionVcpus": "300"}, secret_id="any")
    assert str(refused.value) == VCPUS_300


def test_params_set_refuses_it_word_for_word_without_pulumi_or_aws(offline):
    result = runner.invoke(app, ["params", "set", "taskexport", "jobDefinitionVcpus=300"], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert result.stderr == f"error: {VCPUS_300}\n"


def test_start_run_checks_the_overrides_offline_before_pulumi_or_aws(offline):
    with pytest.raises(automation.ParameterError) as refused:
        automation.start_run("taskexport", overrides={"vcpus": 300})
    assert "vcpus=300 is not accepted" in str(refused.value) and "computeEnvironmentMaxvCpus=256" in str(refused.value)
    assert automation.check_run_input("taskexport", {"vcpus": "8"}) == {"vcpus": 8}


def test_run_refuses_it_word_for_word_without_pulumi_or_aws(offline):
    with pytest.raises(automation.ParameterError) as refused:
        automation.start_run("taskexport", overrides={"vcpus": 300})
    result = runner.invoke(app, ["run", "taskexport", "--vcpus", "300"], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert result.stderr == f"error: {refused.value}\n"


def test_start_run_still_checks_against_the_deployed_compute_environment(monkeypatch):
    """Pulumi.taskexport.yaml allows 256 vCPUs; a compute environment deployed with 8 refuses 16."""

    class Batch:
        def describe_compute_environments(self, **_: Any) -> dict[str, Any]:
            return {"computeEnvironments": [{"computeResources": {"maxvCpus": 8}}]}

    outputs = {
        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m",
        "computeEnvironment": "taskexport-ce",
    }
    with pytest.raises(automation.ParameterError, match="computeEnvironmentMaxvCpus=8"):
        automation.start_run("taskexport", stack_outputs=outputs, overrides={"vcpus": 16}, batch=Batch(), sfn=NoAws())
