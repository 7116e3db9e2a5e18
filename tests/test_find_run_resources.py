"""FindRunResources (lambda/find_run_resources.py) on the emulated AWS: what a run left behind is found by its
tags and names, its jobs are stopped, its compute changes undone, and nothing else is touched.

The resources are left behind as the workflow makes them (asl/common.py: names ``<prefix>-<executionName>``,
tags ``batch-lustre:stack``/``mode``/``run``), by ``leave_run`` (also used by tests/test_run_cleanup.py).
"""

from __future__ import annotations

import ast
import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import find_run_resources as frr
import pytest
from botocore.exceptions import ClientError
from conftest import python312_scan

from batch_lustre.emulation import BatchScenario, Emulation, JobAttempt, Scenario, setup_stack
from batch_lustre.emulation.scenario import ATTEMPT_HOST_EC2
from batch_lustre.emulation.stack import EmulatedStack
from batch_lustre.program.asl import iam
from batch_lustre.program.asl.lane import lane_list
from batch_lustre.program.asl.naming import HOST_SCRATCH_DIR, TAG_KEPT, TAG_MODE, TAG_RUN, TAG_STACK, TAG_STACK_ID
from batch_lustre.program.asl.user_data import render

ROOT = Path(__file__).resolve().parent.parent
HANDLER = ROOT / "lambda" / "find_run_resources.py"
REGION = "us-east-1"
RUN = "run-1"
FILES = {"results/out.txt": b"42\n", "results/log.txt": b"done\n"}
LONG_JOB = BatchScenario(attempts=[JobAttempt(run_seconds=3600)], files=dict(FILES))


def client(service: str):
    return boto3.client(service, region_name=REGION)


@dataclass
class LeftBehind:
    """What ``leave_run`` made: ids and names of the run's resources (None: not made)."""

    file_system_id: str
    association_id: str | None = None
    launch_template_id: str | None = None
    job_definition_arn: str | None = None
    job_id: str | None = None


# Another stack with the same stack name (another project or backend): only its id differs.
OTHER_STACK_ID = "0feedfac"


def run_tags(stack: EmulatedStack, execution_name: str, *, stack_id: str | None = None) -> dict[str, str]:
    refs = stack.refs
    return {
        TAG_STACK: refs.stack,
        TAG_STACK_ID: stack_id or refs.stack_id,
        TAG_MODE: refs.mode,
        TAG_RUN: execution_name,
        "Name": f"{refs.name_prefix}-{execution_name}",
    }


def key_values(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def advance_until(emu: Emulation, done, what: str, step: float = 30.0, limit: float = 48 * 3600.0) -> None:
    waited = 0.0
    while not done():
        if waited > limit:
            raise AssertionError(f"{what}: not within {limit} emulated seconds")
        emu.advance(step)
        waited += step


def leave_run(
    emu: Emulation,
    stack: EmulatedStack,
    execution_name: str = RUN,
    *,
    job: str | None = "running",
    association: bool = True,
    on_compute_environment: bool = True,
    array_size: int | None = None,
    stack_id: str | None = None,
) -> LeftBehind:
    """Make what a run of ``stack`` named ``execution_name`` makes, as the workflow makes it, and stop there.

    ``job``: None (no job: the run stopped before submitting it), "submitted" (submitted, not waited for),
    "running" (RUNNING, every file of the scenario written), "ended" (ended).
    """
    refs, tags = stack.refs, run_tags(stack, execution_name, stack_id=stack_id)
    fsx, ec2, batch = client("fsx"), client("ec2"), client("batch")
    fs_id = fsx.create_file_system(
        FileSystemType="LUSTRE",
        StorageCapacity=2400,
        SubnetIds=[refs.subnet_id],
        SecurityGroupIds=[refs.lustre_security_group_id],
        FileSystemTypeVersion="2.15",
        LustreConfiguration={"DeploymentType": "SCRATCH_2"},
        Tags=key_values(tags),
    )["FileSystem"]["FileSystemId"]
    left = LeftBehind(fs_id)
    advance_until(emu, lambda: emu.fsx.file_systems[fs_id].lifecycle == "AVAILABLE", "file system AVAILABLE")
    if not association:
        return left
    auto_export = ["NEW", "CHANGED", "DELETED"] if refs.mode == "autoexport" else []
    left.association_id = fsx.create_data_repository_association(
        FileSystemId=fs_id,
        FileSystemPath="/scratch",
        DataRepositoryPath=f"s3://{refs.bucket_name}/",
        BatchImportMetaDataOnCreate=True,
        S3={"AutoImportPolicy": {"Events": ["NEW", "CHANGED", "DELETED"]}, "AutoExportPolicy": {"Events": auto_export}},
        Tags=key_values(tags),
    )["Association"]["AssociationId"]
    advance_until(
        emu,
        lambda: (
            emu.fsx.associations[left.association_id].lifecycle == "AVAILABLE"
            and not list(emu.fsx.running_tasks(fs_id))
        ),
        "association AVAILABLE, import done",
    )
    if job is None:
        return left
    name = f"{refs.name_prefix}-{execution_name}"
    described = fsx.describe_file_systems(FileSystemIds=[fs_id])["FileSystems"][0]
    user_data = render(described["DNSName"], described["LustreConfiguration"]["MountName"])
    left.launch_template_id = ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={"UserData": base64.b64encode(user_data.encode()).decode()},
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": key_values(tags)}],
    )["LaunchTemplate"]["LaunchTemplateId"]
    if on_compute_environment:
        batch.update_compute_environment(
            computeEnvironment=refs.lanes[0].compute_environment_arn,
            computeResources={"launchTemplate": {"launchTemplateId": left.launch_template_id, "version": "1"}},
        )
    batch_tags = {k: v for k, v in tags.items() if k != "Name"}
    left.job_definition_arn = batch.register_job_definition(
        jobDefinitionName=name,
        type="container",
        platformCapabilities=["EC2"],
        containerProperties={
            "image": f"{refs.job_repository_url}:latest",
            "resourceRequirements": [{"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "2048"}],
            "volumes": [{"name": "scratch", "host": {"sourcePath": HOST_SCRATCH_DIR}}],
            "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch", "readOnly": False}],
        },
        retryStrategy={
            "attempts": 3,
            "evaluateOnExit": [{"onStatusReason": "Host EC2*", "action": "RETRY"}, {"onReason": "*", "action": "EXIT"}],
        },
        propagateTags=True,
        tags=batch_tags,
    )["jobDefinitionArn"]
    array = {"arrayProperties": {"size": array_size}} if array_size else {}
    left.job_id = batch.submit_job(
        jobName=name,
        jobQueue=refs.lanes[0].job_queue_arn,
        jobDefinition=left.job_definition_arn,
        propagateTags=True,
        tags=batch_tags,
        **array,
    )["jobId"]
    model = emu.batch.jobs[left.job_id]
    if job == "running":
        if array_size:
            advance_until(
                emu,
                lambda: any(emu.batch.jobs[c].status == "RUNNING" for c in model.children),
                "an array child RUNNING",
                step=5.0,
            )
        else:
            advance_until(
                emu,
                lambda: len(model.files_written) == len(emu.scenario.batch.files) and model.status == "RUNNING",
                "job RUNNING, files written",
                step=10.0,
            )
    elif job == "ended":
        advance_until(emu, lambda: model.status in ("SUCCEEDED", "FAILED"), "job ended")
    return left


def event(stack: EmulatedStack, execution_name: str = RUN, **changes: Any) -> dict[str, Any]:
    """FindRunResources' event, as run-cleanup sends it."""
    refs = stack.refs
    return {
        "executionName": execution_name,
        "executionArn": f"arn:aws:states:us-east-1:123456789012:execution:{refs.state_machine_name}:{execution_name}",
        "cleanupExecutionArn": f"arn:aws:states:us-east-1:123456789012:execution:{refs.run_cleanup_state_machine_name}:c1",
        "stack": refs.stack,
        "stackId": refs.stack_id,
        "mode": refs.mode,
        "namePrefix": refs.name_prefix,
        "laneTable": refs.lane_table_name,
        "lanes": lane_list(refs),
        **changes,
    }


def find(stack: EmulatedStack, execution_name: str = RUN, **changes: Any) -> dict:
    return frr.handler(event(stack, execution_name, **changes), None)


def compute_environment_template(stack: EmulatedStack) -> dict:
    ce = client("batch").describe_compute_environments(
        computeEnvironments=[stack.refs.lanes[0].compute_environment_arn]
    )["computeEnvironments"][0]
    return ce["computeResources"]["launchTemplate"]


def launch_template_exists(template_id: str) -> bool:
    """(moto answers an unknown id with an empty list; EC2 with InvalidLaunchTemplateId.NotFound.)"""
    try:
        return bool(client("ec2").describe_launch_templates(LaunchTemplateIds=[template_id])["LaunchTemplates"])
    except ClientError:
        return False


def job_definition_status(arn: str) -> str:
    return client("batch").describe_job_definitions(jobDefinitions=[arn])["jobDefinitions"][0]["status"]


def job_status(job_id: str) -> dict:
    return client("batch").describe_jobs(jobs=[job_id])["jobs"][0]


# --- the file system ----------------------------------------------------------------------------


def test_finds_the_runs_file_system_by_its_run_and_stack_tags():
    with Emulation() as emu:
        stack = setup_stack(emu, "taskexport")
        ours = leave_run(emu, stack, job=None)
        leave_run(emu, stack, "run-2", job=None)
        leave_run(emu, stack, job=None, stack_id=OTHER_STACK_ID)  # same run and stack name, another stack
        found = find(stack)
        assert found["fileSystem"] == {
            "FileSystemId": ours.file_system_id,
            "Lifecycle": "AVAILABLE",
            "AssociationId": ours.association_id,
            "Kept": False,
            "ResourceARN": f"arn:aws:fsx:{REGION}:{emu.account_id}:file-system/{ours.file_system_id}",
        }
        assert found["errors"] == []


def test_a_run_that_left_nothing_finds_nothing_and_does_nothing():
    with Emulation() as emu:
        stack = setup_stack(emu, "taskexport")
        leave_run(emu, stack, "run-2")
        assert find(stack) == {
            "fileSystem": None,
            "jobsRan": False,
            "jobsUnfinished": [],
            "lane": None,
            "actions": [],
            "errors": [],
        }


def owner_of(stack: EmulatedStack, lane: int) -> str | None:
    item = client("dynamodb").get_item(
        TableName=stack.refs.lane_table_name, Key={"lane": {"N": str(lane)}}, ConsistentRead=True
    )
    return item["Item"]["owner"]["S"] if "Item" in item else None


def test_the_lane_the_run_still_holds_is_taken_for_the_run_cleanup_and_a_lane_another_run_holds_is_not():
    with Emulation() as emu:
        stack = setup_stack(emu, "taskexport")
        mine, cleanup = event(stack)["executionArn"], event(stack)["cleanupExecutionArn"]
        table = client("dynamodb")
        item = {"lane": {"N": "0"}, "since": {"S": "2026-01-01T00:00:00Z"}}
        table.put_item(TableName=stack.refs.lane_table_name, Item={**item, "owner": {"S": mine + "-other"}})
        assert find(stack)["lane"] is None
        assert owner_of(stack, 0) == mine + "-other"  # another run's lane: untouched
        table.put_item(TableName=stack.refs.lane_table_name, Item={**item, "owner": {"S": mine}})
        found = find(stack)
        assert found["lane"] == 0
        assert owner_of(stack, 0) == cleanup  # before anything of the lane is touched, the run cleanup holds it
        assert found["actions"] == ["lane 0, still held by the run, is held by the run cleanup until it is put back"]
        again = find(stack)  # a second call finds the lane under the run cleanup and changes nothing
        assert (again["lane"], again["actions"], owner_of(stack, 0)) == (0, [], cleanup)


def test_a_lane_taken_over_between_the_scan_and_the_write_is_left_to_its_new_owner():
    with Emulation() as emu:
        stack = setup_stack(emu, "taskexport")
        run = frr.Run.from_event(event(stack))
        table = client("dynamodb")
        item = {"lane": {"N": "0"}, "since": {"S": "2026-01-01T00:00:00Z"}}
        table.put_item(TableName=stack.refs.lane_table_name, Item={**item, "owner": {"S": run.execution_arn}})

        class TakenOverAfterScan:
            def scan(self, **kwargs: Any) -> Any:
                page = table.scan(**kwargs)
                table.put_item(TableName=stack.refs.lane_table_name, Item={**item, "owner": {"S": "new-run"}})
                return page

            def update_item(self, **kwargs: Any) -> Any:
                return table.update_item(**kwargs)

        report = frr.Report()
        assert frr.take_run_lane(TakenOverAfterScan(), run, report) is None
        assert owner_of(stack, 0) == "new-run"
        assert report.actions == ["lane 0 was taken over by another run meanwhile: its compute is left to it"]
        assert report.errors == []


def test_a_file_system_without_association_is_found_with_none():
    with Emulation() as emu:
        stack = setup_stack(emu, "taskexport")
        left = leave_run(emu, stack, association=False, job=None)
        assert find(stack)["fileSystem"]["FileSystemId"] == left.file_system_id
        assert find(stack)["fileSystem"]["AssociationId"] is None


def test_a_creating_file_system_is_reported_creating():
    with Emulation() as emu:
        stack = setup_stack(emu, "taskexport")
        fs_id = client("fsx").create_file_system(
            FileSystemType="LUSTRE",
            StorageCapacity=2400,
            SubnetIds=[stack.refs.subnet_id],
            FileSystemTypeVersion="2.15",
            LustreConfiguration={"DeploymentType": "SCRATCH_2"},
            Tags=key_values(run_tags(stack, RUN)),
        )["FileSystem"]["FileSystemId"]
        assert find(stack)["fileSystem"]["FileSystemId"] == fs_id
        assert find(stack)["fileSystem"]["Lifecycle"] == "CREATING"


def test_a_file_system_the_run_kept_is_reported_kept_and_left_alone():
    with Emulation() as emu:
        stack = setup_stack(emu, "taskexport")
        left = leave_run(emu, stack, job=None)
        arn = f"arn:aws:fsx:{REGION}:{emu.account_id}:file-system/{left.file_system_id}"
        client("fsx").tag_resource(ResourceARN=arn, Tags=[{"Key": TAG_KEPT, "Value": "true"}])
        found = find(stack)
        assert found["fileSystem"]["Kept"] is True
        assert found["fileSystem"]["AssociationId"] is None
        assert found["actions"] == [f"file system {left.file_system_id} is kept ({TAG_KEPT}=true): left as it is"]
        assert emu.fsx.file_systems[left.file_system_id].lifecycle == "AVAILABLE"


def test_a_file_system_being_deleted_is_reported_deleting():
    with Emulation() as emu:
        stack = setup_stack(emu, "taskexport")
        left = leave_run(emu, stack, job=None)
        client("fsx").delete_file_system(FileSystemId=left.file_system_id)
        found = find(stack)
        assert found["fileSystem"]["Lifecycle"] == "DELETING"
        assert found["actions"] == [f"file system {left.file_system_id} is already DELETING"]


def test_the_file_system_is_never_deleted_by_the_lambda():
    with Emulation(Scenario(batch=LONG_JOB)) as emu:
        stack = setup_stack(emu, "taskexport")
        left = leave_run(emu, stack)
        find(stack)
        emu.advance(3600)
        assert emu.fsx.file_systems[left.file_system_id].lifecycle == "AVAILABLE"
        assert emu.fsx.file_systems[left.file_system_id].delete_requested_at is None


# --- jobs -----------------------------------------------------------------------------------------


def test_a_running_job_is_terminated_and_counts_as_having_run():
    with Emulation(Scenario(batch=LONG_JOB)) as emu:
        stack = setup_stack(emu, "taskexport")
        left = leave_run(emu, stack)
        found = find(stack)
        assert found["jobsRan"] is True
        assert found["jobsUnfinished"] == [left.job_id]
        assert f"job {left.job_id} ({stack.refs.name_prefix}-{RUN}, RUNNING) asked to terminate" in found["actions"]
        advance_until(emu, lambda: job_status(left.job_id)["status"] == "FAILED", "terminated job FAILED")
        assert job_status(left.job_id)["statusReason"] == frr.TERMINATE_REASON


def test_a_job_that_never_started_did_not_run():
    with Emulation(Scenario(batch=BatchScenario(capacity_available=False))) as emu:
        stack = setup_stack(emu, "taskexport")
        left = leave_run(emu, stack, job="submitted")
        emu.advance(600)
        assert job_status(left.job_id)["status"] == "RUNNABLE"
        found = find(stack)
        assert found["jobsRan"] is False
        assert found["jobsUnfinished"] == [left.job_id]
        emu.advance(60)
        assert job_status(left.job_id)["status"] == "FAILED"


def test_a_job_waiting_for_its_next_attempt_has_run():
    """RUNNABLE again after a host went away: its first attempt ran (and may have written files)."""
    lost_then_stuck = BatchScenario(attempts=[JobAttempt(ATTEMPT_HOST_EC2, run_seconds=300)], files=dict(FILES))
    with Emulation(Scenario(batch=lost_then_stuck)) as emu:
        stack = setup_stack(emu, "taskexport")
        left = leave_run(emu, stack, job="submitted")
        model = emu.batch.jobs[left.job_id]
        advance_until(
            emu,
            lambda: (
                len(model.attempts) >= 1
                and model.attempts[0].stopped_at is not None
                and model.status in ("RUNNABLE", "STARTING")
            ),
            "first attempt lost",
            step=5.0,
        )
        found = find(stack)
        assert found["jobsRan"] is True
        assert found["jobsUnfinished"] == [left.job_id]


def test_an_ended_job_is_left_as_it_is_and_counts_as_having_run():
    with Emulation(Scenario(batch=BatchScenario.succeeds(run_seconds=120))) as emu:
        stack = setup_stack(emu, "taskexport")
        leave_run(emu, stack, job="ended")
        found = find(stack)
        assert found["jobsRan"] is True
        assert found["jobsUnfinished"] == []
        assert not [a for a in found["actions"] if "terminate" in a]


def test_only_the_runs_exact_job_name_is_stopped():
    """ListJobs' JOB_NAME filter is case-insensitive: a run named RUN-1 is another run."""
    with Emulation(Scenario(batch=LONG_JOB)) as emu:
        stack = setup_stack(emu, "taskexport")
        other = leave_run(emu, stack, "RUN-1")
        found = find(stack)
        assert found["jobsUnfinished"] == []
        emu.advance(120)
        assert job_status(other.job_id)["status"] == "RUNNING"


def test_an_array_job_is_terminated_with_its_running_children():
    with Emulation(Scenario(batch=LONG_JOB)) as emu:
        stack = setup_stack(emu, "taskexport")
        left = leave_run(emu, stack, array_size=3)
        children = emu.batch.jobs[left.job_id].children
        found = find(stack)
        assert found["jobsRan"] is True
        assert found["jobsUnfinished"] == [left.job_id]
        terminated = [a for a in found["actions"] if a.startswith("array child")]
        assert terminated, found["actions"]
        advance_until(emu, lambda: job_status(left.job_id)["status"] in ("SUCCEEDED", "FAILED"), "array ended")
        assert {emu.batch.jobs[c].status for c in children} == {"FAILED"}


def test_whether_a_job_ran_is_read_from_its_status_start_attempts_or_array_summary():
    assert frr.job_ran({"status": "RUNNING"})
    assert frr.job_ran({"status": "FAILED", "startedAt": 1})
    assert frr.job_ran({"status": "RUNNABLE", "attempts": [{"startedAt": 1, "stoppedAt": 2}]})
    assert not frr.job_ran({"status": "RUNNABLE", "attempts": []})
    assert not frr.job_ran({"status": "FAILED", "attempts": [{"stoppedAt": 2}]})  # cancelled before it started
    assert not frr.job_ran({"status": "PENDING", "arrayProperties": {"size": 3, "statusSummary": {"RUNNABLE": 3}}})
    assert frr.job_ran({"status": "PENDING", "arrayProperties": {"size": 3, "statusSummary": {"RUNNING": 1}}})
    assert frr.job_ran({"status": "PENDING", "arrayProperties": {"size": 3}})  # no summary: assumed to have run


# --- compute environment, launch template, job definitions --------------------------------------


def test_the_compute_environment_is_put_back_only_once_the_runs_jobs_have_ended():
    with Emulation(Scenario(batch=LONG_JOB)) as emu:
        stack = setup_stack(emu, "taskexport")
        left = leave_run(emu, stack)
        assert compute_environment_template(stack)["launchTemplateId"] == left.launch_template_id
        first = find(stack)  # the job is asked to terminate, and still runs on the run's hosts: put off
        assert compute_environment_template(stack)["launchTemplateId"] == left.launch_template_id
        assert launch_template_exists(left.launch_template_id)
        assert first["errors"] == [
            f"the compute environment is put back on its baseline only once job(s) {left.job_id}, asked to "
            "terminate, have ended"
        ]
        advance_until(emu, lambda: job_status(left.job_id)["status"] == "FAILED", "terminated job FAILED")
        found = find(stack)
        assert compute_environment_template(stack) == {
            "launchTemplateId": stack.refs.lanes[0].baseline_launch_template_id,
            "version": stack.refs.lanes[0].baseline_launch_template_version,
        }
        assert not launch_template_exists(left.launch_template_id)
        assert any(a.startswith("compute environment") for a in found["actions"])
        assert found["errors"] == []


def test_a_compute_environment_on_another_runs_template_is_left_there():
    with Emulation(Scenario(batch=LONG_JOB)) as emu:
        stack = setup_stack(emu, "taskexport")
        ours = leave_run(emu, stack, on_compute_environment=False, job="submitted")
        later = leave_run(emu, stack, "run-2")
        found = find(stack)
        assert compute_environment_template(stack)["launchTemplateId"] == later.launch_template_id
        assert not launch_template_exists(ours.launch_template_id)  # not in use: deleted
        assert launch_template_exists(later.launch_template_id)
        assert not any(a.startswith("compute environment") for a in found["actions"])


def test_a_launch_template_of_another_stack_is_left_alone():
    with Emulation() as emu:
        stack = setup_stack(emu, "taskexport")
        name = f"{stack.refs.name_prefix}-{RUN}"
        other = client("ec2").create_launch_template(
            LaunchTemplateName=name,
            LaunchTemplateData={},
            TagSpecifications=[
                {
                    "ResourceType": "launch-template",
                    "Tags": key_values(run_tags(stack, RUN, stack_id=OTHER_STACK_ID)),
                }
            ],
        )["LaunchTemplate"]["LaunchTemplateId"]
        found = find(stack)
        assert launch_template_exists(other)
        assert found["actions"] == [] and found["errors"] == []


def test_the_runs_active_job_definitions_are_deregistered_and_no_others():
    with Emulation() as emu:
        stack = setup_stack(emu, "taskexport")
        batch, name = client("batch"), f"{stack.refs.name_prefix}-{RUN}"
        properties = {
            "image": "busybox",
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        }
        ours = [
            batch.register_job_definition(
                jobDefinitionName=name,
                type="container",
                containerProperties=properties,
                tags={TAG_STACK: stack.refs.stack, TAG_STACK_ID: stack.refs.stack_id},
            )["jobDefinitionArn"]
            for _ in range(2)
        ]
        other = batch.register_job_definition(
            jobDefinitionName=f"{stack.refs.name_prefix}-run-2",
            type="container",
            containerProperties=properties,
            tags={TAG_STACK: stack.refs.stack, TAG_STACK_ID: stack.refs.stack_id},
        )["jobDefinitionArn"]
        found = find(stack)
        assert [job_definition_status(arn) for arn in ours] == ["INACTIVE", "INACTIVE"]
        assert job_definition_status(other) == "ACTIVE"
        assert [a for a in found["actions"] if a.startswith("job definition")] == [
            f"job definition {arn} deregistered" for arn in ours
        ]


# --- the whole ------------------------------------------------------------------------------------


def test_a_second_call_does_nothing():
    with Emulation(Scenario(batch=LONG_JOB)) as emu:
        stack = setup_stack(emu, "taskexport")
        left = leave_run(emu, stack)
        first = find(stack)
        assert len(first["actions"]) == 2, first["actions"]  # job, definition (the compute: once the job ended)
        advance_until(emu, lambda: job_status(left.job_id)["status"] == "FAILED", "terminated job FAILED")
        second = find(stack)
        assert len(second["actions"]) == 2, second["actions"]  # compute environment, template
        third = find(stack)
        assert third["actions"] == [] and third["errors"] == []
        assert third["jobsUnfinished"] == []
        assert third["fileSystem"] == first["fileSystem"]


def test_a_failed_step_is_one_error_line_and_the_other_steps_go_on():
    with Emulation(Scenario(batch=LONG_JOB)) as emu:
        stack = setup_stack(emu, "taskexport")
        left = leave_run(emu, stack, job="ended")
        missing = stack.refs.lanes[0].compute_environment_arn.replace(stack.compute_environment_name, "no-such-ce")
        found = find(stack, lanes=[{**lane_list(stack.refs)[0], "computeEnvironmentArn": missing}])
        assert found["errors"] == [
            f"compute environment {missing} was not found",
            (
                f"launch template {left.launch_template_id} ({stack.refs.name_prefix}-{RUN}) was not deleted: "
                f"compute environment {missing} still uses it"
            ),
        ]
        assert found["fileSystem"]["FileSystemId"] == left.file_system_id
        assert job_definition_status(left.job_definition_arn) == "INACTIVE"
        assert found["jobsUnfinished"] == []


def test_an_event_without_the_runs_names_is_refused():
    with pytest.raises(frr.ConfigurationError, match="laneTable"):
        frr.Run.from_event({k: v for k, v in event_example().items() if k != "laneTable"})
    with pytest.raises(frr.ConfigurationError, match="executionName"):
        frr.Run.from_event({**event_example(), "executionName": ""})


def test_an_event_without_the_stacks_lanes_is_refused_naming_what_is_missing():
    with pytest.raises(frr.ConfigurationError, match="lanes"):
        frr.Run.from_event({**event_example(), "lanes": []})
    with pytest.raises(frr.ConfigurationError, match=r"lanes\[0\] keys \['jobQueueArn'\]"):
        frr.Run.from_event({**event_example(), "lanes": [{**event_example()["lanes"][0], "jobQueueArn": ""}]})
    with pytest.raises(frr.ConfigurationError, match="index 1"):
        frr.Run.from_event({**event_example(), "lanes": event_example()["lanes"] * 2})


def event_example() -> dict[str, Any]:
    return {
        "executionName": RUN,
        "executionArn": f"arn:aws:states:us-east-1:123456789012:execution:m:{RUN}",
        "cleanupExecutionArn": "arn:aws:states:us-east-1:123456789012:execution:m-run-cleanup:c1",
        "stack": "s",
        "stackId": "5eed0001",
        "mode": "taskexport",
        "namePrefix": "p",
        "laneTable": "p-lanes",
        "lanes": [
            {
                "index": 0,
                "computeEnvironmentArn": "arn:aws:batch:us-east-1:123456789012:compute-environment/ce",
                "jobQueueArn": "arn:aws:batch:us-east-1:123456789012:job-queue/q",
                "baselineLaunchTemplateId": "lt-0",
                "baselineLaunchTemplateVersion": "1",
            }
        ],
    }


def test_the_run_names_are_those_of_the_workflow():
    assert frr.Run.from_event(event_example()).resource_name == f"p-{RUN}"
    assert (frr.TAG_STACK_ID, frr.TAG_RUN, frr.TAG_KEPT) == (TAG_STACK_ID, TAG_RUN, TAG_KEPT)


# --- packaging and permissions ---------------------------------------------------------------------


def _called_operations() -> set[str]:
    """boto3 operations the handler calls: ``<client>.<operation>(...)``, paginators, and ``_pages(<client>.<op>``."""
    tree = ast.parse(HANDLER.read_text())
    clients = {"fsx", "batch", "ec2", "dynamodb"}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in clients:
            if node.attr != "get_paginator":
                found.add(f"{node.value.id}:{node.attr}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get_paginator"
            and isinstance(node.func.value, ast.Name)
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(f"{node.func.value.id}:{node.args[0].value}")
    return found


def test_the_lambda_role_allows_every_call_the_handler_makes():
    called = set()
    for item in _called_operations():
        service, method = item.split(":")
        operation = client(service).meta.method_to_api_mapping[method]
        called.add(f"{service}:{operation}")
    assert {"batch:ListJobs", "batch:TerminateJob", "fsx:DescribeFileSystems"} <= called  # the scan sees the calls
    declared = set(iam.LAMBDA_ACTIONS["find_run_resources"])
    assert called - declared == set(), "asl.iam.LAMBDA_ACTIONS['find_run_resources'] misses these"


def test_the_handler_runs_on_the_lambda_runtime():
    imported, removed_or_deprecated = python312_scan(HANDLER)
    assert imported <= {"boto3", "botocore", "collections", "dataclasses", "datetime", "time", "typing"}
    assert removed_or_deprecated == set()
