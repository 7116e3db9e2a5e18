"""``Finish``: end the run, failing with what went wrong (the run's failure, the job's, a kept file system,
cleanup steps that failed, each added to the Cause of the one before) or succeeding with a summary."""

from __future__ import annotations

from batch_lustre.program.asl.paths import DERIVED
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.asl.states import Graph, choice, ends_branch, fail_from, pass_parameters


def add_finish(g: Graph, refs: WorkflowRefs) -> None:
    """``Finish`` and the states it ends the run with."""
    g.add(
        "Finish",
        choice(
            [
                {
                    "And": [{"Variable": "$.failure", "IsPresent": True}, {"Variable": "$.keep", "IsPresent": True}],
                    "Next": "AddKeptFileSystemToFailure",
                },
                {
                    "And": [
                        {"Variable": "$.failure", "IsPresent": True},
                        {"Variable": "$.cleanupErrors", "IsPresent": True},
                    ],
                    "Next": "AddCleanupErrorsToFailure",
                },
                {"Variable": "$.failure", "IsPresent": True, "Next": "RunFailed"},
                {"Variable": "$.keep", "IsPresent": True, "Next": "ExportNotConfirmed"},
                {
                    "And": [
                        {"Variable": "$.jobFailure", "IsPresent": True},
                        {"Variable": "$.cleanupErrors", "IsPresent": True},
                    ],
                    "Next": "AddCleanupErrorsToJobFailure",
                },
                {"Variable": "$.jobFailure", "IsPresent": True, "Next": "JobFailed"},
                {"Variable": "$.cleanupErrors", "IsPresent": True, "Next": "CleanupIncomplete"},
            ],
            "SummarizeRun",
        ),
    )
    # A failed run whose cleanup also failed says both (a compute environment left on the run's launch
    # template, or a file system left behind, must not go unmentioned).
    g.add(
        "AddCleanupErrorsToFailure",
        pass_parameters(
            {
                "Error.$": "$.failure.Error",
                "Cause.$": "States.Format('{} Cleanup steps failed too: {}', $.failure.Cause, "
                "States.JsonToString($.cleanupErrors))",
            },
            "$.failure",
            "RunFailed",
        ),
    )
    g.add(
        "AddCleanupErrorsToJobFailure",
        pass_parameters(
            {
                "Error.$": "$.jobFailure.Error",
                "Cause.$": "States.Format('{} Cleanup steps failed too: {}', $.jobFailure.Cause, "
                "States.JsonToString($.cleanupErrors))",
            },
            "$.jobFailure",
            "JobFailed",
        ),
    )
    g.add(
        "AddKeptFileSystemToFailure",
        pass_parameters(
            {
                "Error.$": "$.failure.Error",
                "Cause.$": "States.Format('{} File system {} was kept: {}.', $.failure.Cause, $.fs.FileSystemId, "
                "$.keep.Reason)",
            },
            "$.failure",
            "RunFailed",
        ),
    )
    g.add(
        "ExportNotConfirmed",
        pass_parameters(
            {
                "Error": "ExportNotConfirmed",
                "Cause.$": "States.Format('File system {} was kept: {}.', $.fs.FileSystemId, $.keep.Reason)",
            },
            "$.failure",
            "RunFailed",
        ),
    )
    g.add(
        "CleanupIncomplete",
        pass_parameters(
            {
                "Error": "CleanupIncomplete",
                "Cause.$": "States.Format('The job succeeded and its results are in S3, but cleanup steps failed: {}', "
                "States.JsonToString($.cleanupErrors))",
            },
            "$.failure",
            "RunFailed",
        ),
    )
    g.add("RunFailed", fail_from("$.failure.Error", "$.failure.Cause"))
    g.add("JobFailed", fail_from("$.jobFailure.Error", "$.jobFailure.Cause"))
    g.add(  # the run succeeds with its summary
        "SummarizeRun",
        ends_branch(
            pass_parameters(
                {
                    "mode": refs.mode,
                    "bucket": refs.bucket_name,
                    "fileSystemId.$": "$.fs.FileSystemId",
                    "fileSystem.$": "$.fileSystemOutcome",
                    "jobId.$": "$.job.JobId",
                    "arraySize.$": f"{DERIVED}.arraySize",
                },
                "$",
                "",
            )
        ),
    )
