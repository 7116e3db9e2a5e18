"""Lanes (stack config maxConcurrentRuns): the program declares one ``ComputeEnvironment`` component per lane, each a
compute environment with its baseline launch template and its job queue, sharing the rest; lane 0 keeps the names of
a stack of one lane. Checked under mocks and in the emulated deploy, Batch's Region quotas included."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from offline_stacks import load_stack_config, run_program

from batch_lustre.emulation import Emulation, setup_stack
from batch_lustre.emulation.batch_quotas import MAX_COMPUTE_ENVIRONMENTS
from batch_lustre.emulation.clients import client
from batch_lustre.emulation.environment import offline_environment
from batch_lustre.program.parameters import TASK_EXPORT

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws")

REGION = "us-east-1"
COMPUTE_ENVIRONMENT = "aws:batch/computeEnvironment:ComputeEnvironment"
JOB_QUEUE = "aws:batch/jobQueue:JobQueue"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LANES = 3
# What the lanes share: one of each, whatever the number of lanes.
SHARED = (
    "aws:ecr/repository:Repository",
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:dynamodb/table:Table",
)


@pytest.fixture(scope="module")
def three_lanes():
    return run_program(TASK_EXPORT, config={**load_stack_config(TASK_EXPORT), "batch-lustre:maxConcurrentRuns": "3"})


def _lane(run, k: int, type_token: str):
    prefix = "batch-lustre" if k == 0 else f"batch-lustre-lane-{k}"
    suffix = {COMPUTE_ENVIRONMENT: "ce", JOB_QUEUE: "queue", LAUNCH_TEMPLATE: "baseline"}[type_token]
    (found,) = [r for r in run.of_type(type_token) if r.name == f"{prefix}-{suffix}"]
    return found


def test_each_lane_is_a_compute_environment_on_its_own_baseline_with_its_own_queue(three_lanes):
    run = three_lanes
    for type_token in (COMPUTE_ENVIRONMENT, JOB_QUEUE, LAUNCH_TEMPLATE):
        assert len(run.of_type(type_token)) == LANES, type_token
    components = sorted(r.name for r in run.of_type("batchlustre:index:ComputeEnvironment"))
    assert components == ["batch-lustre", "batch-lustre-lane-1", "batch-lustre-lane-2"]
    for k in range(LANES):
        environment, queue, baseline = (_lane(run, k, t) for t in (COMPUTE_ENVIRONMENT, JOB_QUEUE, LAUNCH_TEMPLATE))
        assert environment.inputs["computeResources"]["launchTemplate"]["launchTemplateId"] == baseline.id
        assert queue.inputs["computeEnvironmentOrders"] == [
            {"computeEnvironment": environment.state["arn"], "order": 1}
        ]
        assert environment.inputs["tags"]["Name"] == ("taskexport" if k == 0 else f"taskexport-lane-{k}") + "-ce"


def test_the_lanes_share_the_repository_role_security_group_subnet_and_log_group(three_lanes):
    run = three_lanes
    for type_token in SHARED:
        assert len(run.of_type(type_token)) == 1, type_token
    assert [r.name for r in run.of_type("aws:iam/role:Role") if "instance" in r.name] == ["batch-lustre-instance-role"]
    logs = [r.name for r in run.of_type("aws:cloudwatch/logGroup:LogGroup") if r.name.endswith("batch-job-logs")]
    assert logs == ["batch-lustre-batch-job-logs"]
    resources = [_lane(run, k, COMPUTE_ENVIRONMENT).inputs["computeResources"] for k in range(LANES)]
    (group,) = run.of_type("aws:ec2/securityGroup:SecurityGroup")
    (profile,) = run.of_type("aws:iam/instanceProfile:InstanceProfile")
    (scratch,) = [r for r in run.of_type("aws:ec2/subnet:Subnet") if r.name.endswith("private-0")]
    for declared in resources:
        assert declared["securityGroupIds"] == [group.id]
        assert declared["instanceRole"] == profile.state["arn"]
        assert declared["subnets"] == [scratch.id]  # the file system's subnet, for every lane
    # Every other input of the environments is the same (the compute settings apply to every lane).
    same = [{k: v for k, v in r.items() if k not in ("launchTemplate", "tags")} for r in resources]
    assert same[1:] == same[:-1]


def test_every_lane_waits_for_the_instance_role_policies_before_it_is_created(three_lanes):
    attachments = {"batch-lustre-instance-role-ecs", "batch-lustre-instance-role-ssm", "batch-lustre-instance-profile"}
    for k in range(LANES):
        assert attachments <= set(three_lanes.dependencies[_lane(three_lanes, k, COMPUTE_ENVIRONMENT).name])


def test_the_lanes_output_names_each_lanes_compute_environment_and_queue_lane_0_first(three_lanes):
    run = three_lanes
    assert run.outputs["lanes"] == [
        {
            "computeEnvironment": _lane(run, k, COMPUTE_ENVIRONMENT).state["name"],
            "jobQueue": _lane(run, k, JOB_QUEUE).state["name"],
        }
        for k in range(LANES)
    ]
    assert (run.outputs["computeEnvironment"], run.outputs["jobQueue"]) == tuple(run.outputs["lanes"][0].values())


def test_more_lanes_add_resources_and_change_no_name_of_a_stack_of_one_lane(three_lanes):
    one = {urn: aliases for urn, aliases in run_program(TASK_EXPORT).urns.items()}
    assert set(one) < set(three_lanes.urns)
    assert all(three_lanes.urns[urn] == aliases for urn, aliases in one.items())  # lane 0's aliases as before
    added = {urn.rsplit("::", 1)[1] for urn in set(three_lanes.urns) - set(one)}
    assert added == {f"batch-lustre-lane-{k}{suffix}" for k in (1, 2) for suffix in ("", "-baseline", "-ce", "-queue")}


# --- in the emulated AWS -------------------------------------------------------------------------------------


def test_the_emulated_deploy_of_three_lanes_creates_three_environments_three_queues_and_the_table():
    with offline_environment(REGION), Emulation(region=REGION) as emu:
        stack = setup_stack(emu, TASK_EXPORT, config_changes={"maxConcurrentRuns": LANES})
        batch = client("batch", REGION)
        environments = batch.describe_compute_environments()["computeEnvironments"]
        queues = batch.describe_job_queues()["jobQueues"]
        tables = client("dynamodb", REGION).list_tables()["TableNames"]
    assert len(environments) == len(queues) == LANES
    assert tables == [stack.refs.lane_table_name]
    by_arn = {e["computeEnvironmentArn"]: e for e in environments}
    for lane in stack.refs.lanes:  # the workflow's refs name every lane, lane 0 first
        environment = by_arn[lane.compute_environment_arn]
        template = environment["computeResources"]["launchTemplate"]
        assert (template["launchTemplateId"], template["version"]) == (
            lane.baseline_launch_template_id,
            lane.baseline_launch_template_version,
        )
        (queue,) = [q for q in queues if q["jobQueueArn"] == lane.job_queue_arn]
        assert queue["computeEnvironmentOrder"][0]["computeEnvironment"] == lane.compute_environment_arn
    names = [by_arn[lane.compute_environment_arn]["computeEnvironmentName"] for lane in stack.refs.lanes]
    assert "lane" not in names[0]  # lane 0 is the stack's compute environment of before lanes
    assert all(f"lane-{k}" in names[k] for k in range(1, LANES)), names
    assert len({lane.compute_environment_arn for lane in stack.refs.lanes}) == LANES


def _deploy_beside(others: int) -> list[str]:
    """Deploy a stack of three lanes into a Region where the account has ``others`` compute environments already;
    the names of the compute environments there after it."""
    with offline_environment(REGION), Emulation(region=REGION) as emu:
        batch = client("batch", REGION)
        for i in range(others):
            batch.create_compute_environment(computeEnvironmentName=f"other-{i}", type="UNMANAGED")
        try:
            setup_stack(emu, TASK_EXPORT, config_changes={"maxConcurrentRuns": LANES})
        finally:
            names = [e["computeEnvironmentName"] for e in batch.describe_compute_environments()["computeEnvironments"]]
    return names


def test_lanes_that_do_not_fit_beside_the_accounts_compute_environments_fail_the_deploy_with_batchs_error():
    assert len(_deploy_beside(MAX_COMPUTE_ENVIRONMENTS - LANES)) == MAX_COMPUTE_ENVIRONMENTS  # they just fit
    with pytest.raises(ClientError, match="Maximum number of compute environments per Region is 50") as refused:
        _deploy_beside(MAX_COMPUTE_ENVIRONMENTS - LANES + 1)
    assert refused.value.response["Error"]["Code"] == "ClientException"
