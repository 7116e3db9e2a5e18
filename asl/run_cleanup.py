"""The run-cleanup state machine: clean up after a run that ended without reaching its own ``Cleanup``.

A run that is ABORTED (StopExecution), TIMED_OUT, or FAILED by the 25,000-event history limit or a
``States.Runtime`` error skips its cleanup and leaves per-run resources behind. An EventBridge rule
(``status_change_event_pattern``) starts this state machine with the "Step Functions Execution Status
Change" event of such a run as its input (``detail.name`` is the run's execution name). It:

1. reads the run-time parameters as the run did (GetSecret + ExtractParameters with the RUN's execution
   name), and uses its own client request token for what it creates (``UseOwnClientToken``);
2. calls the FindRunResources Lambda, which terminates the run's jobs, puts the compute environment of the
   run's lane back on its baseline, deletes the run's launch template and job definitions, and returns the run's
   file system (never deleting it) and the lane the run still holds, which it then releases (``ReleaseRunLane``,
   conditioned on the run still owning it);
3. for a file system that the run neither deleted nor kept on purpose (tag ``batch-lustre:kept``): keeps it
   if the parameters are unreadable (deleteLustre unknown); waits (bounded, by the workflow's schedules
   ``jobStop`` and ``fileSystem``) for the terminated jobs to end and for a CREATING file system; if a job
   ran, exports first with the export section (``asl.task_export.add_export_task``, entry ``AfterJob``;
   auto export is turned off first when ``autoExport`` is on), in both modes; a job that never ran wrote
   nothing (``NothingToExport``); then ``Cleanup``: deletes the file system only when its data is safe and
   ``deleteLustre`` is true; otherwise tags it ``batch-lustre:kept`` and fails naming it.

Run-cleanup runs after every FAILED run, also one that went through its own cleanup: it then finds nothing
left to do (FindRunResources and every step here are idempotent) and succeeds.

Every path after the file system was found goes through ``Cleanup``. State data (under ``$``):
  run               {executionName, executionArn, status} of the run that ended
  polls.<loop>      poll records (the export section's and this machine's: jobsEnd, fileSystemAvailable)
  cleanupToken      {clientRequestToken}: this execution's own, merged into config.derived
  secret, config    as in the workflow (asl/paths.py); parametersProblem {Reason} when they are unreadable
  found             FindRunResources' result
  fs, fsStatus      {FileSystemId} / {Lifecycle} of the run's file system
  dra               {AssociationId}: read by the export section
  jobsCheck, jobsOpen  latest DescribeJobs of the terminated jobs / which open statuses it holds
  dataSafe, keep    as in the workflow; keep.Tag is the value of the batch-lustre:kept tag
  cleanupErrors     errors of this machine's cleanup steps
  fileSystemOutcome {FileSystemDeleted, Reason | Lifecycle}
"""

from __future__ import annotations

from typing import Any

from batch_lustre.program.asl.cleanup import add_failure_before_job
from batch_lustre.program.asl.lane import lane_list, release_lane
from batch_lustre.program.asl.naming import TAG_KEPT
from batch_lustre.program.asl.paths import PARAMS
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.asl.run_resources import client_token, tag_file_system_kept
from batch_lustre.program.asl.run_start import add_read_parameters
from batch_lustre.program.asl.sections import AFTER_JOB, CLEANUP
from batch_lustre.program.asl.states import (
    RETRY_CLEANUP,
    RETRY_READ,
    Graph,
    aws_sdk,
    choice,
    error_names,
    fail,
    fail_from,
    invoke_lambda,
    next_poll,
    pass_parameters,
    pass_result,
    polls_over,
    start_polls,
    succeed,
    wait_poll,
)
from batch_lustre.program.asl.task_export import add_export_task

# The EventBridge event that starts run-cleanup (EventBridge events reference, "AWS Step Functions events";
# Step Functions developer guide, "EventBridge (CloudWatch Events) for Step Functions execution status changes").
STATUS_CHANGE_SOURCE = "aws.states"
STATUS_CHANGE_DETAIL_TYPE = "Step Functions Execution Status Change"
ENDED_WITHOUT_CLEANUP = ("FAILED", "TIMED_OUT", "ABORTED")  # SUCCEEDED runs reached their Cleanup

OPEN_JOB_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
# Poll records of this machine's loops, and the schedules (config.derived.waits) they wait by: the jobs asked to
# terminate, as the workflow waits for a terminated job (10 minutes); a CREATING file system, within
# lustreCreationTimeoutMinutes.
JOBS_END_LOOP, JOBS_END_SCHEDULE = "jobsEnd", "jobStop"
FILE_SYSTEM_LOOP, FILE_SYSTEM_SCHEDULE = "fileSystemAvailable", "fileSystem"

# DeleteFileSystem is refused (BadRequest) while a data repository task runs: ask again every 5 minutes for
# 2 hours, as the workflow's DeleteFSx does. Every spelling of the error names (asl.states.error_names).
DELETE_REFUSED_ERRORS = error_names("FSx", "BadRequestException")
FILE_SYSTEM_NOT_FOUND_ERRORS = error_names("FSx", "FileSystemNotFoundException")
WAITING_LIFECYCLES = ("CREATING", "UPDATING")
FIND_AGAIN_AFTER_SECONDS = 300  # FindRunResources is called once more this long after a step of it failed
GONE_LIFECYCLES = ("DELETING", "DELETED")  # DELETED: DescribeFileSystems no longer knows it

# Value of the batch-lustre:kept tag run-cleanup puts on a file system it keeps. FSx tag values take letters,
# digits, spaces and _.:/=+-@ only (FSx API, Tag): the reason, free text, goes in the failure's Cause.
KEPT_TAG_NOT_SAFE = (
    "States.Format('run {} ended {}: its data is not provably in S3', $.run.executionName, $.run.status)"
)


def status_change_event_pattern(workflow_state_machine_arn: str) -> dict[str, Any]:
    """EventBridge pattern: a run of ``workflow_state_machine_arn`` ended FAILED, TIMED_OUT or ABORTED."""
    return {
        "source": [STATUS_CHANGE_SOURCE],
        "detail-type": [STATUS_CHANGE_DETAIL_TYPE],
        "detail": {"status": list(ENDED_WITHOUT_CLEANUP), "stateMachineArn": [workflow_state_machine_arn]},
    }


def start_run_cleanup_policy(run_cleanup_state_machine_arn: str) -> dict[str, Any]:
    """The policy of the role EventBridge starts run-cleanup with: StartExecution of that machine only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": [run_cleanup_state_machine_arn]}
        ],
    }


def build_run_cleanup(
    refs: WorkflowRefs, *, find_run_resources_function_arn: str, extract_parameters_function_arn: str
) -> dict[str, Any]:
    """The run-cleanup state machine definition for the runs of the workflow that ``refs`` describes."""
    if not find_run_resources_function_arn or not extract_parameters_function_arn:
        raise ValueError("run-cleanup needs the FindRunResources and ExtractParameters function ARNs")
    g = Graph()
    _add_run_event(g)
    _add_parameters(g, refs, extract_parameters_function_arn)
    _add_find_run_resources(g, refs, find_run_resources_function_arn)
    _add_wait_for_jobs(g)
    _add_wait_for_file_system(g)
    _add_reused_sections(g, refs)
    _add_cleanup(g, refs)
    _add_finish(g, refs, find_run_resources_function_arn)
    return for_the_run(
        g.render(
            "CheckRunEvent",
            f"batch-lustre {refs.mode} run-cleanup: after a run ended FAILED, TIMED_OUT or ABORTED without its own "
            "cleanup, stop its jobs, undo its compute changes, export its file system and delete it once the data "
            "is in S3",
        )
    )


def _add_run_event(g: Graph) -> None:
    g.add(
        "CheckRunEvent",
        choice(
            [
                {
                    "And": [
                        {"Variable": f"$.detail.{key}", "IsPresent": True} for key in ("name", "executionArn", "status")
                    ],
                    "Next": "IsRunEndedWithoutCleanup",
                }
            ],
            "NotARunStatusEvent",
        ),
    )
    g.add(
        "NotARunStatusEvent",
        fail(
            "NotARunStatusEvent",
            "run-cleanup starts from an EventBridge 'Step Functions Execution Status Change' event: detail.name, "
            "detail.executionArn and detail.status are required",
        ),
    )
    g.add(
        "IsRunEndedWithoutCleanup",
        choice(
            [
                {
                    "Or": [{"Variable": "$.detail.status", "StringEquals": s} for s in ENDED_WITHOUT_CLEANUP],
                    "Next": "ReadRunEvent",
                }
            ],
            "RunNotEndedWithoutCleanup",
        ),
    )
    g.add(
        "RunNotEndedWithoutCleanup",
        fail(
            "RunNotEndedWithoutCleanup",
            "run-cleanup acts only on runs that ended FAILED, TIMED_OUT or ABORTED (a RUNNING run still owns its "
            "resources; a SUCCEEDED run went through its own Cleanup)",
        ),
    )
    # The event (with the run's input and output) is replaced by this machine's own state data.
    g.add(
        "ReadRunEvent",
        pass_parameters(
            {
                "run": {
                    "executionName.$": "$.detail.name",
                    "executionArn.$": "$.detail.executionArn",
                    "status.$": "$.detail.status",
                },
                "polls": {},
                # Its own token: a retried create stays idempotent, and does not collide with the run's request.
                "cleanupToken": {"clientRequestToken.$": "States.Hash($$.Execution.Id, 'MD5')"},
                "cleanupErrors": {},
                "earlierFindings": None,
                "fileSystemOutcome": {"FileSystemDeleted": False, "Reason": "no file system of the run was found"},
            },
            "$",
            "GetSecret",
        ),
    )


def _add_parameters(g: Graph, refs: WorkflowRefs, extract_parameters_function_arn: str) -> None:
    """The run-time parameters, as the run read them. Unreadable ones do not stop the lookup: the file
    system is then kept, since deleteLustre is unknown."""
    add_read_parameters(
        g,
        refs.secret_arn,
        extract_parameters_function_arn,
        {"secretString.$": "$.secret.SecretString", "executionName.$": "$.run.executionName", "input": {}},
        secret_failed_to=lambda: "SecretUnreadable",
        extract_failed_to=lambda: "ExtractParametersFailed",
    )
    g.add(
        "SecretUnreadable",
        pass_parameters(
            {
                "Reason.$": "States.Format('the run-time parameters could not be read from the secret: {}', $.error.Cause)"
            },
            "$.parametersProblem",
            "FindRunResources",
        ),
    )
    g.add(
        "ExtractParametersFailed",
        pass_parameters(
            {"Reason.$": "States.Format('the run-time parameters could not be read: {}', $.error.Cause)"},
            "$.parametersProblem",
            "FindRunResources",
        ),
    )
    g.add(
        "AreParametersValid",
        choice(
            [{"Variable": "$.config.ok", "BooleanEquals": True, "Next": "UseOwnClientToken"}],
            "ParametersInvalid",
        ),
    )
    g.add(
        "ParametersInvalid",
        pass_parameters(
            {"Reason.$": "States.Format('the run-time parameters are invalid: {}', $.config.error)"},
            "$.parametersProblem",
            "FindRunResources",
        ),
    )
    g.add(
        "UseOwnClientToken",
        pass_parameters(
            {
                "ok.$": "$.config.ok",
                "error.$": "$.config.error",
                "params.$": "$.config.params",
                "derived.$": "States.JsonMerge($.config.derived, $.cleanupToken, false)",
            },
            "$.config",
            "FindRunResources",
        ),
    )


def _find_run_resources(
    refs: WorkflowRefs, function_arn: str, next_state: str, result_path: str, catch_to: str, catch_path: str = "$.error"
) -> dict[str, Any]:
    return invoke_lambda(
        function_arn,
        {
            "executionName.$": "$.run.executionName",
            "executionArn.$": "$.run.executionArn",
            "cleanupExecutionArn.$": "$$.Execution.Id",
            "stack": refs.stack,
            "stackId": refs.stack_id,
            "mode": refs.mode,
            "namePrefix": refs.name_prefix,
            "laneTable": refs.lane_table_name,
            "lanes": lane_list(refs),
        },
        next_state=next_state,
        result_path=result_path,
        result_selector={
            "fileSystem.$": "$.Payload.fileSystem",
            "jobsRan.$": "$.Payload.jobsRan",
            "jobsUnfinished.$": "$.Payload.jobsUnfinished",
            "lane.$": "$.Payload.lane",
            "actions.$": "$.Payload.actions",
            "errors.$": "$.Payload.errors",
        },
        catch_to=catch_to,
        catch_path=catch_path,
    )


def _lane_back_if_put_back(release: str, next_state: str) -> dict[str, Any]:
    """Whether the lane this execution holds for the run goes back now: FindRunResources' latest result names it
    and reports no failed or put-off step (a lane whose compute could not be put back stays held, and is taken
    over only after the take-over grace: asl/lane_queue.py)."""
    return choice(
        [
            {
                "And": [
                    {"Variable": "$.found.lane", "IsNumeric": True},
                    {"Not": {"Variable": "$.found.errors[0]", "IsPresent": True}},
                ],
                "Next": release,
            }
        ],
        next_state,
    )


def _add_find_run_resources(g: Graph, refs: WorkflowRefs, function_arn: str) -> None:
    g.add(
        "FindRunResources",
        _find_run_resources(refs, function_arn, "CleanupRunLane", "$.found", "FindRunResourcesFailed"),
    )
    # The run's lane is held by this execution now (FindRunResources took it from the run). Once its compute
    # environment is back on its baseline (no step of FindRunResources failed or was put off: a job still ending
    # puts the restore off), it goes back at once; else after FindRunResources is called again, at the end.
    g.add("CleanupRunLane", _lane_back_if_put_back("ReleaseRunLane", "IsFileSystemLeft"))
    g.add("ReleaseRunLane", release_lane(refs.lane_table_name, "$.found.lane", next_state="IsFileSystemLeft"))
    g.add(
        "FindRunResourcesFailed",
        pass_parameters(
            {
                "Error": "FindRunResourcesFailed",
                "Cause.$": "States.Format('The resources of run {} could not be looked up, so nothing was cleaned up: {}', "
                "$.run.executionName, $.error.Cause)",
            },
            "$.failure",
            "RunCleanupFailed",
        ),
    )
    g.add(
        "IsFileSystemLeft",
        choice(
            [
                {"Variable": "$.found.fileSystem", "IsNull": True, "Next": "FinishRunCleanup"},
                {"Variable": "$.found.fileSystem.Kept", "BooleanEquals": True, "Next": "FileSystemKeptByRun"},
                {
                    "Variable": "$.found.fileSystem.Lifecycle",
                    "StringEquals": "DELETING",
                    "Next": "FileSystemAlreadyDeleting",
                },
            ],
            "RecordFileSystem",
        ),
    )
    g.add(
        "FileSystemKeptByRun",
        pass_parameters(
            {
                "FileSystemDeleted": False,
                "Reason": f"the run kept it on purpose (tag {TAG_KEPT}): left as it is",
                "FileSystemId.$": "$.found.fileSystem.FileSystemId",
            },
            "$.fileSystemOutcome",
            "FinishRunCleanup",
        ),
    )
    g.add(
        "FileSystemAlreadyDeleting",
        pass_parameters(
            {
                "FileSystemDeleted": True,
                "Reason": "it was already being deleted",
                "FileSystemId.$": "$.found.fileSystem.FileSystemId",
            },
            "$.fileSystemOutcome",
            "FinishRunCleanup",
        ),
    )
    # From here on, every path goes through Cleanup.
    g.add(
        "RecordFileSystem",
        pass_parameters(
            {"FileSystemId.$": "$.found.fileSystem.FileSystemId"},
            "$.fs",
            "RecordFileSystemLifecycle",
        ),
    )
    g.add(
        "RecordFileSystemLifecycle",
        pass_parameters({"Lifecycle.$": "$.found.fileSystem.Lifecycle"}, "$.fsStatus", "AreParametersKnown"),
    )
    g.add(
        "AreParametersKnown",
        choice(
            [{"Variable": "$.parametersProblem", "IsPresent": True, "Next": "KeepFileSystemParametersUnknown"}],
            "AreJobsUnfinished",
        ),
    )
    g.add(
        "KeepFileSystemParametersUnknown",
        pass_parameters(
            {"Reason.$": "States.Format('deleteLustre is unknown: {}', $.parametersProblem.Reason)"}, "$.keep", CLEANUP
        ),
    )


def _add_wait_for_jobs(g: Graph) -> None:
    """A job asked to terminate may write to the file system until it has ended: wait (bounded) for that."""
    g.add(
        "AreJobsUnfinished",
        choice(
            [{"Variable": "$.found.jobsUnfinished[0]", "IsPresent": True, "Next": "StartJobsEndPolls"}],
            "IsFileSystemReady",
        ),
    )
    g.add("StartJobsEndPolls", start_polls(JOBS_END_LOOP, "WaitForJobsToEnd", JOBS_END_SCHEDULE))
    g.add("WaitForJobsToEnd", wait_poll(JOBS_END_LOOP, "CheckJobsEnded"))
    g.add(
        "CheckJobsEnded",
        aws_sdk(
            "batch",
            "describeJobs",
            {"Jobs.$": "$.found.jobsUnfinished"},
            next_state="SummarizeJobStatuses",
            result_path="$.jobsCheck",
            result_selector={"statuses.$": "$.Jobs[*].Status"},
            retry=RETRY_READ,
            catch_to="JobsStatusUnknown",
        ),
    )
    g.add(
        "SummarizeJobStatuses",
        pass_parameters(
            {f"{status}.$": f"States.ArrayContains($.jobsCheck.statuses, '{status}')" for status in OPEN_JOB_STATUSES},
            "$.jobsOpen",
            "HaveJobsEnded",
        ),
    )
    g.add(
        "HaveJobsEnded",
        choice(
            [
                {
                    "Not": {
                        "Or": [
                            {"Variable": f"$.jobsOpen.{status}", "BooleanEquals": True} for status in OPEN_JOB_STATUSES
                        ]
                    },
                    "Next": "IsFileSystemReady",
                },
                polls_over(JOBS_END_LOOP, "JobsDidNotEnd"),
            ],
            "CountJobsEndCheck",
        ),
    )
    g.add("CountJobsEndCheck", next_poll(JOBS_END_LOOP, "WaitForJobsToEnd", JOBS_END_SCHEDULE))
    g.add(
        "JobsDidNotEnd",
        pass_parameters(
            {
                "Reason.$": "States.Format('job(s) {} had not ended 10 minutes after being asked to terminate, so they may "
                "still write to it', States.JsonToString($.found.jobsUnfinished))"
            },
            "$.keep",
            CLEANUP,
        ),
    )
    g.add(
        "JobsStatusUnknown",
        pass_parameters(
            {
                "Reason.$": "States.Format('the status of job(s) {} could not be read: {}', "
                "States.JsonToString($.found.jobsUnfinished), $.error.Cause)"
            },
            "$.keep",
            CLEANUP,
        ),
    )


def _lifecycle_rules(waiting: str) -> list[dict[str, Any]]:
    """Where the file system's lifecycle (``$.fsStatus.Lifecycle``) leads; ``waiting``: CREATING/UPDATING."""
    lifecycle = "$.fsStatus.Lifecycle"

    def one_of(values: tuple[str, ...], next_state: str) -> dict[str, Any]:
        return {"Or": [{"Variable": lifecycle, "StringEquals": v} for v in values], "Next": next_state}

    return [
        one_of(("AVAILABLE", "MISCONFIGURED"), "WasJobRun"),  # MISCONFIGURED: the export section may still work
        one_of(WAITING_LIFECYCLES, waiting),
        {"Variable": lifecycle, "StringEquals": "FAILED", "Next": "IsFailedFileSystemEmpty"},
        one_of(GONE_LIFECYCLES, CLEANUP),
    ]


def _add_wait_for_file_system(g: Graph) -> None:
    """A run stopped early may leave a CREATING file system: it can be exported or deleted once AVAILABLE."""
    g.add("IsFileSystemReady", choice(_lifecycle_rules("StartFileSystemPolls"), "UnexpectedFileSystemLifecycle"))
    g.add("StartFileSystemPolls", start_polls(FILE_SYSTEM_LOOP, "WaitForFileSystemAvailable", FILE_SYSTEM_SCHEDULE))
    g.add("WaitForFileSystemAvailable", wait_poll(FILE_SYSTEM_LOOP, "CheckFileSystemLifecycle"))
    check = aws_sdk(
        "fsx",
        "describeFileSystems",
        {"FileSystemIds.$": "States.Array($.fs.FileSystemId)"},
        next_state="IsFileSystemAvailableNow",
        result_path="$.fsStatus",
        result_selector={"Lifecycle.$": "$.FileSystems[0].Lifecycle"},
        retry=RETRY_READ,
        catch_to="FileSystemStatusUnknown",
    )
    check["Catch"] = [
        {"ErrorEquals": FILE_SYSTEM_NOT_FOUND_ERRORS, "ResultPath": "$.error", "Next": "FileSystemVanished"},
        *check["Catch"],
    ]
    g.add("CheckFileSystemLifecycle", check)
    g.add("IsFileSystemAvailableNow", choice(_lifecycle_rules("IsFileSystemWaitOver"), "UnexpectedFileSystemLifecycle"))
    g.add(
        "IsFileSystemWaitOver", choice([polls_over(FILE_SYSTEM_LOOP, "FileSystemNotAvailable")], "CountFileSystemCheck")
    )
    g.add("CountFileSystemCheck", next_poll(FILE_SYSTEM_LOOP, "WaitForFileSystemAvailable", FILE_SYSTEM_SCHEDULE))
    g.add("FileSystemVanished", pass_result({"Lifecycle": "DELETED"}, "$.fsStatus", CLEANUP))
    g.add(
        "FileSystemStatusUnknown",
        pass_parameters(
            {"Reason.$": "States.Format('its status could not be read: {}', $.error.Cause)"}, "$.keep", CLEANUP
        ),
    )
    g.add(
        "FileSystemNotAvailable",
        pass_parameters(
            {
                "Reason.$": "States.Format('it was still {} after lustreCreationTimeoutMinutes={}', $.fsStatus.Lifecycle, "
                f"{PARAMS}.lustreCreationTimeoutMinutes)"
            },
            "$.keep",
            CLEANUP,
        ),
    )
    g.add(
        "UnexpectedFileSystemLifecycle",
        pass_parameters({"Reason.$": "States.Format('its lifecycle is {}', $.fsStatus.Lifecycle)"}, "$.keep", CLEANUP),
    )
    g.add(
        "IsFailedFileSystemEmpty",
        choice(
            [{"Variable": "$.found.jobsRan", "BooleanEquals": False, "Next": "NothingToExport"}],
            "FileSystemFailedAfterJob",
        ),
    )
    g.add(
        "FileSystemFailedAfterJob",
        pass_result({"Reason": "it is FAILED, so what the job wrote to it cannot be exported"}, "$.keep", CLEANUP),
    )
    # Nothing was written to a file system whose job never ran: its data is safe without an export.
    g.add(
        "WasJobRun",
        choice(
            [{"Variable": "$.found.jobsRan", "BooleanEquals": False, "Next": "NothingToExport"}],
            "HasAssociation",
        ),
    )
    g.add(
        "HasAssociation",
        choice(
            [
                {
                    "Variable": "$.found.fileSystem.AssociationId",
                    "IsPresent": False,
                    "Next": "NoAssociationToExportThrough",
                },
                {
                    "Variable": "$.found.fileSystem.AssociationId",
                    "IsNull": True,
                    "Next": "NoAssociationToExportThrough",
                },
            ],
            "RecordAssociation",
        ),
    )
    g.add(
        "NoAssociationToExportThrough",
        pass_result(
            {"Reason": "the job ran, but the file system has no data repository association to export through"},
            "$.keep",
            CLEANUP,
        ),
    )
    g.add(
        "RecordAssociation",
        pass_parameters({"AssociationId.$": "$.found.fileSystem.AssociationId"}, "$.dra", AFTER_JOB),
    )


def _add_reused_sections(g: Graph, refs: WorkflowRefs) -> None:
    """The export section (entry ``AfterJob``; it ends in ``Cleanup``, through ``MarkDataSafe`` when the export
    succeeded, else with ``$.keep``) and ``NothingToExport``/``MarkDataSafe``, as the workflow has them."""
    add_export_task(g, refs)
    add_failure_before_job(g)


def for_the_run(value: Any, key: str = "") -> Any:
    """``value`` with every ``$$.Execution.Name`` in a path or intrinsic replaced by the run's execution name.

    The reused sections tag what they create with ``$$.Execution.Name`` (``batch-lustre:run``): in run-cleanup
    that is this machine's execution, but the run's name is meant. Its own states never use it.
    """
    if isinstance(value, dict):
        return {k: for_the_run(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [for_the_run(v, key) for v in value]
    if isinstance(value, str) and key.endswith(".$"):
        return value.replace("$$.Execution.Name", "$.run.executionName")
    return value


def _add_cleanup(g: Graph, refs: WorkflowRefs) -> None:
    """``Cleanup`` of run-cleanup: the compute resources were handled by FindRunResources; what is left is the
    file system. Deleted only when its data is safe and deleteLustre is true; otherwise tagged kept."""
    g.add(
        CLEANUP,
        choice(
            [
                {
                    "Or": [{"Variable": "$.fsStatus.Lifecycle", "StringEquals": s} for s in GONE_LIFECYCLES],
                    "Next": "FileSystemAlreadyGone",
                },
                {"Variable": "$.dataSafe", "IsPresent": False, "Next": "KeepFileSystem"},
                {"Variable": f"{PARAMS}.deleteLustre", "IsPresent": False, "Next": "KeepFileSystem"},
                {"Variable": f"{PARAMS}.deleteLustre", "BooleanEquals": False, "Next": "KeepFileSystemOnRequest"},
            ],
            "DeleteFileSystem",
        ),
    )
    g.add(
        "FileSystemAlreadyGone",
        pass_parameters(
            {"FileSystemDeleted": True, "Reason": "it was deleted meanwhile", "FileSystemId.$": "$.fs.FileSystemId"},
            "$.fileSystemOutcome",
            "FinishRunCleanup",
        ),
    )
    g.add(
        "KeepFileSystem",
        choice(
            [{"Variable": "$.keep.Reason", "IsPresent": True, "Next": "LabelFileSystemNotSafe"}],
            "DataNotProvablySafe",
        ),
    )
    g.add(
        "DataNotProvablySafe",
        pass_result({"Reason": "its data is not provably in S3"}, "$.keep", "LabelFileSystemNotSafe"),
    )
    # Tag values allow letters, digits, spaces and _.:/=+-@ only (FSx API, Tag): the reason goes in the
    # failure's Cause, the tag holds a short label.
    g.add(
        "LabelFileSystemNotSafe",
        pass_parameters({"Reason.$": "$.keep.Reason", "Tag.$": KEPT_TAG_NOT_SAFE}, "$.keep", "TagFileSystemKept"),
    )
    g.add(
        "KeepFileSystemOnRequest",
        pass_result(
            {"Reason": "deleteLustre=false", "Tag": "deleteLustre=false", "OnRequest": True},
            "$.keep",
            "TagFileSystemKept",
        ),
    )
    delete = aws_sdk(
        "fsx",
        "deleteFileSystem",
        {"FileSystemId.$": "$.fs.FileSystemId", "ClientRequestToken.$": client_token("delete")},
        next_state="FinishRunCleanup",
        result_path="$.fileSystemOutcome",
        result_selector={"FileSystemDeleted": True, "FileSystemId.$": "$.FileSystemId", "Lifecycle.$": "$.Lifecycle"},
        retry=RETRY_CLEANUP,
        catch_to="DeleteFileSystemRefused",
        catch_path="$.cleanupErrors.deleteFileSystem",
    )
    delete["Retry"] = [
        {"ErrorEquals": DELETE_REFUSED_ERRORS, "IntervalSeconds": 300, "MaxAttempts": 24, "BackoffRate": 1.0},
        *delete["Retry"],
    ]
    delete["Catch"] = [
        {"ErrorEquals": FILE_SYSTEM_NOT_FOUND_ERRORS, "ResultPath": "$.error", "Next": "FileSystemAlreadyGone"},
        *delete["Catch"],
    ]
    g.add("DeleteFileSystem", delete)
    g.add(
        "DeleteFileSystemRefused",
        pass_parameters(
            {
                "Reason.$": "States.Format('DeleteFileSystem was refused: {}', $.cleanupErrors.deleteFileSystem.Cause)",
                "Tag": "run-cleanup: DeleteFileSystem was refused",
            },
            "$.keep",
            "TagFileSystemKept",
        ),
    )
    # Tagged kept, so that a later run-cleanup of the same run leaves it to the user as well.
    g.add(
        "TagFileSystemKept",
        tag_file_system_kept(refs, {"Value.$": "$.keep.Tag"}, next_state="RecordFileSystemKept", retry=RETRY_READ),
    )
    g.add(
        "RecordFileSystemKept",
        pass_parameters(
            {"FileSystemDeleted": False, "Reason.$": "$.keep.Reason", "FileSystemId.$": "$.fs.FileSystemId"},
            "$.fileSystemOutcome",
            "FinishRunCleanup",
        ),
    )


def _outcome_rules() -> list[dict[str, Any]]:
    """How run-cleanup ends: failing, naming a file system it kept or what it could not undo; else succeeding."""
    return [
        {
            "And": [
                {"Variable": "$.keep", "IsPresent": True},
                {"Not": {"Variable": "$.keep.OnRequest", "IsPresent": True}},
            ],
            "Next": "ReportFileSystemKept",
        },
        {"Variable": "$.found.errors[0]", "IsPresent": True, "Next": "ReportRunCleanupIncomplete"},
        {"Variable": "$.cleanupErrors.tagFileSystemKept", "IsPresent": True, "Next": "ReportRunCleanupIncomplete"},
        {"Variable": "$.cleanupErrors.findRunResourcesAgain", "IsPresent": True, "Next": "ReportRunCleanupIncomplete"},
        {"Variable": "$.cleanupErrors.releaseLane", "IsPresent": True, "Next": "ReportRunCleanupIncomplete"},
    ]


def _add_finish(g: Graph, refs: WorkflowRefs, function_arn: str) -> None:
    # A step of FindRunResources that failed (a compute environment still UPDATING, throttling) is tried once
    # more a few minutes later (the Lambda is idempotent); its latest result is the one reported.
    g.add(
        "FinishRunCleanup",
        choice(
            [{"Variable": "$.found.errors[0]", "IsPresent": True, "Next": "KeepEarlierFindings"}],
            "RunCleanupOutcome",
        ),
    )
    g.add(
        "KeepEarlierFindings",
        pass_parameters(
            {"actions.$": "$.found.actions", "errors.$": "$.found.errors"},
            "$.earlierFindings",
            "WaitBeforeFindingAgain",
        ),
    )
    g.add(
        "WaitBeforeFindingAgain", {"Type": "Wait", "Seconds": FIND_AGAIN_AFTER_SECONDS, "Next": "FindRunResourcesAgain"}
    )
    g.add(
        "FindRunResourcesAgain",
        _find_run_resources(
            refs,
            function_arn,
            "FinishAfterFindingAgain",
            "$.found",
            "FinishAfterFindingAgain",
            catch_path="$.cleanupErrors.findRunResourcesAgain",
        ),
    )
    g.add("FinishAfterFindingAgain", _lane_back_if_put_back("ReleaseRunLaneAtEnd", "RunCleanupOutcome"))
    g.add("ReleaseRunLaneAtEnd", release_lane(refs.lane_table_name, "$.found.lane", next_state="RunCleanupOutcome"))
    g.add("RunCleanupOutcome", choice(_outcome_rules(), "SummarizeRunCleanup"))
    g.add(
        "ReportFileSystemKept",
        pass_parameters(
            {
                "Error": "FileSystemKept",
                "Cause.$": "States.Format('Run {} ended {}. Its file system {} was kept: {}. Other problems: {} {}', "
                "$.run.executionName, $.run.status, $.fs.FileSystemId, $.keep.Reason, "
                "States.JsonToString($.found.errors), States.JsonToString($.cleanupErrors))",
            },
            "$.failure",
            "RunCleanupFailed",
        ),
    )
    g.add(
        "ReportRunCleanupIncomplete",
        pass_parameters(
            {
                "Error": "RunCleanupIncomplete",
                "Cause.$": "States.Format('Run {} ended {}. run-cleanup could not undo everything: {} {}', "
                "$.run.executionName, $.run.status, States.JsonToString($.found.errors), "
                "States.JsonToString($.cleanupErrors))",
            },
            "$.failure",
            "RunCleanupFailed",
        ),
    )
    g.add("RunCleanupFailed", fail_from("$.failure.Error", "$.failure.Cause"))
    g.add(
        "SummarizeRunCleanup",
        pass_parameters(
            {
                "run.$": "$.run",
                "fileSystem.$": "$.fileSystemOutcome",
                "actions.$": "$.found.actions",
                "earlierFindings.$": "$.earlierFindings",
            },
            "$",
            "RunCleanupSucceeded",
        ),
    )
    g.add("RunCleanupSucceeded", succeed())
