"""What each component declares, checked on the inputs recorded by the mocks while the
real program (``stack.main``) ran for each stack, applies included (``preview=False``)."""

import base64
import inspect
import json
import re
from pathlib import Path

import botocore.session
import pulumi
import pulumi_aws as aws
import pytest
from offline_stacks import ACCOUNT_ID, REGION, load_stack_config, run_program

from batch_lustre.emulation.host_user_data import immutable_dirs, is_mime_multipart, parse_lustre_mount
from batch_lustre.emulation.iam_policy import Policy, decide
from batch_lustre.emulation.moto_seam import aws_managed_policies_data
from batch_lustre.program import asl
from batch_lustre.program.asl import iam, naming
from batch_lustre.program.asl.refs import LaneRefs, WorkflowRefs
from batch_lustre.program.asl.states import all_states
from batch_lustre.program.parameters import AUTO_EXPORT, TASK_EXPORT, parameters_for

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws")

ROOT = Path(__file__).resolve().parent.parent

VPC = "aws:ec2/vpc:Vpc"
RANDOM_ID = "random:index/randomId:RandomId"
SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
REPOSITORY = "aws:ecr/repository:Repository"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
INSTANCE_PROFILE = "aws:iam/instanceProfile:InstanceProfile"
COMPUTE_ENVIRONMENT = "aws:batch/computeEnvironment:ComputeEnvironment"
JOB_QUEUE = "aws:batch/jobQueue:JobQueue"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
FUNCTION = "aws:lambda/function:Function"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
BUCKET_LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
ECR_LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
TABLE = "aws:dynamodb/table:Table"

AUTOEXPORT_ONLY_RUNTIME = {"waitForCheckMetricsSeconds", "lambdaPeriodSeconds", "lambdaTimeDiffMinutes"}

# A non-default compute configuration, to see config values flow to the resources.
CUSTOM = {
    "batch-lustre:envName": "Prod-Env",
    "batch-lustre:ecrRepositoryName": "team/lustre-job",
    "batch-lustre:computeEnvironmentType": "EC2",
    "batch-lustre:computeEnvironmentAllocationStrategy": "BEST_FIT_PROGRESSIVE",
    "batch-lustre:computeEnvironmentInstanceTypes": '["c6i", "m6i.4xlarge"]',
    "batch-lustre:computeEnvironmentMinvCpus": "2",
    "batch-lustre:computeEnvironmentDesiredvCpus": "4",
    "batch-lustre:computeEnvironmentMaxvCpus": "64",
    "batch-lustre:lustreStorageCapacity": "4800",
    "batch-lustre:jobDefinitionVcpus": "16",
    "batch-lustre:ecrUntaggedImageExpiryDays": "30",
    "batch-lustre:bucketNoncurrentVersionExpiryDays": "90",
    "batch-lustre:jobLogRetentionDays": "365",
}

# The workflow state machine's logical name: fixed, whatever envName and the mode.
WORKFLOW_MACHINE = "batch-lustre-state-machine"


@pytest.fixture(scope="session")
def runs():
    return {mode: run_program(mode) for mode in (TASK_EXPORT, AUTO_EXPORT)}


@pytest.fixture(scope="session")
def custom():
    return run_program(TASK_EXPORT, config={**load_stack_config(TASK_EXPORT), **CUSTOM})


@pytest.fixture(params=[TASK_EXPORT, AUTO_EXPORT])
def run(request, runs):
    return runs[request.param]


def _policy(resource, key="policy"):
    return json.loads(resource.inputs[key])


def _role_of_function(run, function):
    return next(r for r in run.of_type(ROLE) if r.state["arn"] == function.inputs["role"])


# --- Network ---


def test_network_has_a_public_and_a_private_subnet_in_each_of_two_zones(run):
    vpc = run.one(VPC)
    subnets = run.of_type(SUBNET)
    assert len(subnets) == 4
    assert all(s.inputs["vpcId"] == vpc.id for s in subnets)
    private = [s for s in subnets if "private" in s.name]
    public = [s for s in subnets if "public" in s.name]
    assert {s.inputs["availabilityZone"] for s in private} == {"us-east-1a", "us-east-1b"}
    assert {s.inputs["availabilityZone"] for s in public} == {"us-east-1a", "us-east-1b"}
    assert not any(s.inputs["mapPublicIpOnLaunch"] for s in private)
    assert vpc.inputs["enableDnsSupport"] and vpc.inputs["enableDnsHostnames"]


def test_private_subnets_reach_out_through_one_nat_gateway_in_a_public_subnet(run):
    nat = run.one(NAT)
    assert "public" in run.by_id(nat.inputs["subnetId"]).name
    private_table = run.one(ROUTE_TABLE, "private-rt")
    assert private_table.inputs["routes"] == [{"cidrBlock": "0.0.0.0/0", "natGatewayId": nat.id}]
    associated = {
        a.inputs["subnetId"]
        for a in run.of_type(ROUTE_TABLE_ASSOCIATION)
        if a.inputs["routeTableId"] == private_table.id
    }
    assert associated == {s.id for s in run.of_type(SUBNET) if "private" in s.name}


# --- DataBucket ---


def test_private_subnets_reach_s3_through_a_gateway_endpoint_not_the_nat_gateway(run):
    endpoint = run.one(VPC_ENDPOINT)
    assert endpoint.inputs["vpcId"] == run.one(VPC).id
    assert endpoint.inputs["serviceName"] == f"com.amazonaws.{REGION}.s3"
    assert endpoint.inputs["vpcEndpointType"] == "Gateway"
    assert endpoint.inputs["routeTableIds"] == [run.one(ROUTE_TABLE, "private-rt").id]


def test_ecr_repository_expires_untagged_images_the_configured_days_after_their_push(run, custom):
    for stack_run, days in ((run, 14), (custom, 30)):
        policy = stack_run.one(ECR_LIFECYCLE)
        assert policy.inputs["repository"] == stack_run.one(REPOSITORY).state["name"]
        assert json.loads(policy.state["policy"]) == {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Expire untagged images {days} days after their push",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": days,
                    },
                    "action": {"type": "expire"},
                }
            ]
        }


def test_bucket_keeps_noncurrent_versions_forever_unless_an_expiry_is_configured(run, custom):
    assert not run.of_type(BUCKET_LIFECYCLE)
    lifecycle = custom.one(BUCKET_LIFECYCLE)
    assert lifecycle.inputs["bucket"] == custom.one(BUCKET).id
    assert lifecycle.inputs["rules"] == [
        {
            "id": "expire-noncurrent-versions",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "noncurrentVersionExpiration": {"noncurrentDays": 90},
        }
    ]


def test_bucket_is_versioned_encrypted_and_blocks_public_access(run):
    bucket = run.one(BUCKET)
    versioning = run.one(VERSIONING)
    assert versioning.inputs["bucket"] == bucket.id
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    encryption = run.one(ENCRYPTION)
    assert encryption.inputs["bucket"] == bucket.id
    assert encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    block = run.one(PUBLIC_ACCESS_BLOCK)
    assert block.inputs["bucket"] == bucket.id
    for setting in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert block.inputs[setting] is True, setting
    assert not bucket.inputs.get("forceDestroy")


def test_bucket_policy_denies_every_request_without_tls(run):
    bucket = run.one(BUCKET)
    policy = run.one(BUCKET_POLICY)
    assert policy.inputs["bucket"] == bucket.id
    [statement] = _policy(policy)["Statement"]
    arn = bucket.state["arn"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert sorted(statement["Resource"]) == sorted([arn, f"{arn}/*"])
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# --- ComputeEnvironment ---


def test_lustre_security_group_allows_988_and_1018_to_1023_from_itself_only(run):
    group = run.one(SECURITY_GROUP)
    rules = run.of_type(INGRESS)
    assert {(r.inputs["fromPort"], r.inputs["toPort"]) for r in rules} == {(988, 988), (1018, 1023)}
    for rule in rules:
        assert rule.inputs["ipProtocol"] == "tcp"
        assert rule.inputs["securityGroupId"] == group.id
        assert rule.inputs["referencedSecurityGroupId"] == group.id
        assert "cidrIpv4" not in rule.inputs
    [egress] = run.of_type(EGRESS)
    assert egress.inputs["securityGroupId"] == group.id
    assert (egress.inputs["ipProtocol"], egress.inputs["cidrIpv4"]) == ("-1", "0.0.0.0/0")


def test_baseline_launch_template_requires_imdsv2_and_makes_the_unmounted_mount_point_immutable(run):
    template = run.one(LAUNCH_TEMPLATE)
    metadata = template.inputs["metadataOptions"]
    assert metadata["httpTokens"] == "required"
    assert metadata["httpPutResponseHopLimit"] == 2
    script = base64.b64decode(template.inputs["userData"]).decode()
    assert is_mime_multipart(script)  # else Batch puts the compute environment INVALID
    assert immutable_dirs(script) == [naming.HOST_MOUNT_DIR]
    assert naming.HOST_SCRATCH_DIR.startswith(naming.HOST_MOUNT_DIR + "/")  # the job's host path lies under it
    assert parse_lustre_mount(script) is None


def test_compute_environment_takes_type_strategy_instance_types_and_vcpus_from_config(custom):
    resources = custom.one(COMPUTE_ENVIRONMENT).inputs["computeResources"]
    assert resources["type"] == "EC2"
    assert resources["allocationStrategy"] == "BEST_FIT_PROGRESSIVE"
    assert resources["instanceTypes"] == ["c6i", "m6i.4xlarge"]
    assert (resources["minVcpus"], resources["desiredVcpus"], resources["maxVcpus"]) == (2, 4, 64)


def test_compute_environment_defaults_are_the_stack_file_values(run):
    resources = run.one(COMPUTE_ENVIRONMENT).inputs["computeResources"]
    assert (resources["type"], resources["allocationStrategy"], resources["instanceTypes"]) == (
        "SPOT",
        "BEST_FIT_PROGRESSIVE",
        ["optimal"],
    )
    assert (resources["minVcpus"], resources["desiredVcpus"], resources["maxVcpus"]) == (0, 0, 256)


def test_compute_environment_uses_the_baseline_launch_template_at_its_latest_version(run):
    template = run.one(LAUNCH_TEMPLATE)
    launch_template = run.one(COMPUTE_ENVIRONMENT).inputs["computeResources"]["launchTemplate"]
    assert launch_template == {"launchTemplateId": template.id, "version": str(template.state["latestVersion"])}


def test_compute_environment_runs_in_the_lustre_group(run):
    environment = run.one(COMPUTE_ENVIRONMENT)
    resources = environment.inputs["computeResources"]
    assert resources["securityGroupIds"] == [run.one(SECURITY_GROUP).id]
    assert resources["instanceRole"] == run.one(INSTANCE_PROFILE).state["arn"]
    assert resources["ec2Configurations"] == [{"imageType": "ECS_AL2023"}]
    assert (environment.inputs["type"], environment.inputs["state"]) == ("MANAGED", "ENABLED")


def test_compute_environment_has_no_service_role_so_batch_uses_its_service_linked_role(run):
    assert "serviceRole" not in run.one(COMPUTE_ENVIRONMENT).inputs


def test_compute_environment_update_policy_lets_running_jobs_run_their_timeout(run):
    config = load_stack_config(run.stack)
    assert run.one(COMPUTE_ENVIRONMENT).inputs["updatePolicy"] == {
        "terminateJobsOnUpdate": False,
        "jobExecutionTimeoutMinutes": int(config["batch-lustre:jobTimeoutMinutes"]),
    }


def test_a_job_timeout_past_batchs_range_gives_running_jobs_the_most_batch_allows():
    most = botocore.session.get_session().get_service_model("batch").shape_for("UpdatePolicy")
    most = most.members["jobExecutionTimeoutMinutes"].metadata["max"]
    config = {**load_stack_config(TASK_EXPORT), "batch-lustre:jobTimeoutMinutes": "10080"}
    policy = run_program(TASK_EXPORT, config=config).one(COMPUTE_ENVIRONMENT).inputs["updatePolicy"]
    assert policy["jobExecutionTimeoutMinutes"] == most == 7200


def test_job_queue_feeds_the_compute_environment(run):
    queue = run.one(JOB_QUEUE)
    assert queue.inputs["priority"] == 1
    assert queue.inputs["state"] == "ENABLED"
    assert queue.inputs["computeEnvironmentOrders"] == [
        {"computeEnvironment": run.one(COMPUTE_ENVIRONMENT).state["arn"], "order": 1}
    ]


def test_instance_role_is_an_ecs_instance_with_ssm_and_its_profile(run):
    role = run.one(ROLE, "instance-role")
    assert _policy(role, "assumeRolePolicy")["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    attached = {a.inputs["policyArn"] for a in run.of_type(ATTACHMENT) if a.inputs["role"] == role.state["name"]}
    assert attached == {
        "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    }
    assert run.one(INSTANCE_PROFILE).inputs["role"] == role.state["name"]


def test_ecr_repository_is_named_from_config_scanned_on_push_and_keeps_its_images(run, custom):
    expected = {TASK_EXPORT: "batch-job-with-lustre-task-export", AUTO_EXPORT: "batch-job-with-lustre-auto-export"}
    repository = run.one(REPOSITORY)
    assert repository.inputs["name"] == expected[run.stack]
    assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository.inputs["forceDelete"] is False
    assert custom.one(REPOSITORY).inputs["name"] == "team/lustre-job"


def test_jobs_log_to_the_stacks_own_log_group_kept_for_the_configured_days(run, custom):
    group = run.one(LOG_GROUP, "-batch-job-logs")
    assert group.inputs["name"] == f"/batch-lustre/{run.stack}-{run.stack}/jobs"
    assert group.inputs["retentionInDays"] == 90  # the default of jobLogRetentionDays
    assert custom.one(LOG_GROUP, "-batch-job-logs").inputs["retentionInDays"] == 365
    machine = run.one(STATE_MACHINE, WORKFLOW_MACHINE)
    register = all_states(json.loads(machine.inputs["definition"]))["CreateJobDefinition"]
    assert register["Parameters"]["ContainerProperties"]["LogConfiguration"] == {
        "LogDriver": "awslogs",
        "Options": {"awslogs-group": group.inputs["name"], "awslogs-region": REGION},
    }


def test_the_hosts_instance_role_may_write_to_the_jobs_log_group(run):
    # The awslogs driver on EC2 writes with the container instance role: its attached managed policies (moto's copy
    # of AWS's) must allow creating the job's log stream and putting its events in the stack's log group.
    role = run.one(ROLE, "instance-role")
    attached = [a.inputs["policyArn"] for a in run.of_type(ATTACHMENT) if a.inputs["role"] == role.state["name"]]
    managed = json.loads(aws_managed_policies_data)
    policies = [Policy(managed[arn.rsplit("/", 1)[-1]]["Document"]) for arn in attached]
    name = run.one(LOG_GROUP, "-batch-job-logs").inputs["name"]
    stream = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}:log-stream:job/default/0123"
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        assert decide(policies, action, stream, {}) == "allow", action


# --- RuntimeSecret ---


def test_secret_holds_the_runtime_parameters_of_the_mode_with_their_defaults(run):
    version = run.one(SECRET_VERSION)
    assert version.inputs["secretId"] == run.one(SECRET).id
    content = json.loads(version.inputs["secretString"])
    mode = run.stack
    assert content == {p.name: p.defaults[mode] for p in parameters_for(mode, runtime=True)}


def test_secret_has_the_metric_settings_only_in_autoexport(runs):
    taskexport = json.loads(runs[TASK_EXPORT].one(SECRET_VERSION).inputs["secretString"])
    autoexport = json.loads(runs[AUTO_EXPORT].one(SECRET_VERSION).inputs["secretString"])
    assert AUTOEXPORT_ONLY_RUNTIME <= set(autoexport)
    assert not AUTOEXPORT_ONLY_RUNTIME & set(taskexport)


def test_secret_takes_runtime_values_from_stack_config(custom):
    content = json.loads(custom.one(SECRET_VERSION).inputs["secretString"])
    assert (content["lustreStorageCapacity"], content["jobDefinitionVcpus"]) == (4800, 16)
    assert "computeEnvironmentMaxvCpus" not in content  # not a runtime parameter


# --- Workflows: Lambda functions ---


def test_extract_parameters_runs_python312_with_the_parameters_package_beside_its_handler(run):
    function = run.one(FUNCTION, "extract-parameters")
    assert function.inputs["runtime"] == "python3.12"
    assert function.inputs["handler"] == "extract_parameters.handler"
    code = function.inputs["code"]
    assert isinstance(code, pulumi.AssetArchive)
    members = {name: Path(asset.path).resolve() for name, asset in code.assets.items()}
    assert members == {
        "extract_parameters.py": ROOT / "lambda" / "extract_parameters.py",
        **{f"parameters/{p.name}": p for p in (ROOT / "parameters").glob("*.py")},
    }
    assert all(path.is_file() for path in members.values())


def test_every_function_ships_the_files_asl_naming_lists_for_its_handler(runs):
    shipped = {}
    for run in runs.values():
        for function in run.of_type(FUNCTION):
            module = function.inputs["handler"].removesuffix(".handler")
            members = {name: Path(asset.path).resolve() for name, asset in function.inputs["code"].assets.items()}
            shipped.setdefault(module, members)
            assert shipped[module] == members, module  # the same archive in both stacks
    assert set(shipped) == set(naming.LAMBDA_FILES)  # every listed archive is deployed, and only those
    for module, members in shipped.items():
        assert members == {member: ROOT / path for member, path in naming.LAMBDA_FILES[module].items()}
        assert all(path.is_file() for path in members.values()), module


def test_extract_parameters_environment_names_mode_max_vcpus_and_prefix(run, custom):
    variables = run.one(FUNCTION, "extract-parameters").inputs["environment"]["variables"]
    stack_id = run.one(RANDOM_ID).state["hex"]
    assert variables == {"MODE": run.stack, "MAX_VCPUS": "256", "NAME_PREFIX": f"{run.stack}-{stack_id}"}
    variables = custom.one(FUNCTION, "extract-parameters").inputs["environment"]["variables"]
    stack_id = custom.one(RANDOM_ID).state["hex"]
    assert variables == {"MODE": TASK_EXPORT, "MAX_VCPUS": "64", "NAME_PREFIX": f"prod-env-{stack_id}"}


def test_functions_have_their_own_lambda_role_with_basic_logging(run):
    """(FindRunResources logs through a policy scoped to its own log group: tests/test_run_cleanup.py.)"""
    for function in run.of_type(FUNCTION):
        if function.name.endswith("find-run-resources"):
            continue
        role = _role_of_function(run, function)
        assert _policy(role, "assumeRolePolicy")["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
        attached = {a.inputs["policyArn"] for a in run.of_type(ATTACHMENT) if a.inputs["role"] == role.state["name"]}
        assert attached == {"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
        log_group = next(
            g for g in run.of_type(LOG_GROUP) if g.state["name"] == function.inputs["loggingConfig"]["logGroup"]
        )
        assert log_group.inputs["retentionInDays"] == 90


def test_summarize_job_reads_failed_jobs_only(runs):
    for mode, run in runs.items():
        function = run.one(FUNCTION, "summarize-job")
        assert (function.inputs["runtime"], function.inputs["handler"]) == ("python3.12", "summarize_job.handler")
        members = {name: Path(asset.path).resolve() for name, asset in function.inputs["code"].assets.items()}
        assert members == {"summarize_job.py": ROOT / "lambda" / "summarize_job.py"}, mode
        role = _role_of_function(run, function)
        [policy] = [p for p in run.of_type(ROLE_POLICY) if p.inputs["role"] == role.id]
        assert _policy(policy)["Statement"] == [
            {
                "Sid": "ReadFailedJobs",
                "Effect": "Allow",
                "Action": ["batch:DescribeJobs", "batch:ListJobs"],
                "Resource": "*",
            }
        ]


def test_check_metrics_exists_only_in_autoexport_and_may_read_metrics(runs):
    assert sorted(f.name for f in runs[TASK_EXPORT].of_type(FUNCTION)) == [
        "batch-lustre-extract-parameters",
        "batch-lustre-run-cleanup-find-run-resources",
        "batch-lustre-summarize-job",
        "batch-lustre-wait-for",
    ]
    run = runs[AUTO_EXPORT]
    function = run.one(FUNCTION, "check-metrics")
    assert (function.inputs["runtime"], function.inputs["handler"]) == ("python3.12", "check_metrics.handler")
    assert function.inputs["timeout"] == 900  # it waits between reads, up to Lambda's maximum (docs/aws-rules.md)
    members = {name: Path(asset.path).resolve() for name, asset in function.inputs["code"].assets.items()}
    assert members == {
        "check_metrics.py": ROOT / "lambda" / "check_metrics.py",
        "wait_for.py": ROOT / "lambda" / "wait_for.py",  # its waiting loop
        "aws_calls.py": ROOT / "lambda" / "aws_calls.py",  # clients and error classes
        "lane_queue.py": ROOT / "asl" / "lane_queue.py",  # imported by wait_for.py
    }
    role = _role_of_function(run, function)
    [policy] = [p for p in run.of_type(ROLE_POLICY) if p.inputs["role"] == role.id]
    assert _policy(policy)["Statement"] == [
        {"Sid": "ReadExportQueueMetric", "Effect": "Allow", "Action": "cloudwatch:GetMetricData", "Resource": "*"}
    ]


# --- Workflows: state machine ---


def _expected_refs(run):
    """The WorkflowRefs the workflow must build, derived independently from the recorded resources."""
    extract_parameters = run.one(FUNCTION, "extract-parameters")
    check_metrics = [f for f in run.of_type(FUNCTION) if f.name.endswith("check-metrics")]
    summarize_job = run.one(FUNCTION, "summarize-job")
    wait_for = run.one(FUNCTION, "wait-for")
    prefix = extract_parameters.inputs["environment"]["variables"]["NAME_PREFIX"]
    stack_id = run.one(RANDOM_ID).state["hex"]
    return WorkflowRefs(
        mode=run.stack,
        stack=run.stack,
        stack_id=stack_id,
        name_prefix=prefix,
        region=REGION,
        account_id=ACCOUNT_ID,
        state_machine_name=naming.state_machine_name(prefix.removesuffix(f"-{stack_id}"), run.stack),
        run_cleanup_state_machine_name=naming.run_cleanup_state_machine_name(
            prefix.removesuffix(f"-{stack_id}"), run.stack
        ),
        secret_arn=run.one(SECRET).state["arn"],
        bucket_name=run.one(BUCKET).state["bucket"],
        subnet_id=run.one(SUBNET, "private-0").id,
        lustre_security_group_id=run.one(SECURITY_GROUP).id,
        lanes=(
            LaneRefs(
                compute_environment_arn=run.one(COMPUTE_ENVIRONMENT).state["arn"],
                job_queue_arn=run.one(JOB_QUEUE).state["arn"],
                baseline_launch_template_id=run.one(LAUNCH_TEMPLATE).id,
                baseline_launch_template_version="1",
            ),
        ),
        lane_table_name=run.one(TABLE).state["name"],
        job_repository_url=run.one(REPOSITORY).state["repositoryUrl"],
        job_log_group_name=run.one(LOG_GROUP, "-batch-job-logs").inputs["name"],
        extract_parameters_function_arn=extract_parameters.state["qualifiedArn"],
        summarize_job_function_arn=summarize_job.state["qualifiedArn"],
        check_metrics_function_arn=check_metrics[0].state["qualifiedArn"] if check_metrics else "",
        wait_for_function_arn=wait_for.state["qualifiedArn"],
    )


def test_the_compute_environment_launches_only_in_the_file_systems_subnet(run):
    definition = json.loads(run.one(STATE_MACHINE, WORKFLOW_MACHINE).inputs["definition"])
    (create,) = [s for s in asl.states.all_states(definition).values() if s.get("Resource", "").endswith(
        ":fsx:createFileSystem")]  # fmt: skip
    subnets = run.one(COMPUTE_ENVIRONMENT).inputs["computeResources"]["subnets"]
    assert subnets == create["Parameters"]["SubnetIds"] == [run.one(SUBNET, "private-0").id]


def test_state_machine_definition_is_the_asl_builders_output_for_the_stacks_resources(run):
    machine = run.one(STATE_MACHINE, WORKFLOW_MACHINE)
    definition = json.loads(machine.inputs["definition"])
    assert "CreateLustreFileSystem" in definition["States"]
    assert definition == asl.build_definition(_expected_refs(run))


def _invoked_functions(definition):
    return {
        state["Parameters"]["FunctionName"]
        for state in iam.task_states(definition)
        if state["Resource"] == "arn:aws:states:::lambda:invoke"
    }


def test_every_function_publishes_versions_and_each_state_machine_invokes_the_version_built_with_it(run):
    """A deploy that changes a handler publishes a new version; an execution that started before keeps invoking
    the version its definition names (docs/aws-rules.md, "Lambda versions")."""
    functions = run.of_type(FUNCTION)
    assert functions and all(f.inputs["publish"] is True for f in functions)
    published = {f.state["qualifiedArn"] for f in functions}
    for machine in run.of_type(STATE_MACHINE):
        definition = json.loads(machine.inputs["definition"])
        invoked = _invoked_functions(definition)
        assert invoked and invoked <= published, machine.name
        role = next(r for r in run.of_type(ROLE) if r.state["arn"] == machine.inputs["roleArn"])
        [policy] = [p for p in run.of_type(ROLE_POLICY) if p.inputs["role"] == role.id]
        [invoke] = [s for s in _policy(policy)["Statement"] if s["Action"] == ["lambda:InvokeFunction"]]
        # every version of the functions it invokes (executions of the previous definition invoke the previous
        # version after a deploy replaced this policy), no other function
        assert sorted(invoke["Resource"]) == sorted({f"{arn.rsplit(':', 1)[0]}:*" for arn in invoked})


def test_state_machine_role_policy_is_the_asl_iam_policy_of_its_definition(run):
    machine = run.one(STATE_MACHINE, WORKFLOW_MACHINE)
    role = next(r for r in run.of_type(ROLE) if r.state["arn"] == machine.inputs["roleArn"])
    assert _policy(role, "assumeRolePolicy")["Statement"][0]["Principal"] == {"Service": "states.amazonaws.com"}
    [policy] = [p for p in run.of_type(ROLE_POLICY) if p.inputs["role"] == role.id]
    refs = _expected_refs(run)
    assert _policy(policy) == iam.state_machine_policy(refs, asl.build_definition(refs))


def test_state_machine_is_standard_named_for_the_stack_and_logs_everything(run):
    machine = run.one(STATE_MACHINE, WORKFLOW_MACHINE)
    log_group = run.one(LOG_GROUP, f"{WORKFLOW_MACHINE}-logs")
    assert machine.inputs["type"] == "STANDARD"
    assert machine.inputs["name"] == naming.state_machine_name(run.stack, run.stack)
    assert machine.inputs["loggingConfiguration"] == {
        "level": "ALL",
        "includeExecutionData": True,
        "logDestination": log_group.state["arn"] + ":*",
    }
    assert machine.inputs["tracingConfiguration"] == {"enabled": False}
    assert log_group.inputs["retentionInDays"] == 90
    assert log_group.inputs["name"].startswith("/aws/vendedlogs/states/")


def test_one_workflow_component_type_serves_both_modes_the_mode_an_input(runs):
    for mode, run in runs.items():
        workflow = run.one("batchlustre:index:Workflow")
        assert workflow.name == "batch-lustre"
        assert run.one(FUNCTION, "-extract-parameters").inputs["environment"]["variables"]["MODE"] == mode


# --- The lane table ---


def test_the_lane_table_is_named_for_the_stack_keyed_by_lane_number_on_demand_unprotected_and_tagged(run, custom):
    for declared, env_name in ((run, load_stack_config(run.stack)["batch-lustre:envName"]), (custom, "Prod-Env")):
        stack_id = declared.one(RANDOM_ID).state["hex"]
        table = declared.one(TABLE)
        assert table.name == "batch-lustre-lanes"  # a fixed logical name, as every resource's
        assert table.inputs["name"] == f"{env_name.lower()}-{stack_id}-lanes"
        assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
        assert table.inputs["hashKey"] == "lane" and "rangeKey" not in table.inputs
        assert table.inputs["attributes"] == [{"name": "lane", "type": "N"}]
        assert table.inputs["deletionProtectionEnabled"] is False
        assert table.inputs["pointInTimeRecovery"] == {"enabled": False}
        assert table.inputs["tags"] == {
            **naming.stack_tags(declared.stack, declared.stack, stack_id),
            "Name": f"{env_name.lower()}-lanes",
        }
    assert declared.one("batchlustre:index:LaneTable").name == "batch-lustre"


# --- Stack outputs and tags ---


def test_stack_outputs_name_the_resources_users_need(run):
    assert run.outputs == {
        "mode": run.stack,
        "stateMachineArn": run.one(STATE_MACHINE, WORKFLOW_MACHINE).state["arn"],
        "runCleanupStateMachineArn": run.one(STATE_MACHINE, "run-cleanup-state-machine").state["arn"],
        "secretName": run.one(SECRET).state["name"],
        "bucketName": run.one(BUCKET).state["bucket"],
        "ecrRepositoryUrl": run.one(REPOSITORY).state["repositoryUrl"],
        "jobQueue": run.one(JOB_QUEUE).state["name"],
        "computeEnvironment": run.one(COMPUTE_ENVIRONMENT).state["name"],
        "jobLogGroup": run.one(LOG_GROUP, "-batch-job-logs").inputs["name"],
        "lanes": [
            {
                "computeEnvironment": run.one(COMPUTE_ENVIRONMENT).state["name"],
                "jobQueue": run.one(JOB_QUEUE).state["name"],
            }
        ],
        "laneTable": run.one(TABLE).state["name"],
        "stackId": run.one(RANDOM_ID).state["hex"],
        "envName": load_stack_config(run.stack)["batch-lustre:envName"],
        "region": load_stack_config(run.stack)["aws:region"],
    }
    assert tuple(run.outputs) == naming.STACK_OUTPUTS  # the names the tools read them by


def test_the_readme_lists_every_stack_output():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = readme.split("Stack outputs:", 1)[1].split(".\n", 1)[0]
    assert set(re.findall(r"`(\w+)`", listed)) == set(naming.STACK_OUTPUTS), listed


def _takes_tags(type_token):
    package, module_and_file, class_name = type_token.split(":")
    if package != "aws":
        return False  # the stack id (random), which no one sees in AWS
    module = module_and_file.split("/")[0]
    resource_class = getattr(getattr(aws, {"lambda": "lambda_"}.get(module, module)), class_name)
    return "tags" in inspect.signature(resource_class._internal_init).parameters


def test_every_taggable_resource_carries_the_stack_and_mode_tags(run):
    taggable = [r for r in run.resources if r.custom and _takes_tags(r.type)]
    assert len({r.type for r in taggable}) >= 15  # the check covers the stack, not a corner of it
    stack_id = run.one(RANDOM_ID).state["hex"]
    assert len(stack_id) == naming.STACK_ID_LENGTH
    for resource in taggable:
        tags = resource.inputs.get("tags", {})
        assert tags.get(naming.TAG_STACK) == run.stack, (resource.type, resource.name)
        assert tags.get(naming.TAG_MODE) == run.stack, (resource.type, resource.name)
        assert tags.get(naming.TAG_STACK_ID) == stack_id, (resource.type, resource.name)


def test_instances_launched_by_batch_carry_the_stack_tags(run):
    tags = run.one(COMPUTE_ENVIRONMENT).inputs["computeResources"]["tags"]
    stack_id = run.one(RANDOM_ID).state["hex"]
    wanted = naming.stack_tags(run.stack, run.stack, stack_id)
    assert {k: tags[k] for k in wanted} == wanted


def test_compute_environment_ignores_desired_vcpus_and_the_launch_template_that_batch_and_runs_change(monkeypatch):
    """Batch changes desiredvCpus by itself and refuses to lower it by an update, and each run points the environment
    at its own launch template: a refresh or an update during or after runs must not put the stack's values back
    (docs/aws-rules.md, "Pulumi and Batch desired vCPUs"; the emulated refresh-then-up: test_pulumi_state.py)."""
    seen = []
    original = aws.batch.ComputeEnvironment.__init__

    def record(self, resource_name, *args, **kwargs):
        seen.append(kwargs.get("opts"))
        original(self, resource_name, *args, **kwargs)

    monkeypatch.setattr(aws.batch.ComputeEnvironment, "__init__", record)
    run_program(TASK_EXPORT)
    assert len(seen) == 1
    assert seen[0].ignore_changes == ["computeResources.desiredVcpus", "computeResources.launchTemplate"]


def test_the_compute_environment_is_created_after_and_deleted_before_its_instance_role_policies(run):
    environment = run.one(COMPUTE_ENVIRONMENT)
    policies = {r.name for r in run.of_type(ATTACHMENT) if "-instance-role-" in r.name}
    assert len(policies) == 2
    assert policies | {run.one(INSTANCE_PROFILE).name} <= set(run.dependencies[environment.name])
