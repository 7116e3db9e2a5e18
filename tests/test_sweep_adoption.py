"""File systems from before the stack id (kept by runs of a release that tagged the short stack name only): ``sweep``
lists them, ``sweep --adopt`` tags them with the stack's id after checking their old tags, and from then on the
stack's roles and ``sweep`` act on them; another stack's, or another mode's, are never adopted."""

from __future__ import annotations

import itertools
import json

import boto3
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from batch_lustre import automation
from batch_lustre.automation import adoption, deploy_emulated
from batch_lustre.cli.app import app
from batch_lustre.emulation import Emulation, Scenario
from batch_lustre.emulation.iam import authorize_task
from batch_lustre.program.asl.naming import TAG_MODE, TAG_RUN, TAG_STACK, TAG_STACK_ID

REGION = "us-east-1"
OLD = {TAG_STACK: "taskexport", TAG_MODE: "taskexport", TAG_RUN: "run-2025"}  # what the previous release tagged


def file_system(subnet: str, tags: dict[str, str]) -> str:
    return boto3.client("fsx", region_name=REGION).create_file_system(
        FileSystemType="LUSTRE",
        StorageCapacity=1200,
        SubnetIds=[subnet],
        LustreConfiguration={"DeploymentType": "SCRATCH_2"},
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )["FileSystem"]["FileSystemId"]


def tags_of(fs_id: str) -> dict[str, str]:
    fsx = boto3.client("fsx", region_name=REGION)
    arn = fsx.describe_file_systems(FileSystemIds=[fs_id])["FileSystems"][0]["ResourceARN"]
    return {t["Key"]: t["Value"] for t in fsx.list_tags_for_resource(ResourceARN=arn)["Tags"]}


@pytest.fixture
def old_file_systems(tmp_path):
    """The taskexport stack deployed, with file systems: one of its runs from before the stack id, one of the
    autoexport stack of the same name from before it, one of another stack named taskexport (another id)."""
    with Emulation(Scenario()) as emu:
        stack, outputs = deploy_emulated(emu, "taskexport")
        subnet = stack.refs.subnet_id
        made = {
            "old": file_system(subnet, OLD),
            "other mode": file_system(subnet, {**OLD, TAG_MODE: "autoexport"}),
            "other stack": file_system(subnet, {**OLD, TAG_STACK_ID: "0feedfac"}),
        }
        path = tmp_path / "outputs.json"
        path.write_text(json.dumps(outputs))
        yield emu, stack, outputs, str(path), made


def sweep(outputs_file: str, *args: str, answer: str | None = None):
    return CliRunner().invoke(
        app, ["sweep", "taskexport", "--outputs-file", outputs_file, *args], input=answer, env={"COLUMNS": "250"}
    )


def test_sweep_lists_a_file_system_from_before_the_stack_id_and_changes_nothing(old_file_systems):
    _, _, outputs, path, made = old_file_systems
    assert [f.file_system_id for f in adoption.from_before_stack_id("taskexport", outputs, _fsx())] == [made["old"]]
    result = sweep(path, "--yes", "--force")
    assert result.exit_code == 0, result.output
    assert f"from before the stack id: file system {made['old']} ({made['old']}) of run run-2025" in result.output
    assert "`--adopt` tags it with this stack's id" in result.output
    assert made["other mode"] not in result.output and made["other stack"] not in result.output
    assert TAG_STACK_ID not in tags_of(made["old"])


def test_adopt_tags_it_with_the_stack_id_so_the_stacks_role_and_sweep_act_on_it(old_file_systems):
    emu, stack, _, path, made = old_file_systems
    delete = {"FileSystemId": made["old"]}
    with pytest.raises(ClientError):  # the stack's roles act only on resources carrying its id
        authorize_task(emu, stack.role_arn, "fsx", "deleteFileSystem", delete)
    refused = sweep(path, "--adopt", answer="n\n")
    assert refused.exit_code == 1 and "adoption cancelled: nothing was tagged" in refused.stderr
    assert TAG_STACK_ID not in tags_of(made["old"])
    result = sweep(path, "--adopt", "--yes")
    assert result.exit_code == 0, result.output
    assert f"adopted file system {made['old']}: tagged with stack taskexport's id" in result.output
    assert tags_of(made["old"]) == {**OLD, TAG_STACK_ID: stack.refs.stack_id}
    authorize_task(emu, stack.role_arn, "fsx", "deleteFileSystem", delete)
    # Now one of the stack's leftovers; its run is not in this stack's history, so deleted only with --force.
    assert "its run run-2025 is not in the history of stack taskexport" in result.output
    assert sweep(path, "--yes", "--force").exit_code == 0
    assert tags_of(made["other mode"]) == {**OLD, TAG_MODE: "autoexport"}
    assert tags_of(made["other stack"]) == {**OLD, TAG_STACK_ID: "0feedfac"}


@pytest.mark.parametrize(
    ("which", "why"),
    [
        ("other mode", "its tags batch-lustre:mode=autoexport are not stack taskexport's"),
        ("other stack", "it carries batch-lustre:stack-id=0feedfac already"),
    ],
)
def test_adopting_a_file_system_without_the_stacks_old_tags_is_refused_in_one_line(old_file_systems, which, why):
    _, _, outputs, _, made = old_file_systems
    before = tags_of(made[which])
    with pytest.raises(automation.AutomationError) as refused:
        adoption.adopt("taskexport", outputs, made[which], _fsx())
    assert str(refused.value) == f"file system {made[which]} is not adopted by stack taskexport: " + why + (
        " (batch-lustre:stack=taskexport, batch-lustre:mode=taskexport)" if which == "other mode" else ""
    )
    assert tags_of(made[which]) == before


def _fsx():
    return boto3.client("fsx", region_name=REGION)


# Each tag absent (None), this stack's value, or another's.
CHOICES = {
    TAG_STACK: (None, "taskexport", "dev"),
    TAG_MODE: (None, "taskexport", "autoexport"),
    TAG_RUN: (None, "run-1"),
    TAG_STACK_ID: (None, "0feedfac"),
}


def test_a_file_system_is_adoptable_exactly_with_the_stacks_old_tags_a_run_tag_and_no_stack_id():
    """Listing and adopting share one rule; every combination of the four tags, each absent, ours or another's."""
    for values in itertools.product(*CHOICES.values()):
        tags = {key: value for key, value in zip(CHOICES, values, strict=True) if value is not None}
        old = TAG_STACK_ID not in tags and TAG_RUN in tags
        old = old and tags.get(TAG_STACK) == "taskexport" and tags.get(TAG_MODE) == "taskexport"
        why = adoption.why_not_adoptable({**tags, "Name": "scratch"}, "taskexport", "taskexport")
        assert (why is None) == old, tags
        assert why is None or "\n" not in why
