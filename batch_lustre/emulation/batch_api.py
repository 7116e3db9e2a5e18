"""The emulated Batch's API: DescribeJobs and ListJobs rendered from the model, and moto's Batch backend and
responses patched to call the model (``install``). The rules and their sources: docs/aws-rules.md, section
"Batch"."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from batch_lustre.emulation import moto_seam
from batch_lustre.emulation.batch_records import (
    ARRAY_INDEX_VARIABLE,
    JOB_STATUSES,
    LIST_PAGE,
    LIST_PAGE_WITH_FILTERS,
    TERMINAL,
    Attempt,
    BatchParts,
    EmulatedJob,
)
from batch_lustre.emulation.moto_seam import BatchBackend, BatchResponse, ClientException
from batch_lustre.program.parameters import SUBMIT_JOB_PAYLOAD_LIMIT_BYTES

if TYPE_CHECKING:
    from batch_lustre.emulation.batch import BatchModel


class JobRendering(BatchParts):
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


def _match(pattern: str, value: str, case: bool = True) -> bool:
    """A ListJobs filter value: exact, or a prefix when it ends with ``*``."""
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return value.startswith(pattern[:-1]) if pattern.endswith("*") else value == pattern


def refuse_oversize_payload(body: bytes | str | None) -> None:
    """Batch refuses a SubmitJob request over 30 KiB (AWS Batch service quotas; docs/aws-rules.md). The error code
    is Batch's for a bad request; its text is Assumed (not documented)."""
    size = len(body.encode("utf-8") if isinstance(body, str) else body or b"")
    if size > SUBMIT_JOB_PAYLOAD_LIMIT_BYTES:
        raise ClientException(
            f"Job payload size {size} bytes exceeds the maximum of {SUBMIT_JOB_PAYLOAD_LIMIT_BYTES} bytes (30 KiB)"
        )


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
        refuse_oversize_payload(self.body)
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

    moto_seam.patch(stack, BatchBackend, "submit_job", submit_job)
    moto_seam.patch(stack, BatchResponse, "submitjob", submitjob)
    moto_seam.patch(stack, BatchBackend, "describe_jobs", describe_jobs)
    moto_seam.patch(stack, BatchResponse, "listjobs", listjobs)
    moto_seam.patch(stack, BatchBackend, "terminate_job", terminate_job)
    moto_seam.patch(stack, BatchBackend, "cancel_job", cancel_job)
    moto_seam.patch(stack, BatchBackend, "update_compute_environment", update_compute_environment)
    moto_seam.patch(stack, BatchBackend, "describe_compute_environments", describe_compute_environments)
