"""Branch FileSystem of ``PrepareFileSystemAndCompute``: wait until the file system is AVAILABLE, create its
data repository association and wait until that is AVAILABLE too (one bounded poll record, ``fileSystem``)."""

from __future__ import annotations

from typing import Any

from asl.naming import FILE_SYSTEM_PATH
from asl.paths import DERIVED, PARAMS
from asl.refs import WorkflowRefs
from asl.run_resources import AUTO_IMPORT_EVENTS, client_token, tag_list
from asl.sections import record_failure
from asl.states import (
    RETRY_READ,
    RETRY_WRITE,
    Graph,
    aws_sdk,
    choice,
    ends_branch,
    failure_record,
    next_poll,
    pass_parameters,
    polls_over,
    start_polls,
    succeed,
    wait_poll,
)


def file_system_branch(g: Graph, refs: WorkflowRefs) -> dict[str, Any]:
    """The branch, its states added to a graph within ``g``; it ends normally, with ``$.failure`` on a failure."""
    b = Graph(within=g)
    b.add("StartFileSystemPolls", start_polls("fileSystem", "WaitForFileSystem"))
    b.add("WaitForFileSystem", wait_poll("fileSystem", "CheckFileSystemStatus"))
    b.add(
        "CheckFileSystemStatus",
        aws_sdk(
            "fsx",
            "describeFileSystems",
            {"FileSystemIds.$": "States.Array($.fs.FileSystemId)"},
            next_state="IsFileSystemAvailable",
            result_path="$.fsStatus",
            result_selector={"Lifecycle.$": "$.FileSystems[0].Lifecycle"},
            retry=RETRY_READ,
            catch_to=record_failure(b, "CheckFileSystemStatusFailed", None),
        ),
    )
    b.add(
        "IsFileSystemAvailable",
        choice(
            [
                {
                    "Or": [
                        {"Variable": "$.fsStatus.Lifecycle", "StringEquals": s} for s in ("FAILED", "MISCONFIGURED")
                    ],
                    "Next": "FileSystemFailed",
                },
                {
                    "Variable": "$.fsStatus.Lifecycle",
                    "StringEquals": "AVAILABLE",
                    "Next": "CreateDataRepositoryAssociation",
                },
                polls_over("fileSystem", "LustreWaitTimedOut"),
            ],
            "CountFileSystemPoll",
        ),
    )
    b.add("CountFileSystemPoll", next_poll("fileSystem", "WaitForFileSystem"))
    b.add(
        "FileSystemFailed",
        ends_branch(
            pass_parameters(
                failure_record(
                    "FileSystemFailed",
                    "File system {} became {} while being created",
                    "$.fs.FileSystemId",
                    "$.fsStatus.Lifecycle",
                ),
                "$.failure",
                "",
            )
        ),
    )
    b.add(
        "CreateDataRepositoryAssociation",
        aws_sdk(
            "fsx",
            "createDataRepositoryAssociation",
            {
                "ClientRequestToken.$": client_token("dra"),
                "FileSystemId.$": "$.fs.FileSystemId",
                "FileSystemPath": FILE_SYSTEM_PATH,
                "DataRepositoryPath": f"s3://{refs.bucket_name}/",
                "BatchImportMetaDataOnCreate": True,
                "ImportedFileChunkSize.$": f"{PARAMS}.lustreImportedFileChunkSize",
                "S3": {
                    "AutoImportPolicy": {"Events": AUTO_IMPORT_EVENTS},
                    "AutoExportPolicy": {"Events.$": f"{DERIVED}.autoExportEvents"},
                },
                "Tags": tag_list(refs),
            },
            next_state="WaitForDataRepositoryAssociation",
            result_path="$.dra",
            result_selector={"AssociationId.$": "$.Association.AssociationId"},
            retry=RETRY_WRITE,
            catch_to=record_failure(b, "CreateDataRepositoryAssociationFailed", None),
        ),
    )
    b.add("WaitForDataRepositoryAssociation", wait_poll("fileSystem", "CheckDataRepositoryAssociation"))
    b.add(
        "CheckDataRepositoryAssociation",
        aws_sdk(
            "fsx",
            "describeDataRepositoryAssociations",
            {"AssociationIds.$": "States.Array($.dra.AssociationId)"},
            next_state="IsFileSystemAndAssociationAvailable",
            result_path="$.draStatus",
            result_selector={"Lifecycle.$": "$.Associations[0].Lifecycle"},
            retry=RETRY_READ,
            catch_to=record_failure(b, "CheckDataRepositoryAssociationFailed", None),
        ),
    )
    # MISCONFIGURED may recover within 15 minutes (FSx Lustre Guide, DRA lifecycle): keep waiting, bounded.
    b.add(
        "IsFileSystemAndAssociationAvailable",
        choice(
            [
                {"Variable": "$.draStatus.Lifecycle", "StringEquals": "AVAILABLE", "Next": "FileSystemReady"},
                {"Variable": "$.draStatus.Lifecycle", "StringEquals": "FAILED", "Next": "AssociationFailed"},
                polls_over("fileSystem", "LustreWaitTimedOut"),
            ],
            "CountAssociationPoll",
        ),
    )
    b.add("CountAssociationPoll", next_poll("fileSystem", "WaitForDataRepositoryAssociation"))
    b.add(
        "AssociationFailed",
        ends_branch(
            pass_parameters(
                failure_record(
                    "DataRepositoryAssociationFailed",
                    "Data repository association {} of file system {} became FAILED",
                    "$.dra.AssociationId",
                    "$.fs.FileSystemId",
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
                    "$.fsStatus.Lifecycle",
                ),
                "$.failure",
                "",
            )
        ),
    )
    b.add("FileSystemReady", succeed())
    return b.branch("StartFileSystemPolls")
