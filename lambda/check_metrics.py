"""CheckMetrics Lambda (autoexport): is the FSx auto-export queue proven drained since the job ended?

Contract (docs/workflow-v2.md, section "CheckMetrics"):

- ``check(event)``, one read: event ``{"fileSystemId": str, "jobEndedAt": ISO-8601, "now": ISO-8601,
  "periodSeconds": int, "timeDiffMinutes": int}``;
  returns ``{"state": "DRAINED" | "QUEUED" | "UNPROVEN", "reason": str, "latestValue": float | None,
  "datapoints": int, "exportDone": bool, "fallback": bool, "minutesSinceJobEnded": float}``.
  ``exportDone`` is ``state == "DRAINED"``. ``fallback`` is
  true when the state is UNPROVEN and the job ended at least ``timeDiffMinutes`` ago: "UNPROVEN for
  lambdaTimeDiffMinutes after the job's end" leads to the fallback export task, and Step Functions cannot
  subtract times to tell it itself. ``minutesSinceJobEnded`` says how long ago (for the reason and logs).
- ``handler(event, context)``, the state machine's CheckMetrics: the same event without ``now`` (each read is
  at the time it is made), plus WaitFor's ``check``, ``record``, ``polls`` and ``waits`` (lambda/wait_for.py,
  packaged with this function): it reads at once, then after each wait of the schedule until DRAINED or ``fallback``, the
  schedule is used up, or the next wait does not fit in the invocation, and returns the loop's record, whose
  ``Last`` is the last ``check`` result and whose ``Seen.exportQueue`` lists the states it went through.

What AWS says. The FSx DeleteFileSystem API reference: "To ensure all of your data is written back to S3
before deleting your file system, you can either monitor for the AgeOfOldestQueuedMessage metric to be zero
(if using automatic export) or you can run an export data repository task." (FSx API Reference,
DeleteFileSystem; the same in the FSx for Lustre guide, "Deleting a file system".) The metric has datapoints
only while the queue is active (shared/AWS_FACTS.md, FSx), so "no datapoint" proves nothing: it is UNPROVEN,
never DRAINED, and the state machine falls back to an export task.

Which datapoints count: those whose period starts at or after ``jobEndedAt``. The reasoning:

- GetMetricData returns one value per period: "CloudWatch aggregates data points based on the length of the
  period that you specify" (GetMetricStatistics API reference), and a returned datapoint is stamped with the
  START of its period: StartTime "is inclusive; results include data points with the specified time stamp",
  EndTime is exclusive, and the GetMetricData reference's own example reads "if you make a query at 01:05:23
  for the previous 10-second period ... you receive data from 01:05:10 to 01:05:20": the period
  [01:05:10, 01:05:20) is the datapoint stamped 01:05:10. moto stamps its buckets the same way
  (``period_start_time``).
- So a datapoint stamped ``t`` with period ``P`` is the Maximum of what FSx published in ``[t, t + P)``. If
  ``t < jobEndedAt`` that interval holds moments before the job ended, when the job could still write files;
  a 0 there may predate the last writes. Only ``t >= jobEndedAt`` makes every sample of the period one taken
  after the job ended, and the Maximum being 0 then means the queue was empty for that whole period.
- Decision on the counted datapoints: the newest is 0 -> DRAINED; the newest is > 0 -> QUEUED; none -> UNPROVEN.
  The newest decides because the queue can only shrink once the job has stopped writing; a value > 0 after a 0
  (files queued late) is caught because the newest, not any, must be 0.
- Late datapoints (CloudWatch makes a period's datapoint visible minutes after the period) only delay DRAINED:
  until they arrive the newest counted datapoint is older, or there is none (UNPROVEN).

The query reads ``[min(jobEndedAt, now - timeDiffMinutes), now)``, StartTime rounded down to a whole period
(CloudWatch rounds StartTime down to the minute and aligns periods to the clock; aligning here makes moto's
buckets, which start at StartTime, the same): every datapoint since the job ended is in the answer however long
ago that was, so a drained queue's zeros are not missed because the checks are far apart. Lookback is capped at
``MAX_LOOKBACK_MINUTES`` (1-minute datapoints are kept 15 days).

One ``GetMetricData`` call per invocation (AWS/FSx AgeOfOldestQueuedMessage, dimensions FileSystemId and
Publisher=AutoExport, statistic Maximum). An incomplete answer (NextToken, StatusCode other than Complete, no
result for the query) is UNPROVEN: never decide on part of the data. ``now`` comes from the event (the state
machine's clock), so a decision is reproducible.

boto3 and the standard library only; Python 3.11 and 3.12.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aws_calls  # packaged with this function (asl/naming.py LAMBDA_FILES): clients and error classes
import wait_for  # packaged with this function: the waiting loop

NAMESPACE = "AWS/FSx"
METRIC_NAME = "AgeOfOldestQueuedMessage"
PUBLISHER = "AutoExport"
STAT = "Maximum"
QUERY_ID = "exportQueueAge"
DRAINED = "DRAINED"
QUEUED = "QUEUED"
UNPROVEN = "UNPROVEN"
STATES = (DRAINED, QUEUED, UNPROVEN)
# 14 days: within the 15 days CloudWatch keeps 1-minute datapoints, and at most 20,160 datapoints at 60 s
# (GetMetricData returns at most 100,800 per call).
MAX_LOOKBACK_MINUTES = 14 * 24 * 60
# The last result while no read has answered (only transient errors): proves nothing.
UNKNOWN: dict[str, Any] = {
    "state": UNPROVEN,
    "reason": "the metric could not be read yet (transient errors)",
    "latestValue": None,
    "datapoints": 0,
    "exportDone": False,
    "fallback": False,
    "minutesSinceJobEnded": 0,
}
# Unit is deliberately not sent: a Unit filter that does not match the published unit
# returns no datapoints.

_client: Any = None


def cloudwatch_client() -> Any:
    """The CloudWatch client, created on first use (tests reset ``_client`` between moto mocks)."""
    global _client
    if _client is None:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        _client = aws_calls.client("cloudwatch", region)
    return _client


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The state machine's CheckMetrics: read the metric after each wait of the schedule (``waits``, first wait
    before the first read) until the queue is proven drained or the fallback is due, within one invocation as
    WaitFor does (lambda/wait_for.py: ``record``, ``polls``; the record's ``Last`` is the last ``check``)."""
    # The first read is made as the job ends: it cannot prove the queue drained yet (no period has started since),
    # but it shows the queue as the job left it, at once.
    # A read that fails with a transient error is counted in the record's Transient and the loop goes on
    # (lambda/wait_for.py); until a read answers, the last result is UNKNOWN's (UNPROVEN, no fallback).
    return wait_for.wait(event, context, _check_now, "state", time.sleep, check_at_once=True, unknown=UNKNOWN)


def _check_now(event: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    now = datetime.fromtimestamp(time.time(), UTC)
    result = check({**event, "now": _iso(now)})
    return result["state"] == DRAINED or result["fallback"], result


def check(event: Mapping[str, Any]) -> dict[str, Any]:
    """Read the export queue metric once, at the event's ``now``, and say whether the queue is proven drained
    since the job ended."""
    file_system_id = _text(event, "fileSystemId")
    job_ended_at = parse_time(_text(event, "jobEndedAt"), "jobEndedAt")
    now = parse_time(_text(event, "now"), "now")
    period = _positive_int(event, "periodSeconds")
    time_diff_minutes = _positive_int(event, "timeDiffMinutes")

    request = build_request(file_system_id, now, period, time_diff_minutes, job_ended_at=job_ended_at)
    response = cloudwatch_client().get_metric_data(**request)
    since_end = _minutes_since(job_ended_at, now)
    # One call is the rule: MaxDatapoints covers the whole window, so a complete answer has no NextToken.
    # If AWS still says the answer is partial, do not page and do not decide on part of the data.
    results = [r for r in response.get("MetricDataResults", []) if r.get("Id") == QUERY_ID]
    status = results[0].get("StatusCode", "Complete") if results else "no result"
    if response.get("NextToken") or status != "Complete":
        reason = (
            f"metric data incomplete (StatusCode={status}, "
            f"NextToken {'present' if response.get('NextToken') else 'absent'}); not proven drained"
        )
        return _result(UNPROVEN, reason, None, 0, since_end, time_diff_minutes)
    return decide(
        results[0].get("Timestamps", []),
        results[0].get("Values", []),
        job_ended_at=job_ended_at,
        now=now,
        period_seconds=period,
        time_diff_minutes=time_diff_minutes,
    )


def window_start(now: datetime, period_seconds: int, time_diff_minutes: int, job_ended_at: datetime | None) -> datetime:
    """StartTime: the earlier of the job's end and ``now - timeDiffMinutes``, down to a whole period."""
    start = now - timedelta(minutes=time_diff_minutes)
    if job_ended_at is not None and job_ended_at < start:
        start = job_ended_at
    start = max(start, now - timedelta(minutes=MAX_LOOKBACK_MINUTES))
    epoch = start.timestamp()
    return start - timedelta(seconds=epoch - math.floor(epoch / period_seconds) * period_seconds)


def build_request(
    file_system_id: str,
    now: datetime,
    period_seconds: int,
    time_diff_minutes: int,
    *,
    job_ended_at: datetime | None = None,
) -> dict[str, Any]:
    """The GetMetricData request: one metric, the whole window, oldest datapoint first, in one page."""
    start = window_start(now, period_seconds, time_diff_minutes, job_ended_at)
    return {
        "MetricDataQueries": [
            {
                "Id": QUERY_ID,
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": METRIC_NAME,
                        "Dimensions": [
                            {"Name": "FileSystemId", "Value": file_system_id},
                            {"Name": "Publisher", "Value": PUBLISHER},
                        ],
                    },
                    "Period": period_seconds,
                    "Stat": STAT,
                },
                "ReturnData": True,
            }
        ],
        "StartTime": start,
        "EndTime": now,
        "ScanBy": "TimestampAscending",
        # Every period of the window plus one spare, so the answer is one page. Without it the default is
        # 100,800; past MaxDatapoints AWS pages, and TimestampAscending would leave out the newest datapoints,
        # which decide.
        "MaxDatapoints": math.ceil((now - start).total_seconds() / period_seconds) + 1,
    }


def decide(
    timestamps: Sequence[datetime],
    values: Sequence[float],
    *,
    job_ended_at: datetime,
    now: datetime,
    period_seconds: int,
    time_diff_minutes: int,
) -> dict[str, Any]:
    """The decision on the datapoints of the window (see the module docstring)."""
    since_end = _minutes_since(job_ended_at, now)
    points = list(zip(timestamps, values, strict=True))
    # Sort rather than trust ScanBy: the newest datapoint decides.
    counted = sorted((t, float(v)) for t, v in points if t >= job_ended_at)
    ignored = len(points) - len(counted)
    earlier = f"; {ignored} datapoints of periods that started before the job ended ignored" if ignored else ""
    if not counted:
        reason = (
            f"no datapoint of a period ({period_seconds} s) that started after the job ended at "
            f"{_iso(job_ended_at)} ({since_end:.1f} minutes ago){earlier}: the export queue is not proven drained"
        )
        return _result(UNPROVEN, reason, None, 0, since_end, time_diff_minutes)
    newest_at, newest = counted[-1]
    where = f"in the period starting {_iso(newest_at)} ({len(counted)} datapoints since the job ended{earlier})"
    if newest == 0:
        return _result(
            DRAINED,
            f"export queue drained: AgeOfOldestQueuedMessage is 0 {where}",
            newest,
            len(counted),
            since_end,
            time_diff_minutes,
        )
    reason = f"export queue not drained: oldest queued message was {newest:g} s old {where}"
    return _result(QUEUED, reason, newest, len(counted), since_end, time_diff_minutes)


def _result(
    state: str, reason: str, latest: float | None, datapoints: int, since_end: float, time_diff_minutes: int
) -> dict[str, Any]:
    fallback = state == UNPROVEN and since_end >= time_diff_minutes
    if fallback:
        reason += f"; unproven for {time_diff_minutes} minutes (lambdaTimeDiffMinutes) since the job ended"
    return {
        "state": state,
        "reason": " ".join(reason.splitlines()),
        "latestValue": latest,
        "datapoints": datapoints,
        "exportDone": state == DRAINED,
        "fallback": fallback,
        "minutesSinceJobEnded": round(since_end, 1),
    }


def _minutes_since(job_ended_at: datetime, now: datetime) -> float:
    return (now - job_ended_at).total_seconds() / 60


def parse_time(text: str, name: str = "time") -> datetime:
    """An ISO-8601 time with a zone ("Z" or "+00:00", fractional seconds allowed)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"event {name}={text!r} is not an ISO-8601 time") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"event {name}={text!r} has no time zone: expected e.g. 2024-01-01T00:00:00Z")
    return value


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _text(event: Mapping[str, Any], key: str) -> str:
    value = event[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"event {key}={value!r} is not accepted: expected a non-empty string")
    return value


def _positive_int(event: Mapping[str, Any], key: str) -> int:
    value = event[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"event {key}={value!r} is not accepted: expected an integer >= 1")
    return value
