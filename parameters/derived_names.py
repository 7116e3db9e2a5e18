"""The names derived from ``envName`` and the AWS limit each must fit: the source of ``envName``'s longest accepted
length (``ENV_NAME_MAX_LENGTH``), which the parameter table's rule and words use.

A resource declared without a name gets Pulumi's auto-name, its logical name followed by ``-`` and 7 random
characters. Logical names are fixed (``batch-lustre`` and what each component appends: no stack config value renames
a resource), so an auto-name does not depend on ``envName``: each auto-named row below is the longest logical name
the program declares for a kind of name (a test runs the program under mocks and holds these rows to what it
declares), which must fit its AWS limit whatever ``envName`` is. A stack deployed by the previous release keeps the
auto-names it has (built from ``envName``, within these limits when it was deployed): Pulumi's aliases carry them
over. A run's own resources (launch template, job definition, job) are named
``<envName>-<stack id>-<execution name>``: these bound ``envName`` (docs/aws-rules.md, "Names derived from envName").
The lane table is named ``<envName>-<stack id>-lanes`` (a DynamoDB table name: 3 to 255 of letters, digits and
``_.-``, botocore's dynamodb model, TableName).
"""

from __future__ import annotations

from dataclasses import dataclass

# Pulumi auto-naming: "<logical name>-" and 7 random characters.
AUTO_NAME_ADDED = 1 + 7
# The stack's generated id (asl/naming.py TAG_STACK_ID): random bytes, written in hex.
STACK_ID_BYTES = 4
STACK_ID_LENGTH = 2 * STACK_ID_BYTES
# A run's resource names: "<envName>-<stack id>-<execution name>", an execution name being at most 80 characters.
EXECUTION_NAME_MAX_LENGTH = 80
RUN_NAME_ADDED = 1 + STACK_ID_LENGTH + 1 + EXECUTION_NAME_MAX_LENGTH
# The lane table's name: "<envName>-<stack id>-lanes" (asl/naming.py lane_table_name).
LANE_TABLE_SUFFIX = "-lanes"
LANE_TABLE_TYPE = "aws:dynamodb/table:Table"


@dataclass(frozen=True)
class DerivedName:
    """One kind of name: ``<envName><suffix>`` (``from_env_name``) or ``<suffix>``, and ``added`` more characters."""

    what: str  # the name, in words ("IAM role name")
    resource_type: str  # the Pulumi type token of the resource (or "run" for a run's own resources)
    suffix: str  # the longest logical name the program declares (after envName, for a run's names)
    added: int  # characters Pulumi or the run add after the suffix
    limit: int  # the AWS limit of the name, in characters
    from_env_name: bool = False  # whether the name starts with envName

    def length(self, env_name_length: int) -> int:
        return (env_name_length if self.from_env_name else 0) + len(self.suffix) + self.added

    @property
    def longest_env_name(self) -> int:
        """The longest envName this name can hold (a name that does not start with envName holds any, or none)."""
        room = self.limit - len(self.suffix) - self.added
        if self.from_env_name or room < 0:
            return room
        return NO_BOUND

    @property
    def shape(self) -> str:
        """The name as a pattern: ``<envName>-<execution name, ...>``, ``batch-lustre-...-role-<7 random ...>``."""
        if self.resource_type == "run":
            return (
                f"<envName>{self.suffix}-<stack id, {STACK_ID_LENGTH} hex digits>-<execution name, up to "
                f"{EXECUTION_NAME_MAX_LENGTH} characters>"
            )
        if self.resource_type == LANE_TABLE_TYPE:
            return f"<envName>-<stack id, {STACK_ID_LENGTH} hex digits>{LANE_TABLE_SUFFIX}"
        return f"{self.suffix}-<7 random characters>"


# What longest_env_name says of a name that does not hold envName and fits its limit.
NO_BOUND = 10**6


def _auto(what: str, resource_type: str, suffix: str, limit: int) -> DerivedName:
    return DerivedName(what, resource_type, suffix, AUTO_NAME_ADDED, limit)


# The component of the last lane (stack config maxConcurrentRuns at its most, 50: stack.lane_name): the longest
# logical names of the lanes' launch templates, compute environments and job queues start with it.
_LAST_LANE = "batch-lustre-lane-49"

DERIVED_NAMES: tuple[DerivedName, ...] = (
    _auto("IAM role name", "aws:iam/role:Role", "batch-lustre-run-cleanup-find-run-resources-role", 64),
    _auto(
        "IAM inline policy name",
        "aws:iam/rolePolicy:RolePolicy",
        "batch-lustre-run-cleanup-find-run-resources-policy",
        128,
    ),
    _auto("IAM instance profile name", "aws:iam/instanceProfile:InstanceProfile", "batch-lustre-instance-profile", 128),
    _auto("Lambda function name", "aws:lambda/function:Function", "batch-lustre-run-cleanup-find-run-resources", 64),
    _auto(
        "log group name", "aws:cloudwatch/logGroup:LogGroup", "batch-lustre-run-cleanup-find-run-resources-logs", 512
    ),
    _auto("security group name", "aws:ec2/securityGroup:SecurityGroup", "batch-lustre-lustre", 255),
    _auto("launch template name", "aws:ec2/launchTemplate:LaunchTemplate", f"{_LAST_LANE}-baseline", 128),
    _auto("S3 bucket name", "aws:s3/bucket:Bucket", "batch-lustre-data", 63),
    _auto("secret name", "aws:secretsmanager/secret:Secret", "batch-lustre-runtime-parameters", 512),
    _auto("compute environment name", "aws:batch/computeEnvironment:ComputeEnvironment", f"{_LAST_LANE}-ce", 128),
    _auto("job queue name", "aws:batch/jobQueue:JobQueue", f"{_LAST_LANE}-queue", 128),
    _auto("EventBridge rule name", "aws:cloudwatch/eventRule:EventRule", "batch-lustre-run-cleanup-rule", 64),
    DerivedName("name of a run's launch template, job definition and job", "run", "", RUN_NAME_ADDED, 128, True),
    DerivedName("DynamoDB table name", LANE_TABLE_TYPE, "", 1 + STACK_ID_LENGTH + len(LANE_TABLE_SUFFIX), 255, True),
)

# The derived name that bounds envName the most, and that bound.
BINDING_NAME: DerivedName = min(DERIVED_NAMES, key=lambda n: n.longest_env_name)
ENV_NAME_MAX_LENGTH: int = BINDING_NAME.longest_env_name

# The state machines are named "<envName>-<stack>-workflow" and "<envName>-<stack>-run-cleanup" (Step Functions:
# at most 80 characters); the stack name is known only to the program, which checks them (``state_machine_problem``).
STATE_MACHINE_NAME_LIMIT = 80
STATE_MACHINE_LONGEST_SUFFIX = "-run-cleanup"


def env_name_words() -> str:
    """What ``envName`` accepts, in words, with the derived name that sets its longest length."""
    return (
        f"a letter then up to {ENV_NAME_MAX_LENGTH - 1} letters, digits or hyphens (at most {ENV_NAME_MAX_LENGTH} "
        f"characters: the {BINDING_NAME.what} {BINDING_NAME.shape} has at most {BINDING_NAME.limit})"
    )


def state_machine_problem(env_name: str, stack: str) -> str | None:
    """Why the state machine names of ``env_name`` and ``stack`` do not fit Step Functions' limit, or None."""
    longest = f"{env_name.lower()}-{stack}{STATE_MACHINE_LONGEST_SUFFIX}"
    if len(longest) <= STATE_MACHINE_NAME_LIMIT:
        return None
    most = STATE_MACHINE_NAME_LIMIT - len(f"-{stack}{STATE_MACHINE_LONGEST_SUFFIX}")
    return (
        f'envName="{env_name}" is not accepted with stack'
        f" {stack}: the state machine name {longest} has "
        f"{len(longest)} characters, Step Functions accepts {STATE_MACHINE_NAME_LIMIT}: accepted an envName of at "
        f"most {max(most, 0)} characters or a shorter stack name"
    )
