"""A Step Functions state machine that logs every execution, and its log group: the workflow and the run
cleanup are both built this way."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from batch_lustre.program.components import Tags

LOG_RETENTION_DAYS = 90
# Step Functions' vended logs: this prefix keeps the log resource policy small
# (Step Functions Developer Guide, "Logging using CloudWatch Logs").
STATE_MACHINE_LOG_GROUP_PREFIX = "/aws/vendedlogs/states/"


def state_machine_log_group(
    resource_name: str, *, state_machine_name: str, tags: Tags, parent: pulumi.Resource
) -> aws.cloudwatch.LogGroup:
    """The log group of the state machine named ``state_machine_name``."""
    return aws.cloudwatch.LogGroup(
        resource_name,
        aws.cloudwatch.LogGroupArgs(
            name=f"{STATE_MACHINE_LOG_GROUP_PREFIX}{state_machine_name}",
            retention_in_days=LOG_RETENTION_DAYS,
            tags=tags,
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def logged_state_machine(
    resource_name: str,
    *,
    name: str,
    role_arn: pulumi.Input[str],
    definition: pulumi.Input[str],
    log_group: aws.cloudwatch.LogGroup,
    role_policy: aws.iam.RolePolicy,
    tags: Tags,
    parent: pulumi.Resource,
) -> aws.sfn.StateMachine:
    """A STANDARD state machine logging ALL events, with execution data, to ``log_group``."""
    return aws.sfn.StateMachine(
        resource_name,
        aws.sfn.StateMachineArgs(
            name=name,
            type="STANDARD",
            role_arn=role_arn,
            definition=definition,
            logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                level="ALL",
                include_execution_data=True,
                # Step Functions wants the log group ARN with its ":*" suffix.
                log_destination=log_group.arn.apply(lambda arn: f"{arn}:*"),
            ),
            tracing_configuration=aws.sfn.StateMachineTracingConfigurationArgs(enabled=False),
            tags=tags,
        ),
        # Step Functions checks the role's log-delivery permissions (in that policy) at creation.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[role_policy]),
    )
