"""Failures before the job (``NothingToExport``), ``MarkDataSafe``, and ``Cleanup``: undo every per-run change
on every path (compute environment back on its baseline, launch template, the lane, job definition); delete the
file system only when its data is safe, else keep and tag it. Every path ends at ``Finish`` (asl/finish.py)."""

from __future__ import annotations

from batch_lustre.program.asl.lane import release_lane
from batch_lustre.program.asl.paths import LANE, PARAMS
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.asl.run_resources import client_token, tag_file_system_kept
from batch_lustre.program.asl.sections import CLEANUP, MARK_DATA_SAFE
from batch_lustre.program.asl.states import (
    RETRY_CLEANUP,
    Graph,
    aws_sdk,
    choice,
    error_names,
    pass_parameters,
    pass_result,
)


def add_failure_before_job(g: Graph) -> None:
    """Failures before the job ran: nothing was written to the file system, so nothing is lost by deleting it."""
    g.add("NothingToExport", pass_result(True, "$.dataSafe", CLEANUP))
    g.add(MARK_DATA_SAFE, pass_result(True, "$.dataSafe", CLEANUP))


def add_cleanup(g: Graph, refs: WorkflowRefs) -> None:
    """Undo every per-run change, on every path; delete the file system only when its data is safe."""
    # The switch to the run's launch template was answered: restore. It was not, but the run made a launch
    # template: the switch may still have been made (an answer lost to a 5xx or a timeout after Batch acted), so
    # look at what the compute environment uses now before deleting the template.
    g.add(
        CLEANUP,
        choice(
            [
                {"Variable": "$.ceUpdate", "IsPresent": True, "Next": "RestoreComputeEnvironment"},
                {"Variable": "$.lt", "IsPresent": True, "Next": "DescribeComputeEnvironmentForCleanup"},
            ],
            "CleanupLaunchTemplate",
        ),
    )
    g.add(
        "DescribeComputeEnvironmentForCleanup",
        aws_sdk(
            "batch",
            "describeComputeEnvironments",
            {"ComputeEnvironments.$": f"States.Array({LANE}.computeEnvironmentArn)"},
            next_state="IsComputeEnvironmentOnRunTemplate",
            result_path="$.ceNow",
            result_selector={"ComputeEnvironments.$": "$.ComputeEnvironments"},
            retry=RETRY_CLEANUP,
            catch_to="RestoreComputeEnvironment",  # not known: restoring is always safe
            catch_path="$.cleanupErrors.describeComputeEnvironment",
        ),
    )
    on_run_template = "$.ceNow.ComputeEnvironments[0].ComputeResources.LaunchTemplate.LaunchTemplateId"
    g.add(
        "IsComputeEnvironmentOnRunTemplate",
        choice(
            [
                {
                    "And": [
                        {"Variable": on_run_template, "IsPresent": True},
                        {"Variable": on_run_template, "StringEqualsPath": "$.lt.LaunchTemplateId"},
                    ],
                    "Next": "RestoreComputeEnvironment",
                }
            ],
            "CleanupLaunchTemplate",
        ),
    )
    g.add(
        "RestoreComputeEnvironment",
        aws_sdk(
            "batch",
            "updateComputeEnvironment",
            {
                "ComputeEnvironment.$": f"{LANE}.computeEnvironmentArn",
                "ComputeResources": {
                    "LaunchTemplate": {
                        "LaunchTemplateId.$": f"{LANE}.baselineLaunchTemplateId",
                        "Version.$": f"{LANE}.baselineLaunchTemplateVersion",
                    }
                },
            },
            next_state="CleanupLaunchTemplate",
            result_path=None,
            retry=RETRY_CLEANUP,
            catch_to="CleanupLaunchTemplate",
            catch_path="$.cleanupErrors.restoreComputeEnvironment",
        ),
    )
    # A launch template the compute environment may still use is not deleted. A run made its launch template only
    # after it took its lane: DeleteLaunchTemplate goes on to ReleaseLane, and without a template to delete the lane
    # is released here when the run chose one.
    g.add(
        "CleanupLaunchTemplate",
        choice(
            [
                {
                    "And": [
                        {"Variable": "$.lt", "IsPresent": True},
                        {"Variable": "$.cleanupErrors.restoreComputeEnvironment", "IsPresent": False},
                    ],
                    "Next": "DeleteLaunchTemplate",
                },
                {"Variable": f"{LANE}.index", "IsPresent": True, "Next": "ReleaseLane"},
            ],
            "CleanupJobDefinition",
        ),
    )
    g.add(
        "DeleteLaunchTemplate",
        aws_sdk(
            "ec2",
            "deleteLaunchTemplate",
            {"LaunchTemplateId.$": "$.lt.LaunchTemplateId"},
            next_state="ReleaseLane",
            result_path=None,
            retry=RETRY_CLEANUP,
            catch_to="ReleaseLane",
            catch_path="$.cleanupErrors.deleteLaunchTemplate",
        ),
    )
    # The lane goes back once its compute environment is on its baseline again and the run's launch template is
    # gone: the next run in line finds it as a run of its own would leave it.
    # The lane the run chose (even if it never learnt that its write took it) goes back, only while the run owns it.
    g.add("ReleaseLane", release_lane(refs.lane_table_name, f"{LANE}.index", next_state="CleanupJobDefinition"))
    g.add(
        "CleanupJobDefinition",
        choice(
            [{"Variable": "$.jobDefinition", "IsPresent": True, "Next": "DeregisterJobDefinition"}],
            "ShouldDeleteLustre",
        ),
    )
    g.add(
        "DeregisterJobDefinition",
        aws_sdk(
            "batch",
            "deregisterJobDefinition",
            {"JobDefinition.$": "$.jobDefinition.JobDefinitionArn"},
            next_state="ShouldDeleteLustre",
            result_path=None,
            retry=RETRY_CLEANUP,
            catch_to="ShouldDeleteLustre",
            catch_path="$.cleanupErrors.deregisterJobDefinition",
        ),
    )
    g.add(
        "ShouldDeleteLustre",
        choice(
            [
                {"Variable": "$.fs", "IsPresent": False, "Next": "Finish"},
                {"Not": {"Variable": "$.dataSafe", "IsPresent": True}, "Next": "KeepFileSystemDataNotSafe"},
                {"Variable": f"{PARAMS}.deleteLustre", "BooleanEquals": False, "Next": "KeepFileSystemOnRequest"},
            ],
            "DeleteFSx",
        ),
    )
    g.add(
        "KeepFileSystemDataNotSafe",
        pass_result(
            {"FileSystemDeleted": False, "Reason": "its data is not provably in S3"},
            "$.fileSystemOutcome",
            "TagFileSystemKept",
        ),
    )
    g.add(
        "KeepFileSystemOnRequest",
        pass_result(
            {"FileSystemDeleted": False, "Reason": "deleteLustre=false"}, "$.fileSystemOutcome", "TagFileSystemKept"
        ),
    )
    delete = aws_sdk(
        "fsx",
        "deleteFileSystem",
        {"FileSystemId.$": "$.fs.FileSystemId", "ClientRequestToken.$": client_token("delete")},
        next_state="Finish",
        result_path="$.fileSystemOutcome",
        result_selector={"FileSystemDeleted": True, "Lifecycle.$": "$.Lifecycle"},
        retry=RETRY_CLEANUP,
        catch_to="DeleteFSxFailed",
        catch_path="$.cleanupErrors.deleteFileSystem",
    )
    # DeleteFileSystem is refused (BadRequest) while a data repository task is PENDING/EXECUTING, e.g. the
    # IMPORT task of the association, which can run for hours on a large bucket: keep asking, every 5 minutes
    # for 2 hours, before giving up (the cleanup retries alone last about 12 minutes). Every spelling of the
    # error is listed: Step Functions' prefix for FSx is not documented.
    delete["Retry"] = [
        {
            "ErrorEquals": error_names("FSx", "BadRequestException"),
            "IntervalSeconds": 300,
            "MaxAttempts": 24,
            "BackoffRate": 1.0,
        },
        *delete["Retry"],
    ]
    g.add("DeleteFSx", delete)
    g.add(
        "DeleteFSxFailed",
        pass_result(
            {"FileSystemDeleted": False, "Reason": "DeleteFileSystem was refused"},
            "$.fileSystemOutcome",
            "RecordFileSystemKept",
        ),
    )
    # The file system is left behind: the run's Cause must say so, whatever else failed.
    g.add(
        "RecordFileSystemKept",
        pass_parameters(
            {"Message.$": "States.Format('file system {} was kept: DeleteFileSystem was refused', $.fs.FileSystemId)"},
            "$.cleanupErrors.fileSystemKept",
            "TagFileSystemKept",
        ),
    )
    # A kept file system is tagged, so the run-cleanup state machine (which runs after every failed run)
    # leaves it to the user instead of exporting and deleting it.
    g.add(
        "TagFileSystemKept",
        tag_file_system_kept(refs, {"Value": "true"}, next_state="Finish", retry=RETRY_CLEANUP),
    )
