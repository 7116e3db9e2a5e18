"""Every scenario of the catalogue (emulation/catalogue.py), in every mode it applies to, end to end.

Each run starts the real generated state machine on a fresh emulated stack and is judged twice: against
the scenario's own expectation (status, Error, what the Cause or output says, file system kept or not,
what the run saw on its way) and against the rules every run keeps (emulation/catalogue_run.py, module docstring).
A scenario that fails here is a defect of the workflow (or of the emulation), never a reason to relax it.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import pytest

from batch_lustre.emulation.catalogue import SCENARIOS, cases
from batch_lustre.emulation.catalogue_run import ScenarioResult, run_scenario
from batch_lustre.program.asl.states import all_states
from batch_lustre.program.parameters import AUTO_EXPORT, TASK_EXPORT

REQUIRED_SCENARIOS = {  # the scenarios the catalogue must hold, by name, with the modes each must cover
    "success": 2,
    "keep-file-system": 2,
    "invalid-capacity": 2,
    "invalid-type": 2,
    "invalid-unknown-key": 2,
    "invalid-missing-key": 2,
    "secret-not-json": 2,
    "file-system-fails": 2,
    "association-misconfigured": 2,
    "association-fails": 2,
    "file-system-never-available": 2,
    "compute-update-refused": 2,
    "job-fails": 2,
    "spot-reclaimed-then-succeeds": 2,
    "spot-reclaimed-always": 2,
    "export-fails": 1,
    "import-running-at-export": 1,
    "no-metrics": 1,
    "metric-drains-after-job": 1,
    "export-queue-stuck": 1,
    "throttled-describe": 2,
    "throttled-waits": 2,
    "submit-rejected": 2,
    "deploy-during-run": 2,
    "refresh-during-run": 2,
    "job-on-baseline-host": 2,
    "destroy-leaves-nothing-billing": 2,
    "many-runs-at-once": 2,
    "lane-freed-after-abort": 2,
    "lane-owner-ended-without-release": 2,
    "no-lane-available": 2,
}


@functools.cache
@functools.cache
def _as_catalogued(name: str, mode: str) -> ScenarioResult:
    """The scenario run as the catalogue defines it, once per test process (tests below compare against it; none
    changes it)."""
    return run_scenario(name, mode)


@pytest.mark.parametrize(("name", "mode"), cases(), ids=[f"{n}-{m}" for n, m in cases()])
def test_scenario_ends_as_expected_and_keeps_every_rule(name, mode):
    result = _as_catalogued(name, mode)
    assert result.passed, f"{name} ({mode}) got {result.got}, Cause {result.cause!r}:\n" + "\n".join(result.problems)
    assert result.transitions > 0 and result.calls


def test_the_catalogue_holds_every_scenario_of_the_issue_in_the_modes_it_applies_to():
    for name, modes in REQUIRED_SCENARIOS.items():
        assert len(SCENARIOS[name].modes) == modes, name
    assert SCENARIOS["export-fails"].modes == (TASK_EXPORT,)
    assert SCENARIOS["no-metrics"].modes == (AUTO_EXPORT,)
    assert len({n for n, _ in cases()}) == len(SCENARIOS)


def _broken(change: Any):
    def transform(definition: dict[str, Any]) -> dict[str, Any]:
        changed = copy.deepcopy(definition)
        change(changed["States"])
        return changed

    return transform


def test_the_rules_catch_a_file_system_deleted_before_its_data_is_in_s3():
    def skip_export(states: dict[str, Any]) -> None:
        states["AfterJob"] = {"Type": "Pass", "Next": "MarkDataSafe"}

    result = run_scenario("success", TASK_EXPORT, transform=_broken(skip_export))
    assert not result.passed
    assert any("DeleteFileSystem" in v and "accepted while" in v and "not in S3" in v for v in result.violations), (
        result.violations
    )


def test_the_rules_catch_a_cleanup_that_leaves_the_run_s_resources():
    def skip_cleanup(states: dict[str, Any]) -> None:
        states["Cleanup"] = {"Type": "Pass", "Next": "ShouldDeleteLustre"}

    result = run_scenario("success", AUTO_EXPORT, transform=_broken(skip_cleanup))
    assert result.got == "SUCCEEDED" and not result.passed
    text = "\n".join(result.violations)
    assert "launch template left" in text and "ACTIVE job definition left" in text
    assert "compute environment not back on its baseline" in text
    assert any(line.startswith("launch template ") for line in result.leftovers)


def test_the_expectation_catches_a_file_system_kept_without_a_reason():
    def never_delete(states: dict[str, Any]) -> None:
        states["ShouldDeleteLustre"]["Default"] = "Finish"

    # (Without the run cleanup, which would delete a file system whose data is safe after the run fails.)
    result = run_scenario("success", TASK_EXPORT, transform=_broken(never_delete), with_run_cleanup=False)
    assert not result.passed
    assert any("left and the run's Cause does not say it was kept" in v for v in result.violations)
    assert any("kept, expected deleted" in m for m in result.mismatches)


# --- Each AWS rule the emulation enforces (docs/aws-rules.md) fails a workflow that breaks it ---------------
# The workflow as built keeps the rule: the scenario of the same name passes
# (test_scenario_ends_as_expected_and_keeps_every_rule).


def _nested(change: Any):
    """A transform that changes states anywhere in the definition, Parallel branches included."""

    def transform(definition: dict[str, Any]) -> dict[str, Any]:
        changed = copy.deepcopy(definition)
        change(all_states(changed))
        return changed

    return transform


def _without_s3(policy: dict[str, Any]) -> dict[str, Any]:
    """The state machine's policy as the first build made it: no S3 permission at all."""
    statements = [
        s
        for s in policy["Statement"]
        if not any(str(a).startswith("s3:") for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))
    ]
    assert len(statements) < len(policy["Statement"]), "the fixed policy grants S3 access"
    return {**policy, "Statement": statements}


@pytest.mark.parametrize("mode", [TASK_EXPORT, AUTO_EXPORT])
def test_without_s3_access_fsx_refuses_the_association_as_it_would_on_aws(mode):
    result = run_scenario("success", mode, policy_transform=_without_s3)
    assert result.got == "FAILED: CreateDataRepositoryAssociationFailed", result.got
    assert "unable to validate access to the S3 bucket" in (result.cause or "")
    assert not result.leftovers, result.leftovers  # the run still cleaned up after itself


def test_a_run_that_hits_the_history_limit_leaves_its_file_system_without_the_run_cleanup():
    result = run_scenario("history-limit", TASK_EXPORT, with_run_cleanup=False)
    assert result.error == "States.Runtime"
    assert any("without its cleanup, and no run cleanup followed" in v for v in result.violations)
    assert any(line.startswith("file system ") for line in result.leftovers)


def test_a_runtime_error_skips_cleanup_and_the_run_cleanup_undoes_it():
    def read_past_the_result(states: dict[str, Any]) -> None:  # [1] of a one-element list: States.Runtime
        states["CheckFileSystemStatus"]["ResultSelector"]["Lifecycle.$"] = "$.FileSystems[1].Lifecycle"

    broken = run_scenario("success", TASK_EXPORT, transform=_nested(read_past_the_result), with_run_cleanup=False)
    assert broken.error == "States.Runtime" and any(line.startswith("file system ") for line in broken.leftovers)
    cleaned = run_scenario("success", TASK_EXPORT, transform=_nested(read_past_the_result))
    assert cleaned.error == "States.Runtime"
    assert [c.status for c in cleaned.run_cleanups] == ["SUCCEEDED"] and not cleaned.leftovers, cleaned.leftovers
    assert not cleaned.violations, cleaned.violations


def test_an_aborted_run_leaves_its_resources_without_the_run_cleanup():
    result = run_scenario("aborted-during-job", TASK_EXPORT, with_run_cleanup=False)
    assert result.status == "ABORTED"
    assert any("without its cleanup" in v for v in result.violations)
    assert any(line.startswith("file system ") for line in result.leftovers)


def test_without_the_compute_environment_wait_an_invalid_environment_costs_the_runnable_timeout():
    def submit_without_waiting(states: dict[str, Any]) -> None:
        for name in ("UpdateComputeEnvironment", "UpdateComputeEnvironmentWithoutWarming"):
            states[name]["Next"] = "CreateJobDefinition"

    before = run_scenario("compute-environment-invalid", TASK_EXPORT, transform=_nested(submit_without_waiting))
    after = _as_catalogued("compute-environment-invalid", TASK_EXPORT)
    assert before.error != "ComputeEnvironmentInvalid" and not before.passed
    assert after.passed and after.error == "ComputeEnvironmentInvalid"
    assert after.emulated_seconds < before.emulated_seconds


def test_without_the_watchdog_a_job_stuck_runnable_bills_until_the_job_timeout():
    def no_watchdog(states: dict[str, Any]) -> None:
        states["CheckJobStarted"].clear()
        states["CheckJobStarted"].update({"Type": "Succeed"})

    before = run_scenario("no-capacity", TASK_EXPORT, transform=_nested(no_watchdog))
    after = _as_catalogued("no-capacity", TASK_EXPORT)
    assert not before.passed and before.error == "JobTimedOut", before.got  # terminated at jobTimeoutMinutes
    assert after.passed
    assert before.emulated_seconds > 24 * 3600 > 3600 > after.emulated_seconds


def test_a_host_that_fails_its_mount_is_stopped_not_terminated_without_the_shutdown_behaviour():
    def default_shutdown(states: dict[str, Any]) -> None:
        del states["CreateLaunchTemplate"]["Parameters"]["LaunchTemplateData"]["InstanceInitiatedShutdownBehavior"]

    result = run_scenario("mount-fails", TASK_EXPORT, transform=_nested(default_shutdown))
    assert any("instances left stopped" in v for v in result.violations), result.violations


def test_counting_quiet_metrics_as_drained_deletes_files_that_are_not_in_s3():
    def quiet_means_drained(states: dict[str, Any]) -> None:  # the first build's rule
        # CheckMetrics ends its wait on "fallback" (no datapoint since the job ended): deleting then, instead of
        # exporting what is pending, is the first build's "quiet means drained".
        states["IsExportDone"]["Default"] = "MarkDataSafe"

    result = run_scenario("no-metrics-slow-export", AUTO_EXPORT, transform=_nested(quiet_means_drained))
    assert any("accepted while" in v and "not in S3" in v for v in result.violations), result.violations


@pytest.mark.parametrize(("prefix", "suffix"), [("Fsx", True), ("fsx", True), ("FSx", False)])
def test_branches_on_error_names_hold_whatever_the_fsx_prefix_spelling(prefix, suffix):
    """CreateDataRepositoryTask refused while the import runs (DataRepositoryTaskExecuting), then DeleteFileSystem
    refused while a task runs (BadRequest): both branches hold under each spelling AWS might use."""
    from batch_lustre.emulation import error_names

    with error_names.spelling(prefix, exception_suffix=suffix):
        result = run_scenario("import-running-at-export", TASK_EXPORT)
    assert result.passed, result.problems


# The time targets (docs/workflow-v2.md), on the figures `batch-lustre scenarios NAME --mode M --json` prints (emulated, realistic
# durations; README "The figures of a run"): the default run of each mode, and a 24-hour job's transitions.
TRANSITIONS_TARGET = 60


@pytest.mark.parametrize("mode", [TASK_EXPORT, AUTO_EXPORT])
def test_the_default_run_meets_the_time_targets(mode):
    figures = _as_catalogued("success", mode).figures
    assert figures is not None and figures["status"] == "SUCCEEDED", figures
    assert figures["association_available_before_job_s"] <= 60, figures
    assert figures["after_job_until_export_requested_s"] <= 5, figures
    assert figures["after_export_done_until_delete_requested_s"] <= 30, figures
    assert figures["transitions"] <= TRANSITIONS_TARGET, figures


@pytest.mark.parametrize("mode", [TASK_EXPORT, AUTO_EXPORT])
def test_a_day_long_job_costs_no_more_transitions_than_the_target(mode):
    figures = _as_catalogued("day-long-job", mode).figures
    assert figures is not None and figures["status"] == "SUCCEEDED", figures
    assert figures["fs_lifetime_s"] > 24 * 3600, figures  # the job did run a day
    assert figures["transitions"] <= TRANSITIONS_TARGET, figures


# --- transient errors in the waits, and a refused SubmitJob ------------------------------------------------------


@pytest.mark.parametrize("mode", [TASK_EXPORT, AUTO_EXPORT])
def test_every_wait_call_met_more_failed_attempts_in_a_row_than_boto3_absorbs(mode):
    from batch_lustre.emulation.catalogue import BURST, WAIT_CALLS

    result = _as_catalogued("throttled-waits", mode)
    faulted = {call for _, _, call, _ in result.lambda_faults}
    waits = {"fsx:DescribeDataRepositoryTasks"} if mode == TASK_EXPORT else {"cloudwatch:GetMetricData"}
    assert set(WAIT_CALLS) - {"fsx:DescribeDataRepositoryTasks", "cloudwatch:GetMetricData"} | waits <= faulted
    assert len(BURST) > 3  # lambda/aws_calls.py: 3 attempts per call
    assert result.status == "SUCCEEDED" and not result.leftovers


@pytest.mark.parametrize("mode", [TASK_EXPORT, AUTO_EXPORT])
def test_a_refused_submit_stops_the_watchdog_and_deletes_the_file_system_within_a_minute(mode):
    result = _as_catalogued("submit-rejected", mode)
    visits = {v.name: v for v in result.timeline}
    refused_at = visits["SubmitJob"].exited
    assert refused_at is not None and visits["DeleteFSx"].entered - refused_at <= 60
    watchdog = [
        at
        for at, fn, call in result.function_calls
        if "-wait-for-" in fn and call in ("batch:ListJobs", "batch:DescribeJobs")
    ]
    assert not [at for at in watchdog if at > refused_at + 1], (refused_at, watchdog)
    assert "AfterJob" not in visits  # nothing ran: no export of nothing


# --- the lanes (emulation/catalogue_lane_runs.py) ----------------------------------------------------------------


def test_many_runs_at_once_reports_the_line_s_figures():
    figures = _as_catalogued("many-runs-at-once", TASK_EXPORT).figures
    assert (figures["runs_succeeded"], figures["runs_refused"]) == (10, 0)
    # 10 runs on 3 lanes go in at least 4 rounds: the line takes at least 4 runs' time, and some run waited.
    assert figures["makespan_s"] >= 4 * figures["one_run_s"] * 0.9 and figures["longest_lane_wait_s"] > 0


def test_the_lane_rules_catch_runs_that_share_a_lane():
    def no_line(states: dict[str, Any]) -> None:
        # Every run goes straight to lane 0 (no look at the table), and its write takes the lane whoever holds it.
        lane = states["FindLane"]["Parameters"]["Payload"]["lanes"][0]
        states["FindLane"].clear()
        states["FindLane"].update(
            {"Type": "Pass", "Result": {"Last": {"Lane": lane, "Ended": "-"}}, "ResultPath": "$.polls.lane"}
        )
        states["FindLane"]["Next"] = "TakeLane"
        take = states["TakeLane"]["Parameters"]
        take["ConditionExpression"] = "attribute_not_exists(#nothing) OR #owner = :ended"
        take["ExpressionAttributeNames"] = {"#nothing": "nothing", "#owner": "owner"}

    # Two runs on one lane (run-1 holds it for an hour): without the line, run-2 takes it at once.
    result = run_scenario("no-lane-available", TASK_EXPORT, transform=_nested(no_line))
    assert not result.passed
    assert any(
        "with no restore between" in v or "was not on the run's launch template" in v for v in result.violations
    ), result.violations
