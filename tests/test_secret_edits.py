"""Edits of the stack's secret survive ``pulumi refresh`` and ``pulumi up`` (``emulation.pulumi_state``): the
version Pulumi wrote keeps its own staging label, so Secrets Manager never deletes it and a refresh never drops it,
and its string and labels are in ``ignore_changes``, so a changed stack config sends nothing."""

from __future__ import annotations

import json

import pytest
from offline_stacks import load_stack_config, run_program

from batch_lustre.emulation import Emulation, setup_stack
from batch_lustre.emulation.clients import client
from batch_lustre.emulation.environment import offline_environment
from batch_lustre.emulation.pulumi_state import SECRET_VERSION, PulumiState
from batch_lustre.emulation.secret_versions import delete_deprecated_versions
from batch_lustre.program.components.runtime_secret import INITIAL_STAGE

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws")

REGION = "us-east-1"


@pytest.fixture
def deployed():
    with offline_environment(REGION), Emulation(region=REGION) as emu:
        yield emu, setup_stack(emu, "taskexport")


def current(stack) -> dict:
    return json.loads(client("secretsmanager", REGION).get_secret_value(SecretId=stack.secret_name)["SecretString"])


def edit(stack, **changes) -> None:
    """Two edits, as two console saves: the version Pulumi wrote loses AWSCURRENT, then AWSPREVIOUS."""
    document = json.dumps({**current(stack), **changes}, sort_keys=True)
    for _ in range(2):
        client("secretsmanager", REGION).put_secret_value(SecretId=stack.secret_name, SecretString=document)


def test_the_first_version_keeps_its_own_label_so_edits_survive_refresh_and_up(deployed):
    emu, stack = deployed
    first = initial_version(stack)
    edit(stack, lustreStorageCapacity=4800)
    assert first not in delete_deprecated_versions(REGION, stack.secret_name)
    state = PulumiState(stack.deployment, REGION)
    refreshed = state.refresh()
    assert [c.path for c in refreshed if c.type == SECRET_VERSION] == ["versionStages"]
    assert state.up() == []
    assert current(stack)["lustreStorageCapacity"] == 4800


def test_a_changed_stack_config_sends_nothing_to_the_secret(deployed):
    emu, stack = deployed
    edit(stack, deleteLustre=False)
    before = current(stack)
    changed = run_program(
        "taskexport", {**load_stack_config("taskexport"), "batch-lustre:lustreStorageCapacity": "1200"}
    )
    # The update's inputs: as deployed, but the secret's string as the changed stack config makes it.
    desired = {(r.type, r.name): dict(r.inputs) for r in stack.deployment.resources}
    version = changed.one(SECRET_VERSION)
    assert json.loads(version.inputs["secretString"])["lustreStorageCapacity"] == 1200
    desired[SECRET_VERSION, version.name]["secretString"] = version.inputs["secretString"]
    state = PulumiState(stack.deployment, REGION)
    state.refresh()
    assert [c for c in state.up(desired) if c.type == SECRET_VERSION] == []
    assert current(stack) == before


def initial_version(stack) -> str:
    stages = client("secretsmanager", REGION).describe_secret(SecretId=stack.secret_name)["VersionIdsToStages"]
    return next(v for v, labels in stages.items() if INITIAL_STAGE in labels)


def test_without_the_label_a_refresh_drops_the_deleted_version_and_up_reverts_the_edits(deployed):
    emu, stack = deployed
    if True:
        secrets = client("secretsmanager", REGION)
        arn = secrets.describe_secret(SecretId=stack.secret_name)["ARN"]
        version_id = next(
            v
            for v, labels in secrets.describe_secret(SecretId=arn)["VersionIdsToStages"].items()
            if INITIAL_STAGE in labels
        )
        secrets.update_secret_version_stage(SecretId=arn, VersionStage=INITIAL_STAGE, RemoveFromVersionId=version_id)
        edit(stack, lustreStorageCapacity=4800)
        assert version_id in delete_deprecated_versions(REGION, stack.secret_name)
        state = PulumiState(stack.deployment, REGION)
        assert [c.path for c in state.refresh() if c.type == SECRET_VERSION] == ["(deleted)"]
        assert [c.path for c in state.up() if c.type == SECRET_VERSION] == ["(created)"]
        assert current(stack)["lustreStorageCapacity"] == 2400, "stack config is back: the edits are lost"
