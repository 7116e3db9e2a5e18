"""CheckMetrics Lambda against moto's CloudWatch (docs/workflow-v2.md, section "CheckMetrics").

DRAINED only when the newest datapoint of a period that started at or after the job's end is 0; QUEUED when it
is above 0; UNPROVEN when there is none (the metric has datapoints only while the queue is active, so silence
proves nothing). See the module docstring of lambda/check_metrics.py for why a period that started before the
job ended does not count.

moto's GetMetricData (5.2.5), as read in its source and checked by these tests:
- it keeps datapoints with StartTime <= timestamp < EndTime and buckets them by Period from StartTime, stamping
  each bucket with its start (the handler aligns StartTime to the period, so buckets fall on the clock as in
  CloudWatch);
- it computes the statistic per bucket (Maximum here) and honours ScanBy;
- with Dimensions it needs the exact set of dimensions and the metric name, but it does NOT compare the
  namespace then, so the namespace is checked on the request instead (test_request_is_what_the_contract_says);
- it ignores MaxDatapoints, never returns NextToken and always says StatusCode Complete: the incomplete-answer
  branch is tested with botocore's Stubber;
- PutMetricData accepts the AWS/ namespace and any timestamp (real AWS refuses both), so the FSx metric can be faked.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import boto3
import check_metrics
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber
from botocore.validate import validate_parameters
from conftest import python312_scan, run_lambda_under_python_312
from moto import mock_aws
from moto.cloudwatch.models import CloudWatchBackend

ROOT = Path(__file__).resolve().parent.parent
HANDLER_FILE = ROOT / "lambda" / "check_metrics.py"
FS = "fs-0123456789abcdef0"
OTHER_FS = "fs-0fedcba9876543210"
METRIC = "AgeOfOldestQueuedMessage"
RESULT_KEYS = {"state", "reason", "latestValue", "datapoints", "exportDone", "fallback", "minutesSinceJobEnded"}


def utc_now_minute() -> datetime:
    """Real UTC now on a whole minute."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


def utc_now_five_minutes() -> datetime:
    now = utc_now_minute()
    return now - timedelta(minutes=now.minute % 5)


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
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": METRIC, "Dimensions": dimensions, "Timestamp": now - timedelta(minutes=m), "Value": v}
            for m, v in points
        ],
    )


def check_result(result: dict) -> dict:
    assert set(result) == RESULT_KEYS
    assert result["state"] in check_metrics.STATES
    assert result["exportDone"] is (result["state"] == "DRAINED")
    assert result["fallback"] is False or result["state"] == "UNPROVEN"
    assert isinstance(result["reason"], str) and len(result["reason"].splitlines()) == 1
    assert json.loads(json.dumps(result)) == result  # Step Functions gets JSON
    return result


def invoke(
    aws,
    now: datetime,
    job_ended_minutes_ago: float,
    *,
    period: int = 60,
    time_diff: int = 15,
    fs: str = FS,
    now_text: str | None = None,
    job_ended_text: str | None = None,
) -> dict:
    """Run the handler once; it must make exactly one GetMetricData call."""
    sent_before, served_before = len(aws.sent), len(aws.served)
    event = {
        "fileSystemId": fs,
        "jobEndedAt": job_ended_text or (now - timedelta(minutes=job_ended_minutes_ago)).isoformat(),
        "now": now_text or now.isoformat().replace("+00:00", "Z"),
        "periodSeconds": period,
        "timeDiffMinutes": time_diff,
    }
    result = check_metrics.check(event)
    assert len(aws.sent) - sent_before == 1, "the handler must call GetMetricData exactly once"
    assert len(aws.served) - served_before == 1, "moto must have served exactly one GetMetricData"
    return check_result(result)


def state(result: dict) -> tuple:
    return result["state"], result["latestValue"], result["datapoints"]


# --- no datapoint after the job's end: UNPROVEN, never DRAINED ---------------------------------------------------


@pytest.mark.parametrize("minutes_ago", [2, 15, 60, 600])
def test_no_datapoints_is_unproven_however_long_ago_the_job_ended(aws, minutes_ago):
    result = invoke(aws, utc_now_minute(), job_ended_minutes_ago=minutes_ago)
    assert state(result) == ("UNPROVEN", None, 0)
    assert result["exportDone"] is False
    assert result["minutesSinceJobEnded"] == float(minutes_ago)
    assert "not proven drained" in result["reason"]


def test_unproven_asks_for_the_fallback_once_time_diff_minutes_have_passed_since_the_job_ended(aws):
    now = utc_now_minute()
    assert invoke(aws, now, job_ended_minutes_ago=14.99, time_diff=15)["fallback"] is False
    result = invoke(aws, now, job_ended_minutes_ago=15, time_diff=15)
    assert result["fallback"] is True
    assert "unproven for 15 minutes (lambdaTimeDiffMinutes) since the job ended" in result["reason"]
    assert invoke(aws, now, job_ended_minutes_ago=40, time_diff=60)["fallback"] is False


def test_queued_never_asks_for_the_fallback_the_export_timeout_does(aws):
    now = utc_now_minute()
    put(aws.cw, now, [(1, 300.0)])
    result = invoke(aws, now, job_ended_minutes_ago=500, time_diff=15)
    assert (result["state"], result["fallback"]) == ("QUEUED", False)


def test_datapoints_only_before_the_job_ended_are_unproven(aws):
    now = utc_now_minute()
    put(aws.cw, now, [(12, 30.0), (10, 0.0)])
    result = invoke(aws, now, job_ended_minutes_ago=5)
    assert state(result) == ("UNPROVEN", None, 0)
    assert "2 datapoints of periods that started before the job ended ignored" in result["reason"]


def test_a_zero_before_the_job_ended_does_not_count(aws):
    # The newest datapoint of all is 0, but its period started before the job's last writes could be queued.
    now = utc_now_minute()
    put(aws.cw, now, [(8, 40.0), (6, 0.0)])
    assert state(invoke(aws, now, job_ended_minutes_ago=5.5)) == ("UNPROVEN", None, 0)


def test_a_zero_after_the_job_ended_counts(aws):
    now = utc_now_minute()
    put(aws.cw, now, [(8, 40.0), (6, 0.0), (4, 0.0)])
    result = invoke(aws, now, job_ended_minutes_ago=5.5)
    assert state(result) == ("DRAINED", 0.0, 1)
    assert result["exportDone"] is True
    assert result["reason"].startswith("export queue drained: AgeOfOldestQueuedMessage is 0")


def test_a_period_that_holds_the_job_end_does_not_count_but_one_starting_at_it_does(aws):
    # Period [-6 min, -5 min) holds the end at -5.5 min: it does not count. A period starting exactly at the end counts.
    now = utc_now_minute()
    put(aws.cw, now, [(6, 0.0)])
    assert invoke(aws, now, job_ended_minutes_ago=5.5)["state"] == "UNPROVEN"
    assert state(invoke(aws, now, job_ended_minutes_ago=6)) == ("DRAINED", 0.0, 1)


# --- datapoints after the job ended: the newest decides ----------------------------------------------------------


def test_backlog_then_zero_after_job_end_is_drained(aws):
    now = utc_now_minute()
    put(aws.cw, now, [(9, 120.0), (8, 60.0), (7, 30.0), (3, 0.0)])
    assert state(invoke(aws, now, job_ended_minutes_ago=10)) == ("DRAINED", 0.0, 4)


def test_newest_above_zero_is_queued(aws):
    now = utc_now_minute()
    put(aws.cw, now, [(9, 0.0), (5, 30.0), (2, 45.0)])
    result = invoke(aws, now, job_ended_minutes_ago=10)
    assert state(result) == ("QUEUED", 45.0, 3)
    assert result["exportDone"] is False
    assert "oldest queued message was 45 s old" in result["reason"]


@pytest.mark.parametrize("value", [1.0, 0.5])
def test_any_newest_above_zero_is_queued(aws, value):
    now = utc_now_minute()
    put(aws.cw, now, [(4, 0.0), (1, value)])
    assert state(invoke(aws, now, job_ended_minutes_ago=5)) == ("QUEUED", value, 2)


def test_maximum_of_the_period_decides(aws):
    # Two datapoints in one 5-minute period that started after the job ended: the Maximum is 50 (Minimum 0 would
    # read as drained).
    now = utc_now_five_minutes()
    put(aws.cw, now, [(4, 50.0), (1, 0.0)])
    assert state(invoke(aws, now, job_ended_minutes_ago=6, period=300)) == ("QUEUED", 50.0, 1)
    sent = aws.sent[-1]
    assert sent["MetricDataQueries"][0]["MetricStat"]["Period"] == 300
    assert sent["MaxDatapoints"] == 4  # 15 min / 5 min + 1


def test_a_five_minute_period_holding_the_job_end_does_not_count(aws):
    now = utc_now_five_minutes()
    put(aws.cw, now, [(4, 0.0), (1, 0.0)])
    # The period [-5 min, now) started before the job ended at -2 min.
    assert invoke(aws, now, job_ended_minutes_ago=2, period=300)["state"] == "UNPROVEN"


def test_a_value_above_zero_that_stops_being_published_stays_queued(aws):
    # The window reaches back to the job's end: an old value > 0 is still the newest, and silence after it
    # proves nothing (the state machine gives up at exportTimeoutMinutes and exports with a task).
    now = utc_now_minute()
    put(aws.cw, now, [(40, 10.0), (38, 20.0)])
    assert state(invoke(aws, now, job_ended_minutes_ago=41)) == ("QUEUED", 20.0, 2)


def test_zeros_older_than_the_metric_window_still_prove_the_drain(aws):
    # The checks may be far apart (waitForCheckMetricsSeconds up to an hour): the zeros right after the drain
    # are read however long ago they were, as long as they came after the job ended.
    now = utc_now_minute()
    put(aws.cw, now, [(55, 30.0), (50, 0.0)])
    assert state(invoke(aws, now, job_ended_minutes_ago=60, time_diff=15)) == ("DRAINED", 0.0, 2)


# --- only this file system's auto-export queue counts -------------------------------------------------------------


def test_other_file_system_and_auto_import_do_not_count(aws):
    now = utc_now_minute()
    put(aws.cw, now, [(2, 0.0)], fs=OTHER_FS)
    put(aws.cw, now, [(2, 0.0)], publisher="AutoImport")
    put(aws.cw, now, [(2, 0.0)], publisher=None)  # FileSystemId only: another metric for CloudWatch
    assert state(invoke(aws, now, job_ended_minutes_ago=30)) == ("UNPROVEN", None, 0)
    # Control: the same query does see this file system's auto-export datapoint.
    put(aws.cw, now, [(2, 12.0)])
    assert state(invoke(aws, now, job_ended_minutes_ago=30)) == ("QUEUED", 12.0, 1)
    # And the other file system's own check sees only its own datapoint.
    assert state(invoke(aws, now, job_ended_minutes_ago=30, fs=OTHER_FS)) == ("DRAINED", 0.0, 1)


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


@pytest.mark.parametrize(
    "spelling",
    [
        lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"),
        lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",  # $$.State.EnteredTime: milliseconds
        lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z",
        lambda t: t.isoformat(),  # +00:00
        lambda t: t.astimezone(timezone(timedelta(hours=2))).isoformat(),
    ],
    ids=["Z", "millis-Z", "micros-Z", "+00:00", "+02:00"],
)
def test_time_spellings(aws, spelling):
    now = utc_now_minute()
    job_end = now - timedelta(minutes=10)
    put(aws.cw, now, [(10, 0.0)])  # the period starting exactly at the job's end
    drained = invoke(aws, now, 0, now_text=spelling(now), job_ended_text=spelling(job_end))
    assert drained["state"] == "DRAINED"
    later_end = invoke(aws, now, 0, now_text=spelling(now), job_ended_text=spelling(job_end + timedelta(seconds=1)))
    assert later_end["state"] == "UNPROVEN"


# --- the request ----------------------------------------------------------------------------------------------------


def test_request_is_what_the_contract_says(aws):
    now = utc_now_minute()
    invoke(aws, now, job_ended_minutes_ago=3, time_diff=20)
    assert aws.sent[-1] == {
        "MetricDataQueries": [
            {
                "Id": "exportQueueAge",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/FSx",
                        "MetricName": "AgeOfOldestQueuedMessage",
                        "Dimensions": [
                            {"Name": "FileSystemId", "Value": FS},
                            {"Name": "Publisher", "Value": "AutoExport"},
                        ],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
                "ReturnData": True,
            }
        ],
        "StartTime": now - timedelta(minutes=20),
        "EndTime": now,
        "ScanBy": "TimestampAscending",
        "MaxDatapoints": 21,  # every minute of the window and one spare: one page
    }


def test_window_reaches_back_to_the_job_end_on_a_whole_period(aws):
    now = utc_now_minute()
    invoke(aws, now, job_ended_minutes_ago=44.5, time_diff=20)
    sent = aws.sent[-1]
    assert sent["StartTime"] == now - timedelta(minutes=45)  # 44.5 minutes ago, down to the minute
    assert sent["MaxDatapoints"] == 46


def test_window_start_is_aligned_to_the_period():
    now = datetime(2024, 1, 1, 12, 7, 30, tzinfo=UTC)
    assert check_metrics.window_start(now, 300, 15, None) == datetime(2024, 1, 1, 11, 50, tzinfo=UTC)
    assert check_metrics.window_start(now, 60, 15, now - timedelta(minutes=30, seconds=10)) == datetime(
        2024, 1, 1, 11, 37, tzinfo=UTC
    )


def test_window_lookback_is_capped_at_14_days():
    now = datetime(2024, 1, 30, 0, 0, tzinfo=UTC)
    request = check_metrics.build_request(FS, now, 60, 15, job_ended_at=now - timedelta(days=20))
    assert request["StartTime"] == now - timedelta(days=14)
    assert request["MaxDatapoints"] == 14 * 24 * 60 + 1 <= 100_800


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
    event = {
        "fileSystemId": FS,
        "jobEndedAt": (now - timedelta(minutes=30)).isoformat(),
        "now": now.isoformat(),
        "periodSeconds": 60,
        "timeDiffMinutes": 15,
    }
    return stubber, event


def metric_result(now_minutes_ago, values, status="Complete") -> dict:
    now = utc_now_minute()
    return {
        "Id": "exportQueueAge",
        "Label": METRIC,
        "StatusCode": status,
        "Timestamps": [now - timedelta(minutes=m) for m in now_minutes_ago],
        "Values": values,
    }


@pytest.mark.parametrize(
    ("status", "next_token"), [("PartialData", "token"), ("Complete", "token"), ("InternalError", None)]
)
def test_incomplete_answer_is_unproven_and_not_paged(monkeypatch, status, next_token):
    response = {"MetricDataResults": [metric_result([1], [0.0], status)]}
    if next_token:
        response["NextToken"] = next_token
    stubber, event = stubbed(monkeypatch, response)
    with stubber:
        result = check_result(check_metrics.check(event))
        stubber.assert_no_pending_responses()  # exactly one call (a second one would raise)
    assert state(result) == ("UNPROVEN", None, 0)  # the 0 in a partial answer must not say "drained"
    assert result["reason"].startswith(f"metric data incomplete (StatusCode={status}")
    assert result["fallback"] is True  # the job ended 30 minutes ago: the export task decides


def test_answer_without_the_query_result_is_unproven(monkeypatch):
    stubber, event = stubbed(monkeypatch, {"MetricDataResults": []})
    with stubber:
        result = check_result(check_metrics.check(event))
    assert result["state"] == "UNPROVEN"
    assert result["reason"].startswith("metric data incomplete (StatusCode=no result")


def test_newest_decides_whatever_the_order_of_the_answer(monkeypatch):
    stubber, event = stubbed(monkeypatch, {"MetricDataResults": [metric_result([1, 5, 9], [0.0, 40.0, 90.0])]})
    with stubber:
        assert state(check_metrics.check(event)) == ("DRAINED", 0.0, 3)
    stubber, event = stubbed(monkeypatch, {"MetricDataResults": [metric_result([9, 1, 5], [0.0, 40.0, 0.0])]})
    with stubber:
        assert state(check_metrics.check(event)) == ("QUEUED", 40.0, 3)


# --- the emulated metric (emulation/metrics.py): late datapoints, none at all, never zero -------------------------


def emulated_queue(metrics_scenario, write_files: bool = True):
    """An Emulation with an AVAILABLE file system whose auto export queue got two files at the job's end."""
    from batch_lustre.emulation import Emulation, FsxScenario, Scenario

    emu = Emulation(
        Scenario(
            fsx=FsxScenario(auto_export_latency_seconds=90, auto_export_seconds_per_file=30), metrics=metrics_scenario
        )
    )
    emu.__enter__()
    ec2, fsx = boto3.client("ec2", region_name="us-east-1"), boto3.client("fsx", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="data")
    fs_id = fsx.create_file_system(
        FileSystemType="LUSTRE",
        StorageCapacity=2400,
        SubnetIds=[subnet],
        FileSystemTypeVersion="2.15",
        LustreConfiguration={"DeploymentType": "SCRATCH_2"},
    )["FileSystem"]["FileSystemId"]
    emu.advance(emu.scenario.fsx.creation_seconds)
    fsx.create_data_repository_association(
        FileSystemId=fs_id,
        FileSystemPath="/scratch",
        DataRepositoryPath="s3://data/",
        BatchImportMetaDataOnCreate=True,
        S3={"AutoExportPolicy": {"Events": ["NEW", "CHANGED", "DELETED"]}},
    )
    emu.advance(emu.scenario.fsx.association_seconds)
    if write_files:
        emu.fsx.write_file(fs_id, "/scratch/a.txt", b"A")
        emu.fsx.write_file(fs_id, "/scratch/b.txt", b"B")  # queued: drained 90 + 30 s later
    return emu, fs_id, emu.clock.now()


def check_emulated(emu, fs_id: str, job_ended_at: datetime) -> dict:
    check_metrics._client = None  # a client of this emulation's moto
    try:
        event = {
            "fileSystemId": fs_id,
            "jobEndedAt": job_ended_at.isoformat(),
            "now": emu.clock.now().isoformat(),
            "periodSeconds": 60,
            "timeDiffMinutes": 15,
        }
        return check_result(check_metrics.check(event))
    finally:
        check_metrics._client = None


def test_emulated_queue_is_drained_a_minute_after_it_empties():
    from batch_lustre.emulation import MetricsScenario

    emu, fs_id, ended = emulated_queue(MetricsScenario())
    try:
        emu.advance(30)
        assert check_emulated(emu, fs_id, ended)["state"] in ("QUEUED", "UNPROVEN")
        emu.advance(120 + 60)  # emptied 120 s after the writes; the next whole minute publishes a 0
        assert check_emulated(emu, fs_id, ended)["state"] == "DRAINED"
    finally:
        emu.__exit__(None, None, None)


def test_late_datapoints_delay_drained_and_never_make_it_early():
    from batch_lustre.emulation import MetricsScenario

    emu, fs_id, ended = emulated_queue(MetricsScenario.late(delay_minutes=5))
    try:
        emu.advance(120 + 60 + 30)  # emptied, and a 0 published, but not visible for 5 minutes
        assert emu.metrics.published and emu.metrics.published[-1][2] == 0
        early = check_emulated(emu, fs_id, ended)
        assert early["state"] in ("QUEUED", "UNPROVEN")
        emu.advance(5 * 60)
        late = check_emulated(emu, fs_id, ended)
        assert late["state"] == "DRAINED"
        # What was visible at each check was stamped with its period, not with when it arrived.
        assert all(at <= emu.clock.seconds() - 5 * 60 for _, at, _ in emu.metrics.visible)
    finally:
        emu.__exit__(None, None, None)


def test_late_datapoints_make_the_first_checks_unproven():
    from batch_lustre.emulation import MetricsScenario

    emu, fs_id, ended = emulated_queue(MetricsScenario.late(delay_minutes=5))
    try:
        emu.advance(4 * 60)  # the queue has been active and drained, but no datapoint is visible yet
        assert emu.metrics.published and not emu.metrics.visible
        assert check_emulated(emu, fs_id, ended)["state"] == "UNPROVEN"
    finally:
        emu.__exit__(None, None, None)


def test_emulated_no_datapoints_at_all_is_unproven_even_after_the_queue_drained():
    from batch_lustre.emulation import MetricsScenario

    emu, fs_id, ended = emulated_queue(MetricsScenario.no_datapoints())
    try:
        emu.advance(3600)
        assert emu.s3_objects("data") == {"a.txt": b"A", "b.txt": b"B"}  # drained, yet nothing says so
        assert state(check_emulated(emu, fs_id, ended)) == ("UNPROVEN", None, 0)
    finally:
        emu.__exit__(None, None, None)


def test_emulated_queue_that_never_reaches_zero_is_queued():
    from batch_lustre.emulation import MetricsScenario

    emu, fs_id, ended = emulated_queue(MetricsScenario.never_zero())
    try:
        emu.advance(3600)
        result = check_emulated(emu, fs_id, ended)
        assert result["state"] == "QUEUED" and result["latestValue"] > 3000
    finally:
        emu.__exit__(None, None, None)


# --- bad events are bugs of the state machine: they raise ----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("fileSystemId", ""),
        ("jobEndedAt", "yesterday"),
        ("jobEndedAt", "2024-01-01T00:00:00"),
        ("now", 1700000000),
        ("periodSeconds", 0),
        ("periodSeconds", True),
        ("timeDiffMinutes", "15"),
    ],
)
def test_bad_event_raises(monkeypatch, key, value):
    monkeypatch.setattr(check_metrics, "_client", object())  # no call may be made
    now = utc_now_minute()
    event = {
        "fileSystemId": FS,
        "jobEndedAt": now.isoformat(),
        "now": now.isoformat(),
        "periodSeconds": 60,
        "timeDiffMinutes": 15,
        key: value,
    }
    with pytest.raises(ValueError, match=key):
        check_metrics.check(event)


def test_missing_event_key_raises(monkeypatch):
    monkeypatch.setattr(check_metrics, "_client", object())
    with pytest.raises(KeyError):
        check_metrics.check({"fileSystemId": FS})


# --- runs on the Lambda runtime (Python 3.12) ---------------------------------------------------------------------


def test_handler_uses_nothing_removed_or_deprecated_in_python_312():
    imported, problems = python312_scan(HANDLER_FILE)
    assert "aws_calls" in imported  # the scan sees the imports
    assert not problems
    # The standard library and the modules packaged with it (the Lambda runtime ships boto3).
    assert imported <= {
        "__future__",
        "math",
        "os",
        "time",
        "collections",
        "datetime",
        "typing",
        "wait_for",
        "aws_calls",
    }


def test_handler_runs_under_python_312():
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
        "def answer(points):\n"
        "    return {'MetricDataResults': [{'Id': 'exportQueueAge', 'StatusCode': 'Complete',\n"
        "            'Timestamps': [now - timedelta(minutes=m) for m, _ in points], 'Values': [v for _, v in points]}]}\n"
        "for points in ([], [(1, 7.0)], [(1, 0.0)]):\n"
        "    stubber.add_response('get_metric_data', answer(points))\n"
        "event = {'fileSystemId': 'fs-1', 'now': now.isoformat(), 'periodSeconds': 60, 'timeDiffMinutes': 15,\n"
        "         'jobEndedAt': (now - timedelta(minutes=2)).isoformat()}\n"
        "with stubber:\n"
        "    results = [check_metrics.check(event) for _ in range(3)]\n"
        "    stubber.assert_no_pending_responses()\n"
        "print(json.dumps(results))\n"
    )
    completed = run_lambda_under_python_312(script)
    assert completed.returncode == 0, completed.stderr
    unproven, queued, drained = json.loads(completed.stdout)
    assert (unproven["state"], queued["state"], drained["state"]) == ("UNPROVEN", "QUEUED", "DRAINED")
    assert drained["exportDone"] is True and drained["latestValue"] == 0.0
