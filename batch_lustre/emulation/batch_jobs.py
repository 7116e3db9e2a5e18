"""The emulated Batch's jobs: SubmitJob, the scheduler that places RUNNABLE jobs on hosts (or launches hosts for
them), attempts with the retry strategy and the attempt timeout, array jobs, TerminateJob/CancelJob, and the files
an attempt writes onto the file system its host mounted. The rules and their sources: docs/aws-rules.md, section
"Batch"."""

from __future__ import annotations

import math
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from batch_lustre.emulation.batch_records import (
    APP_ERROR_REASON,
    ARRAY_SIZE_MAX,
    ARRAY_SIZE_MIN,
    BEFORE_STARTING,
    CANNOT_CREATE_MOUNT_SOURCE,
    CAPACITY_REASON,
    HOST_BOOTING,
    HOST_MOUNTING,
    HOST_READY,
    HOST_TERMINATED,
    INVALID_CE_REASON,
    JOB_NAME,
    JOB_RESOURCE_REASON,
    JOB_STATUSES,
    LOG_GROUP_MISSING,
    MAX_RESOURCE_REASON,
    MIN_ATTEMPT_DURATION_SECONDS,
    REPLACED_REASON,
    TERMINAL,
    TIMEOUT_EXIT_CODE,
    TIMEOUT_REASON,
    Attempt,
    BatchParts,
    ComputeEnvironmentState,
    EmulatedJob,
    Host,
    MountProblem,
)
from batch_lustre.emulation.moto_seam import BatchBackend, ClientException, JobDefinition, logs_backends
from batch_lustre.emulation.scenario import ATTEMPT_APP_ERROR, ATTEMPT_HOST_EC2, ATTEMPT_SUCCEEDED
from batch_lustre.program.asl.naming import CONTAINER_SCRATCH_DIR


class Jobs(BatchParts):
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
        cannot_start = self._mount_of_job(job, host) or self._logging_problem(job)
        if cannot_start is not None:  # the container is never created: the attempt fails before RUNNING
            self._after(
                job,
                self.scenario.starting_seconds,
                lambda t: self._attempt_ended(job, t, None, cannot_start, cannot_start),
            )
            return
        self._after(job, self.scenario.starting_seconds, lambda t: self._running(job, t))

    def _running(self, job: EmulatedJob, at: float) -> None:
        self._set(job, "RUNNING", at)
        if job.started_at is None:
            job.started_at = at
        attempt = job.attempts[-1]
        attempt.started_at = at
        fs = self.fsx.file_systems.get(job.file_system_id) if job.file_system_id else None
        if fs is not None:  # what a job that lists its inputs finds
            root = job.scratch_on_fs.rstrip("/") + "/"
            job.files_seen = sorted(path for path in fs.files if path.startswith(root))
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

    # --- the job's file system -------------------------------------------------------------------
    def _mount_of_job(self, job: EmulatedJob, host: Host) -> str | None:
        """Where the job's /scratch lands: on the host's Lustre mount, or (a problem) on its root disk. Returns the
        container reason when the container cannot be created at all: its host path would have to be created in a
        directory the host's user data made immutable (the baseline launch template's unmounted mount point)."""
        job.file_system_id, job.scratch_on_fs = None, "/"
        host_path = _host_scratch_path(job.job_definition)
        if host.file_system_id is None and host_path is not None:
            for directory in host.immutable_dirs:
                if host_path == directory or host_path.startswith(directory.rstrip("/") + "/"):
                    reason = CANNOT_CREATE_MOUNT_SOURCE.format(path=host_path)
                    self.mount_problems.append(
                        MountProblem(job.job_id, f"host {host.instance_id}: {reason}", host.instance_id)
                    )
                    return reason
        if host.file_system_id is None or host.mount_dir is None:
            problem = f"host {host.instance_id} mounted no Lustre file system (launch template user data)"
        elif host_path is None or not (
            host_path == host.mount_dir.rstrip("/") or host_path.startswith(host.mount_dir.rstrip("/") + "/")
        ):
            problem = f"the job's {CONTAINER_SCRATCH_DIR} host path {host_path} is not under {host.mount_dir}"
        else:
            job.file_system_id = host.file_system_id
            job.scratch_on_fs = host_path[len(host.mount_dir.rstrip("/")) :] or "/"
            return None
        self.mount_problems.append(MountProblem(job.job_id, problem, host.instance_id))
        return None

    def _logging_problem(self, job: EmulatedJob) -> str | None:
        """The container reason when the job's awslogs log group does not exist in its Region (and the driver may
        not create it): the logging driver fails and the container never starts. No ``awslogs-group``: Batch's
        default ``/aws/batch/job``, which Batch itself provides."""
        config = (job.job_definition.container_properties or {}).get("logConfiguration") or {}
        options = config.get("options") or {}
        group = options.get("awslogs-group")
        if config.get("logDriver") != "awslogs" or not group or options.get("awslogs-create-group") == "true":
            return None
        if group in logs_backends[self.account_id][options.get("awslogs-region") or self.region].groups:
            return None
        return LOG_GROUP_MISSING.format(group=group)

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
