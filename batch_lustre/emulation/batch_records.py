"""The emulated Batch's records (jobs, attempts, hosts, compute environments), its constants, and the state and
event clock its parts share (``BatchParts``). The rules and their sources: docs/aws-rules.md, section "Batch"."""

from __future__ import annotations

import re
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batch_lustre.emulation.clock import EmulatedClock
from batch_lustre.emulation.fsx import FsxModel
from batch_lustre.emulation.moto_seam import BatchBackend, JobDefinition, batch_backends
from batch_lustre.emulation.scenario import BatchScenario

JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
JOB_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
BEFORE_STARTING = ("SUBMITTED", "PENDING", "RUNNABLE")
TERMINAL = ("SUCCEEDED", "FAILED")
ARRAY_SIZE_MIN, ARRAY_SIZE_MAX = 2, 10_000
MIN_ATTEMPT_DURATION_SECONDS = 60
ARRAY_INDEX_VARIABLE = "AWS_BATCH_JOB_ARRAY_INDEX"

APP_ERROR_REASON = "Essential container in task exited"
TIMEOUT_REASON = "Job attempt duration exceeded timeout"
# A container whose bind-mount source cannot be created (the Docker daemon creates a missing host path: ECS task
# definition, HostVolumeProperties.SourcePath) never starts: the job's status reason (as for CannotPullContainerError)
# and its container's reason hold Docker's words (Assumed, docs/aws-rules.md, "Batch": nothing depends on them but a
# person reading them).
CANNOT_CREATE_MOUNT_SOURCE = (
    "CannotStartContainerError: Error response from daemon: mkdir {path}: operation not permitted"
)
# A job definition whose awslogs group does not exist (and may not be created): the container is never started.
# Assumed wording (public reports of the ECS agent's error; docs/aws-rules.md, "Batch", "Jobs").
LOG_GROUP_MISSING = (
    "CannotStartContainerError: Error response from daemon: failed to initialize logging driver: failed to create "
    "Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist. ({group})"
)
TIMEOUT_EXIT_CODE = 137  # SIGKILL after the SIGTERM grace period (Batch guide, "Job timeouts")
# Batch guide, "Error message when you update the desiredvCpus setting".
DESIRED_LOWERED_MESSAGE = (
    "Manually scaling down compute environment is not supported. Disconnecting job queues "
    "from compute environment will cause it to scale-down to minvCpus."
)
# Batch guide, "Jobs stuck in a RUNNABLE status" (and its capacity / invalid compute environment pages).
CAPACITY_REASON = (
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity requested for instance type [{}]"
)
MAX_RESOURCE_REASON = (
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - CE(s) associated with the job queue "
    "cannot meet the CPU requirement of the job."
)
JOB_RESOURCE_REASON = (
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) "
    "is higher than that can be met by the CE(s) attached to the job queue."
)
INVALID_CE_REASON = "ACTION_REQUIRED - CE(s) associated with the job queue are invalid."
NOT_MIME_REASON = (
    "CLIENT_ERROR - The launch template user data is not in MIME multi-part archive format "
    "(AWS Batch needs it to merge its own user data)"
)
VALID_REASON = "ComputeEnvironment Healthy"
UPDATING_REASON = "ComputeEnvironment is being updated"
SCALE_IN_REASON = "idle: scaled in by the compute environment"
REPLACED_REASON = "replaced by an infrastructure update of the compute environment"

HOST_BOOTING, HOST_MOUNTING, HOST_READY = "BOOTING", "MOUNTING", "READY"
HOST_STOPPED, HOST_TERMINATED = "STOPPED", "TERMINATED"
HOST_LIVE = (HOST_BOOTING, HOST_MOUNTING, HOST_READY)

LIST_PAGE_WITH_FILTERS, LIST_PAGE = 100, 1000  # Batch API Reference, ListJobs maxResults


@dataclass
class Attempt:
    instance_id: str
    started_at: float | None = None  # RUNNING
    stopped_at: float | None = None
    exit_code: int | None = None
    reason: str | None = None  # container reason
    status_reason: str | None = None
    task_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class MountProblem:
    job_id: str  # "" for a host's own mount failure
    reason: str
    instance_id: str | None = None


@dataclass
class Host:
    """An EC2 instance of a managed compute environment."""

    instance_id: str
    compute_environment_arn: str
    vcpus: int
    generation: int  # the environment's launch template generation it was launched with
    launched_at: float
    warm: bool  # launched for desiredvCpus (not for a queued job)
    script: str = ""  # user data (the shell part, decoded)
    terminate_on_shutdown: bool = False
    state: str = HOST_BOOTING
    ready_at: float | None = None
    ended_at: float | None = None
    end_reason: str | None = None
    file_system_id: str | None = None  # the Lustre file system it mounted
    mount_dir: str | None = None
    immutable_dirs: tuple[str, ...] = ()  # made immutable by its user data (chattr +i): nothing is created in them
    used_vcpus: int = 0
    jobs: set[str] = field(default_factory=set)
    retiring: bool = False  # takes no new job; goes once its jobs ended
    idle_since: float | None = None

    @property
    def free_vcpus(self) -> int:
        return self.vcpus - self.used_vcpus


@dataclass
class ComputeEnvironmentState:
    arn: str
    name: str
    min_vcpus: int
    max_vcpus: int
    desired_vcpus: int
    instance_types: list[str]
    template_data: dict[str, Any] | None  # LaunchTemplateData new hosts launch with (resolved at update)
    template_ref: dict[str, Any] | None  # the launch template as the environment names it
    original_template_ref: dict[str, Any] | None  # at creation
    status: str = "VALID"
    status_reason: str = VALID_REASON
    generation: int = 0
    update_token: int = 0
    hosts: list[Host] = field(default_factory=list)  # live hosts (booting, mounting, ready)
    queue: dict[int, deque[str]] = field(default_factory=dict)  # vCPUs -> job ids waiting for a host (FIFO)
    queued_vcpus: int = 0
    scheduling: bool = False  # a placement pass is running
    again: bool = False  # run the pass once more when it ends


@dataclass
class EmulatedJob:
    job_id: str
    arn: str
    name: str
    queue_arn: str
    job_definition: JobDefinition
    created_at: float
    tags: dict[str, str]
    parameters: dict[str, str]
    timeout: dict[str, int] | None
    status: str = "SUBMITTED"
    status_reason: str | None = None
    started_at: float | None = None
    stopped_at: float | None = None
    attempts: list[Attempt] = field(default_factory=list)
    history: list[tuple[str, float]] = field(default_factory=list)  # (status, emulated second)
    generation: int = 0  # bumped when terminated: scheduled steps of the old plan are ignored
    file_system_id: str | None = None  # where this job's /scratch lives (None: not on Lustre)
    scratch_on_fs: str = "/"  # the container's /scratch as a path on that file system
    files_written: list[str] = field(default_factory=list)
    files_lost: list[str] = field(default_factory=list)  # written to the host's root disk
    files_seen: list[str] = field(default_factory=list)  # on the file system under /scratch when it started RUNNING
    retry_strategy: dict[str, Any] | None = None  # effective: SubmitJob's, else the job definition's
    container_overrides: dict[str, Any] = field(default_factory=dict)
    propagate_tags: bool | None = None
    vcpus: int = 1
    array_size: int | None = None  # an array parent
    array_index: int | None = None  # an array child
    parent_id: str | None = None
    children: list[str] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)  # parent: children by status
    summary_updated_at: float = 0.0
    children_ended: int = 0
    compute_environment_arn: str | None = None
    host_id: str | None = None  # host of the current attempt
    queued: bool = False  # waiting in its environment's queue for a host
    terminate_reason: str | None = None


@dataclass
class BatchParts:
    """The state the parts of the emulated Batch share, and its event clock (batch.py joins the parts)."""

    clock: EmulatedClock
    scenario: BatchScenario
    fsx: FsxModel
    region: str
    account_id: str
    jobs: dict[str, EmulatedJob] = field(default_factory=dict)
    launch_template_history: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    mount_problems: list[MountProblem] = field(default_factory=list)
    environments: dict[str, ComputeEnvironmentState] = field(default_factory=dict)
    hosts: dict[str, Host] = field(default_factory=dict)  # every host ever launched, by instance id
    _depth: int = field(default=0, repr=False)
    _flushing: bool = field(default=False, repr=False)
    _buffer: deque[tuple[float, Callable[[float], None], str]] = field(default_factory=deque, repr=False)

    def backend(self) -> BatchBackend:
        return batch_backends[self.account_id][self.region]

    # --- the clock -----------------------------------------------------------------------------------
    def _sched(self, delay: float, action: Callable[[float], None], label: str = "") -> None:
        """Schedule ``action`` ``delay`` emulated seconds from now.

        ``EmulatedClock.schedule`` runs every event already due, inline; from inside an event that
        would nest one call per simultaneous event (1,000 array children: too deep). Events scheduled
        while one of the model's events runs are buffered and handed to the clock, in order, once it ended.
        """
        at = self.clock.seconds() + max(0.0, delay)
        wrapped = self._wrapped(action)
        if self._depth > 0 or self._flushing:
            self._buffer.append((at, wrapped, label))
        else:
            self.clock.schedule(at, wrapped, label)

    def _wrapped(self, action: Callable[[float], None]) -> Callable[[float], None]:
        def run(at: float) -> None:
            self._depth += 1
            try:
                action(at)
            finally:
                self._depth -= 1
            if self._depth == 0:
                self._flush()

        return run

    def _flush(self) -> None:
        if self._flushing:
            return
        self._flushing = True
        try:
            while self._buffer:
                at, action, label = self._buffer.popleft()
                self.clock.schedule(at, action, label)
        finally:
            self._flushing = False

    # --- calls between the parts, each defined in its part (batch_environments, batch_hosts, batch_jobs) ---------
    def environment(self, identifier: str) -> ComputeEnvironmentState:
        raise NotImplementedError

    def _warm(self, ce: ComputeEnvironmentState, at: float) -> None:
        raise NotImplementedError

    def _host_size(self, vcpus: int) -> int:
        raise NotImplementedError

    def _launch(self, ce: ComputeEnvironmentState, vcpus: int, *, warm: bool, at: float) -> Host:
        raise NotImplementedError

    def _host_ended(self, host: Host, state: str, reason: str, at: float) -> None:
        raise NotImplementedError

    def _idle_check(self, host: Host) -> None:
        raise NotImplementedError

    def _schedule(self, ce: ComputeEnvironmentState) -> None:
        raise NotImplementedError

    def get(self, identifier: str) -> EmulatedJob | None:
        return self.jobs.get(identifier) or self.jobs.get(identifier.rsplit("job/", 1)[-1])
