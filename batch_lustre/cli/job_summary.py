"""A failed job's Batch description, as a run's Cause can hold it, in one line.

The workflow's SummarizeJobFailure Lambda (``lambda/summarize_job.py``) makes the Cause of a failed job one line.
When it could not (``RecordJobFailureUnsummarized``: ``Job FAILED: <JSON>``) or when the failure went another way
(``RunJobFailed``: ``States.TaskFailed: <JSON>``), the Cause holds the job's description as Batch gives it: about
1,500 characters of JSON with the exit code buried in it. ``summarize_cause`` puts the JSON's facts in its place:

- a job: ``job <id> FAILED after <n> attempt(s): exit code <c>, <statusReason>, log stream <name>``;
- an array job: ``array job <id> FAILED: <k> of <n> children FAILED, <statusReason>``.

Text around the JSON is kept; a Cause without such JSON is returned as it is, on one line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

REASON_CHARS = 200  # of a status reason in the summary


def _field(data: Mapping[str, Any], name: str) -> Any:
    """``name`` in camelCase (the Batch API) or PascalCase (as Step Functions spells service results)."""
    if name in data:
        return data[name]
    return data.get(name[:1].upper() + name[1:])


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _one_line(text: Any, limit: int = REASON_CHARS) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def find_job(cause: str) -> tuple[str, Mapping[str, Any], str] | None:
    """(text before, the job description, text after) when ``cause`` holds a Batch job description as JSON."""
    decoder = json.JSONDecoder()
    start = cause.find("{")
    while start != -1:
        try:
            found, end = decoder.raw_decode(cause, start)
        except ValueError:
            start = cause.find("{", start + 1)
            continue
        if isinstance(found, Mapping) and _field(found, "jobId") and _field(found, "status"):
            return cause[:start], found, cause[end:]
        start = cause.find("{", end)
    return None


def summarize_job(job: Mapping[str, Any]) -> str:
    """One line: a job's exit code, status reason, log stream and attempts; an array job's children counts."""
    job_id = _field(job, "jobId")
    status = _field(job, "status") or "?"
    reason = _field(job, "statusReason")
    array = _mapping(_field(job, "arrayProperties"))
    counts = _mapping(_field(array, "statusSummary"))
    if array and _field(array, "size"):
        failed = _field(counts, "FAILED")
        line = f"array job {job_id} {status}: {failed if failed is not None else '?'} of {_field(array, 'size')} "
        line += "children FAILED"
        return line + (f", {_one_line(reason)}" if reason else "")
    attempts = _field(job, "attempts")
    attempts = attempts if isinstance(attempts, list) else []
    last = _mapping(attempts[-1]) if attempts else {}
    container = _mapping(_field(last, "container")) or _mapping(_field(job, "container"))
    exit_code = _field(container, "exitCode")
    log_stream = _field(container, "logStreamName")
    reason = reason or _field(container, "reason") or _field(last, "statusReason")
    parts = [f"exit code {exit_code if exit_code is not None else 'none'}"]
    if reason:
        parts.append(_one_line(reason))
    parts.append(f"log stream {log_stream}" if log_stream else "no log stream")
    return f"job {job_id} {status} after {len(attempts)} attempt(s): " + ", ".join(parts)


def summarize_cause(cause: str | None) -> str:
    """``cause`` on one line, a Batch job description in it replaced by ``summarize_job`` of it."""
    if not cause:
        return "-"
    found = find_job(cause)
    if found is None:
        return " ".join(cause.split())
    before, job, after = found
    return " ".join(f"{before}{summarize_job(job)}{after}".split())
