"""The named scenarios: what the emulated AWS does in a run, and what the run must end with.

One catalogue for everything that runs a scenario: ``batch-lustre demo --scenario NAME``,
``batch-lustre scenarios`` and ``tests/test_scenarios.py``. Each entry says which modes it
applies to, how the emulated AWS behaves (an ``emulation.Scenario``), the secret's content
(run-time parameters, or a broken secret text), how many executions start, and per mode
what is expected: final status, Error, fragments of the Cause (or of the output), whether the
file system is kept, and what the run must have seen on its way.

The rules every run must keep whatever its scenario (no per-run launch template or job
definition left, compute environment back on its baseline, a file system kept only when
deleteLustre=false or its data is not in S3, every file the job wrote in the bucket before
DeleteFileSystem) are checked by ``emulation.catalogue_run``, not repeated here.

This module itself needs only the scenario dataclasses and ``parameters`` (importing it still loads the
``emulation`` package, hence moto: the command line imports it only when a scenario is asked for).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from batch_lustre.emulation.error_names import HISTORY_LIMIT_ERROR
from batch_lustre.emulation.scenario import (
    ATTEMPT_HOST_EC2,
    DEFAULT_FILES,
    DRA_FAILED,
    DRA_MISCONFIGURED_THEN_AVAILABLE,
    FS_FAILED,
    FS_NEVER_AVAILABLE,
    INTERNAL_ERROR,
    METRIC_NEVER_ZERO,
    METRIC_NONE,
    READ_TIMEOUT,
    SERVER_ERROR,
    THROTTLE,
    BatchScenario,
    Fault,
    FsxScenario,
    JobAttempt,
    LambdaFault,
    MetricsScenario,
    Scenario,
)
from batch_lustre.program.asl.naming import FILE_SYSTEM_PATH
from batch_lustre.program.asl.states import LAMBDA_RETRY_ATTEMPTS, RETRY_WRITE, all_states
from batch_lustre.program.parameters import AUTO_EXPORT, MODES, TASK_EXPORT, parameters_for

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

REFUSED = "ConcurrentRunRefused"
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

    def expectation(self, mode: str) -> Expected:
        """What a run in ``mode`` must end with (for two runs: the run that goes ahead)."""
        return self.expected_by_mode.get(mode, self.expected)

    def expected_label(self, mode: str) -> str:
        """The expected outcome in one line, as the scenario table shows it."""
        if self.runs == SECOND_WHILE_FIRST_RUNS:
            return f"first {self.expectation(mode).label}; second FAILED: {REFUSED}"
        if self.runs == BOTH_AT_ONCE:
            return f"at most one {self.expectation(mode).label}; the other(s) FAILED: {REFUSED}"
        expected = self.expectation(mode)
        if expected.run_cleanup:
            return f"{expected.label}; run cleanup {expected.run_cleanup}"
        return expected.label

    def secret_string(self, mode: str) -> str | None:
        return None if self.secret is None else self.secret(mode)


def default_secret(mode: str) -> dict[str, Any]:
    """Every run-time parameter of ``mode`` at its default (the secret as `pulumi up` writes it)."""
    return {p.name: p.defaults[mode] for p in parameters_for(mode, runtime=True)}


def _secret_with(**changes: Any) -> Callable[[str], str]:
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


def _malformed_json(mode: str) -> str:
    return json.dumps(default_secret(mode))[:-1] + ',\n  "deleteLustre": tru'


def _invalid(*fragments: str) -> Expected:
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

SCENARIOS: dict[str, NamedScenario] = {
    # --- the happy path and its variants -------------------------------------------------------
    "success": NamedScenario(
        "everything works: file system, job, export, cleanup",
        Scenario,
        expected=Expected(says=('"FileSystemDeleted": true',)),
    ),
    "day-long-job": NamedScenario(
        "a job that runs 24 hours (jobTimeoutMinutes=1500): the run costs as many state transitions as a "
        "10-minute job, and the file system is deleted right after the export",
        lambda: Scenario(batch=BatchScenario.succeeds(run_seconds=24 * 3600.0)),
        runtime_params={"jobTimeoutMinutes": 1500},
        expected=Expected(says=('"FileSystemDeleted": true',)),
    ),
    "keep-file-system": NamedScenario(
        "deleteLustre=false: the results reach S3 and the file system is kept, as asked",
        Scenario,
        runtime_params={"deleteLustre": False},
        expected=Expected(
            keeps_file_system=True, says=('"FileSystemDeleted": false', '"Reason": "deleteLustre=false"')
        ),
    ),
    # --- the secret ---------------------------------------------------------------------------
    "invalid-capacity": NamedScenario(
        "the secret asks for lustreStorageCapacity=1000 (SCRATCH_2 takes 1200, 2400, n x 2400): refused at once",
        Scenario,
        runtime_params={"lustreStorageCapacity": 1000},
        expected=_invalid("lustreStorageCapacity=1000 is not accepted", "1200, 2400"),
    ),
    "invalid-type": NamedScenario(
        'the secret holds jobDefinitionVcpus="lots" (not an integer): refused at once',
        Scenario,
        runtime_params={"jobDefinitionVcpus": "lots"},
        expected=_invalid('jobDefinitionVcpus="lots" is not accepted'),
    ),
    "invalid-vcpus-over-max": NamedScenario(
        "the job asks for more vCPUs than the compute environment's maximum (it would wait forever): refused",
        Scenario,
        runtime_params={"jobDefinitionVcpus": 512},
        expected=_invalid("jobDefinitionVcpus=512 is not accepted", "computeEnvironmentMaxvCpus=256"),
    ),
    "invalid-unknown-key": NamedScenario(
        "the secret holds a misspelt key (deleteLustreFs): refused, naming the accepted keys",
        Scenario,
        secret=_secret_with(deleteLustreFs=False),
        expected=_invalid("deleteLustreFs is not a parameter of the secret", "accepted keys"),
    ),
    "invalid-missing-key": NamedScenario(
        "the secret lacks jobTimeoutMinutes: refused, naming what is accepted",
        Scenario,
        secret=_secret_with(jobTimeoutMinutes=None),
        expected=_invalid("jobTimeoutMinutes is missing"),
    ),
    "invalid-auto-export-off": NamedScenario(
        "autoExport=false in the autoexport stack (nothing would reach S3): refused",
        Scenario,
        modes=(AUTO_EXPORT,),
        runtime_params={"autoExport": False},
        expected=_invalid("autoExport=false is not accepted in mode autoexport"),
    ),
    "secret-not-json": NamedScenario(
        "the secret's text is not valid JSON (a hand edit gone wrong): refused, naming the position only",
        Scenario,
        secret=_malformed_json,
        expected=_invalid("secret content is not valid JSON", "line "),
    ),
    # --- the file system and its association --------------------------------------------------
    "file-system-fails": NamedScenario(
        "the file system becomes FAILED while being created: nothing ran, nothing to keep",
        lambda: Scenario(fsx=FsxScenario(outcome=FS_FAILED)),
        expected=Expected("FAILED", "FileSystemFailed", says=(FS, "became FAILED")),
    ),
    "file-system-refused": NamedScenario(
        "CreateFileSystem is refused (service quota): the run fails before creating anything",
        lambda: Scenario(fsx=FsxScenario(create_error=("ServiceLimitExceeded", "Total storage limit reached"))),
        expected=Expected(
            "FAILED",
            "CreateLustreFileSystemFailed",
            says=("ServiceLimitExceeded",),
            call_errors=("fsx:createFileSystem:ServiceLimitExceeded",),
            creates_nothing=True,
        ),
    ),
    "file-system-never-available": NamedScenario(
        "the file system stays CREATING: the run gives up after lustreCreationTimeoutMinutes and deletes it",
        lambda: Scenario(fsx=FsxScenario(outcome=FS_NEVER_AVAILABLE)),
        runtime_params=NEVER_AVAILABLE_PARAMS,
        expected=Expected(
            "FAILED",
            "LustreCreationTimedOut",
            says=(FS, "lustreCreationTimeoutMinutes=30", "last file system state CREATING"),
        ),
    ),
    "association-misconfigured": NamedScenario(
        "the data repository association is MISCONFIGURED for 10 minutes, then AVAILABLE: the run waits, succeeds",
        lambda: Scenario(fsx=FsxScenario(association_outcome=DRA_MISCONFIGURED_THEN_AVAILABLE)),
        expected=Expected(
            saw=(
                ("CheckDataRepositoryAssociation", "polls.fileSystem.Seen.association", "MISCONFIGURED"),
                ("CheckDataRepositoryAssociation", "polls.fileSystem.Last.AssociationLifecycle", "AVAILABLE"),
            )
        ),
    ),
    "association-fails": NamedScenario(
        "the data repository association becomes FAILED: the run fails before the job, the file system is deleted",
        lambda: Scenario(fsx=FsxScenario(association_outcome=DRA_FAILED)),
        expected=Expected("FAILED", "DataRepositoryAssociationFailed", says=(FS, "became FAILED")),
    ),
    # --- Batch ----------------------------------------------------------------------------------
    "compute-update-refused": NamedScenario(
        "Batch refuses to switch the compute environment to the run's launch template",
        lambda: Scenario(batch=BatchScenario(update_compute_environment_error="Cannot update: environment INVALID")),
        expected=Expected(
            "FAILED",
            "UpdateComputeEnvironmentFailed",
            says=("Cannot update: environment INVALID",),
            call_errors=("batch:updateComputeEnvironment:ClientException",),
        ),
    ),
    "job-fails": NamedScenario(
        "the job's container exits with code 3: its results are exported, then the run fails",
        lambda: Scenario(batch=BatchScenario.app_error(3)),
        expected=Expected(
            "FAILED", "JobFailed", says=("exit code 3", "Its results were exported before cleanup"), job_attempts=1
        ),
    ),
    "spot-reclaimed-then-succeeds": NamedScenario(
        "the Spot instance is reclaimed twice (Host EC2 ... terminated); Batch retries the job, which then succeeds",
        lambda: Scenario(batch=BatchScenario.host_ec2_then_succeeds(2)),
        expected=Expected(job_attempts=3),
    ),
    "spot-reclaimed-always": NamedScenario(
        "every attempt loses its Spot instance: the job fails after jobDefinitionRetryAttempts=3",
        lambda: Scenario(batch=BatchScenario.host_ec2_always()),
        runtime_params={"jobDefinitionRetryAttempts": 3},
        expected=Expected("FAILED", "JobFailed", says=("Host EC2 (instance",), job_attempts=3),
    ),
    # --- getting the results into S3 ------------------------------------------------------------
    "export-fails": NamedScenario(
        "the export task FAILS: the file system is kept, as its data is not provably in S3",
        lambda: Scenario(fsx=FsxScenario(export_outcome="FAILED")),
        modes=(TASK_EXPORT,),
        expected=Expected("FAILED", "ExportNotConfirmed", says=(KEPT, "ended FAILED"), keeps_file_system=True),
    ),
    "export-misses-files": NamedScenario(
        "the export task SUCCEEDS but could not export some files: the file system is kept",
        lambda: Scenario(fsx=FsxScenario(export_outcome="SUCCEEDED_WITH_FAILED_FILES")),
        modes=(TASK_EXPORT,),
        expected=Expected(
            "FAILED", "ExportNotConfirmed", says=(KEPT, "could not export 1 files"), keeps_file_system=True
        ),
    ),
    "import-outlasts-association": NamedScenario(
        "the association's IMPORT task ends 30 minutes after the association is AVAILABLE: the job starts only "
        "after it ended, and finds every input object on /scratch",
        lambda: Scenario(
            fsx=FsxScenario(import_seconds=FsxScenario.association_seconds + 1800.0, bucket_objects=dict(INPUTS))
        ),
        expected=Expected(
            saw=(
                ("CheckImportTask", "polls.fileSystem.Seen.importTask", "EXECUTING"),
                ("CheckImportTask", "polls.fileSystem.Last.ImportLifecycle", "SUCCEEDED"),
            ),
            job_sees=tuple(f"{FILE_SYSTEM_PATH}/{key}" for key in INPUTS),
        ),
    ),
    "import-fails": NamedScenario(
        "the association's IMPORT task FAILS: the run ends before the job, naming the task; nothing ran, so the "
        "file system is deleted",
        lambda: Scenario(fsx=FsxScenario(import_outcome="FAILED")),
        expected=Expected("FAILED", "ImportFailed", says=("ended FAILED", "The import task failed")),
    ),
    "large-bucket": NamedScenario(
        "1,000,000 objects under the linked path (the seeds' layout: the whole bucket, every earlier run's results "
        "included): the import takes 500 s more, about 2,000 objects a second, and the job waits for it "
        "(figures: import_s, import_wait_s)",
        lambda: Scenario(fsx=FsxScenario(modelled_objects={"runs/": 999_000, "input/": 1_000})),
        expected=Expected(saw=(("CheckImportTask", "polls.fileSystem.Last.ImportLifecycle", "SUCCEEDED"),)),
    ),
    "large-bucket-input-prefix": NamedScenario(
        "the same bucket in a prefix layout (dataRepositoryInputPrefix=input/): only the 1,000 objects under input/ "
        "are imported, so the import wait stays the size of the inputs (figures: import_s, import_wait_s)",
        lambda: Scenario(fsx=FsxScenario(modelled_objects={"runs/": 999_000, "input/": 1_000})),
        stack_config=PREFIX_LAYOUT,
        expected=Expected(saw=(("CheckImportTask", "polls.fileSystem.Last.ImportLifecycle", "SUCCEEDED"),)),
    ),
    "prefix-layout": NamedScenario(
        "a prefix layout (dataRepositoryInputPrefix=input/, dataRepositoryResultsPrefix=runs/): the job finds the "
        "inputs under /scratch/input, its /scratch/results lands under runs/<run name>/, and an earlier run's "
        "results are neither imported nor touched",
        lambda: Scenario(fsx=FsxScenario(bucket_objects={**INPUTS, **EARLIER_RESULTS})),
        stack_config=PREFIX_LAYOUT,
        expected=Expected(
            says=('"FileSystemDeleted": true',),
            job_sees=tuple(f"{FILE_SYSTEM_PATH}/{key}" for key in INPUTS),
            lands_at=tuple(f"runs/{{run}}/{key.removeprefix('results/')}" for key in DEFAULT_FILES),
            untouched=(*INPUTS, *EARLIER_RESULTS),
        ),
    ),
    "import-running-at-export": NamedScenario(
        "an IMPORT task someone else starts on the file system runs for an hour, past the job's end: the export "
        "task waits for it and is tracked by its own TaskId",
        lambda: Scenario(fsx=FsxScenario(later_import=(120.0, 3600.0))),
        modes=(TASK_EXPORT,),
        expected=Expected(
            call_errors=("fsx:createDataRepositoryTask:DataRepositoryTaskExecuting",),
            saw=(
                ("CheckDataRepositoryTasks", "polls.export.Last.Type", "EXPORT_TO_REPOSITORY"),
                ("CheckDataRepositoryTasks", "polls.export.Last.Lifecycle", "SUCCEEDED"),
            ),
        ),
    ),
    "import-running-at-early-failure": NamedScenario(
        "the run fails before the job (compute environment update refused) while the association's IMPORT task "
        "still runs for an hour: DeleteFileSystem is refused until it ends; the run keeps asking, then deletes",
        lambda: Scenario(
            fsx=FsxScenario(import_seconds=3600.0),
            batch=BatchScenario(update_compute_environment_error="Cannot update: environment INVALID"),
        ),
        expected=Expected(
            "FAILED",
            "UpdateComputeEnvironmentFailed",
            says=("Cannot update: environment INVALID",),
            call_errors=("fsx:deleteFileSystem:BadRequest",),
        ),
    ),
    "import-outlasts-cleanup": NamedScenario(
        "as above, but the IMPORT task runs for 4 hours: after 2 hours of refused deletes the file system is "
        "left, and the run's Cause says so",
        lambda: Scenario(
            fsx=FsxScenario(import_seconds=4 * 3600.0),
            batch=BatchScenario(update_compute_environment_error="Cannot update: environment INVALID"),
        ),
        expected=Expected(
            "FAILED",
            "UpdateComputeEnvironmentFailed",
            keeps_file_system=True,
            says=(
                "Cannot update: environment INVALID",
                "file system " + FS + " was kept: DeleteFileSystem was refused",
            ),
        ),
    ),
    "no-metrics": NamedScenario(
        "the export-queue metric has no datapoints after the job: it proves nothing, so auto export is turned off "
        "and an export task exports what is pending; the file system is deleted once that task succeeded",
        lambda: Scenario(metrics=MetricsScenario(behaviour=METRIC_NONE)),
        modes=(AUTO_EXPORT,),
        expected=Expected(
            saw=(
                ("CheckMetrics", "polls.metrics.Seen.exportQueue", "UNPROVEN"),
                ("CheckDataRepositoryTasks", "polls.export.Last.Lifecycle", "SUCCEEDED"),
            )
        ),
    ),
    "no-metrics-slow-export": NamedScenario(
        "no datapoints at all and a slow auto export (30 minutes a file): quiet metrics prove nothing, so the run "
        "exports with a task instead of deleting files that are not in S3 yet",
        lambda: Scenario(
            metrics=MetricsScenario(behaviour=METRIC_NONE), fsx=FsxScenario(auto_export_latency_seconds=1800.0)
        ),
        modes=(AUTO_EXPORT,),
        expected=Expected(
            saw=(
                ("CheckMetrics", "polls.metrics.Seen.exportQueue", "UNPROVEN"),
                ("CheckDataRepositoryTasks", "polls.export.Last.Lifecycle", "SUCCEEDED"),
            )
        ),
    ),
    "late-datapoints": NamedScenario(
        "auto export is slow (15 minutes a file) and the export-queue metric's datapoints arrive 5 minutes late: the "
        "run calls the export done only once a 0 stamped after the job is seen, never earlier",
        lambda: Scenario(metrics=MetricsScenario.late(5), fsx=FsxScenario(auto_export_latency_seconds=900.0)),
        modes=(AUTO_EXPORT,),
        expected=Expected(saw=(("CheckMetrics", "polls.metrics.Seen.exportQueue", "DRAINED"),)),
    ),
    "metric-drains-after-job": NamedScenario(
        "auto export is slow (15 minutes per file): the metric is above 0 after the job, then 0; the run waits, "
        "then succeeds",
        lambda: Scenario(fsx=FsxScenario(auto_export_latency_seconds=900.0)),
        modes=(AUTO_EXPORT,),
        expected=Expected(
            saw=(
                ("CheckMetrics", "polls.metrics.Seen.exportQueue", "QUEUED"),
                ("CheckMetrics", "polls.metrics.Seen.exportQueue", "DRAINED"),
            )
        ),
    ),
    "export-queue-stuck": NamedScenario(
        "the export-queue metric never reaches 0: after exportTimeoutMinutes auto export is turned off and an "
        "export task exports what is pending; the file system is deleted once that task succeeded",
        lambda: Scenario(metrics=MetricsScenario(behaviour=METRIC_NEVER_ZERO)),
        modes=(AUTO_EXPORT,),
        runtime_params=QUEUE_STUCK_PARAMS,
        expected=Expected(
            saw=(
                ("CheckMetrics", "polls.metrics.Seen.exportQueue", "QUEUED"),
                ("CheckDataRepositoryTasks", "polls.export.Last.Lifecycle", "SUCCEEDED"),
            )
        ),
    ),
    # --- transient errors -----------------------------------------------------------------------
    "throttled-describe": NamedScenario(
        "the state machine's reads, ListExecutions and GetSecretValue, are throttled twice each: the states' Retry "
        "gets through (the status checks are WaitFor's describe calls, retried by boto3 itself)",
        lambda: Scenario(
            faults=[
                Fault("sfn:listExecutions", "ThrottlingException", times=2),
                Fault("secretsmanager:getSecretValue", "ThrottlingException", times=2),
            ]
        ),
        expected=Expected(
            call_errors=("sfn:listExecutions:ThrottlingException", "secretsmanager:getSecretValue:ThrottlingException")
        ),
    ),
    "throttled-create": NamedScenario(
        "CreateFileSystem is throttled twice, then accepted (retried with the same client token: one file system)",
        lambda: Scenario(faults=[Fault("fsx:createFileSystem", "ThrottlingException", times=2)]),
        expected=Expected(call_errors=("fsx:createFileSystem:ThrottlingException",)),
    ),
    "throttled-waits": NamedScenario(
        "every describe call of the waits (file system, association, compute environment, job start, export task or "
        "export-queue metric) is throttled or answered 5xx six times in a row, more than boto3's own 3 attempts "
        "absorb: each wait counts them as not known yet and goes on; and Lambda refuses the run's first six "
        "invocations (its invocation limit), retried as AWS recommends; the run succeeds and deletes the file system",
        lambda: Scenario(
            lambda_faults=[LambdaFault(call, BURST) for call in WAIT_CALLS],
            faults=[Fault("lambda:invoke", "TooManyRequestsException", times=LAMBDA_RETRY_ATTEMPTS, status_code=429)],
        ),
        expected=Expected(
            says=('"FileSystemDeleted": true',),
            call_errors=("lambda:invoke:TooManyRequestsException",),
            saw=(
                ("CheckFileSystemStatus", "polls.fileSystem.Transient.count", 2),
                ("CheckComputeEnvironment", "polls.computeEnvironment.Transient.count", 2),
            ),
        ),
    ),
    "submit-rejected": NamedScenario(
        "Batch refuses SubmitJob (the job queue is gone): the job branch fails at once and the watchdog stops with "
        "it; nothing ran, so nothing is exported; the file system is deleted and the run fails naming Batch's reason",
        lambda: Scenario(faults=[Fault("batch:submitJob", "ClientException", QUEUE_GONE)]),
        expected=Expected(
            "FAILED",
            "JobRefused",
            says=("Batch refused to submit job", QUEUE_GONE),
            call_errors=("batch:submitJob:ClientException",),
        ),
    ),
    # --- the compute environment and the job's start ---------------------------------------------
    "update-answer-lost": NamedScenario(
        "Batch switches the compute environment to the run's launch template, but every answer is lost (HTTP 500 "
        "after the change, every attempt): the run fails as the update failed, and Cleanup still puts the "
        "compute environment back on its baseline before it deletes the run's launch template",
        lambda: Scenario(
            faults=[
                Fault(
                    "batch:updateComputeEnvironment",
                    "ServerException",
                    "We encountered an internal error",
                    times=UPDATE_ATTEMPTS,
                    status_code=500,
                    took_effect=True,
                )
            ]
        ),
        expected=Expected(
            "FAILED",
            "UpdateComputeEnvironmentFailed",
            call_errors=("batch:updateComputeEnvironment:ServerException",),
        ),
    ),
    "compute-environment-updating": NamedScenario(
        "the run starts while the compute environment is still UPDATING (a previous run's restore), and Batch "
        "refuses an update then (not documented either way): the run waits until it is VALID, then switches it to "
        "its launch template and succeeds",
        lambda: Scenario(batch=BatchScenario(refuse_update_while_updating=True)),
        runs=UPDATING_AT_START,
        expected=Expected(
            saw=(("CheckComputeEnvironmentIdle", "polls.computeEnvironment.Seen.computeEnvironmentIdle", "UPDATING"),)
        ),
    ),
    "compute-environment-invalid": NamedScenario(
        "the compute environment goes INVALID on the run's launch template: the run fails at once, before submitting "
        "a job that could never start, and deletes the file system",
        lambda: Scenario(batch=BatchScenario.compute_environment_invalid()),
        expected=Expected("FAILED", "ComputeEnvironmentInvalid", says=("INVALID",)),
    ),
    "no-capacity": NamedScenario(
        "no instance can be had (capacity): the job stays RUNNABLE; after jobRunnableTimeoutMinutes it is "
        "terminated and the file system deleted, instead of billing until jobTimeoutMinutes",
        lambda: Scenario(batch=BatchScenario.no_capacity()),
        expected=Expected("FAILED", "JobStuckRunnable", says=("jobRunnableTimeoutMinutes=20",)),
    ),
    "mount-fails": NamedScenario(
        "every host fails to mount the file system (here: a wrong mount name in the launch template): each host "
        "shuts itself down and is terminated, not stopped; the job never starts and is ended after "
        "jobRunnableTimeoutMinutes",
        Scenario,
        definition_change=lambda d: wrong_mount_name(d),
        expected=Expected("FAILED", "JobStuckRunnable", says=("jobRunnableTimeoutMinutes=20",)),
    ),
    # --- array jobs and per-run inputs -----------------------------------------------------------
    "array-1000": NamedScenario(
        "an array job of 1,000 children sharing the file system, each writing its own results: every child's "
        "output reaches S3",
        lambda: Scenario(batch=BatchScenario(files=dict(ARRAY_FILES))),
        execution_input={"arraySize": 1000},
        expected=Expected(says=('"arraySize": 1000',)),
    ),
    "array-children-fail": NamedScenario(
        "3 of 100 children exit with code 2: the results are exported, the run fails naming how many failed and "
        "the first ones with their exit code",
        lambda: Scenario(
            batch=dataclasses.replace(
                BatchScenario.array_children_fail([7, 42, 99], exit_code=2), files=dict(ARRAY_FILES)
            )
        ),
        execution_input={"arraySize": 100},
        expected=Expected("FAILED", "JobFailed", says=("3 of 100", "#7", "exit code 2")),
    ),
    "array-spot-reclaimed": NamedScenario(
        "Spot reclaims hit 5 of 200 children once each: Batch retries them (Host EC2 ...), the array succeeds",
        lambda: Scenario(
            batch=BatchScenario(
                files=dict(ARRAY_FILES),
                child_attempts={
                    i: [JobAttempt(ATTEMPT_HOST_EC2, run_seconds=120.0), JobAttempt()] for i in (0, 50, 100, 150, 199)
                },
            )
        ),
        execution_input={"arraySize": 200},
        expected=Expected(says=('"arraySize": 200',)),
    ),
    "overrides": NamedScenario(
        "the run's input overrides the command, an environment variable, vCPUs and memory, and the image tag",
        Scenario,
        execution_input={
            "command": ["python", "simulate.py", "--steps", "10"],
            "environment": {"CASE": "a1"},
            "vcpus": 8,
            "memory": 16000,
            "imageTag": "v2",
        },
        job_image_tags=("latest", "v2"),
    ),
    "invalid-override": NamedScenario(
        "the run's input asks for an array of 20,000 children (at most 10,000): refused before anything is created",
        Scenario,
        execution_input={"arraySize": 20000},
        expected=_invalid("arraySize=20000 is not accepted"),
    ),
    "job-image-not-pushed": NamedScenario(
        "the run asks for image tag v3, which was never pushed to the stack's repository: the run fails at its "
        "start, naming the image, before anything is created",
        Scenario,
        execution_input={"imageTag": "v3"},
        expected=Expected(
            "FAILED", "JobImageNotFound", says=(":v3 is not in the repository: push it",), creates_nothing=True
        ),
    ),
    # --- runs that end without reaching their own cleanup ----------------------------------------
    "history-limit": NamedScenario(
        "the run reaches Step Functions' execution-history limit (lowered to 80 events here) while it prepares "
        "the file system and compute: it fails at once, no Catch runs; the run-cleanup state machine deletes the "
        "file system",
        Scenario,
        history_limit=80,
        expected=Expected("FAILED", HISTORY_LIMIT_ERROR, run_cleanup="SUCCEEDED"),
    ),
    "aborted-during-job": NamedScenario(
        "a person stops the run while its job runs: the run ends ABORTED without its Cleanup; the run-cleanup state "
        "machine terminates the job, exports what it wrote, and deletes the file system",
        Scenario,
        runs=ABORT_DURING_JOB,
        expected=Expected("ABORTED", "StoppedByOperator", run_cleanup="SUCCEEDED"),
    ),
    "aborted-while-creating": NamedScenario(
        "a person stops the run while the file system is being created: nothing ran, so the run-cleanup state "
        "machine deletes the file system without an export",
        Scenario,
        runs=ABORT_WHILE_CREATING,
        expected=Expected("ABORTED", "StoppedByOperator", run_cleanup="SUCCEEDED"),
    ),
    "timed-out": NamedScenario(
        "the state machine's own time-out (TimeoutSeconds, 20 minutes here) ends the run during its job: TIMED_OUT; "
        "the run-cleanup state machine terminates the job, exports, and deletes the file system",
        Scenario,
        execution_timeout_seconds=1200,
        expected=Expected("TIMED_OUT", None, run_cleanup="SUCCEEDED"),
    ),
    # --- an operator acting on the stack during a run ---------------------------------------------
    "deploy-during-run": NamedScenario(
        "batch-lustre deploy while the job runs: refused, naming the run; forced, pulumi up sends no change "
        "and the run succeeds with its results in S3",
        Scenario,
        runs=DEPLOY_DURING_JOB,
        expected=Expected(
            says=('"FileSystemDeleted": true',),
            operator_says=("deploy refused: run {run} (arn:aws:states:", "RUNNING since", "forced: pulumi up sent no"),
        ),
    ),
    "refresh-during-run": NamedScenario(
        "batch-lustre refresh while the job runs: refused; forced, the refresh records the run's launch template "
        "and the pulumi up after it leaves it in place (ignore_changes); the run succeeds with its results in S3",
        Scenario,
        runs=REFRESH_DURING_JOB,
        expected=Expected(
            says=('"FileSystemDeleted": true',),
            operator_says=(
                "refresh refused: run {run} (arn:aws:states:",
                "forced: refresh recorded refresh ComputeEnvironment",
                "computeResources.launchTemplate.launchTemplateId",
                "forced: pulumi up sent no change",
            ),
        ),
    ),
    "destroy-leaves-nothing-billing": NamedScenario(
        "deleteLustre=false; batch-lustre destroy while the job runs: refused, naming the run; once the run has "
        "ended: refused, naming the kept file system (copy, then batch-lustre sweep), the job image in the "
        "repository, the results in the bucket and the bucket's protection (protectBucket)",
        Scenario,
        runtime_params={"deleteLustre": False},
        runs=DESTROY_DURING_AND_AFTER,
        expected=Expected(
            keeps_file_system=True,
            says=('"FileSystemDeleted": false',),
            operator_says=(
                "destroy refused: run {run} (arn:aws:states:",
                "destroy refused: 4 thing(s) of stack",
                "file system {fs} (kept by run {run}): copy what you need from it, then delete it with "
                "`batch-lustre sweep -s",
                "(holds 1 image(s)): ECR deletes no repository that holds images",
                "(holds the runs' results (objects or their versions)): S3 deletes no bucket that holds objects",
                "(protected: protectBucket=true, and pulumi destroy deletes no protected resource)",
            ),
        ),
    ),
    "job-on-baseline-host": NamedScenario(
        "a console edit puts the compute environment back on its baseline while the run prepares: the job lands on "
        "a host without the file system, where the baseline made the mount point immutable; it fails to start "
        "(nothing written to the root disk), the run fails saying so, and the file system is deleted",
        Scenario,
        runs=BASELINE_WHILE_PREPARING,
        expected=Expected(
            "FAILED",
            "JobFailed",
            says=("CannotStartContainerError", "mkdir /fsx/scratch: operation not permitted"),
            job_attempts=1,
            operator_says=("manual edit: compute environment back on its baseline launch template",),
        ),
    ),
    # --- two runs on the same stack -------------------------------------------------------------
    "second-run-refused": NamedScenario(
        "a second run starts while the first waits for its file system: the second is refused before creating "
        "anything, the first goes on undisturbed",
        Scenario,
        runs=SECOND_WHILE_FIRST_RUNS,
    ),
    "two-runs-at-once": NamedScenario(
        "two runs start at the same moment: at most one goes ahead (both may be refused), neither clobbers the "
        "other, nothing leaks",
        Scenario,
        runs=BOTH_AT_ONCE,
    ),
}


def wrong_mount_name(definition: dict[str, Any]) -> None:
    """The launch template mounts a name the file system does not answer to (as a wrong MountName would)."""
    data = all_states(definition)["CreateLaunchTemplate"]["Parameters"]["LaunchTemplateData"]
    data["UserData.$"] = data["UserData.$"].replace("$.fs.MountName", "$.fs.FileSystemId")


def scenario_names(mode: str | None = None, *, single_run_only: bool = False) -> list[str]:
    """Scenario names, of ``mode`` only if given (and only those starting one run, if asked)."""
    return [
        name
        for name, s in SCENARIOS.items()
        if (mode is None or mode in s.modes) and (not single_run_only or s.runs == SINGLE)
    ]


def cases() -> list[tuple[str, str]]:
    """Every (scenario, mode) pair of the catalogue, in catalogue order."""
    return [(name, mode) for name, s in SCENARIOS.items() for mode in s.modes]
