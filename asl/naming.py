"""Names and values that cross a boundary, defined once: used by the program (``stack.py``, ``components/``),
the workflow's builders (``asl/``) and the tools (``batch_lustre/``: Automation API, CLI, emulation).

- the project name and the tags on the stack's and every run's resources;
- where the file system is mounted;
- the stack outputs (what ``stack.py`` exports, what the tools read);
- the Lustre ports the file system and its clients talk on;
- the files of each Lambda function's archive.

(The data repository event types are in the ``parameters`` package: the ExtractParameters Lambda ships it.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

# Re-exported: the program and the tools read them here, with the tags.
from batch_lustre.program.parameters.derived_names import LANE_TABLE_SUFFIX
from batch_lustre.program.parameters.derived_names import STACK_ID_BYTES as STACK_ID_BYTES
from batch_lustre.program.parameters.derived_names import STACK_ID_LENGTH as STACK_ID_LENGTH

PROJECT = "batch-lustre"
TAG_STACK = f"{PROJECT}:stack"
# The stack's generated id (a random hex string made once, when the stack is first deployed: stack.py): unique per
# stack, whatever its project, backend or name. The IAM conditions, the name prefix of a run's resources and the
# tools (sweep, run cleanup) use it, so no stack acts on another's resources.
TAG_STACK_ID = f"{PROJECT}:stack-id"
TAG_MODE = f"{PROJECT}:mode"
TAG_RUN = f"{PROJECT}:run"
# On a file system a run kept (data not provably in S3, deleteLustre=false, delete refused): the run-cleanup
# state machine leaves it to the user.
TAG_KEPT = f"{PROJECT}:kept"
# On every per-run resource (launch template, job definition, job): the index of the lane (one compute environment
# and its job queue, stack config maxConcurrentRuns) the run holds.
TAG_LANE = f"{PROJECT}:lane"

# Where the job sees the file system, and where the host mounts it.
HOST_MOUNT_DIR = "/fsx"
FILE_SYSTEM_PATH = "/scratch"  # the DRA's directory on the file system
HOST_SCRATCH_DIR = HOST_MOUNT_DIR + FILE_SYSTEM_PATH  # /fsx/scratch
CONTAINER_SCRATCH_DIR = "/scratch"

# --- Stack outputs: exported by stack.py, read by the tools (`pulumi stack output`) ---------------------------------
OUTPUT_MODE = "mode"
OUTPUT_STATE_MACHINE_ARN = "stateMachineArn"
OUTPUT_RUN_CLEANUP_STATE_MACHINE_ARN = "runCleanupStateMachineArn"
OUTPUT_SECRET_NAME = "secretName"
OUTPUT_BUCKET_NAME = "bucketName"
OUTPUT_ECR_REPOSITORY_URL = "ecrRepositoryUrl"
OUTPUT_JOB_QUEUE = "jobQueue"
OUTPUT_COMPUTE_ENVIRONMENT = "computeEnvironment"
OUTPUT_JOB_LOG_GROUP = "jobLogGroup"
OUTPUT_STACK_ID = "stackId"
# The stack's identity, fixed once deployed (settings.check_identity): its envName and its Region (and the mode).
OUTPUT_ENV_NAME = "envName"
OUTPUT_REGION = "region"
# The lanes: index k -> {OUTPUT_COMPUTE_ENVIRONMENT: <name>, OUTPUT_JOB_QUEUE: <name>} (lane 0's are also those two
# outputs); and the name of the lane table (which run holds which lane).
OUTPUT_LANES = "lanes"
OUTPUT_LANE_TABLE = "laneTable"
STACK_OUTPUTS = (
    OUTPUT_MODE,
    OUTPUT_STATE_MACHINE_ARN,
    OUTPUT_RUN_CLEANUP_STATE_MACHINE_ARN,
    OUTPUT_SECRET_NAME,
    OUTPUT_BUCKET_NAME,
    OUTPUT_ECR_REPOSITORY_URL,
    OUTPUT_JOB_QUEUE,
    OUTPUT_COMPUTE_ENVIRONMENT,
    OUTPUT_JOB_LOG_GROUP,
    OUTPUT_LANES,
    OUTPUT_LANE_TABLE,
    OUTPUT_STACK_ID,
    OUTPUT_ENV_NAME,
    OUTPUT_REGION,
)

# The Pulumi engine's builtin function reading a stack's outputs (stack.deployed_outputs; docs/design.md, "Pulumi
# rules"), and the organization a self-managed backend gives every stack.
READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs"
DIY_ORGANIZATION = "organization"

# --- Lustre network ---------------------------------------------------------------------------------------------
# FSx Lustre Guide, "Creating a file system fails": "allow inbound traffic on ports 988 and 1018-1023" between the
# file system and its clients. (from, to) TCP port ranges, both ends included.
LUSTRE_PORT_RANGES: tuple[tuple[int, int], ...] = ((988, 988), (1018, 1023))

# --- Lambda archives --------------------------------------------------------------------------------------------
# Handler module -> the files of its archive (member name -> file in the project directory). The parameters
# package is shipped next to extract_parameters: the one definition of the parameters, used to validate the secret.
PARAMETERS_PACKAGE_MODULES = (
    "__init__",
    "text",
    "table",
    "derived_names",
    "history_costs",
    "history_forms",
    "history_budget",
    "validation",
    "overrides",
    "payload",
)
LAMBDA_FILES: Mapping[str, Mapping[str, str]] = {
    "extract_parameters": {
        "extract_parameters.py": "lambda/extract_parameters.py",
        **{f"parameters/{name}.py": f"parameters/{name}.py" for name in PARAMETERS_PACKAGE_MODULES},
    },
    "check_metrics": {
        "check_metrics.py": "lambda/check_metrics.py",
        "wait_for.py": "lambda/wait_for.py",
        "aws_calls.py": "lambda/aws_calls.py",
        "lane_queue.py": "asl/lane_queue.py",
    },
    "summarize_job": {"summarize_job.py": "lambda/summarize_job.py"},
    "find_run_resources": {"find_run_resources.py": "lambda/find_run_resources.py"},
    # The run queue's rule is one module (asl/lane_queue.py), shipped with WaitFor and imported by the tools.
    "wait_for": {
        "wait_for.py": "lambda/wait_for.py",
        "aws_calls.py": "lambda/aws_calls.py",
        "lane_queue.py": "asl/lane_queue.py",
    },
}


def lambda_handler(module: str) -> str:
    """The handler setting of the Lambda function whose code is ``module`` (a key of ``LAMBDA_FILES``)."""
    if module not in LAMBDA_FILES:
        raise KeyError(f"{module!r} is not a Lambda module: accepted {', '.join(LAMBDA_FILES)}")
    return f"{module}.handler"


_Id = TypeVar("_Id")


def stack_tags(stack: str, mode: str, stack_id: _Id) -> dict[str, str | _Id]:
    """Tags on every resource of the stack (``stack_id``: the id, or the program's output that resolves to it)."""
    return {TAG_STACK: stack, TAG_MODE: mode, TAG_STACK_ID: stack_id}


def run_name_prefix(name_prefix: str, stack_id: str) -> str:
    """The prefix of a run's launch template, job definition and job names: ``<envName>-<stack id>`` (the job
    definitions' IAM is scoped by it, so a stack cannot register, deregister or submit another's)."""
    return f"{name_prefix}-{stack_id}"


def lane_table_name(name_prefix: str) -> str:
    """The lane table's name: ``<envName lower>-<stack id>-lanes`` (``name_prefix``: what ``run_name_prefix``
    gives). DynamoDB table names: 3-255 of letters, digits and ``_.-`` (parameters/derived_names.py)."""
    return f"{name_prefix}{LANE_TABLE_SUFFIX}"


# CloudWatch Logs log group names: 1-512 of letters, digits and ``._-/#`` (botocore's logs model, CreateLogGroup).
JOB_LOG_GROUP_PREFIX = f"/{PROJECT}/"


def job_log_group_name(name_prefix: str, stack: str) -> str:
    """The stack's log group of its jobs' container logs (each job definition's awslogs group)."""
    return f"{JOB_LOG_GROUP_PREFIX}{name_prefix}-{stack}/jobs"


def state_machine_name(name_prefix: str, stack: str) -> str:
    """The state machine's fixed name (the role's policy names its executions)."""
    return f"{name_prefix}-{stack}-workflow"[:80]


def run_cleanup_state_machine_name(name_prefix: str, stack: str) -> str:
    """The run-cleanup state machine's fixed name, ``<prefix>-<stack>-run-cleanup``."""
    return f"{name_prefix}-{stack}-run-cleanup"[:80]
