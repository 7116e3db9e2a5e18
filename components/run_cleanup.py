"""The run-cleanup state machine, its FindRunResources Lambda and the EventBridge rule that starts it.

A run of the workflow that ends FAILED, TIMED_OUT or ABORTED may not have reached its own ``Cleanup``
(StopExecution, the execution timeout, the 25,000-event history limit, a ``States.Runtime`` error): Step
Functions' "Execution Status Change" event for it starts ``<prefix>-<stack>-run-cleanup``
(``asl/run_cleanup.py``), which finishes the run's cleanup. See docs/workflow-v2.md, "Run cleanup after an
abnormal end".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from batch_lustre.program.asl import iam
from batch_lustre.program.asl.naming import run_cleanup_state_machine_name
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.asl.run_cleanup import (
    build_run_cleanup,
    start_run_cleanup_policy,
    status_change_event_pattern,
)
from batch_lustre.program.components import assume_role_policy, lambda_package, named
from batch_lustre.program.components.state_machine import (
    LOG_RETENTION_DAYS,
    logged_state_machine,
    state_machine_log_group,
)
from batch_lustre.program.components.workflow import LAMBDA_RUNTIME, WorkflowArgs, workflow_refs

# The Lambda's handler module: its key in asl.naming.LAMBDA_FILES and asl.iam.LAMBDA_ACTIONS.
FIND_RUN_RESOURCES_MODULE = "find_run_resources"
FIND_RUN_RESOURCES_TIMEOUT_SECONDS = 300  # a few calls per resource; nothing is waited for in it
EVENT_TARGET_ID = "run-cleanup"


@dataclass
class RunCleanupArgs:
    """Inputs of run-cleanup: the same values the run's workflow was built from, and that workflow's outputs."""

    mode: str  # parameters.TASK_EXPORT | parameters.AUTO_EXPORT: the workflow's mode
    workflow: WorkflowArgs
    workflow_state_machine_arn: pulumi.Input[str]  # the runs to clean up after are this machine's
    workflow_state_machine_name: str
    extract_parameters_function_arn: pulumi.Input[str]  # the workflow's: it reads the parameters as the run did
    wait_for_function_arn: pulumi.Input[str]  # the workflow's: it waits for the export as the run would


class RunCleanup(pulumi.ComponentResource):
    """FindRunResources Lambda (its role allows what ``asl.iam.lambda_policy`` derives for it, plus writing to its
    own log group), the STANDARD run-cleanup state machine (definition from ``asl.run_cleanup.build_run_cleanup``,
    role policy from ``asl.iam.state_machine_policy``, logging ALL), and the EventBridge rule on the workflow's
    FAILED / TIMED_OUT / ABORTED executions whose target starts it (with a role that may start only it).

    Outputs: ``state_machine_arn``, ``state_machine_name``, ``definition`` (JSON text),
    ``find_run_resources_function_arn`` (the qualified ARN of its published version, which the definition
    invokes), ``rule_arn``.
    """

    def __init__(self, name: str, args: RunCleanupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("batchlustre:index:RunCleanup", name, None, opts)
        self._name = f"{name}-run-cleanup"
        self._label = f"{args.workflow.name_prefix}-run-cleanup"  # what each Name tag starts with
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self.state_machine_name = run_cleanup_state_machine_name(args.workflow.name_prefix, args.workflow.stack)

        refs = self._refs()
        self.find_run_resources = self._create_find_run_resources(refs)
        built = pulumi.Output.all(
            refs, self.find_run_resources.qualified_arn, args.extract_parameters_function_arn
        ).apply(
            lambda values: (
                values[0],
                build_run_cleanup(
                    values[0], find_run_resources_function_arn=values[1], extract_parameters_function_arn=values[2]
                ),
            )
        )
        self.definition = built.apply(lambda rd: json.dumps(rd[1]))
        self.log_group = state_machine_log_group(
            f"{self._name}-state-machine-logs",
            state_machine_name=self.state_machine_name,
            tags=self._tags("state-machine-logs"),
            parent=self,
        )
        self.role, self.role_policy = self._create_role(
            "state-machine",
            "states.amazonaws.com",
            built.apply(lambda rd: json.dumps(iam.state_machine_policy(rd[0], rd[1]))),
        )
        self.state_machine = self._create_state_machine()
        self.rule, self.target = self._create_rule()

        self.state_machine_arn = self.state_machine.arn
        self.find_run_resources_function_arn = self.find_run_resources.qualified_arn
        self.register_outputs(
            {
                "state_machine_arn": self.state_machine_arn,
                "state_machine_name": self.state_machine.name,
                "definition": self.definition,
                "find_run_resources_function_arn": self.find_run_resources_function_arn,
                "rule_arn": self.rule.arn,
            }
        )

    def _tags(self, suffix: str) -> dict[str, pulumi.Input[str]]:
        return named(self._args.workflow.tags, f"{self._label}-{suffix}")

    def _refs(self) -> pulumi.Output[WorkflowRefs]:
        """The run's workflow, as plain values (as the workflow builds them; run-cleanup calls no SummarizeJob)."""
        return workflow_refs(
            self._args.workflow,
            mode=self._args.mode,
            state_machine_name=self._args.workflow_state_machine_name,
            parent=self,
            extract_parameters_function_arn=self._args.extract_parameters_function_arn,
            wait_for_function_arn=self._args.wait_for_function_arn,
        )

    def _create_role(
        self, suffix: str, service: str, policy: pulumi.Input[str]
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """A role ``service`` assumes, with ``policy`` as its inline policy."""
        role = aws.iam.Role(
            f"{self._name}-{suffix}-role",
            aws.iam.RoleArgs(
                assume_role_policy=json.dumps(assume_role_policy(service)), tags=self._tags(f"{suffix}-role")
            ),
            opts=self._child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{self._name}-{suffix}-policy", aws.iam.RolePolicyArgs(role=role.id, policy=policy), opts=self._child
        )
        return role, role_policy

    def _create_find_run_resources(self, refs: pulumi.Output[WorkflowRefs]) -> aws.lambda_.Function:
        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-find-run-resources-logs",
            aws.cloudwatch.LogGroupArgs(
                retention_in_days=LOG_RETENTION_DAYS, tags=self._tags("find-run-resources-logs")
            ),
            opts=self._child,
        )
        policy = pulumi.Output.all(refs, log_group.arn).apply(
            lambda values: json.dumps(find_run_resources_policy(values[0], values[1]))
        )
        role, role_policy = self._create_role("find-run-resources", "lambda.amazonaws.com", policy)
        return aws.lambda_.Function(
            f"{self._name}-find-run-resources",
            aws.lambda_.FunctionArgs(
                runtime=LAMBDA_RUNTIME,
                handler=lambda_package.handler(FIND_RUN_RESOURCES_MODULE),
                code=lambda_package.archive(FIND_RUN_RESOURCES_MODULE),
                role=role.arn,
                timeout=FIND_RUN_RESOURCES_TIMEOUT_SECONDS,
                memory_size=128,
                logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=log_group.name),
                publish=True,  # the definition invokes the version published with it (components/workflow.py)
                tags=self._tags("find-run-resources"),
            ),
            # The role must allow writing logs before the function first runs.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )

    def _create_state_machine(self) -> aws.sfn.StateMachine:
        return logged_state_machine(
            f"{self._name}-state-machine",
            name=self.state_machine_name,
            role_arn=self.role.arn,
            definition=self.definition,
            log_group=self.log_group,
            role_policy=self.role_policy,
            tags=self._tags("state-machine"),
            parent=self,
        )

    def _create_rule(self) -> tuple[aws.cloudwatch.EventRule, aws.cloudwatch.EventTarget]:
        rule = aws.cloudwatch.EventRule(
            f"{self._name}-rule",
            aws.cloudwatch.EventRuleArgs(
                description="A run of the batch-lustre workflow ended FAILED, TIMED_OUT or ABORTED: start run-cleanup",
                event_pattern=pulumi.Output.from_input(self._args.workflow_state_machine_arn).apply(
                    lambda arn: json.dumps(status_change_event_pattern(arn))
                ),
                tags=self._tags("rule"),
            ),
            opts=self._child,
        )
        events_role, events_policy = self._create_role(
            "events",
            "events.amazonaws.com",
            self.state_machine.arn.apply(lambda arn: json.dumps(start_run_cleanup_policy(arn))),
        )
        target = aws.cloudwatch.EventTarget(
            f"{self._name}-target",
            aws.cloudwatch.EventTargetArgs(
                rule=rule.name,
                target_id=EVENT_TARGET_ID,
                arn=self.state_machine.arn,
                role_arn=events_role.arn,
            ),
            # The event (the whole of it) is the execution's input.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[events_policy]),
        )
        return rule, target


def find_run_resources_policy(refs: WorkflowRefs, log_group_arn: str) -> dict[str, Any]:
    """The FindRunResources role's policy: what the handler calls (``asl.iam.lambda_policy``), and writing to its
    own log group (its only logging permissions: the log group exists, so no logs:CreateLogGroup)."""
    document = iam.lambda_policy(refs, FIND_RUN_RESOURCES_MODULE)
    statements = list(document["Statement"]) if document is not None else []
    statements.append(
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": [f"{log_group_arn}:*"]}
    )
    return {"Version": "2012-10-17", "Statement": statements}
