"""``batch-lustre run`` and ``status`` against the emulated AWS: live progress, outcome, exit codes, refusals."""

from __future__ import annotations

import json
import re

import boto3
import pytest
from conftest import stop_held_runs
from typer.testing import CliRunner

from batch_lustre import automation
from batch_lustre.automation import deploy_emulated
from batch_lustre.cli.app import app
from batch_lustre.emulation import BatchScenario, Emulation, Scenario

runner = CliRunner()
# Fewer polling turns (same outcome): the emulated file system takes about 12 minutes, the job 15.
QUICK = {
    "waitForLustreCreationSeconds": 300,
    "waitForJobCompletionSeconds": 600,
    "waitForDataRepositoryTaskSeconds": 300,
}


@pytest.fixture
def deployed(tmp_path):
    """Deploy the taskexport stack on an emulation of ``scenario``; returns (emulation, outputs file)."""
    active = []

    def deploy(scenario: Scenario | None = None):
        emu = Emulation(scenario or Scenario()).__enter__()
        active.append(emu)
        _, outputs = deploy_emulated(emu, "taskexport", runtime_params=QUICK)
        path = tmp_path / "outputs.json"
        path.write_text(json.dumps(outputs))
        return emu, str(path)

    yield deploy
    for emu in active:
        stop_held_runs(emu)
        emu.__exit__(None, None, None)


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_a_successful_run_shows_its_states_file_system_and_exported_files_and_exits_0(deployed):
    _, outputs = deployed()
    result = invoke("run", "taskexport", "--outputs-file", outputs, "--name", "ok-run", "--poll-seconds", "0.01")
    assert result.exit_code == 0, result.output
    out = result.output
    for state in ("CreateLustreFileSystem", "SubmitJob", "CreateDataRepositoryTask", "DeleteFSx"):
        assert state in out
    assert "file system fs-" in out
    assert "SUCCEEDED  run ok-run in " in out
    assert "deleted" in out
    assert "results/output.txt" in out and "results/summary.json" in out
    # The file system's cost in dollars: 2400 GiB (the stack's capacity) for as long as it lived (created, then 7
    # min until AVAILABLE, a job of 10 min, the export), at the us-east-1 table's price.
    cost = re.search(
        r"file system cost: \$(\d+\.\d\d) = 2400 GiB x (\d):(\d\d):(\d\d) \((\d+\.\d) GiB-hours\) at \$0\.140 per "
        r"GiB-month \(table \(us-east-1\)\)$",
        out,
        re.MULTILINE,
    )
    assert cost, out
    seconds = int(cost.group(2)) * 3600 + int(cost.group(3)) * 60 + int(cost.group(4))
    assert 17 * 60 <= seconds <= 40 * 60
    assert float(cost.group(1)) == pytest.approx(2400 * seconds / 3600 * 0.140 / 730, abs=0.006)
    assert float(cost.group(5)) == pytest.approx(2400 * seconds / 3600, abs=0.1)


def test_a_failed_run_shows_error_and_cause_and_exits_1_and_status_lists_it(deployed):
    _, outputs = deployed(Scenario(batch=BatchScenario.app_error(3)))
    result = invoke("run", "taskexport", "--outputs-file", outputs, "--name", "broken", "--poll-seconds", "0.01")
    assert result.exit_code == 1, result.output
    assert "FAILED  run broken" in result.output
    assert "Error: JobFailed" in result.output
    (cause,) = [line for line in result.output.splitlines() if line.startswith("Cause: ")]
    assert re.fullmatch(r"Cause: job \S+ FAILED after 1 attempt\(s\): exit code 3, .*log stream \S+.*", cause), cause

    status = runner.invoke(app, ["status", "taskexport", "--outputs-file", outputs])
    assert status.exit_code == 0, status.output
    row = next(line for line in status.output.splitlines() if line.startswith("broken | "))
    assert re.fullmatch(
        r"broken \| status: FAILED \| started: \S+ \S+Z \| duration: \d:\d\d:\d\d \| fs cost: \$\d+\.\d\d \| error: JobFailed",
        row,
    ), row

    verbose = runner.invoke(app, ["status", "taskexport", "--outputs-file", outputs, "--verbose"])
    assert f"broken: JobFailed: {cause.removeprefix('Cause: ')}" in verbose.output

    as_json = runner.invoke(app, ["status", "taskexport", "--outputs-file", outputs, "--json"])
    (found,) = json.loads(as_json.stdout)
    assert list(found) == [
        "run",
        "execution_arn",
        "status",
        "started_at",
        "stopped_at",
        "duration_s",
        "error",
        "cause",
        "cause_summary",
        "fs_cost_usd",
        "lane",
        "ahead",
    ]
    assert (found["run"], found["status"], found["error"]) == ("broken", "FAILED", "JobFailed")
    assert (found["lane"], found["ahead"]) == (None, None)  # an ended run holds no lane and waits for none
    shown_cost = re.search(r"fs cost: \$(\d+\.\d\d)", row)
    assert shown_cost and found["fs_cost_usd"] == pytest.approx(float(shown_cost.group(1)), abs=0.005)
    assert found["fs_cost_usd"] > 0
    assert found["cause_summary"] == cause.removeprefix("Cause: ") and found["duration_s"] > 0


def test_detach_starts_the_run_and_returns_at_once(deployed):
    emu, outputs = deployed()
    emu.hold_waits()
    result = invoke("run", "taskexport", "--outputs-file", outputs, "--detach", "--name", "detached")
    status = invoke("status", "taskexport", "--outputs-file", outputs)
    assert result.exit_code == 0, result.output
    assert "started run detached of stack taskexport" in result.output
    assert "detached" in status.output and "RUNNING" in status.output


def test_run_as_json_prints_one_object_with_its_file_system_cost_and_nothing_else(deployed):
    _, outputs = deployed()
    result = invoke(
        "run", "-s", "taskexport", "--outputs-file", outputs, "--name", "as-json", "--json", "--poll-seconds", "0.01"
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)  # stdout is the document and nothing else: no progress
    assert (found["run"], found["status"], found["error"]) == ("as-json", "SUCCEEDED", None)
    assert found["file_system_id"].startswith("fs-")
    as_status = json.loads(invoke("status", "taskexport", "--outputs-file", outputs, "--json").stdout)[0]
    assert as_status["run"] == "as-json" and as_status["fs_cost_usd"] == found["fs_cost_usd"] > 0
    # 2400 GiB for the run's file-system lifetime (within its duration) at the us-east-1 price.
    assert 0 < found["fs_cost_usd"] <= 2400 * found["duration_s"] / 3600 * 0.140 / 730 + 1e-4


def test_detach_as_json_names_the_run_started(deployed):
    emu, outputs = deployed()
    emu.hold_waits()
    result = invoke("run", "taskexport", "--outputs-file", outputs, "--detach", "--name", "bg", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert (found["run"], found["status"], found["execution_input"]) == ("bg", "RUNNING", {})
    assert found["execution_arn"].endswith(":bg")


def test_status_without_runs_says_so(deployed):
    _, outputs = deployed()
    result = invoke("status", "taskexport", "--outputs-file", outputs)
    assert result.exit_code == 0
    assert "stack taskexport has no runs yet" in result.output
    assert json.loads(invoke("status", "taskexport", "--outputs-file", outputs, "--json").stdout) == []


@pytest.mark.parametrize("command", ["run", "status"])
def test_an_unknown_stack_is_one_line_exit_2(command):
    result = invoke(command, "staging")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: stack 'staging' is not accepted: accepted autoexport, taskexport")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("command", ["run", "status"])
def test_without_the_pulumi_cli_nor_outputs_file_the_error_is_one_line(command, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = invoke(command, "taskexport")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the pulumi CLI is not on PATH: install it from")
    assert "curl -fsSL https://get.pulumi.com | sh" in result.stderr
    assert result.stderr.count("\n") == 1


def test_outputs_without_the_state_machine_are_named_in_one_line(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"bucketName": "b"}))
    result = invoke("status", "taskexport", "--outputs-file", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: stack taskexport has no output stateMachineArn")


def test_an_invalid_run_name_is_one_line_exit_2(deployed):
    _, outputs = deployed()
    result = invoke("run", "taskexport", "--outputs-file", outputs, "--name", "my run")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: execution name=\"my run\" is not accepted: accepted 1-80 letters, digits, '-' or '_'\n"
    )


# --- per-run overrides (docs/workflow-v2.md, "Execution input: per-run overrides") -------------------------------------------------------------------------


def started_inputs(emu) -> list[dict]:
    """The input of every execution of the stack's state machine, as StartExecution received it."""
    sfn = boto3.client("stepfunctions", region_name=emu.region)
    found = []
    for machine in sfn.list_state_machines()["stateMachines"]:
        for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]:
            found.append(automation.execution_input(execution["executionArn"], sfn))
    return found


def test_override_flags_become_the_execution_input(deployed):
    emu, outputs = deployed()
    emu.hold_waits()  # the run stays at its first Wait: only its input matters here
    result = invoke(
        "run",
        "taskexport",
        "--outputs-file",
        outputs,
        "--detach",
        "--name",
        "with-overrides",
        "--command",
        "python sim.py --steps 10 --label 'two words'",
        "--env",
        "STEPS=10",
        "--env",
        "MODE=a=b",
        "--vcpus",
        "4",
        "--memory",
        "8192",
        "--image-tag",
        "v2.1",
        "--array-size",
        "3",
        "--no-warm",
    )
    assert result.exit_code == 0, result.output
    assert started_inputs(emu) == [
        {
            "command": ["python", "sim.py", "--steps", "10", "--label", "two words"],
            "environment": {"STEPS": "10", "MODE": "a=b"},
            "vcpus": 4,
            "memory": 8192,
            "imageTag": "v2.1",
            "arraySize": 3,
            "warmComputeCapacity": False,
        }
    ]
    assert 'per-run overrides: command=["python", "sim.py", "--steps", "10", "--label", "two words"]' in result.output


def test_without_override_flags_the_input_is_empty(deployed):
    emu, outputs = deployed()
    emu.hold_waits()
    result = invoke("run", "taskexport", "--outputs-file", outputs, "--detach")
    assert result.exit_code == 0, result.output
    assert started_inputs(emu) == [{}]
    assert "per-run overrides" not in result.output


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--vcpus", "0"],
            "error: execution input vcpus=0 is not accepted: accepted an integer from 1 to "
            "computeEnvironmentMaxvCpus=256\n",
        ),
        (
            ["--vcpus", "257"],
            "error: execution input vcpus=257 is not accepted: accepted an integer from 1 to "
            "computeEnvironmentMaxvCpus=256\n",
        ),
        (
            ["--memory", "lots"],
            'error: execution input memory="lots" is not accepted: accepted an integer from 4 to 10000000 (MiB)\n',
        ),
        (
            ["--array-size", "20000"],
            "error: execution input arraySize=20000 is not accepted: accepted an integer from 1 "
            "to 10000 (1: a single job)\n",
        ),
        (
            ["--image-tag", "-bad"],
            'error: execution input imageTag="-bad" is not accepted: accepted an image tag: a '
            "letter, digit or _ then up to 127 letters, digits, _ . or -\n",
        ),
        (
            ["--env", "AWS_BATCH_X=1"],
            'error: execution input environment name "AWS_BATCH_X" is not accepted: accepted '
            "names matching [A-Za-z_][A-Za-z0-9_]* not starting AWS_BATCH (Batch reserves "
            "those)\n",
        ),
        (["--env", "STEPS"], "error: --env='STEPS' is not accepted: accepted NAME=VALUE, e.g. --env STEPS=10\n"),
        (
            ["--command", "python 'sim.py"],
            'error: --command="python \'sim.py" is not accepted (No closing quotation): '
            "accepted a command line whose quotes are balanced, e.g. --command "
            '"python sim.py --steps 10"\n',
        ),
        (
            ["--command", ""],
            "error: --command='' is not accepted: accepted a command of at least one word, e.g. "
            '--command "python sim.py --steps 10"\n',
        ),
    ],
)
def test_a_bad_override_is_one_line_exit_2_and_starts_nothing(deployed, flags, message):
    emu, outputs = deployed()
    result = invoke("run", "taskexport", "--outputs-file", outputs, *flags)
    assert result.exit_code == 2, result.output
    assert result.stderr == message
    assert started_inputs(emu) == []


def test_the_refusal_is_word_for_word_the_one_the_workflow_would_give(deployed, monkeypatch):
    import extract_parameters

    from batch_lustre.emulation import runtime_parameters

    monkeypatch.setenv("MODE", "taskexport")
    monkeypatch.setenv("MAX_VCPUS", "256")
    monkeypatch.setenv("NAME_PREFIX", "taskexport")
    workflow = extract_parameters.handler(
        {
            "secretString": json.dumps(runtime_parameters("taskexport")),
            "executionName": "run-1",
            "input": {"vcpus": 0, "memory": "lots", "environment": {"1X": "y"}},
        },
        None,
    )
    emu, outputs = deployed()
    result = invoke("run", "taskexport", "--outputs-file", outputs, "--vcpus", "0", "--memory", "lots", "--env", "1X=y")
    assert not workflow["ok"]
    assert result.exit_code == 2
    assert result.stderr == f"error: {workflow['error']}\n"
    assert started_inputs(emu) == []
