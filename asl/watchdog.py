"""Branch Watchdog of ``RunJob``: a job (or every child of an array) still queued after
jobRunnableTimeoutMinutes is terminated ("stuck RUNNABLE"); the branch ends once the job has started."""

from __future__ import annotations

from typing import Any

from batch_lustre.program.asl.paths import DERIVED, LANE
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.asl.states import (
    OVER,
    RETRY_WRITE,
    WAITING,
    Graph,
    aws_sdk,
    choice,
    ends_branch,
    last,
    pass_parameters,
    poll_record,
    succeed,
    wait_for,
    wait_for_next,
)


def watchdog_branch(g: Graph, refs: WorkflowRefs) -> dict[str, Any]:
    """Until the job (or any child of an array) has started: a job still queued after jobRunnableTimeoutMinutes
    is terminated (no capacity, a compute environment that cannot run it, hosts that fail the mount)."""
    b = Graph(within=g)
    b.add(
        "CheckJobStarted",
        wait_for(
            refs.wait_for_function_arn,
            "jobStarted",
            "runnable",
            "runnable",
            {"jobQueue.$": f"{LANE}.jobQueueArn", "jobName.$": f"{DERIVED}.jobName"},
            next_state="HasJobStarted",
            catch_to="WatchdogStopped",
            catch_path="$.watchdogError",
        ),
    )
    b.add("WaitForJobToStart", wait_for_next("runnable", "CheckJobStarted"))
    b.add(
        "HasJobStarted",
        choice(
            [
                {
                    "Variable": f"{poll_record('runnable')}.Outcome",
                    "StringEquals": WAITING,
                    "Next": "WaitForJobToStart",
                },
                {"Variable": f"{poll_record('runnable')}.Outcome", "StringEquals": OVER, "Next": "IsStuckJobListed"},
            ],
            "WatchdogStopped",
        ),
    )
    # Over: a job listed but not started is stuck; a job never listed is not this watchdog's to stop.
    b.add(
        "IsStuckJobListed",
        choice(
            [{"Variable": last("runnable", "Listed"), "BooleanEquals": True, "Next": "TerminateStuckJob"}],
            "WatchdogStopped",
        ),
    )
    b.add(
        "TerminateStuckJob",
        aws_sdk(
            "batch",
            "terminateJob",
            {
                "JobId.$": f"States.ArrayGetItem({last('runnable', 'JobIds')}, 0)",
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
        ends_branch(pass_parameters({"Stuck": True, "Status.$": last("runnable", "Status")}, "$.watchdog", "")),
    )
    b.add("WatchdogStopped", succeed())
    return b.branch("CheckJobStarted")
