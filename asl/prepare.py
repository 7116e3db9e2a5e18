"""Preparation: create the file system, then wait for it (and its association) while the compute side gets
ready, side by side in the Parallel ``PrepareFileSystemAndCompute``."""

from __future__ import annotations

from batch_lustre.program.asl.compute_branch import compute_branch
from batch_lustre.program.asl.file_system_branch import file_system_branch
from batch_lustre.program.asl.paths import PARAMS
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.asl.run_resources import client_token, tag_list
from batch_lustre.program.asl.sections import record_failure
from batch_lustre.program.asl.states import RETRY_WRITE, Graph, aws_sdk, choice, parallel


def add_preparation(g: Graph, refs: WorkflowRefs) -> None:
    """Create the file system, then wait for it (and its association) while the compute side gets ready."""
    g.add(
        "CreateLustreFileSystem",
        aws_sdk(
            "fsx",
            "createFileSystem",
            {
                "ClientRequestToken.$": client_token("fs"),
                "FileSystemType": "LUSTRE",
                "FileSystemTypeVersion.$": f"{PARAMS}.lustreFileSystemTypeVersion",
                "StorageCapacity.$": f"{PARAMS}.lustreStorageCapacity",
                "SubnetIds": [refs.subnet_id],
                "SecurityGroupIds": [refs.lustre_security_group_id],
                "LustreConfiguration": {"DeploymentType": "SCRATCH_2"},
                "Tags": tag_list(refs),
            },
            next_state="PrepareFileSystemAndCompute",
            result_path="$.fs",
            # The mount name is in CreateFileSystem's response: the launch template needs nothing more.
            result_selector={
                "FileSystemId.$": "$.FileSystem.FileSystemId",
                "MountName.$": "$.FileSystem.LustreConfiguration.MountName",
            },
            retry=RETRY_WRITE,
            catch_to=record_failure(g, "CreateLustreFileSystemFailed", "NothingToExport"),
        ),
    )
    branches = [file_system_branch(g, refs), compute_branch(g, refs)]
    g.add(
        "PrepareFileSystemAndCompute",
        parallel(branches, next_state="IsPrepared", catch_to=record_failure(g, "PreparationFailed", "NothingToExport")),
    )
    g.add("IsPrepared", choice([{"Variable": "$.failure", "IsPresent": True, "Next": "NothingToExport"}], "RunJob"))
