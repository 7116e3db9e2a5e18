"""IAM policies in the emulation: a role's identity-based policies read from moto's IAM backend, the decision on
one authorisation request (an explicit Deny wins, otherwise an Allow is needed; ``decide``), and the error each
service returns when IAM denies a call (``ERROR_SHAPES``). The rules and their sources: docs/aws-rules.md, section
"IAM"."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

import botocore.session
from botocore.errorfactory import ClientExceptionsFactory
from botocore.exceptions import ClientError

from batch_lustre.emulation.moto_seam import IAMPolicy, IAMPolicyStatement, PermissionResult, iam_backends

# The error each service returns when IAM denies a call: code, HTTP status, source.
ERROR_SHAPES: dict[str, tuple[str, int, str]] = {
    "fsx": (
        "AccessDeniedException",
        400,
        "FSx API Reference, Common Errors; observed: 'StatusCode: 400 ... api error AccessDeniedException: User: "
        "... is not authorized to perform: fsx:CreateFileSystem on resource: ...:file-system/*' "
        "(aws-samples/eks-workshop-v2#1445)",
    ),
    "batch": (
        "AccessDeniedException",
        403,
        "observed: 'An error occurred (AccessDeniedException) when calling the SubmitJob operation' "
        "(ministryofjustice/modernisation-platform#12909, JuliaCloud/AWS.jl#617: HTTP 403)",
    ),
    "lambda": ("AccessDeniedException", 403, "Lambda API Reference, Common Errors (HTTP 403)"),
    "secretsmanager": ("AccessDeniedException", 400, "Secrets Manager API Reference, Common Errors"),
    "stepfunctions": ("AccessDeniedException", 400, "Step Functions API Reference, Common Errors"),
    "dynamodb": ("AccessDeniedException", 400, "DynamoDB API Reference, Common Errors (AccessDeniedException, 400)"),
    "events": ("AccessDeniedException", 400, "EventBridge API Reference (modelled AccessDeniedException)"),
    "cloudwatch": (
        "AccessDenied",
        403,
        "CloudWatch is awsQueryCompatible (botocore model): the query error code; observed "
        "'AccessDenied: User: ... is not authorized to perform: cloudwatch:...' "
        "(RafalWilinski/cloudwatch-public-metrics#6)",
    ),
    "ec2": ("UnauthorizedOperation", 403, "EC2 API Reference, Error codes (UnauthorizedOperation)"),
    "s3": ("AccessDenied", 403, "S3 API Reference, Error responses (AccessDenied)"),
    "iam": ("AccessDenied", 403, "IAM API Reference, Common Errors (query protocol)"),
}

# FSx's answer when the caller cannot reach the bucket (FSx for Lustre guide, "S3 validation error"); the
# code was seen as BadRequest (aws-samples/amazon-eks-machine-learning-with-terraform-and-kubeflow#91).
FSX_S3_VALIDATION_CODE = "BadRequest"
FSX_S3_VALIDATION_MESSAGE = (
    "Amazon FSx is unable to validate access to the S3 bucket. Ensure the IAM role or user you are using has "
    "s3:Get*, s3:List* and s3:PutObject permissions to the S3 bucket prefix."
)
# What "s3:Get*, s3:List* and s3:PutObject" is checked as (Assumed: FSx does not list the exact actions).
FSX_S3_VALIDATION_ACTIONS = (
    ("s3:GetBucketLocation", "bucket"),
    ("s3:ListBucket", "bucket"),
    ("s3:GetObject", "prefix"),
    ("s3:PutObject", "prefix"),
)

FSX_SERVICE = "fsx.amazonaws.com"
FSX_S3_SERVICE = "s3.data-source.lustre.fsx.amazonaws.com"
SYNC_BATCH_RULE = "StepFunctionsGetEventsForBatchJobsRule"

# botocore service name -> IAM service prefix, where they differ.
_IAM_PREFIX = {"stepfunctions": "states"}
# Step Functions' (and IAM's) service names -> botocore's.
_BOTO_NAME = {"sfn": "stepfunctions", "states": "stepfunctions"}


class IamEmulationError(RuntimeError):
    """The emulation cannot authorise a call (unknown role, unknown condition operator...)."""


class UnknownIamAction(IamEmulationError):
    """A call whose IAM authorisation the emulation does not know: add it to ``emulation.iam_requests``."""


@dataclass(frozen=True)
class Check:
    """One authorisation request: may the principal do ``action`` on ``resource`` in this context?"""

    action: str
    resource: str
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # condition key (lower case) -> values
    exists: bool = True  # False: the resource is not there; the service answers with its not-found error
    error: tuple[str, str] | None = None  # (code, message) the service returns instead of its access denied


@dataclass
class Denial:
    principal: str
    action: str
    resource: str
    code: str
    message: str


@dataclass
class IamAuthorizer:
    """The emulation's IAM state (``emu.iam``)."""

    account_id: str
    region: str
    enforce: bool = True
    denials: list[Denial] = field(default_factory=list)
    allowed: list[tuple[str, str, str]] = field(default_factory=list)  # (role ARN, action, resource) checked
    # Resource ARN -> its tags (keys in lower case) when a call on it was first allowed: whose it was then.
    resource_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    # (role ARN, action, every string of the request) of the allowed requests on "*" (describes, lists).
    named: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    service_linked_roles: set[str] = field(default_factory=set)  # ARNs of service-linked roles created
    # Calls the Lambda handlers made: (emulated second, function name, "service:Operation" in botocore's names).
    function_calls: list[tuple[float, str, str]] = field(default_factory=list)


# --- policies ------------------------------------------------------------------------------------


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard matching: ``*`` any run of characters, ``?`` one character."""
    return _glob_regex(pattern, ignore_case).fullmatch(value) is not None


@lru_cache(maxsize=4096)
def _glob_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


@lru_cache(maxsize=256)
def _document(text: str) -> Any:
    """A policy document's JSON, parsed once per text (policies are evaluated on every call; never changed)."""
    return json.loads(text)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


_OPERATORS = {
    "StringEquals": lambda want, got: want == got,
    "StringNotEquals": lambda want, got: want == got,
    "StringEqualsIgnoreCase": lambda want, got: want.lower() == got.lower(),
    "StringNotEqualsIgnoreCase": lambda want, got: want.lower() == got.lower(),
    "StringLike": lambda want, got: _glob(want, got),
    "StringNotLike": lambda want, got: _glob(want, got),
    "ArnEquals": lambda want, got: want == got,
    "ArnNotEquals": lambda want, got: want == got,
    "ArnLike": lambda want, got: _glob(want, got),
    "ArnNotLike": lambda want, got: _glob(want, got),
    "Bool": lambda want, got: want.lower() == got.lower(),
}
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def condition_holds(operator: str, key: str, wanted: Any, context: Mapping[str, tuple[str, ...]]) -> bool:
    """One condition of a statement (IAM User Guide, "Condition operators", "Multivalued context keys")."""
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    values = context.get(key.lower())
    wanted_values = [str(w).lower() if isinstance(w, bool) else str(w) for w in _listed(wanted)]
    if base == "Null":
        absent = values is None or len(values) == 0
        return all((w.lower() == "true") == absent for w in wanted_values)
    if base not in _OPERATORS or qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise IamEmulationError(f"condition operator {operator!r} is not emulated (emulation/iam_policy.py)")
    match = _OPERATORS[base]
    negated = base in _NEGATED
    if not values:
        # A missing key matches nothing: true only for IfExists, a negated operator, or ForAllValues.
        return if_exists or negated or qualifier == "ForAllValues"

    def matches(value: str) -> bool:
        hit = any(match(w, value) for w in wanted_values)
        return not hit if negated else hit

    if qualifier == "ForAllValues" or (negated and qualifier != "ForAnyValue"):
        return all(matches(v) for v in values)
    return any(matches(v) for v in values)


class _Statement(IAMPolicyStatement):
    """moto's statement, with IAM's semantics where moto differs: a failed condition makes the statement not
    apply (moto denies), actions match case-insensitively, ``NotResource``, every condition operator the
    project's policies use (``condition_holds``)."""

    def is_action_permitted(
        self,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, Any] | None = None,
    ) -> PermissionResult:
        statement = self._statement
        if "NotAction" in statement:
            concerned = not any(_glob(a, action, ignore_case=True) for a in _listed(statement["NotAction"]))
        else:
            concerned = any(_glob(a, action, ignore_case=True) for a in _listed(statement.get("Action", [])))
        if not concerned:
            return PermissionResult.NEUTRAL
        if "NotResource" in statement:
            on_resource = not any(_glob(r, resource) for r in _listed(statement["NotResource"]))
        else:
            on_resource = any(_glob(r, resource) for r in _listed(statement.get("Resource", [])))
        if not on_resource or not self._check_conditions(incoming_condition_values):
            return PermissionResult.NEUTRAL
        return PermissionResult.PERMITTED if statement.get("Effect") == "Allow" else PermissionResult.DENIED

    def _check_conditions(self, incoming_condition_values: dict[str, Any] | None) -> bool:
        context = incoming_condition_values or {}
        return all(
            condition_holds(operator, key, wanted, context)
            for operator, keys in (self._statement.get("Condition") or {}).items()
            for key, wanted in keys.items()
        )


class Policy(IAMPolicy):
    """A policy document (inline JSON string, dict, or moto managed ``Policy``), evaluated with ``_Statement``."""

    def __init__(self, policy: Any) -> None:
        if isinstance(policy, dict) and "Statement" in policy:
            self._policy_json = policy
        elif isinstance(policy, str):
            self._policy_json = _document(policy)
        else:
            super().__init__(policy)

    def evaluate(self, action: str, resource: str, context: Mapping[str, tuple[str, ...]]) -> PermissionResult:
        permitted = False
        for statement in _listed(self._policy_json.get("Statement", [])):
            result = _Statement(statement).is_action_permitted(action, resource, None, dict(context))
            if result == PermissionResult.DENIED:
                return result
            permitted = permitted or result == PermissionResult.PERMITTED
        return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL


def decide(policies: list[Policy], action: str, resource: str, context: Mapping[str, tuple[str, ...]]) -> str:
    """``"allow"``, ``"explicit-deny"`` or ``"implicit-deny"`` (IAM policy evaluation logic, one account)."""
    results = [p.evaluate(action, resource, context) for p in policies]
    if PermissionResult.DENIED in results:
        return "explicit-deny"
    return "allow" if PermissionResult.PERMITTED in results else "implicit-deny"


def role_policies(account_id: str, role_arn: str) -> list[Policy]:
    """The identity-based policies of ``role_arn`` in moto's IAM: inline and attached managed ones."""

    backend = iam_backends[account_id]["aws"]
    try:
        role = backend.get_role_by_arn(role_arn)
    except Exception:
        raise IamEmulationError(
            f"role {role_arn} does not exist in the emulated IAM: create it (setup_stack does) or, for a probe of "
            "the emulation itself, turn checking off with emu.iam.enforce = False"
        ) from None
    return [Policy(document) for document in role.policies.values()] + [
        Policy(managed) for managed in role.managed_policies.values()
    ]


def assumed_role_arn(role_arn: str, session: str) -> str:
    """The principal AWS names in a message: ``arn:aws:sts::<account>:assumed-role/<role name>/<session>``."""
    account = role_arn.split(":")[4]
    return f"arn:aws:sts::{account}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/{session}"


def denial_message(principal: str, action: str, resource: str, *, explicit: bool = False) -> str:
    """AWS's access denied message (IAM User Guide, "Troubleshoot access denied error messages")."""
    if explicit:
        return (
            f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
            "with an explicit deny in an identity-based policy"
        )
    return (
        f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )


@cache
def _exceptions(service: str) -> Any:
    model = _service_model(service)
    return ClientExceptionsFactory().create_client_exceptions(model)


def client_error(service: str, operation: str, code: str, message: str, status: int) -> ClientError:
    """The exception botocore raises for ``code`` from ``service`` (its modelled class, or ClientError)."""
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "emulated-iam"},
    }
    return _exceptions(service).from_code(code)(response, operation)


@cache
def _service_model(service: str) -> Any:
    """botocore's model of ``service``, loaded once per process (loading it costs tens of milliseconds)."""
    return botocore.session.get_session().get_service_model(service)
