"""The stack's long-lived resources, created in moto, and the ``WorkflowRefs`` pointing at them.

The workflow under test is the one ``asl.build_definition(stack.refs)`` generates:
this module only builds what the Pulumi program would have built before any run
(network, bucket, secret, compute environment, queue, Lambdas, roles).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from batch_lustre.emulation.clients import client
from batch_lustre.emulation.core import PROJECT_DIR, Emulation
from batch_lustre.program.asl import build_definition
from batch_lustre.program.asl import iam as asl_iam
from batch_lustre.program.asl.naming import LAMBDA_FILES, stack_tags, state_machine_name
from batch_lustre.program.asl.naming import LUSTRE_PORT_RANGES as LUSTRE_PORTS
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.asl.states import WAIT_FOR_TIMEOUT_SECONDS
from batch_lustre.program.parameters import AUTO_EXPORT, BY_NAME, parameters_for

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": s}, "Action": "sts:AssumeRole"}
        for s in ("states.amazonaws.com", "lambda.amazonaws.com", "batch.amazonaws.com", "ec2.amazonaws.com")
    ],
}


@dataclass(frozen=True)
class EmulatedStack:
    refs: WorkflowRefs
    role_arn: str  # the state machine's role
    compute_environment_name: str
    baseline_launch_template_name: str
    secret_name: str
    vpc_id: str


def runtime_parameters(mode: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The secret's content: every runtime parameter of ``mode`` at its default, then ``overrides``."""
    values = {p.name: p.defaults[mode] for p in parameters_for(mode, runtime=True)}
    unknown = set(overrides or {}) - set(BY_NAME)
    if unknown:
        raise KeyError(f"not parameters: {sorted(unknown)}")
    values.update(overrides or {})
    return values


def _zip(files: Mapping[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for member, path in files.items():
            source = PROJECT_DIR / path
            archive.writestr(member, source.read_text() if source.is_file() else "")
    return buf.getvalue()


def setup_stack(
    emu: Emulation,
    mode: str,
    *,
    runtime_params: Mapping[str, Any] | None = None,
    secret_string: str | None = None,
    stack: str = "test",
    env_name: str | None = None,
    max_vcpus: int = 256,
) -> EmulatedStack:
    """Create the stack's resources in ``emu``'s moto and return their refs.

    ``runtime_params`` override the secret's defaults (e.g. short waits); ``secret_string``
    replaces the secret's text entirely (to test a broken secret).
    """
    region, account = emu.region, emu.account_id
    prefix = (env_name or BY_NAME["envName"].defaults[mode]).lower()
    tags = stack_tags(stack, mode)
    tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]

    ec2, iam = client("ec2", region), client("iam", region)

    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg_id = ec2.create_security_group(GroupName=f"{prefix}-lustre", Description="Lustre", VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg_id,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": lo, "ToPort": hi, "UserIdGroupPairs": [{"GroupId": sg_id}]}
            for lo, hi in LUSTRE_PORTS
        ],
    )

    bucket = f"{prefix}-{stack}-data-{account}"
    s3 = client("s3", region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})

    secret_name = f"{prefix}-{stack}-runtime-parameters"
    text = secret_string if secret_string is not None else json.dumps(runtime_parameters(mode, runtime_params))
    secret_arn = client("secretsmanager", region).create_secret(Name=secret_name, SecretString=text, Tags=tag_list)[
        "ARN"
    ]

    def role(name: str) -> str:
        return iam.create_role(
            RoleName=f"{prefix}-{stack}-{name}", AssumeRolePolicyDocument=json.dumps(TRUST), Tags=tag_list
        )["Role"]["Arn"]

    sfn_role, batch_role = role("workflow"), role("batch-service")
    role("instance")
    profile = iam.create_instance_profile(InstanceProfileName=f"{prefix}-{stack}-instance")["InstanceProfile"]
    iam.add_role_to_instance_profile(
        InstanceProfileName=profile["InstanceProfileName"], RoleName=f"{prefix}-{stack}-instance"
    )

    baseline_name = f"{prefix}-{stack}-baseline"
    baseline = ec2.create_launch_template(
        LaunchTemplateName=baseline_name,
        LaunchTemplateData={"MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"}},
    )["LaunchTemplate"]

    batch = client("batch", region)
    ce_name = f"{prefix}-{stack}-ce"
    ce_arn = batch.create_compute_environment(
        computeEnvironmentName=ce_name,
        type="MANAGED",
        state="ENABLED",
        serviceRole=batch_role,
        computeResources={
            "type": "SPOT",
            "allocationStrategy": "BEST_FIT_PROGRESSIVE",
            "minvCpus": 0,
            "maxvCpus": max_vcpus,
            "desiredvCpus": 0,
            "instanceTypes": ["optimal"],
            "subnets": [subnet_id],
            "securityGroupIds": [sg_id],
            "instanceRole": profile["Arn"],
            "launchTemplate": {"launchTemplateId": baseline["LaunchTemplateId"], "version": "1"},
        },
        tags=tags,
    )["computeEnvironmentArn"]
    queue_arn = batch.create_job_queue(
        jobQueueName=f"{prefix}-{stack}-queue",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce_arn}],
        tags=tags,
    )["jobQueueArn"]

    lam = client("lambda", region)
    env = {"MODE": mode, "MAX_VCPUS": str(max_vcpus), "NAME_PREFIX": prefix}

    lambda_roles: dict[str, str] = {}  # handler module -> its own role (as components/workflow.py gives each)

    def function(module: str, timeout: int = 60) -> str:
        lambda_roles[module] = role(f"fn-{module.replace('_', '-')}")
        return lam.create_function(
            FunctionName=f"{prefix}-{stack}-{module.replace('_', '-')}",
            Runtime="python3.12",
            Role=lambda_roles[module],
            Handler=f"{module}.handler",
            Code={"ZipFile": _zip(LAMBDA_FILES[module])},
            Timeout=timeout,
            Environment={"Variables": env},
            Tags=tags,
        )["FunctionArn"]

    refs = WorkflowRefs(
        mode=mode,
        stack=stack,
        name_prefix=prefix,
        region=region,
        account_id=account,
        state_machine_name=state_machine_name(prefix, stack),
        secret_arn=secret_arn,
        bucket_name=bucket,
        subnet_id=subnet_id,
        lustre_security_group_id=sg_id,
        compute_environment_arn=ce_arn,
        baseline_launch_template_id=baseline["LaunchTemplateId"],
        baseline_launch_template_version="1",
        job_queue_arn=queue_arn,
        job_repository_url=f"{account}.dkr.ecr.{region}.amazonaws.com/{BY_NAME['ecrRepositoryName'].defaults[mode]}",
        extract_parameters_function_arn=function("extract_parameters"),
        summarize_job_function_arn=function("summarize_job"),
        check_metrics_function_arn=function("check_metrics", WAIT_FOR_TIMEOUT_SECONDS) if mode == AUTO_EXPORT else "",
        wait_for_function_arn=function("wait_for", WAIT_FOR_TIMEOUT_SECONDS),
    )
    emulated = EmulatedStack(
        refs=refs,
        role_arn=sfn_role,
        compute_environment_name=ce_name,
        baseline_launch_template_name=baseline_name,
        secret_name=secret_name,
        vpc_id=vpc_id,
    )
    # The roles' policies, as the Pulumi program deploys them: each Lambda's, and the state machine's for the
    # definition built from these refs (attach_workflow_policy replaces it for another definition).
    for module, role_arn in lambda_roles.items():
        document = asl_iam.lambda_policy(refs, module)
        if document is not None:
            put_role_policy(emu, role_arn, "handler", document)
    attach_workflow_policy(emu, emulated, build_definition(refs))
    return emulated


def put_role_policy(emu: Emulation, role_arn: str, name: str, document: dict[str, Any]) -> None:
    """Attach ``document`` to role ``role_arn`` as inline policy ``name`` (replacing one of that name)."""
    client("iam", emu.region).put_role_policy(
        RoleName=role_arn.rsplit("/", 1)[-1], PolicyName=name, PolicyDocument=json.dumps(document)
    )


def attach_workflow_policy(
    emu: Emulation,
    stack: EmulatedStack,
    definition: dict[str, Any],
    *,
    role_arn: str | None = None,
    document: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Give the state machine role (or ``role_arn``, e.g. the run-cleanup machine's) the policy derived from
    ``definition`` (``asl.iam.state_machine_policy``), or ``document``, replacing the previous one; returns it."""
    document = document if document is not None else asl_iam.state_machine_policy(stack.refs, definition)
    put_role_policy(emu, role_arn or stack.role_arn, "workflow", document)
    return document


@dataclass(frozen=True)
class RunCleanupStack:
    """The run-cleanup state machine, its function, and the EventBridge rule that starts it."""

    state_machine_arn: str
    role_arn: str
    find_run_resources_function_arn: str
    rule_name: str
    definition: dict[str, Any]


def setup_run_cleanup(emu: Emulation, stack: EmulatedStack) -> RunCleanupStack:
    """Deploy what ``components/run_cleanup.py`` deploys: the FindRunResources function (and its role), the
    run-cleanup state machine (and its role, policy derived from its definition), and the EventBridge rule on
    the workflow's abnormal ends with its target (and the target's role, allowed only to start it)."""
    from batch_lustre.program.asl.run_cleanup import (
        build_run_cleanup,
        run_cleanup_state_machine_name,
        start_run_cleanup_policy,
        status_change_event_pattern,
    )

    refs, region = stack.refs, emu.region
    iam, lam = client("iam", region), client("lambda", region)
    sfn, events = client("stepfunctions", region), client("events", region)
    prefix = f"{refs.name_prefix}-{refs.stack}"

    def role(name: str, service: str) -> str:
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
        return iam.create_role(RoleName=f"{prefix}-{name}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]

    function_role = role("find-run-resources", "lambda.amazonaws.com")
    handler_policy = asl_iam.lambda_policy(refs, "find_run_resources")
    assert handler_policy is not None  # FindRunResources reads the run's resources
    put_role_policy(emu, function_role, "handler", handler_policy)
    function_arn = lam.create_function(
        FunctionName=f"{prefix}-find-run-resources",
        Runtime="python3.12",
        Role=function_role,
        Handler="find_run_resources.handler",
        Code={"ZipFile": _zip(LAMBDA_FILES["find_run_resources"])},
        Timeout=300,
    )["FunctionArn"]
    definition = build_run_cleanup(
        refs,
        find_run_resources_function_arn=function_arn,
        extract_parameters_function_arn=refs.extract_parameters_function_arn,
    )
    machine_role = role("run-cleanup", "states.amazonaws.com")
    attach_workflow_policy(emu, stack, definition, role_arn=machine_role)
    machine_arn = sfn.create_state_machine(
        name=run_cleanup_state_machine_name(refs.name_prefix, refs.stack),
        definition=json.dumps(definition),
        roleArn=machine_role,
    )["stateMachineArn"]
    workflow_arn = f"arn:aws:states:{region}:{emu.account_id}:stateMachine:{refs.state_machine_name}"
    target_role = role("run-cleanup-events", "events.amazonaws.com")
    put_role_policy(emu, target_role, "start-run-cleanup", start_run_cleanup_policy(machine_arn))
    rule = f"{prefix}-run-ended-without-cleanup"
    events.put_rule(Name=rule, EventPattern=json.dumps(status_change_event_pattern(workflow_arn)))
    events.put_targets(Rule=rule, Targets=[{"Id": "run-cleanup", "Arn": machine_arn, "RoleArn": target_role}])
    return RunCleanupStack(machine_arn, machine_role, function_arn, rule, definition)
