"""``batch-lustre demo``: the whole workflow offline on the emulated AWS, with the same live display as ``run``.

One real demo per mode (module-scoped); failing scenarios run in tests/test_scenarios.py, so their report here is
checked on constructed outcomes; refusals are checked before anything is emulated.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from batch_lustre.automation import RunOutcome
from batch_lustre.cli.app import app
from batch_lustre.cli.demo import DEMO_JSON_KEYS, Aftermath, show_aftermath
from batch_lustre.emulation.catalogue import SCENARIOS, scenario_names

runner = CliRunner()
NO_AWS = {
    "AWS_ACCESS_KEY_ID": None,
    "AWS_SECRET_ACCESS_KEY": None,
    "AWS_SESSION_TOKEN": None,
    "AWS_DEFAULT_REGION": None,
    "AWS_REGION": None,
    "AWS_PROFILE": "no-such-profile",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "COLUMNS": "200",
}


# Fewer polling turns, same outcomes (the emulated file system takes about 12 minutes, the job 15).
QUICK = {
    "waitForLustreCreationSeconds": 300,
    "waitForJobCompletionSeconds": 600,
    "waitForDataRepositoryTaskSeconds": 300,
    "waitForCheckMetricsSeconds": 300,
}


def demo(*args: str, quick: bool = True):
    name = args[args.index("--scenario") + 1] if "--scenario" in args else "success"
    mode = args[args.index("--mode") + 1] if "--mode" in args else "taskexport"
    scenario = SCENARIOS.get(name)
    sets = (
        []
        if not quick or scenario is None
        else [
            f"--set={k}={v}"
            for k, v in QUICK.items()
            if k not in scenario.runtime_params
            and (k != "waitForDataRepositoryTaskSeconds" or mode == "taskexport")
            and (k != "waitForCheckMetricsSeconds" or mode == "autoexport")
        ]
    )
    return runner.invoke(app, ["demo", "--poll-seconds", "0.1", *sets, *args], env=NO_AWS)


def test_demo_runs_the_workflow_offline_with_the_override_flags_piped_as_plain_lines_on_one_clock(monkeypatch):
    """The one real demo of this module (one test, so that pytest-xdist runs it once): the autoexport workflow with
    every per-run override flag, piped (CliRunner's stdout is no TTY)."""
    from batch_lustre import automation

    inputs = []
    start_run = automation.start_run

    def recording(*args, **kwargs):
        handle = start_run(*args, **kwargs)
        inputs.append(automation.execution_input(handle.execution_arn, kwargs["sfn"]))
        return handle

    monkeypatch.setattr(automation, "start_run", recording)
    result = demo(
        "--mode",
        "autoexport",
        "--command",
        "python sim.py --steps 10",
        "--env",
        "CASE=a1",
        "--vcpus",
        "2",
        "--memory",
        "4096",
        "--image-tag",
        "v2",
        "--warm",
    )
    assert result.exit_code == 0, result.output
    out = result.output
    # The run, without AWS credentials, and nothing left behind.
    assert "demo of the autoexport workflow on an emulated AWS, scenario success" in out
    assert "CreateLustreFileSystem" in out and "file system fs-" in out and "CheckMetrics" in out
    assert "SUCCEEDED  run run-" in out
    assert "results/output.txt: " in out and "results/summary.json: " in out
    assert "nothing left behind" in out
    assert "file system lifetime: " in out and "AWS calls by the state machine: " in out
    assert "scenario expected SUCCEEDED; the run ended SUCCEEDED" in out
    # The override flags are the execution input.
    assert inputs == [
        {
            "command": ["python", "sim.py", "--steps", "10"],
            "environment": {"CASE": "a1"},
            "vcpus": 2,
            "memory": 4096,
            "imageTag": "v2",
            "warmComputeCapacity": True,
        }
    ]
    assert (
        'per-run overrides (execution input): command=["python", "sim.py", "--steps", "10"], '
        'environment={"CASE": "a1"}, vcpus=2, memory=4096, imageTag="v2", warmComputeCapacity=true'
    ) in out
    # Piped: plain lines, no box drawing nor colour; the timeline on one clock, each observation once.
    assert not set("│┃━─┏┗") & set(out) and "\x1b" not in out
    timeline = [line.split() for line in out.splitlines() if line.lstrip().startswith("+")]
    assert timeline[0] == ["+0:00", "InitializeRun"]
    observations = [" ".join(w[1:]) for w in timeline if w[1:3] == ["export", "queue:"]]
    assert observations and len(observations) == len(set(observations))
    assert "stateMachineArn: arn:aws:states:us-east-1:" in out  # a whole ARN on its line, never folded
    # The file system's cost: its lifetime (read from the history) is the emulation's, at 2400 GiB and the table's
    # us-east-1 price.
    cost = re.search(r"^file system cost: \$(\d+\.\d\d) = 2400 GiB x (\d+:\d\d:\d\d) ", out, re.MULTILINE)
    lifetime = re.search(r"^file system lifetime: (\d+:\d\d:\d\d)$", out, re.MULTILINE)
    assert cost and lifetime, out
    assert cost.group(2) == lifetime.group(1)
    h, m, sec = (int(x) for x in lifetime.group(1).split(":"))
    assert float(cost.group(1)) == pytest.approx(2400 * (h * 3600 + m * 60 + sec) / 3600 * 0.140 / 730, abs=0.006)


def test_demo_as_json_has_the_stable_keys():
    result = demo("--scenario", "secret-not-json", "--json")
    assert result.exit_code == 1
    found = json.loads(result.stdout)  # stdout is the JSON document and nothing else
    assert (
        list(found)
        == list(DEMO_JSON_KEYS)
        == [
            "scenario",
            "mode",
            "run",
            "status",
            "error",
            "cause",
            "expected",
            "as_expected",
            "duration_s",
            "states_entered",
            "file_system_id",
            "exported",
            "left_behind",
            "aws_calls",
            "file_system_phases_s",
            "settings",
            "execution_input",
            "fs_cost_usd",
        ]
    )
    assert (found["scenario"], found["mode"], found["status"], found["error"]) == (
        "secret-not-json",
        "taskexport",
        "FAILED",
        "InvalidParameters",
    )
    assert found["as_expected"] is True and found["expected"] == "FAILED: InvalidParameters"
    assert found["file_system_id"] is None and found["left_behind"] == [] and found["exported"] == []
    assert found["fs_cost_usd"] is None  # no file system was created
    assert found["aws_calls"]["secretsmanager:getSecretValue"] == 1


@pytest.fixture
def nothing_emulated(monkeypatch):
    """Fails the test if the demo gets as far as emulating anything."""
    from batch_lustre import automation

    monkeypatch.setattr(automation, "emulated", lambda *a, **k: (_ for _ in ()).throw(AssertionError("emulated")))


def test_a_refused_override_flag_is_one_line_exit_2_before_anything_is_emulated(nothing_emulated):
    result = demo("--vcpus", "300", quick=False)
    assert result.exit_code == 2
    assert result.stderr == (
        "error: execution input vcpus=300 is not accepted: accepted an integer from 1 to "
        "computeEnvironmentMaxvCpus=256\n"
    )
    result = demo("--env", "NOEQUALS", quick=False)
    assert result.exit_code == 2
    assert result.stderr == "error: --env='NOEQUALS' is not accepted: accepted NAME=VALUE, e.g. --env STEPS=10\n"


HUGE = "1" + "0" * 5000  # past Python's own int-conversion limit (4,300 digits)


@pytest.mark.parametrize(
    ("args", "start", "accepted"),
    [
        (["--image-tag", "v1\n"], 'error: execution input imageTag="v1\\n" is not accepted', "an image tag"),
        (["--image-tag", "v1\r"], 'error: execution input imageTag="v1\\r" is not accepted', "an image tag"),
        (["--set", f"jobDefinitionVcpus={HUGE}"], 'error: jobDefinitionVcpus="10000', "an integer from 1 to 100000"),
        (["--vcpus", HUGE], 'error: execution input vcpus="10000', "an integer from 1 to computeEnvironmentMaxvCpus"),
        (["--env", "A=x\ny"], "error: execution input environment.A=", "a string, no control characters"),
    ],
    ids=["image-tag-newline", "image-tag-return", "set-5001-digits", "vcpus-5001-digits", "env-value-newline"],
)
def test_a_value_with_a_trailing_newline_or_5001_digits_is_one_line_exit_2(nothing_emulated, args, start, accepted):
    result = demo(*args, quick=False)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(start), result.stderr
    assert f"accepted {accepted}" in result.stderr
    assert len(result.stderr) < 400  # the value is cut short


def test_a_32_kb_command_is_refused_exit_2_naming_batchs_payload_limit_and_nothing_is_emulated(nothing_emulated):
    result = demo("--command", " ".join(["x" * 4000] * 8), quick=False)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: execution input command makes a SubmitJob request of 33")
    assert "at most 30720 bytes (30 KiB, AWS Batch service quotas" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--set", "jobDefinitionVcpus=300"],
            "error: jobDefinitionVcpus=300 is not accepted: accepted at most computeEnvironmentMaxvCpus=256, or the "
            "job would wait forever in RUNNABLE\n",
        ),
        (
            ["--mode", "autoexport", "--set", "lambdaPeriodSeconds=600"],
            "error: lambdaTimeDiffMinutes=15 with lambdaPeriodSeconds=600 is not accepted: accepted a window of at "
            "least two periods (lambdaTimeDiffMinutes * 60 >= 2 * lambdaPeriodSeconds), or a metric window could "
            "hold no datapoint and read as a drained export queue\n",
        ),
        (
            ["--set", "lustreStorageCapacity=1000"],
            'error: lustreStorageCapacity="1000" is not accepted: accepted 1200, 2400 or a multiple of 2400 (GiB, '
            "SCRATCH_2)\n",
        ),
        (["--set", "envName=Other"], None),
    ],
    ids=["vcpus-over-the-stacks-max", "cross-field", "per-key", "stack-config-key"],
)
def test_a_refused_set_is_one_line_exit_2_as_params_set_says_it_and_nothing_is_emulated(
    nothing_emulated, args, message
):
    result = demo(*args, quick=False)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    if message is None:
        assert result.stderr.startswith("error: envName is a stack config parameter, not a runtime one")
    else:
        assert result.stderr == message


def test_the_set_check_is_the_one_params_set_makes_against_the_stacks_max_vcpus(nothing_emulated, monkeypatch):
    from batch_lustre.automation import parameters as automation_parameters
    from batch_lustre.cli import demo as demo_module
    from batch_lustre.program import parameters

    assert demo_module.validate_runtime is automation_parameters.validate_runtime is parameters.validate_runtime
    assert demo_module.automation.check_assignment is automation_parameters.check_assignment
    bounds = []
    monkeypatch.setattr(
        demo_module,
        "validate_runtime",
        lambda doc, mode, vcpus: bounds.append(vcpus) or parameters.validate_runtime(doc, mode, vcpus),
    )
    result = demo("--set", "jobDefinitionVcpus=300", quick=False)
    assert result.exit_code == 2
    assert bounds and set(bounds) == {256}  # computeEnvironmentMaxvCpus of Pulumi.taskexport.yaml


def test_list_shows_every_single_run_scenario():
    result = runner.invoke(app, ["demo", "--list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    names = [line.split(" | ")[0] for line in result.output.splitlines()[1:]]
    assert names == scenario_names(single_run_only=True)


def test_a_two_run_scenario_is_one_line_exit_2_pointing_to_the_scenarios_command():
    result = demo("--scenario", "two-stacks-one-account")
    assert result.exit_code == 2
    assert "run `batch-lustre scenarios two-stacks-one-account`" in result.stderr
    assert result.stderr.count("\n") == 1


def test_an_unknown_scenario_is_one_line_exit_2_naming_the_accepted_ones():
    result = demo("--scenario", "meteor-strike")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --scenario='meteor-strike' is not accepted: accepted success, ")
    assert "job-fails" in result.stderr and "two-stacks-one-account" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_scenario_of_the_other_mode_is_one_line_exit_2():
    result = demo("--mode", "autoexport", "--scenario", "export-fails")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: --scenario='export-fails' is not accepted with --mode=autoexport: accepted "
    )


def test_an_unknown_mode_is_one_line_exit_2():
    result = demo("--mode", "nightly")
    assert result.exit_code == 2
    assert result.stderr == "error: mode='nightly' is not accepted: accepted taskexport or autoexport\n"


# --- the end of the report, on constructed outcomes (the scenarios themselves run in test_scenarios.py) ---


def aftermath_text(after: Aftermath, outcome: RunOutcome, expected: str) -> str:
    console = Console(width=80, color_system=None, force_terminal=False, soft_wrap=True)
    with console.capture() as captured:
        show_aftermath(console, after, outcome, expected)
    return captured.get()


def test_a_failed_run_that_kept_its_file_system_says_what_is_left_behind_and_how_it_ended():
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    outcome = RunOutcome("run-1", "arn", "FAILED", now, now, "ExportNotConfirmed", "kept")
    after = Aftermath(["file system fs-1 (AVAILABLE)"], {"fsx:createFileSystem": 1}, 1500.0, {"lifetime_s": None})
    text = aftermath_text(after, outcome, "FAILED: ExportNotConfirmed")
    assert (
        "left behind: file system fs-1 (AVAILABLE)  (`batch-lustre sweep` finds and deletes per-run leftovers)" in text
    )
    assert "run duration: 0:25:00" in text and "file system lifetime: -" in text
    assert "calls: fsx:createFileSystem x1" in text
    assert text.rstrip().endswith(
        "scenario expected FAILED: ExportNotConfirmed; the run ended FAILED: ExportNotConfirmed"
    )


def test_an_outcome_not_as_expected_is_marked():
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    outcome = RunOutcome("run-1", "arn", "SUCCEEDED", now, now)
    text = aftermath_text(Aftermath([], {}, 60.0), outcome, "FAILED: JobFailed")
    assert "nothing left behind" in text
    assert "scenario expected FAILED: JobFailed; the run ended SUCCEEDED  (not as expected)" in text
