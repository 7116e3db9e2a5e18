"""The emulation runs what the Pulumi program deploys: a change to ``components/`` changes what a run meets.

Each test plants a defect in what the program declares (a policy, a trust policy, a timeout), deploys the program
into the emulation (``setup_stack`` runs ``stack.main`` under mocks that create every declared resource) and shows
the failure AWS would give.
"""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile

import pulumi
import pytest
from botocore.exceptions import ClientError

from batch_lustre.emulation import Emulation, catalogue_run, setup_stack
from batch_lustre.emulation.catalogue import DEPLOY_DURING_JOB
from batch_lustre.emulation.catalogue_run import STOP_DURING_JOB_AT, run_scenario
from batch_lustre.emulation.clients import client
from batch_lustre.emulation.deploy import forget_deployments
from batch_lustre.emulation.deploy_resources import CREATORS, Declared, UnsupportedResource, create
from batch_lustre.emulation.environment import offline_environment
from batch_lustre.program import asl
from batch_lustre.program.asl import iam
from batch_lustre.program.components import workflow as workflow_module
from tests.offline_stacks import run_program

REGION = "us-east-1"


@pytest.fixture
def fresh_deploys():
    """Deploys in this test run the program again (a planted change must be seen), and later tests do not
    replay a deploy of the changed program."""
    forget_deployments()
    yield
    forget_deployments()


@pytest.mark.parametrize("mode", ["taskexport", "autoexport"])
def test_every_resource_the_program_declares_is_created_in_the_emulation(mode):
    declared = run_program(mode)
    with offline_environment(REGION), Emulation(region=REGION) as emu:
        stack = setup_stack(emu, mode, stack=mode)
        assert stack.deployment is not None
        created = stack.deployment.counts()
        functions = client("lambda", REGION).list_functions()["Functions"]
    expected: dict[str, int] = {}
    for resource in declared.resources:
        if resource.custom:
            expected[resource.type] = expected.get(resource.type, 0) + 1
    assert created == dict(sorted(expected.items()))
    # each function as declared: its own timeout, memory and environment
    by_name = {f["FunctionName"]: f for f in functions}
    for resource in declared.of_type("aws:lambda/function:Function"):
        deployed = next(f for name, f in by_name.items() if name.startswith(f"{resource.name}-"))
        assert deployed["Timeout"] == resource.inputs["timeout"]
        assert deployed["MemorySize"] == resource.inputs["memorySize"]
        declared_variables = (resource.inputs.get("environment") or {}).get("variables") or {}
        assert deployed.get("Environment", {}).get("Variables", {}) == declared_variables


def test_a_resource_type_the_emulation_cannot_create_is_an_error():
    assert "aws:sns/topic:Topic" not in CREATORS
    with pytest.raises(UnsupportedResource, match="cannot create aws:sns/topic:Topic"):
        create(Declared("aws:sns/topic:Topic", "alerts", "alerts-1234567", {}), REGION, "123456789012")


def test_the_deployed_compute_environment_uses_batchs_service_linked_role():
    with offline_environment(REGION), Emulation(region=REGION) as emu:
        stack = setup_stack(emu, "taskexport")
        environment = client("batch", REGION).describe_compute_environments(
            computeEnvironments=[stack.compute_environment_name]
        )["computeEnvironments"][0]
    assert environment["serviceRole"].lower().endswith("/awsserviceroleforbatch")


def test_the_deployed_lane_table_is_the_declared_one_keyed_by_lane_number_on_demand_and_tagged():
    with offline_environment(REGION), Emulation(region=REGION) as emu:
        stack = setup_stack(emu, "taskexport")
        dynamodb = client("dynamodb", REGION)
        name = stack.refs.lane_table_name
        table = dynamodb.describe_table(TableName=name)["Table"]
        tags = dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
        assert stack.deployment is not None
        outputs = stack.deployment.outputs
    assert name == f"taskexport-{stack.refs.stack_id}-lanes" == outputs["laneTable"]
    assert table["KeySchema"] == [{"AttributeName": "lane", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "lane", "AttributeType": "N"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["DeletionProtectionEnabled"] is False
    assert {t["Key"]: t["Value"] for t in tags}["batch-lustre:stack-id"] == stack.refs.stack_id
    assert outputs["lanes"] == [{"computeEnvironment": stack.compute_environment_name, "jobQueue": outputs["jobQueue"]}]


def test_wait_for_without_describe_file_systems_fails_the_run_with_access_denied(monkeypatch, fresh_deploys):
    full = workflow_module.iam.lambda_policy

    def without_describe_file_systems(refs, module: str) -> dict:
        document = json.loads(json.dumps(full(refs, module)))
        if module == "wait_for":
            for statement in document["Statement"]:
                statement["Action"] = [a for a in statement["Action"] if a != "fsx:DescribeFileSystems"]
            document["Statement"] = [s for s in document["Statement"] if s["Action"]]
        return document

    monkeypatch.setattr(workflow_module.iam, "lambda_policy", without_describe_file_systems)
    result = run_scenario("success", "taskexport", timeout_seconds=120)
    assert result.status == "FAILED"
    assert "fsx:DescribeFileSystems" in (result.cause or "") or "AccessDenied" in (result.cause or "")


def test_wait_for_without_the_lane_checks_actions_ends_the_run_before_it_creates_anything(monkeypatch, fresh_deploys):
    full = workflow_module.iam.lambda_policy

    def without_describe_execution(refs, module: str) -> dict:
        document = json.loads(json.dumps(full(refs, module)))
        if module == "wait_for":
            document["Statement"] = [s for s in document["Statement"] if s["Action"] != ["dynamodb:Scan"]]
        return document

    monkeypatch.setattr(workflow_module.iam, "lambda_policy", without_describe_execution)
    result = run_scenario("success", "taskexport", timeout_seconds=120)
    assert (result.status, result.error) == ("FAILED", "FindLaneFailed"), result.cause
    assert "dynamodb:Scan" in (result.cause or "")
    assert "fsx:createFileSystem" not in result.calls


@pytest.mark.parametrize(
    ("service", "wrong", "code"),
    [
        ("lambda.amazonaws.com", "ec2.amazonaws.com", "InvalidParameterValueException"),
        ("states.amazonaws.com", "lambda.amazonaws.com", "AccessDeniedException"),
    ],
)
def test_a_role_whose_trust_names_the_wrong_service_is_refused_at_deploy(
    monkeypatch, fresh_deploys, service, wrong, code
):
    right = workflow_module.assume_role_policy
    monkeypatch.setattr(workflow_module, "assume_role_policy", lambda s: right(wrong if s == service else s))
    with offline_environment(REGION), Emulation(region=REGION) as emu, pytest.raises(ClientError) as refused:
        setup_stack(emu, "taskexport")
    assert refused.value.response["Error"]["Code"] == code


def test_the_deployed_wait_for_timeout_is_the_one_the_run_meets(monkeypatch, fresh_deploys):
    # WaitFor waits between checks as long as its function's timeout allows (less a margin): deployed with 20 s,
    # no wait fits, so every wait happens in the state machine's Wait state, one invocation per check: the run
    # still succeeds, with far more transitions than the 60 the deployed 900 s timeout keeps it under
    # (tests/test_scenarios.py, the time targets).
    monkeypatch.setattr(workflow_module, "WAIT_FOR_TIMEOUT_SECONDS", 20)
    short = run_scenario("success", "taskexport", timeout_seconds=120)
    assert short.status == "SUCCEEDED"
    assert short.transitions > 100


def test_a_config_the_program_refuses_stops_the_deploy(fresh_deploys):
    with offline_environment(REGION), Emulation(region=REGION) as emu, pytest.raises(pulumi.RunError):
        setup_stack(emu, "taskexport", max_vcpus=-1)


def test_the_emulated_deploy_refuses_a_secret_every_run_would_refuse_naming_both_keys(fresh_deploys):
    # The secret's jobDefinitionVcpus (32) above the compute environment's maxvCpus: ExtractParameters would refuse
    # every run, so the program refuses the deploy, before any resource.
    with offline_environment(REGION), Emulation(region=REGION) as emu:
        with pytest.raises(pulumi.RunError) as caught:
            setup_stack(emu, "taskexport", max_vcpus=16)
        assert client("secretsmanager", REGION).list_secrets()["SecretList"] == []
        assert client("stepfunctions", REGION).list_state_machines()["stateMachines"] == []
    assert str(caught.value) == (
        "stack taskexport: jobDefinitionVcpus=32 is not accepted: accepted at most computeEnvironmentMaxvCpus=16, "
        "or the job would wait forever in RUNNABLE"
    )


@pytest.mark.parametrize(
    ("service_role", "strategy", "refused"),
    [
        (True, "BEST_FIT_PROGRESSIVE", "service-linked role"),
        (False, "BEST_FIT", "allocation strategy"),
        (False, "BEST_FIT_PROGRESSIVE", None),
    ],
)
def test_an_infrastructure_update_needs_the_service_linked_role_and_an_allowed_strategy(
    service_role, strategy, refused
):
    with offline_environment(REGION), Emulation(region=REGION):
        ec2, iam, batch = client("ec2", REGION), client("iam", REGION), client("batch", REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
        trust = {
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ]
        }
        role = iam.create_role(RoleName="custom-batch", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        profile = iam.create_instance_profile(InstanceProfileName="instance")["InstanceProfile"]["Arn"]
        template = ec2.create_launch_template(LaunchTemplateName="run", LaunchTemplateData={})["LaunchTemplate"]
        batch.create_compute_environment(
            computeEnvironmentName="ce-under-test",
            type="MANAGED",
            state="ENABLED",
            **({"serviceRole": role} if service_role else {}),
            computeResources={
                "type": "EC2",
                "allocationStrategy": strategy,
                "minvCpus": 0,
                "maxvCpus": 16,
                "instanceTypes": ["optimal"],
                "subnets": [subnet],
                "securityGroupIds": [group],
                "instanceRole": profile,
            },
        )
        update = {"launchTemplate": {"launchTemplateId": template["LaunchTemplateId"], "version": "1"}}
        if refused is None:
            batch.update_compute_environment(computeEnvironment="ce-under-test", computeResources=update)
        else:
            with pytest.raises(ClientError, match=refused) as caught:
                batch.update_compute_environment(computeEnvironment="ce-under-test", computeResources=update)
            assert caught.value.response["Error"]["Code"] == "ClientException"


def test_the_deployed_stack_keeps_its_running_costs_down(fresh_deploys):
    """S3 traffic of the private subnets through the gateway endpoint, untagged images expiring, and (configured)
    noncurrent versions expiring: as the emulated EC2, ECR and S3 hold them after the deploy."""
    with offline_environment(REGION), Emulation(region=REGION) as emu:
        stack = setup_stack(emu, "taskexport", config_changes={"bucketNoncurrentVersionExpiryDays": 30})
        ec2 = client("ec2", REGION)
        [endpoint] = ec2.describe_vpc_endpoints()["VpcEndpoints"]
        [private_table] = ec2.describe_route_tables(
            Filters=[{"Name": "tag:Name", "Values": ["taskexport-private-rt"]}]
        )["RouteTables"]
        repository = stack.refs.job_repository_url.split("/", 1)[1]
        ecr_policy = json.loads(
            client("ecr", REGION).get_lifecycle_policy(repositoryName=repository)["lifecyclePolicyText"]
        )
        bucket_rules = client("s3", REGION).get_bucket_lifecycle_configuration(Bucket=stack.refs.bucket_name)["Rules"]
    assert endpoint["ServiceName"] == f"com.amazonaws.{REGION}.s3"
    assert endpoint["VpcEndpointType"] == "Gateway"
    assert endpoint["VpcId"] == stack.vpc_id
    assert endpoint["RouteTableIds"] == [private_table["RouteTableId"]]
    assert any(
        route.get("GatewayId") == endpoint["VpcEndpointId"] and route.get("DestinationPrefixListId")
        for route in private_table["Routes"]
    )
    assert [rule["selection"] for rule in ecr_policy["rules"]] == [
        {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14}
    ]
    assert [(rule["Status"], rule["NoncurrentVersionExpiration"]["NoncurrentDays"]) for rule in bucket_rules] == [
        ("Enabled", 30)
    ]


def test_aws_refuses_zero_day_expiries_and_an_endpoint_to_a_service_it_does_not_offer():
    """What the program never sends (stack config refuses ecrUntaggedImageExpiryDays=0; with
    bucketNoncurrentVersionExpiryDays=0 no lifecycle rule is declared) ECR and S3 would refuse at deploy; a gateway
    endpoint to a service the Region does not offer is refused by EC2."""
    with offline_environment(REGION), Emulation(region=REGION):
        ecr = client("ecr", REGION)
        ecr.create_repository(repositoryName="expiry-check")
        zero_days = {
            "rules": [
                {
                    "rulePriority": 1,
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": 0,
                    },
                    "action": {"type": "expire"},
                }
            ]
        }
        with pytest.raises(ClientError, match="InvalidParameterException"):
            create(
                Declared(
                    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
                    "expiry",
                    "expiry-1234567",
                    {"repository": "expiry-check", "policy": zero_days},
                ),
                REGION,
                "123456789012",
            )
        client("s3", REGION).create_bucket(Bucket="expiry-check")
        zero_noncurrent_days = {"noncurrentVersionExpiration": {"noncurrentDays": 0}}
        with pytest.raises(ClientError, match="InvalidArgument"):
            create(
                Declared(
                    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                    "lifecycle",
                    "lifecycle-1234567",
                    {"bucket": "expiry-check", "rules": [{"id": "r", "status": "Enabled", **zero_noncurrent_days}]},
                ),
                REGION,
                "123456789012",
            )
        vpc_id = client("ec2", REGION).create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        with pytest.raises(ClientError, match="InvalidServiceName"):
            create(
                Declared(
                    "aws:ec2/vpcEndpoint:VpcEndpoint",
                    "endpoint",
                    "endpoint-1234567",
                    {"vpcId": vpc_id, "serviceName": f"com.amazonaws.{REGION}.s4", "vpcEndpointType": "Gateway"},
                ),
                REGION,
                "123456789012",
            )


def _redeployed_with_new_lambda_code(emu, stack, said):
    """What ``pulumi up`` does after a change to every handler: each function's new code published as a new
    version, the definition rebuilt on the new versions, the state machine's role policy and definition replaced."""
    lam = client("lambda", REGION)
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    raise RuntimeError('new code')\n")
    refs = stack.refs
    fields = [f for f in dataclasses.fields(refs) if f.name.endswith("_function_arn") and getattr(refs, f.name)]
    republished = {}
    for field in fields:
        name = getattr(refs, field.name).rsplit(":", 1)[0]
        version = lam.update_function_code(FunctionName=name, ZipFile=broken.getvalue(), Publish=True)["Version"]
        republished[field.name] = f"{name}:{version}"
    new_refs = dataclasses.replace(refs, **republished)
    definition = asl.build_definition(new_refs)
    role = stack.role_arn.rsplit("/", 1)[1]
    [policy_name] = client("iam", REGION).list_role_policies(RoleName=role)["PolicyNames"]
    client("iam", REGION).put_role_policy(
        RoleName=role,
        PolicyName=policy_name,
        PolicyDocument=json.dumps(iam.state_machine_policy(new_refs, definition)),
    )
    sfn = client("stepfunctions", REGION)
    [machine] = [m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == refs.state_machine_name]
    sfn.update_state_machine(stateMachineArn=machine["stateMachineArn"], definition=json.dumps(definition))
    said.append(len(emu.lambdas.invocations))
    said.append(sorted(republished.values()))
    return []


def test_a_deploy_of_new_lambda_code_during_a_run_leaves_the_run_on_the_versions_it_started_with(monkeypatch):
    """During the job, a deploy publishes new versions of every function (whose code would fail), points the state
    machine at them and replaces its role's policy: the running execution goes on invoking version 1 of each, which
    its role may still invoke, and succeeds."""
    seen: list = []
    emulations: list = []

    def redeploy(emu, stack):
        emulations.append(emu)
        return _redeployed_with_new_lambda_code(emu, stack, seen)

    monkeypatch.setitem(catalogue_run.OPERATOR_ACTIONS, DEPLOY_DURING_JOB, (STOP_DURING_JOB_AT, redeploy))
    result = run_scenario("deploy-during-run", "taskexport", timeout_seconds=120)
    assert result.got == "SUCCEEDED", result.cause
    invoked_before, republished = seen
    assert republished and all(arn.endswith(":2") for arn in republished)
    later = emulations[0].lambdas.invocations[invoked_before:]
    assert later  # the run invoked functions after the deploy (WaitFor for the export, at least)
    assert {invocation.version for invocation in later} == {"1"}
