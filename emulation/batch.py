"""AWS Batch jobs without docker: scenario-chosen attempts on the emulated clock, retry strategy applied.

moto's Batch runs jobs in docker (or, with ``use_docker=False``, marks them
SUCCEEDED at once). Here ``submit_job``/``describe_jobs``/``terminate_job``/
``cancel_job`` are replaced on moto's backend with jobs that go SUBMITTED ->
PENDING -> RUNNABLE -> STARTING -> RUNNING -> SUCCEEDED|FAILED on the emulated
clock, with ``attempts[]`` (container exit code, statusReason) and the job
definition's ``retryStrategy`` (attempts, evaluateOnExit) applied as AWS Batch
documents it. A RUNNING attempt writes the scenario's files onto the Lustre file
system that the compute environment's current launch template mounts.
UpdateComputeEnvironment records launch template changes (moto ignores them).
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from moto.batch.exceptions import ClientException
from moto.batch.models import BatchBackend, JobDefinition
from moto.ec2.models import ec2_backends

from asl.naming import CONTAINER_SCRATCH_DIR
from emulation.clock import EmulatedClock
from emulation.fsx import FsxModel
from emulation.scenario import ATTEMPT_APP_ERROR, ATTEMPT_HOST_EC2, ATTEMPT_SUCCEEDED, BatchScenario

JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
BEFORE_STARTING = ("SUBMITTED", "PENDING", "RUNNABLE")
TERMINAL = ("SUCCEEDED", "FAILED")
APP_ERROR_REASON = "Essential container in task exited"
TIMEOUT_REASON = "Job attempt duration exceeded timeout"


@dataclass
class Attempt:
    instance_id: str
    started_at: float | None = None  # RUNNING
    stopped_at: float | None = None
    exit_code: int | None = None
    reason: str | None = None  # container reason
    status_reason: str | None = None


@dataclass
class MountProblem:
    job_id: str
    reason: str


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
    current_launch_template: Callable[[EmulatedJob], dict[str, Any] | None] = lambda job: None

    # --- jobs ------------------------------------------------------------------------------------
    def submit(self, backend: BatchBackend, name: str, job_def_id: str, queue_id: str, tags: dict[str, str] | None,
               parameters: dict[str, str] | None, timeout: dict[str, int] | None) -> EmulatedJob:
        if not name or not JOB_NAME.match(name):
            raise ClientException("Job name should match valid pattern")
        job_def = backend.get_job_definition(job_def_id)
        if job_def is None or job_def.status != "ACTIVE":
            raise ClientException(f"Job definition {job_def_id} does not exist or is not ACTIVE")
        queue = backend.get_job_queue(queue_id)
        if queue is None:
            raise ClientException(f"Job queue {queue_id} does not exist")
        job_id = str(uuid.uuid4())
        job = EmulatedJob(
            job_id=job_id,
            arn=f"arn:aws:batch:{self.region}:{self.account_id}:job/{job_id}",
            name=name,
            queue_arn=queue.arn,
            job_definition=job_def,
            created_at=self.clock.seconds(),
            tags=dict(tags or {}),
            parameters={**(job_def.parameters or {}), **(parameters or {})},
            timeout=timeout or job_def.timeout,
        )
        self.jobs[job_id] = job
        self._set(job, "SUBMITTED", job.created_at)
        sc = self.scenario
        self._after(job, sc.submitted_seconds, lambda at: self._set(job, "PENDING", at))
        self._after(job, sc.submitted_seconds + sc.pending_seconds, lambda at: self._runnable(job, at))
        return job

    def _after(self, job: EmulatedJob, delay: float, step: Callable[[float], None]) -> None:
        generation = job.generation

        def run(at: float) -> None:
            if job.generation == generation and job.status not in TERMINAL:
                step(at)

        self.clock.schedule_in(delay, run, f"job {job.job_id[:8]}")

    def _set(self, job: EmulatedJob, status: str, at: float) -> None:
        job.status = status
        job.history.append((status, at))

    def _runnable(self, job: EmulatedJob, at: float) -> None:
        self._set(job, "RUNNABLE", at)
        self._after(job, self.scenario.runnable_seconds, lambda t: self._starting(job, t))

    def _starting(self, job: EmulatedJob, at: float) -> None:
        mount = self._resolve_mount(job)
        if mount is None:
            return  # the host shut itself down: no instance ever takes the job, it stays RUNNABLE
        self._set(job, "STARTING", at)
        job.attempts.append(Attempt(instance_id=f"i-{uuid.uuid4().hex[:17]}"))
        self._after(job, self.scenario.starting_seconds, lambda t: self._running(job, t))

    def _running(self, job: EmulatedJob, at: float) -> None:
        self._set(job, "RUNNING", at)
        if job.started_at is None:
            job.started_at = at
        attempt = job.attempts[-1]
        attempt.started_at = at
        plan = self.scenario.attempt(len(job.attempts) - 1)
        run_seconds = plan.run_seconds
        limit = (job.timeout or {}).get("attemptDurationSeconds")
        timed_out = limit is not None and run_seconds > limit
        if timed_out:
            run_seconds = float(limit)
        files = plan.files if plan.files is not None else (
            {} if plan.outcome == ATTEMPT_HOST_EC2 else self.scenario.files)
        for i, (rel, data) in enumerate(sorted(files.items())):
            self._after(job, run_seconds * (i + 1) / (len(files) + 1), lambda t, r=rel, d=data: self._write(job, r, d))
        if timed_out:
            self._after(job, run_seconds, lambda t: self._attempt_ended(job, t, 137, None, TIMEOUT_REASON))
        elif plan.outcome == ATTEMPT_SUCCEEDED:
            self._after(job, run_seconds, lambda t: self._attempt_ended(job, t, 0, None, None))
        elif plan.outcome == ATTEMPT_APP_ERROR:
            code = 1 if plan.exit_code is None else plan.exit_code
            self._after(job, run_seconds, lambda t: self._attempt_ended(job, t, code, None, APP_ERROR_REASON))
        else:
            reason = f"Host EC2 (instance {attempt.instance_id}) terminated."
            self._after(job, run_seconds, lambda t: self._attempt_ended(job, t, None, None, reason))

    def _attempt_ended(self, job: EmulatedJob, at: float, exit_code: int | None, reason: str | None,
                       status_reason: str | None) -> None:
        attempt = job.attempts[-1]
        attempt.stopped_at, attempt.exit_code, attempt.reason = at, exit_code, reason
        attempt.status_reason = status_reason
        if exit_code == 0:
            job.stopped_at, job.status_reason = at, None
            self._set(job, "SUCCEEDED", at)
            return
        max_attempts = int((job.job_definition.retry_strategy or {}).get("attempts") or 1)
        if len(job.attempts) < max_attempts and retry_action(job.job_definition.retry_strategy, attempt) == "RETRY":
            self._runnable(job, at)
            return
        job.stopped_at, job.status_reason = at, status_reason
        self._set(job, "FAILED", at)

    def terminate(self, job_id: str, reason: str, only_before_starting: bool = False) -> None:
        job = self.jobs.get(job_id)
        if job is None or job.status in TERMINAL:
            return
        now = self.clock.seconds()
        if job.status in BEFORE_STARTING:
            job.generation += 1
            job.stopped_at, job.status_reason = now, reason
            self._set(job, "FAILED", now)
            return
        if only_before_starting:
            return  # CancelJob leaves STARTING/RUNNING jobs alone
        job.generation += 1

        def stopped(at: float) -> None:
            if job.attempts and job.attempts[-1].stopped_at is None:
                attempt = job.attempts[-1]
                attempt.stopped_at, attempt.status_reason = at, reason
                attempt.exit_code = 143 if attempt.started_at is not None else None
            job.stopped_at, job.status_reason = at, reason
            self._set(job, "FAILED", at)

        self.clock.schedule_in(self.scenario.terminate_seconds, stopped, f"job {job_id[:8]} terminated")

    def describe(self, job: EmulatedJob) -> dict[str, Any]:
        ms = self._ms
        props = dict(job.job_definition.container_properties or {})
        container: dict[str, Any] = {
            "image": props.get("image"),
            "command": props.get("command", []),
            "volumes": props.get("volumes", []),
            "mountPoints": props.get("mountPoints", []),
            "environment": props.get("environment", []),
            "resourceRequirements": props.get("resourceRequirements", []),
            "ulimits": props.get("ulimits", []),
            "privileged": bool(props.get("privileged", False)),
            "readonlyRootFilesystem": bool(props.get("readonlyRootFilesystem", False)),
            "networkInterfaces": [],
        }
        attempts = []
        for a in job.attempts:
            if a.stopped_at is None:
                continue  # AWS lists an attempt once it has ended
            item: dict[str, Any] = {
                "container": {"containerInstanceArn": f"arn:aws:ecs:{self.region}:{self.account_id}:"
                                                      f"container-instance/{a.instance_id}",
                              "taskArn": f"arn:aws:ecs:{self.region}:{self.account_id}:task/{a.instance_id}",
                              "networkInterfaces": []},
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
        last = job.attempts[-1] if job.attempts else None
        if job.status in TERMINAL and last is not None:
            if last.exit_code is not None:
                container["exitCode"] = last.exit_code
            if last.reason:
                container["reason"] = last.reason
        out: dict[str, Any] = {
            "jobArn": job.arn,
            "jobName": job.name,
            "jobId": job.job_id,
            "jobQueue": job.queue_arn,
            "status": job.status,
            "attempts": attempts,
            "createdAt": ms(job.created_at),
            "retryStrategy": job.job_definition.retry_strategy or {},
            "dependsOn": [],
            "jobDefinition": job.job_definition.arn,
            "parameters": job.parameters,
            "container": container,
            "tags": job.tags,
            "platformCapabilities": job.job_definition.platform_capabilities or [],
        }
        if job.status_reason:
            out["statusReason"] = job.status_reason
        if job.started_at is not None:
            out["startedAt"] = ms(job.started_at)
        if job.stopped_at is not None:
            out["stoppedAt"] = ms(job.stopped_at)
        if job.timeout:
            out["timeout"] = job.timeout
        return out

    def _ms(self, seconds: float) -> int:
        return int(self.clock.at(seconds).timestamp() * 1000)

    # --- the job's file system -------------------------------------------------------------------
    def _resolve_mount(self, job: EmulatedJob) -> dict[str, Any] | None:
        """Which Lustre file system the job's host mounts, from the CE's current launch template.

        Returns {} when the host runs without Lustre (writes land on the root disk), or None
        when the user data refuses to run without the mount (``mountpoint -q`` check).
        """
        template = self.current_launch_template(job)
        user_data = (template or {}).get("UserData")
        script = _decode_user_data(user_data) if user_data else ""
        mount = parse_lustre_mount(script)
        problem = None
        if mount is None:
            problem = "the launch template's user data mounts no Lustre file system"
        else:
            fs = self.fsx.by_mount(mount["dns_name"], mount["mount_name"])
            if fs is None:
                problem = f"no file system answers {mount['dns_name']}@tcp:/{mount['mount_name']} (wrong DNSName/MountName)"
            elif fs.lifecycle != "AVAILABLE":
                problem = f"file system {fs.file_system_id} is {fs.lifecycle}"
            else:
                host_path = _host_scratch_path(job.job_definition)
                mount_dir = mount["mount_dir"].rstrip("/")
                if host_path is None or not (host_path == mount_dir or host_path.startswith(mount_dir + "/")):
                    problem = f"the job's {CONTAINER_SCRATCH_DIR} host path {host_path} is not under {mount_dir}"
                else:
                    job.file_system_id = fs.file_system_id
                    job.scratch_on_fs = host_path[len(mount_dir):] or "/"
                    return mount
        self.mount_problems.append(MountProblem(job.job_id, problem))
        if "mountpoint -q" in script:
            return None
        return {}

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


def _host_scratch_path(job_def: JobDefinition) -> str | None:
    props = job_def.container_properties or {}
    volume = next((m.get("sourceVolume") for m in props.get("mountPoints", [])
                   if m.get("containerPath", "").rstrip("/") == CONTAINER_SCRATCH_DIR), None)
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


_ASSIGN = re.compile(r"""^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(["']?)([^"'\n]*)\2\s*$""", re.MULTILINE)
_MOUNT = re.compile(r"mount\s+-t\s+lustre\b(?:\s+-o\s+\S+)?\s+(\S+?)@tcp:/(\S+)\s+(\S+)")


def parse_lustre_mount(script: str) -> dict[str, str] | None:
    """``mount -t lustre ... <dns>@tcp:/<mountname> <dir>`` from a shell script, with its variables expanded."""
    variables = {m.group(1): m.group(3) for m in _ASSIGN.finditer(script)}

    def expand(text: str) -> str:
        return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: variables.get(m.group(1), m.group(0)), text)

    for line in script.splitlines():
        if "mount" in line and "lustre" in line and not line.lstrip().startswith("#"):
            found = _MOUNT.search(expand(line).replace('"', "").replace("'", ""))
            if found:
                return {"dns_name": found.group(1), "mount_name": found.group(2), "mount_dir": found.group(3)}
    return None


def install(stack: ExitStack, model_for: Callable[[], BatchModel], lock: Any) -> None:
    """Replace moto's Batch job execution and record compute environment updates."""
    original_update = BatchBackend.update_compute_environment

    def submit_job(self: BatchBackend, job_name: str, job_def_id: str, job_queue: str,
                   array_properties: dict[str, Any] | None = None, depends_on: Any = None,
                   container_overrides: Any = None, eks_properties_override: Any = None,
                   timeout: dict[str, int] | None = None, parameters: dict[str, str] | None = None,
                   tags: dict[str, str] | None = None) -> tuple[str, str, str]:
        with lock:
            model = model_for()
            model.clock.settle()
            job = model.submit(self, job_name, job_def_id, job_queue, tags, parameters, timeout)
            return job.name, job.job_id, job.arn

    def describe_jobs(self: BatchBackend, jobs: list[str] | None) -> list[dict[str, Any]]:
        with lock:
            model = model_for()
            model.clock.settle()
            wanted = set(jobs or [])
            return [model.describe(j) for j in model.jobs.values()
                    if not wanted or j.job_id in wanted or j.arn in wanted]

    def terminate_job(self: BatchBackend, job_id: str, reason: str) -> None:
        if not job_id or not reason:
            raise ClientException("'jobId' and 'reason' are required fields (cannot be empty strings)")
        with lock:
            model_for().terminate(job_id, reason)

    def cancel_job(self: BatchBackend, job_id: str, reason: str) -> None:
        if not job_id or not reason:
            raise ClientException("'jobId' and 'reason' are required fields (cannot be empty strings)")
        with lock:
            model_for().terminate(job_id, reason, only_before_starting=True)

    def update_compute_environment(self: BatchBackend, compute_environment_name: str, state: str | None,
                                   compute_resources: Any | None, service_role: str | None) -> tuple[str, str]:
        with lock:
            model = model_for()
            if model.scenario.update_compute_environment_error:
                raise ClientException(model.scenario.update_compute_environment_error)
            name, arn = original_update(self, compute_environment_name, state, compute_resources, service_role)
            env = self.get_compute_environment(arn)
            if compute_resources and env is not None:
                template = compute_resources.get("launchTemplate")
                if template:
                    _check_launch_template(self, template)
                    model.launch_template_history.append((model.clock.seconds(), arn, dict(template)))
                env.compute_resources = {**(env.compute_resources or {}), **compute_resources}
            return name, arn

    stack.enter_context(mock.patch.object(BatchBackend, "submit_job", submit_job))
    stack.enter_context(mock.patch.object(BatchBackend, "describe_jobs", describe_jobs))
    stack.enter_context(mock.patch.object(BatchBackend, "terminate_job", terminate_job))
    stack.enter_context(mock.patch.object(BatchBackend, "cancel_job", cancel_job))
    stack.enter_context(mock.patch.object(BatchBackend, "update_compute_environment", update_compute_environment))


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
        lt = (ec2.get_launch_template(ref["launchTemplateId"]) if ref.get("launchTemplateId")
              else ec2.get_launch_template_by_name(ref.get("launchTemplateName", "")))
        return dict(lt.get_version(ref.get("version") or "$Default").data)
    except Exception:
        return None
