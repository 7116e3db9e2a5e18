"""A deployed stack's identity (envName, mode, aws:region) in the emulation: a second deploy of the same stack reads
the first one's outputs through the engine's readStackOutputs; a change of one of them is refused in one line before
anything is declared, and AWS is left as it was; the same identity deploys again."""

from __future__ import annotations

import botocore.client
import pulumi
import pytest

from batch_lustre.emulation import Emulation, setup_stack
from batch_lustre.emulation.clients import client
from batch_lustre.emulation.deploy import deploy
from batch_lustre.emulation.stack import stack_config
from batch_lustre.program.parameters import AUTO_EXPORT, TASK_EXPORT

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws")

READ_ONLY = ("Describe", "Get", "List")


@pytest.fixture(scope="module")
def deployed():
    with Emulation() as emu:
        stack = setup_stack(emu, TASK_EXPORT)
        yield emu, stack


def aws_state(region: str) -> dict[str, object]:
    """What a deploy would change: the stack's resources as AWS lists them."""
    sfn, batch = client("stepfunctions", region), client("batch", region)
    machines = sfn.list_state_machines()["stateMachines"]
    return {
        "machines": sorted(
            sfn.describe_state_machine(stateMachineArn=m["stateMachineArn"])["definition"] for m in machines
        ),
        "functions": sorted(
            (f["FunctionName"], f["CodeSha256"]) for f in client("lambda", region).list_functions()["Functions"]
        ),
        "environments": [
            (
                e["computeEnvironmentName"],
                e["computeResources"]["maxvCpus"],
                str(e["computeResources"].get("launchTemplate")),
            )
            for e in batch.describe_compute_environments()["computeEnvironments"]
        ],
        "buckets": sorted(b["Name"] for b in client("s3", region).list_buckets()["Buckets"]),
        "roles": sorted(r["RoleName"] for r in client("iam", region).list_roles()["Roles"]),
        "vpcs": sorted(v["VpcId"] for v in client("ec2", region).describe_vpcs()["Vpcs"]),
        "secrets": sorted(s["Name"] for s in client("secretsmanager", region).list_secrets()["SecretList"]),
    }


@pytest.fixture
def aws_calls(monkeypatch):
    """Every AWS operation sent while the test runs."""
    sent: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        sent.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return sent


def changed_config(change: str) -> dict[str, str]:
    if change == "envName":
        return stack_config(TASK_EXPORT, env_name="Prod", max_vcpus=256)
    if change == "mode":  # autoexport's stack file, with the deployed stack's envName
        return stack_config(AUTO_EXPORT, env_name="TaskExport", max_vcpus=256)
    return {**stack_config(TASK_EXPORT, max_vcpus=256), "aws:region": "eu-west-1"}


@pytest.mark.parametrize(
    ("change", "line"),
    [
        (
            "envName",
            'batch-lustre:envName="Prod" is not accepted: stack taskexport was deployed with '
            'batch-lustre:envName="TaskExport"',
        ),
        (
            "mode",
            'batch-lustre:mode="autoexport" is not accepted: stack taskexport was deployed with '
            'batch-lustre:mode="taskexport"',
        ),
        ("region", 'aws:region="eu-west-1" is not accepted: stack taskexport was deployed with aws:region="us-east-1"'),
    ],
    ids=["envName", "mode", "region"],
)
def test_a_change_of_identity_is_refused_in_one_line_and_changes_nothing(deployed, aws_calls, change, line):
    emu, stack = deployed
    before = aws_state(emu.region)
    aws_calls.clear()
    with pytest.raises(pulumi.RunError) as refused:
        deploy(emu.region, TASK_EXPORT, changed_config(change))
    message = str(refused.value)
    assert message.startswith(f"stack taskexport: {line}") and "\n" not in message
    assert f"aws s3 sync s3://{stack.deployment.outputs['bucketName']} " in message
    assert aws_calls and all(call.startswith(READ_ONLY) for call in aws_calls), aws_calls
    aws_calls.clear()
    assert aws_state(emu.region) == before


@pytest.mark.parametrize("env_name", ["TaskExport2", "taskexport"])
def test_any_other_env_name_is_refused(deployed, env_name):
    emu, _ = deployed
    with pytest.raises(pulumi.RunError, match=rf'^stack taskexport: batch-lustre:envName="{env_name}" is not accepted'):
        deploy(emu.region, TASK_EXPORT, stack_config(TASK_EXPORT, env_name=env_name, max_vcpus=256))


def test_a_deploy_with_the_same_identity_is_accepted_and_changes_nothing(deployed, aws_calls):
    emu, stack = deployed
    before = aws_state(emu.region)
    aws_calls.clear()
    again = deploy(emu.region, TASK_EXPORT, stack_config(TASK_EXPORT, max_vcpus=256))
    assert again.outputs == stack.deployment.outputs
    assert all(call.startswith(READ_ONLY) for call in aws_calls), aws_calls
    aws_calls.clear()
    assert aws_state(emu.region) == before
