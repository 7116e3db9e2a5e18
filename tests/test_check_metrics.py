"""CheckMetrics Lambda against moto's CloudWatch (docs/design.md, Lambda contracts; shared/AWS_FACTS.md, FSx).

moto's GetMetricData (5.2.5), as read in its source and checked by these tests:
- it keeps datapoints with StartTime <= timestamp < EndTime and buckets them by Period from StartTime
  (real CloudWatch aligns buckets to the clock; with a StartTime on a whole minute both agree for 60 s);
- it computes the statistic per bucket (Maximum here) and honours ScanBy;
- with Dimensions it needs the exact set of dimensions and the metric name, but it does NOT compare the
  namespace then (a datapoint of another namespace with the same name and dimensions is returned), so the
  namespace is checked on the request instead (test_request_is_what_the_design_says);
- it ignores MaxDatapoints, never returns NextToken and always says StatusCode Complete: the incomplete-answer
  branch is tested with botocore's Stubber;
- PutMetricData accepts the AWS/ namespace and any timestamp (real AWS refuses both), so the FSx metric can be faked.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sysconfig
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import boto3
import check_metrics
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber
from botocore.validate import validate_parameters
from conftest import find_python_312, python312_scan
from moto import mock_aws
from moto.cloudwatch.models import CloudWatchBackend

ROOT = Path(__file__).resolve().parent.parent
HANDLER_FILE = ROOT / "lambda" / "check_metrics.py"
FS = "fs-0123456789abcdef0"
OTHER_FS = "fs-0fedcba9876543210"
METRIC = "AgeOfOldestQueuedMessage"


def utc_now_minute() -> datetime:
    """Real UTC now on a whole minute: moto buckets from StartTime, so buckets fall on whole minutes."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture
def aws(monkeypatch):
    """moto's CloudWatch; records every GetMetricData the handler sends and every one moto serves."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setattr(check_metrics, "_client", None)
    served: list[dict] = []
    original = CloudWatchBackend.get_metric_data

    def counting(self, *args, **kwargs):
        served.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CloudWatchBackend, "get_metric_data", counting)
    with mock_aws():
        sent: list[dict] = []
        client = check_metrics.cloudwatch_client()
        client.meta.events.register(
            "before-parameter-build.cloudwatch.GetMetricData",
            lambda params, **_: sent.append(copy.deepcopy(params)),
        )
        yield SimpleNamespace(
            cw=boto3.client("cloudwatch", region_name="us-east-1"), client=client, sent=sent, served=served
        )


def put(cw, now: datetime, points, fs: str = FS, publisher: str | None = "AutoExport", namespace: str = "AWS/FSx"):
    """Datapoints of the FSx metric at ``now - minutes``; ``points`` is [(minutes_ago, value)]."""
    dimensions = [{"Name": "FileSystemId", "Value": fs}]
    if publisher:
        dimensions.append({"Name": "Publisher", "Value": publisher})
    cw.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": METRIC, "Dimensions": dimensions, "Timestamp": now - timedelta(minutes=m), "Value": v}
        for m, v in points
    ])


def invoke(aws, now: datetime, job_ended_minutes_ago: float, *, period: int = 60, time_diff: int = 15,
           fs: str = FS, now_text: str | None = None, job_ended_text: str | None = None) -> dict:
    """Run the handler once; it must make exactly one GetMetricData call."""
    sent_before, served_before = len(aws.sent), len(aws.served)
    event = {
        "fileSystemId": fs,
        "jobEndedAt": job_ended_text or (now - timedelta(minutes=job_ended_minutes_ago)).isoformat(),
        "now": now_text or now.isoformat().replace("+00:00", "Z"),
        "periodSeconds": period,
        "timeDiffMinutes": time_diff,
    }
    result = check_metrics.handler(event, None)
    assert len(aws.sent) - sent_before == 1, "the handler must call GetMetricData exactly once"
    assert len(aws.served) - served_before == 1, "moto must have served exactly one GetMetricData"
    assert set(result) == {"exportDone", "reason", "latestValue", "datapoints"}
    assert isinstance(result["reason"], str) and len(result["reason"].splitlines()) == 1
    assert json.loads(json.dumps(result)) == result  # Step Functions gets JSON
    return result


# --- no datapoints: the queue is quiet (the metric has datapoints only while the queue is active) -----------------


def test_no_datapoints_and_job_ended_long_ago_is_done(aws):
    result = invoke(aws, utc_now_minute(), job_ended_minutes_ago=60)
    assert result == {
        "exportDone": True,
        "reason": result["reason"],
        "latestValue": None,
        "datapoints": 0,
    }
    assert result["reason"].startswith("no export queue activity for 15 minutes since the job ended")
    assert "60.0 minutes ago" in result["reason"]


def test_no_datapoints_and_job_ended_2_minutes_ago_is_not_done(aws):
    result = invoke(aws, utc_now_minute(), job_ended_minutes_ago=2)
    assert result["exportDone"] is False
    assert (result["latestValue"], result["datapoints"]) == (None, 0)
    assert result["reason"].startswith("no datapoints yet; waiting until 15 minutes after the job ended")
    assert "2.0 minutes so far" in result["reason"]


def test_quiet_exactly_time_diff_minutes_is_done(aws):
    now = utc_now_minute()
    assert invoke(aws, now, job_ended_minutes_ago=15)["exportDone"] is True
    assert invoke(aws, now, job_ended_minutes_ago=14.9)["exportDone"] is False


# --- datapoints after the job ended: the newest decides -----------------------------------------------------------


def test_backlog_then_zero_after_job_end_is_done(aws):
    now = utc_now_minute()
    put(aws.cw, now, [(9, 120.0), (8, 60.0), (7, 30.0), (3, 0.0)])
    result = invoke(aws, now, job_ended_minutes_ago=10)
    assert result["exportDone"] is True
    assert (result["latestValue"], result["datapoints"]) == (0.0, 4)
    assert result["reason"].startswith("export queue drained")


def test_newest_above_zero_is_not_done(aws):
    now = utc_now_minute()
    put(aws.cw, now, [(9, 0.0), (5, 30.0), (2, 45.0)])
    result = invoke(aws, now, job_ended_minutes_ago=10)
    assert result["exportDone"] is False
    assert (result["latestValue"], result["datapoints"]) == (45.0, 3)
    assert "oldest queued message was 45 s old" in result["reason"]


@pytest.mark.parametrize("value", [1.0, 0.5])
def test_any_newest_above_zero_is_not_done(aws, value):
    now = utc_now_minute()
    put(aws.cw, now, [(4, 0.0), (1, value)])
    result = invoke(aws, now, job_ended_minutes_ago=5)
    assert (result["exportDone"], result["latestValue"]) == (False, value)
    assert f"oldest queued message was {value:g} s old" in result["reason"]


def test_maximum_of_the_period_decides(aws):
    # Two datapoints in one 5-minute period: the Maximum is 50 (Average 25, Minimum 0 would differ).
    now = utc_now_minute()
    put(aws.cw, now, [(4, 50.0), (1, 0.0)])
    result = invoke(aws, now, job_ended_minutes_ago=2, period=300)
    assert (result["exportDone"], result["latestValue"], result["datapoints"]) == (False, 50.0, 1)
    sent = aws.sent[-1]
    assert sent["MetricDataQueries"][0]["MetricStat"]["Period"] == 300
    assert sent["MaxDatapoints"] == 5  # 15 min / 5 min + 2


def test_datapoint_of_the_period_holding_the_job_end_counts(aws):
    # Counted: timestamp >= jobEndedAt - period. Job ended 5 min ago, period 60 s: 6 min ago counts, 7 does not.
    now = utc_now_minute()
    put(aws.cw, now, [(7, 90.0)])
    assert invoke(aws, now, job_ended_minutes_ago=5)["datapoints"] == 0
    put(aws.cw, now, [(6, 80.0)])
    result = invoke(aws, now, job_ended_minutes_ago=5)
    assert (result["exportDone"], result["latestValue"], result["datapoints"]) == (False, 80.0, 1)


def test_period_sets_which_datapoints_count(aws):
    # Job ended 2 min ago; a datapoint 4 min ago is before jobEndedAt - 60 s but within jobEndedAt - 300 s.
    now = utc_now_minute()
    put(aws.cw, now, [(4, 50.0)])
    assert invoke(aws, now, job_ended_minutes_ago=2, period=60)["datapoints"] == 0
    assert invoke(aws, now, job_ended_minutes_ago=2, period=300)["datapoints"] == 1


# --- datapoints only before the job ended: not done until the queue has been quiet ----------------------------------


def test_datapoints_only_before_job_end_wait_until_quiet(aws):
    now = utc_now_minute()
    put(aws.cw, now, [(12, 30.0), (10, 0.0)])
    result = invoke(aws, now, job_ended_minutes_ago=5)
    assert (result["exportDone"], result["latestValue"], result["datapoints"]) == (False, None, 0)
    assert result["reason"].startswith("no datapoints yet; waiting until 15 minutes after the job ended")
    assert "2 earlier datapoints ignored" in result["reason"]
    # 11 minutes later the job ended 16 minutes ago and nothing was queued since: done.
    later = now + timedelta(minutes=11)
    result = invoke(aws, later, job_ended_minutes_ago=16)
    assert (result["exportDone"], result["datapoints"]) == (True, 0)


def test_newest_above_zero_that_stops_being_published_does_not_wait_forever(aws):
    # The metric has datapoints only while the queue is active: a last value > 0 may never be followed by a 0.
    now = utc_now_minute()
    put(aws.cw, now, [(40, 10.0), (38, 20.0)])
    assert invoke(aws, now - timedelta(minutes=30), job_ended_minutes_ago=11)["exportDone"] is False
    # Once those datapoints are older than the window, the queue has been quiet timeDiffMinutes: done.
    result = invoke(aws, now, job_ended_minutes_ago=41)
    assert (result["exportDone"], result["datapoints"]) == (True, 0)


# --- only this file system's auto-export queue counts -------------------------------------------------------------


def test_other_file_system_and_auto_import_do_not_count(aws):
    now = utc_now_minute()
    put(aws.cw, now, [(2, 99.0)], fs=OTHER_FS)
    put(aws.cw, now, [(2, 77.0)], publisher="AutoImport")
    put(aws.cw, now, [(2, 55.0)], publisher=None)  # FileSystemId only: another metric for CloudWatch
    result = invoke(aws, now, job_ended_minutes_ago=30)
    assert (result["exportDone"], result["latestValue"], result["datapoints"]) == (True, None, 0)
    # Control: the same query does see this file system's auto-export datapoint.
    put(aws.cw, now, [(2, 12.0)])
    result = invoke(aws, now, job_ended_minutes_ago=30)
    assert (result["exportDone"], result["latestValue"], result["datapoints"]) == (False, 12.0, 1)
    # And the other file system's own check sees only its own datapoint.
    result = invoke(aws, now, job_ended_minutes_ago=30, fs=OTHER_FS)
    assert (result["latestValue"], result["datapoints"]) == (99.0, 1)


def test_region_comes_from_aws_region(aws, monkeypatch):
    # The Lambda runtime sets AWS_REGION; it wins over AWS_DEFAULT_REGION.
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setattr(check_metrics, "_client", None)
    now = utc_now_minute()
    put(boto3.client("cloudwatch", region_name="eu-west-1"), now, [(2, 33.0)])
    assert check_metrics.cloudwatch_client().meta.region_name == "eu-west-1"
    check_metrics.cloudwatch_client().meta.events.register(
        "before-parameter-build.cloudwatch.GetMetricData", lambda params, **_: aws.sent.append(params)
    )
    assert invoke(aws, now, job_ended_minutes_ago=30)["latestValue"] == 33.0


# --- times as Step Functions and Batch write them -----------------------------------------------------------------


@pytest.mark.parametrize("spelling", [
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"),
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",  # $$.State.EnteredTime: milliseconds
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z",
    lambda t: t.isoformat(),  # +00:00
    lambda t: t.astimezone(timezone(timedelta(hours=2))).isoformat(),
], ids=["Z", "millis-Z", "micros-Z", "+00:00", "+02:00"])
def test_time_spellings(aws, spelling):
    now = utc_now_minute()
    job_end = now - timedelta(minutes=15)
    done = invoke(aws, now, 0, now_text=spelling(now), job_ended_text=spelling(job_end))
    assert done["exportDone"] is True
    not_yet = invoke(aws, now, 0, now_text=spelling(now), job_ended_text=spelling(job_end + timedelta(seconds=1)))
    assert not_yet["exportDone"] is False


# --- the request ----------------------------------------------------------------------------------------------------


def test_request_is_what_the_design_says(aws):
    now = utc_now_minute()
    invoke(aws, now, job_ended_minutes_ago=3, time_diff=20)
    assert aws.sent[-1] == {
        "MetricDataQueries": [{
            "Id": "exportQueueAge",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/FSx",
                    "MetricName": "AgeOfOldestQueuedMessage",
                    "Dimensions": [{"Name": "FileSystemId", "Value": FS}, {"Name": "Publisher", "Value": "AutoExport"}],
                },
                "Period": 60,
                "Stat": "Maximum",
            },
            "ReturnData": True,
        }],
        "StartTime": now - timedelta(minutes=20),
        "EndTime": now,
        "ScanBy": "TimestampAscending",
        "MaxDatapoints": 22,  # every minute of the window, one for misalignment, one spare: one page
    }


def test_request_validates_against_botocore_model(aws):
    invoke(aws, utc_now_minute(), job_ended_minutes_ago=3)
    input_shape = aws.client.meta.service_model.operation_model("GetMetricData").input_shape
    sent = aws.sent[-1]
    validate_parameters(sent, input_shape)  # raises ParamValidationError on a bad request
    assert sent["ScanBy"] in input_shape.members["ScanBy"].enum
    # The check can fail: the validator refuses a request missing a required member or with an unknown one.
    broken = copy.deepcopy(sent)
    del broken["MetricDataQueries"][0]["MetricStat"]["Stat"]
    broken["Junk"] = 1
    with pytest.raises(ParamValidationError, match="Stat"):
        validate_parameters(broken, input_shape)


# --- an incomplete answer: never page, never decide on part of the data --------------------------------------------


def stubbed(monkeypatch, response: dict) -> tuple[Stubber, dict]:
    client = boto3.client("cloudwatch", region_name="us-east-1")
    monkeypatch.setattr(check_metrics, "_client", client)
    stubber = Stubber(client)  # validates the request and the response against the model
    stubber.add_response("get_metric_data", response)
    now = utc_now_minute()
    event = {"fileSystemId": FS, "jobEndedAt": (now - timedelta(minutes=30)).isoformat(), "now": now.isoformat(),
             "periodSeconds": 60, "timeDiffMinutes": 15}
    return stubber, event


def metric_result(now_minutes_ago, values, status="Complete") -> dict:
    now = utc_now_minute()
    return {"Id": "exportQueueAge", "Label": METRIC, "StatusCode": status,
            "Timestamps": [now - timedelta(minutes=m) for m in now_minutes_ago], "Values": values}


@pytest.mark.parametrize(("status", "next_token"), [("PartialData", "token"), ("Complete", "token"),
                                                    ("InternalError", None)])
def test_incomplete_answer_is_not_done_and_not_paged(monkeypatch, status, next_token):
    response = {"MetricDataResults": [metric_result([1], [0.0], status)]}
    if next_token:
        response["NextToken"] = next_token
    stubber, event = stubbed(monkeypatch, response)
    with stubber:
        result = check_metrics.handler(event, None)
        stubber.assert_no_pending_responses()  # exactly one call (a second one would raise)
    assert result["exportDone"] is False  # the 0 in a partial answer must not say "done"
    assert result["reason"].startswith(f"metric data incomplete (StatusCode={status}")


def test_answer_without_the_query_result_is_not_done(monkeypatch):
    stubber, event = stubbed(monkeypatch, {"MetricDataResults": []})
    with stubber:
        result = check_metrics.handler(event, None)
    assert result["exportDone"] is False
    assert result["reason"].startswith("metric data incomplete (StatusCode=no result")


def test_newest_decides_whatever_the_order_of_the_answer(monkeypatch):
    stubber, event = stubbed(monkeypatch, {"MetricDataResults": [metric_result([1, 5, 9], [0.0, 40.0, 90.0])]})
    with stubber:
        result = check_metrics.handler(event, None)
    assert (result["exportDone"], result["latestValue"], result["datapoints"]) == (True, 0.0, 3)


# --- bad events are bugs of the state machine: they raise ----------------------------------------------------------


@pytest.mark.parametrize(("key", "value"), [
    ("fileSystemId", ""), ("jobEndedAt", "yesterday"), ("jobEndedAt", "2024-01-01T00:00:00"),
    ("now", 1700000000), ("periodSeconds", 0), ("periodSeconds", True), ("timeDiffMinutes", "15"),
])
def test_bad_event_raises(monkeypatch, key, value):
    monkeypatch.setattr(check_metrics, "_client", object())  # no call may be made
    now = utc_now_minute()
    event = {"fileSystemId": FS, "jobEndedAt": now.isoformat(), "now": now.isoformat(),
             "periodSeconds": 60, "timeDiffMinutes": 15, key: value}
    with pytest.raises(ValueError, match=key):
        check_metrics.handler(event, None)


def test_missing_event_key_raises(monkeypatch):
    monkeypatch.setattr(check_metrics, "_client", object())
    with pytest.raises(KeyError):
        check_metrics.handler({"fileSystemId": FS}, None)


# --- runs on the Lambda runtime (Python 3.12) ---------------------------------------------------------------------

def test_handler_uses_nothing_removed_or_deprecated_in_python_312():
    imported, problems = python312_scan(HANDLER_FILE)
    assert "boto3" in imported  # the scan sees the imports
    assert not problems
    # boto3 and the standard library only (the Lambda runtime ships boto3).
    assert imported <= {"__future__", "boto3", "math", "os", "collections", "datetime", "typing"}


def test_handler_runs_under_python_312():
    python = find_python_312()
    if python is None:
        pytest.skip("no Python 3.12 interpreter on this machine (set PYTHON312 to one)")
    # boto3 and botocore are pure Python: this venv's copies import under 3.12 (moto does not: its IAM
    # backend needs cryptography's cp311 extension), so the call is answered by botocore's Stubber.
    script = (
        "import sys, warnings, json\n"
        "from datetime import datetime, timedelta, timezone\n"
        "warnings.filterwarnings('error', module='check_metrics')\n"
        "assert sys.version_info[:2] == (3, 12), sys.version\n"
        "import boto3\n"
        "from botocore.stub import Stubber\n"
        "import check_metrics\n"
        "now = datetime.now(timezone.utc).replace(second=0, microsecond=0)\n"
        "check_metrics._client = None\n"
        "stubber = Stubber(check_metrics.cloudwatch_client())\n"
        "empty = {'MetricDataResults': [{'Id': 'exportQueueAge', 'StatusCode': 'Complete', 'Timestamps': [], 'Values': []}]}\n"
        "drained = {'MetricDataResults': [{'Id': 'exportQueueAge', 'StatusCode': 'Complete',\n"
        "           'Timestamps': [now - timedelta(minutes=1)], 'Values': [0.0]}]}\n"
        "for response in (empty, empty, drained):\n"
        "    stubber.add_response('get_metric_data', response)\n"
        "event = {'fileSystemId': 'fs-1', 'now': now.isoformat(), 'periodSeconds': 60, 'timeDiffMinutes': 15}\n"
        "with stubber:\n"
        "    done = check_metrics.handler({**event, 'jobEndedAt': (now - timedelta(minutes=20)).isoformat()}, None)\n"
        "    wait = check_metrics.handler({**event, 'jobEndedAt': (now - timedelta(minutes=2)).isoformat()}, None)\n"
        "    drained = check_metrics.handler({**event, 'jobEndedAt': (now - timedelta(minutes=2)).isoformat()}, None)\n"
        "    stubber.assert_no_pending_responses()\n"
        "print(json.dumps([done, wait, drained]))\n"
    )
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "lambda"), sysconfig.get_paths()["purelib"]]),
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
    }
    completed = subprocess.run([python, "-c", script], env=environment, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    done, wait, drained = json.loads(completed.stdout)
    assert done["exportDone"] is True and wait["exportDone"] is False
    assert drained["exportDone"] is True and drained["latestValue"] == 0.0


def test_a_zero_from_before_the_job_ended_does_not_mean_drained(aws):
    # The minute holding the job's end may show 0 before the job's last writes were queued.
    now = utc_now_minute()
    put(aws.cw, now, [(6, 0.0)])
    result = invoke(aws, now, job_ended_minutes_ago=5.5)
    assert (result["exportDone"], result["latestValue"]) == (False, 0.0)
    assert "before the job ended" in result["reason"]
    put(aws.cw, now, [(4, 0.0)])
    assert invoke(aws, now, job_ended_minutes_ago=5.5)["exportDone"] is True
