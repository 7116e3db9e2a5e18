"""taskexport: after the job, an explicit EXPORT_TO_REPOSITORY task, tracked by the TaskId it returned."""

from __future__ import annotations

from typing import Any

from asl.common import (
    AFTER_JOB,
    AUTO_IMPORT_EVENTS,
    CLEANUP,
    DERIVED,
    EXPORT_PATH,
    MARK_DATA_SAFE,
    PARAMS,
    build,
    client_token,
    tag_list,
)
from asl.refs import WorkflowRefs
from asl.states import (
    RETRY_READ,
    RETRY_WRITE,
    Graph,
    aws_sdk,
    choice,
    count_poll,
    pass_parameters,
    poll_bound,
    wait,
)

EXPORT_REPORT_PREFIX = "fsx-export-reports"
# Step Functions' name of FSx's DataRepositoryTaskExecuting error (another task runs on the file system).
TASK_EXECUTING = "FSx.DataRepositoryTaskExecutingException"


def _keep(reason_format: str, *paths: str) -> dict[str, Any]:
    """Pass parameters recording why the file system is kept."""
    return {"Reason.$": f"States.Format('{reason_format}', {', '.join(paths)})"} if paths else {"Reason": reason_format}


def add_export_task(g: Graph, refs: WorkflowRefs) -> None:
    # AWS requires auto export to be off before an EXPORT_TO_REPOSITORY task runs.
    g.add(AFTER_JOB, choice(
        [{"Variable": f"{PARAMS}.autoExport", "BooleanEquals": True, "Next": "DisableAutoExport"}],
        "CreateDataRepositoryTask",
    ))
    g.add("DisableAutoExport", aws_sdk(
        "fsx", "updateDataRepositoryAssociation",
        {
            "AssociationId.$": "$.dra.AssociationId",
            "S3": {"AutoImportPolicy": {"Events": AUTO_IMPORT_EVENTS}, "AutoExportPolicy": {"Events": []}},
        },
        next_state="WaitForAssociationUpdate", result_path=None,
        retry=RETRY_WRITE, catch_to="AutoExportNotDisabled", catch_path="$.exportError",
    ))
    g.add("AutoExportNotDisabled", pass_parameters(
        _keep("auto export could not be turned off before the export task: {}", "$.exportError.Cause"),
        "$.keep", CLEANUP,
    ))
    g.add("WaitForAssociationUpdate", wait(f"{PARAMS}.waitForLustreCreationSeconds", "CheckAssociationUpdate"))
    g.add("CheckAssociationUpdate", aws_sdk(
        "fsx", "describeDataRepositoryAssociations", {"AssociationIds.$": "States.Array($.dra.AssociationId)"},
        next_state="IsAssociationUpdated", result_path="$.draStatus",
        result_selector={"Lifecycle.$": "$.Associations[0].Lifecycle"},
        retry=RETRY_READ, catch_to="AutoExportNotDisabled", catch_path="$.exportError",
    ))
    g.add("IsAssociationUpdated", choice(
        [
            {"Variable": "$.draStatus.Lifecycle", "StringEquals": "AVAILABLE", "Next": "CreateDataRepositoryTask"},
            {"Variable": "$.draStatus.Lifecycle", "StringEquals": "FAILED", "Next": "AssociationFailedAfterJob"},
        ],
        "CountAssociationPoll",
    ))
    g.add("AssociationFailedAfterJob", pass_parameters(
        _keep("data repository association {} became FAILED before the export", "$.dra.AssociationId"),
        "$.keep", CLEANUP,
    ))
    g.add("CountAssociationPoll", count_poll("association", "IsAssociationWaitOver"))
    g.add("IsAssociationWaitOver", poll_bound(
        "association", f"{DERIVED}.maxAssociationUpdatePolls", "AssociationUpdateTimedOut", "WaitForAssociationUpdate"))
    g.add("AssociationUpdateTimedOut", pass_parameters(
        _keep("data repository association {} stayed {} after auto export was turned off",
              "$.dra.AssociationId", "$.draStatus.Lifecycle"),
        "$.keep", CLEANUP,
    ))
    # FSx runs one data repository task at a time per file system: CreateDataRepositoryTask is refused
    # (DataRepositoryTaskExecuting) while another is PENDING/EXECUTING, such as the IMPORT task the
    # association started (BatchImportMetaDataOnCreate), which may outlast a short job. Wait for it,
    # within the export's bound, instead of failing the quick retries and keeping the file system.
    create = aws_sdk(
        "fsx", "createDataRepositoryTask",
        {
            "ClientRequestToken.$": client_token("export"),
            "Type": "EXPORT_TO_REPOSITORY",
            "FileSystemId.$": "$.fs.FileSystemId",
            "Paths": [EXPORT_PATH],
            "Report": {
                "Enabled": True,
                "Path": f"s3://{refs.bucket_name}/{EXPORT_REPORT_PREFIX}",
                "Format": "REPORT_CSV_20191124",
                "Scope": "FAILED_FILES_ONLY",
            },
            "Tags": tag_list(refs),
        },
        next_state="WaitForDataRepositoryTask", result_path="$.exportTask",
        result_selector={"TaskId.$": "$.DataRepositoryTask.TaskId"},
        retry=RETRY_WRITE, catch_to="ExportTaskNotCreated", catch_path="$.exportError",
    )
    # MaxAttempts 0: the first Retry entry naming the error decides, so the quick retries are skipped.
    create["Retry"] = [{"ErrorEquals": [TASK_EXECUTING], "MaxAttempts": 0}, *create["Retry"]]
    create["Catch"] = [{"ErrorEquals": [TASK_EXECUTING], "ResultPath": "$.exportError", "Next": "OtherTaskRunning"},
                       *create["Catch"]]
    g.add("CreateDataRepositoryTask", create)
    g.add("OtherTaskRunning", count_poll("export", "IsOtherTaskWaitOver"))
    g.add("IsOtherTaskWaitOver", poll_bound("export", f"{DERIVED}.maxExportPolls", "OtherTaskStillRunning",
                                            "WaitForOtherTask"))
    g.add("WaitForOtherTask", wait(f"{PARAMS}.waitForDataRepositoryTaskSeconds", "CreateDataRepositoryTask"))
    g.add("OtherTaskStillRunning", pass_parameters(
        _keep("another data repository task was still running after exportTimeoutMinutes={}, so the export "
              "task could not start: {}", f"{PARAMS}.exportTimeoutMinutes", "$.exportError.Cause"),
        "$.keep", CLEANUP,
    ))
    g.add("ExportTaskNotCreated", pass_parameters(
        _keep("the export task could not be created: {}", "$.exportError.Cause"), "$.keep", CLEANUP))
    g.add("WaitForDataRepositoryTask", wait(f"{PARAMS}.waitForDataRepositoryTaskSeconds",
                                            "CheckDataRepositoryTasks"))
    # Tracked by its own TaskId: the IMPORT task started with the association is another task.
    g.add("CheckDataRepositoryTasks", aws_sdk(
        "fsx", "describeDataRepositoryTasks", {"TaskIds.$": "States.Array($.exportTask.TaskId)"},
        next_state="IsDataRepositoryTaskComplete", result_path="$.exportStatus",
        result_selector={"Lifecycle.$": "$.DataRepositoryTasks[0].Lifecycle", "Task.$": "$.DataRepositoryTasks[0]"},
        retry=RETRY_READ, catch_to="ExportStatusUnknown", catch_path="$.exportError",
    ))
    g.add("ExportStatusUnknown", pass_parameters(
        _keep("the status of export task {} could not be read", "$.exportTask.TaskId"), "$.keep", CLEANUP))
    g.add("IsDataRepositoryTaskComplete", choice(
        [
            {"And": [
                {"Variable": "$.exportStatus.Lifecycle", "StringEquals": "SUCCEEDED"},
                {"Variable": "$.exportStatus.Task.Status.FailedCount", "IsPresent": True},
                {"Variable": "$.exportStatus.Task.Status.FailedCount", "NumericGreaterThan": 0},
            ], "Next": "ExportIncomplete"},
            {"Variable": "$.exportStatus.Lifecycle", "StringEquals": "SUCCEEDED", "Next": MARK_DATA_SAFE},
            {"Or": [{"Variable": "$.exportStatus.Lifecycle", "StringEquals": s} for s in ("FAILED", "CANCELED")],
             "Next": "ExportTaskFailed"},
        ],
        "CountExportPoll",
    ))
    g.add("ExportIncomplete", pass_parameters(
        _keep("export task {} could not export {} files (report under s3://" + refs.bucket_name + "/"
              + EXPORT_REPORT_PREFIX + ")", "$.exportTask.TaskId", "$.exportStatus.Task.Status.FailedCount"),
        "$.keep", CLEANUP,
    ))
    g.add("ExportTaskFailed", pass_parameters(
        _keep("export task {} ended {}", "$.exportTask.TaskId", "$.exportStatus.Lifecycle"), "$.keep", CLEANUP))
    g.add("CountExportPoll", count_poll("export", "IsExportWaitOver"))
    g.add("IsExportWaitOver", poll_bound("export", f"{DERIVED}.maxExportPolls", "ExportTimedOut",
                                         "WaitForDataRepositoryTask"))
    g.add("ExportTimedOut", pass_parameters(
        _keep("export task {} was still {} after exportTimeoutMinutes={}", "$.exportTask.TaskId",
              "$.exportStatus.Lifecycle", f"{PARAMS}.exportTimeoutMinutes"),
        "$.keep", CLEANUP,
    ))


def build_task_export(refs: WorkflowRefs) -> dict[str, Any]:
    """The taskexport state machine definition."""
    return build(refs, add_export_task,
                 "batch-lustre taskexport: FSx for Lustre scratch for one Batch job, results exported by an "
                 "EXPORT_TO_REPOSITORY task, file system deleted once the export succeeded")

