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
    # The association's import task: import_seconds, plus one second per IMPORT_OBJECTS_PER_SECOND objects under
    # the linked path (the bucket's objects there, and the modelled ones below).
    import_seconds: float = 30.0
    import_outcome: str = "SUCCEEDED"  # or "FAILED"
    # Objects counted as if they were in the bucket, without creating them (a large bucket in a fast test):
    # key prefix -> how many objects under it.
    modelled_objects: dict[str, int] = field(default_factory=dict)
    # Objects in the bucket when the run starts (key -> body; put there when the association is created, before its
    # import lists them).
    bucket_objects: dict[str, bytes] = field(default_factory=dict)
    # An IMPORT task someone else starts (an operator, a script) on the file system: (seconds after the
    # association's import ended, its duration).
    later_import: tuple[float, float] | None = None

    export_pending_seconds: float = 20.0
    export_base_seconds: float = 60.0
    export_seconds_per_file: float = 0.5
    export_outcome: str = "SUCCEEDED"  # or "FAILED"; "SUCCEEDED_WITH_FAILED_FILES" reports FailedCount > 0

    # Auto export: each written file is queued, then reaches S3 after the latency, one at a time.
    auto_export_latency_seconds: float = 45.0
    auto_export_seconds_per_file: float = 1.0


@dataclass
class JobAttempt:
    """One attempt of the Batch job (of one array child)."""

    outcome: str = ATTEMPT_SUCCEEDED
    exit_code: int | None = None  # APP_ERROR: the container's exit code (default 1)
    run_seconds: float = 600.0  # RUNNING time of the attempt (HOST_EC2: time until the host went away)
    files: dict[str, bytes] | None = None  # written under /scratch; None: the scenario's files (none on HOST_EC2)


# Compute environment outcomes of UpdateComputeEnvironment.
CE_VALID = "VALID"
CE_INVALID = "INVALID"


@dataclass
class BatchScenario:
    """Batch: job outcomes and timings, the compute environment and its hosts.

    Job outcomes: ``attempts`` (the last one repeats if the job is retried more often); an array child
    ``i`` uses ``child_attempts[i]`` when given, else ``attempts``. ``files`` are written under /scratch by
    a succeeding attempt; ``{index}`` in a path (and in the content) is the array index ("0" for a single job).

    Hosts (emulation.batch_hosts): a RUNNABLE job that finds no ready host makes the compute environment launch
    one (``host_boot_seconds``); raising desiredvCpus launches hosts at once (warm capacity). A booted host
    runs its launch template's user data, which tries to mount the file system within its own bound.
    """

    attempts: list[JobAttempt] = field(default_factory=lambda: [JobAttempt()])
    child_attempts: dict[int, list[JobAttempt]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=lambda: dict(DEFAULT_FILES))
    submitted_seconds: float = 2.0  # SUBMITTED -> PENDING
    pending_seconds: float = 3.0  # PENDING -> RUNNABLE
    placement_seconds: float = 5.0  # RUNNABLE -> STARTING once a ready host has room
    starting_seconds: float = 20.0  # STARTING -> RUNNING on a ready host (pull of a small image)
    terminate_seconds: float = 30.0  # a terminated STARTING/RUNNING job reaches FAILED after this
    # Compute environment.
    update_compute_environment_error: str | None = None  # message of a Batch ClientException
    # Batch refuses an update while the environment is UPDATING: not documented either way (docs/aws-rules.md),
    # accepted by default; True shows the workflow does not depend on it.
    refuse_update_while_updating: bool = False
    # At most 50 compute environments and 50 job queues per Region (emulation.batch_quotas); False: no quota.
    enforce_region_quotas: bool = True
    compute_update_seconds: float = 60.0  # UpdateComputeEnvironment: UPDATING this long, then the outcome
    compute_environment_outcome: str = CE_VALID  # of an update onto a launch template other than the original
    compute_environment_invalid_reason: str = (
        "CLIENT_ERROR - The launch template of the compute environment is not valid (emulated)"
    )
    # Hosts.
    capacity_available: bool = True  # False: no instance can be launched (CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY)
    host_boot_seconds: float = 150.0  # launch -> user data starts (instance boot, lustre client install)
    host_vcpus: int = 16  # vCPUs of the smallest host launched (a host covers what it is launched for...)
    max_host_vcpus: int = 96  # ...up to the largest instance the environment's types offer (m5.24xlarge: 96)
    idle_scale_in_seconds: float | None = None  # a ready host idle this long is terminated; None: never
    # Step Functions (batch:submitJob.sync): the task ends this long after the job ended (EventBridge notice).
    sync_notice_seconds: float = 2.0

    @classmethod
    def succeeds(cls, run_seconds: float = 600.0, files: dict[str, bytes] | None = None) -> BatchScenario:
        return cls(
            attempts=[JobAttempt(run_seconds=run_seconds)], files=dict(DEFAULT_FILES if files is None else files)
        )

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

    @classmethod
    def no_capacity(cls) -> BatchScenario:
        """No instance can be launched: every job stays RUNNABLE (CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY)."""
        return cls(capacity_available=False)

    @classmethod
    def compute_environment_invalid(cls, reason: str | None = None) -> BatchScenario:
        """An update onto the run's launch template leaves the compute environment INVALID."""
        sc = cls(compute_environment_outcome=CE_INVALID)
        if reason is not None:
            sc.compute_environment_invalid_reason = reason
        return sc

    @classmethod
    def array_children_fail(cls, failing: list[int], exit_code: int = 3, run_seconds: float = 300.0) -> BatchScenario:
        """Array children ``failing`` exit with ``exit_code``; the others succeed."""
        failed = [JobAttempt(ATTEMPT_APP_ERROR, exit_code=exit_code, run_seconds=run_seconds)]
        return cls(attempts=[JobAttempt(run_seconds=run_seconds)], child_attempts={i: list(failed) for i in failing})

    def attempt(self, index: int, array_index: int | None = None) -> JobAttempt:
        """The plan of attempt ``index`` (0-based) of a job, or of array child ``array_index``."""
        plans = self.child_attempts.get(array_index, self.attempts) if array_index is not None else self.attempts
        return plans[min(index, len(plans) - 1)]


@dataclass
class MetricsScenario:
    """AWS/FSx AgeOfOldestQueuedMessage (Publisher=AutoExport) datapoints.

    ``delay_minutes``: each datapoint becomes visible (GetMetricData returns it) this long after the start of
    its period, stamped with the period's start, as CloudWatch publishes late; 0: at once.
    """

    behaviour: str = METRIC_FROM_QUEUE
    zero_minutes: int = 3  # FROM_QUEUE: minutes of 0 datapoints after the queue drained, then silence
    delay_minutes: int = 0

    @classmethod
    def late(cls, delay_minutes: int = 5) -> MetricsScenario:
        """The queue's datapoints as usual, but each appears ``delay_minutes`` late."""
        return cls(delay_minutes=delay_minutes)

    @classmethod
    def no_datapoints(cls) -> MetricsScenario:
        """No datapoint at all (the queue still drains): nothing proves the export done."""
        return cls(behaviour=METRIC_NONE)

    @classmethod
    def never_zero(cls) -> MetricsScenario:
        """The queue is stuck: above 0 every minute, forever."""
        return cls(behaviour=METRIC_NEVER_ZERO)


@dataclass(frozen=True)
class Fault:
    """Make the state machine's ``service:action`` call fail with an AWS error code ``times`` times.

    ``operation`` is spelled as in the task's Resource, e.g. ``"fsx:createFileSystem"``. ``took_effect``: the
    service acts on the call and its answer is lost (a 5xx or a timeout after the change was made), so the caller
    sees the error although the change happened.
    """

    operation: str
    code: str
    message: str = "Rate exceeded"
    times: int = 1
    status_code: int = 400
    took_effect: bool = False


# Faults in the Lambdas' own calls (emulation/lambda_faults.py): one answer per attempt.
THROTTLE = "throttle"  # HTTP 400, ThrottlingException (Throttling for CloudWatch, its query-compatible code)
SERVER_ERROR = "503"  # HTTP 503, ServiceUnavailable
INTERNAL_ERROR = "500"  # HTTP 500, InternalServerError
READ_TIMEOUT = "read-timeout"  # no answer within the client's read timeout
KINDS = (THROTTLE, SERVER_ERROR, INTERNAL_ERROR, READ_TIMEOUT)


@dataclass(frozen=True)
class LambdaFault:
    """Answer the first attempts of a Lambda's ``service:Operation`` call (botocore's names, e.g.
    ``"fsx:DescribeFileSystems"``) with ``answers`` (``KINDS``), one per attempt, in a row."""

    operation: str
    answers: tuple[str, ...]

    def __post_init__(self) -> None:
        unknown = [a for a in self.answers if a not in KINDS]
        if unknown or ":" not in self.operation:
            raise ValueError(f"LambdaFault {self.operation!r} {unknown}: expected service:Operation and {KINDS}")


@dataclass
class Scenario:
    fsx: FsxScenario = field(default_factory=FsxScenario)
    batch: BatchScenario = field(default_factory=BatchScenario)
    metrics: MetricsScenario = field(default_factory=MetricsScenario)
    faults: list[Fault] = field(default_factory=list)
    lambda_faults: list[LambdaFault] = field(default_factory=list)
