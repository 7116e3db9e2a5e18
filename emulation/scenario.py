"""What the emulated AWS does in a run: outcomes and durations, chosen by the test.

Durations are emulated seconds (see ``emulation.clock``). Defaults are realistic
orders of magnitude (AWS_FACTS.md: SCRATCH_2 creation about 5-12 minutes, DRA
creation can exceed 10 minutes, metric period 1 minute), so lifetimes measured
on the emulated clock are meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# File system outcomes of CreateFileSystem.
FS_AVAILABLE = "AVAILABLE"
FS_FAILED = "FAILED"
FS_NEVER_AVAILABLE = "NEVER_AVAILABLE"  # stays CREATING forever

# Data repository association outcomes.
DRA_AVAILABLE = "AVAILABLE"
DRA_MISCONFIGURED_THEN_AVAILABLE = "MISCONFIGURED_THEN_AVAILABLE"
DRA_FAILED = "FAILED"

# Job attempt outcomes.
ATTEMPT_SUCCEEDED = "SUCCEEDED"
ATTEMPT_APP_ERROR = "APP_ERROR"  # the container exits non-zero
ATTEMPT_HOST_EC2 = "HOST_EC2"  # the instance went away (Spot reclaim): "Host EC2 (instance ...) terminated."

# AgeOfOldestQueuedMessage behaviours.
METRIC_FROM_QUEUE = "FROM_QUEUE"  # >0 while auto export has queued files, then 0, then silence
METRIC_NONE = "NONE"  # no datapoints at all (the export queue still drains)
METRIC_NEVER_ZERO = "NEVER_ZERO"  # the queue is stuck: >0 every minute from the first write, forever

DEFAULT_FILES: dict[str, bytes] = {
    "results/output.txt": b"result of the job\n",
    "results/summary.json": b'{"ok": true}\n',
}


@dataclass
class FsxScenario:
    """FSx for Lustre lifecycles."""

    creation_seconds: float = 420.0
    outcome: str = FS_AVAILABLE
    create_error: tuple[str, str] | None = None  # (FSx error code, message) raised by CreateFileSystem
    deletion_seconds: float = 120.0  # DELETING, then gone (DescribeFileSystems: FileSystemNotFound)

    association_seconds: float = 300.0
    association_outcome: str = DRA_AVAILABLE
    misconfigured_seconds: float = 600.0  # time spent MISCONFIGURED before recovering
    association_update_seconds: float = 90.0  # UPDATING after UpdateDataRepositoryAssociation

    import_pending_seconds: float = 5.0
    import_seconds: float = 30.0

    export_pending_seconds: float = 20.0
    export_base_seconds: float = 60.0
    export_seconds_per_file: float = 0.5
    export_outcome: str = "SUCCEEDED"  # or "FAILED"; "SUCCEEDED_WITH_FAILED_FILES" reports FailedCount > 0

    # Auto export: each written file is queued, then reaches S3 after the latency, one at a time.
    auto_export_latency_seconds: float = 45.0
    auto_export_seconds_per_file: float = 1.0


@dataclass
class JobAttempt:
    """One attempt of the Batch job."""

    outcome: str = ATTEMPT_SUCCEEDED
    exit_code: int | None = None  # APP_ERROR: the container's exit code (default 1)
    run_seconds: float = 600.0  # RUNNING time of the attempt (HOST_EC2: time until the host went away)
    files: dict[str, bytes] | None = None  # written under /scratch; None: the scenario's files (none on HOST_EC2)


@dataclass
class BatchScenario:
    """Batch job outcomes and timings. The last attempt repeats if the job is retried more often."""

    attempts: list[JobAttempt] = field(default_factory=lambda: [JobAttempt()])
    files: dict[str, bytes] = field(default_factory=lambda: dict(DEFAULT_FILES))
    submitted_seconds: float = 2.0  # SUBMITTED -> PENDING
    pending_seconds: float = 3.0  # PENDING -> RUNNABLE
    runnable_seconds: float = 180.0  # RUNNABLE -> STARTING (instance launch, user data, ECS agent)
    starting_seconds: float = 45.0  # STARTING -> RUNNING (image pull)
    terminate_seconds: float = 30.0  # a terminated RUNNING job reaches FAILED after this
    update_compute_environment_error: str | None = None  # message of a Batch ClientException

    @classmethod
    def succeeds(cls, run_seconds: float = 600.0, files: dict[str, bytes] | None = None) -> BatchScenario:
        return cls(attempts=[JobAttempt(run_seconds=run_seconds)], files=dict(DEFAULT_FILES if files is None else files))

    @classmethod
    def app_error(cls, exit_code: int = 3, run_seconds: float = 300.0) -> BatchScenario:
        return cls(attempts=[JobAttempt(ATTEMPT_APP_ERROR, exit_code=exit_code, run_seconds=run_seconds)])

    @classmethod
    def host_ec2_then_succeeds(cls, host_failures: int = 2, run_seconds: float = 600.0) -> BatchScenario:
        lost = [JobAttempt(ATTEMPT_HOST_EC2, run_seconds=run_seconds / 2) for _ in range(host_failures)]
        return cls(attempts=[*lost, JobAttempt(run_seconds=run_seconds)])

    @classmethod
    def host_ec2_always(cls, run_seconds: float = 300.0) -> BatchScenario:
        return cls(attempts=[JobAttempt(ATTEMPT_HOST_EC2, run_seconds=run_seconds)])

    def attempt(self, index: int) -> JobAttempt:
        return self.attempts[min(index, len(self.attempts) - 1)]


@dataclass
class MetricsScenario:
    """AWS/FSx AgeOfOldestQueuedMessage (Publisher=AutoExport) datapoints."""

    behaviour: str = METRIC_FROM_QUEUE
    zero_minutes: int = 3  # FROM_QUEUE: minutes of 0 datapoints after the queue drained, then silence


@dataclass(frozen=True)
class Fault:
    """Make the state machine's ``service:action`` call fail with an AWS error code ``times`` times.

    ``operation`` is spelled as in the task's Resource, e.g. ``"fsx:createFileSystem"``.
    """

    operation: str
    code: str
    message: str = "Rate exceeded"
    times: int = 1
    status_code: int = 400


@dataclass
class Scenario:
    fsx: FsxScenario = field(default_factory=FsxScenario)
    batch: BatchScenario = field(default_factory=BatchScenario)
    metrics: MetricsScenario = field(default_factory=MetricsScenario)
    faults: list[Fault] = field(default_factory=list)
