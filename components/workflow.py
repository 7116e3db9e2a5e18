"""The Step Functions workflow of each mode, with its Lambda functions and roles."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from batch_lustre.program import asl
from batch_lustre.program.asl import iam, naming
from batch_lustre.program.asl.data_layout import DataLayout
from batch_lustre.program.asl.refs import LaneRefs, WorkflowRefs
from batch_lustre.program.asl.states import WAIT_FOR_TIMEOUT_SECONDS
from batch_lustre.program.components import Tags, assume_role_policy, lambda_package, named
from batch_lustre.program.components.state_machine import (
    LOG_RETENTION_DAYS,
    logged_state_machine,
    state_machine_log_group,
)
from batch_lustre.program.parameters import AUTO_EXPORT, TASK_EXPORT

LAMBDA_RUNTIME = "python3.12"
WORKFLOW_TYPE = "batchlustre:index:Workflow"
# The component types of the previous release, one per mode: aliases of today's stacks (stack.py).
PREVIOUS_WORKFLOW_TYPES: Mapping[str, str] = {
    TASK_EXPORT: "batchlustre:index:TaskExportWorkflow",
    AUTO_EXPORT: "batchlustre:index:AutoExportWorkflow",
}


@dataclass(frozen=True)
class LaneArgs:
    """One lane's resources as a workflow refers to them (a ``ComputeEnvironment``'s outputs)."""

    compute_environment_arn: pulumi.Input[str]
    job_queue_arn: pulumi.Input[str]
    baseline_launch_template_id: pulumi.Input[str]
    baseline_launch_template_version: pulumi.Input[str]


@dataclass
class WorkflowArgs:
    """Inputs of a workflow: names from settings and the other components' outputs."""

    stack: str
    mode: str  # taskexport or autoexport: which workflow the state machine runs
    stack_id: pulumi.Input[str]  # the stack's generated id (asl.naming.TAG_STACK_ID)
    name_prefix: str  # Settings.resource_prefix
    max_vcpus: int  # computeEnvironmentMaxvCpus: the job must fit the compute environment
    secret_arn: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[Sequence[str]]
    lustre_security_group_id: pulumi.Input[str]
    lanes: Sequence[LaneArgs]  # lane k at index k
    lane_table_name: pulumi.Input[str]
    repository_url: pulumi.Input[str]
    job_log_group_name: pulumi.Input[str]  # where each run's job definition sends the job's logs
    data_layout: DataLayout = field(default_factory=DataLayout)
    tags: Tags = field(default_factory=dict)


class Workflow(pulumi.ComponentResource):
    """The workflow of ``args.mode``: a log group, the ExtractParameters, SummarizeJobFailure and WaitFor Lambdas
    (and CheckMetrics in autoexport: it reads the export-queue metric, waiting between reads, until it shows the
    queue drained or cannot prove it), the state machine's role (policy from ``iam.state_machine_policy``) and the
    STANDARD state machine (definition from ``asl.build_definition``), logging ALL with execution data. One
    component type for both modes: the mode is an input, not part of any resource's URN.

    The definition and policy are built from plain values (``WorkflowRefs``) once every
    ARN is known, inside ``Output.all(...).apply``.

    Outputs: ``state_machine_arn``, ``state_machine_name``, ``definition`` (JSON text),
    ``extract_parameters_function_arn``, ``wait_for_function_arn`` (+ ``check_metrics_function_arn`` in autoexport).

    Each function publishes a version whenever its code or configuration changes, and the definition names the
    qualified ARN of the version published with it (``<function ARN>:<version>``): an execution runs the Lambda
    code of the definition it started with, whatever a later ``pulumi up`` deploys (docs/aws-rules.md, "Lambda
    versions"). The function ARN outputs are these qualified ARNs.
    """

    def __init__(self, name: str, args: WorkflowArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(WORKFLOW_TYPE, name, None, opts)
        self._name = name
        self._label = args.name_prefix  # what each Name tag starts with
        self.mode = args.mode
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self._roles: dict[str, aws.iam.Role] = {}  # each function's role, by its suffix
        self.state_machine_name = naming.state_machine_name(args.name_prefix, args.stack)

        self.log_group = state_machine_log_group(
            f"{name}-state-machine-logs",
            state_machine_name=self.state_machine_name,
            tags=self._tags("state-machine-logs"),
            parent=self,
        )
        self.extract_parameters = self._create_function(
            "extract-parameters",
            handler=lambda_package.handler("extract_parameters"),
            code=lambda_package.archive("extract_parameters"),
            environment={
                "MODE": self.mode,
                "MAX_VCPUS": str(args.max_vcpus),
                # A run's resources are named <envName>-<stack id>-<execution name>.
                "NAME_PREFIX": pulumi.Output.from_input(args.stack_id).apply(
                    lambda stack_id: naming.run_name_prefix(args.name_prefix, stack_id)
                ),
            },
            timeout=30,
        )
        self.summarize_job = self._create_function(
            "summarize-job",
            handler=lambda_package.handler("summarize_job"),
            code=lambda_package.archive("summarize_job"),
            environment={},
            timeout=60,
            extra_policy=summarize_job_policy(),
        )
        # WaitFor polls inside one invocation until its function timeout (Lambda's maximum, 900 s), less a
        # margin (lambda/wait_for.py); it makes only describe/list calls.
        self.wait_for = self._create_function(
            "wait-for",
            handler=lambda_package.handler("wait_for"),
            code=lambda_package.archive("wait_for"),
            environment={},
            timeout=WAIT_FOR_TIMEOUT_SECONDS,
        )
        self.check_metrics = self._create_mode_functions()

        # (refs, definition dict): the policy is derived from the definition it must allow.
        self.refs = self._refs()
        # WaitFor's calls (asl/iam.py LAMBDA_ACTIONS["wait_for"]): the describe calls, and the lane check's calls
        # scoped to this stack's lane table and state machine, so derived from the refs (made after the function).
        self.wait_for_policy = aws.iam.RolePolicy(
            f"{name}-wait-for-policy",
            role=self._roles["wait-for"].id,
            policy=self.refs.apply(lambda refs: json.dumps(iam.lambda_policy(refs, "wait_for"))),
            opts=self._child,
        )
        built = self.refs.apply(lambda refs: (refs, asl.build_definition(refs)))
        self.definition = built.apply(lambda rd: json.dumps(rd[1]))
        self.role = self._create_state_machine_role(
            built.apply(lambda rd: json.dumps(iam.state_machine_policy(rd[0], rd[1])))
        )
        self.state_machine = self._create_state_machine()

        self.state_machine_arn = self.state_machine.arn
        self.extract_parameters_function_arn = self.extract_parameters.qualified_arn
        self.wait_for_function_arn = self.wait_for.qualified_arn
        outputs: dict[str, Any] = {
            "state_machine_arn": self.state_machine_arn,
            "state_machine_name": self.state_machine.name,
            "definition": self.definition,
            "extract_parameters_function_arn": self.extract_parameters_function_arn,
            "summarize_job_function_arn": self.summarize_job.qualified_arn,
            "wait_for_function_arn": self.wait_for_function_arn,
        }
        if self.check_metrics is not None:
            outputs["check_metrics_function_arn"] = self.check_metrics.qualified_arn
        self.register_outputs(outputs)

    def _create_mode_functions(self) -> aws.lambda_.Function | None:
        """The CheckMetrics function in autoexport; nothing in taskexport."""
        if self.mode != AUTO_EXPORT:
            return None
        return self._create_function(
            "check-metrics",
            handler=lambda_package.handler("check_metrics"),
            code=lambda_package.archive("check_metrics"),
            environment={},
            timeout=WAIT_FOR_TIMEOUT_SECONDS,  # it waits between reads as WaitFor does (lambda/check_metrics.py)
            extra_policy=check_metrics_policy(),
        )

    def _tags(self, suffix: str) -> dict[str, pulumi.Input[str]]:
        return named(self._args.tags, f"{self._label}-{suffix}")

    def _create_function(
        self,
        suffix: str,
        *,
        handler: str,
        code: pulumi.Archive,
        environment: Mapping[str, pulumi.Input[str]],
        timeout: int,
        extra_policy: dict | None = None,
    ) -> aws.lambda_.Function:
        """A Lambda function with its own role (basic logging, plus ``extra_policy``) and log group, publishing a
        version at each change."""
        role = self._roles[suffix] = aws.iam.Role(
            f"{self._name}-{suffix}-role",
            assume_role_policy=json.dumps(assume_role_policy("lambda.amazonaws.com")),
            tags=self._tags(f"{suffix}-role"),
            opts=self._child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{self._name}-{suffix}-basic-execution",
            role=role.name,
            policy_arn=aws.iam.ManagedPolicy.AWS_LAMBDA_BASIC_EXECUTION_ROLE,
            opts=self._child,
        )
        depends_on: list[pulumi.Resource] = [attachment]
        if extra_policy is not None:
            depends_on.append(
                aws.iam.RolePolicy(
                    f"{self._name}-{suffix}-policy", role=role.id, policy=json.dumps(extra_policy), opts=self._child
                )
            )
        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-{suffix}-logs",
            retention_in_days=LOG_RETENTION_DAYS,
            tags=self._tags(f"{suffix}-logs"),
            opts=self._child,
        )
        return aws.lambda_.Function(
            f"{self._name}-{suffix}",
            runtime=LAMBDA_RUNTIME,
            handler=handler,
            code=code,
            role=role.arn,
            timeout=timeout,
            memory_size=128,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(environment)),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=log_group.name),
            publish=True,
            tags=self._tags(suffix),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

    def _refs(self) -> pulumi.Output[WorkflowRefs]:
        return workflow_refs(
            self._args,
            mode=self.mode,
            state_machine_name=self.state_machine_name,
            parent=self,
            extract_parameters_function_arn=self.extract_parameters.qualified_arn,
            summarize_job_function_arn=self.summarize_job.qualified_arn,
            wait_for_function_arn=self.wait_for.qualified_arn,
            check_metrics_function_arn=self.check_metrics.qualified_arn if self.check_metrics is not None else "",
        )

    def _create_state_machine_role(self, workflow_policy: pulumi.Output[str]) -> aws.iam.Role:
        role = aws.iam.Role(
            f"{self._name}-state-machine-role",
            assume_role_policy=json.dumps(assume_role_policy("states.amazonaws.com")),
            tags=self._tags("state-machine-role"),
            opts=self._child,
        )
        self.workflow_policy = aws.iam.RolePolicy(
            f"{self._name}-state-machine-policy",
            role=role.id,
            policy=workflow_policy,
            opts=self._child,
        )
        return role

    def _create_state_machine(self) -> aws.sfn.StateMachine:
        return logged_state_machine(
            f"{self._name}-state-machine",
            name=self.state_machine_name,
            role_arn=self.role.arn,
            definition=self.definition,
            log_group=self.log_group,
            role_policy=self.workflow_policy,
            tags=self._tags("state-machine"),
            parent=self,
        )


def workflow_refs(
    args: WorkflowArgs,
    *,
    mode: str,
    state_machine_name: str,
    parent: pulumi.Resource,
    extract_parameters_function_arn: pulumi.Input[str],
    summarize_job_function_arn: pulumi.Input[str] = "",
    check_metrics_function_arn: pulumi.Input[str] = "",
    wait_for_function_arn: pulumi.Input[str] = "",
) -> pulumi.Output[WorkflowRefs]:
    """The ARNs and names a workflow definition is built from, as plain values once the resources exist (the
    workflow's own, and the run cleanup's, which works on the workflow's resources)."""
    invoke_opts = pulumi.InvokeOutputOptions(parent=parent)
    identity = aws.get_caller_identity_output(opts=invoke_opts)
    region = aws.get_region_output(opts=invoke_opts)

    def make(values: dict[str, Any]) -> WorkflowRefs:
        lanes = tuple(
            LaneRefs(
                compute_environment_arn=lane["compute_environment_arn"],
                job_queue_arn=lane["job_queue_arn"],
                baseline_launch_template_id=lane["baseline_launch_template_id"],
                baseline_launch_template_version=str(lane["baseline_launch_template_version"]),
            )
            for lane in values["lanes"]
        )
        return WorkflowRefs(
            mode=mode,
            stack=args.stack,
            stack_id=values["stack_id"],
            name_prefix=naming.run_name_prefix(args.name_prefix, values["stack_id"]),
            region=values["region"],
            account_id=values["account_id"],
            state_machine_name=state_machine_name,
            run_cleanup_state_machine_name=naming.run_cleanup_state_machine_name(args.name_prefix, args.stack),
            secret_arn=values["secret_arn"],
            bucket_name=values["bucket_name"],
            subnet_id=values["private_subnet_ids"][0],
            lustre_security_group_id=values["lustre_security_group_id"],
            lanes=lanes,
            lane_table_name=values["lane_table_name"],
            job_repository_url=values["repository_url"],
            job_log_group_name=values["job_log_group_name"],
            extract_parameters_function_arn=values["extract_parameters_function_arn"],
            summarize_job_function_arn=values["summarize_job_function_arn"],
            check_metrics_function_arn=values["check_metrics_function_arn"],
            wait_for_function_arn=values["wait_for_function_arn"],
            data_layout=args.data_layout,
        )

    return pulumi.Output.all(
        stack_id=args.stack_id,
        region=region.region,
        account_id=identity.account_id,
        secret_arn=args.secret_arn,
        bucket_name=args.bucket_name,
        private_subnet_ids=args.private_subnet_ids,
        lustre_security_group_id=args.lustre_security_group_id,
        lanes=[vars(lane) for lane in args.lanes],
        lane_table_name=args.lane_table_name,
        repository_url=args.repository_url,
        job_log_group_name=args.job_log_group_name,
        extract_parameters_function_arn=extract_parameters_function_arn,
        summarize_job_function_arn=summarize_job_function_arn,
        check_metrics_function_arn=check_metrics_function_arn,
        wait_for_function_arn=wait_for_function_arn,
    ).apply(make)


def summarize_job_policy() -> dict:
    """SummarizeJobFailure reads the failed job (and an array's failed children): neither call has
    resource-level permissions (Service Authorization Reference, AWS Batch)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadFailedJobs",
                "Effect": "Allow",
                "Action": ["batch:DescribeJobs", "batch:ListJobs"],
                "Resource": "*",
            }
        ],
    }


def check_metrics_policy() -> dict:
    """CheckMetrics reads the export-queue metric; GetMetricData has no resource-level permissions."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadExportQueueMetric", "Effect": "Allow", "Action": "cloudwatch:GetMetricData", "Resource": "*"}
        ],
    }
