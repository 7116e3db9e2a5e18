"""What ``destroy`` would leave billing or fail on (``automation.teardown``): the stack's file systems (kept, in flight,
left by a run), images in its ECR repository, objects in its bucket, found in moto's AWS and named with their next
step; refused in one line unless forced, through the Automation API and the command line."""

from __future__ import annotations

from types import SimpleNamespace

import boto3
import pytest
from test_automation import FakePulumi
from typer.testing import CliRunner

from batch_lustre import automation
from batch_lustre.cli.app import app
from batch_lustre.emulation.moto_seam import mock_aws
from batch_lustre.program.asl.naming import TAG_KEPT, TAG_MODE, TAG_RUN, TAG_STACK, TAG_STACK_ID

REGION = "us-east-1"
REPOSITORY = "batch-job-with-lustre-task-export"
MANIFEST = '{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}'
STACK_ID = "5eed1d00"
# Another stack named taskexport too (another project's, or a copy of the stack file): only its id differs.
OTHER_STACK_ID = "0feedfac"
OUTPUTS = {
    "mode": "taskexport",
    "stackId": STACK_ID,
    "bucketName": "taskexport-data",
    "ecrRepositoryUrl": f"123456789012.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}",
    "secretName": "s",
}


def client(service: str):
    return boto3.client(service, region_name=REGION)


def file_system(tags: dict[str, str]) -> str:
    subnet = client("ec2").describe_subnets()["Subnets"][0]["SubnetId"]
    return client("fsx").create_file_system(
        FileSystemType="LUSTRE",
        StorageCapacity=1200,
        SubnetIds=[subnet],
        FileSystemTypeVersion="2.15",
        LustreConfiguration={"DeploymentType": "SCRATCH_2"},
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )["FileSystem"]["FileSystemId"]


@pytest.fixture
def account():
    """moto's AWS with the stack's empty repository and empty versioned bucket."""
    with mock_aws():
        client("ecr").create_repository(repositoryName=REPOSITORY)
        client("s3").create_bucket(Bucket=OUTPUTS["bucketName"])
        client("s3").put_bucket_versioning(Bucket=OUTPUTS["bucketName"], VersioningConfiguration={"Status": "Enabled"})
        yield automation.TeardownClients.for_region(REGION)


def ours(run: str, stack_id: str = STACK_ID, **more: str) -> dict[str, str]:
    """The tags a run of stack taskexport (id ``stack_id``) puts on its file system."""
    return {TAG_STACK: "taskexport", TAG_STACK_ID: stack_id, TAG_MODE: "taskexport", TAG_RUN: run, **more}


def test_an_empty_stack_has_nothing_to_leave_behind(account):
    file_system({**ours("theirs", "other-stack"), TAG_STACK: "other-stack", TAG_KEPT: "deleteLustre=false"})
    assert automation.check_destroy("taskexport", OUTPUTS, account) == []


def test_another_stacks_file_system_is_not_listed_even_under_the_same_stack_name(account):
    file_system(ours("run-a", OTHER_STACK_ID, **{TAG_KEPT: "deleteLustre=false"}))
    file_system(ours("run-b", OTHER_STACK_ID))
    assert automation.check_destroy("taskexport", OUTPUTS, account) == []


def test_a_file_system_from_before_the_stack_id_is_listed_with_how_to_adopt_it(account):
    old = file_system({TAG_STACK: "taskexport", TAG_MODE: "taskexport", TAG_RUN: "run-old", TAG_KEPT: "true"})
    file_system({TAG_STACK: "taskexport", TAG_MODE: "autoexport", TAG_RUN: "run-x"})  # the other mode's stack
    file_system({TAG_STACK: "taskexport", TAG_MODE: "taskexport"})  # no run made it
    found = automation.check_destroy("taskexport", OUTPUTS, account, force=True)
    assert [b.line() for b in found] == [
        f"file system {old} (from before the stack id: run run-old): `batch-lustre sweep -s taskexport "
        "--adopt` tags it with this stack's id, then sweep deletes it (copy what you need from it first)"
    ]


def test_each_file_system_of_the_stack_is_named_with_its_next_step_in_one_line(account):
    kept = file_system(ours("run-a", **{TAG_KEPT: "deleteLustre=false"}))
    busy = file_system(ours("run-b"))
    left = file_system(ours("run-c"))
    theirs = file_system(ours("run-a", OTHER_STACK_ID, **{TAG_KEPT: "deleteLustre=false"}))
    with pytest.raises(automation.DestroyBlocked) as refused:
        automation.check_destroy("taskexport", OUTPUTS, account, running={"run-b"})
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("destroy refused: 3 thing(s) of stack taskexport would be left billing")
    assert (
        f"file system {kept} (kept by run run-a: deleteLustre=false): copy what you need from it, then delete it with "
        "`batch-lustre sweep -s taskexport`" in message
    )
    assert f"file system {busy} (of run run-b, RUNNING): wait for the run to end (--wait MINUTES)" in message
    assert f"file system {left} (left by run run-c, " in message
    assert "`batch-lustre sweep -s taskexport` deletes it (copy what you need from it first)" in message
    assert theirs not in message
    assert message.endswith("; or destroy anyway (--force)")


class DescribedFileSystems:
    """DescribeFileSystems answering ``file_systems`` (moto forgets a deleted file system at once)."""

    def __init__(self, *file_systems: dict) -> None:
        self.pages = [{"FileSystems": list(file_systems)}]

    def get_paginator(self, operation: str) -> SimpleNamespace:
        assert operation == "describe_file_systems"
        return SimpleNamespace(paginate=lambda: iter(self.pages))


def test_a_file_system_being_deleted_is_waited_for():
    deleting = {
        "FileSystemId": "fs-0123456789abcdef0",
        "Lifecycle": "DELETING",
        "Tags": [{"Key": k, "Value": v} for k, v in ours("run-a").items()],
    }
    found = automation.file_system_blockers("taskexport", STACK_ID, DescribedFileSystems(deleting))
    assert [b.line() for b in found] == [
        "file system fs-0123456789abcdef0 (DELETING): wait until it is gone (a few minutes), then destroy"
    ]


def test_images_in_the_repository_and_any_version_in_the_bucket_block_the_destroy(account):
    client("ecr").put_image(repositoryName=REPOSITORY, imageManifest=MANIFEST, imageTag="latest")
    s3 = client("s3")
    s3.put_object(Bucket=OUTPUTS["bucketName"], Key="results/out.txt", Body=b"x")
    s3.delete_object(Bucket=OUTPUTS["bucketName"], Key="results/out.txt")  # a version and a delete marker remain
    found = automation.check_destroy("taskexport", OUTPUTS, account, force=True)
    assert [(b.kind, b.name, b.why) for b in found] == [
        ("ECR repository", REPOSITORY, "holds 1 image(s)"),
        ("bucket", "taskexport-data", "holds the runs' results (objects or their versions)"),
    ]
    assert "aws ecr batch-delete-image --repository-name batch-job-with-lustre-task-export" in found[0].next_step
    assert "every version and delete marker" in found[1].next_step


def test_a_repository_or_bucket_already_gone_blocks_nothing(account):
    outputs = {**OUTPUTS, "bucketName": "no-such-bucket", "ecrRepositoryUrl": "1.dkr.ecr.us-east-1.amazonaws.com/gone"}
    assert automation.destroy_blockers("taskexport", outputs, account) == []


# --- through the Automation API and the command line (a fake pulumi on PATH) -------------------------------------


@pytest.fixture
def deployed(tmp_path, monkeypatch, account):
    fake = FakePulumi(tmp_path).install(monkeypatch, empty_account=False)  # moto's account, with the stack's things
    fake.deployed("taskexport", outputs=OUTPUTS)
    kept = file_system(ours("run-a", **{TAG_KEPT: "deleteLustre=false"}))
    return fake, kept


def destroyed(fake: FakePulumi) -> bool:
    return any(c[:1] == ["destroy"] for c in fake.commands())


def test_destroy_is_refused_naming_the_kept_file_system_and_forced_goes_ahead(deployed):
    fake, kept = deployed
    with pytest.raises(
        automation.DestroyBlocked, match=f"file system {kept} \\(kept by run run-a: deleteLustre=false\\)"
    ):
        automation.destroy("taskexport")
    assert not destroyed(fake)
    automation.destroy("taskexport", force=True)
    assert destroyed(fake)


def test_the_cli_refuses_before_asking_exit_1_and_forced_warns_then_destroys(deployed):
    fake, kept = deployed
    refused = CliRunner().invoke(app, ["destroy", "taskexport"], input="y\n", env={"COLUMNS": "200"})
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: destroy refused: 2 thing(s) of stack taskexport would be left billing")
    assert f"file system {kept}" in refused.stderr and refused.stderr.count("\n") == 1
    assert "protectBucket=true" in refused.stderr  # the stack file protects the bucket (the default)
    assert "Destroy every resource" not in refused.output and not destroyed(fake)
    forced = CliRunner().invoke(app, ["destroy", "taskexport", "--force", "--yes"], env={"COLUMNS": "200"})
    assert forced.exit_code == 0, forced.output
    assert f"warning: destroy forced over file system {kept} (kept by run run-a: deleteLustre=false)" in forced.output
    assert destroyed(fake)


@pytest.mark.parametrize(
    ("protected", "named"), [({"bucket": True}, "protectBucket"), ({"ECR repository": True}, "protectRepository")]
)
def test_a_protected_bucket_or_repository_is_named_with_the_key_that_unprotects_it(account, protected, named):
    with pytest.raises(automation.DestroyBlocked) as refused:
        automation.check_destroy("taskexport", OUTPUTS, account, protected=protected)
    message = str(refused.value)
    assert len(message.splitlines()) == 1
    assert f"{named}=true" in message and f"pulumi config set batch-lustre:{named} false -s taskexport" in message
    assert automation.check_destroy("taskexport", OUTPUTS, account, protected={k: False for k in protected}) == []
