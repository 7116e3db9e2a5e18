"""The emulated AWS Batch (emulation/batch*.py, emulation/host_user_data.py): each test fails if the behaviour it names broke.

Compute environment states, hosts (warm capacity, the user data's bounded mount, shutdown behaviour,
no capacity), jobs and array jobs, ListJobs, timeouts, and Step Functions' ``batch:submitJob.sync``
on the emulated clock. The rules and their sources: docs/aws-rules.md, section "Batch".
"""

from __future__ import annotations

import base64
import functools
import json
import time
from contextlib import ExitStack
from dataclasses import dataclass

import boto3
import pytest
from botocore.exceptions import ClientError

from batch_lustre.emulation import BatchScenario, Emulation, FsxScenario, JobAttempt, Scenario, run_workflow
from batch_lustre.emulation.batch_jobs import retry_action
from batch_lustre.emulation.batch_records import (
    CAPACITY_REASON,
    DESIRED_LOWERED_MESSAGE,
    HOST_READY,
    HOST_STOPPED,
    HOST_TERMINATED,
    INVALID_CE_REASON,
    LOG_GROUP_MISSING,
    TIMEOUT_REASON,
    Attempt,
)
from batch_lustre.emulation.batch_sync import SYNC_RULE_ACTIONS, add_sync_call_hook, sync_call_hooks
from batch_lustre.emulation.host_user_data import LustreMount, parse_lustre_mount, parse_mount_retry
from batch_lustre.emulation.scenario import ATTEMPT_HOST_EC2
from batch_lustre.program.asl.naming import HOST_MOUNT_DIR
from batch_lustre.program.asl.user_data import MOUNT_ATTEMPTS, MOUNT_RETRY_SECONDS, render

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/test-workflow"
# The job definition's retry strategy as the workflow registers it (asl/common.py).
RETRY_HOST_EC2_ONLY = {
    "attempts": 5,
    "evaluateOnExit": [{"onStatusReason": "Host EC2*", "action": "RETRY"}, {"onReason": "*", "action": "EXIT"}],
}
SYNC = "arn:aws:states:::batch:submitJob.sync"
UPDATE = 60.0  # BatchScenario.compute_update_seconds
BOOT = 150.0  # BatchScenario.host_boot_seconds
QUEUED = 5.0  # SUBMITTED -> PENDING -> RUNNABLE
TO_RUNNING = 5.0 + 20.0  # placement_seconds + starting_seconds on a ready host


@functools.cache
def client(service: str):
    return boto3.client(service, region_name=REGION)


def user_data(dns_name: str, mount_name: str, *, attempts: int = 10, interval: int = 15, mime: bool = True) -> str:
    """A launch template's user data: a bounded mount loop, then shut down unless mounted (asl/user_data.py's shape)."""
    script = f"""#!/bin/bash
DNS_NAME="{dns_name}"
MOUNT_NAME="{mount_name}"
MOUNT_DIR="/fsx"
mkdir -p "$MOUNT_DIR"
for attempt in $(seq 1 {attempts}); do
  mount -t lustre -o noatime,flock "$DNS_NAME@tcp:/$MOUNT_NAME" "$MOUNT_DIR" && break
  sleep {interval}
done
mountpoint -q "$MOUNT_DIR" || shutdown -h now
"""
    if not mime:
        return script
    return (
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="==B=="\n\n--==B==\n'
        'Content-Type: text/x-shellscript; charset="us-ascii"\n\n' + script + "\n--==B==--\n"
    )


@dataclass
class Env:
    ce_arn: str
    queue_arn: str
    job_def: str
    fs_id: str | None = None
    dns_name: str = ""
    mount_name: str = ""


def environment(
    emu: Emulation, *, max_vcpus: int = 256, vcpus: int = 2, retry: dict | None = None, timeout: int | None = None
) -> Env:
    """A managed compute environment on a baseline launch template (no user data), its queue, a job definition."""
    ec2, iam, batch = client("ec2"), client("iam"), client("batch")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="batch", Description="batch", VpcId=vpc)["GroupId"]
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    iam.create_role(RoleName="instance", AssumeRolePolicyDocument=trust)
    profile = iam.create_instance_profile(InstanceProfileName="instance")["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName="instance", RoleName="instance")
    baseline = ec2.create_launch_template(
        LaunchTemplateName="baseline", LaunchTemplateData={"MetadataOptions": {"HttpTokens": "required"}}
    )["LaunchTemplate"]["LaunchTemplateId"]
    ce = batch.create_compute_environment(
        computeEnvironmentName="batch-ce",
        type="MANAGED",
        state="ENABLED",  # no serviceRole: Batch's service-linked role, as infrastructure updates require
        computeResources={
            "type": "SPOT",
            "allocationStrategy": "BEST_FIT_PROGRESSIVE",
            "minvCpus": 0,
            "maxvCpus": max_vcpus,
            "desiredvCpus": 0,
            "instanceTypes": ["optimal"],
            "subnets": [subnet],
            "securityGroupIds": [sg],
            "instanceRole": profile["Arn"],
            "launchTemplate": {"launchTemplateId": baseline, "version": "1"},
        },
    )["computeEnvironmentArn"]
    queue = batch.create_job_queue(
        jobQueueName="queue",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}],
    )["jobQueueArn"]
    extra = {"timeout": {"attemptDurationSeconds": timeout}} if timeout else {}
    job_def = batch.register_job_definition(
        jobDefinitionName="run-jd",
        type="container",
        retryStrategy=retry or RETRY_HOST_EC2_ONLY,
        containerProperties={
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/job:latest",
            "command": ["run"],
            "environment": [{"name": "FROM_DEFINITION", "value": "1"}],
            "resourceRequirements": [{"type": "VCPU", "value": str(vcpus)}, {"type": "MEMORY", "value": "2048"}],
            "volumes": [{"name": "scratch", "host": {"sourcePath": "/fsx/scratch"}}],
            "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch"}],
        },
        **extra,
    )["jobDefinitionArn"]
    return Env(ce, queue, job_def)


def file_system(emu: Emulation, env: Env) -> Env:
    """A SCRATCH_2 file system being created (CREATING for FsxScenario.creation_seconds)."""
    subnet = client("ec2").describe_subnets()["Subnets"][0]["SubnetId"]
    fs = client("fsx").create_file_system(
        FileSystemType="LUSTRE",
        StorageCapacity=2400,
        SubnetIds=[subnet],
        FileSystemTypeVersion="2.15",
        LustreConfiguration={"DeploymentType": "SCRATCH_2"},
    )["FileSystem"]
    env.fs_id, env.dns_name, env.mount_name = fs["FileSystemId"], fs["DNSName"], fs["LustreConfiguration"]["MountName"]
    return env


def use_template(env: Env, data: dict, *, desired: int | None = None, name: str = "run-lt") -> str:
    """A per-run launch template put on the compute environment (UpdateComputeEnvironment), optionally warming."""
    lt = client("ec2").create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)["LaunchTemplate"]
    resources: dict = {"launchTemplate": {"launchTemplateId": lt["LaunchTemplateId"], "version": "1"}}
    if desired is not None:
        resources["desiredvCpus"] = desired
    client("batch").update_compute_environment(computeEnvironment=env.ce_arn, computeResources=resources)
    return lt["LaunchTemplateId"]


def lustre_template(
    env: Env,
    *,
    terminate: bool = False,
    attempts: int = 10,
    interval: int = 15,
    mount_name: str | None = None,
    mime: bool = True,
) -> dict:
    data = {
        "UserData": base64.b64encode(
            user_data(
                env.dns_name, mount_name or env.mount_name, attempts=attempts, interval=interval, mime=mime
            ).encode()
        ).decode()
    }
    if terminate:
        data["InstanceInitiatedShutdownBehavior"] = "terminate"
    return data


def ready(emu: Emulation, **template: object) -> Env:
    """Compute environment VALID on a launch template that mounts an AVAILABLE file system."""
    env = file_system(emu, environment(emu, **template))
    emu.advance(emu.scenario.fsx.creation_seconds)
    use_template(env, lustre_template(env))
    emu.advance(UPDATE)
    return env


def ce(env: Env) -> dict:
    return client("batch").describe_compute_environments(computeEnvironments=[env.ce_arn])["computeEnvironments"][0]


def submit(env: Env, name: str = "run-job", **kwargs: object) -> str:
    return client("batch").submit_job(jobName=name, jobQueue=env.queue_arn, jobDefinition=env.job_def, **kwargs)[
        "jobId"
    ]


def job(job_id: str) -> dict:
    return client("batch").describe_jobs(jobs=[job_id])["jobs"][0]


def statuses(emu: Emulation, job_id: str) -> list[str]:
    return [status for status, _ in emu.batch.jobs[job_id].history]


def at(emu: Emulation, job_id: str, status: str) -> float:
    return next(t for s, t in emu.batch.jobs[job_id].history if s == status)


def until_done(emu: Emulation, job_id: str, step: float = 30.0) -> dict:
    for _ in range(100_000):
        found = job(job_id)
        if found["status"] in ("SUCCEEDED", "FAILED"):
            return found
        emu.advance(step)
    raise AssertionError(f"job never ended: {statuses(emu, job_id)}")


# --- compute environment -------------------------------------------------------------------------


def test_update_compute_environment_is_updating_for_the_scenarios_time_then_valid():
    with Emulation() as emu:
        env = file_system(emu, environment(emu))
        lt_id = use_template(env, lustre_template(env))
        assert (ce(env)["status"], ce(env)["state"]) == ("UPDATING", "ENABLED")
        emu.advance(UPDATE - 1)
        assert ce(env)["status"] == "UPDATING"
        emu.advance(1)
        described = ce(env)
        assert (described["status"], described["statusReason"]) == ("VALID", "ComputeEnvironment Healthy")
        assert described["computeResources"]["launchTemplate"] == {"launchTemplateId": lt_id, "version": "1"}
        assert described["computeResources"]["desiredvCpus"] == 0


def test_update_onto_a_bad_template_leaves_the_environment_invalid_and_jobs_runnable():
    reason = "CLIENT_ERROR - Parameter validation failed (emulated)"
    with Emulation(Scenario(batch=BatchScenario.compute_environment_invalid(reason))) as emu:
        env = file_system(emu, environment(emu))
        emu.advance(emu.scenario.fsx.creation_seconds)
        use_template(env, lustre_template(env))
        emu.advance(UPDATE)
        assert (ce(env)["status"], ce(env)["statusReason"]) == ("INVALID", reason)
        job_id = submit(env)
        emu.advance(3600)
        assert (job(job_id)["status"], job(job_id)["statusReason"]) == ("RUNNABLE", INVALID_CE_REASON)
        assert emu.batch.live_hosts() == []
        baseline = client("ec2").describe_launch_templates(LaunchTemplateNames=["baseline"])["LaunchTemplates"][0]
        client("batch").update_compute_environment(
            computeEnvironment=env.ce_arn,
            computeResources={"launchTemplate": {"launchTemplateId": baseline["LaunchTemplateId"], "version": "1"}},
        )
        emu.advance(UPDATE)
        assert ce(env)["status"] == "VALID"  # back on the original template


def test_user_data_that_is_not_mime_multipart_makes_the_environment_invalid():
    with Emulation() as emu:
        env = file_system(emu, environment(emu))
        use_template(env, lustre_template(env, mime=False))
        emu.advance(UPDATE)
        assert ce(env)["status"] == "INVALID"
        assert ce(env)["statusReason"].startswith("CLIENT_ERROR - ")


def test_desired_vcpus_can_be_raised_within_min_max_but_never_lowered():
    with Emulation() as emu:
        env = environment(emu, max_vcpus=64)
        batch = client("batch")
        batch.update_compute_environment(computeEnvironment=env.ce_arn, computeResources={"desiredvCpus": 32})
        # Accepted while UPDATING (not documented either way: docs/aws-rules.md, Assumed).
        batch.update_compute_environment(computeEnvironment=env.ce_arn, computeResources={"desiredvCpus": 32})
        assert ce(env)["computeResources"]["desiredvCpus"] == 32
        with pytest.raises(ClientError) as lowered:
            batch.update_compute_environment(computeEnvironment=env.ce_arn, computeResources={"desiredvCpus": 16})
        assert lowered.value.response["Error"] == {"Code": "ClientException", "Message": DESIRED_LOWERED_MESSAGE}
        with pytest.raises(ClientError) as above_max:
            batch.update_compute_environment(computeEnvironment=env.ce_arn, computeResources={"desiredvCpus": 65})
        assert above_max.value.response["Error"]["Code"] == "ClientException"
        assert ce(env)["computeResources"]["desiredvCpus"] == 32


def test_update_compute_environment_fails_by_scenario():
    with Emulation(Scenario(batch=BatchScenario(update_compute_environment_error="CE is UPDATING"))) as emu:
        env = environment(emu)
        with pytest.raises(ClientError) as err:
            client("batch").update_compute_environment(
                computeEnvironment=env.ce_arn, computeResources={"desiredvCpus": 2}
            )
        assert err.value.response["Error"] == {"Code": "ClientException", "Message": "CE is UPDATING"}


# --- hosts -------------------------------------------------------------------------------------------


def test_warm_hosts_wait_in_their_user_data_for_the_file_system_then_take_the_job_at_once():
    with Emulation() as emu:  # file system AVAILABLE at 420 s
        env = file_system(emu, environment(emu))
        use_template(env, lustre_template(env, attempts=40, interval=15), desired=16)
        emu.advance(UPDATE + BOOT)  # booted at 210 s; the file system is still CREATING
        hosts = emu.batch.live_hosts()
        assert [(h.warm, h.state, h.vcpus) for h in hosts] == [(True, "MOUNTING", 16)]
        emu.advance(420 - (UPDATE + BOOT))
        assert (hosts[0].state, hosts[0].ready_at, hosts[0].file_system_id) == (HOST_READY, 420.0, env.fs_id)
        emu.advance(80)
        job_id = submit(env)
        done = until_done(emu, job_id)
        assert done["status"] == "SUCCEEDED"
        assert at(emu, job_id, "RUNNING") - at(emu, job_id, "SUBMITTED") == QUEUED + TO_RUNNING
        assert emu.fsx.file_systems[env.fs_id].files["/scratch/results/output.txt"].data == b"result of the job\n"
        assert len(emu.batch.hosts) == 1 and emu.batch.stopped_instances() == []


def test_without_warm_capacity_a_runnable_job_launches_a_host_and_waits_for_its_boot():
    with Emulation() as emu:
        env = ready(emu)
        job_id = submit(env)
        until_done(emu, job_id)
        assert statuses(emu, job_id) == ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"]
        assert at(emu, job_id, "RUNNING") - at(emu, job_id, "RUNNABLE") == BOOT + TO_RUNNING
        done = job(job_id)
        assert done["stoppedAt"] - done["startedAt"] == 600_000
        assert done["attempts"][0]["container"]["exitCode"] == 0
        assert emu.batch.mount_problems == []
        assert ce(env)["computeResources"]["desiredvCpus"] == 16  # Batch scaled out for the job


@pytest.mark.parametrize("terminate", [True, False])
def test_a_host_whose_mount_fails_shuts_down_terminated_or_stopped_and_the_job_stays_runnable(terminate):
    with Emulation() as emu:
        env = file_system(emu, environment(emu))
        emu.advance(emu.scenario.fsx.creation_seconds)
        use_template(env, lustre_template(env, terminate=terminate, mount_name="wrongname"))
        emu.advance(UPDATE)
        job_id = submit(env)
        emu.advance(3600)
        assert job(job_id)["status"] == "RUNNABLE"
        ended = [h for h in emu.batch.hosts.values() if h.state in (HOST_STOPPED, HOST_TERMINATED)]
        assert len(ended) >= 2  # every host Batch launched for the job failed the mount
        assert {h.state for h in ended} == {HOST_TERMINATED if terminate else HOST_STOPPED}
        assert len(emu.batch.stopped_instances()) == (0 if terminate else len(ended))
        assert "wrong DNSName/MountName" in emu.batch.mount_problems[0].reason
        # The loop's bound: 10 attempts 15 s apart, after the boot.
        first = min(ended, key=lambda h: h.launched_at)
        assert first.ended_at - first.launched_at == BOOT + 10 * 15


def test_an_idle_host_is_scaled_in_after_the_scenarios_time_and_desired_vcpus_follow():
    with Emulation(Scenario(batch=BatchScenario(idle_scale_in_seconds=600))) as emu:
        env = ready(emu)
        client("batch").update_compute_environment(computeEnvironment=env.ce_arn, computeResources={"desiredvCpus": 16})
        emu.advance(UPDATE + BOOT)
        [host] = emu.batch.live_hosts()
        assert ce(env)["computeResources"]["desiredvCpus"] == 16
        emu.advance(600)
        assert (host.state, host.ended_at) == (HOST_TERMINATED, host.ready_at + 600)
        assert ce(env)["computeResources"]["desiredvCpus"] == 0
        client("batch").update_compute_environment(computeEnvironment=env.ce_arn, computeResources={"desiredvCpus": 16})


def test_a_host_gives_up_when_the_file_system_is_not_available_within_the_user_datas_bound():
    with Emulation(Scenario(fsx=FsxScenario(creation_seconds=3600))) as emu:
        env = file_system(emu, environment(emu))
        use_template(env, lustre_template(env, attempts=4, interval=15), desired=2)
        emu.advance(UPDATE + BOOT + 4 * 15)
        [host] = emu.batch.stopped_instances()
        assert "is CREATING after 4 mount attempt(s)" in host.end_reason


def test_no_capacity_keeps_the_job_runnable_with_the_capacity_reason():
    with Emulation(Scenario(batch=BatchScenario.no_capacity())) as emu:
        env = ready(emu)
        job_id = submit(env)
        emu.advance(6 * 3600)
        found = job(job_id)
        assert (found["status"], found["statusReason"]) == ("RUNNABLE", CAPACITY_REASON.format("optimal"))
        assert found["statusReason"].startswith("CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY")
        assert emu.batch.hosts == {}


def test_a_job_needing_more_vcpus_than_the_environment_allows_stays_runnable():
    with Emulation() as emu:
        env = ready(emu, max_vcpus=4, vcpus=8)
        job_id = submit(env)
        emu.advance(3600)
        found = job(job_id)
        assert found["status"] == "RUNNABLE"
        assert found["statusReason"].startswith("MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE")


def test_parse_mount_retry_reads_the_user_datas_bound():
    assert parse_mount_retry(user_data("fs-1.fsx.us-east-1.amazonaws.com", "abc", attempts=7, interval=20)) == (7, 20.0)
    assert parse_mount_retry('mount -t lustre "a@tcp:/b" "/fsx"\n') == (1, 0.0)  # no loop: one attempt
    assert parse_lustre_mount("#!/bin/bash\necho no lustre here\n") is None


def test_the_workflows_user_data_mounts_the_described_file_system_with_its_own_bound():
    script = render("fs-1.fsx.eu-west-1.amazonaws.com", "abcdefgh")
    assert parse_mount_retry(script) == (MOUNT_ATTEMPTS, float(MOUNT_RETRY_SECONDS))
    assert parse_lustre_mount(script) == LustreMount("fs-1.fsx.eu-west-1.amazonaws.com", "abcdefgh", HOST_MOUNT_DIR)


# --- jobs --------------------------------------------------------------------------------------------


def test_app_error_exits_at_once_under_the_workflows_retry_strategy():
    with Emulation(Scenario(batch=BatchScenario.app_error(exit_code=3))) as emu:
        env = ready(emu)
        failed = until_done(emu, submit(env))
        assert failed["status"] == "FAILED"
        assert [a["container"]["exitCode"] for a in failed["attempts"]] == [3]
        assert failed["attempts"][0]["container"]["logStreamName"].startswith("run-jd/default/")


def test_a_job_whose_awslogs_group_does_not_exist_never_starts_and_starts_once_it_exists():
    with Emulation(Scenario()) as emu:
        env = ready(emu)
        group = "/batch-lustre/test-stack/jobs"
        described = client("batch").describe_job_definitions(jobDefinitions=[env.job_def])["jobDefinitions"][0]
        properties = {
            **described["containerProperties"],
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": group}},
        }
        env.job_def = client("batch").register_job_definition(
            jobDefinitionName="logged-jd",
            type="container",
            retryStrategy=RETRY_HOST_EC2_ONLY,
            containerProperties=properties,
        )["jobDefinitionArn"]
        failed = until_done(emu, submit(env))
        assert failed["status"] == "FAILED"
        assert failed["statusReason"] == LOG_GROUP_MISSING.format(group=group)
        assert len(failed["attempts"]) == 1  # not a host failure: the strategy exits
        client("logs").create_log_group(logGroupName=group)
        assert until_done(emu, submit(env, name="second"))["status"] == "SUCCEEDED"


def test_host_ec2_attempts_are_retried_on_another_host_then_the_job_succeeds():
    with Emulation(Scenario(batch=BatchScenario.host_ec2_then_succeeds(host_failures=2))) as emu:
        env = ready(emu)
        job_id = submit(env)
        done = until_done(emu, job_id)
        assert done["status"] == "SUCCEEDED"
        assert len(done["attempts"]) == 3
        assert done["attempts"][0]["statusReason"].startswith("Host EC2 (instance i-")
        assert "exitCode" not in done["attempts"][0]["container"]
        assert statuses(emu, job_id).count("RUNNABLE") == 3  # back to RUNNABLE after each lost host
        instances = [a.instance_id for a in emu.batch.jobs[job_id].attempts]
        assert len(set(instances)) == 3  # a lost host takes no further job


def test_host_ec2_on_every_attempt_fails_after_the_strategys_attempts():
    with Emulation(Scenario(batch=BatchScenario.host_ec2_always())) as emu:
        env = ready(emu, retry={**RETRY_HOST_EC2_ONLY, "attempts": 3})
        failed = until_done(emu, submit(env))
        assert (failed["status"], len(failed["attempts"])) == ("FAILED", 3)
        assert failed["statusReason"].startswith("Host EC2")


def test_retry_strategy_evaluation_follows_the_batch_rules():
    host = Attempt("i-1", status_reason="Host EC2 (instance i-1) terminated.")
    app = Attempt("i-1", exit_code=3, status_reason="Essential container in task exited")
    assert retry_action(RETRY_HOST_EC2_ONLY, host) == "RETRY"
    assert retry_action(RETRY_HOST_EC2_ONLY, app) == "EXIT"  # "*" matches an absent reason
    assert retry_action({"attempts": 2}, app) == "RETRY"  # no rule matches: retried
    on_code = {"evaluateOnExit": [{"onExitCode": "1*", "action": "EXIT"}]}
    assert retry_action(on_code, Attempt("i", exit_code=137)) == "EXIT"
    assert retry_action(on_code, Attempt("i", exit_code=3)) == "RETRY"


def test_job_retry_with_attempt_files_only_on_success():
    attempts = [JobAttempt(ATTEMPT_HOST_EC2, run_seconds=100), JobAttempt(run_seconds=100, files={"f": b"1"})]
    with Emulation(Scenario(batch=BatchScenario(attempts=attempts))) as emu:
        env = ready(emu)
        assert until_done(emu, submit(env))["status"] == "SUCCEEDED"
        assert list(emu.fsx.file_systems[env.fs_id].files) == ["/scratch/f"]


def test_the_attempt_timeout_ends_the_attempt_and_is_not_retried():
    with Emulation(Scenario(batch=BatchScenario.succeeds(run_seconds=3600))) as emu:
        env = ready(emu, retry={"attempts": 3}, timeout=120)
        failed = until_done(emu, submit(env))
        assert (failed["status"], failed["statusReason"]) == ("FAILED", TIMEOUT_REASON)
        assert len(failed["attempts"]) == 1  # Batch guide, "Job timeouts": not retried
        assert failed["stoppedAt"] - failed["startedAt"] == 120_000
        with pytest.raises(ClientError) as short:
            submit(env, timeout={"attemptDurationSeconds": 59})
        assert short.value.response["Error"]["Code"] == "ClientException"


def test_terminating_a_running_job_fails_it_with_the_reason():
    with Emulation(Scenario(batch=BatchScenario.succeeds(run_seconds=10_000))) as emu:
        env = ready(emu)
        job_id = submit(env)
        while job(job_id)["status"] != "RUNNING":
            emu.advance(10)
        client("batch").terminate_job(jobId=job_id, reason="too long")
        emu.advance(emu.scenario.batch.terminate_seconds)
        failed = job(job_id)
        assert (failed["status"], failed["statusReason"]) == ("FAILED", "too long")


def test_container_overrides_are_applied_and_shown():
    with Emulation() as emu:
        env = ready(emu)
        job_id = submit(
            env,
            containerOverrides={
                "command": ["run", "--fast"],
                "environment": [{"name": "MODE", "value": "x"}],
                "resourceRequirements": [{"type": "VCPU", "value": "4"}],
            },
            tags={"k": "v"},
            propagateTags=True,
        )
        container = job(job_id)["container"]
        assert container["command"] == ["run", "--fast"]
        assert {e["name"]: e["value"] for e in container["environment"]} == {"FROM_DEFINITION": "1", "MODE": "x"}
        assert {r["type"]: r["value"] for r in container["resourceRequirements"]} == {"VCPU": "4", "MEMORY": "2048"}
        assert (job(job_id)["tags"], job(job_id)["propagateTags"]) == ({"k": "v"}, True)
        assert emu.batch.jobs[job_id].vcpus == 4
        with pytest.raises(ClientError) as reserved:
            submit(env, containerOverrides={"environment": [{"name": "AWS_BATCH_X", "value": "1"}]})
        assert reserved.value.response["Error"]["Code"] == "ClientException"


# --- array jobs --------------------------------------------------------------------------------------


def test_an_array_of_1000_children_all_succeed_in_parallel_and_fast():
    files = {"out/part-{index}.txt": b"child {index}\n"}
    with Emulation(Scenario(batch=BatchScenario.succeeds(run_seconds=60, files=files))) as emu:
        env = ready(emu)
        started = time.process_time()  # CPU seconds: what the emulation costs, whatever else loads the machine
        parent = submit(env, arrayProperties={"size": 1000})
        done = until_done(emu, parent, step=3600)
        cpu = time.process_time() - started
        assert cpu < 3.0, f"{cpu:.2f} s of CPU"
        assert done["status"] == "SUCCEEDED"
        assert done["arrayProperties"]["size"] == 1000
        assert done["arrayProperties"]["statusSummary"]["SUCCEEDED"] == 1000
        on_fs = emu.fsx.file_systems[env.fs_id].files
        assert len([p for p in on_fs if p.startswith("/scratch/out/part-")]) == 1000
        assert on_fs["/scratch/out/part-999.txt"].data == b"child 999\n"
        child = job(f"{parent}:7")
        assert child["arrayProperties"] == {"index": 7}
        assert {"name": "AWS_BATCH_JOB_ARRAY_INDEX", "value": "7"} in child["container"]["environment"]
        spans = [(at(emu, c, "RUNNING"), at(emu, c, "SUCCEEDED")) for c in emu.batch.jobs[parent].children]
        most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
        total = sum(h.vcpus for h in emu.batch.hosts.values())
        assert 256 <= total < 256 + emu.scenario.batch.max_host_vcpus  # maxvCpus, exceeded by one instance at most
        assert most == total // 2  # every vCPU of every host busy: vCPUs / job vCPUs


def test_an_array_with_failing_children_fails_once_all_children_ended():
    with Emulation(Scenario(batch=BatchScenario.array_children_fail([3, 7], exit_code=2))) as emu:
        env = ready(emu)
        parent = submit(env, arrayProperties={"size": 10})
        emu.advance(QUEUED)
        assert job(parent)["status"] == "PENDING"  # a child is RUNNABLE (Batch guide, "Array jobs")
        done = until_done(emu, parent)
        assert done["status"] == "FAILED"
        summary = done["arrayProperties"]["statusSummary"]
        assert (summary["SUCCEEDED"], summary["FAILED"], summary["RUNNING"]) == (8, 2, 0)
        assert done["stoppedAt"] == max(job(f"{parent}:{i}")["stoppedAt"] for i in range(10))
        failed = client("batch").list_jobs(arrayJobId=parent, jobStatus="FAILED")["jobSummaryList"]
        assert sorted(j["jobId"] for j in failed) == [f"{parent}:3", f"{parent}:7"]
        assert failed[0]["container"]["exitCode"] == 2 and "arrayProperties" in failed[0]


def test_array_size_must_be_2_to_10000():
    with Emulation() as emu:
        env = environment(emu)
        for size in (1, 10_001):
            with pytest.raises(ClientError) as err:
                submit(env, arrayProperties={"size": size})
            assert err.value.response["Error"]["Code"] == "ClientException"
        assert job(submit(env, arrayProperties={"size": 2}))["arrayProperties"]["size"] == 2


def test_terminating_an_array_parent_terminates_its_children():
    with Emulation(Scenario(batch=BatchScenario.succeeds(run_seconds=10_000))) as emu:
        env = ready(emu)
        parent = submit(env, arrayProperties={"size": 3})
        emu.advance(QUEUED + BOOT + TO_RUNNING)
        assert job(f"{parent}:0")["status"] == "RUNNING"
        client("batch").terminate_job(jobId=parent, reason="stop")
        emu.advance(emu.scenario.batch.terminate_seconds)
        assert [job(f"{parent}:{i}")["status"] for i in range(3)] == ["FAILED"] * 3
        assert (job(parent)["status"], job(parent)["statusReason"]) == ("FAILED", "stop")


# --- ListJobs ----------------------------------------------------------------------------------------


def test_list_jobs_by_name_filter_returns_any_status_newest_first_and_by_status_only_that_status():
    with Emulation(Scenario(batch=BatchScenario.succeeds(run_seconds=600))) as emu:
        env = ready(emu)
        batch = client("batch")
        first = submit(env, "Run-A")
        emu.advance(1)
        second = submit(env, "run-a")
        by_name = batch.list_jobs(jobQueue=env.queue_arn, filters=[{"name": "JOB_NAME", "values": ["run-a"]}])
        assert [(j["jobId"], j["status"]) for j in by_name["jobSummaryList"]] == [
            (second, "SUBMITTED"),
            (first, "SUBMITTED"),
        ]
        prefix = batch.list_jobs(jobQueue=env.queue_arn, filters=[{"name": "JOB_NAME", "values": ["RUN*"]}])
        assert len(prefix["jobSummaryList"]) == 2
        assert batch.list_jobs(jobQueue=env.queue_arn)["jobSummaryList"] == []  # default: RUNNING only
        assert len(batch.list_jobs(jobQueue=env.queue_arn, jobStatus="SUBMITTED")["jobSummaryList"]) == 2
        until_done(emu, first)
        until_done(emu, second)
        ended = batch.list_jobs(jobQueue=env.queue_arn, filters=[{"name": "JOB_NAME", "values": ["run-a"]}])
        assert {j["status"] for j in ended["jobSummaryList"]} == {"SUCCEEDED"}
        with pytest.raises(ClientError):
            batch.list_jobs(jobQueue=env.queue_arn, arrayJobId=first)


def test_list_jobs_of_an_array_is_paged_and_the_queue_listing_shows_only_the_parent():
    with Emulation(Scenario(batch=BatchScenario.succeeds(run_seconds=600))) as emu:
        env = ready(emu)
        parent = submit(env, "big", arrayProperties={"size": 1500})
        batch = client("batch")
        first = batch.list_jobs(arrayJobId=parent, jobStatus="SUBMITTED")
        assert len(first["jobSummaryList"]) == 1000 and first["nextToken"]
        rest = batch.list_jobs(arrayJobId=parent, jobStatus="SUBMITTED", nextToken=first["nextToken"])
        assert len(rest["jobSummaryList"]) == 500 and "nextToken" not in rest
        queue = batch.list_jobs(jobQueue=env.queue_arn, filters=[{"name": "JOB_NAME", "values": ["big"]}])
        assert [j["jobId"] for j in queue["jobSummaryList"]] == [parent]
        assert queue["jobSummaryList"][0]["arrayProperties"] == {"size": 1500}


# --- batch:submitJob.sync ----------------------------------------------------------------------------


def no_iam(emu: Emulation) -> None:
    """These probes use a role with no policies: the IAM check (emulation/iam.py, when installed) is off."""
    if getattr(emu, "iam", None) is not None:
        emu.iam.enforce = False


def event_at(emu: Emulation, result, kind: str, state: str | None = None) -> float:
    """Emulated second of the first history event of ``kind`` (of state ``state``, for a state's exit)."""
    return emu.clock.seconds_of(
        next(
            e["timestamp"]
            for e in result.events
            if e["type"] == kind and (state is None or e.get("stateExitedEventDetails", {}).get("name") == state)
        )
    )


def submit_state(env: Env, *, next_state: str | None = None, **extra: object) -> dict:
    state = {
        "Type": "Task",
        "Resource": SYNC,
        "Parameters": {
            "JobName": "probe",
            "JobQueue": env.queue_arn,
            "JobDefinition": env.job_def,
            "ContainerOverrides": {"Command": ["run", "probe"], "Environment": [{"Name": "MODE", "Value": "probe"}]},
            "Tags": {"batch-lustre:run": "probe"},
            "PropagateTags": True,
        },
        **extra,
    }
    state.update({"Next": next_state} if next_state else {"End": True})
    return state


def test_sync_task_waits_on_the_emulated_clock_and_returns_the_job_in_step_functions_casing():
    with Emulation(Scenario(batch=BatchScenario.succeeds(run_seconds=600))) as emu:
        no_iam(emu)
        env = ready(emu)
        definition = {
            "StartAt": "Run",
            "States": {
                "Run": submit_state(
                    env,
                    ResultSelector={
                        "JobId.$": "$.JobId",
                        "Status.$": "$.Status",
                        "ExitCode.$": "$.Container.ExitCode",
                        "Env.$": "$.Container.Environment",
                    },
                )
            },
        }
        result = run_workflow(definition, role_arn=ROLE, name="probe", execution_name="ok")
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert (result.output["Status"], result.output["ExitCode"]) == ("SUCCEEDED", 0)
        assert {"Name": "MODE", "Value": "probe"} in result.output["Env"]
        submitted = emu.batch.jobs[result.output["JobId"]]
        assert submitted.container_overrides["command"] == ["run", "probe"]
        assert submitted.tags == {"batch-lustre:run": "probe"} and submitted.propagate_tags is True
        [visit] = result.visits("Run")
        notice = emu.scenario.batch.sync_notice_seconds
        assert visit.seconds == submitted.stopped_at - submitted.created_at + notice
        assert visit.seconds == QUEUED + BOOT + TO_RUNNING + 600 + notice
        assert result.real_seconds < 10


def test_sync_task_of_a_failed_job_fails_with_states_taskfailed_and_the_job_as_cause():
    with Emulation(Scenario(batch=BatchScenario.app_error(exit_code=3))) as emu:
        no_iam(emu)
        env = ready(emu)
        result = run_workflow(
            {"StartAt": "Run", "States": {"Run": submit_state(env)}},
            role_arn=ROLE,
            name="probe",
            execution_name="failed",
        )
        assert (result.status, result.error) == ("FAILED", "States.TaskFailed")
        cause = json.loads(result.cause)
        assert (cause["Status"], cause["StatusReason"]) == ("FAILED", "Essential container in task exited")
        assert cause["Attempts"][0]["Container"]["ExitCode"] == 3
        assert cause["JobName"] == "probe"


def test_sync_task_times_out_on_the_emulated_clock_and_leaves_the_job_running():
    with Emulation(Scenario(batch=BatchScenario.succeeds(run_seconds=3600))) as emu:
        no_iam(emu)
        env = ready(emu)
        definition = {"StartAt": "Run", "States": {"Run": submit_state(env, TimeoutSecondsPath="$.timeout")}}
        result = run_workflow(
            definition, role_arn=ROLE, name="probe", execution_name="slow", execution_input={"timeout": 300}
        )
        assert (result.status, result.error) == ("FAILED", "States.Timeout")
        assert event_at(emu, result, "TaskTimedOut") - event_at(emu, result, "TaskStateEntered") == 300
        [submitted] = emu.batch.jobs.values()
        assert submitted.status == "RUNNING"  # Step Functions does not stop it here: the workflow must


def test_sync_call_hooks_see_the_rule_and_describe_calls_and_can_fail_the_task():
    seen: list[str] = []

    def deny_describe(env: object, action: str) -> None:
        seen.append(action)
        if action == "batch:DescribeJobs":
            raise RuntimeError("AccessDenied: batch:DescribeJobs")

    with Emulation(Scenario(batch=BatchScenario.succeeds(run_seconds=60))) as emu, ExitStack() as hooks:
        no_iam(emu)
        env = ready(emu)
        add_sync_call_hook(hooks, deny_describe)
        result = run_workflow(
            {"StartAt": "Run", "States": {"Run": submit_state(env)}},
            role_arn=ROLE,
            name="probe",
            execution_name="hooked",
        )
        assert seen == [*SYNC_RULE_ACTIONS, "batch:DescribeJobs"]
        assert result.status == "FAILED" and "AccessDenied" in (result.cause or "")
    assert deny_describe not in sync_call_hooks  # removed with its stack


def test_sync_task_of_an_array_job_waits_for_the_parent():
    with Emulation(Scenario(batch=BatchScenario.succeeds(run_seconds=300))) as emu:
        no_iam(emu)
        env = ready(emu)
        definition = {
            "StartAt": "Run",
            "States": {
                "Run": submit_state(
                    env, ResultSelector={"Status.$": "$.Status", "Summary.$": "$.ArrayProperties.StatusSummary"}
                )
            },
        }
        definition["States"]["Run"]["Parameters"]["ArrayProperties"] = {"Size.$": "$.size"}
        result = run_workflow(
            definition, role_arn=ROLE, name="probe", execution_name="array", execution_input={"size": 40}
        )
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert result.output["Status"] == "SUCCEEDED" and result.output["Summary"]["SUCCEEDED"] == 40


def test_sync_task_lets_a_parallel_watchdog_move_the_clock_and_terminate_a_stuck_job():
    """The watchdog's Waits decide the time: the .sync task must not run ahead to its own timeout meanwhile."""
    with Emulation(Scenario(batch=BatchScenario.no_capacity())) as emu:
        no_iam(emu)
        env = ready(emu)
        job_branch = {
            "StartAt": "Run",
            "States": {
                "Run": submit_state(
                    env,
                    next_state="Ended",
                    TimeoutSeconds=7200,
                    Catch=[{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Ended"}],
                ),
                "Ended": {"Type": "Pass", "End": True},
            },
        }
        find = {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:batch:listJobs",
            "Parameters": {"JobQueue": env.queue_arn, "Filters": [{"Name": "JOB_NAME", "Values": ["probe"]}]},
            "ResultSelector": {"Count.$": "States.ArrayLength($.JobSummaryList)", "Jobs.$": "$.JobSummaryList"},
            "ResultPath": "$.found",
        }
        watchdog = {
            "StartAt": "WaitForJob",
            "States": {
                "WaitForJob": {"Type": "Wait", "Seconds": 60, "Next": "FindJob"},
                "FindJob": {**find, "Next": "IsListed"},
                "IsListed": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.found.Count", "NumericGreaterThan": 0, "Next": "GiveItTime"}],
                    "Default": "WaitForJob",
                },
                "GiveItTime": {"Type": "Wait", "Seconds": 1200, "Next": "CheckJob"},
                "CheckJob": {**find, "Next": "Terminate"},
                "Terminate": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:batch:terminateJob",
                    "Parameters": {"JobId.$": "$.found.Jobs[0].JobId", "Reason": "stuck RUNNABLE"},
                    "ResultPath": None,
                    "End": True,
                },
            },
        }
        definition = {
            "StartAt": "RunJob",
            "States": {"RunJob": {"Type": "Parallel", "Branches": [job_branch, watchdog], "End": True}},
        }
        result = run_workflow(definition, role_arn=ROLE, name="probe", execution_name="stuck")
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        job_out, watch_out = result.output
        assert job_out["error"]["Error"] == "States.TaskFailed"  # not States.Timeout at 7,200 s
        assert json.loads(job_out["error"]["Cause"])["StatusReason"] == "stuck RUNNABLE"
        assert watch_out["found"]["Jobs"][0]["Status"] == "RUNNABLE"
        [submitted] = emu.batch.jobs.values()
        assert submitted.stopped_at - submitted.created_at >= 1200
        notice = emu.scenario.batch.sync_notice_seconds
        assert event_at(emu, result, "TaskStateExited", "Run") == submitted.stopped_at + notice


def test_submit_job_over_30_kib_is_refused_with_batchs_client_exception_and_just_under_is_accepted():
    """AWS Batch service quotas: a SubmitJob payload is at most 30 KiB (the request body as the SDK sends it)."""
    with Emulation() as emu:
        env = environment(emu)
        with pytest.raises(ClientError) as refused:
            submit(env, containerOverrides={"command": ["x" * 4096] * 8})
        assert refused.value.response["Error"]["Code"] == "ClientException"
        assert "exceeds the maximum of 30720 bytes" in refused.value.response["Error"]["Message"]
        assert submit(env, containerOverrides={"command": ["x" * 4096] * 7})
