"""Two stacks in one account never touch each other's resources: each carries its generated stack id
(``batch-lustre:stack-id``), the IAM conditions and a run's name prefix use it, and the default ECR repository name
derives from envName and the stack."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from batch_lustre.emulation import Emulation, setup_stack
from batch_lustre.emulation.iam import authorize_task
from batch_lustre.program.asl.naming import TAG_RUN, TAG_STACK, TAG_STACK_ID
from batch_lustre.program.parameters import TASK_EXPORT, ParameterError
from batch_lustre.program.settings import check_stack_names, load_settings

REGION = "us-east-1"
PROPERTIES = {
    "image": "busybox",
    "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
}


def file_system(subnet: str, stack_name: str, stack_id: str) -> str:
    return boto3.client("fsx", region_name=REGION).create_file_system(
        FileSystemType="LUSTRE",
        StorageCapacity=1200,
        SubnetIds=[subnet],
        LustreConfiguration={"DeploymentType": "SCRATCH_2"},
        Tags=[
            {"Key": TAG_STACK, "Value": stack_name},
            {"Key": TAG_STACK_ID, "Value": stack_id},
            {"Key": TAG_RUN, "Value": "run-1"},
        ],
    )["FileSystem"]["FileSystemId"]


def refused(call) -> str:
    with pytest.raises(ClientError) as err:
        call()
    assert err.value.response["Error"]["Code"] in ("AccessDeniedException", "AccessDenied")
    return str(err.value)


@pytest.fixture(scope="module")
def two_stacks():
    """Two copies of the taskexport stack file (same envName, default ECR repository name) in one account."""
    with Emulation() as emu:
        a = setup_stack(emu, TASK_EXPORT, stack="dev", config_changes={"ecrRepositoryName": ""})
        b = setup_stack(emu, TASK_EXPORT, stack="prod", config_changes={"ecrRepositoryName": ""})
        yield emu, a, b


def test_two_copies_of_one_stack_file_deploy_side_by_side_with_their_own_ids_and_repositories(two_stacks):
    _, a, b = two_stacks
    assert a.refs.stack_id != b.refs.stack_id
    assert a.refs.job_repository_url.endswith("/taskexport-dev")
    assert b.refs.job_repository_url.endswith("/taskexport-prod")
    assert (a.refs.name_prefix, b.refs.name_prefix) == (
        f"taskexport-{a.refs.stack_id}",
        f"taskexport-{b.refs.stack_id}",
    )


def test_a_stacks_role_cannot_delete_another_stacks_file_system_even_of_the_same_stack_name(two_stacks):
    emu, a, b = two_stacks
    ours = file_system(a.refs.subnet_id, a.refs.stack, a.refs.stack_id)
    theirs = file_system(
        b.refs.subnet_id, a.refs.stack, b.refs.stack_id
    )  # the same stack name: another project's "dev"
    authorize_task(emu, a.role_arn, "fsx", "deleteFileSystem", {"FileSystemId": ours})
    message = refused(lambda: authorize_task(emu, a.role_arn, "fsx", "deleteFileSystem", {"FileSystemId": theirs}))
    assert f"file-system/{theirs}" in message


def test_a_stacks_role_cannot_register_deregister_or_submit_another_stacks_job_definitions(two_stacks):
    emu, a, b = two_stacks
    batch = boto3.client("batch", region_name=REGION)
    theirs = batch.register_job_definition(
        jobDefinitionName=f"{b.refs.name_prefix}-run-1", type="container", containerProperties=PROPERTIES
    )["jobDefinitionArn"]
    ours = batch.register_job_definition(
        jobDefinitionName=f"{a.refs.name_prefix}-run-1", type="container", containerProperties=PROPERTIES
    )["jobDefinitionArn"]
    register = {"JobDefinitionName": f"{b.refs.name_prefix}-run-2", "Type": "container"}
    refused(lambda: authorize_task(emu, a.role_arn, "batch", "registerJobDefinition", register))
    refused(lambda: authorize_task(emu, a.role_arn, "batch", "deregisterJobDefinition", {"JobDefinition": theirs}))
    submit = {"JobName": "j", "JobQueue": a.refs.lanes[0].job_queue_arn}
    refused(lambda: authorize_task(emu, a.role_arn, "batch", "submitJob", {**submit, "JobDefinition": theirs}))
    authorize_task(emu, a.role_arn, "batch", "deregisterJobDefinition", {"JobDefinition": ours})
    authorize_task(emu, a.role_arn, "batch", "submitJob", {**submit, "JobDefinition": ours})


def settings_of(env_name: str, repository: str = ""):
    return load_settings(TASK_EXPORT, {"envName": env_name, "ecrRepositoryName": repository}, where="test")


def test_the_default_ecr_repository_name_derives_from_env_name_and_the_stack_and_an_explicit_one_is_kept():
    assert settings_of("Sim-1").ecr_repository_name("Prod") == "sim-1-prod"
    assert settings_of("Sim-1", "team/sim").ecr_repository_name("prod") == "team/sim"


def test_a_default_ecr_repository_name_ecr_refuses_is_one_line_naming_the_key():
    with pytest.raises(ParameterError) as err:
        check_stack_names(settings_of("a--b"), "dev")
    message = str(err.value)
    assert message.startswith('ecrRepositoryName="" is not accepted with envName="a--b" and stack dev')
    assert "\n" not in message
    check_stack_names(settings_of("a--b", "explicit"), "dev")


@given(
    env_name=st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,19}", fullmatch=True),
    stack=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,30}", fullmatch=True),
)
def test_any_env_name_and_stack_give_an_ecr_name_or_a_one_line_refusal(env_name, stack):
    settings = settings_of(env_name)
    try:
        check_stack_names(settings, stack)
    except ParameterError as err:
        assert str(err).startswith(("ecrRepositoryName=", "envName=")) and "\n" not in str(err)
        return
    name = settings.ecr_repository_name(stack)
    assert name == f"{env_name.lower()}-{stack.lower()}"
    assert check_ok(name)


def check_ok(name: str) -> bool:
    from batch_lustre.program.parameters import BY_NAME

    check = BY_NAME["ecrRepositoryName"].check
    return check is not None and check(name)
