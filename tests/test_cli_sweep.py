"""``batch-lustre sweep`` against the emulated AWS: per-run leftovers of ended runs, found by tag, deleted after
a confirmation that says plainly that a file system's data may not be in S3."""

from __future__ import annotations

import json

import boto3
import pytest
from conftest import stop_held_runs, wait_until_held
from typer.testing import CliRunner

from batch_lustre import automation
from batch_lustre.automation import deploy_emulated
from batch_lustre.cli.app import app
from batch_lustre.emulation import Emulation, FsxScenario, Scenario
from batch_lustre.emulation.scenario import FS_FAILED
from batch_lustre.program.asl.naming import TAG_MODE, TAG_RUN, TAG_STACK, TAG_STACK_ID

runner = CliRunner()
REGION = "us-east-1"
# Another stack named taskexport too (another project or backend, or a copy of the stack file): only its id differs.
OTHER_STACK_ID = "0feedfac"


def tags(run: str, stack_id: str) -> dict[str, str]:
    return {TAG_STACK: "taskexport", TAG_STACK_ID: stack_id, TAG_MODE: "taskexport", TAG_RUN: run}


def make_run_resources(run: str, stack_id: str, subnet: str) -> dict:
    """A file system, a launch template and a job definition of run ``run``, as the workflow tags them."""
    tag_list = [{"Key": k, "Value": v} for k, v in tags(run, stack_id).items()]
    fsx, ec2, batch = (boto3.client(s, region_name=REGION) for s in ("fsx", "ec2", "batch"))
    fs = fsx.create_file_system(
        FileSystemType="LUSTRE",
        StorageCapacity=1200,
        SubnetIds=[subnet],
        FileSystemTypeVersion="2.15",
        LustreConfiguration={"DeploymentType": "SCRATCH_2"},
        Tags=tag_list,
    )["FileSystem"]["FileSystemId"]
    template = ec2.create_launch_template(
        LaunchTemplateName=f"taskexport-{stack_id}-{run}-made",
        LaunchTemplateData={},
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": tag_list}],
    )["LaunchTemplate"]["LaunchTemplateId"]
    definition = batch.register_job_definition(
        jobDefinitionName=f"taskexport-{stack_id}-{run}-made",
        type="container",
        tags=tags(run, stack_id),
        containerProperties={
            "image": "busybox",
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}],
        },
    )["jobDefinitionArn"]
    return {"file_system": fs, "launch_template": template, "job_definition": definition}


def alive() -> dict[str, set[str]]:
    fsx, ec2, batch = (boto3.client(s, region_name=REGION) for s in ("fsx", "ec2", "batch"))
    return {
        "file_systems": {
            f["FileSystemId"] for f in fsx.describe_file_systems()["FileSystems"] if f.get("Lifecycle") != "DELETING"
        },
        "launch_templates": {t["LaunchTemplateId"] for t in ec2.describe_launch_templates()["LaunchTemplates"]},
        "job_definitions": {
            d["jobDefinitionArn"] for d in batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"]
        },
    }


@pytest.fixture
def stack_with_leftovers(tmp_path):
    """Per-run resources of: run ``ended`` (FAILED), run ``gone`` (unknown to the state machine: a launch
    template the compute environment still uses), run ``busy`` (RUNNING), and of another stack of the same name
    (another project's: only its id differs) whose run ``ended`` is live.
    Returns (outputs file, {run or stack: resources})."""
    with Emulation(Scenario(fsx=FsxScenario(outcome=FS_FAILED, creation_seconds=60))) as emu:
        stack, outputs = deploy_emulated(emu, "taskexport")
        with pytest.raises(automation.RunFailed):
            automation.run("taskexport", stack_outputs=outputs, name="ended", poll_seconds=0.01, timeout_seconds=30)
        subnet, ours = stack.refs.subnet_id, stack.refs.stack_id
        made = {
            "ended": make_run_resources("ended", ours, subnet),
            "other": make_run_resources("ended", OTHER_STACK_ID, subnet),
            "gone": make_run_resources("gone", ours, subnet),
        }
        emu.hold_waits()
        handle = automation.start_run("taskexport", stack_outputs=outputs, name="busy")
        wait_until_held(handle.execution_arn)  # its own file system exists by then
        # The busy run is held in its waits (its file system's creation, and the compute environment's idle wait
        # before its update), so the compute environment is still on its baseline: point it at run gone's launch
        # template, which a sweep must then leave alone.
        batch = boto3.client("batch", region_name=REGION)
        assert (
            launch_template_of(batch, outputs["computeEnvironment"]) == stack.refs.lanes[0].baseline_launch_template_id
        )
        batch.update_compute_environment(
            computeEnvironment=outputs["computeEnvironment"],
            computeResources={"launchTemplate": {"launchTemplateId": made["gone"]["launch_template"], "version": "1"}},
        )
        made["busy"] = make_run_resources("busy", ours, subnet)
        path = tmp_path / "outputs.json"
        path.write_text(json.dumps(outputs))
        yield str(path), made
        stop_held_runs(emu)


def launch_template_of(batch, compute_environment: str) -> str:
    env = batch.describe_compute_environments(computeEnvironments=[compute_environment])["computeEnvironments"][0]
    return env["computeResources"]["launchTemplate"]["launchTemplateId"]


def sweep(outputs: str, *args: str, answer: str | None = None):
    return runner.invoke(
        app, ["sweep", "taskexport", "--outputs-file", outputs, *args], input=answer, env={"COLUMNS": "250"}
    )


def test_sweep_lists_leftovers_warns_that_file_system_data_may_be_lost_and_a_no_deletes_nothing(stack_with_leftovers):
    outputs, made = stack_with_leftovers
    before = alive()
    result = sweep(outputs, answer="n\n")
    out = result.output
    # Piped (CliRunner): one plain line per leftover, "kind name | id: ... | run: ... | run status: ... | state: ...".
    assert "│" not in out
    rows = [line for line in out.splitlines() if " | run: " in line]
    for resource in (*made["ended"].values(), made["gone"]["file_system"]):
        assert any(resource.rsplit("/", 1)[-1].split(":")[0] in row for row in rows), resource
    assert any("ended" in row and "FAILED" in row and "run ended with FileSystemFailed" in row for row in rows)
    assert any("gone" in row and "not found" in row for row in rows)
    assert (
        f"left alone: file system {made['gone']['file_system']}: its run gone is not in the history of stack "
        "taskexport: it may be in use"
    ) in out
    assert "WARNING: deleting 1 file system(s) deletes everything on them, for good." in out
    assert "files on them may be missing from s3://" in out
    assert "Delete these 4 resource(s), including 1 file system(s) and any data on them not in S3?" in out
    assert "of run busy, which is RUNNING" in out
    for resource in made["other"].values():
        assert resource.rsplit("/", 1)[-1].split(":")[0] not in out
    assert result.exit_code == 1
    assert result.stderr == "error: sweep cancelled: nothing was deleted\n"
    assert alive() == before


def test_yes_deletes_the_leftovers_of_ended_runs_of_the_stack_only(stack_with_leftovers):
    outputs, made = stack_with_leftovers
    result = sweep(outputs, "--yes")
    assert result.exit_code == 0, result.output
    assert f"deleted file system {made['ended']['file_system']}" in result.output
    now = alive()
    assert made["ended"]["file_system"] not in now["file_systems"]
    # Its run is not in this stack's history: kept, and said so, until asked with --force.
    assert made["gone"]["file_system"] in now["file_systems"]
    assert "sweep deletes it only with --force" in result.output
    for run in ("ended", "gone"):
        assert made[run]["job_definition"] not in now["job_definitions"]
    assert made["ended"]["launch_template"] not in now["launch_templates"]
    # The compute environment still uses run gone's launch template: left alone, and said so.
    assert made["gone"]["launch_template"] in now["launch_templates"]
    assert "still uses it: point the environment back at the stack's baseline launch template first" in result.output
    for kept in (made["busy"], made["other"]):
        assert kept["file_system"] in now["file_systems"]
        assert kept["launch_template"] in now["launch_templates"]
        assert kept["job_definition"] in now["job_definitions"]


def test_force_also_deletes_a_file_system_whose_run_is_not_in_the_history_never_another_stacks(stack_with_leftovers):
    outputs, made = stack_with_leftovers
    result = sweep(outputs, "--yes", "--force")
    assert result.exit_code == 0, result.output
    now = alive()
    assert made["gone"]["file_system"] not in now["file_systems"]
    for resource, kind in zip(
        made["other"].values(), ("file_systems", "launch_templates", "job_definitions"), strict=True
    ):
        assert resource in now[kind]


def test_nothing_to_sweep_says_so(tmp_path):
    with Emulation(Scenario()) as emu:
        _, outputs = deploy_emulated(emu, "taskexport")
        path = tmp_path / "outputs.json"
        path.write_text(json.dumps(outputs))
        result = sweep(str(path))
    assert result.exit_code == 0
    assert "nothing to sweep: no per-run resource of an ended run of stack taskexport" in result.output


def test_an_unknown_stack_is_one_line_exit_2():
    result = runner.invoke(app, ["sweep", "nope", "--yes"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: stack 'nope' is not accepted: accepted autoexport, taskexport")
    assert result.stderr.count("\n") == 1


def test_without_the_pulumi_cli_nor_outputs_file_the_error_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = runner.invoke(app, ["sweep", "taskexport"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the pulumi CLI is not on PATH")
    assert result.stderr.count("\n") == 1
