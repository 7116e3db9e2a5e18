"""``batch-lustre params show|set`` against the emulated AWS: round trip, and refusals that change nothing."""

from __future__ import annotations

import json
import re

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from batch_lustre.automation import deploy_emulated
from batch_lustre.cli.app import app
from batch_lustre.emulation import Emulation, Scenario, runtime_parameters

runner = CliRunner()


@pytest.fixture
def secret():
    """An emulated secret holding the taskexport stack's runtime parameters at their defaults (as ``pulumi up``
    writes it): (name, a function reading (version id, text))."""
    with Emulation(Scenario()) as emu:
        client = boto3.client("secretsmanager", region_name=emu.region)
        name = "taskexport-runtime-parameters"
        client.create_secret(Name=name, SecretString=json.dumps(runtime_parameters("taskexport"), sort_keys=True))

        def current():
            found = client.get_secret_value(SecretId=name)
            return found["VersionId"], found["SecretString"]

        yield name, current


def test_the_secret_of_the_emulated_stack_is_the_one_params_reads():
    with Emulation(Scenario()) as emu:
        stack, _ = deploy_emulated(emu, "taskexport")
        shown = params("show", "taskexport", "--secret-id", stack.secret_name)
    assert shown.exit_code == 0, shown.output
    assert "every value is as in Pulumi.taskexport.yaml" in shown.output


def params(*args: str):
    return runner.invoke(app, ["params", *args], env={"COLUMNS": "200"})


def test_set_then_show_round_trips_and_show_marks_what_differs_from_stack_config(secret):
    name, current = secret
    result = params("set", "taskexport", "--secret-id", name, "lustreStorageCapacity=4800", "deleteLustre=false")
    assert result.exit_code == 0, result.output
    assert "lustreStorageCapacity: 2400 -> 4800" in result.output
    assert "deleteLustre: true -> false" in result.output
    stored = json.loads(current()[1])
    assert stored["lustreStorageCapacity"] == 4800 and stored["deleteLustre"] is False

    shown = params("show", "taskexport", "--secret-id", name)
    assert shown.exit_code == 0, shown.output
    # Piped (CliRunner): one plain line per parameter, "name | secret: value | * | stack config: value".
    rows = {line.split(" | ")[0]: line for line in shown.output.splitlines() if " | secret: " in line}
    assert rows["lustreStorageCapacity"] == "lustreStorageCapacity | secret: 4800 | * | stack config: 2400"
    assert "*" not in rows["lustreImportedFileChunkSize"]
    assert "differs from Pulumi.taskexport.yaml: deleteLustre, lustreStorageCapacity" in shown.output


def test_show_of_an_untouched_secret_says_every_value_is_as_in_stack_config(secret):
    name, _ = secret
    shown = params("show", "taskexport", "--secret-id", name)
    assert shown.exit_code == 0, shown.output
    assert "every value is as in Pulumi.taskexport.yaml" in shown.output


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        (
            "lustreStoragecapacity=2400",
            "error: lustreStoragecapacity is not a runtime parameter of mode taskexport: accepted keys autoExport, ",
        ),
        (
            "lustreStorageCapacity=1000",
            'error: lustreStorageCapacity="1000" is not accepted: accepted 1200, 2400 or a multiple of 2400 (GiB, SCRATCH_2)',
        ),
        ("deleteLustre=maybe", 'error: deleteLustre="maybe" is not accepted: accepted true or false'),
        (
            "jobDefinitionVcpus=1024",
            "error: jobDefinitionVcpus=1024 is not accepted: accepted at most computeEnvironmentMaxvCpus=256",
        ),
        ("envName=Other", "error: envName is a stack config parameter, not a runtime one"),
        ("deleteLustre", "error: 'deleteLustre' is not accepted: accepted KEY=VALUE"),
    ],
)
def test_a_refused_edit_is_one_line_exit_2_and_changes_nothing(secret, assignment, message):
    name, current = secret
    before = current()
    # A valid assignment next to the refused one is not written either.
    result = params("set", "taskexport", "--secret-id", name, "waitForJobCompletionSeconds=60", assignment)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1
    assert current() == before


def test_an_unknown_stack_is_one_line_exit_2():
    result = params("show", "prod")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: stack 'prod' is not accepted: accepted autoexport, taskexport "
        f"(a stack needs a Pulumi.<stack>.yaml in {__import__('batch_lustre.automation', fromlist=['ROOT']).ROOT})\n"
    )


def test_an_unknown_secret_is_one_line_exit_1(secret):
    result = params("show", "taskexport", "--secret-id", "no-such-secret")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: secret 'no-such-secret' could not be read: ResourceNotFoundException")
    assert result.stderr.count("\n") == 1


def test_without_secret_id_nor_outputs_file_the_missing_pulumi_cli_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = params("show", "taskexport", "--live")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: the pulumi CLI is not on PATH: install it from https://www.pulumi.com/docs/install/"
    )
    assert result.stderr.count("\n") == 1


def test_the_secret_name_comes_from_the_stack_outputs_file(secret, tmp_path):
    name, _ = secret
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"secretName": name}))
    shown = params("show", "taskexport", "--outputs-file", str(outputs))
    assert shown.exit_code == 0, shown.output
    assert f"in secret {name}" in shown.output


def test_show_as_json_has_the_stable_keys_and_changes_nothing(secret):
    name, current = secret
    params("set", "taskexport", "--secret-id", name, "deleteLustre=false")
    before = current()
    result = params("show", "taskexport", "--secret-id", name, "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert list(found) == ["stack", "mode", "secret_id", "parameters", "problem", "live"]
    assert (found["stack"], found["mode"], found["secret_id"], found["problem"], found["live"]) == (
        "taskexport",
        "taskexport",
        name,
        None,
        True,
    )
    assert found["parameters"]["deleteLustre"] == {"secret": False, "stack_config": True, "differs": True}
    assert found["parameters"]["lustreStorageCapacity"] == {"secret": 2400, "stack_config": 2400, "differs": False}
    assert all(list(v) == ["secret", "stack_config", "differs"] for v in found["parameters"].values())
    assert current() == before


def test_show_on_an_80_column_terminal_keeps_every_name_whole(secret):
    name, _ = secret
    result = runner.invoke(
        app, ["params", "show", "taskexport", "--secret-id", name], env={"COLUMNS": "80", "TTY_COMPATIBLE": "1"}
    )
    assert result.exit_code == 0, result.output
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    assert max(len(line) for line in text.splitlines()) <= 80
    for parameter in ("lustreImportedFileChunkSize", "waitForDataRepositoryTaskSeconds", "jobRunnableTimeoutMinutes"):
        assert re.search(rf"(^|\s){parameter}(\s|$)", text, re.MULTILINE), parameter


def offline(monkeypatch, tmp_path):
    """No pulumi CLI on PATH, no AWS credentials, and a profile this machine lacks."""
    monkeypatch.setenv("PATH", str(tmp_path))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))


@pytest.mark.parametrize("stack", ["taskexport", "autoexport"])
def test_show_reads_the_stack_file_offline_with_no_pulumi_cli_and_no_credentials(stack, tmp_path, monkeypatch):
    from batch_lustre import automation

    expected = automation.stack_settings(stack).runtime_defaults
    offline(monkeypatch, tmp_path)
    result = params("show", "-s", stack, "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert (found["stack"], found["mode"], found["secret_id"], found["live"]) == (stack, stack, None, False)
    assert {name: v["stack_config"] for name, v in found["parameters"].items()} == expected
    assert all(v["secret"] is None and v["differs"] is None for v in found["parameters"].values())

    shown = params("show", stack)
    assert shown.exit_code == 0, shown.output
    assert f"runtime parameters of stack {stack} ({stack}) in Pulumi.{stack}.yaml" in shown.output
    assert "lustreStorageCapacity: 2400" in shown.output.splitlines()


def test_show_reads_the_stack_file_as_it_is_now(tmp_path, monkeypatch):
    """The values come from the file: a project whose taskexport file sets another capacity shows that one."""
    from batch_lustre.automation import project_root

    root = project_root()
    for name in ("Pulumi.yaml", "Pulumi.taskexport.yaml"):
        (tmp_path / name).write_text((root / name).read_text())
    stack_file = tmp_path / "Pulumi.taskexport.yaml"
    stack_file.write_text(stack_file.read_text().replace("lustreStorageCapacity: 2400", "lustreStorageCapacity: 4800"))
    assert "4800" in stack_file.read_text()
    monkeypatch.setenv("BATCH_LUSTRE_PROJECT_DIR", str(tmp_path))
    result = params("show", "-s", "taskexport", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["parameters"]["lustreStorageCapacity"]["stack_config"] == 4800


def test_reset_shows_the_differences_asks_and_writes_stack_config_over_the_edits(secret):
    name, current = secret
    assert params("set", "taskexport", "--secret-id", name, "lustreStorageCapacity=4800").exit_code == 0
    edited = current()

    declined = runner.invoke(app, ["params", "reset", "taskexport", "--secret-id", name], input="n\n")
    assert declined.exit_code == 1, declined.output
    assert "lustreStorageCapacity: 4800 -> 2400" in declined.output
    assert "nothing written" in declined.output and current() == edited

    accepted = params("reset", "taskexport", "--secret-id", name, "--yes")
    assert accepted.exit_code == 0, accepted.output
    assert "lustreStorageCapacity: 4800 -> 2400" in accepted.output
    assert json.loads(current()[1])["lustreStorageCapacity"] == 2400

    again = params("reset", "taskexport", "--secret-id", name, "--yes")
    assert "every value is as in Pulumi.taskexport.yaml, nothing to write" in again.output


class _Secrets:
    """A secret held in memory: what reset reads and writes (GetSecretValue, PutSecretValue)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def get_secret_value(self, SecretId: str) -> dict:  # noqa: N803 (the API's spelling)
        return {"SecretString": self.text}

    def put_secret_value(self, SecretId: str, SecretString: str) -> dict:  # noqa: N803
        self.text = SecretString
        return {}


@given(
    st.dictionaries(
        st.sampled_from(["lustreStorageCapacity", "deleteLustre", "jobDefinitionVcpus", "unknownKey"]),
        st.one_of(st.integers(-5, 10**6), st.booleans(), st.text(max_size=8)),
    )
)
def test_reset_writes_exactly_the_stack_config_whatever_the_secret_holds(edits):
    from batch_lustre import automation
    from batch_lustre.program.settings import load_stack_config, settings_from_config
    from batch_lustre.project import find_project_dir

    defaults = settings_from_config(load_stack_config("taskexport", find_project_dir())).runtime_defaults
    secrets = _Secrets(json.dumps({**defaults, **edits}))
    before, written = automation.reset_parameters("taskexport", secret_id="s", client=secrets)
    assert json.loads(secrets.text) == written == defaults
    assert before.current == {**defaults, **edits}
