"""``batch-lustre acceptance``: the budget-guarded end-to-end check, run here on the emulated stack (``--emulated``).

The emulated path is the real one (``automation.run_acceptance``, drawn by ``cli.acceptance``) with moto behind the AWS clients and the
emulation's clock; only ``--emulated`` and ``--scenario`` differ from a check on an account.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from typer.testing import CliRunner

from batch_lustre import automation
from batch_lustre.cli import acceptance as acceptance_module
from batch_lustre.cli.app import app

runner = CliRunner()
NAME = "acceptance-test-run"
MARKER = f"batch-lustre-acceptance/{NAME}/ok.txt"


def acceptance(*args: str):
    return runner.invoke(app, ["acceptance", "taskexport", "--emulated", "--name", NAME, *args])


def summary(output: str) -> str:
    return output[output.index(f"acceptance of stack taskexport, run {NAME}: ") :]


def test_a_run_that_goes_well_passes_with_its_result_in_s3_nothing_left_and_its_cost():
    result = acceptance()
    assert result.exit_code == 0, result.output
    out = summary(result.output)
    assert out.startswith(f"acceptance of stack taskexport, run {NAME}: PASS")
    assert "  - " not in out  # no reason
    assert re.search(r"run: SUCCEEDED in \d:\d\d:\d\d", out)
    # the bucket the program deployed: Pulumi names it <envName>-data-<7 characters>
    assert re.search(rf"s3://batch-lustre-data-[0-9a-f]{{7}}/{MARKER} is in the bucket, as the job wrote it", out), out
    assert "left behind: nothing" in out
    cost = re.search(
        r"cost: file system (fs-\w+) \(1200 GiB\) lived (\d+\.\d) min until its deletion was accepted = "
        r"(\d+\.\d) GiB-hours \(1200 GiB x \d+\.\d min / 60\); budget 60 min",
        out,
    )
    assert cost, out
    minutes, gib_hours = float(cost.group(2)), float(cost.group(3))
    assert 10 < minutes < 60  # creation, association, the job, the export: well within the budget
    assert gib_hours == pytest.approx(1200 * minutes / 60, abs=1.0)
    # The run itself was the tiny job, drawn live as `batch-lustre run` draws it.
    assert f"writes /scratch/{MARKER}" in result.output and "1 vCPU, 2048 MiB" in result.output
    assert "CreateLustreFileSystem" in result.output and "DeleteFSx" in result.output


def test_an_export_that_fails_fails_the_check_naming_the_kept_file_system_and_what_it_still_costs():
    result = acceptance("--scenario", "export-fails")
    assert result.exit_code == 1, result.output
    out = summary(result.output)
    assert out.startswith(f"acceptance of stack taskexport, run {NAME}: FAIL")
    reasons = [line for line in out.splitlines() if line.startswith("  - ")]
    assert reasons[0].startswith("  - the run ended FAILED: ExportNotConfirmed: File system fs-")
    assert any(
        re.search(rf"left behind by run {NAME}: file system taskexport-[0-9a-f]{{8}}-{NAME} fs-", r)
        and "(AVAILABLE; run ended with ExportNotConfirmed)" in r
        and "batch-lustre sweep taskexport" in r
        for r in reasons
    ), reasons
    assert any(f"{MARKER} is not in the bucket" in r for r in reasons), reasons
    # The run failed: its run-cleanup execution was waited for; it left the kept file system alone.
    assert re.search(r"run cleanup: \S+ SUCCEEDED: file system not deleted", out)
    assert re.search(
        r"cost: file system fs-\w+ \(1200 GiB\) has lived \d+\.\d min so far = \d+\.\d GiB-hours, and "
        r"still exists \(AVAILABLE\): it bills until it is deleted \(batch-lustre sweep taskexport\)",
        out,
    )


def test_past_the_budget_the_run_is_stopped_its_run_cleanup_deletes_the_file_system_and_the_check_fails():
    result = acceptance("--budget-fs-minutes", "1")
    assert result.exit_code == 1, result.output
    out = summary(result.output)
    assert out.startswith(f"acceptance of stack taskexport, run {NAME}: FAIL")
    assert "  - the file system lived longer than --budget-fs-minutes=1: the run was stopped (StopExecution), " in out
    # ABORTED with the check's Error. (Stopped while a Task of a Parallel branch is under way, the emulation may
    # instead end the run FAILED with States.Runtime; either way it ended, and its run cleanup cleaned up.)
    assert re.search(r"run: (ABORTED: AcceptanceBudgetExceeded|FAILED: States\.Runtime) in ", out), out
    assert re.search(r"stopped the run after its file system lived \d+\.\d min \(--budget-fs-minutes=1\)", out)
    assert re.search(r"run cleanup: \S+ SUCCEEDED: file system deleted", out)
    assert "left behind: nothing" in out  # the run cleanup cleaned up after the stopped run
    assert re.search(r"cost: file system fs-\w+ \(1200 GiB\) lived \d+\.\d min until its deletion was accepted", out)


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        (
            "invalid-capacity",
            "error: lustreStorageCapacity=1000 in the secret of stack taskexport is not accepted by the "
            "acceptance check: accepted 1200 (the smallest SCRATCH_2 file system, the cheapest check); "
            "set it with `batch-lustre params set taskexport lustreStorageCapacity=1200` (and back "
            "after the check)\n",
        ),
        (
            "keep-file-system",
            "error: deleteLustre=false in the secret of stack taskexport is not accepted by the "
            "acceptance check: accepted true (the run's file system would be kept and bill on); set it "
            "with `batch-lustre params set taskexport deleteLustre=true`\n",
        ),
    ],
)
def test_a_secret_not_fit_for_the_check_is_refused_in_one_line_before_anything_starts(scenario, message, monkeypatch):
    from batch_lustre import automation

    monkeypatch.setattr(automation, "start_run", lambda *a, **k: pytest.fail("a run was started"))
    result = acceptance("--scenario", scenario)
    assert result.exit_code == 2, result.output
    assert result.stderr == message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--budget-fs-minutes", "0"],
            "error: --budget-fs-minutes='0' is not accepted: accepted a whole number of minutes, at least 1\n",
        ),
        (
            ["--cleanup-wait-minutes", "soon"],
            "error: --cleanup-wait-minutes='soon' is not accepted: accepted a whole number of minutes, at least 1\n",
        ),
        (
            ["--name", "my run"],
            "error: execution name=\"my run\" is not accepted: accepted 1-80 letters, digits, '-' or '_'\n",
        ),
        (["--scenario", "meteor-strike"], "error: --scenario='meteor-strike' is not accepted: accepted success, "),
    ],
)
def test_bad_flags_are_one_line_exit_2(args, message):
    result = runner.invoke(app, ["acceptance", "taskexport", "--emulated", *args])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_scenario_without_emulated_and_an_unknown_stack_are_one_line_exit_2():
    result = runner.invoke(app, ["acceptance", "taskexport", "--scenario", "export-fails"])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --scenario='export-fails' is not accepted without --emulated: accepted only "
        "with --emulated (a real account does what it does)\n"
    )
    result = runner.invoke(app, ["acceptance", "staging"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: stack 'staging' is not accepted: accepted autoexport, taskexport")


def test_the_job_command_needs_only_sh_and_writes_exactly_the_marker_the_check_looks_for(tmp_path):
    command = automation.acceptance_job_command(NAME)
    assert command[:2] == ["sh", "-c"]
    assert f"/scratch/{MARKER}" in command[2]
    script = command[2].replace("/scratch/", f"{tmp_path}/")  # the container's /scratch, here
    subprocess.run(["sh", "-c", script], check=True, env={"PATH": "/usr/bin:/bin"})
    assert (tmp_path / MARKER).read_bytes() == automation.acceptance_marker_content(NAME)
    assert automation.acceptance_overrides(NAME) == {"command": command, "vcpus": 1, "memory": 2048}
    assert automation.acceptance_overrides(NAME, "v3")["imageTag"] == "v3"


def test_cost_is_capacity_times_minutes_over_sixty():
    import datetime as dt

    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    report = automation.AcceptanceReport(
        "taskexport",
        NAME,
        60,
        "bucket",
        status="SUCCEEDED",
        file_system_id="fs-1",
        capacity_gib=1200,
        fs_created=start,
        fs_delete_accepted=start + dt.timedelta(minutes=30),
        fs_state_at_end="gone",
        fs_counted_until=start + dt.timedelta(minutes=30),
    )
    assert report.fs_minutes == 30.0 and report.gib_hours == 600.0 and not report.fs_still_exists
    assert "lived 30.0 min until its deletion was accepted = 600.0 GiB-hours" in acceptance_module.cost_line(report)


def test_the_account_path_reads_the_outputs_file_and_checks_the_deployed_stack(tmp_path):
    """Without --emulated: stack outputs from a file, clients of the stack's region, the wall clock (moto answers)."""
    import json

    from batch_lustre.automation import deploy_emulated
    from batch_lustre.emulation import BatchScenario, Emulation, Scenario

    files = {MARKER: automation.acceptance_marker_content(NAME)}
    with Emulation(Scenario(batch=BatchScenario.succeeds(files=files))) as emu:
        _, outputs = deploy_emulated(
            emu, "taskexport", runtime_params={"lustreStorageCapacity": 1200}, run_cleanup=True
        )
        path = tmp_path / "outputs.json"
        path.write_text(json.dumps(outputs))
        result = runner.invoke(
            app, ["acceptance", "taskexport", "--outputs-file", str(path), "--name", NAME, "--poll-seconds", "0.2"]
        )
    assert result.exit_code == 0, result.output
    out = summary(result.output)
    assert out.startswith(f"acceptance of stack taskexport, run {NAME}: PASS")
    assert f"{MARKER} is in the bucket, as the job wrote it" in out and "left behind: nothing" in out


def test_if_following_the_run_fails_the_run_is_stopped_rather_than_left_unguarded():
    import boto3
    from conftest import wait_until_held

    class Broken:
        def __init__(self, inner):
            self.inner = inner

        def now(self):
            return self.inner.now()

        def pause(self, seconds):
            for arn in self.inner.running():
                wait_until_held(arn)  # stopped at a Wait, as the emulation stops runs deterministically
            raise ConnectionError("network gone")

    files = {MARKER: automation.acceptance_marker_content(NAME)}
    with automation.emulated(
        "taskexport", scenario="success", job_files=files, runtime_params={"lustreStorageCapacity": 1200}
    ) as stack:
        outputs, clock, region = stack.outputs, automation.SteppedEmulatedTime(stack.emulation), stack.region
        with pytest.raises(automation.AutomationError) as raised:
            automation.run_acceptance(
                "taskexport",
                outputs,
                name=NAME,
                time_source=Broken(clock),
                clients=automation.AcceptanceClients.for_region(region),
            )
        sfn = boto3.client("stepfunctions", region_name=region)
        run = sfn.list_executions(stateMachineArn=outputs["stateMachineArn"])["executions"]
        error = automation.run_error(run[0]["executionArn"], sfn)
    assert str(raised.value) == (
        f"following run {NAME} failed (ConnectionError: network gone): the run was stopped, "
        "its run cleanup cleans up after it"
    )
    # Stopped: ABORTED (or, stopped while a Task of a Parallel branch is under way, FAILED with States.Runtime in
    # the emulation), not left RUNNING.
    assert [(e["name"], e["status"], error) for e in run] in (
        [(NAME, "ABORTED", "AcceptanceCheckFailed")],
        [(NAME, "FAILED", "States.Runtime")],
    )
