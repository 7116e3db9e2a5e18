"""Branch Watchdog of ``RunJob``: a job (or every child of an array) still queued after
jobRunnableTimeoutMinutes is terminated ("stuck RUNNABLE"); the branch ends once the job has started."""

from __future__ import annotations

from typing import Any

from asl.paths import DERIVED
from asl.refs import WorkflowRefs
from asl.states import (
    RETRY_READ,
    RETRY_WRITE,
    Graph,
    aws_sdk,
    choice,
    ends_branch,
    next_poll,
    pass_parameters,
    polls_over,
    start_polls,
    succeed,
    wait_poll,
)

# Job states Batch reports once a job (or an array's child) was placed on a host.
STARTED_STATUSES = ("STARTING", "RUNNING", "SUCCEEDED", "FAILED")


def watchdog_branch(g: Graph, refs: WorkflowRefs) -> dict[str, Any]:
    """Until the job (or any child of an array) has started: a job still queued after jobRunnableTimeoutMinutes
    is terminated (no capacity, a compute environment that cannot run it, hosts that fail the mount)."""
    b = Graph(within=g)
    b.add("StartRunnablePolls", start_polls("runnable", "WaitForJobToStart"))
    b.add("WaitForJobToStart", wait_poll("runnable", "FindJob"))
    b.add(
        "FindJob",
        aws_sdk(
            "batch",
            "listJobs",
            {
                "JobQueue": refs.job_queue_arn,
                "Filters": [{"Name": "JOB_NAME", "Values.$": f"States.Array({DERIVED}.jobName)"}],
            },
            next_state="IsJobListed",
            result_path="$.watched",
            result_selector={
                "Count.$": "States.ArrayLength($.JobSummaryList)",
                "JobIds.$": "$.JobSummaryList[*].JobId",
            },
            retry=RETRY_READ,
            catch_to="WatchdogStopped",
            catch_path="$.watchdogError",
        ),
    )
    b.add(
        "IsJobListed",
        choice(
            [
                {"Variable": "$.watched.Count", "NumericGreaterThan": 0, "Next": "CheckJobStarted"},
                polls_over("runnable", "WatchdogStopped"),
            ],
            "CountRunnablePoll",
        ),
    )
    b.add(
        "CheckJobStarted",
        aws_sdk(
            "batch",
            "describeJobs",
            {"Jobs.$": "States.Array(States.ArrayGetItem($.watched.JobIds, 0))"},
            next_state="HasJobStarted",
            result_path="$.watchedJob",
            result_selector={"Status.$": "$.Jobs[0].Status", "Job.$": "$.Jobs[0]"},
            retry=RETRY_READ,
            catch_to="WatchdogStopped",
            catch_path="$.watchdogError",
        ),
    )
    started_children = [
        {
            "And": [
                {"Variable": f"$.watchedJob.Job.ArrayProperties.StatusSummary.{s}", "IsPresent": True},
                {"Variable": f"$.watchedJob.Job.ArrayProperties.StatusSummary.{s}", "NumericGreaterThan": 0},
            ]
        }
        for s in STARTED_STATUSES
    ]
    b.add(
        "HasJobStarted",
        choice(
            [
                {
                    "Or": [{"Variable": "$.watchedJob.Status", "StringEquals": s} for s in STARTED_STATUSES]
                    + started_children,
                    "Next": "WatchdogStopped",
                },
                polls_over("runnable", "TerminateStuckJob"),
            ],
            "CountRunnablePoll",
        ),
    )
    b.add("CountRunnablePoll", next_poll("runnable", "WaitForJobToStart"))
    b.add(
        "TerminateStuckJob",
        aws_sdk(
            "batch",
            "terminateJob",
            {
                "JobId.$": "States.ArrayGetItem($.watched.JobIds, 0)",
                "Reason": "batch-lustre: never started within jobRunnableTimeoutMinutes",
            },
            next_state="RecordJobStuck",
            result_path=None,
            retry=RETRY_WRITE,
            catch_to="WatchdogStopped",
            catch_path="$.watchdogError",
        ),
    )
    b.add(
        "RecordJobStuck",
        ends_branch(pass_parameters({"Stuck": True, "Status.$": "$.watchedJob.Status"}, "$.watchdog", "")),
    )
    b.add("WatchdogStopped", succeed())
    return b.branch("StartRunnablePolls")
