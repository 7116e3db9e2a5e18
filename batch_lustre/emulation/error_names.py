"""Every error name the emulation raises, in one table, each with its source.

Step Functions identifies errors by case-sensitive names. The emulation raises four kinds:

- ``States.*`` names, defined by the Amazon States Language (``STATES``);
- aws-sdk integration errors ``<ServicePrefix>.<ErrorName>Exception`` (``SERVICE_PREFIXES``, and the AWS
  error codes the emulated services answer with, ``SDK_ERRORS``);
- the optimized Batch integration's (``arn:aws:states:::batch:submitJob.sync``) ``States.TaskFailed`` for a
  failed job and ``Batch.<ErrorCode>`` for a refused request (``BATCH_OPTIMIZED``);
- the optimized Lambda integration's (``arn:aws:states:::lambda:invoke``) ``Lambda.<ErrorCode>`` for a refused
  request and the function's own ``errorType`` for an error the handler raised (``LAMBDA``);
- the optimized DynamoDB integration's (``arn:aws:states:::dynamodb:<action>``) ``DynamoDB.<ErrorCode>`` for a
  code DynamoDB's model names, ``DynamoDB.AmazonDynamoDBException`` for any other (``DYNAMODB_OPTIMIZED``).

How Step Functions spells an aws-sdk service prefix (``FSx`` or ``Fsx``) and whether a code that the SDK
does not model gets an ``Exception`` suffix is not documented (docs/aws-rules.md). ``spelling`` switches the
emulation to another spelling for a test, so a test can prove that a Retry or Catch holds whichever AWS uses::

    with error_names.spelling("Fsx", exception_suffix=False):
        result = run_workflow(...)      # FSx errors now arrive as "Fsx.BadRequest", ...

``table()`` lists every entry (``ErrorEntry``: name, when it is raised, source) for docs and tests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

import botocore.session

# --- sources ---------------------------------------------------------------------------------------
ERROR_HANDLING = (
    "Step Functions developer guide, 'Handling errors in Step Functions workflows', Error names "
    "(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html)"
)
AWS_SDK_INTEGRATIONS = (
    "Step Functions developer guide, 'Learning to use AWS service SDK integrations in Step "
    "Functions' (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html)"
    ": '<ServiceName>.<ErrorName>', both Pascal case, always with an Exception suffix "
    "(examples AcmPca.ResourceNotFoundException, S3.BucketAlreadyExistsException)"
)
HISTORY_QUOTA = (
    "Step Functions developer guide, 'Avoid reaching the history quota' "
    "(https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html)"
)
BATCH_SYNC = (
    "Step Functions developer guide, 'Run AWS Batch workloads with Step Functions' "
    "(https://docs.aws.amazon.com/step-functions/latest/dg/connect-batch.html), Run a Job (.sync); "
    "/work/shared/AWS_FACTS.md 'Step Functions'"
)
LAMBDA_ERRORS = (
    ERROR_HANDLING + ": 'Lambda.ServiceException and Lambda.SdkClientException'; Step Functions "
    "best practices, 'Handle transient Lambda service exceptions'"
)
DYNAMODB_INTEGRATION = (
    "Step Functions developer guide, 'Call DynamoDB APIs with Step Functions' "
    "(https://docs.aws.amazon.com/step-functions/latest/dg/connect-ddb.html): 'For optimized integrations, the "
    "exception prefix will be DynamoDB (uppercase DB)'"
)
FACTS = "/work/shared/AWS_FACTS.md, 'Step Functions': prefixes FSx, Ec2, Batch, CloudWatch, SecretsManager"


@dataclass(frozen=True)
class ErrorEntry:
    name: str  # as the emulation raises it with the default spelling
    raised_when: str
    source: str  # document and URL, or "Assumed: <why>"

    @property
    def assumed(self) -> bool:
        return self.source.startswith("Assumed")


# --- States.* ----------------------------------------------------------------------------------------
STATES_ALL = "States.ALL"
STATES_RUNTIME = "States.Runtime"
STATES_DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
STATES_TASK_FAILED = "States.TaskFailed"
STATES_TIMEOUT = "States.Timeout"
STATES_HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
STATES_BRANCH_FAILED = "States.BranchFailed"
STATES_NO_CHOICE_MATCHED = "States.NoChoiceMatched"
STATES_INTRINSIC_FAILURE = "States.IntrinsicFailure"
STATES_PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
STATES_RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
STATES_PERMISSIONS = "States.Permissions"

# Neither is caught (nor retried) by States.ALL; a Catch/Retry that names one explicitly still matches it.
UNCATCHABLE_BY_ALL = (STATES_RUNTIME, STATES_DATA_LIMIT_EXCEEDED)

# A STANDARD execution whose history reaches the quota fails; the name it fails with is not documented.
HISTORY_LIMIT_ERROR = STATES_RUNTIME


def history_limit_cause(limit: int) -> str:
    """The Cause of an execution failed by the history quota (the wording is the emulation's)."""
    return (
        f"The execution reached the maximum number of events in its history ({limit:,}, Step Functions "
        f"service quotas): event number {limit:,} would not have been ExecutionSucceeded."
    )


STATES: dict[str, ErrorEntry] = {
    e.name: e
    for e in (
        ErrorEntry(
            STATES_ALL,
            "never raised: the wildcard of Retry/Catch; does not match States.Runtime nor States.DataLimitExceeded",
            ERROR_HANDLING,
        ),
        ErrorEntry(
            STATES_RUNTIME,
            "a JSONPath that selects nothing (Parameters, InputPath, ResultSelector), a "
            "missing required API member, an unexpected interpreter exception",
            ERROR_HANDLING,
        ),
        ErrorEntry(
            STATES_RUNTIME + " (history quota)",
            "the history of a STANDARD execution reaches "
            "batch_lustre.emulation.sfn.MAX_HISTORY_EVENTS (25,000) events and event number 25,000 is not "
            "ExecutionSucceeded: the execution fails at once, no Catch runs",
            "Assumed: " + HISTORY_QUOTA + " says an ExecutionFailed event is logged but not with which "
            "Error; States.Runtime (not catchable, not retriable) is the closest documented name",
        ),
        ErrorEntry(
            STATES_DATA_LIMIT_EXCEEDED,
            "a task's result, a state's output, or a Task's input after Parameters larger than 256 KiB (UTF-8 JSON)",
            ERROR_HANDLING,
        ),
        ErrorEntry(
            STATES_TASK_FAILED,
            "a Task fails (moto's generic task failure); a Batch job of "
            "batch:submitJob.sync ends FAILED (Cause: the job description JSON)",
            ERROR_HANDLING + "; " + BATCH_SYNC,
        ),
        ErrorEntry(STATES_TIMEOUT, "a Task runs longer than its TimeoutSeconds/TimeoutSecondsPath", ERROR_HANDLING),
        ErrorEntry(
            STATES_HEARTBEAT_TIMEOUT,
            "a callback Task sends no heartbeat within HeartbeatSeconds (moto; the workflow uses none)",
            ERROR_HANDLING,
        ),
        ErrorEntry(STATES_BRANCH_FAILED, "a Parallel branch failed (moto)", ERROR_HANDLING),
        ErrorEntry(STATES_NO_CHOICE_MATCHED, "a Choice state with no matching rule and no Default", ERROR_HANDLING),
        ErrorEntry(STATES_INTRINSIC_FAILURE, "an intrinsic function fails (moto)", ERROR_HANDLING),
        ErrorEntry(STATES_PARAMETER_PATH_FAILURE, "moto's name for some path failures in Parameters", ERROR_HANDLING),
        ErrorEntry(STATES_RESULT_PATH_MATCH_FAILURE, "a ResultPath that cannot be applied (moto)", ERROR_HANDLING),
        ErrorEntry(
            STATES_PERMISSIONS,
            "a Task whose role lacks a permission (emulation IAM check, where installed)",
            ERROR_HANDLING,
        ),
    )
}


# --- aws-sdk integrations: service prefixes --------------------------------------------------------
@dataclass(frozen=True)
class ServicePrefix:
    service: str  # as in the Resource: arn:aws:states:::aws-sdk:<service>:<action>
    prefix: str  # as in the error name: <prefix>.<ErrorName>Exception
    source: str


_PASCAL = "Assumed: Pascal case of the SDK service name, as " + AWS_SDK_INTEGRATIONS
SERVICE_PREFIXES: dict[str, ServicePrefix] = {
    p.service: p
    for p in (
        ServicePrefix(
            "fsx",
            "FSx",
            "Assumed: " + FACTS + "; not documented by Step Functions (Pascal case of 'fsx' "
            "could as well be 'Fsx'): see spelling()",
        ),
        ServicePrefix("batch", "Batch", FACTS),
        ServicePrefix("ec2", "Ec2", FACTS),
        ServicePrefix("cloudwatch", "CloudWatch", FACTS),
        ServicePrefix("secretsmanager", "SecretsManager", FACTS),
        ServicePrefix("lambda", "Lambda", _PASCAL),
        ServicePrefix("s3", "S3", AWS_SDK_INTEGRATIONS),
        ServicePrefix("iam", "Iam", _PASCAL),
        ServicePrefix("sts", "Sts", _PASCAL),
        ServicePrefix("sfn", "Sfn", _PASCAL + " (the Resource says 'sfn')"),
        ServicePrefix("ecr", "Ecr", _PASCAL),
    )
}
# The default spelling: service (as in the Resource) -> prefix.
SERVICE_ERROR_PREFIXES: dict[str, str] = {s: p.prefix for s, p in SERVICE_PREFIXES.items()}

# AWS error codes the emulated services answer with (emulation/fsx.py, batch.py, moto), by service. Each
# reaches an aws-sdk Task as sdk_error_name(service, code).
_SDK_CODES: dict[str, tuple[tuple[str, str], ...]] = {
    "fsx": (
        (
            "BadRequest",
            "refused request: DRA on an unsupported file system, not AVAILABLE, DeleteFileSystem "
            "while a data repository task runs or already DELETING, export with auto export on",
        ),
        ("FileSystemNotFound", "an unknown or deleted file system"),
        ("DataRepositoryAssociationNotFound", "an unknown association"),
        ("DataRepositoryTaskNotFound", "an unknown data repository task"),
        ("DataRepositoryTaskExecuting", "CreateDataRepositoryTask while another task is PENDING/EXECUTING"),
        ("ServiceLimitExceeded", "a 9th data repository association"),
        ("UnsupportedOperation", "a data repository task type the emulation does not model"),
    ),
    "batch": (
        (
            "ClientException",
            "refused request (unknown/inactive job definition or queue, bad job name, launch template problems)",
        ),
    ),
    "ec2": (),
    "cloudwatch": (),
    "secretsmanager": (("ResourceNotFoundException", "an unknown secret (moto)"),),
    "ecr": (
        ("ImageNotFoundException", "DescribeImages of a tag that names no image in the repository"),
        ("RepositoryNotFoundException", "DescribeImages in a repository that does not exist"),
    ),
}
_FSX_API = (
    "FSx API Reference, Errors of CreateDataRepositoryAssociation / DeleteFileSystem / "
    "CreateDataRepositoryTask / Describe* (https://docs.aws.amazon.com/fsx/latest/APIReference/)"
)
_CODE_SOURCES = {
    "fsx": _FSX_API,
    "batch": "AWS Batch API Reference, Common errors: ClientException (https://docs.aws.amazon.com/batch/latest/APIReference/)",
    "secretsmanager": "AWS Secrets Manager API Reference, GetSecretValue errors",
    "ecr": "Amazon ECR API Reference, DescribeImages errors (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImages.html)",
}
UNMODELLED = None  # sdk_error_name(service, UNMODELLED): an error code botocore does not model (throttling)


# --- the spelling switch ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Spelling:
    prefix: str
    exception_suffix: bool = True


_lock = threading.Lock()
_overrides: dict[str, Spelling] = {}


def service_prefix(service: str, default: str | None = None) -> str:
    """The prefix of ``service``'s aws-sdk error names as the emulation currently spells it.

    A service neither in ``SERVICE_PREFIXES`` nor switched by ``spelling``: ``default`` (else ``service``).
    """
    key = service.lower()
    override = _overrides.get(key)
    if override is not None:
        return override.prefix
    known = SERVICE_PREFIXES.get(key)
    if known is not None:
        return known.prefix
    return default if default is not None else service


def sdk_error_name(service: str, code: str | None) -> str:
    """The Step Functions error name of AWS error ``code`` from an aws-sdk Task on ``service``.

    ``code`` is the modelled error (botocore's exception class name, e.g. ``BadRequest``,
    ``ClientException``); ``None`` (``UNMODELLED``) for a code botocore does not model, which arrives as
    ``<Prefix>.<Prefix>Exception``. Default: the suffix ``Exception`` is appended when missing.
    """
    key = service.lower()
    override = _overrides.get(key)
    prefix = service_prefix(service)
    suffix = override.exception_suffix if override is not None else True
    base = prefix if code is None else code
    if base.endswith("Exception"):
        base = base[: -len("Exception")]
    return f"{prefix}.{base}{'Exception' if suffix else ''}"


def batch_optimized_error_name(code: str) -> str:
    """``batch:submitJob(.sync)`` refused by Batch: ``Batch.<ErrorCode>`` (spelt as the aws-sdk prefix for batch)."""
    return sdk_error_name("batch", code)


@cache
def _dynamodb_modelled() -> frozenset[str]:
    """DynamoDB's modelled error codes: botocore's ``dynamodb`` model (the model every AWS SDK is generated from)."""
    return frozenset(shape.name for shape in botocore.session.get_session().get_service_model("dynamodb").error_shapes)


DYNAMODB_UNMODELLED = "DynamoDB.AmazonDynamoDBException"


def dynamodb_optimized_error_name(code: str) -> str:
    """``dynamodb:<action>`` refused by DynamoDB: ``DynamoDB.<ErrorCode>`` for a code DynamoDB's model names, else
    (ValidationException, AccessDeniedException) the Java SDK's generic ``DynamoDB.AmazonDynamoDBException``."""
    return f"DynamoDB.{code}" if code in _dynamodb_modelled() else DYNAMODB_UNMODELLED


def lambda_error_name(code: str) -> str:
    """``lambda:invoke`` refused by Lambda: ``Lambda.<ErrorCode>`` (moto's and AWS's documented form)."""
    return f"Lambda.{code}"


@contextmanager
def spelling(prefix: str, *, service: str = "fsx", exception_suffix: bool = True) -> Iterator[Spelling]:
    """Spell ``service``'s aws-sdk error names with ``prefix`` (and with or without ``Exception``) inside the block.

    Applies to every emulation in the process while the block lasts (tests run one emulation per process
    at a time); the previous spelling comes back on exit.
    """
    key = service.lower()
    chosen = Spelling(prefix, exception_suffix)
    with _lock:
        previous = _overrides.get(key)
        _overrides[key] = chosen
    try:
        yield chosen
    finally:
        with _lock:
            if previous is None:
                _overrides.pop(key, None)
            else:
                _overrides[key] = previous


# --- the optimized integrations --------------------------------------------------------------------
BATCH_OPTIMIZED: dict[str, ErrorEntry] = {
    e.name: e
    for e in (
        ErrorEntry(
            STATES_TASK_FAILED,
            "batch:submitJob.sync: the job (for an array job, the parent) ended FAILED; "
            "Cause is the job description JSON",
            BATCH_SYNC,
        ),
        ErrorEntry(
            batch_optimized_error_name("ClientException"),
            "batch:submitJob(.sync)/terminateJob refused by Batch",
            "Assumed: the optimized integration names a refused request Batch.<ErrorCode> (moto 5.2.5 "
            "state_task_service_batch; not documented)",
        ),
    )
}
LAMBDA_SERVICE_EXCEPTION = lambda_error_name("ServiceException")
LAMBDA_SDK_CLIENT_EXCEPTION = lambda_error_name("SdkClientException")
LAMBDA_TOO_MANY_REQUESTS = lambda_error_name("TooManyRequestsException")
LAMBDA_AWS_LAMBDA_EXCEPTION = lambda_error_name("AWSLambdaException")
LAMBDA: dict[str, ErrorEntry] = {
    e.name: e
    for e in (
        ErrorEntry(
            LAMBDA_SERVICE_EXCEPTION, "transient Lambda service error (a Fault on lambda:invoke)", LAMBDA_ERRORS
        ),
        ErrorEntry(LAMBDA_SDK_CLIENT_EXCEPTION, "transient client error (a Fault on lambda:invoke)", LAMBDA_ERRORS),
        ErrorEntry(
            LAMBDA_TOO_MANY_REQUESTS,
            "Lambda throttling (a Fault on lambda:invoke)",
            "Assumed: Lambda.<ErrorCode> as for ServiceException; Lambda API Reference Invoke errors",
        ),
        ErrorEntry(
            LAMBDA_AWS_LAMBDA_EXCEPTION,
            "never raised by the emulation; retried by the workflow",
            "Assumed: the Java SDK's generic Lambda exception name",
        ),
        ErrorEntry(
            "<errorType>",
            "the handler raised: the error name is the exception's class name "
            "(e.g. ValueError); Cause is the errorMessage/errorType/stackTrace JSON",
            "Step Functions developer guide, 'Invoke an AWS Lambda function with Step Functions' "
            "(https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html)",
        ),
    )
}


DYNAMODB_OPTIMIZED: dict[str, ErrorEntry] = {
    e.name: e
    for e in (
        ErrorEntry(
            dynamodb_optimized_error_name("ConditionalCheckFailedException"),
            "a putItem/updateItem/deleteItem whose ConditionExpression does not hold (moto's DynamoDB)",
            DYNAMODB_INTEGRATION + "; DynamoDB API Reference, PutItem / UpdateItem / DeleteItem errors",
        ),
        ErrorEntry(
            dynamodb_optimized_error_name("ResourceNotFoundException"),
            "a table that does not exist (moto's DynamoDB)",
            DYNAMODB_INTEGRATION + "; DynamoDB API Reference, PutItem errors",
        ),
        ErrorEntry(
            DYNAMODB_UNMODELLED,
            "a request DynamoDB refuses with a code its model does not name: ValidationException (a request "
            "botocore's model refuses, an expression on a missing attribute), AccessDeniedException (IAM)",
            "Assumed: not documented; AWS-recorded histories (localstack/localstack, tests/aws/services/"
            "stepfunctions/v2/error_handling/test_task_service_dynamodb.snapshot.json) name a ValidationException "
            "so, and AWS's semaphore sample (aws-samples/aws-stepfunctions-examples, app-control-concurrency-"
            "with-dynamodb) catches it for an update of a missing item",
        ),
    )
}


def sdk_errors() -> dict[str, ErrorEntry]:
    """The aws-sdk error names the emulated services can produce, with the current spelling."""
    out: dict[str, ErrorEntry] = {}
    for service, codes in _SDK_CODES.items():
        prefix = SERVICE_PREFIXES[service]
        for code, when in codes:
            name = sdk_error_name(service, code)
            source = f"{_CODE_SOURCES.get(service, 'moto 5.2.5')} (code {code}); name: {prefix.source}"
            out[name] = ErrorEntry(name, when, source)
        unmodelled = sdk_error_name(service, UNMODELLED)
        out[unmodelled] = ErrorEntry(
            unmodelled,
            "an error code botocore does not model for the service, e.g. a ThrottlingException Fault",
            "Assumed: <Prefix>.<Prefix>Exception as moto 5.2.5 names it; the real name of unmodelled codes "
            "is not documented",
        )
    return out


def table() -> list[ErrorEntry]:
    """Every error name the emulation raises (current spelling), with when and its source."""
    return [
        *STATES.values(),
        *sdk_errors().values(),
        *BATCH_OPTIMIZED.values(),
        *LAMBDA.values(),
        *DYNAMODB_OPTIMIZED.values(),
    ]
