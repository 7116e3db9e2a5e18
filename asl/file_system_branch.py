"""Branch FileSystem of ``PrepareFileSystemAndCompute``: wait until the file system is AVAILABLE, create its
data repository association, wait until that is AVAILABLE too, then until the import task the association started
(``BatchImportMetaDataOnCreate``) has ended, so the job finds every input on the file system (one bounded poll
record, ``fileSystem``: the three waits share the file system's creation bound)."""

from __future__ import annotations

from typing import Any

from batch_lustre.program.asl.data_layout import LinkedPath
from batch_lustre.program.asl.paths import DERIVED, PARAMS
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.asl.run_resources import AUTO_IMPORT_EVENTS, client_token, tag_list
from batch_lustre.program.asl.sections import record_failure
from batch_lustre.program.asl.states import (
    RETRY_WRITE,
    Graph,
    State,
    aws_sdk,
    choice,
    ends_branch,
    failure_record,
    last,
    pass_parameters,
    succeed,
    wait_for,
    wait_for_next,
    waiting_rules,
)


def file_system_branch(g: Graph, refs: WorkflowRefs) -> dict[str, Any]:
    """The branch, its states added to a graph within ``g``; it ends normally, with ``$.failure`` on a failure."""
    b = Graph(within=g)
    # The file system, then its association: one schedule, one record (their checks share the bound).
    b.add(
        "CheckFileSystemStatus",
        wait_for(
            refs.wait_for_function_arn,
            "fileSystem",
            "fileSystem",
            "fileSystem",
            {"fileSystemId.$": "$.fs.FileSystemId"},
            next_state="IsFileSystemAvailable",
            catch_to=record_failure(b, "CheckFileSystemStatusFailed", None),
        ),
    )
    b.add("WaitForFileSystem", wait_for_next("fileSystem", "CheckFileSystemStatus"))
    b.add(
        "IsFileSystemAvailable",
        choice(
            [
                *waiting_rules("fileSystem", "WaitForFileSystem", "LustreWaitTimedOut"),
                {
                    "Variable": last("fileSystem", "Lifecycle"),
                    "StringEquals": "AVAILABLE",
                    "Next": "CreateDataRepositoryAssociation"
                    if refs.data_layout.whole_bucket
                    else "CreateInputAssociation",
                },
            ],
            "FileSystemFailed",  # FAILED or MISCONFIGURED
        ),
    )
    b.add(
        "FileSystemFailed",
        ends_branch(
            pass_parameters(
                failure_record(
                    "FileSystemFailed",
                    "File system {} became {} while being created",
                    "$.fs.FileSystemId",
                    last("fileSystem", "Lifecycle"),
                ),
                "$.failure",
                "",
            )
        ),
    )
    layout = refs.data_layout
    record_failure(b, "CreateDataRepositoryAssociationFailed", None)
    if not layout.whole_bucket:
        b.add(
            "CreateInputAssociation",
            _create_association(refs, layout.inputs, "dra-input", "$.inputDra", "CreateDataRepositoryAssociation"),
        )
    b.add(
        "CreateDataRepositoryAssociation",
        _create_association(refs, layout.results, "dra", "$.dra", "CheckDataRepositoryAssociation"),
    )
    # Every association the run created: the layout's one, or its inputs' and its results'.
    ids = (
        {"associationId.$": "$.dra.AssociationId"}
        if layout.whole_bucket
        else {"associationIds.$": "States.Array($.inputDra.AssociationId, $.dra.AssociationId)"}
    )
    b.add(
        "CheckDataRepositoryAssociation",
        wait_for(
            refs.wait_for_function_arn,
            "association",
            "fileSystem",
            "fileSystem",
            ids,
            next_state="IsFileSystemAndAssociationAvailable",
            catch_to=record_failure(b, "CheckDataRepositoryAssociationFailed", None),
        ),
    )
    b.add("WaitForDataRepositoryAssociation", wait_for_next("fileSystem", "CheckDataRepositoryAssociation"))
    # MISCONFIGURED may recover within 15 minutes (FSx Lustre Guide, DRA lifecycle): WaitFor keeps waiting, bounded.
    b.add(
        "IsFileSystemAndAssociationAvailable",
        choice(
            [
                *waiting_rules("fileSystem", "WaitForDataRepositoryAssociation", "LustreWaitTimedOut"),
                {
                    "Variable": last("fileSystem", "AssociationLifecycle"),
                    "StringEquals": "AVAILABLE",
                    "Next": "CheckImportTask",
                },
            ],
            "AssociationFailed",
        ),
    )
    _add_import_wait(b, refs)
    b.add(
        "AssociationFailed",
        ends_branch(
            pass_parameters(
                failure_record(
                    "DataRepositoryAssociationFailed",
                    "Data repository association {} of file system {} became FAILED",
                    "$.dra.AssociationId",
                    "$.fs.FileSystemId",
                )
                if refs.data_layout.whole_bucket
                else failure_record(
                    "DataRepositoryAssociationFailed",
                    "A data repository association of file system {} became FAILED (inputs {}, results {})",
                    "$.fs.FileSystemId",
                    "$.inputDra.AssociationId",
                    "$.dra.AssociationId",
                ),
                "$.failure",
                "",
            )
        ),
    )
    b.add(
        "LustreWaitTimedOut",
        ends_branch(
            pass_parameters(
                failure_record(
                    "LustreCreationTimedOut",
                    "File system {} and its data repository association were not AVAILABLE within "
                    "lustreCreationTimeoutMinutes={} (last file system state {})",
                    "$.fs.FileSystemId",
                    f"{PARAMS}.lustreCreationTimeoutMinutes",
                    last("fileSystem", "Lifecycle"),
                ),
                "$.failure",
                "",
            )
        ),
    )
    b.add("FileSystemReady", succeed())
    return b.branch("CheckFileSystemStatus")


def _create_association(refs: WorkflowRefs, linked: LinkedPath, token: str, result_path: str, next_state: str) -> State:
    """CreateDataRepositoryAssociation of one linked path of the layout (asl/data_layout.py)."""
    bucket = f"s3://{refs.bucket_name}/{linked.bucket_prefix}"
    path: dict[str, Any] = (
        {"DataRepositoryPath.$": f"States.Format('{bucket}{{}}/', $$.Execution.Name)"}
        if linked.per_run
        else {"DataRepositoryPath": bucket}
    )
    exports: dict[str, Any] = {"Events.$": f"{DERIVED}.autoExportEvents"} if linked.exports else {"Events": []}
    return aws_sdk(
        "fsx",
        "createDataRepositoryAssociation",
        {
            "ClientRequestToken.$": client_token(token),
            "FileSystemId.$": "$.fs.FileSystemId",
            "FileSystemPath": linked.file_system_path,
            **path,
            "BatchImportMetaDataOnCreate": linked.imports_on_create,
            "ImportedFileChunkSize.$": f"{PARAMS}.lustreImportedFileChunkSize",
            "S3": {"AutoImportPolicy": {"Events": AUTO_IMPORT_EVENTS}, "AutoExportPolicy": exports},
            "Tags": tag_list(refs),
        },
        next_state=next_state,
        result_path=result_path,
        result_selector={"AssociationId.$": "$.Association.AssociationId"},
        retry=RETRY_WRITE,
        catch_to="CreateDataRepositoryAssociationFailed",
    )


def _add_import_wait(b: Graph, refs: WorkflowRefs) -> None:
    """Wait for the association's import task: until it ends, objects are missing from the file system (FSx API,
    CreateDataRepositoryAssociation: the association can be AVAILABLE while its import still runs). A FAILED or
    CANCELED import ends the run before the job: nothing was written, so the file system is deleted."""
    b.add(
        "CheckImportTask",
        wait_for(
            refs.wait_for_function_arn,
            "importTask",
            "fileSystem",
            "fileSystem",
            {"fileSystemId.$": "$.fs.FileSystemId"},
            next_state="IsImportDone",
            catch_to=record_failure(b, "CheckImportTaskFailed", None),
        ),
    )
    b.add("WaitForImportTask", wait_for_next("fileSystem", "CheckImportTask"))
    b.add(
        "IsImportDone",
        choice(
            [
                *waiting_rules("fileSystem", "WaitForImportTask", "ImportTimedOut"),
                {
                    "Variable": last("fileSystem", "ImportLifecycle"),
                    "StringEquals": "SUCCEEDED",
                    "Next": "FileSystemReady",
                },
            ],
            "ImportFailed",  # FAILED or CANCELED
        ),
    )
    b.add(
        "ImportFailed",
        ends_branch(
            pass_parameters(
                failure_record(
                    "ImportFailed",
                    "The import task {} of file system {} ended {}: {} (the job would not have found its inputs; "
                    "nothing ran, so the file system is deleted)",
                    last("fileSystem", "ImportTaskId"),
                    "$.fs.FileSystemId",
                    last("fileSystem", "ImportLifecycle"),
                    last("fileSystem", "ImportFailure"),
                ),
                "$.failure",
                "",
            )
        ),
    )
    b.add(
        "ImportTimedOut",
        ends_branch(
            pass_parameters(
                failure_record(
                    "ImportTimedOut",
                    "The import task of file system {} had not ended within lustreCreationTimeoutMinutes={} "
                    "(last seen {}): the job would not have found every input",
                    "$.fs.FileSystemId",
                    f"{PARAMS}.lustreCreationTimeoutMinutes",
                    last("fileSystem", "ImportLifecycle"),
                ),
                "$.failure",
                "",
            )
        ),
    )
