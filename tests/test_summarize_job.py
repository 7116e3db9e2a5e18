"""SummarizeJobFailure Lambda (docs/workflow-v2.md, "SummarizeJobFailure").

Against moto's Batch where it works: with ``use_docker=False`` and ``MOTO_SIMPLE_BATCH_FAIL_AFTER=0`` moto
(5.2.5) fails every submitted job at once, children of an array job too, and serves DescribeJobs and ListJobs
(``arrayJobId`` + ``jobStatus``, ``jobQueue`` + ``filters``) from its backend, whose jobs the tests then give exit
codes and reasons. What moto leaves out: ``container.exitCode`` in DescribeJobs (only the attempt's is kept
here) and the children's ``arrayProperties.index`` (the index is then read from the ``<parent>:<index>`` job
id). Real Batch's shapes are checked with botocore's Stubber, which validates requests and responses against
the Batch model.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
import summarize_job
from botocore.stub import ANY, Stubber
from conftest import python312_scan, run_lambda_under_python_312
from moto import mock_aws
from moto.batch.models import batch_backends
from moto.core import DEFAULT_ACCOUNT_ID

ROOT = Path(__file__).resolve().parent.parent
HANDLER_FILE = ROOT / "lambda" / "summarize_job.py"
REGION = "us-east-1"
QUEUE = "taskexport-queue"
JOB_NAME = "taskexport-run-1"
APP_ERROR = "Essential container in task exited"


@pytest.fixture
def batch(monkeypatch):
    """moto Batch without docker, failing every job; a job queue and a job definition."""
    monkeypatch.setenv("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setattr(summarize_job, "_client", None)
    with mock_aws(config={"batch": {"use_docker": False}}):
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        client = boto3.client("batch", region_name=REGION)
        ce = client.create_compute_environment(
            computeEnvironmentName="compute", type="UNMANAGED", state="ENABLED", serviceRole=role
        )["computeEnvironmentArn"]
        client.create_job_queue(
            jobQueueName=QUEUE,
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}],
        )
        client.register_job_definition(
            jobDefinitionName=JOB_NAME,
            type="container",
            containerProperties={
                "image": "busybox",
                "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
            },
        )
        yield client


def moto_job(job_id: str):
    return batch_backends[DEFAULT_ACCOUNT_ID][REGION]._jobs[job_id]


def fail(job_id: str, exit_code: int | None = 3, reason: str = APP_ERROR, succeeded: bool = False) -> None:
    """Give a moto job the outcome a real one would have: status, reason, the attempt's exit code."""
    job = moto_job(job_id)
    job.status = "SUCCEEDED" if succeeded else "FAILED"
    job.job_stopped_reason = None if succeeded else reason
    job.exit_code = 0 if succeeded else exit_code
    if job.latest_attempt is not None:
        job.latest_attempt["container"]["exitCode"] = job.exit_code


def submit(client, size: int | None = None) -> str:
    kwargs = {"arrayProperties": {"size": size}} if size else {}
    return client.submit_job(jobName=JOB_NAME, jobQueue=QUEUE, jobDefinition=JOB_NAME, **kwargs)["jobId"]


def sync_cause(client, job_id: str) -> str:
    """The Cause of a failed ``batch:submitJob.sync``: the job's description as JSON."""
    return json.dumps(client.describe_jobs(jobs=[job_id])["jobs"][0], default=str)


def run(cause: str, job_name: str = JOB_NAME) -> dict:
    result = summarize_job.handler({"jobName": job_name, "jobQueue": QUEUE, "cause": cause}, None)
    assert set(result) == {"summary", "failedChildren", "jobId"}
    assert isinstance(result["summary"], str) and len(result["summary"].splitlines()) == 1
    assert len(result["summary"]) < 1000
    assert isinstance(result["failedChildren"], int) and isinstance(result["jobId"], str)
    assert json.loads(json.dumps(result)) == result
    return result


# --- single job ---------------------------------------------------------------------------------------------------


def test_single_job_names_id_attempts_exit_code_reason_and_log_stream(batch):
    job_id = submit(batch)
    fail(job_id, exit_code=3)
    result = run(sync_cause(batch, job_id))
    assert result == {
        "summary": f"job {job_id} FAILED after 1 attempt(s): exit code 3, {APP_ERROR}, "
        f"log stream {JOB_NAME}/default/{job_id}",
        "failedChildren": 0,
        "jobId": job_id,
    }


def test_single_job_without_exit_code_says_none(batch):
    job_id = submit(batch)
    fail(job_id, exit_code=None, reason="Host EC2 (instance i-0abc) terminated.")
    assert run(sync_cause(batch, job_id))["summary"].startswith(
        f"job {job_id} FAILED after 1 attempt(s): exit code none, Host EC2 (instance i-0abc) terminated., log stream "
    )


# --- array job ----------------------------------------------------------------------------------------------------


def test_array_job_counts_failed_children_and_names_the_first_by_index(batch):
    parent = submit(batch, size=6)
    for index in range(6):
        fail(f"{parent}:{index}", exit_code=10 + index, reason=f"reason {index}", succeeded=index in (1, 4))
    result = run(sync_cause(batch, parent))
    assert result["jobId"] == parent and result["failedChildren"] == 4
    assert result["summary"] == (
        f"array job {parent}: 4 of 6 children FAILED; first: #0 exit code 10 (reason 0), #2 exit code 12 (reason 2), "
        f"#3 exit code 13 (reason 3), #5 exit code 15 (reason 5); log stream of #0: {JOB_NAME}/default/{parent}:0"
    )


def test_array_job_names_at_most_five_children(batch):
    parent = submit(batch, size=12)
    for index in range(12):
        fail(f"{parent}:{index}", exit_code=1, reason="boom")
    result = run(sync_cause(batch, parent))
    assert result["failedChildren"] == 12
    assert result["summary"].count(" exit code ") == 5
    assert "#0 exit code 1 (boom), #1 " in result["summary"] and "#4 exit code" in result["summary"]
    assert "#5 " not in result["summary"] and "#10 " not in result["summary"]
    assert "12 of 12 children FAILED" in result["summary"]


def test_array_job_children_are_ordered_by_index_not_by_listing(batch):
    parent = submit(batch, size=11)
    for index in range(11):
        fail(f"{parent}:{index}", succeeded=index < 9)
    moto_job(parent)._child_jobs.reverse()  # ListJobs now answers #10 before #9
    assert [j["jobId"] for j in batch.list_jobs(arrayJobId=parent, jobStatus="FAILED")["jobSummaryList"]] == [
        f"{parent}:10",
        f"{parent}:9",
    ]
    assert run(sync_cause(batch, parent))["summary"].startswith(
        f"array job {parent}: 2 of 11 children FAILED; first: #9 exit code 3 ({APP_ERROR}), #10 exit code 3"
    )


def test_the_summary_stays_under_1000_characters_and_on_one_line(batch):
    parent = submit(batch, size=5)
    for index in range(5):
        fail(f"{parent}:{index}", reason=f"line one\nline two {'x' * 400}")
    summary = run(sync_cause(batch, parent))["summary"]
    assert "line one line two xxx" in summary and "..." in summary


# --- a cause that is not JSON -------------------------------------------------------------------------------------


def test_a_cause_that_is_not_json_is_said_and_the_job_is_found_by_name(batch):
    job_id = submit(batch)
    fail(job_id, exit_code=7)
    truncated = sync_cause(batch, job_id)[:200]  # Step Functions cuts a long Cause short
    result = run(truncated)
    assert result["jobId"] == job_id
    assert result["summary"].startswith(f"job {job_id} FAILED after 1 attempt(s): exit code 7, {APP_ERROR}")
    assert "the failure's Cause is not a JSON job description (" in result["summary"]
    assert "the job was found by its name" in result["summary"]


def test_a_cause_that_is_not_json_for_a_job_that_cannot_be_found(batch):
    result = run("States.TaskFailed: something went wrong", job_name="taskexport-other-run")
    assert result == {
        "summary": "job taskexport-other-run in queue taskexport-queue: no description found (the failure's Cause "
        "is not a JSON job description (States.TaskFailed: something went wrong); no job named "
        "taskexport-other-run in queue taskexport-queue)",
        "failedChildren": 0,
        "jobId": "",
    }


@pytest.mark.parametrize("cause", ["", "[1, 2]", '"text"', "null"])
def test_a_cause_that_is_json_but_not_a_job_description_is_not_json_for_the_summary(batch, cause):
    assert "the failure's Cause is not a JSON job description" in run(cause, job_name="nothing")["summary"]


# --- real Batch shapes (Stubber): index in arrayProperties, exit code on the job, PascalCase cause ---------------


def stubbed(monkeypatch) -> Stubber:
    client = boto3.client("batch", region_name=REGION)
    monkeypatch.setattr(summarize_job, "_client", client)
    return Stubber(client)


def child(job_id: str, index: int, exit_code: int | None, reason: str) -> dict:
    detail = {
        "jobName": JOB_NAME,
        "jobId": job_id,
        "jobQueue": QUEUE,
        "status": "FAILED",
        "statusReason": reason,
        "jobDefinition": "jd",
        "startedAt": 1,
        "arrayProperties": {"index": index},
        "container": {"logStreamName": f"jd/default/{job_id}"},
    }
    if exit_code is not None:
        detail["container"]["exitCode"] = exit_code
    return detail


def test_array_children_from_real_batch_shapes_and_paged_listing(monkeypatch):
    stubber = stubbed(monkeypatch)
    parent = {
        "JobId": "p-1",
        "JobName": JOB_NAME,
        "Status": "FAILED",
        "ArrayProperties": {"Size": 40, "StatusSummary": {"FAILED": 3, "SUCCEEDED": 37}},
    }
    stubber.add_response(
        "describe_jobs",
        {
            "jobs": [
                {
                    "jobName": JOB_NAME,
                    "jobId": "p-1",
                    "jobQueue": QUEUE,
                    "status": "FAILED",
                    "jobDefinition": "jd",
                    "startedAt": 1,
                    "arrayProperties": {"size": 40, "statusSummary": {"FAILED": 3, "SUCCEEDED": 37}},
                }
            ]
        },
        {"jobs": ["p-1"]},
    )
    # Child ids that do not end in their index: the index must come from arrayProperties.
    stubber.add_response(
        "list_jobs",
        {
            "jobSummaryList": [
                {"jobId": "c-a", "jobName": JOB_NAME, "arrayProperties": {"index": 31}},
                {"jobId": "c-b", "jobName": JOB_NAME, "arrayProperties": {"index": 7}},
            ],
            "nextToken": "page-2",
        },
        {"arrayJobId": "p-1", "jobStatus": "FAILED"},
    )
    stubber.add_response(
        "list_jobs",
        {"jobSummaryList": [{"jobId": "c-c", "jobName": JOB_NAME, "arrayProperties": {"index": 12}}]},
        {"arrayJobId": "p-1", "jobStatus": "FAILED", "nextToken": "page-2"},
    )
    stubber.add_response(
        "describe_jobs",
        {
            "jobs": [
                child("c-c", 12, 2, "Essential container in task exited"),
                child("c-a", 31, None, "Host EC2 (instance i-1) terminated."),
                child("c-b", 7, 137, "OutOfMemoryError: Container killed due to memory usage"),
            ]
        },
        {"jobs": ["c-b", "c-c", "c-a"]},
    )
    with stubber:
        result = run(json.dumps(parent))
        stubber.assert_no_pending_responses()
    assert result == {
        "summary": "array job p-1: 3 of 40 children FAILED; first: #7 exit code 137 (OutOfMemoryError: Container "
        "killed due to memory usage), #12 exit code 2 (Essential container in task exited), #31 exit code "
        "none (Host EC2 (instance i-1) terminated.); log stream of #7: jd/default/c-b",
        "failedChildren": 3,
        "jobId": "p-1",
    }


def test_pascal_case_cause_is_used_when_describe_jobs_is_refused(monkeypatch):
    stubber = stubbed(monkeypatch)
    stubber.add_client_error("describe_jobs", "AccessDeniedException", http_status_code=403)
    cause = {
        "JobId": "j-1",
        "JobName": JOB_NAME,
        "Status": "FAILED",
        "StatusReason": APP_ERROR,
        "Attempts": [
            {"Container": {"ExitCode": 1, "LogStreamName": "jd/default/a1"}},
            {"Container": {"ExitCode": 4, "LogStreamName": "jd/default/a2"}},
        ],
    }
    with stubber:
        result = run(json.dumps(cause))
    assert result == {
        "summary": f"job j-1 FAILED after 2 attempt(s): exit code 4, {APP_ERROR}, log stream jd/default/a2 "
        "(DescribeJobs failed: AccessDeniedException)",
        "failedChildren": 0,
        "jobId": "j-1",
    }


def test_array_counts_come_from_the_status_summary_when_list_jobs_is_refused(monkeypatch):
    stubber = stubbed(monkeypatch)
    stubber.add_response(
        "describe_jobs",
        {
            "jobs": [
                {
                    "jobName": JOB_NAME,
                    "jobId": "p-2",
                    "jobQueue": QUEUE,
                    "status": "FAILED",
                    "jobDefinition": "jd",
                    "startedAt": 1,
                    "arrayProperties": {"size": 9, "statusSummary": {"FAILED": 2, "SUCCEEDED": 7}},
                }
            ]
        },
    )
    stubber.add_client_error("list_jobs", "TooManyRequestsException", http_status_code=429)
    with stubber:
        result = run(json.dumps({"jobId": "p-2"}))
    assert result == {
        "summary": "array job p-2: 2 of 9 children FAILED (ListJobs failed: TooManyRequestsException)",
        "failedChildren": 2,
        "jobId": "p-2",
    }


def test_lookup_by_name_asks_the_queue_with_a_job_name_filter(monkeypatch):
    stubber = stubbed(monkeypatch)
    stubber.add_response(
        "list_jobs",
        {
            "jobSummaryList": [
                {"jobId": "old", "jobName": JOB_NAME, "createdAt": 100},
                {"jobId": "new", "jobName": JOB_NAME, "createdAt": 200},
                {"jobId": "new:0", "jobName": JOB_NAME, "createdAt": 300},
            ]
        },  # an array child: never the job itself
        {"jobQueue": QUEUE, "filters": [{"name": "JOB_NAME", "values": [JOB_NAME]}]},
    )
    stubber.add_response(
        "describe_jobs", {"jobs": [child("new", 0, 5, "boom") | {"arrayProperties": {}}]}, {"jobs": ["new"]}
    )
    with stubber:
        result = run("not json")
        stubber.assert_no_pending_responses()
    assert result["jobId"] == "new" and "exit code 5, boom" in result["summary"]


def test_requests_validate_against_the_batch_model(monkeypatch):
    # Stubber checks each request against botocore's model; ANY-typed expectations still validate the shape.
    stubber = stubbed(monkeypatch)
    stubber.add_response("describe_jobs", {"jobs": []}, {"jobs": ANY})
    with stubber:
        result = run(json.dumps({"jobId": "gone", "status": "FAILED", "statusReason": "r"}))
    assert result["summary"] == "job gone FAILED after 0 attempt(s): exit code none, r, log stream none"


# --- bad events are bugs of the state machine ---------------------------------------------------------------------


def test_bad_event_raises(monkeypatch):
    monkeypatch.setattr(summarize_job, "_client", object())  # no call may be made
    with pytest.raises(KeyError):
        summarize_job.handler({"jobName": JOB_NAME, "jobQueue": QUEUE}, None)
    with pytest.raises(ValueError, match="cause"):
        summarize_job.handler({"jobName": JOB_NAME, "jobQueue": QUEUE, "cause": {"a": 1}}, None)
    with pytest.raises(ValueError, match="jobName"):
        summarize_job.handler({"jobName": "", "jobQueue": QUEUE, "cause": "{}"}, None)


# --- runs on the Lambda runtime (Python 3.12) ---------------------------------------------------------------------


def test_handler_uses_nothing_removed_or_deprecated_in_python_312():
    imported, problems = python312_scan(HANDLER_FILE)
    assert "boto3" in imported
    assert not problems
    assert imported <= {"__future__", "boto3", "json", "os", "collections", "typing"}


def test_handler_runs_under_python_312():
    script = (
        "import sys, warnings, json\n"
        "warnings.filterwarnings('error', module='summarize_job')\n"
        "assert sys.version_info[:2] == (3, 12), sys.version\n"
        "from botocore.stub import Stubber\n"
        "import summarize_job\n"
        "stubber = Stubber(summarize_job.batch_client())\n"
        "stubber.add_response('describe_jobs', {'jobs': [{'jobName': 'n', 'jobId': 'j', 'jobQueue': 'q',\n"
        "    'status': 'FAILED', 'statusReason': 'r', 'jobDefinition': 'd', 'startedAt': 1,\n"
        "    'container': {'exitCode': 9, 'logStreamName': 'd/default/j'}, 'attempts': [{}]}]})\n"
        "with stubber:\n"
        "    print(json.dumps(summarize_job.handler({'jobName': 'n', 'jobQueue': 'q', 'cause': '{\"JobId\": \"j\"}'},"
        " None)))\n"
    )
    completed = run_lambda_under_python_312(script)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == {
        "summary": "job j FAILED after 1 attempt(s): exit code 9, r, log stream d/default/j",
        "failedChildren": 0,
        "jobId": "j",
    }
