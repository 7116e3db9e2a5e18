"""What the scenario catalogue is made of: the kinds of runs, ``Expected``, ``NamedScenario``, and the values
several scenarios share (``emulation.catalogue`` assembles the scenarios themselves from the themed modules).

This module needs only the scenario dataclasses and ``parameters``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from batch_lustre.emulation.scenario import (
    INTERNAL_ERROR,
    READ_TIMEOUT,
    SERVER_ERROR,
    THROTTLE,
    Scenario,
)
from batch_lustre.program.asl.states import RETRY_WRITE
from batch_lustre.program.parameters import MODES, parameters_for

# How many executions a scenario starts, and when.
SINGLE = "single"
SECOND_WHILE_FIRST_RUNS = "second-while-first-runs"  # the second starts once the first waits (held)
BOTH_AT_ONCE = "both-at-once"  # both start back to back, before either can end
# A person stops the run (StopExecution) once its job runs / while the file system is being created: the run
# ends ABORTED without reaching its Cleanup, and the run-cleanup state machine must clean up after it.
ABORT_DURING_JOB = "abort-during-job"
ABORT_WHILE_CREATING = "abort-while-creating"
# An operator acts on the stack while its run goes (emulation.day2): during the job, a deploy or a refresh
# (refused by the guard, then forced); while the run prepares, a console edit of the compute environment.
DEPLOY_DURING_JOB = "deploy-during-job"
REFRESH_DURING_JOB = "refresh-during-job"
BASELINE_WHILE_PREPARING = "baseline-while-preparing"
UPDATING_AT_START = "updating-at-start"  # the compute environment is UPDATING (a previous run's restore) as it starts
# A destroy during the job (refused by the guard), then once the run has ended (refused by the teardown check).
DESTROY_DURING_AND_AFTER = "destroy-during-and-after"
# Two stacks of the scenario's mode in one account (emulation.catalogue_stacks): both run at once; or the second's
# run is live while ``batch-lustre sweep`` (then with --force) acts on the first, which left a file system.
TWO_STACKS = "two-stacks"
SWEEP_BESIDE_ANOTHER_STACK = "sweep-beside-another-stack"
# Runs in line for the stack's lanes (emulation.catalogue_lane_runs): many started in the same second; a lane holder
# stopped during its job while the next run waits; a lane left held by a run that ended without releasing it; a
# lane held longer than the next run's laneWaitTimeoutMinutes.
MANY_AT_ONCE = "many-at-once"
HOLDER_ABORTED = "holder-aborted"
OWNER_ENDED = "owner-ended-without-release"
LANE_HELD_TOO_LONG = "lane-held-too-long"
LANE_RUNS = (MANY_AT_ONCE, HOLDER_ABORTED, OWNER_ENDED, LANE_HELD_TOO_LONG)

FS = "{fs}"  # in ``says``: the file system id of the run


@dataclass(frozen=True)
class Expected:
    """What one run of a scenario must end with (besides the rules every run keeps)."""

    status: str = "SUCCEEDED"
    error: str | None = None
    # Fragments the Cause (failed run) or the output (succeeded run) must contain; "{fs}": the file system id.
    says: tuple[str, ...] = ()
    keeps_file_system: bool = False
    # (state, dotted path in the state's output, value): seen at least once when the state exited.
    saw: tuple[tuple[str, str, Any], ...] = ()
    call_errors: tuple[str, ...] = ()  # "service:action:Code": calls that failed (and were handled)
    job_attempts: int | None = None  # attempts of the Batch job
    job_sees: tuple[str, ...] = ()  # paths on the file system the job must find when it starts
    creates_nothing: bool = False  # refused before CreateFileSystem
    # What the run-cleanup state machine (started by EventBridge after a run that failed, timed out or was
    # aborted) must end with: None when it must not have run at all, "" when it may or may not have run;
    # otherwise "SUCCEEDED" or "FAILED: <Error>".
    run_cleanup: str | None = ""
    run_cleanup_says: tuple[str, ...] = ()
    failed_children: int | None = None  # array jobs: children that FAILED
    # Fragments of what the operator's actions during the run said (emulation.day2); "{run}": the execution name.
    operator_says: tuple[str, ...] = ()
    # Keys in the bucket once the run ended, each holding what the job wrote there; "{run}": the execution name.
    lands_at: tuple[str, ...] = ()
    # Objects in the bucket before the run (e.g. another run's results) still there with the same content after it.
    untouched: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``SUCCEEDED`` or ``FAILED: <Error>``."""
        return self.status + (f": {self.error}" if self.error else "")


@dataclass(frozen=True)
class NamedScenario:
    description: str
    scenario: Callable[[], Scenario]
    modes: tuple[str, ...] = MODES
    runtime_params: Mapping[str, Any] = field(default_factory=dict)
    # Parameters set in the stack file over Pulumi.<mode>.yaml's before the deploy (e.g. the data layout).
    stack_config: Mapping[str, Any] = field(default_factory=dict)
    secret: Callable[[str], str] | None = None  # mode -> the secret's whole text (a broken secret)
    expected: Expected = field(default_factory=Expected)
    expected_by_mode: Mapping[str, Expected] = field(default_factory=dict)
    runs: str = SINGLE
    execution_input: Mapping[str, Any] = field(default_factory=dict)  # StartExecution input: per-run overrides
    job_image_tags: tuple[str, ...] = ("latest",)  # the job images the user pushed to the repository
    history_limit: int | None = None  # lower Step Functions' 25,000-event history limit for this scenario
    execution_timeout_seconds: int | None = None  # the state machine's TimeoutSeconds
    # A change to the generated definition the scenario needs to happen (e.g. a host that cannot mount).
    definition_change: Callable[[dict[str, Any]], None] | None = None
    label: str | None = None  # the expected outcome in one line, for a scenario whose runs end differently

    def expectation(self, mode: str) -> Expected:
        """What a run in ``mode`` must end with (for two runs: the run that goes ahead)."""
        return self.expected_by_mode.get(mode, self.expected)

    def expected_label(self, mode: str) -> str:
        """The expected outcome in one line, as the scenario table shows it."""
        if self.label is not None:
            return self.label
        if self.runs == SECOND_WHILE_FIRST_RUNS:
            return f"both {self.expectation(mode).label}, the second after waiting for the lane"
        if self.runs == TWO_STACKS:
            return f"both stacks' runs {self.expectation(mode).label}; neither touches the other's resources"
        if self.runs == SWEEP_BESIDE_ANOTHER_STACK:
            return f"{self.expectation(mode).label}; sweep deletes nothing of the other stack's"
        if self.runs == BOTH_AT_ONCE:
            return f"both {self.expectation(mode).label}, one after the other on the lane"
        expected = self.expectation(mode)
        if expected.run_cleanup:
            return f"{expected.label}; run cleanup {expected.run_cleanup}"
        return expected.label

    def secret_string(self, mode: str) -> str | None:
        return None if self.secret is None else self.secret(mode)


def default_secret(mode: str) -> dict[str, Any]:
    """Every run-time parameter of ``mode`` at its default (the secret as `pulumi up` writes it)."""
    return {p.name: p.defaults[mode] for p in parameters_for(mode, runtime=True)}


def secret_with(**changes: Any) -> Callable[[str], str]:
    """The default secret with keys added or changed (a value of None removes the key)."""

    def text(mode: str) -> str:
        values = default_secret(mode)
        for key, value in changes.items():
            if value is None:
                values.pop(key, None)
            else:
                values[key] = value
        return json.dumps(values)

    return text


def malformed_json(mode: str) -> str:
    return json.dumps(default_secret(mode))[:-1] + ',\n  "deleteLustre": tru'


def invalid(*fragments: str) -> Expected:
    return Expected("FAILED", "InvalidParameters", says=fragments, creates_nothing=True)


KEPT = "File system " + FS + " was kept"
# Each child of an array writes its own results ({index}: the child's AWS_BATCH_JOB_ARRAY_INDEX).
ARRAY_FILES: dict[str, bytes] = {"results/{index}/output.txt": b"result of child {index}\n"}
# The run's inputs, in the bucket before it starts.
INPUTS: dict[str, bytes] = {f"input/part-{i}.csv": f"input {i}\n".encode() for i in range(3)}
# A prefix layout (README "Your data"): inputs under input/ at /scratch/input, each run's results under runs/<run>/.
PREFIX_LAYOUT = {"dataRepositoryInputPrefix": "input/", "dataRepositoryResultsPrefix": "runs/"}
# An earlier run's results, in the bucket before the run starts.
EARLIER_RESULTS: dict[str, bytes] = {"runs/earlier-run/output.txt": b"an earlier run's result\n"}
# Short bounds, so a wait that never ends gives up after a few emulated hours at most.
NEVER_AVAILABLE_PARAMS = {"lustreCreationTimeoutMinutes": 30, "waitForLustreCreationSeconds": 120}
QUEUE_STUCK_PARAMS = {"exportTimeoutMinutes": 60, "waitForCheckMetricsSeconds": 300}

# Every describe call the waits make (lambda/wait_for.py, lambda/check_metrics.py), by botocore's names.
WAIT_CALLS = (
    "fsx:DescribeFileSystems",
    "fsx:DescribeDataRepositoryAssociations",
    "batch:DescribeComputeEnvironments",
    "batch:ListJobs",
    "batch:DescribeJobs",
    "fsx:DescribeDataRepositoryTasks",
    "cloudwatch:GetMetricData",
)
# Six failed attempts in a row: twice the 3 attempts boto3 makes of one call (lambda/aws_calls.py), so two whole
# checks fail before one gets an answer.
BURST = (THROTTLE, SERVER_ERROR, THROTTLE, INTERNAL_ERROR, THROTTLE, READ_TIMEOUT)
# What Batch answers a SubmitJob to a job queue that no longer exists (the emulation's wording).
QUEUE_GONE = "Job queue does not exist or is not in a VALID state."
# The run's UpdateComputeEnvironment and its retries, with warm capacity and then without it.
UPDATE_ATTEMPTS = 2 * (1 + RETRY_WRITE.max_attempts)
