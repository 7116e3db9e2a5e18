"""The state machine role's policy, derived from the definition: exactly what it calls, narrowly scoped.

Each Task of the definition maps to one IAM action; the table below says on
which resources (ARN formats from the Service Authorization Reference) and
which dependent actions a call needs (tag-on-create, service-linked roles).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from asl.naming import TAG_STACK
from asl.refs import WorkflowRefs
from asl.states import AWS_SDK, LAMBDA_INVOKE

# Step Functions' aws-sdk service names that differ from the IAM prefix.
IAM_PREFIX = {"sfn": "states"}

# Actions the state machine's own logging needs (Step Functions Developer Guide, "Logging using CloudWatch
# Logs"): none of them supports resource-level permissions.
LOGGING_ACTIONS = [
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
]


def called_actions(definition: dict[str, Any]) -> set[str]:
    """IAM actions of every Task in ``definition`` (e.g. ``fsx:CreateFileSystem``)."""
    return {action for action, _ in _tasks(definition)}


def _tasks(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for state in definition["States"].values():
        if state.get("Type") != "Task":
            continue
        resource = state["Resource"]
        if resource.startswith(AWS_SDK):
            service, api_action = resource[len(AWS_SDK):].split(":")
            yield f"{IAM_PREFIX.get(service, service)}:{api_action[0].upper()}{api_action[1:]}", state
        elif resource == LAMBDA_INVOKE:
            yield "lambda:InvokeFunction", state
        else:
            raise ValueError(f"no IAM mapping for Task resource {resource}")


def _statement(actions: list[str], resources: list[str], condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": sorted(actions), "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def _grants(refs: WorkflowRefs) -> dict[str, list[dict[str, Any]]]:
    """For each IAM action the workflow may call: the statements that allow it."""
    region, account, prefix = refs.region, refs.account_id, refs.name_prefix
    fsx = f"arn:aws:fsx:{region}:{account}"
    batch = f"arn:aws:batch:{region}:{account}"
    launch_templates = f"arn:aws:ec2:{region}:{account}:launch-template/*"
    job_definitions = f"{batch}:job-definition/{prefix}-*"
    this_stack_request = {"StringEquals": {f"aws:RequestTag/{TAG_STACK}": refs.stack}}
    this_stack_resource = {"StringEquals": {f"aws:ResourceTag/{TAG_STACK}": refs.stack}}
    s3_link_role = "arn:aws:iam::*:role/aws-service-role/s3.data-source.lustre.fsx.amazonaws.com/*"
    return {
        "states:ListExecutions": [_statement(
            ["states:ListExecutions"], [f"arn:aws:states:{region}:{account}:stateMachine:{refs.state_machine_name}"])],
        "secretsmanager:GetSecretValue": [_statement(["secretsmanager:GetSecretValue"], [refs.secret_arn])],
        "fsx:CreateFileSystem": [
            _statement(["fsx:CreateFileSystem"], [f"{fsx}:file-system/*"], this_stack_request),
            # FSx creates its service-linked role on first use.
            _statement(["iam:CreateServiceLinkedRole"],
                       ["arn:aws:iam::*:role/aws-service-role/fsx.amazonaws.com/*"],
                       {"StringLike": {"iam:AWSServiceName": "fsx.amazonaws.com"}}),
        ],
        "fsx:TagResource": [_statement(
            ["fsx:TagResource"], [f"{fsx}:file-system/*", f"{fsx}:association/*/*", f"{fsx}:task/*"],
            this_stack_request)],
        "fsx:DescribeFileSystems": [_statement(["fsx:DescribeFileSystems"], ["*"])],
        "fsx:CreateDataRepositoryAssociation": [
            _statement(["fsx:CreateDataRepositoryAssociation"], [f"{fsx}:file-system/*", f"{fsx}:association/*/*"]),
            # AWS_FACTS: FSx with an S3 data repository needs these on its S3 service-linked role.
            _statement(["iam:CreateServiceLinkedRole", "iam:AttachRolePolicy", "iam:PutRolePolicy"], [s3_link_role]),
        ],
        "fsx:DescribeDataRepositoryAssociations": [_statement(["fsx:DescribeDataRepositoryAssociations"], ["*"])],
        "fsx:UpdateDataRepositoryAssociation": [
            _statement(["fsx:UpdateDataRepositoryAssociation"], [f"{fsx}:association/*/*"])],
        "fsx:CreateDataRepositoryTask": [
            _statement(["fsx:CreateDataRepositoryTask"], [f"{fsx}:file-system/*", f"{fsx}:task/*"])],
        "fsx:DescribeDataRepositoryTasks": [_statement(["fsx:DescribeDataRepositoryTasks"], ["*"])],
        "fsx:DeleteFileSystem": [
            _statement(["fsx:DeleteFileSystem"], [f"{fsx}:file-system/*"], this_stack_resource)],
        "ec2:CreateLaunchTemplate": [
            _statement(["ec2:CreateLaunchTemplate"], [launch_templates]),
            _statement(["ec2:CreateTags"], [launch_templates],
                       {"StringEquals": {"ec2:CreateAction": "CreateLaunchTemplate"}}),
        ],
        "ec2:DeleteLaunchTemplate": [
            _statement(["ec2:DeleteLaunchTemplate"], [launch_templates], this_stack_resource)],
        "batch:UpdateComputeEnvironment": [
            _statement(["batch:UpdateComputeEnvironment"], [refs.compute_environment_arn])],
        "batch:RegisterJobDefinition": [
            _statement(["batch:RegisterJobDefinition"], [job_definitions]),
        ],
        "batch:TagResource": [_statement(["batch:TagResource"], [f"{job_definitions}:*", f"{batch}:job/*"])],
        "batch:SubmitJob": [_statement(
            ["batch:SubmitJob"], [refs.job_queue_arn, job_definitions, f"{job_definitions}:*", f"{batch}:job/*"])],
        "batch:DescribeJobs": [_statement(["batch:DescribeJobs"], ["*"])],
        "batch:TerminateJob": [_statement(["batch:TerminateJob"], [f"{batch}:job/*"])],
        "batch:DeregisterJobDefinition": [
            _statement(["batch:DeregisterJobDefinition"], [f"{job_definitions}:*"])],
    }


def _lambda_statement(definition: dict[str, Any]) -> dict[str, Any]:
    functions = sorted({
        state["Parameters"]["FunctionName"] for action, state in _tasks(definition) if action == "lambda:InvokeFunction"
    })
    return _statement(["lambda:InvokeFunction"], [arn for f in functions for arn in (f, f"{f}:*")])


def _tagging_actions(definition: dict[str, Any]) -> set[str]:
    """Tag-on-create needs the service's TagResource as well (FSx, Batch)."""
    needed = set()
    for action, state in _tasks(definition):
        service = action.split(":")[0]
        if "Tags" in state.get("Parameters", {}) and service in ("fsx", "batch"):
            needed.add(f"{service}:TagResource")
    return needed


def state_machine_policy(refs: WorkflowRefs, definition: dict[str, Any]) -> dict[str, Any]:
    """The IAM policy document of the state machine role for ``definition``."""
    grants = _grants(refs)
    statements = []
    for action in sorted(called_actions(definition) | _tagging_actions(definition)):
        if action == "lambda:InvokeFunction":
            statements.append(_lambda_statement(definition))
        elif action in grants:
            statements.extend(grants[action])
        else:
            raise ValueError(f"no grant defined for {action}")
    statements.append(_statement(LOGGING_ACTIONS, ["*"]))
    return {"Version": "2012-10-17", "Statement": statements}
