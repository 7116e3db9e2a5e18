"""AWS Batch without docker: compute environment, hosts, jobs and array jobs on the emulated clock.

moto's Batch runs jobs in docker (or, with ``use_docker=False``, marks them SUCCEEDED at
once) and ignores compute environment updates. Here moto's backend and responses are
patched (``install``) so that:

- UpdateComputeEnvironment puts the environment in ``UPDATING`` for
  ``BatchScenario.compute_update_seconds``, then ``VALID`` (or ``INVALID``: by scenario, or when
  the launch template's user data is not MIME multipart). desiredvCpus cannot be lowered and must
  be within min/max (ClientException). DescribeComputeEnvironments shows status, statusReason and
  the current desiredvCpus.
- Hosts (EC2 instances of the environment) are modelled: raising desiredvCpus launches hosts (warm
  capacity); a RUNNABLE job with no room on a ready host makes the environment launch one. A host
  boots (``host_boot_seconds``), then runs its launch template's user data: it tries to mount the
  Lustre file system it names (``parse_lustre_mount``) as often as the user data's retry loop says
  (``parse_mount_retry``), and is ready as soon as the mount succeeds. A host whose mount never
  succeeds shuts itself down: terminated if the template says
  ``InstanceInitiatedShutdownBehavior: terminate``, else STOPPED (EC2's default), which is a leftover
  (``BatchModel.stopped_instances``). Without capacity (``capacity_available=False``) nothing launches.
- Jobs go SUBMITTED -> PENDING -> RUNNABLE -> STARTING -> RUNNING -> SUCCEEDED|FAILED, placed on a
  ready host with room (vCPUs), with ``attempts[]`` (container exit code, statusReason), the retry
  strategy (submit or job definition; attempts, evaluateOnExit) and the attempt timeout
  (``attemptDurationSeconds``: not retried) applied as AWS Batch documents them. A RUNNING attempt
  writes the scenario's files onto the file system its host mounted.
- Array jobs (``arrayProperties.size`` 2..10,000): a parent and ``size`` children ``<id>:<index>``,
  each with ``AWS_BATCH_JOB_ARRAY_INDEX``; the parent is PENDING once a child is RUNNABLE, SUCCEEDED
  if every child succeeded, FAILED otherwise, once all ended; ``arrayProperties.statusSummary``.
- ListJobs by queue (jobStatus, or one filter: any status, newest first) or by array job id, paged;
  TerminateJob/CancelJob (of a parent: of its children).

Rules and their sources: docs/aws-rules.md, section "Batch".
"""

from __future__ import annotations

import base64
import json
import math
import re
import uuid
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from moto.batch.exceptions import ClientException
from moto.batch.models import BatchBackend, JobDefinition, batch_backends
from moto.batch.responses import BatchResponse
from moto.ec2.models import ec2_backends

from asl.naming import CONTAINER_SCRATCH_DIR
from batch_lustre.emulation.clock import EmulatedClock
from batch_lustre.emulation.fsx import FsxModel
from batch_lustre.emulation.scenario import (
    ATTEMPT_APP_ERROR,
    ATTEMPT_HOST_EC2,
    ATTEMPT_SUCCEEDED,
    CE_INVALID,
    BatchScenario,
)

JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
JOB_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
BEFORE_STARTING = ("SUBMITTED", "PENDING", "RUNNABLE")
TERMINAL = ("SUCCEEDED", "FAILED")
ARRAY_SIZE_MIN, ARRAY_SIZE_MAX = 2, 10_000
MIN_ATTEMPT_DURATION_SECONDS = 60
ARRAY_INDEX_VARIABLE = "AWS_BATCH_JOB_ARRAY_INDEX"

APP_ERROR_REASON = "Essential container in task exited"
TIMEOUT_REASON = "Job attempt duration exceeded timeout"
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
class BatchModel:
    clock: EmulatedClock
    scenario: BatchScenario
    fsx: FsxModel
    region: str
    account_id: str
    jobs: dict[str, EmulatedJob] = field(default_factory=dict)
    launch_template_history: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    mount_problems: list[MountProblem] = field(default_factory=list)
    # Kept for callers of the former per-job lookup; hosts now resolve their launch template themselves.
    current_launch_template: Callable[[EmulatedJob], dict[str, Any] | None] = lambda job: None
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

    # --- compute environments --------------------------------------------------------------------
    def environment(self, identifier: str) -> ComputeEnvironmentState:
        """The emulated state of a compute environment (name or ARN), made on first use from moto's."""
        env = self.backend().get_compute_environment(identifier)
        if env is None:
            raise ClientException(f"Compute environment {identifier} does not exist")
        state = self.environments.get(env.arn)
        if state is None:
            cr = dict(env.compute_resources or {})
            ref = dict(cr["launchTemplate"]) if cr.get("launchTemplate") else None
            state = ComputeEnvironmentState(
                arn=env.arn,
                name=env.name,
                min_vcpus=int(cr.get("minvCpus") or 0),
                max_vcpus=int(cr.get("maxvCpus") or 0),
                desired_vcpus=int(cr.get("desiredvCpus") or cr.get("minvCpus") or 0),
                instance_types=list(cr.get("instanceTypes") or ["optimal"]),
                template_data=launch_template_data(self.account_id, self.region, cr),
                template_ref=ref,
                original_template_ref=ref,
            )
            self.environments[env.arn] = state
        return state

    def update_environment(
        self,
        backend: BatchBackend,
        identifier: str,
        state: str | None,
        compute_resources: dict[str, Any] | None,
        service_role: str | None,
        original: Callable[..., tuple[str, str]],
    ) -> tuple[str, str]:
        """UpdateComputeEnvironment: validate, apply, UPDATING for ``compute_update_seconds``, then the outcome."""
        if self.scenario.update_compute_environment_error and compute_resources:  # the runs' updates, not a deploy's
            raise ClientException(self.scenario.update_compute_environment_error)
        ce = self.environment(identifier)
        cr = dict(compute_resources or {})
        new_min = int(cr.get("minvCpus", ce.min_vcpus))
        new_max = int(cr.get("maxvCpus", ce.max_vcpus))
        if new_min > new_max:
            raise ClientException(f"minvCpus ({new_min}) must not be greater than maxvCpus ({new_max})")
        desired = cr.get("desiredvCpus")
        if desired is not None:
            desired = int(desired)
            if desired < ce.desired_vcpus:
                raise ClientException(DESIRED_LOWERED_MESSAGE)
            if not new_min <= desired <= new_max:
                raise ClientException(
                    f"desiredvCpus ({desired}) must be between minvCpus ({new_min}) and maxvCpus ({new_max})"
                )
        template = cr.get("launchTemplate")
        if template:
            _check_launch_template(backend, template)
        name, arn = original(backend, identifier, state, compute_resources, service_role)
        env = backend.get_compute_environment(arn)
        now = self.clock.seconds()
        if compute_resources and env is not None:
            env.compute_resources = {**(env.compute_resources or {}), **compute_resources}
        ce.min_vcpus, ce.max_vcpus = new_min, new_max
        if desired is not None:
            ce.desired_vcpus = desired
        if template:
            self.launch_template_history.append((now, arn, dict(template)))
            # Batch resolves $Latest/$Default once, at the update (the workflow names the version).
            ce.template_data = launch_template_data(self.account_id, self.region, {"launchTemplate": template})
            if not _same_template(template, ce.template_ref):
                ce.generation += 1  # new jobs go to new instances (infrastructure update)
            ce.template_ref = dict(template)
        ce.update_token += 1
        ce.status, ce.status_reason = "UPDATING", UPDATING_REASON
        token = ce.update_token
        self._sched(
            self.scenario.compute_update_seconds, lambda at: self._update_done(ce, token, at), f"ce {ce.name} updated"
        )
        return name, arn

    def _update_done(self, ce: ComputeEnvironmentState, token: int, at: float) -> None:
        if token != ce.update_token:
            return  # a later update restarted UPDATING
        user_data = (ce.template_data or {}).get("UserData")
        script = _decode_user_data(user_data) if user_data else ""
        if self.scenario.compute_environment_outcome == CE_INVALID and not _same_template(
            ce.template_ref, ce.original_template_ref
        ):
            ce.status, ce.status_reason = "INVALID", self.scenario.compute_environment_invalid_reason
        elif script and not _is_mime_multipart(script):
            ce.status, ce.status_reason = "INVALID", NOT_MIME_REASON
        else:
            ce.status, ce.status_reason = "VALID", VALID_REASON
        for host in list(ce.hosts):  # instances of an older launch template are replaced
            if host.generation != ce.generation:
                host.retiring = True
                if not host.jobs:
                    self._host_ended(host, HOST_TERMINATED, REPLACED_REASON, at)
        self._set_queue_reasons(ce)
        if ce.status == "VALID":
            self._warm(ce, at)
        self._schedule(ce)

    def _set_queue_reasons(self, ce: ComputeEnvironmentState) -> None:
        reason = None
        if ce.status == "INVALID":
            reason = INVALID_CE_REASON
        elif not self.scenario.capacity_available:
            reason = CAPACITY_REASON.format(ce.instance_types[0])
        for ids in ce.queue.values():
            for job_id in ids:
                job = self.jobs[job_id]
                if job.queued and job.status == "RUNNABLE":
                    job.status_reason = reason

    def describe_environment(self, item: dict[str, Any]) -> dict[str, Any]:
        """DescribeComputeEnvironments: moto's item with the emulated status and desiredvCpus."""
        ce = self.environment(item["computeEnvironmentArn"])
        item["status"], item["statusReason"] = ce.status, ce.status_reason
        if isinstance(item.get("computeResources"), dict):
            item["computeResources"] = {
                **item["computeResources"],
                "desiredvCpus": ce.desired_vcpus,
                "minvCpus": ce.min_vcpus,
                "maxvCpus": ce.max_vcpus,
            }
        return item

    # --- hosts -------------------------------------------------------------------------------------
    def stopped_instances(self) -> list[Host]:
        """Hosts that shut themselves down and were STOPPED, not terminated: they stay (and bill for their volumes)."""
        return [h for h in self.hosts.values() if h.state == HOST_STOPPED]

    def live_hosts(self) -> list[Host]:
        return [h for h in self.hosts.values() if h.state in HOST_LIVE]

    def _warm(self, ce: ComputeEnvironmentState, at: float) -> None:
        """desiredvCpus above what the live hosts have: launch hosts now (they wait in their user data)."""
        live = sum(h.vcpus for h in ce.hosts if not h.retiring)
        missing = ce.desired_vcpus - live
        while missing > 0 and self.scenario.capacity_available:
            size = self._host_size(missing)
            self._launch(ce, size, warm=True, at=at)
            missing -= size

    def _host_size(self, vcpus: int) -> int:
        """vCPUs of the instance launched to cover ``vcpus``: at least ``host_vcpus``, at most ``max_host_vcpus``
        (the largest instance the environment's types offer): few large instances, as BEST_FIT_PROGRESSIVE picks."""
        sc = self.scenario
        return max(1, min(sc.max_host_vcpus, max(sc.host_vcpus, vcpus)))

    def _launch(self, ce: ComputeEnvironmentState, vcpus: int, *, warm: bool, at: float) -> Host:
        data = ce.template_data or {}
        script = _decode_user_data(data["UserData"]) if data.get("UserData") else ""
        host = Host(
            instance_id=f"i-{uuid.uuid4().hex[:17]}",
            compute_environment_arn=ce.arn,
            vcpus=vcpus,
            generation=ce.generation,
            launched_at=at,
            warm=warm,
            script=script,
            terminate_on_shutdown=str(data.get("InstanceInitiatedShutdownBehavior", "")).lower() == "terminate",
        )
        self.hosts[host.instance_id] = host
        ce.hosts.append(host)
        self._sched(self.scenario.host_boot_seconds, lambda t: self._booted(host, t), f"host {host.instance_id} booted")
        return host

    def _booted(self, host: Host, at: float) -> None:
        if host.state != HOST_BOOTING:
            return
        host.state = HOST_MOUNTING
        mount = parse_lustre_mount(host.script)
        if mount is None:  # no Lustre in the user data: the host runs jobs on its root disk
            self._ready(host, at)
            return
        host.mount_dir = mount["mount_dir"]
        attempts, interval = parse_mount_retry(host.script)
        self._try_mount(host, mount, 1, attempts, interval, at)

    def _try_mount(
        self, host: Host, mount: dict[str, str], attempt: int, attempts: int, interval: float, at: float
    ) -> None:
        if host.state != HOST_MOUNTING:
            return
        fs = self.fsx.by_mount(mount["dns_name"], mount["mount_name"])
        if fs is not None and fs.lifecycle == "AVAILABLE":
            host.file_system_id = fs.file_system_id
            self._ready(host, at)
            return
        if attempt < attempts:
            self._sched(
                interval,
                lambda t: self._try_mount(host, mount, attempt + 1, attempts, interval, t),
                f"host {host.instance_id} mount",
            )
            return
        if fs is None:
            why = (
                f"no file system answers {mount['dns_name']}@tcp:/{mount['mount_name']} "
                f"(wrong DNSName/MountName; mount.lustre rc=-22)"
            )
        else:
            why = f"file system {fs.file_system_id} is {fs.lifecycle}"
        why += f" after {attempts} mount attempt(s) over {attempts * interval:.0f} s"

        def give_up(t: float) -> None:
            if host.state != HOST_MOUNTING:
                return
            self.mount_problems.append(MountProblem("", f"host {host.instance_id}: {why}", host.instance_id))
            if _shuts_down_without_mount(host.script):
                state = HOST_TERMINATED if host.terminate_on_shutdown else HOST_STOPPED
                self._host_ended(host, state, f"user data shut the host down: {why}", t)
            else:  # no check: the host runs jobs, which write to its root disk
                host.file_system_id = None
                self._ready(host, t)

        self._sched(interval, give_up, f"host {host.instance_id} mount failed")

    def _ready(self, host: Host, at: float) -> None:
        host.state, host.ready_at, host.idle_since = HOST_READY, at, at
        self._idle_check(host)
        self._schedule(self.environments[host.compute_environment_arn])

    def _host_ended(self, host: Host, state: str, reason: str, at: float) -> None:
        if host.state not in HOST_LIVE:
            return
        host.state, host.ended_at, host.end_reason = state, at, reason
        ce = self.environments[host.compute_environment_arn]
        if host in ce.hosts:
            ce.hosts.remove(host)
        ce.desired_vcpus = max(ce.min_vcpus, min(ce.desired_vcpus, sum(h.vcpus for h in ce.hosts)))
        self._schedule(ce)

    def _idle_check(self, host: Host) -> None:
        seconds = self.scenario.idle_scale_in_seconds
        if seconds is None or host.jobs:
            return
        since = host.idle_since

        def check(at: float) -> None:
            ce = self.environments[host.compute_environment_arn]
            if (
                host.state == HOST_READY
                and not host.jobs
                and host.idle_since == since
                and sum(h.vcpus for h in ce.hosts) - host.vcpus >= ce.min_vcpus
            ):
                self._host_ended(host, HOST_TERMINATED, SCALE_IN_REASON, at)

        self._sched(seconds, check, f"host {host.instance_id} idle")

    # --- scheduling ----------------------------------------------------------------------------------
    def _enqueue(self, job: EmulatedJob) -> None:
        ce = self.environments[job.compute_environment_arn] if job.compute_environment_arn else None
        if ce is None:
            return
        if job.vcpus > ce.max_vcpus:
            job.status_reason = MAX_RESOURCE_REASON
            return
        if job.vcpus > self.scenario.max_host_vcpus:
            job.status_reason = JOB_RESOURCE_REASON
            return
        job.queued = True
        ce.queue.setdefault(job.vcpus, deque()).append(job.job_id)
        ce.queued_vcpus += job.vcpus
        if ce.status == "INVALID":
            job.status_reason = INVALID_CE_REASON
        elif not self.scenario.capacity_available:
            job.status_reason = CAPACITY_REASON.format(ce.instance_types[0])
        self._schedule(ce)

    def _dequeue(self, job: EmulatedJob) -> None:
        if job.queued and job.compute_environment_arn:
            job.queued = False
            self.environments[job.compute_environment_arn].queued_vcpus -= job.vcpus

    def _schedule(self, ce: ComputeEnvironmentState) -> None:
        """Place queued jobs on ready hosts with room; launch hosts for what cannot be placed."""
        if ce.scheduling:
            ce.again = True
            return
        ce.scheduling = True
        try:
            ce.again = True
            while ce.again:
                ce.again = False
                self._schedule_once(ce)
        finally:
            ce.scheduling = False

    def _schedule_once(self, ce: ComputeEnvironmentState) -> None:
        if ce.queued_vcpus <= 0 or ce.status != "VALID" or not self._enabled(ce):
            return
        ready = [h for h in ce.hosts if h.state == HOST_READY and not h.retiring and h.generation == ce.generation]
        now = self.clock.seconds()
        for vcpus in sorted(ce.queue):
            ids = ce.queue[vcpus]
            for host in ready:
                while ids and host.free_vcpus >= vcpus:
                    job = self.jobs[ids.popleft()]
                    if not job.queued or job.status != "RUNNABLE":
                        continue
                    self._dequeue(job)
                    self._place(job, host, now)
            if not ids:
                del ce.queue[vcpus]
        if ce.queued_vcpus <= 0 or not self.scenario.capacity_available:
            return
        # What is still queued found no room on a ready host: it needs the hosts on their way, or new ones.
        waiting = [v for v, ids in ce.queue.items() if ids]
        smallest, largest = min(waiting, default=1), max(waiting, default=1)
        coming = sum(
            h.vcpus
            for h in ce.hosts
            if h.state in (HOST_BOOTING, HOST_MOUNTING)
            and not h.retiring
            and h.generation == ce.generation
            and h.vcpus >= smallest
        )
        needed = ce.queued_vcpus - coming
        live = sum(h.vcpus for h in ce.hosts)
        while needed > 0 and live < ce.max_vcpus:
            size = self._host_size(max(largest, needed))
            self._launch(ce, size, warm=False, at=now)
            needed -= size
            live += size
        ce.desired_vcpus = max(ce.desired_vcpus, min(live, ce.max_vcpus))  # Batch scales out on demand

    def _enabled(self, ce: ComputeEnvironmentState) -> bool:
        env = self.backend().get_compute_environment(ce.arn)
        return env is None or (env.state or "ENABLED") == "ENABLED"

    def _place(self, job: EmulatedJob, host: Host, at: float) -> None:
        host.used_vcpus += job.vcpus
        host.jobs.add(job.job_id)
        host.idle_since = None
        job.host_id, job.status_reason = host.instance_id, None
        self._after(job, self.scenario.placement_seconds, lambda t: self._starting(job, host, t))

    def _release(self, job: EmulatedJob, at: float) -> None:
        host = self.hosts.get(job.host_id or "")
        job.host_id = None
        if host is None or job.job_id not in host.jobs:
            return
        host.jobs.discard(job.job_id)
        host.used_vcpus -= job.vcpus
        ce = self.environments[host.compute_environment_arn]
        if not host.jobs:
            host.idle_since = at
            if host.retiring:
                self._host_ended(host, HOST_TERMINATED, host.end_reason or REPLACED_REASON, at)
                return
            self._idle_check(host)
        self._schedule(ce)

    # --- jobs ------------------------------------------------------------------------------------
    def submit(
        self,
        backend: BatchBackend,
        name: str,
        job_def_id: str,
        queue_id: str,
        tags: dict[str, str] | None,
        parameters: dict[str, str] | None,
        timeout: dict[str, int] | None,
        *,
        array_properties: dict[str, Any] | None = None,
        container_overrides: dict[str, Any] | None = None,
        retry_strategy: dict[str, Any] | None = None,
        propagate_tags: bool | None = None,
    ) -> EmulatedJob:
        """SubmitJob (validated as the Batch API Reference says); an array job gets its children at once."""
        if not name or not JOB_NAME.match(name):
            raise ClientException("Job name should match valid pattern")
        job_def = backend.get_job_definition(job_def_id)
        if job_def is None or job_def.status != "ACTIVE":
            raise ClientException(f"Job definition {job_def_id} does not exist or is not ACTIVE")
        queue = backend.get_job_queue(queue_id)
        if queue is None:
            raise ClientException(f"Job queue {queue_id} does not exist")
        size = None
        if array_properties and array_properties.get("size") is not None:
            size = int(array_properties["size"])
            if not ARRAY_SIZE_MIN <= size <= ARRAY_SIZE_MAX:
                raise ClientException(f"Array job size must be between {ARRAY_SIZE_MIN} and {ARRAY_SIZE_MAX}: {size}")
        timeout = timeout or job_def.timeout
        seconds = (timeout or {}).get("attemptDurationSeconds")
        if seconds is not None and int(seconds) < MIN_ATTEMPT_DURATION_SECONDS:
            raise ClientException(f"attemptDurationSeconds must be at least {MIN_ATTEMPT_DURATION_SECONDS}: {seconds}")
        overrides = dict(container_overrides or {})
        for item in overrides.get("environment") or []:
            if str(item.get("name", "")).startswith("AWS_BATCH"):
                raise ClientException(
                    f"Environment variable {item.get('name')} is reserved: names starting with "
                    "AWS_BATCH are set by AWS Batch"
                )
        vcpus = _job_vcpus(job_def, overrides)
        envs = sorted(queue.env_order_json or [], key=lambda o: int(o.get("order", 0)))
        ce_arn = None
        if envs:
            ce_arn = self.environment(envs[0]["computeEnvironment"]).arn
        elif queue.environments:
            ce_arn = self.environment(queue.environments[0].arn).arn
        job_id = str(uuid.uuid4())
        now = self.clock.seconds()

        def make(job_id: str, index: int | None, parent: str | None) -> EmulatedJob:
            job = EmulatedJob(
                job_id=job_id,
                arn=f"arn:aws:batch:{self.region}:{self.account_id}:job/{job_id}",
                name=name,
                queue_arn=queue.arn,
                job_definition=job_def,
                created_at=now,
                tags=dict(tags or {}),
                parameters={**(job_def.parameters or {}), **(parameters or {})},
                timeout=timeout,
                retry_strategy=retry_strategy or job_def.retry_strategy,
                container_overrides=overrides,
                propagate_tags=propagate_tags,
                vcpus=vcpus,
                array_index=index,
                parent_id=parent,
                compute_environment_arn=ce_arn,
            )
            self.jobs[job_id] = job
            job.history.append(("SUBMITTED", now))
            return job

        parent = make(job_id, None, None)
        if size is None:
            self._start(parent)
            return parent
        parent.array_size = size
        parent.summary = dict.fromkeys(JOB_STATUSES, 0)
        parent.summary["SUBMITTED"] = size
        parent.summary_updated_at = now
        for index in range(size):
            child = make(f"{job_id}:{index}", index, job_id)
            parent.children.append(child.job_id)
            self._start(child)
        return parent

    def _start(self, job: EmulatedJob) -> None:
        sc = self.scenario
        self._after(job, sc.submitted_seconds, lambda at: self._set(job, "PENDING", at))
        self._after(job, sc.submitted_seconds + sc.pending_seconds, lambda at: self._runnable(job, at))

    def _after(self, job: EmulatedJob, delay: float, step: Callable[[float], None]) -> None:
        generation = job.generation

        def run(at: float) -> None:
            if job.generation == generation and job.status not in TERMINAL:
                step(at)

        self._sched(delay, run, f"job {job.job_id[:8]}")

    def _set(self, job: EmulatedJob, status: str, at: float) -> None:
        previous, job.status = job.status, status
        job.history.append((status, at))
        if job.parent_id is None:
            return
        parent = self.jobs[job.parent_id]
        parent.summary[previous] -= 1
        parent.summary[status] += 1
        parent.summary_updated_at = at
        if status == "RUNNABLE" and parent.status == "SUBMITTED":
            self._set(parent, "PENDING", at)  # Batch guide, "Array jobs"
        if status == "RUNNING" and parent.started_at is None:
            parent.started_at = at
        if status in TERMINAL:
            parent.children_ended += 1
            if parent.children_ended == parent.array_size and parent.status not in TERMINAL:
                ok = parent.summary["SUCCEEDED"] == parent.array_size
                parent.stopped_at = at
                parent.status_reason = None if ok else parent.terminate_reason
                self._set(parent, "SUCCEEDED" if ok else "FAILED", at)

    def _runnable(self, job: EmulatedJob, at: float) -> None:
        self._set(job, "RUNNABLE", at)
        self._enqueue(job)

    def _starting(self, job: EmulatedJob, host: Host, at: float) -> None:
        self._set(job, "STARTING", at)
        job.attempts.append(Attempt(instance_id=host.instance_id))
        self._mount_of_job(job, host)
        self._after(job, self.scenario.starting_seconds, lambda t: self._running(job, t))

    def _running(self, job: EmulatedJob, at: float) -> None:
        self._set(job, "RUNNING", at)
        if job.started_at is None:
            job.started_at = at
        attempt = job.attempts[-1]
        attempt.started_at = at
        plan = self.scenario.attempt(len(job.attempts) - 1, job.array_index)
        run_seconds = plan.run_seconds
        limit = (job.timeout or {}).get("attemptDurationSeconds")
        timed_out = limit is not None and run_seconds > float(limit)
        if limit is not None and timed_out:
            run_seconds = float(limit)
        files = (
            plan.files if plan.files is not None else ({} if plan.outcome == ATTEMPT_HOST_EC2 else self.scenario.files)
        )
        index = str(job.array_index if job.array_index is not None else 0)
        for i, (rel, data) in enumerate(sorted(files.items())):
            rel, data = rel.replace("{index}", index), data.replace(b"{index}", index.encode())
            self._after(job, run_seconds * (i + 1) / (len(files) + 1), self._writer(job, rel, data))
        if timed_out:
            self._after(
                job,
                run_seconds,
                lambda t: self._attempt_ended(job, t, TIMEOUT_EXIT_CODE, None, TIMEOUT_REASON, retry=False),
            )
        elif plan.outcome == ATTEMPT_SUCCEEDED:
            self._after(job, run_seconds, lambda t: self._attempt_ended(job, t, 0, None, None))
        elif plan.outcome == ATTEMPT_APP_ERROR:
            code = 1 if plan.exit_code is None else plan.exit_code
            self._after(job, run_seconds, lambda t: self._attempt_ended(job, t, code, None, APP_ERROR_REASON))
        else:
            reason = f"Host EC2 (instance {attempt.instance_id}) terminated."

            def lost(t: float) -> None:
                host = self.hosts.get(attempt.instance_id)
                if host is not None:  # the instance went away (Spot reclaim): it takes no further job
                    host.retiring, host.end_reason = True, "instance terminated (emulated host loss)"
                self._attempt_ended(job, t, None, None, reason)

            self._after(job, run_seconds, lost)

    def _attempt_ended(
        self,
        job: EmulatedJob,
        at: float,
        exit_code: int | None,
        reason: str | None,
        status_reason: str | None,
        retry: bool = True,
    ) -> None:
        attempt = job.attempts[-1]
        attempt.stopped_at, attempt.exit_code, attempt.reason = at, exit_code, reason
        attempt.status_reason = status_reason
        self._release(job, at)
        if exit_code == 0:
            job.stopped_at, job.status_reason = at, None
            self._set(job, "SUCCEEDED", at)
            return
        max_attempts = int((job.retry_strategy or {}).get("attempts") or 1)
        if retry and len(job.attempts) < max_attempts and retry_action(job.retry_strategy, attempt) == "RETRY":
            self._runnable(job, at)
            return
        job.stopped_at, job.status_reason = at, status_reason
        self._set(job, "FAILED", at)

    def terminate(self, job_id: str, reason: str, only_before_starting: bool = False) -> None:
        """TerminateJob (or CancelJob: ``only_before_starting``); of an array parent: of each child."""
        job = self.jobs.get(job_id) or self.jobs.get(job_id.rsplit("job/", 1)[-1])
        if job is None or job.status in TERMINAL:
            return
        if job.array_size is not None:
            job.terminate_reason = reason
            for child_id in job.children:
                self.terminate(child_id, reason, only_before_starting)
            return
        now = self.clock.seconds()
        if job.status in BEFORE_STARTING:
            job.generation += 1
            self._dequeue(job)
            self._release(job, now)  # placed, not yet STARTING
            job.stopped_at, job.status_reason = now, reason
            self._set(job, "FAILED", now)
            return
        if only_before_starting:
            return  # CancelJob leaves STARTING/RUNNING jobs alone
        job.generation += 1

        def stopped(at: float) -> None:
            if job.status in TERMINAL:
                return
            if job.attempts and job.attempts[-1].stopped_at is None:
                attempt = job.attempts[-1]
                attempt.stopped_at, attempt.status_reason = at, reason
                attempt.exit_code = 143 if attempt.started_at is not None else None
            self._release(job, at)
            job.stopped_at, job.status_reason = at, reason
            self._set(job, "FAILED", at)

        self._sched(self.scenario.terminate_seconds, stopped, f"job {job_id[:8]} terminated")

    # --- reading ---------------------------------------------------------------------------------
    def get(self, identifier: str) -> EmulatedJob | None:
        return self.jobs.get(identifier) or self.jobs.get(identifier.rsplit("job/", 1)[-1])

    def describe(self, job: EmulatedJob) -> dict[str, Any]:
        """DescribeJobs' JobDetail of ``job``."""
        ms = self._ms
        container = self._container(job)
        attempts = []
        for a in job.attempts:
            if a.stopped_at is None:
                continue  # AWS lists an attempt once it has ended
            item: dict[str, Any] = {
                "container": {
                    "containerInstanceArn": f"arn:aws:ecs:{self.region}:{self.account_id}:"
                    f"container-instance/{a.instance_id}",
                    "taskArn": f"arn:aws:ecs:{self.region}:{self.account_id}:task/{a.task_id}",
                    "logStreamName": self._log_stream(job, a),
                    "networkInterfaces": [],
                },
                "stoppedAt": ms(a.stopped_at),
            }
            if a.started_at is not None:
                item["startedAt"] = ms(a.started_at)
            if a.exit_code is not None:
                item["container"]["exitCode"] = a.exit_code
            if a.reason:
                item["container"]["reason"] = a.reason
            if a.status_reason:
                item["statusReason"] = a.status_reason
            attempts.append(item)
        out: dict[str, Any] = {
            "jobArn": job.arn,
            "jobName": job.name,
            "jobId": job.job_id,
            "jobQueue": job.queue_arn,
            "status": job.status,
            "attempts": attempts,
            "createdAt": ms(job.created_at),
            "retryStrategy": job.retry_strategy or {},
            "dependsOn": [],
            "jobDefinition": job.job_definition.arn,
            "parameters": job.parameters,
            "container": container,
            "tags": job.tags,
            "platformCapabilities": job.job_definition.platform_capabilities or [],
        }
        if job.propagate_tags is not None:
            out["propagateTags"] = job.propagate_tags
        if job.status_reason:
            out["statusReason"] = job.status_reason
        if job.started_at is not None:
            out["startedAt"] = ms(job.started_at)
        if job.stopped_at is not None:
            out["stoppedAt"] = ms(job.stopped_at)
        if job.timeout:
            out["timeout"] = job.timeout
        if job.array_size is not None:
            out["arrayProperties"] = {
                "statusSummary": dict(job.summary),
                "size": job.array_size,
                "statusSummaryLastUpdatedAt": ms(job.summary_updated_at),
            }
        elif job.array_index is not None:
            out["arrayProperties"] = {"index": job.array_index}
        return out

    def _container(self, job: EmulatedJob) -> dict[str, Any]:
        props = dict(job.job_definition.container_properties or {})
        overrides = job.container_overrides
        environment = {e["name"]: e.get("value", "") for e in props.get("environment", []) if "name" in e}
        environment.update({e["name"]: e.get("value", "") for e in overrides.get("environment") or [] if "name" in e})
        if job.array_index is not None:
            environment[ARRAY_INDEX_VARIABLE] = str(job.array_index)
        requirements = {r["type"]: r for r in props.get("resourceRequirements", []) if "type" in r}
        requirements.update({r["type"]: r for r in overrides.get("resourceRequirements") or [] if "type" in r})
        container: dict[str, Any] = {
            "image": props.get("image"),
            "command": list(overrides["command"]) if overrides.get("command") else props.get("command", []),
            "volumes": props.get("volumes", []),
            "mountPoints": props.get("mountPoints", []),
            "environment": [{"name": k, "value": v} for k, v in environment.items()],
            "resourceRequirements": list(requirements.values()),
            "ulimits": props.get("ulimits", []),
            "privileged": bool(props.get("privileged", False)),
            "readonlyRootFilesystem": bool(props.get("readonlyRootFilesystem", False)),
            "networkInterfaces": [],
        }
        last = job.attempts[-1] if job.attempts else None
        if last is not None:
            container["containerInstanceArn"] = (
                f"arn:aws:ecs:{self.region}:{self.account_id}:container-instance/{last.instance_id}"
            )
            container["taskArn"] = f"arn:aws:ecs:{self.region}:{self.account_id}:task/{last.task_id}"
            container["logStreamName"] = self._log_stream(job, last)
        if job.status in TERMINAL and last is not None:
            if last.exit_code is not None:
                container["exitCode"] = last.exit_code
            if last.reason:
                container["reason"] = last.reason
        return container

    def _log_stream(self, job: EmulatedJob, attempt: Attempt) -> str:
        return f"{job.job_definition.name}/default/{attempt.task_id}"

    def summary(self, job: EmulatedJob) -> dict[str, Any]:
        """ListJobs' JobSummary of ``job``."""
        ms = self._ms
        out: dict[str, Any] = {
            "jobArn": job.arn,
            "jobId": job.job_id,
            "jobName": job.name,
            "createdAt": ms(job.created_at),
            "status": job.status,
            "jobDefinition": job.job_definition.arn,
        }
        if job.status_reason:
            out["statusReason"] = job.status_reason
        if job.started_at is not None:
            out["startedAt"] = ms(job.started_at)
        if job.stopped_at is not None:
            out["stoppedAt"] = ms(job.stopped_at)
        last = job.attempts[-1] if job.attempts else None
        if job.status in TERMINAL and last is not None:
            container: dict[str, Any] = {}
            if last.exit_code is not None:
                container["exitCode"] = last.exit_code
            if last.reason:
                container["reason"] = last.reason
            out["container"] = container
        if job.array_size is not None:
            out["arrayProperties"] = {"size": job.array_size}
        elif job.array_index is not None:
            out["arrayProperties"] = {"index": job.array_index}
        return out

    def list_jobs(
        self,
        backend: BatchBackend,
        job_queue: str | None,
        array_job_id: str | None,
        job_status: str | None,
        filters: list[dict[str, Any]] | None,
        multi_node_job_id: str | None = None,
    ) -> list[EmulatedJob]:
        """ListJobs (Batch API Reference): by queue, with jobStatus (default RUNNING) or one filter (any
        status, newest first; the filter does not apply to array children); or the children of an array job."""
        if sum(bool(x) for x in (job_queue, array_job_id, multi_node_job_id)) != 1:
            raise ClientException("You must specify only one of jobQueue, arrayJobId or multiNodeJobId")
        if job_status is not None and job_status not in JOB_STATUSES:
            raise ClientException(f"Job status is not one of {' | '.join(JOB_STATUSES)}")
        if filters and len(filters) > 1:
            raise ClientException("Only one filter can be used at a time")
        if multi_node_job_id:
            return []
        if array_job_id:
            parent = self.get(array_job_id)
            if parent is None or parent.array_size is None:
                return []
            children = [self.jobs[c] for c in parent.children]
            if filters:
                return children  # jobStatus is ignored when a filter is given
            wanted = job_status or "RUNNING"
            return [c for c in children if c.status == wanted]
        queue = backend.get_job_queue(job_queue or "")
        if queue is None:
            raise ClientException(f"Job queue {job_queue} does not exist")
        jobs = [j for j in self.jobs.values() if j.queue_arn == queue.arn and j.parent_id is None]
        if not filters:
            wanted = job_status or "RUNNING"
            return [j for j in jobs if j.status == wanted]
        only = filters[0]
        name, values = str(only.get("name", "")), [str(v) for v in only.get("values") or []]
        if name == "JOB_NAME":
            jobs = [j for j in jobs if any(_match(v, j.name, case=False) for v in values)]
        elif name == "JOB_DEFINITION":
            jobs = [
                j
                for j in jobs
                if any(_match(v, j.job_definition.arn) or _match(v, j.job_definition.name) for v in values)
            ]
        elif name in ("BEFORE_CREATED_AT", "AFTER_CREATED_AT"):
            limit = int(values[0]) if values else 0
            before = name == "BEFORE_CREATED_AT"
            jobs = [j for j in jobs if (self._ms(j.created_at) < limit) == before]
        else:
            raise ClientException(f"Unsupported filter {name}")
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)

    def _ms(self, seconds: float) -> int:
        return int(self.clock.at(seconds).timestamp() * 1000)

    # --- the job's file system -------------------------------------------------------------------
    def _mount_of_job(self, job: EmulatedJob, host: Host) -> None:
        """Where the job's /scratch lands: on the host's Lustre mount, or (a problem) on its root disk."""
        job.file_system_id, job.scratch_on_fs = None, "/"
        host_path = _host_scratch_path(job.job_definition)
        if host.file_system_id is None or host.mount_dir is None:
            problem = f"host {host.instance_id} mounted no Lustre file system (launch template user data)"
        elif host_path is None or not (
            host_path == host.mount_dir.rstrip("/") or host_path.startswith(host.mount_dir.rstrip("/") + "/")
        ):
            problem = f"the job's {CONTAINER_SCRATCH_DIR} host path {host_path} is not under {host.mount_dir}"
        else:
            job.file_system_id = host.file_system_id
            job.scratch_on_fs = host_path[len(host.mount_dir.rstrip("/")) :] or "/"
            return
        self.mount_problems.append(MountProblem(job.job_id, problem, host.instance_id))

    def _writer(self, job: EmulatedJob, relative: str, data: bytes) -> Callable[[float], None]:
        """The step that writes ``data`` to ``relative`` under the job's scratch (at the step's emulated time)."""
        return lambda _at: self._write(job, relative, data)

    def _write(self, job: EmulatedJob, relative: str, data: bytes) -> None:
        if job.file_system_id is None:
            job.files_lost.append(relative)
            return
        path = job.scratch_on_fs.rstrip("/") + "/" + relative.lstrip("/")
        try:
            self.fsx.write_file(job.file_system_id, path, data)
            job.files_written.append(path)
        except Exception:  # the file system went away under the job
            job.files_lost.append(relative)


def retry_action(retry_strategy: dict[str, Any] | None, attempt: Attempt) -> str:
    """RETRY or EXIT for a failed attempt (AWS Batch API Reference, RetryStrategy / EvaluateOnExit).

    The first entry whose given conditions all match decides; if none matches, the job
    is retried. Patterns are exact or end with ``*`` (prefix match). An absent container
    reason or exit code is matched as an empty string (so ``*`` matches it).
    """
    for rule in (retry_strategy or {}).get("evaluateOnExit") or []:
        checks = (
            (rule.get("onStatusReason"), attempt.status_reason),
            (rule.get("onReason"), attempt.reason),
            (rule.get("onExitCode"), None if attempt.exit_code is None else str(attempt.exit_code)),
        )
        if all(pattern is None or _glob(pattern, value or "") for pattern, value in checks):
            return str(rule.get("action", "")).upper()
    return "RETRY"


def _glob(pattern: str, value: str) -> bool:
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


def _match(pattern: str, value: str, case: bool = True) -> bool:
    """A ListJobs filter value: exact, or a prefix when it ends with ``*``."""
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return value.startswith(pattern[:-1]) if pattern.endswith("*") else value == pattern


def _job_vcpus(job_def: JobDefinition, overrides: dict[str, Any]) -> int:
    props = job_def.container_properties or {}
    value: Any = None
    for source in (props.get("resourceRequirements") or [], overrides.get("resourceRequirements") or []):
        for item in source:
            if str(item.get("type", "")).upper() == "VCPU":
                value = item.get("value")
    if value is None:
        value = overrides.get("vcpus") or props.get("vcpus") or 1
    try:
        return max(1, math.ceil(float(value)))
    except (TypeError, ValueError):
        raise ClientException(f"VCPU value {value!r} is not a number") from None


def _host_scratch_path(job_def: JobDefinition) -> str | None:
    props = job_def.container_properties or {}
    volume = next(
        (
            m.get("sourceVolume")
            for m in props.get("mountPoints", [])
            if m.get("containerPath", "").rstrip("/") == CONTAINER_SCRATCH_DIR
        ),
        None,
    )
    for vol in props.get("volumes", []):
        if vol.get("name") == volume:
            return ((vol.get("host") or {}).get("sourcePath") or "").rstrip("/") or None
    return None


def _decode_user_data(user_data: Any) -> str:
    """moto keeps UserData as a Base64EncodedString; accept that or plain base64 text."""
    try:
        if hasattr(user_data, "decode") and not isinstance(user_data, (str, bytes)):
            return str(user_data.decode())
        return base64.b64decode(user_data).decode("utf-8", errors="replace")
    except Exception:
        return ""


def _is_mime_multipart(script: str) -> bool:
    return bool(re.search(r"^content-type:\s*multipart/", script, re.IGNORECASE | re.MULTILINE))


def _shuts_down_without_mount(script: str) -> bool:
    """The user data refuses to go on without the mount (``mountpoint -q ... || shutdown``)."""
    return "mountpoint -q" in script or re.search(r"\bshutdown\b|\bpoweroff\b|\bhalt\b", script) is not None


def _same_template(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    a, b = a or {}, b or {}
    key_a = a.get("launchTemplateId") or a.get("launchTemplateName")
    key_b = b.get("launchTemplateId") or b.get("launchTemplateName")
    return key_a == key_b and str(a.get("version") or "$Default") == str(b.get("version") or "$Default")


_ASSIGN = re.compile(r"""^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(["']?)([^"'\n]*)\2\s*$""", re.MULTILINE)
_MOUNT = re.compile(r"mount\s+-t\s+lustre\b(?:\s+-o\s+\S+)?\s+(\S+?)@tcp:/(\S+)\s+(\S+)")


def _expander(script: str) -> Callable[[str], str]:
    variables = {m.group(1): m.group(3) for m in _ASSIGN.finditer(script)}

    def expand(text: str) -> str:
        return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: variables.get(m.group(1), m.group(0)), text)

    return expand


def _mount_line(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if (
            "mount" in line
            and "lustre" in line
            and not line.lstrip().startswith("#")
            and _MOUNT.search(line.replace('"', "").replace("'", ""))
        ):
            return i
    return None


def parse_lustre_mount(script: str) -> dict[str, str] | None:
    """``mount -t lustre ... <dns>@tcp:/<mountname> <dir>`` from a shell script, with its variables expanded."""
    expand = _expander(script)
    for line in script.splitlines():
        if "mount" in line and "lustre" in line and not line.lstrip().startswith("#"):
            found = _MOUNT.search(expand(line).replace('"', "").replace("'", ""))
            if found:
                return {"dns_name": found.group(1), "mount_name": found.group(2), "mount_dir": found.group(3)}
    return None


_SEQ = re.compile(r"\$\(\s*seq\s+(?:(\d+)\s+)?(\d+)\s*\)")
_RANGE = re.compile(r"\{(\d+)\.\.(\d+)\}")
_SLEEP = re.compile(r"\bsleep\s+(\d+(?:\.\d+)?)")
_DEADLINE = re.compile(r"SECONDS\s*\+\s*(\d+)")
_COUNT_LIMIT = re.compile(r"-(?:lt|le|ge|gt)\s+\"?(\d+)\"?")


def parse_mount_retry(script: str) -> tuple[int, float]:
    """How often the user data tries the Lustre mount, and the seconds between tries: ``(attempts, interval)``.

    Understands a retry loop around the mount: ``for i in 1 2 3 ...``, ``for i in $(seq [A] B)``,
    ``for i in {A..B}``, or a ``while``/``until`` loop bounded by ``$((SECONDS + N))`` or a counter test
    (``-lt N``), with a ``sleep S`` in its body. No loop: one attempt.
    """
    lines = [_expander(script)(line) for line in script.splitlines()]
    at = _mount_line(lines)
    if at is None:
        return 1, 0.0
    start = None
    for i in range(at, -1, -1):
        if re.match(r"^\s*(for|while|until)\b", lines[i]):
            start = i
            break
        if re.match(r"^\s*done\b", lines[i]) and i != at:
            break
    if start is None:
        return 1, 0.0
    end = next((i for i in range(at, len(lines)) if re.match(r"^\s*done\b", lines[i])), len(lines) - 1)
    body = "\n".join(lines[start : end + 1])
    sleep = _SLEEP.search(body)
    interval = float(sleep.group(1)) if sleep else 0.0
    header = lines[start]
    attempts: int | None = None
    if header.lstrip().startswith("for"):
        items = header.split(" in ", 1)[1].split(";")[0] if " in " in header else ""
        if (seq := _SEQ.search(items)) is not None:
            first = int(seq.group(1)) if seq.group(1) else 1
            attempts = int(seq.group(2)) - first + 1
        elif (rng := _RANGE.search(items)) is not None:
            attempts = int(rng.group(2)) - int(rng.group(1)) + 1
        else:
            attempts = len(items.split())
    else:
        deadline = _DEADLINE.search(script)
        count = _COUNT_LIMIT.search(body)
        if deadline is not None and interval > 0:
            attempts = int(int(deadline.group(1)) // interval) + 1
        elif count is not None:
            attempts = int(count.group(1))
    return max(1, attempts or 1), interval


def install(stack: ExitStack, model_for: Callable[[], BatchModel], lock: Any) -> None:
    """Replace moto's Batch job execution, compute environment updates and listings with the model's."""
    original_update = BatchBackend.update_compute_environment
    original_describe_ce = BatchBackend.describe_compute_environments

    def submit_job(
        self: BatchBackend,
        job_name: str,
        job_def_id: str,
        job_queue: str,
        array_properties: dict[str, Any] | None = None,
        depends_on: Any = None,
        container_overrides: Any = None,
        eks_properties_override: Any = None,
        timeout: dict[str, int] | None = None,
        parameters: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> tuple[str, str, str]:
        with lock:
            model = model_for()
            model.clock.settle()
            job = model.submit(
                self,
                job_name,
                job_def_id,
                job_queue,
                tags,
                parameters,
                timeout,
                array_properties=array_properties,
                container_overrides=container_overrides,
            )
            return job.name, job.job_id, job.arn

    def submitjob(self: BatchResponse) -> str:
        with lock:
            model = model_for()
            model.clock.settle()
            job = model.submit(
                self.batch_backend,
                self._get_param("jobName"),
                self._get_param("jobDefinition"),
                self._get_param("jobQueue"),
                self._get_param("tags"),
                self._get_param("parameters"),
                self._get_param("timeout"),
                array_properties=self._get_param("arrayProperties"),
                container_overrides=self._get_param("containerOverrides"),
                retry_strategy=self._get_param("retryStrategy"),
                propagate_tags=self._get_param("propagateTags"),
            )
            return json.dumps({"jobId": job.job_id, "jobName": job.name, "jobArn": job.arn})

    def describe_jobs(self: BatchBackend, jobs: list[str] | None) -> list[dict[str, Any]]:
        with lock:
            model = model_for()
            model.clock.settle()
            if not jobs:
                return [model.describe(j) for j in model.jobs.values()]
            found = (model.get(j) for j in jobs)
            return [model.describe(j) for j in found if j is not None]

    def listjobs(self: BatchResponse) -> str:
        with lock:
            model = model_for()
            model.clock.settle()
            filters = self._get_param("filters")
            found = model.list_jobs(
                self.batch_backend,
                self._get_param("jobQueue"),
                self._get_param("arrayJobId"),
                self._get_param("jobStatus"),
                filters,
                self._get_param("multiNodeJobId"),
            )
            cap = LIST_PAGE_WITH_FILTERS if filters else LIST_PAGE
            size = min(int(self._get_param("maxResults") or cap), cap)
            token = self._get_param("nextToken")
            start = int(token) if token and str(token).isdigit() else 0
            page = found[start : start + size]
            out: dict[str, Any] = {"jobSummaryList": [model.summary(j) for j in page]}
            if start + size < len(found):
                out["nextToken"] = str(start + size)
            return json.dumps(out)

    def terminate_job(self: BatchBackend, job_id: str, reason: str) -> None:
        if not job_id or not reason:
            raise ClientException("'jobId' and 'reason' are required fields (cannot be empty strings)")
        with lock:
            model = model_for()
            model.clock.settle()
            model.terminate(job_id, reason)

    def cancel_job(self: BatchBackend, job_id: str, reason: str) -> None:
        if not job_id or not reason:
            raise ClientException("'jobId' and 'reason' are required fields (cannot be empty strings)")
        with lock:
            model = model_for()
            model.clock.settle()
            model.terminate(job_id, reason, only_before_starting=True)

    def update_compute_environment(
        self: BatchBackend,
        compute_environment_name: str,
        state: str | None,
        compute_resources: Any | None,
        service_role: str | None,
    ) -> tuple[str, str]:
        with lock:
            model = model_for()
            model.clock.settle()
            return model.update_environment(
                self, compute_environment_name, state, compute_resources, service_role, original_update
            )

    def describe_compute_environments(
        self: BatchBackend, environments: list[str] | None = None
    ) -> list[dict[str, Any]]:
        with lock:
            model = model_for()
            model.clock.settle()
            return [model.describe_environment(item) for item in original_describe_ce(self, environments)]

    stack.enter_context(mock.patch.object(BatchBackend, "submit_job", submit_job))
    stack.enter_context(mock.patch.object(BatchResponse, "submitjob", submitjob))
    stack.enter_context(mock.patch.object(BatchBackend, "describe_jobs", describe_jobs))
    stack.enter_context(mock.patch.object(BatchResponse, "listjobs", listjobs))
    stack.enter_context(mock.patch.object(BatchBackend, "terminate_job", terminate_job))
    stack.enter_context(mock.patch.object(BatchBackend, "cancel_job", cancel_job))
    stack.enter_context(mock.patch.object(BatchBackend, "update_compute_environment", update_compute_environment))
    stack.enter_context(mock.patch.object(BatchBackend, "describe_compute_environments", describe_compute_environments))


def _check_launch_template(backend: BatchBackend, template: dict[str, Any]) -> None:
    ec2 = ec2_backends[backend.account_id][backend.region_name]
    try:
        if template.get("launchTemplateId"):
            lt = ec2.get_launch_template(template["launchTemplateId"])
        else:
            lt = ec2.get_launch_template_by_name(template.get("launchTemplateName", ""))
        lt.get_version(template.get("version") or "$Default")
    except Exception:
        raise ClientException(f"Launch template {template} does not exist") from None


def launch_template_data(account_id: str, region: str, ce_resources: dict[str, Any]) -> dict[str, Any] | None:
    """The LaunchTemplateData an instance of a compute environment would launch with now."""
    ref = (ce_resources or {}).get("launchTemplate")
    if not ref:
        return None
    ec2 = ec2_backends[account_id][region]
    try:
        lt = (
            ec2.get_launch_template(ref["launchTemplateId"])
            if ref.get("launchTemplateId")
            else ec2.get_launch_template_by_name(ref.get("launchTemplateName", ""))
        )
        return dict(lt.get_version(ref.get("version") or "$Default").data)
    except Exception:
        return None
