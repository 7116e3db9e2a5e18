"""The isolation judge of the two-stack scenarios (``emulation.catalogue_stacks.crossings``): a request of one stack's
role on the other stack's resource is reported, whether IAM allowed it or denied it; requests on its own are not."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from batch_lustre.emulation import Emulation, setup_stack
from batch_lustre.emulation.catalogue_stacks import crossings
from batch_lustre.emulation.iam import authorize_task
from batch_lustre.emulation.stack import put_role_policy
from batch_lustre.program.parameters import TASK_EXPORT

EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@pytest.fixture(scope="module")
def two_stacks():
    with Emulation() as emu:
        dev = setup_stack(emu, TASK_EXPORT, stack="dev", config_changes={"ecrRepositoryName": ""})
        prod = setup_stack(emu, TASK_EXPORT, stack="prod", config_changes={"ecrRepositoryName": ""})
        yield emu, dev, prod


def update(emu, stack, compute_environment: str) -> None:
    authorize_task(
        emu, stack.role_arn, "batch", "updateComputeEnvironment", {"ComputeEnvironment": compute_environment}
    )


def test_requests_on_the_stacks_own_resources_are_no_crossing(two_stacks):
    emu, dev, prod = two_stacks
    update(emu, dev, dev.refs.lanes[0].compute_environment_arn)
    assert crossings(emu, dev, prod, []) == []


def test_a_denied_request_on_the_other_stacks_resource_is_reported(two_stacks):
    emu, dev, prod = two_stacks
    with pytest.raises(ClientError):
        update(emu, dev, prod.refs.lanes[0].compute_environment_arn)
    found = crossings(emu, dev, prod, [])
    assert len(found) == 1
    assert (
        "(stack dev) was denied batch:UpdateComputeEnvironment on " + prod.refs.lanes[0].compute_environment_arn
        in found[0]
    )
    assert crossings(emu, prod, dev, []) == []  # prod's roles did nothing
    emu.iam.denials.clear()


def test_an_allowed_request_on_the_other_stacks_resource_is_reported(two_stacks):
    emu, dev, prod = two_stacks
    put_role_policy(emu, dev.role_arn, "workflow", EVERYTHING)  # a policy that does not scope by stack
    update(emu, dev, prod.refs.lanes[0].compute_environment_arn)
    assert crossings(emu, dev, prod, []) == [
        f"{dev.role_arn.rsplit('/', 1)[-1]} (stack dev) was allowed batch:UpdateComputeEnvironment on "
        f"{prod.refs.lanes[0].compute_environment_arn}, stack prod's"
    ]


def test_a_request_without_resource_level_permission_that_names_the_other_stacks_resource_is_reported(two_stacks):
    emu, dev, prod = two_stacks
    emu.iam.allowed.clear()
    put_role_policy(emu, dev.role_arn, "workflow", EVERYTHING)
    described = "describeComputeEnvironments"
    authorize_task(emu, dev.role_arn, "batch", described, {"ComputeEnvironments": [dev.compute_environment_name]})
    assert crossings(emu, dev, prod, []) == []
    authorize_task(emu, dev.role_arn, "batch", described, {"ComputeEnvironments": [prod.compute_environment_name]})
    assert crossings(emu, dev, prod, []) == [
        f"{dev.role_arn.rsplit('/', 1)[-1]} (stack dev) was allowed batch:DescribeComputeEnvironments naming "
        f"{prod.compute_environment_name}, stack prod's"
    ]
