"""The job: the Parallel ``RunJob`` runs the job branch (submit one job or an array and wait for it with
``.sync``: no polling while it runs; on a timeout, terminate it and wait until it has stopped; on a failure,
summarize it) next to the watchdog (asl/watchdog.py)."""

from __future__ import annotations

from typing import Any

from batch_lustre.program.asl.paths import DERIVED, LANE, PARAMS
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.asl.run_resources import tag_map
from batch_lustre.program.asl.sections import AFTER_JOB, CLEANUP
from batch_lustre.program.asl.states import (
    BATCH_SUBMIT_JOB_SYNC,
    RETRY_READ,
    RETRY_THROTTLED,
    RETRY_WRITE,
    SERVER_ERROR_CODES,
    THROTTLING_CODES,
    Graph,
    State,
    aws_sdk,
    choice,
    ends_branch,
    error_names,
    failure_record,
    generic_error_names,
    invoke_lambda,
    next_poll,
    parallel,
    pass_parameters,
    pass_result,
    polls_over,
    start_polls,
    wait_poll,
)
from batch_lustre.program.asl.watchdog import watchdog_branch
from batch_lustre.program.parameters import submit_job_parameters

# Batch refused the SubmitJob request (a queue gone or disabled, a payload over its limits, a job definition it
# will not run, no permission, or still throttled after the retries): no job exists, so nothing will run.
SUBMIT_REFUSED = [
    *error_names("Batch", "ClientException"),
    *error_names("Batch", "AccessDeniedException"),
    *(name for code in THROTTLING_CODES for name in error_names("Batch", code)),
]
# A server error: the job may or may not have been submitted, and may be running.
SERVER_ERRORS = [
    *(name for code in SERVER_ERROR_CODES for name in error_names("Batch", code)),
    *generic_error_names("Batch"),
]
# The job branch fails with this error when SubmitJob is refused: a failed branch stops the other branches of its
# Parallel (Step Functions, "Parallel workflow state": if any branch fails, the Parallel fails and its branches
# are stopped), so the watchdog stops at once, and RunJob's Catch names what happened.
JOB_REFUSED = "JobRefused"


def _submit_job(refs: WorkflowRefs, *, array: bool) -> State:
    # The request ExtractParameters measured against Batch's payload limit (parameters/payload.py).
    parameters = submit_job_parameters(
        derived=DERIVED,
        job_definition_arn="$.jobDefinition.JobDefinitionArn",
        job_queue_arn=f"{LANE}.jobQueueArn",
        tags=tag_map(refs),
        array=array,
    )
    return {
        "Type": "Task",
        "Resource": BATCH_SUBMIT_JOB_SYNC,
        "Parameters": parameters,
        # The whole wait, queueing and retries included, is bounded by jobTimeoutMinutes.
        "TimeoutSecondsPath": f"{DERIVED}.jobTimeoutSeconds",
        "ResultSelector": {"JobId.$": "$.JobId"},
        "ResultPath": "$.job",
        "Retry": RETRY_THROTTLED.retriers("batch"),
        # In order: the first catcher naming the error decides (States.ALL comes last). A failed job is
        # States.TaskFailed (Cause: the job's JSON); any other error reaches the same summary, which says it.
        "Catch": [
            {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "FindTimedOutJob"},
            {"ErrorEquals": SUBMIT_REFUSED, "ResultPath": "$.error", "Next": "SubmitJobRefused"},
            {"ErrorEquals": SERVER_ERRORS, "ResultPath": "$.error", "Next": "JobStatusUnknown"},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "SummarizeJobFailure"},
        ],
        "Next": "JobEnded",
    }


def add_job(g: Graph, refs: WorkflowRefs) -> None:
    """Run the job (one container, or an array) and wait for it without polling; end a job stuck before it starts."""
    g.add(
        "RunJob",
        _run_job(g, refs),
    )
    # Nothing ran, so nothing was written: the file system can go without an export (as for a job that never
    # started), and the run fails naming Batch's reason.
    g.add(
        "RecordJobRefused",
        pass_parameters(
            failure_record("JobRefused", "Batch refused to submit job {}: {}", f"{DERIVED}.jobName", "$.error.Cause"),
            "$.failure",
            "NothingToExport",
        ),
    )
    g.add(
        "RunJobFailed",
        pass_parameters(
            {"Error": "RunJobFailed", "Cause.$": "States.Format('{}: {}', $.error.Error, $.error.Cause)"},
            "$.failure",
            "KeepFileSystemJobStatusUnknown",
        ),
    )
    g.add(
        "KeepFileSystemJobStatusUnknown",
        pass_result({"Reason": "the job status is unknown, so its results may not be in S3"}, "$.keep", CLEANUP),
    )
    g.add(
        "IsJobDone",
        choice(
            [
                {"Variable": "$.keep", "IsPresent": True, "Next": CLEANUP},
                {"Variable": "$.watchdog.Stuck", "IsPresent": True, "Next": "JobNeverStarted"},
            ],
            AFTER_JOB,
        ),
    )
    # Nothing ran, so nothing was written: the file system can go without an export.
    g.add(
        "JobNeverStarted",
        pass_parameters(
            failure_record(
                "JobStuckRunnable",
                "Job {} never started within jobRunnableTimeoutMinutes={} (last status {}), so it was "
                "terminated. Is the compute environment able to run it (capacity, vCPUs, the file "
                "system mount)?",
                f"{DERIVED}.jobName",
                f"{PARAMS}.jobRunnableTimeoutMinutes",
                "$.watchdog.Status",
            ),
            "$.failure",
            "NothingToExport",
        ),
    )


def _run_job(g: Graph, refs: WorkflowRefs) -> State:
    """The Parallel of the job branch and the watchdog; a refused SubmitJob is caught by name."""
    state = parallel([_job_branch(g, refs), watchdog_branch(g, refs)], next_state="IsJobDone", catch_to="RunJobFailed")
    state["Catch"] = [
        {"ErrorEquals": [JOB_REFUSED], "ResultPath": "$.error", "Next": "RecordJobRefused"},
        *state["Catch"],
    ]
    return state


def _job_branch(g: Graph, refs: WorkflowRefs) -> dict[str, Any]:
    b = Graph(within=g)
    b.add(
        "IsArrayJob",
        choice(
            [{"Variable": f"{DERIVED}.arraySize", "NumericGreaterThanEquals": 2, "Next": "SubmitArrayJob"}], "SubmitJob"
        ),
    )
    b.add("SubmitJob", _submit_job(refs, array=False))
    b.add("SubmitArrayJob", _submit_job(refs, array=True))
    b.add(
        "SubmitJobRefused",
        {"Type": "Fail", "Error": JOB_REFUSED, "CausePath": "$.error.Cause"},
    )
    b.add("JobEnded", ends_branch(pass_parameters({"EndedAt.$": "$$.State.EnteredTime"}, "$.jobEnd", "")))
    # A FAILED job's Cause is the job's JSON: a Lambda makes it one line (exit code, reason, log stream, attempts;
    # for an array, how many children failed and the first ones).
    b.add(
        "SummarizeJobFailure",
        invoke_lambda(
            refs.summarize_job_function_arn,
            {"jobName.$": f"{DERIVED}.jobName", "jobQueue.$": f"{LANE}.jobQueueArn", "cause.$": "$.error.Cause"},
            next_state="RecordJobFailure",
            result_path="$.jobSummary",
            result_selector={"summary.$": "$.Payload.summary", "jobId.$": "$.Payload.jobId"},
            catch_to="RecordJobFailureUnsummarized",
            catch_path="$.summaryError",
        ),
    )
    b.add(
        "RecordJobFailure",
        pass_parameters(
            {
                "Error": "JobFailed",
                "Cause.$": "States.Format('{} Its results were exported before cleanup.', $.jobSummary.summary)",
            },
            "$.jobFailure",
            "JobEnded",
        ),
    )
    b.add(
        "RecordJobFailureUnsummarized",
        pass_parameters(
            {"Error": "JobFailed", "Cause.$": "States.Format('Job FAILED: {}', $.error.Cause)"},
            "$.jobFailure",
            "JobEnded",
        ),
    )
    b.add(
        "JobStatusUnknown",
        ends_branch(
            pass_parameters(
                {
                    "Error": "JobStatusUnknown",
                    "Cause.$": "States.Format('The job status could not be read, so its results were not exported: {}: {}', "
                    "$.error.Error, $.error.Cause)",
                },
                "$.failure",
                "",
            )
        ),
    )
    # jobTimeoutMinutes: the Task timed out; the job itself must really stop before its results are exported.
    b.add(
        "FindTimedOutJob",
        aws_sdk(
            "batch",
            "listJobs",
            {
                "JobQueue.$": f"{LANE}.jobQueueArn",
                "Filters": [{"Name": "JOB_NAME", "Values.$": f"States.Array({DERIVED}.jobName)"}],
            },
            next_state="IsTimedOutJobFound",
            result_path="$.timedOut",
            result_selector={
                "Count.$": "States.ArrayLength($.JobSummaryList)",
                "JobIds.$": "$.JobSummaryList[*].JobId",
            },
            retry=RETRY_READ,
            catch_to="JobDidNotStop",
            catch_path="$.stopError",
        ),
    )
    b.add(
        "IsTimedOutJobFound",
        choice(
            [{"Variable": "$.timedOut.Count", "NumericGreaterThan": 0, "Next": "TerminateTimedOutJob"}],
            "RecordJobTimedOut",
        ),
    )
    b.add(
        "TerminateTimedOutJob",
        aws_sdk(
            "batch",
            "terminateJob",
            {
                "JobId.$": "States.ArrayGetItem($.timedOut.JobIds, 0)",
                "Reason": "batch-lustre: jobTimeoutMinutes exceeded",
            },
            next_state="StartJobStopPolls",
            result_path=None,
            retry=RETRY_WRITE,
            catch_to="JobDidNotStop",
            catch_path="$.stopError",
        ),
    )
    b.add("StartJobStopPolls", start_polls("jobStop", "WaitForJobToStop"))
    b.add("WaitForJobToStop", wait_poll("jobStop", "CheckJobStopped"))
    b.add(
        "CheckJobStopped",
        aws_sdk(
            "batch",
            "describeJobs",
            {"Jobs.$": "States.Array(States.ArrayGetItem($.timedOut.JobIds, 0))"},
            next_state="IsJobStopped",
            result_path="$.jobStatus",
            result_selector={"Status.$": "$.Jobs[0].Status"},
            retry=RETRY_READ,
            catch_to="JobDidNotStop",
            catch_path="$.stopError",
        ),
    )
    b.add(
        "IsJobStopped",
        choice(
            [
                {
                    "Or": [{"Variable": "$.jobStatus.Status", "StringEquals": s} for s in ("SUCCEEDED", "FAILED")],
                    "Next": "RecordJobTimedOut",
                },
                polls_over("jobStop", "JobDidNotStop"),
            ],
            "CountJobStopPoll",
        ),
    )
    b.add("CountJobStopPoll", next_poll("jobStop", "WaitForJobToStop"))
    b.add(
        "RecordJobTimedOut",
        pass_parameters(
            failure_record(
                "JobTimedOut",
                "Job {} did not end within jobTimeoutMinutes={} and was terminated; its "
                "results were exported before cleanup",
                f"{DERIVED}.jobName",
                f"{PARAMS}.jobTimeoutMinutes",
            ),
            "$.jobFailure",
            "JobEnded",
        ),
    )
    b.add(
        "JobDidNotStop",
        ends_branch(
            pass_result(
                {
                    "Reason": "the job had not ended after jobTimeoutMinutes and a terminate, so its results may not be in S3"
                },
                "$.keep",
                "",
            )
        ),
    )
    return b.branch("IsArrayJob")
