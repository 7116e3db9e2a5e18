"""The export section: an EXPORT_TO_REPOSITORY task, tracked by the TaskId it returned.

taskexport runs it after every job; autoexport runs it when the export-queue metric cannot prove that
auto export has drained; the run-cleanup state machine runs it before deleting a run's file system.
"""

from __future__ import annotations

from typing import Any

from batch_lustre.program.asl.paths import PARAMS
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.asl.run_resources import AUTO_IMPORT_EVENTS, client_token, tag_list
from batch_lustre.program.asl.sections import AFTER_JOB, CLEANUP, MARK_DATA_SAFE
from batch_lustre.program.asl.states import (
    RETRY_WRITE,
    Graph,
    aws_sdk,
    choice,
    error_names,
    last,
    next_poll,
    pass_parameters,
    polls_over,
    start_polls,
    wait_for,
    wait_for_next,
    wait_poll,
    waiting_rules,
)
from batch_lustre.program.asl.workflow import build

EXPORT_REPORT_PREFIX = "fsx-export-reports"
# FSx refuses a data repository task while another one runs on the file system (DataRepositoryTaskExecuting).
TASK_EXECUTING = error_names("FSx", "DataRepositoryTaskExecutingException")


def _keep(reason_format: str, *paths: str) -> dict[str, Any]:
    """Pass parameters recording why the file system is kept."""
    return {"Reason.$": f"States.Format('{reason_format}', {', '.join(paths)})"} if paths else {"Reason": reason_format}


def add_export_task(g: Graph, refs: WorkflowRefs, entry: str = AFTER_JOB) -> None:
    """The export section, entered at ``entry``; it ends at ``MarkDataSafe`` or with ``$.keep`` at ``Cleanup``."""
    # AWS requires auto export to be off before an EXPORT_TO_REPOSITORY task runs.
    g.add(
        entry,
        choice(
            [{"Variable": f"{PARAMS}.autoExport", "BooleanEquals": True, "Next": "DisableAutoExport"}],
            "StartOtherTaskPolls",
        ),
    )
    g.add(
        "DisableAutoExport",
        aws_sdk(
            "fsx",
            "updateDataRepositoryAssociation",
            {
                "AssociationId.$": "$.dra.AssociationId",
                "S3": {"AutoImportPolicy": {"Events": AUTO_IMPORT_EVENTS}, "AutoExportPolicy": {"Events": []}},
            },
            next_state="CheckAssociationUpdate",
            result_path=None,
            retry=RETRY_WRITE,
            catch_to="AutoExportNotDisabled",
            catch_path="$.exportError",
        ),
    )
    g.add(
        "AutoExportNotDisabled",
        pass_parameters(
            _keep("auto export could not be turned off before the export task: {}", "$.exportError.Cause"),
            "$.keep",
            CLEANUP,
        ),
    )
    g.add(
        "CheckAssociationUpdate",
        wait_for(
            refs.wait_for_function_arn,
            "associationUpdate",
            "associationUpdate",
            "associationUpdate",
            {"associationId.$": "$.dra.AssociationId"},
            next_state="IsAssociationUpdated",
            catch_to="AutoExportNotDisabled",
            catch_path="$.exportError",
        ),
    )
    g.add("WaitForAssociationUpdate", wait_for_next("associationUpdate", "CheckAssociationUpdate"))
    g.add(
        "IsAssociationUpdated",
        choice(
            [
                *waiting_rules("associationUpdate", "WaitForAssociationUpdate", "AssociationUpdateTimedOut"),
                {
                    "Variable": last("associationUpdate", "AssociationLifecycle"),
                    "StringEquals": "AVAILABLE",
                    "Next": "StartOtherTaskPolls",
                },
            ],
            "AssociationFailedAfterJob",
        ),
    )
    dra_lifecycle = last("associationUpdate", "AssociationLifecycle")
    g.add(
        "AssociationFailedAfterJob",
        pass_parameters(
            _keep("data repository association {} became FAILED before the export", "$.dra.AssociationId"),
            "$.keep",
            CLEANUP,
        ),
    )
    g.add(
        "AssociationUpdateTimedOut",
        pass_parameters(
            _keep(
                "data repository association {} stayed {} after auto export was turned off",
                "$.dra.AssociationId",
                dra_lifecycle,
            ),
            "$.keep",
            CLEANUP,
        ),
    )
    # FSx runs one data repository task at a time per file system: CreateDataRepositoryTask is refused
    # (DataRepositoryTaskExecuting) while another is PENDING/EXECUTING, such as the IMPORT task the
    # association started (BatchImportMetaDataOnCreate), which may outlast a short job. Wait for it,
    # within the export's bound, instead of failing the quick retries and keeping the file system.
    g.add("StartOtherTaskPolls", start_polls("otherTask", "CreateDataRepositoryTask"))
    create = aws_sdk(
        "fsx",
        "createDataRepositoryTask",
        {
            "ClientRequestToken.$": client_token("export"),
            "Type": "EXPORT_TO_REPOSITORY",
            "FileSystemId.$": "$.fs.FileSystemId",
            "Paths": [refs.data_layout.export_path()],
            "Report": {
                "Enabled": True,
                "Path": f"s3://{refs.bucket_name}/{EXPORT_REPORT_PREFIX}",
                "Format": "REPORT_CSV_20191124",
                "Scope": "FAILED_FILES_ONLY",
            },
            "Tags": tag_list(refs),
        },
        next_state="CheckDataRepositoryTasks",
        result_path="$.exportTask",
        result_selector={"TaskId.$": "$.DataRepositoryTask.TaskId"},
        retry=RETRY_WRITE,
        catch_to="ExportTaskNotCreated",
        catch_path="$.exportError",
    )
    # MaxAttempts 0: the first Retry entry naming the error decides, so the quick retries are skipped.
    create["Retry"] = [{"ErrorEquals": TASK_EXECUTING, "MaxAttempts": 0}, *create["Retry"]]
    create["Catch"] = [
        {"ErrorEquals": TASK_EXECUTING, "ResultPath": "$.exportError", "Next": "IsOtherTaskWaitOver"},
        *create["Catch"],
    ]
    g.add("CreateDataRepositoryTask", create)
    g.add("IsOtherTaskWaitOver", choice([polls_over("otherTask", "OtherTaskStillRunning")], "WaitForOtherTask"))
    g.add("WaitForOtherTask", wait_poll("otherTask", "CountOtherTaskPoll"))
    g.add("CountOtherTaskPoll", next_poll("otherTask", "CreateDataRepositoryTask"))
    g.add(
        "OtherTaskStillRunning",
        pass_parameters(
            _keep(
                "another data repository task was still running after exportTimeoutMinutes={}, so the export "
                "task could not start: {}",
                f"{PARAMS}.exportTimeoutMinutes",
                "$.exportError.Cause",
            ),
            "$.keep",
            CLEANUP,
        ),
    )
    g.add(
        "ExportTaskNotCreated",
        pass_parameters(_keep("the export task could not be created: {}", "$.exportError.Cause"), "$.keep", CLEANUP),
    )
    status = "$.polls.export.Last"
    g.add(
        "CheckDataRepositoryTasks",
        wait_for(
            refs.wait_for_function_arn,
            "exportTask",
            "export",
            "export",
            {"taskId.$": "$.exportTask.TaskId"},
            next_state="IsDataRepositoryTaskComplete",
            catch_to="ExportStatusUnknown",
            catch_path="$.exportError",
        ),
    )
    g.add("WaitForDataRepositoryTask", wait_for_next("export", "CheckDataRepositoryTasks"))
    failed_count = f"{status}.FailedCount"
    g.add(
        "ExportStatusUnknown",
        pass_parameters(
            # Not a transient error: WaitFor counts those and keeps waiting (lambda/wait_for.py); this is a refusal
            # that asking again cannot heal (AccessDenied, the task gone) or Lambda's own failure after its retries.
            _keep(
                "the status of export task {} could not be read ({})",
                "$.exportTask.TaskId",
                "$.exportError.Error",
            ),
            "$.keep",
            CLEANUP,
        ),
    )
    g.add(
        "IsDataRepositoryTaskComplete",
        choice(
            [
                *waiting_rules("export", "WaitForDataRepositoryTask", "ExportTimedOut"),
                {
                    "And": [
                        {"Variable": f"{status}.Lifecycle", "StringEquals": "SUCCEEDED"},
                        {"Variable": failed_count, "IsPresent": True},
                        {"Variable": failed_count, "NumericGreaterThan": 0},
                    ],
                    "Next": "ExportIncomplete",
                },
                {"Variable": f"{status}.Lifecycle", "StringEquals": "SUCCEEDED", "Next": MARK_DATA_SAFE},
                {
                    "Or": [{"Variable": f"{status}.Lifecycle", "StringEquals": s} for s in ("FAILED", "CANCELED")],
                    "Next": "ExportTaskFailed",
                },
            ],
            "ExportTimedOut",  # not reached: WaitFor ends "done" only on SUCCEEDED, FAILED or CANCELED
        ),
    )
    g.add(
        "ExportIncomplete",
        pass_parameters(
            _keep(
                "export task {} could not export {} files (report under s3://"
                + refs.bucket_name
                + "/"
                + EXPORT_REPORT_PREFIX
                + ")",
                "$.exportTask.TaskId",
                failed_count,
            ),
            "$.keep",
            CLEANUP,
        ),
    )
    g.add(
        "ExportTaskFailed",
        pass_parameters(
            _keep("export task {} ended {}", "$.exportTask.TaskId", f"{status}.Lifecycle"), "$.keep", CLEANUP
        ),
    )
    g.add(
        "ExportTimedOut",
        pass_parameters(
            _keep(
                "export task {} was still {} after exportTimeoutMinutes={}",
                "$.exportTask.TaskId",
                f"{status}.Lifecycle",
                f"{PARAMS}.exportTimeoutMinutes",
            ),
            "$.keep",
            CLEANUP,
        ),
    )


def build_task_export(refs: WorkflowRefs) -> dict[str, Any]:
    """The taskexport state machine definition."""
    return build(
        refs,
        add_export_task,
        "batch-lustre taskexport: FSx for Lustre scratch for a Batch job (or array), results exported by "
        "an EXPORT_TO_REPOSITORY task, file system deleted once the export succeeded",
    )
