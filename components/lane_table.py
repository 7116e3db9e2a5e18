"""The lane table: which run holds which lane (a compute environment and its job queue, stack config
maxConcurrentRuns)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from batch_lustre.program.asl import naming
from batch_lustre.program.components import Tags, named

LANE_TABLE_TYPE = "batchlustre:index:LaneTable"
# The table's one key: the lane's index, a number (DynamoDB attribute type N).
LANE_KEY = "lane"


@dataclass
class LaneTableArgs:
    """Inputs of :class:`LaneTable`."""

    stack_id: pulumi.Input[str]  # the stack's generated id: the table is named <envName>-<stack id>-lanes
    label: str  # envName in lower case (Settings.resource_prefix): what the name and the Name tag start with
    tags: Tags = field(default_factory=dict)


class LaneTable(pulumi.ComponentResource):
    """A DynamoDB table with one item per held lane: ``{"lane": <k>, "owner": <execution ARN>, "since": <time>}``.
    A run takes a lane with a conditional PutItem and releases it with a conditional DeleteItem (the workflow's
    states, through Step Functions' DynamoDB integration: docs/design.md, "Lanes").

    Named ``<envName>-<stack id>-lanes`` (``naming.lane_table_name``): the stack id makes the name the stack's own,
    so the workflow's IAM names this table alone. On-demand billing (a few requests per run: no capacity to
    provision), no point-in-time recovery (the items describe runs in flight, nothing to restore), deletion
    protection off (``pulumi destroy`` removes it with the stack). A component of its own, like the stack's other
    parts: the table is the workflow's and the run cleanup's, and neither owns it.

    Outputs: ``table_name``, ``table_arn``.
    """

    def __init__(self, name: str, args: LaneTableArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(LANE_TABLE_TYPE, name, None, opts)
        table_name = pulumi.Output.from_input(args.stack_id).apply(
            lambda stack_id: naming.lane_table_name(naming.run_name_prefix(args.label, stack_id))
        )
        self.table = aws.dynamodb.Table(
            f"{name}-lanes",
            aws.dynamodb.TableArgs(
                name=table_name,
                billing_mode="PAY_PER_REQUEST",
                hash_key=LANE_KEY,
                attributes=[aws.dynamodb.TableAttributeArgs(name=LANE_KEY, type="N")],
                deletion_protection_enabled=False,
                point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=False),
                tags=named(args.tags, f"{args.label}-lanes"),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.table_name = self.table.name
        self.table_arn = self.table.arn
        self.register_outputs({"table_name": self.table_name, "table_arn": self.table_arn})
