"""The stack's ComponentResources, one module each, and the small helpers they share.

- ``network.Network``: VPC, subnets, NAT.
- ``data_bucket.DataBucket``: the results bucket.
- ``compute_environment.ComputeEnvironment``: ECR, Batch compute environment, job queue.
- ``lane_table.LaneTable``: the DynamoDB table of the lanes' holders.
- ``runtime_secret.RuntimeSecret``: the secret of run-time parameters.
- ``workflow.TaskExportWorkflow`` / ``workflow.AutoExportWorkflow``: Lambdas and state machine.
- ``run_cleanup.RunCleanup``: the run-cleanup state machine, its FindRunResources Lambda and the EventBridge
  rule that starts it after a run ended FAILED, TIMED_OUT or ABORTED.
- ``lambda_package``: the Lambdas' code archives.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

# The stack's tags (asl.naming.stack_tags): the stack id among them is the program's output, known at deploy.
Tags = Mapping[str, pulumi.Input[str]]


def assume_role_policy(service: str) -> dict:
    """Trust policy letting ``service`` (e.g. ``lambda.amazonaws.com``) assume a role."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def named(tags: Tags, name: str) -> dict[str, pulumi.Input[str]]:
    """``tags`` plus a ``Name`` tag (shown by the EC2 console)."""
    return {**tags, "Name": name}
