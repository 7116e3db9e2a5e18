"""CheckMetrics Lambda (autoexport): has the FSx auto-export queue drained since the job ended?

Contract (docs/design.md, "Lambda contracts"):

- event ``{"fileSystemId": str, "jobEndedAt": ISO-8601, "now": ISO-8601,
  "periodSeconds": int, "timeDiffMinutes": int}``;
- returns ``{"exportDone": bool, "reason": str, "latestValue": float | None, "datapoints": int}``.

One ``GetMetricData`` call per invocation reads ``AWS/FSx AgeOfOldestQueuedMessage``
(dimensions ``FileSystemId`` and ``Publisher=AutoExport``, statistic Maximum) over
``[now - timeDiffMinutes, now]``. Datapoints whose timestamp is at or after
``jobEndedAt - periodSeconds`` count (the period that holds the job's end counts):

- some count: the newest is 0 -> done; the newest is > 0 -> not done;
- none count: done only once ``now - jobEndedAt >= timeDiffMinutes``.

Why "no datapoints" can mean done (shared/AWS_FACTS.md, FSx for Lustre): the metric has
datapoints only while the export queue is active, so a check that needs a 0 datapoint
could wait forever. A queue quiet for ``timeDiffMinutes`` after the job ended is done.
A newest value > 0 that stops being published leaves the window after ``timeDiffMinutes``
and then counts as quiet, so no case waits forever; the state machine bounds the polls
(``maxExportPolls``) in any case.

``datapoints`` is how many datapoints counted for the decision; ``latestValue`` is the
newest of them (None when none counted). ``now`` comes from the event (the state
machine's clock), not from this Lambda's clock, so the decision is reproducible.

boto3 and the standard library only; Python 3.11 and 3.12.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import boto3

NAMESPACE = "AWS/FSx"
METRIC_NAME = "AgeOfOldestQueuedMessage"
PUBLISHER = "AutoExport"
STAT = "Maximum"
QUERY_ID = "exportQueueAge"
# Unit is deliberately not sent: a Unit filter that does not match the published unit
# returns no datapoints, which this check would read as "queue quiet".

_client: Any = None


def cloudwatch_client() -> Any:
    """The CloudWatch client, created on first use (tests reset ``_client`` between moto mocks)."""
    global _client
    if _client is None:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        _client = boto3.client("cloudwatch", region_name=region)
    return _client


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Read the export queue metric once and decide whether the export is done."""
    file_system_id = _text(event, "fileSystemId")
    job_ended_at = parse_time(_text(event, "jobEndedAt"), "jobEndedAt")
    now = parse_time(_text(event, "now"), "now")
    period = _positive_int(event, "periodSeconds")
    time_diff_minutes = _positive_int(event, "timeDiffMinutes")

    response = cloudwatch_client().get_metric_data(**build_request(file_system_id, now, period, time_diff_minutes))
    # One call is the rule: MaxDatapoints covers the whole window, so a complete answer has
    # no NextToken. If AWS still says the answer is partial, do not page (and do not decide on
    # part of the data): report not done and let the next poll ask again.
    results = [r for r in response.get("MetricDataResults", []) if r.get("Id") == QUERY_ID]
    # No result for the query at all is not "no datapoints": treat it as incomplete too.
    status = results[0].get("StatusCode", "Complete") if results else "no result"
    if response.get("NextToken") or status != "Complete":
        return {
            "exportDone": False,
            "reason": (
                f"metric data incomplete (StatusCode={status}, "
                f"NextToken {'present' if response.get('NextToken') else 'absent'}); checking again"
            ),
            "latestValue": None,
            "datapoints": 0,
        }
    timestamps = results[0].get("Timestamps", [])
    values = results[0].get("Values", [])
    return decide(timestamps, values, job_ended_at=job_ended_at, now=now, period_seconds=period,
                  time_diff_minutes=time_diff_minutes)


def build_request(file_system_id: str, now: datetime, period_seconds: int, time_diff_minutes: int) -> dict[str, Any]:
    """The GetMetricData request: one metric, the whole window, oldest datapoint first."""
    window_seconds = time_diff_minutes * 60
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
        "StartTime": now - timedelta(minutes=time_diff_minutes),
        "EndTime": now,
        "ScanBy": "TimestampAscending",
        # Every period of the window, plus one because CloudWatch rounds StartTime down to the whole
        # minute (GetMetricData API reference) and the window need not align with the period, plus one
        # spare: the answer fits in one page (lambdaTimeDiffMinutes <= 1440 keeps this small). Without
        # it the default is 100,800; past MaxDatapoints AWS pages, and TimestampAscending would then
        # leave out the newest datapoints, which decide.
        "MaxDatapoints": math.ceil(window_seconds / period_seconds) + 2,
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
    since = job_ended_at - timedelta(seconds=period_seconds)
    # Sort rather than trust ScanBy: the newest datapoint decides.
    counted = sorted((t, float(v)) for t, v in zip(timestamps, values, strict=True) if t >= since)
    if counted:
        newest_at, newest = counted[-1]
        where = f"at {_iso(newest_at)} ({len(counted)} datapoints since {_iso(since)})"
        # A 0 from the minute that holds the job's end may predate the job's last writes: it counts
        # only when it is from after the job ended (else the quiet rule decides once it leaves the window).
        done = newest == 0 and newest_at >= job_ended_at
        if done:
            reason = f"export queue drained: AgeOfOldestQueuedMessage is 0 {where}"
        elif newest == 0:
            reason = f"export queue was empty {where}, but that is before the job ended: waiting for a later datapoint"
        else:
            reason = f"export queue not drained: oldest queued message was {newest:g} s old {where}"
        return {"exportDone": done, "reason": reason, "latestValue": newest, "datapoints": len(counted)}

    quiet_minutes = (now - job_ended_at).total_seconds() / 60
    ignored = len(timestamps)
    earlier = f"; {ignored} earlier datapoints ignored" if ignored else ""
    if quiet_minutes >= time_diff_minutes:
        reason = (
            f"no export queue activity for {time_diff_minutes} minutes since the job ended "
            f"(ended {quiet_minutes:.1f} minutes ago at {_iso(job_ended_at)}){earlier}"
        )
        return {"exportDone": True, "reason": reason, "latestValue": None, "datapoints": 0}
    reason = (
        f"no datapoints yet; waiting until {time_diff_minutes} minutes after the job ended "
        f"({quiet_minutes:.1f} minutes so far, until {_iso(job_ended_at + timedelta(minutes=time_diff_minutes))})"
        f"{earlier}"
    )
    return {"exportDone": False, "reason": reason, "latestValue": None, "datapoints": 0}


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
