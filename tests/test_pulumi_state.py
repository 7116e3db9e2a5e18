"""``pulumi refresh`` then ``pulumi up`` during a run, as Pulumi runs them (``emulation.pulumi_state``): with the
compute environment's launch template in ``ignore_changes`` the update sends nothing and the run keeps its
template; without it, the same two commands put the baseline back under the run."""

from __future__ import annotations

import pytest

from batch_lustre.emulation import Emulation, setup_stack
from batch_lustre.emulation.clients import client
from batch_lustre.emulation.environment import offline_environment
from batch_lustre.emulation.pulumi_state import COMPUTE_ENVIRONMENT, PulumiState

REGION = "us-east-1"


@pytest.fixture(scope="module")
def during_run():
    """A deployed taskexport stack whose compute environment a run has pointed at the run's launch template."""
    with offline_environment(REGION), Emulation(region=REGION) as emu:
        stack = setup_stack(emu, "taskexport")
        template = client("ec2", REGION).create_launch_template(
            LaunchTemplateName="taskexport-run-1", LaunchTemplateData={"InstanceInitiatedShutdownBehavior": "terminate"}
        )["LaunchTemplate"]
        client("batch", REGION).update_compute_environment(
            computeEnvironment=stack.compute_environment_name,
            computeResources={"launchTemplate": {"launchTemplateId": template["LaunchTemplateId"], "version": "1"}},
        )
        yield emu, stack, template["LaunchTemplateId"]


def current_template(stack) -> dict:
    found = client("batch", REGION).describe_compute_environments(computeEnvironments=[stack.compute_environment_name])
    return found["computeEnvironments"][0]["computeResources"]["launchTemplate"]


def test_refresh_then_up_during_a_run_sends_no_launch_template_change(during_run):
    emu, stack, run_template = during_run
    state = PulumiState(stack.deployment, REGION)
    updates_before = len(emu.batch.launch_template_history)

    refreshed = state.refresh()
    assert [c.path for c in refreshed if c.path.startswith("computeResources.launchTemplate")] == [
        "computeResources.launchTemplate.launchTemplateId"
    ]
    assert state.up() == []
    assert len(emu.batch.launch_template_history) == updates_before
    assert current_template(stack)["launchTemplateId"] == run_template


def test_without_the_option_refresh_then_up_would_put_the_baseline_back_under_the_run(during_run):
    emu, stack, run_template = during_run
    state = PulumiState(stack.deployment, REGION)
    for resource in state.resources:
        if resource.type == COMPUTE_ENVIRONMENT:
            resource.ignore_changes = ("computeResources.desiredVcpus",)
    assert state.up() == [], "without a refresh Pulumi's state still holds the baseline: nothing to send"
    state.refresh()
    sent = state.up()
    assert [c.path for c in sent] == ["computeResources.launchTemplate.launchTemplateId"]
    assert current_template(stack)["launchTemplateId"] != run_template
