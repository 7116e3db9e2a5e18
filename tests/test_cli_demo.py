"""``batch-lustre demo``: the whole workflow offline on the emulated AWS, with the same live display as ``run``."""

from __future__ import annotations

from typer.testing import CliRunner

from batch_lustre.cli.app import app
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


def test_demo_runs_the_workflow_without_aws_credentials_and_leaves_nothing_behind():
    result = demo(quick=False)  # the stack's defaults
    assert result.exit_code == 0, result.output
    out = result.output
    assert "demo of the taskexport workflow on an emulated AWS, scenario success" in out
    assert "CreateLustreFileSystem" in out and "file system fs-" in out
    assert "SUCCEEDED  run run-" in out
    assert "results/output.txt" in out and "results/summary.json" in out
    assert "nothing left behind" in out
    assert "file system lifetime" in out and "AWS calls by the state machine" in out
    assert "scenario expected SUCCEEDED; the run ended SUCCEEDED" in out


def test_demo_of_the_autoexport_workflow_succeeds_with_the_override_flags_as_its_execution_input(monkeypatch):
    from batch_lustre import automation

    inputs = []
    start_run = automation.start_run

    def recording(*args, **kwargs):
        handle = start_run(*args, **kwargs)
        sfn = kwargs["sfn"]
        inputs.append(automation.execution_input(handle.execution_arn, sfn))
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
    assert "CheckMetrics" in result.output
    assert "nothing left behind" in result.output
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
    ) in result.output


def test_a_refused_override_flag_is_one_line_exit_2_before_anything_is_emulated(monkeypatch):
    from batch_lustre.cli import demo as demo_module

    monkeypatch.setattr(demo_module, "_emulation", lambda *a: (_ for _ in ()).throw(AssertionError("emulated")))
    result = demo("--vcpus", "300", quick=False)
    assert result.exit_code == 2
    assert result.stderr == (
        "error: execution input vcpus=300 is not accepted: accepted an integer from 1 to "
        "computeEnvironmentMaxvCpus=256\n"
    )
    result = demo("--env", "NOEQUALS", quick=False)
    assert result.exit_code == 2
    assert result.stderr == "error: --env='NOEQUALS' is not accepted: accepted NAME=VALUE, e.g. --env STEPS=10\n"


def test_a_failing_scenario_shows_error_and_cause_and_exits_1():
    result = demo("--scenario", "job-fails")
    assert result.exit_code == 1, result.output
    assert "Error: JobFailed" in result.output
    assert "scenario expected FAILED: JobFailed; the run ended FAILED: JobFailed" in result.output


def test_a_scenario_that_keeps_the_file_system_says_what_is_left_behind():
    result = demo("--scenario", "export-fails")
    assert result.exit_code == 1, result.output
    assert "left behind: file system fs-" in result.output
    assert "batch-lustre sweep" in result.output


def test_list_shows_every_single_run_scenario():
    result = runner.invoke(app, ["demo", "--list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    for name in scenario_names(single_run_only=True):
        assert name in result.output


def test_a_two_run_scenario_is_one_line_exit_2_pointing_to_the_scenarios_command():
    result = demo("--scenario", "second-run-refused")
    assert result.exit_code == 2
    assert "run `batch-lustre scenarios second-run-refused`" in result.stderr
    assert result.stderr.count("\n") == 1


def test_an_unknown_scenario_is_one_line_exit_2_naming_the_accepted_ones():
    result = demo("--scenario", "meteor-strike")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --scenario='meteor-strike' is not accepted: accepted success, ")
    assert "job-fails" in result.stderr and "second-run-refused" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_scenario_of_the_other_mode_is_one_line_exit_2():
    result = demo("--mode", "autoexport", "--scenario", "export-fails")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: --scenario='export-fails' is not accepted with --mode=autoexport: accepted "
    )


def test_a_refused_set_is_one_line_exit_2():
    result = demo("--set", "lustreStorageCapacity=1000", quick=False)
    assert result.exit_code == 2
    assert result.stderr.startswith('error: lustreStorageCapacity="1000" is not accepted: accepted 1200, 2400')


def test_set_changes_the_secret_of_the_demo_run():
    result = demo("--set", "deleteLustre=false")
    assert "except: " in result.output and "deleteLustre=false" in result.output
    assert "kept (deleteLustre=false)" in result.output
    assert "left behind: file system fs-" in result.output


def test_an_unknown_mode_is_one_line_exit_2():
    result = demo("--mode", "nightly")
    assert result.exit_code == 2
    assert result.stderr == "error: mode='nightly' is not accepted: accepted taskexport or autoexport\n"


def test_a_broken_secret_scenario_runs_in_the_demo_and_fails_with_its_error():
    # Every scenario of the catalogue runs in tests/test_scenarios.py; this checks the demo's plumbing
    # of a scenario that replaces the secret's text.
    result = demo("--scenario", "secret-not-json")
    assert result.exit_code == 1, result.output
    assert "Error: InvalidParameters" in result.output
    assert "scenario expected FAILED: InvalidParameters; the run ended FAILED: InvalidParameters" in result.output
