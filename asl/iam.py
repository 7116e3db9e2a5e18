"""IAM policies derived from what the code calls: exactly the actions it needs, narrowly scoped.

State machine roles: each Task of the definition maps to the IAM action(s) its call needs; the
table ``_grants`` says on which resources (ARN formats from the Service Authorization Reference)
and with which conditions, and which dependent actions a call needs:
- tag-on-create: an FSx or Batch call carrying ``Tags`` also needs ``fsx:TagResource`` /
  ``batch:TagResource``; ``ec2:CreateLaunchTemplate`` with ``TagSpecifications`` needs ``ec2:CreateTags``
  (condition ``ec2:CreateAction``);
- ``fsx:CreateDataRepositoryAssociation``: FSx checks that the caller can reach the bucket prefix
  (s3:Get*, s3:List*, s3:PutObject) and creates a service-linked role for the file system's S3 access;
- ``fsx:CreateFileSystem``: FSx's own service-linked role;
- ``arn:aws:states:::batch:submitJob.sync``: batch:SubmitJob, DescribeJobs, TerminateJob and the managed
  EventBridge rule (Step Functions developer guide, "IAM policies for AWS Batch");
- ``arn:aws:states:::dynamodb:<action>``: ``dynamodb:<Action>`` on the table the Task names (Step Functions
  developer guide, "IAM policies for Amazon DynamoDB"), one statement per table; a table chosen at run time
  (``TableName.$``) is refused rather than granted on ``*``.
Sources and what is assumed: ``docs/aws-rules.md``, section "IAM".

Lambda roles: ``lambda_policy(refs, module)`` from ``LAMBDA_ACTIONS`` (what each handler calls).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from batch_lustre.program.asl.naming import TAG_STACK_ID
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.asl.states import AWS_SDK, LAMBDA_INVOKE

# Step Functions' aws-sdk service names that differ from the IAM prefix.
IAM_PREFIX = {"sfn": "states"}

# Optimized integrations: Task resource -> IAM actions it needs (Step Functions developer guide, "IAM
# policies for AWS Batch": Run a Job (.sync) / Request Response).
BATCH_SUBMIT_JOB = "arn:aws:states:::batch:submitJob"
DYNAMODB = "arn:aws:states:::dynamodb:"
BATCH_SUBMIT_JOB_SYNC = "arn:aws:states:::batch:submitJob.sync"
SYNC_BATCH_RULE = "StepFunctionsGetEventsForBatchJobsRule"
INTEGRATION_ACTIONS: dict[str, tuple[str, ...]] = {
    BATCH_SUBMIT_JOB: ("batch:SubmitJob",),
    BATCH_SUBMIT_JOB_SYNC: (
        "batch:SubmitJob",
        "batch:DescribeJobs",
        "batch:TerminateJob",
        "events:PutTargets",
        "events:PutRule",
        "events:DescribeRule",
    ),
}

# Actions the state machine's own logging needs (Step Functions Developer Guide, "Logging using CloudWatch
# Logs"): none of them supports resource-level permissions.
LOGGING_ACTIONS = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
]

FSX_SERVICE = "fsx.amazonaws.com"
FSX_S3_SERVICE = "s3.data-source.lustre.fsx.amazonaws.com"

# What each Lambda handler (lambda/<module>.py) calls with boto3. A handler that calls nothing has ().
LAMBDA_ACTIONS: dict[str, tuple[str, ...]] = {
    "extract_parameters": (),
    "check_metrics": ("cloudwatch:GetMetricData",),
    "summarize_job": ("batch:DescribeJobs", "batch:ListJobs"),
    "wait_for": (
        "fsx:DescribeFileSystems",
        "fsx:DescribeDataRepositoryAssociations",
        "fsx:DescribeDataRepositoryTasks",
        "batch:DescribeComputeEnvironments",
        "batch:ListJobs",
        "batch:DescribeJobs",
        # The lane check (docs/design.md, "The run queue").
        "dynamodb:Scan",
        "states:ListExecutions",
        "states:DescribeExecution",
    ),
    "find_run_resources": (
        "fsx:DescribeFileSystems",
        "fsx:DescribeDataRepositoryAssociations",
        "fsx:ListTagsForResource",
        "ec2:DescribeLaunchTemplates",
        "ec2:DeleteLaunchTemplate",
        "batch:DescribeJobDefinitions",
        "batch:ListJobs",
        "batch:DescribeJobs",
        "batch:TerminateJob",
        "batch:DescribeComputeEnvironments",
        "batch:UpdateComputeEnvironment",
        "batch:DeregisterJobDefinition",
        "dynamodb:Scan",
        "dynamodb:UpdateItem",
    ),
}


def task_states(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every Task state of ``definition``, in Parallel branches and Map iterators too."""
    for state in definition["States"].values():
        if state.get("Type") == "Task":
            yield state
        for branch in state.get("Branches", []):
            yield from task_states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from task_states(state[key])


def task_actions(state: dict[str, Any]) -> tuple[str, ...]:
    """The IAM actions a Task's call needs (its dependent actions aside)."""
    resource = state["Resource"]
    if resource.startswith(AWS_SDK):
        service, api_action = resource[len(AWS_SDK) :].split(":")
        return (f"{IAM_PREFIX.get(service, service)}:{api_action[0].upper()}{api_action[1:]}",)
    if resource in (LAMBDA_INVOKE, f"{LAMBDA_INVOKE}.waitForTaskToken") or resource.startswith("arn:aws:lambda:"):
        return ("lambda:InvokeFunction",)
    if resource in INTEGRATION_ACTIONS:
        return INTEGRATION_ACTIONS[resource]
    if resource.startswith(DYNAMODB) and "." not in resource:
        api_action = resource[len(DYNAMODB) :]
        return (f"dynamodb:{api_action[:1].upper()}{api_action[1:]}",)
    raise ValueError(f"no IAM mapping for Task resource {resource}")


def called_actions(definition: dict[str, Any]) -> set[str]:
    """IAM actions of every Task in ``definition`` (e.g. ``fsx:CreateFileSystem``), integrations' included."""
    return {action for state in task_states(definition) for action in task_actions(state)}


def dependent_actions(definition: dict[str, Any]) -> set[str]:
    """Actions needed by a call beyond the called action: tag-on-create (FSx, Batch, EC2)."""
    needed = set()
    for state in task_states(definition):
        parameters = {key.removesuffix(".$"): value for key, value in (state.get("Parameters") or {}).items()}
        for action in task_actions(state):
            service = action.split(":")[0]
            if "Tags" in parameters and service in ("fsx", "batch"):
                needed.add(f"{service}:TagResource")
            if action == "ec2:CreateLaunchTemplate" and "TagSpecifications" in parameters:
                needed.add("ec2:CreateTags")
    return needed


def _statement(actions: list[str], resources: list[str], condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": sorted(actions), "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def _grants(refs: WorkflowRefs) -> dict[str, list[dict[str, Any]]]:
    """For each IAM action the stack's code may call: the statements that allow it (and what it depends on)."""
    region, account, prefix = refs.region, refs.account_id, refs.name_prefix
    fsx = f"arn:aws:fsx:{region}:{account}"
    batch = f"arn:aws:batch:{region}:{account}"
    launch_templates = f"arn:aws:ec2:{region}:{account}:launch-template/*"
    # RegisterJobDefinition: job-definition/<name>; the prefix holds the stack id, so only this stack's.
    job_definitions = f"{batch}:job-definition/{prefix}-*"
    job_definition_revisions = f"{job_definitions}:*"  # job-definition/<name>:<revision>
    jobs = f"{batch}:job/*"
    # The stack id, not the stack name: two projects (or backends) may both have a stack "dev" in one account.
    this_stack_request = {"StringEquals": {f"aws:RequestTag/{TAG_STACK_ID}": refs.stack_id}}
    this_stack_resource = {"StringEquals": {f"aws:ResourceTag/{TAG_STACK_ID}": refs.stack_id}}
    service_roles = f"arn:aws:iam::{account}:role/aws-service-role"
    bucket = f"arn:aws:s3:::{refs.bucket_name}"
    everything = ["*"]
    return {
        # Service Authorization Reference, AWS Step Functions: ListExecutions on resource type "stateMachine",
        # DescribeExecution on "execution" (execution:<state machine name>:<execution name>).
        "states:ListExecutions": [
            _statement(
                ["states:ListExecutions"], [f"arn:aws:states:{region}:{account}:stateMachine:{refs.state_machine_name}"]
            )
        ],
        # The lane check describes a lane's owner: a run, or the run cleanup that took an ended run's lane for itself.
        "states:DescribeExecution": [
            _statement(
                ["states:DescribeExecution"],
                [
                    f"arn:aws:states:{region}:{account}:execution:{machine}:*"
                    for machine in (refs.state_machine_name, refs.run_cleanup_state_machine_name)
                ],
            )
        ],
        # The run cleanup takes an ended run's lane for itself (lambda/find_run_resources.py): UpdateItem, "table".
        "dynamodb:UpdateItem": [
            _statement(["dynamodb:UpdateItem"], [f"arn:aws:dynamodb:{region}:{account}:table/{refs.lane_table_name}"])
        ],
        # Service Authorization Reference, Amazon DynamoDB: Scan on resource type "table".
        "dynamodb:Scan": [
            _statement(["dynamodb:Scan"], [f"arn:aws:dynamodb:{region}:{account}:table/{refs.lane_table_name}"])
        ],
        "secretsmanager:GetSecretValue": [_statement(["secretsmanager:GetSecretValue"], [refs.secret_arn])],
        "ecr:DescribeImages": [
            _statement(
                ["ecr:DescribeImages"], [f"arn:aws:ecr:{region}:{account}:repository/{refs.job_repository_name}"]
            )
        ],
        "fsx:CreateFileSystem": [
            _statement(["fsx:CreateFileSystem"], [f"{fsx}:file-system/*"], this_stack_request),
            # FSx creates its service-linked role on first use.
            _statement(
                ["iam:CreateServiceLinkedRole"],
                [f"{service_roles}/{FSX_SERVICE}/*"],
                {"StringLike": {"iam:AWSServiceName": FSX_SERVICE}},
            ),
        ],
        "fsx:TagResource": [
            # Tags on create (file system, association, task): the request carries this stack's tag.
            _statement(
                ["fsx:TagResource"],
                [f"{fsx}:file-system/*", f"{fsx}:association/*/*", f"{fsx}:task/*"],
                this_stack_request,
            ),
            # Tagging an existing resource (a kept file system): only this stack's.
            _statement(
                ["fsx:TagResource"],
                [f"{fsx}:file-system/*", f"{fsx}:association/*/*", f"{fsx}:task/*"],
                this_stack_resource,
            ),
        ],
        "fsx:ListTagsForResource": [
            _statement(["fsx:ListTagsForResource"], [f"{fsx}:file-system/*", f"{fsx}:association/*/*", f"{fsx}:task/*"])
        ],
        "fsx:DescribeFileSystems": [_statement(["fsx:DescribeFileSystems"], everything)],
        "fsx:CreateDataRepositoryAssociation": [
            _statement(["fsx:CreateDataRepositoryAssociation"], [f"{fsx}:file-system/*", f"{fsx}:association/*/*"]),
            # FSx validates that the caller can reach the bucket prefix ("s3:Get*, s3:List* and s3:PutObject").
            _statement(["s3:GetBucketLocation", "s3:ListBucket"], [bucket]),
            # Only the prefixes the data layout links (asl/data_layout.py; README "Your data").
            _statement(["s3:GetObject", "s3:PutObject"], _linked_objects(refs)),
            # The file system's S3 access role (AWSServiceRoleForFSxS3Access_<fs-id>), created and given its policy.
            _statement(
                ["iam:CreateServiceLinkedRole"],
                [f"{service_roles}/{FSX_S3_SERVICE}/*"],
                {"StringLike": {"iam:AWSServiceName": FSX_S3_SERVICE}},
            ),
            _statement(["iam:AttachRolePolicy", "iam:PutRolePolicy"], [f"{service_roles}/{FSX_S3_SERVICE}/*"]),
        ],
        "fsx:DescribeDataRepositoryAssociations": [_statement(["fsx:DescribeDataRepositoryAssociations"], everything)],
        "fsx:UpdateDataRepositoryAssociation": [
            _statement(["fsx:UpdateDataRepositoryAssociation"], [f"{fsx}:association/*/*"])
        ],
        "fsx:CreateDataRepositoryTask": [
            _statement(["fsx:CreateDataRepositoryTask"], [f"{fsx}:file-system/*", f"{fsx}:task/*"])
        ],
        "fsx:DescribeDataRepositoryTasks": [_statement(["fsx:DescribeDataRepositoryTasks"], everything)],
        "fsx:DeleteFileSystem": [_statement(["fsx:DeleteFileSystem"], [f"{fsx}:file-system/*"], this_stack_resource)],
        "ec2:CreateLaunchTemplate": [_statement(["ec2:CreateLaunchTemplate"], [launch_templates], this_stack_request)],
        "ec2:CreateTags": [
            _statement(
                ["ec2:CreateTags"], [launch_templates], {"StringEquals": {"ec2:CreateAction": "CreateLaunchTemplate"}}
            )
        ],
        "ec2:DeleteLaunchTemplate": [_statement(["ec2:DeleteLaunchTemplate"], [launch_templates], this_stack_resource)],
        "ec2:DescribeLaunchTemplates": [_statement(["ec2:DescribeLaunchTemplates"], everything)],
        # Each lane's compute environment and job queue: the stack's only, by their stack-id tag rather than by
        # ARN, so the policy does not grow with the lanes (50 lanes of ARNs would outgrow IAM's 10,240 characters
        # for a role's inline policies). AWS Batch User Guide, "Supported resource-level permissions for AWS Batch
        # API actions" (UpdateComputeEnvironment and SubmitJob: aws:ResourceTag) and "Restrict job submission by
        # resource tags on job definition and job queue" (one statement per resource type).
        "batch:UpdateComputeEnvironment": [
            _statement(["batch:UpdateComputeEnvironment"], [f"{batch}:compute-environment/*"], this_stack_resource)
        ],
        "batch:DescribeComputeEnvironments": [_statement(["batch:DescribeComputeEnvironments"], everything)],
        "batch:RegisterJobDefinition": [_statement(["batch:RegisterJobDefinition"], [job_definitions])],
        "batch:DescribeJobDefinitions": [_statement(["batch:DescribeJobDefinitions"], everything)],
        # Tags on create: RegisterJobDefinition (the new revision) and SubmitJob (the job; AWS has also been
        # seen to name the job definition revision).
        "batch:TagResource": [_statement(["batch:TagResource"], [job_definition_revisions, jobs])],
        "batch:SubmitJob": [
            _statement(["batch:SubmitJob"], [f"{batch}:job-queue/*"], this_stack_resource),
            _statement(["batch:SubmitJob"], [job_definitions, jobs]),
        ],
        "batch:DescribeJobs": [_statement(["batch:DescribeJobs"], everything)],
        "batch:ListJobs": [_statement(["batch:ListJobs"], everything)],
        "batch:TerminateJob": [_statement(["batch:TerminateJob"], [jobs])],
        "batch:DeregisterJobDefinition": [_statement(["batch:DeregisterJobDefinition"], [job_definition_revisions])],
        "events:PutTargets": [
            _statement(
                ["events:DescribeRule", "events:PutRule", "events:PutTargets"],
                [f"arn:aws:events:{region}:{account}:rule/{SYNC_BATCH_RULE}"],
            )
        ],
        "cloudwatch:GetMetricData": [_statement(["cloudwatch:GetMetricData"], everything)],
    }


def _linked_objects(refs: WorkflowRefs) -> list[str]:
    """The objects of the bucket the run's associations link: the whole bucket, or each linked prefix."""
    prefixes = sorted({linked.bucket_prefix for linked in refs.data_layout.associations})
    return [f"arn:aws:s3:::{refs.bucket_name}/{prefix}*" for prefix in prefixes]


# Actions granted by another action's statements (the same statement covers them).
_GRANTED_WITH = {"events:PutRule": "events:PutTargets", "events:DescribeRule": "events:PutTargets"}


# arn:aws:lambda:<region>:<account>:function:<name>:<qualifier>
_QUALIFIED_FUNCTION_ARN_COLONS = 7


def _lambda_statement(definition: dict[str, Any]) -> dict[str, Any]:
    functions = set()
    for state in task_states(definition):
        if task_actions(state) == ("lambda:InvokeFunction",):
            resource = state["Resource"]
            functions.add(resource if resource.startswith("arn:aws:lambda:") else state["Parameters"]["FunctionName"])
    return _statement(["lambda:InvokeFunction"], [arn for f in sorted(functions) for arn in _invoked_arns(f)])


def _dynamodb_statements(refs: WorkflowRefs, definition: dict[str, Any]) -> list[dict[str, Any]]:
    """One statement per table the definition's DynamoDB Tasks name, with the actions called on it."""
    actions_by_table: dict[str, set[str]] = {}
    for state in task_states(definition):
        if not state["Resource"].startswith(DYNAMODB):
            continue
        parameters = state.get("Parameters") or {}
        table = parameters.get("TableName")
        if not isinstance(table, str) or not table:
            raise ValueError(
                f"DynamoDB Task {state['Resource']}: TableName must be a fixed table name or ARN (found "
                f"{sorted(k for k in parameters if k.startswith('TableName'))}), so the policy can name the table"
            )
        arn = table if table.startswith("arn:") else f"arn:aws:dynamodb:{refs.region}:{refs.account_id}:table/{table}"
        actions_by_table.setdefault(arn, set()).update(task_actions(state))
    return [_statement(sorted(actions), [arn]) for arn, actions in sorted(actions_by_table.items())]


def _invoked_arns(function_arn: str) -> tuple[str, ...]:
    """What invoking ``function_arn`` needs. A qualified ARN (``...:function:<name>:<version>``): every version of
    the function (``...:function:<name>:*``), not only this one, because a deploy replaces this role's policy
    while executions started from the previous definition still invoke the previous version (docs/aws-rules.md,
    "Lambda versions"). An unqualified one: itself and its versions and aliases."""
    if function_arn.count(":") >= _QUALIFIED_FUNCTION_ARN_COLONS:
        return (f"{function_arn.rsplit(':', 1)[0]}:*",)
    return (function_arn, f"{function_arn}:*")


def _policy(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def _statements_for(actions: set[str], grants: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for action in sorted(actions):
        key = _GRANTED_WITH.get(action, action)
        if key not in grants:
            raise ValueError(f"no grant defined for {action}")
        statements.extend(s for s in grants[key] if s not in statements)
    return statements


def state_machine_policy(refs: WorkflowRefs, definition: dict[str, Any]) -> dict[str, Any]:
    """The IAM policy document of the state machine role for ``definition``."""
    grants = _grants(refs)
    actions = called_actions(definition) | dependent_actions(definition)
    dynamodb_actions = {action for action in actions if action.startswith("dynamodb:")}
    statements = _statements_for(actions - {"lambda:InvokeFunction"} - dynamodb_actions, grants)
    if "lambda:InvokeFunction" in actions:
        statements.append(_lambda_statement(definition))
    statements.extend(_dynamodb_statements(refs, definition))
    statements.append(_statement(LOGGING_ACTIONS, ["*"]))
    return _policy(statements)


def run_cleanup_policy(refs: WorkflowRefs, definition: dict[str, Any]) -> dict[str, Any]:
    """The run-cleanup state machine's role policy: derived from its definition exactly as the main one's
    (the same kinds of calls on the same stack-scoped resources), so the same derivation is used."""
    return state_machine_policy(refs, definition)


def lambda_policy(refs: WorkflowRefs, module: str) -> dict[str, Any] | None:
    """The policy of Lambda handler ``module``'s role beyond basic logging (None: it calls nothing)."""
    if module not in LAMBDA_ACTIONS:
        raise KeyError(f"no IAM actions declared for Lambda handler {module!r}: add it to asl.iam.LAMBDA_ACTIONS")
    actions = set(LAMBDA_ACTIONS[module])
    if not actions:
        return None
    return _policy(_statements_for(actions, _grants(refs)))
