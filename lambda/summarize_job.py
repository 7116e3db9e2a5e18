"""SummarizeJobFailure Lambda: one line that says why the run's Batch job failed.

Contract (docs/workflow-v2.md, "SummarizeJobFailure"):

- event ``{"jobName": str, "jobQueue": str, "cause": str}``; ``cause`` is the Cause of the failed
  ``batch:submitJob.sync`` task: the job's description as JSON (for an array job, the parent's);
- returns ``{"summary": "<one line>", "failedChildren": int, "jobId": str}``:
  - single job: ``job <id> FAILED after <n> attempt(s): exit code <c>, <statusReason>, log stream <name>``;
  - array job: ``array job <id>: <k> of <n> children FAILED; first: #<index> exit code <c> (<reason>), ...``
    (at most ``NAMED_CHILDREN`` named, lowest index first), then ``; log stream of #<index>: <name>`` of the
    first one named;
  - ``failedChildren`` is ``k`` (0 for a single job); ``jobId`` is "" when the job could not be found.
- needs batch:DescribeJobs and batch:ListJobs.

The summary is under ``MAX_SUMMARY_CHARS`` (1,000) characters and one line whatever the job's texts hold.

Where the facts come from: DescribeJobs of the job id (fresher and complete; a Cause can be cut short by Step
Functions' 32,768-character limit on a Cause, and then it is no longer JSON). For an array, ListJobs with
``arrayJobId`` and ``jobStatus=FAILED`` (every page) gives the failed children; DescribeJobs of the lowest
``NAMED_CHILDREN`` indexes gives their exit codes, reasons and log streams (``container.logStreamName``). A
child's index is ``arrayProperties.index``, or the ``:<index>`` suffix of its job id (Batch names children
``<parent id>:<index>``) when the summary has none. A Cause that is not JSON is said so in the summary, and the
job is then looked up by name in the queue (ListJobs ``filters`` JOB_NAME, newest first). A Batch call that
fails (an AWS error) does not fail this Lambda: the summary is made from what is known and says which call
failed, since it only explains a failure that is already being handled.

Step Functions hands the Cause over as it was built: the job description's keys may be camelCase (the Batch
API) or PascalCase (as Step Functions spells service results); both are read.

boto3 and the standard library only; Python 3.11 and 3.12.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

import boto3

MAX_SUMMARY_CHARS = 1000
NAMED_CHILDREN = 5
MAX_REASON_CHARS = 150
_CAUSE_EXCERPT_CHARS = 80

_client: Any = None


def batch_client() -> Any:
    """The Batch client, created on first use (tests reset ``_client`` between mocks)."""
    global _client
    if _client is None:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        _client = boto3.client("batch", region_name=region)
    return _client


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Summarize the failed job named in ``event`` in one line."""
    job_name = _text(event, "jobName")
    job_queue = _text(event, "jobQueue")
    cause = event["cause"]
    if not isinstance(cause, str):
        raise ValueError(f"event cause is a {type(cause).__name__}: expected a string")
    client = batch_client()
    notes: list[str] = []

    from_cause = parse_cause(cause)
    job_id = str(_field(from_cause, "jobId") or "") if from_cause is not None else ""
    if from_cause is None:
        excerpt = _clip(" ".join(cause.split()), _CAUSE_EXCERPT_CHARS) or "empty"
        notes.append(f"the failure's Cause is not a JSON job description ({excerpt})")
    if not job_id:
        job_id = _find_by_name(client, job_queue, job_name, notes)

    job: Mapping[str, Any] | None = None
    if job_id:
        described = _describe(client, [job_id], notes)
        job = described.get(job_id) or from_cause
    if job is None or not job_id:
        summary = f"job {job_name} in queue {job_queue}: no description found"
        return _answer(summary, notes, 0, job_id)

    array = _field(job, "arrayProperties") or {}
    if isinstance(array, Mapping) and _field(array, "size"):
        return _summarize_array(client, job_id, job, array, notes)
    return _answer(single_job_line(job_id, job), notes, 0, job_id)


def parse_cause(cause: str) -> Mapping[str, Any] | None:
    """The job description in a .sync failure's Cause, or None when it is not a JSON object."""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return None
    return parsed if isinstance(parsed, Mapping) else None


def single_job_line(job_id: str, job: Mapping[str, Any]) -> str:
    """``job <id> <status> after <n> attempt(s): exit code <c>, <reason>, log stream <name>``."""
    attempts = _field(job, "attempts") or []
    count = len(attempts) if isinstance(attempts, list) else 0
    status = _field(job, "status") or "FAILED"
    return (
        f"job {job_id} {status} after {count} attempt(s): exit code {_exit_code(job)}, {_reason(job)}, "
        f"log stream {_log_stream(job) or 'none'}"
    )


def _summarize_array(
    client: Any, job_id: str, job: Mapping[str, Any], array: Mapping[str, Any], notes: list[str]
) -> dict[str, Any]:
    size = _field(array, "size")
    failed = _failed_children(client, job_id, notes)
    if failed is None:  # ListJobs failed: the parent's status summary still counts them
        summary_counts = _field(array, "statusSummary") or {}
        count = int(_field(summary_counts, "FAILED") or 0) if isinstance(summary_counts, Mapping) else 0
        return _answer(f"array job {job_id}: {count} of {size} children FAILED", notes, count, job_id)
    first = sorted(failed, key=lambda child: (_index(child) is None, _index(child) or 0))[:NAMED_CHILDREN]
    ids = [str(_field(child, "jobId")) for child in first]
    details = _describe(client, ids, notes) if ids else {}
    named = []
    log_note = ""
    for child in first:
        child_id = str(_field(child, "jobId"))
        detail = details.get(child_id) or child
        index = _index(detail)
        if index is None:
            index = _index(child)
        shown_index = "?" if index is None else index
        named.append(f"#{shown_index} exit code {_exit_code(detail)} ({_reason(detail)})")
        if not log_note and _log_stream(detail):
            log_note = f"; log stream of #{shown_index}: {_log_stream(detail)}"
    line = f"array job {job_id}: {len(failed)} of {size} children FAILED"
    if named:
        line += f"; first: {', '.join(named)}{log_note}"
    return _answer(line, notes, len(failed), job_id)


def _failed_children(client: Any, job_id: str, notes: list[str]) -> list[Mapping[str, Any]] | None:
    children: list[Mapping[str, Any]] = []
    try:
        for page in client.get_paginator("list_jobs").paginate(arrayJobId=job_id, jobStatus="FAILED"):
            children.extend(page.get("jobSummaryList", []))
    except client.exceptions.ClientError as err:
        notes.append(f"ListJobs failed: {_error_code(err)}")
        return None
    return children


def _find_by_name(client: Any, job_queue: str, job_name: str, notes: list[str]) -> str:
    """The newest job (not an array child) named ``job_name`` in ``job_queue``; "" if none."""
    try:
        summaries: list[Mapping[str, Any]] = []
        pages = client.get_paginator("list_jobs").paginate(
            jobQueue=job_queue, filters=[{"name": "JOB_NAME", "values": [job_name]}]
        )
        for page in pages:
            summaries.extend(page.get("jobSummaryList", []))
    except client.exceptions.ClientError as err:
        notes.append(f"ListJobs failed: {_error_code(err)}")
        return ""
    jobs = [s for s in summaries if s.get("jobName") == job_name and ":" not in str(s.get("jobId", ""))]
    if not jobs:
        notes.append(f"no job named {job_name} in queue {job_queue}")
        return ""
    notes.append("the job was found by its name")
    return str(max(jobs, key=lambda s: s.get("createdAt") or 0)["jobId"])


def _describe(client: Any, job_ids: Iterable[str], notes: list[str]) -> dict[str, Mapping[str, Any]]:
    try:
        jobs = client.describe_jobs(jobs=list(job_ids)).get("jobs", [])
    except client.exceptions.ClientError as err:
        notes.append(f"DescribeJobs failed: {_error_code(err)}")
        return {}
    return {str(job.get("jobId")): job for job in jobs}


def _answer(line: str, notes: list[str], failed_children: int, job_id: str) -> dict[str, Any]:
    if notes:
        line += f" ({'; '.join(notes)})"
    return {
        "summary": _clip(" ".join(line.split()), MAX_SUMMARY_CHARS - 1),
        "failedChildren": failed_children,
        "jobId": job_id,
    }


def _field(data: Any, name: str) -> Any:
    """``data[name]`` in the API's camelCase or Step Functions' PascalCase."""
    if not isinstance(data, Mapping):
        return None
    if name in data:
        return data[name]
    return data.get(name[:1].upper() + name[1:])


def _last_attempt_container(job: Mapping[str, Any]) -> Mapping[str, Any]:
    attempts = _field(job, "attempts")
    if isinstance(attempts, list) and attempts:
        container = _field(attempts[-1], "container")
        if isinstance(container, Mapping):
            return container
    return {}


def _exit_code(job: Mapping[str, Any]) -> str:
    for container in (_field(job, "container"), _last_attempt_container(job)):
        code = _field(container, "exitCode")
        if isinstance(code, int) and not isinstance(code, bool):
            return str(code)
    return "none"


def _reason(job: Mapping[str, Any]) -> str:
    attempts = _field(job, "attempts")
    last_attempt = attempts[-1] if isinstance(attempts, list) and attempts else {}
    for text in (
        _field(job, "statusReason"),
        _field(_field(job, "container"), "reason"),
        _field(last_attempt, "statusReason"),
        _field(_last_attempt_container(job), "reason"),
    ):
        if isinstance(text, str) and text.strip():
            return _clip(" ".join(text.split()), MAX_REASON_CHARS)
    return "no status reason"


def _log_stream(job: Mapping[str, Any]) -> str:
    for container in (_field(job, "container"), _last_attempt_container(job)):
        name = _field(container, "logStreamName")
        if isinstance(name, str) and name:
            return name
    return ""


def _index(job: Mapping[str, Any]) -> int | None:
    index = _field(_field(job, "arrayProperties"), "index")
    if isinstance(index, int) and not isinstance(index, bool):
        return index
    parent, colon, suffix = str(_field(job, "jobId") or "").rpartition(":")
    return int(suffix) if parent and colon and suffix.isdigit() else None


def _error_code(err: Exception) -> str:
    response = getattr(err, "response", {}) or {}
    return str(response.get("Error", {}).get("Code") or type(err).__name__)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _text(event: Mapping[str, Any], key: str) -> str:
    value = event[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"event {key}={value!r} is not accepted: expected a non-empty string")
    return value
