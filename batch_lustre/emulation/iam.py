"""IAM in the emulation: every call the state machine or a Lambda makes is authorised, as AWS does.

A call is resolved into the authorisation requests AWS makes for it (``resolve``): the IAM action(s),
the resource ARN(s) per the Service Authorization Reference, and the request context (request tags,
the resource's tags read from moto's backends, ``ec2:CreateAction``, ``iam:AWSServiceName``). Each
request is evaluated against the identity-based policies attached to the calling role in moto's IAM
backend (inline and managed): an explicit Deny wins, otherwise an Allow is needed. A denial raises the
botocore ``ClientError`` the service returns (``ERROR_SHAPES``) with AWS's message.

Beyond the called action (docs/aws-rules.md, section "IAM"):
- tag-on-create: FSx/Batch calls with tags need ``fsx:TagResource`` / ``batch:TagResource``;
  ``ec2:CreateLaunchTemplate`` with ``TagSpecifications`` needs ``ec2:CreateTags`` (``ec2:CreateAction``);
- ``fsx:CreateDataRepositoryAssociation``: FSx validates that the caller can reach the bucket prefix
  (fails with FSx's ``BadRequest``), and creates the file system's S3 service-linked role;
- ``fsx:CreateFileSystem``: FSx's service-linked role, the first time;
- ``batch:submitJob.sync``: the managed EventBridge rule, DescribeJobs, TerminateJob;
- ``iam:PassRole`` for a role passed in a request (the workflow passes none).

Principals: a state machine task acts as the execution's role (``authorize_state_task``, called by
``emulation.sfn``); a Lambda handler's boto3 calls act as the function's role (``acting_as``, entered by
``emulation.lambdas``; ``install`` patches botocore to check them). An action the resolver does not know
raises ``UnknownIamAction``: nothing is silently allowed. ``emu.iam.enforce = False`` turns checking off
(for probes of the emulation itself that use a role that does not exist).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

import botocore.session
from botocore.client import BaseClient
from botocore.errorfactory import ClientExceptionsFactory
from botocore.exceptions import ClientError

from batch_lustre.emulation import moto_seam
from batch_lustre.emulation.active import active
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
    """A call whose IAM authorisation the emulation does not know: add it to ``emulation.iam``."""


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
        raise IamEmulationError(f"condition operator {operator!r} is not emulated (emulation/iam.py)")
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


# --- resolving a call into authorisation requests -------------------------------------------------


def _get(params: Mapping[str, Any] | None, *path: str) -> Any:
    """``params[path...]`` with member names matched case-insensitively (ASL PascalCase or botocore's)."""
    value: Any = params
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = next((v for k, v in value.items() if k.lower() == name.lower()), None)
    return value


def _tag_dict(tags: Any) -> dict[str, str]:
    """Tags as a dict, from a Key/Value list (FSx, EC2, Secrets Manager) or a map (Batch)."""
    if isinstance(tags, Mapping):
        return {str(k): str(v) for k, v in tags.items()}
    out = {}
    for tag in tags or []:
        key, value = _get(tag, "Key"), _get(tag, "Value")
        if key is not None:
            out[str(key)] = "" if value is None else str(value)
    return out


def _request_context(tags: Mapping[str, str] | None) -> dict[str, tuple[str, ...]]:
    if not tags:
        return {}
    context: dict[str, tuple[str, ...]] = {f"aws:requesttag/{k}".lower(): (v,) for k, v in tags.items()}
    context["aws:tagkeys"] = tuple(tags)
    return context


def _resource_context(tags: Mapping[str, str], *prefixes: str) -> dict[str, tuple[str, ...]]:
    return {f"{p}:resourcetag/{k}".lower(): (v,) for k, v in tags.items() for p in ("aws", *prefixes)}


@dataclass
class _Call:
    emu: Any
    service: str  # botocore service name
    operation: str  # botocore operation name
    params: Mapping[str, Any]

    @property
    def region(self) -> str:
        return str(self.emu.region)

    @property
    def account(self) -> str:
        return str(self.emu.account_id)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def get(self, *path: str) -> Any:
        return _get(self.params, *path)

    def check(
        self,
        action: str,
        resource: str,
        *contexts: Mapping[str, tuple[str, ...]],
        exists: bool = True,
        error: tuple[str, str] | None = None,
    ) -> Check:
        merged: dict[str, tuple[str, ...]] = {"aws:requestedregion": (self.region,)}
        for context in contexts:
            merged.update(context)
        return Check(action, resource, merged, exists, error)

    def backend(self, name: str) -> Any:
        return moto_seam.backend(name, self.account, self.region)


_Resolver = Callable[[_Call], list[Check]]
_RESOLVERS: dict[tuple[str, str], _Resolver] = {}


def _resolves(service: str, *operations: str) -> Callable[[_Resolver], _Resolver]:
    def register(fn: _Resolver) -> _Resolver:
        for operation in operations:
            _RESOLVERS[(service, operation)] = fn
        return fn

    return register


def _everything(action: str) -> _Resolver:
    """An action without resource-level permissions: authorised on ``*``."""
    return lambda c: [c.check(action, "*")]


for _service, _operations in {
    "fsx": ("DescribeFileSystems", "DescribeDataRepositoryAssociations", "DescribeDataRepositoryTasks"),
    "batch": ("DescribeComputeEnvironments", "DescribeJobs", "ListJobs", "DescribeJobDefinitions"),
    "ec2": ("DescribeLaunchTemplates",),
    "cloudwatch": ("GetMetricData",),
}.items():
    for _described in _operations:
        _RESOLVERS[(_service, _described)] = _everything(f"{_service}:{_described}")


@_resolves("sts", "GetCallerIdentity")
def _no_permission(c: _Call) -> list[Check]:
    return []  # needs no permission (STS API Reference, GetCallerIdentity)


@_resolves("stepfunctions", "ListExecutions")
def _list_executions(c: _Call) -> list[Check]:
    if c.get("mapRunArn"):
        return [c.check("states:ListExecutions", str(c.get("mapRunArn")))]
    return [c.check("states:ListExecutions", str(c.get("stateMachineArn")))]


@_resolves("secretsmanager", "GetSecretValue")
def _get_secret_value(c: _Call) -> list[Check]:
    secret_id = str(c.get("SecretId"))
    secret = c.backend("secretsmanager").secrets.get(secret_id)
    if secret is None:
        arn = secret_id if secret_id.startswith("arn:") else c.arn("secretsmanager", f"secret:{secret_id}")
        return [c.check("secretsmanager:GetSecretValue", arn, exists=False)]
    tags = _resource_context(_tag_dict(secret.tags), "secretsmanager")
    return [c.check("secretsmanager:GetSecretValue", secret.arn, tags)]


@_resolves("lambda", "Invoke")
def _invoke(c: _Call) -> list[Check]:
    name, qualifier = str(c.get("FunctionName")), c.get("Qualifier")
    if name.startswith("arn:"):
        arn = name
    elif ":function:" in name:
        arn = f"arn:aws:lambda:{c.region}:{name}"
    else:
        arn = c.arn("lambda", f"function:{name}")
    if qualifier and arn.count(":") == 6:
        arn = f"{arn}:{qualifier}"
    return [c.check("lambda:InvokeFunction", arn)]


# --- FSx -----------------------------------------------------------------------------------------


def _fsx_tags(c: _Call, arn: str) -> dict[str, str]:
    return _tag_dict(c.backend("fsx").list_tags_for_resource(arn))


def _file_system(c: _Call, file_system_id: str) -> tuple[str, dict[str, tuple[str, ...]], bool]:
    """ARN, resource-tag context and existence of a file system."""
    fs = c.backend("fsx").file_systems.get(file_system_id)
    arn = fs.resource_arn if fs is not None else c.arn("fsx", f"file-system/{file_system_id}")
    return arn, _resource_context(_fsx_tags(c, arn)) if fs is not None else {}, fs is not None


def _fsx_resource(c: _Call, arn: str) -> tuple[dict[str, tuple[str, ...]], bool]:
    """Resource-tag context and existence of any FSx resource ARN (file system, association, task)."""
    kind, _, rest = arn.split(":", 5)[5].partition("/")
    model = c.emu.fsx
    tags = _fsx_tags(c, arn)
    if kind == "file-system":
        exists = rest in c.backend("fsx").file_systems
    elif kind == "association":
        dra = model.associations.get(rest.rsplit("/", 1)[-1])
        exists = dra is not None
        tags = {**_tag_dict(dra.tags if dra else []), **tags}
    elif kind == "task":
        task = model.tasks.get(rest)
        exists = task is not None
        tags = {**_tag_dict(task.tags if task else []), **tags}
    else:
        exists = True
    return _resource_context(tags), exists


def _tag_on_create(c: _Call, action: str, resources: list[str], request: dict[str, tuple[str, ...]]) -> list[Check]:
    """A create carrying tags also needs the service's TagResource on the new resource(s)."""
    return [c.check(action, arn, request) for arn in resources] if request else []


@_resolves("fsx", "CreateFileSystem")
def _create_file_system(c: _Call) -> list[Check]:
    # A new resource is authorised as <type>/* (observed: "... fsx:CreateFileSystem on resource: ...file-system/*").
    new = c.arn("fsx", "file-system/*")
    request = _request_context(_tag_dict(c.get("Tags")))
    checks = [c.check("fsx:CreateFileSystem", new, request), *_tag_on_create(c, "fsx:TagResource", [new], request)]
    role = _service_linked_role(c, FSX_SERVICE, "AWSServiceRoleForAmazonFSx")
    if role not in c.emu.iam.service_linked_roles:
        checks.append(c.check("iam:CreateServiceLinkedRole", role, {"iam:awsservicename": (FSX_SERVICE,)}))
    return checks


def _service_linked_role(c: _Call, service: str, name: str) -> str:
    return f"arn:aws:iam::{c.account}:role/aws-service-role/{service}/{name}"


@_resolves("fsx", "CreateDataRepositoryAssociation")
def _create_dra(c: _Call) -> list[Check]:
    fs_id = str(c.get("FileSystemId"))
    fs_arn, fs_tags, fs_exists = _file_system(c, fs_id)
    new = c.arn("fsx", f"association/{fs_id}/*")
    request = _request_context(_tag_dict(c.get("Tags")))
    checks = [
        c.check("fsx:CreateDataRepositoryAssociation", new, request),
        c.check("fsx:CreateDataRepositoryAssociation", fs_arn, request, fs_tags, exists=fs_exists),
        *_tag_on_create(c, "fsx:TagResource", [new], request),
    ]
    # The file system's S3 access role (FSxDeleteServiceLinkedRoleAccess names AWSServiceRoleForFSxS3Access_*).
    role = _service_linked_role(c, FSX_S3_SERVICE, f"AWSServiceRoleForFSxS3Access_{fs_id}")
    if role not in c.emu.iam.service_linked_roles:
        checks.append(c.check("iam:CreateServiceLinkedRole", role, {"iam:awsservicename": (FSX_S3_SERVICE,)}))
    checks += [c.check("iam:AttachRolePolicy", role), c.check("iam:PutRolePolicy", role)]
    # FSx validates, as the caller, that the bucket prefix can be read, listed and written.
    path = str(c.get("DataRepositoryPath") or "")
    if path.startswith("s3://"):
        bucket, _, prefix = path[len("s3://") :].partition("/")
        targets = {"bucket": f"arn:aws:s3:::{bucket}", "prefix": f"arn:aws:s3:::{bucket}/{prefix}*"}
        checks += [
            c.check(action, targets[kind], error=(FSX_S3_VALIDATION_CODE, FSX_S3_VALIDATION_MESSAGE))
            for action, kind in FSX_S3_VALIDATION_ACTIONS
        ]
    return checks


@_resolves("fsx", "UpdateDataRepositoryAssociation")
def _update_dra(c: _Call) -> list[Check]:
    dra_id = str(c.get("AssociationId"))
    dra = c.emu.fsx.associations.get(dra_id)
    arn = dra.resource_arn if dra is not None else c.arn("fsx", f"association/*/{dra_id}")
    context, exists = _fsx_resource(c, arn)
    return [c.check("fsx:UpdateDataRepositoryAssociation", arn, context, exists=exists)]


@_resolves("fsx", "CreateDataRepositoryTask")
def _create_task(c: _Call) -> list[Check]:
    fs_arn, fs_tags, fs_exists = _file_system(c, str(c.get("FileSystemId")))
    new = c.arn("fsx", "task/*")
    request = _request_context(_tag_dict(c.get("Tags")))
    return [
        c.check("fsx:CreateDataRepositoryTask", fs_arn, request, fs_tags, exists=fs_exists),
        c.check("fsx:CreateDataRepositoryTask", new, request),
        *_tag_on_create(c, "fsx:TagResource", [new], request),
    ]


@_resolves("fsx", "DeleteFileSystem")
def _delete_file_system(c: _Call) -> list[Check]:
    arn, tags, exists = _file_system(c, str(c.get("FileSystemId")))
    return [c.check("fsx:DeleteFileSystem", arn, tags, exists=exists)]


@_resolves("fsx", "TagResource", "UntagResource", "ListTagsForResource")
def _fsx_tagging(c: _Call) -> list[Check]:
    arn = str(c.get("ResourceARN"))
    context, exists = _fsx_resource(c, arn)
    request = _request_context(_tag_dict(c.get("Tags"))) if c.operation == "TagResource" else {}
    if c.operation == "UntagResource":
        request = {"aws:tagkeys": tuple(c.get("TagKeys") or ())}
    return [c.check(f"fsx:{c.operation}", arn, request, context, exists=exists)]


# --- EC2 -----------------------------------------------------------------------------------------


def _ec2_request_tags(c: _Call, resource_type: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for spec in c.get("TagSpecifications") or []:
        if _get(spec, "ResourceType") == resource_type:
            tags.update(_tag_dict(_get(spec, "Tags")))
    return tags


@_resolves("ec2", "CreateLaunchTemplate")
def _create_launch_template(c: _Call) -> list[Check]:
    new = c.arn("ec2", "launch-template/*")
    tags = _ec2_request_tags(c, "launch-template")
    request = _request_context(tags)
    checks = [c.check("ec2:CreateLaunchTemplate", new, request, {"ec2:region": (c.region,)})]
    if tags:
        # Tag on create (EC2 User Guide, "Grant permission to tag resources during creation").
        checks.append(c.check("ec2:CreateTags", new, request, {"ec2:createaction": ("CreateLaunchTemplate",)}))
    return checks


@_resolves("ec2", "DeleteLaunchTemplate")
def _delete_launch_template(c: _Call) -> list[Check]:
    ec2 = c.backend("ec2")
    template_id = c.get("LaunchTemplateId")
    if not template_id and c.get("LaunchTemplateName"):
        template_id = ec2.launch_template_name_to_ids.get(str(c.get("LaunchTemplateName")))
    exists = bool(template_id) and template_id in ec2.launch_templates
    arn = c.arn("ec2", f"launch-template/{template_id or '*'}")
    tags = _resource_context(ec2.tags.get(template_id, {}), "ec2") if exists else {}
    return [c.check("ec2:DeleteLaunchTemplate", arn, tags, {"ec2:region": (c.region,)}, exists=exists)]


# --- Batch ---------------------------------------------------------------------------------------


def _batch_tags(c: _Call, arn: str) -> dict[str, tuple[str, ...]]:
    return _resource_context(_tag_dict(c.backend("batch").list_tags_for_resource(arn)))


def _pass_roles(c: _Call, *passed: tuple[tuple[str, ...], str]) -> list[Check]:
    """iam:PassRole for every role the request passes (IAM User Guide, "Grant a user permissions to pass a role"):
    ``passed`` is (member path, service the role is passed to)."""

    checks = []
    for path, service in passed:
        value = c.get(*path)
        if not value:
            continue
        roles = [str(value)]
        if ":instance-profile/" in str(value):  # an instance profile passes its role(s)
            profiles = iam_backends[c.account]["aws"].instance_profiles.values()
            roles = [r.arn for p in profiles if p.arn == value for r in p.roles] or roles
        checks += [c.check("iam:PassRole", role, {"iam:passedtoservice": (service,)}) for role in roles]
    return checks


@_resolves("batch", "UpdateComputeEnvironment")
def _update_compute_environment(c: _Call) -> list[Check]:
    identifier = str(c.get("computeEnvironment"))
    env = c.backend("batch").get_compute_environment(identifier)
    arn = (
        env.arn
        if env is not None
        else (identifier if identifier.startswith("arn:") else c.arn("batch", f"compute-environment/{identifier}"))
    )
    return [
        c.check("batch:UpdateComputeEnvironment", arn, _batch_tags(c, arn), exists=env is not None),
        *_pass_roles(
            c, (("serviceRole",), "batch.amazonaws.com"), (("computeResources", "instanceRole"), "ec2.amazonaws.com")
        ),
    ]


@_resolves("batch", "RegisterJobDefinition")
def _register_job_definition(c: _Call) -> list[Check]:
    name = str(c.get("jobDefinitionName"))
    revisions = [d.revision for d in c.backend("batch").get_job_definitions(name)]
    request = _request_context(_tag_dict(c.get("tags")))
    new_revision = c.arn("batch", f"job-definition/{name}:{max(revisions, default=0) + 1}")
    return [
        c.check("batch:RegisterJobDefinition", c.arn("batch", f"job-definition/{name}"), request),
        *_tag_on_create(c, "batch:TagResource", [new_revision], request),
        *_pass_roles(
            c,
            (("containerProperties", "jobRoleArn"), "ecs-tasks.amazonaws.com"),
            (("containerProperties", "executionRoleArn"), "ecs-tasks.amazonaws.com"),
        ),
    ]


def _job_definition(c: _Call, identifier: str) -> tuple[str, dict[str, tuple[str, ...]], bool]:
    found = c.backend("batch").get_job_definition(identifier)
    if found is not None:
        return found.arn, _batch_tags(c, found.arn), True
    arn = identifier if identifier.startswith("arn:") else c.arn("batch", f"job-definition/{identifier}")
    return arn, {}, False


@_resolves("batch", "DeregisterJobDefinition")
def _deregister_job_definition(c: _Call) -> list[Check]:
    arn, tags, exists = _job_definition(c, str(c.get("jobDefinition")))
    return [c.check("batch:DeregisterJobDefinition", arn, tags, exists=exists)]


@_resolves("batch", "SubmitJob")
def _submit_job(c: _Call) -> list[Check]:
    batch = c.backend("batch")
    queue_id = str(c.get("jobQueue"))
    queue = batch.get_job_queue(queue_id)
    queue_arn = (
        queue.arn
        if queue is not None
        else (queue_id if queue_id.startswith("arn:") else c.arn("batch", f"job-queue/{queue_id}"))
    )
    definition_arn, definition_tags, definition_exists = _job_definition(c, str(c.get("jobDefinition")))
    new = c.arn("batch", "job/*")
    request = _request_context(_tag_dict(c.get("tags")))
    checks = [
        c.check("batch:SubmitJob", queue_arn, request, _batch_tags(c, queue_arn), exists=queue is not None),
        c.check("batch:SubmitJob", definition_arn, request, definition_tags, exists=definition_exists),
        c.check("batch:SubmitJob", new, request),
    ]
    # Tags on the job: TagResource on the job, and (observed) on the job definition revision.
    return checks + _tag_on_create(c, "batch:TagResource", [new, definition_arn], request)


@_resolves("batch", "TerminateJob")
def _terminate_job(c: _Call) -> list[Check]:
    return [c.check("batch:TerminateJob", c.arn("batch", f"job/{c.get('jobId')}"))]


@_resolves("batch", "TagResource", "UntagResource", "ListTagsForResource")
def _batch_tagging(c: _Call) -> list[Check]:
    arn = str(c.get("resourceArn"))
    request = _request_context(_tag_dict(c.get("tags"))) if c.operation == "TagResource" else {}
    return [c.check(f"batch:{c.operation}", arn, request, _batch_tags(c, arn))]


def _submit_job_sync(c: _Call) -> list[Check]:
    """``arn:aws:states:::batch:submitJob.sync`` (Step Functions developer guide, "IAM policies for AWS Batch")."""
    rule = c.arn("events", f"rule/{SYNC_BATCH_RULE}")
    return [
        *_submit_job(c),
        *(c.check(f"events:{action}", rule) for action in ("PutTargets", "PutRule", "DescribeRule")),
        c.check("batch:DescribeJobs", "*"),
        # Step Functions terminates the job when the task is stopped; checked up front (see docs/aws-rules.md).
        c.check("batch:TerminateJob", c.arn("batch", "job/*")),
    ]


def iam_prefix(service: str) -> str:
    return _IAM_PREFIX.get(service, service)


def resolve(
    emu: Any, service: str, operation: str, parameters: Mapping[str, Any] | None, *, sync: bool = False
) -> list[Check]:
    """The authorisation requests AWS makes for ``service``'s ``operation`` with ``parameters`` (botocore names)."""
    call = _Call(emu, service, operation, parameters or {})
    if sync:
        if (service, operation) != ("batch", "SubmitJob"):
            raise UnknownIamAction(f"no .sync integration is emulated for {service}:{operation}")
        return _submit_job_sync(call)
    resolver = _RESOLVERS.get((service, operation))
    if resolver is None:
        raise UnknownIamAction(
            f"batch_lustre.emulation.iam does not know which IAM authorisation {iam_prefix(service)}:{operation} needs: "
            "add a resolver for it (emulation/iam.py) before the code calls it"
        )
    return resolver(call)


def known_operations() -> list[tuple[str, str]]:
    """Every (botocore service, operation) the resolver knows."""
    return sorted(_RESOLVERS)


# --- authorising ---------------------------------------------------------------------------------


def authorize_call(
    emu: Any,
    role_arn: str,
    service: str,
    operation: str,
    parameters: Mapping[str, Any] | None,
    *,
    session: str = "emulated",
    sync: bool = False,
) -> None:
    """Authorise ``role_arn`` calling ``service``'s ``operation`` (botocore names); raise AWS's error if denied."""
    authorizer: IamAuthorizer = emu.iam
    if not authorizer.enforce:
        return
    checks = resolve(emu, service, operation, parameters, sync=sync)
    policies = role_policies(emu.account_id, role_arn)
    principal = assumed_role_arn(role_arn, session)
    for check in checks:
        if not check.exists:
            continue  # Assumed: the service answers with its not-found error (docs/aws-rules.md)
        decision = decide(policies, check.action, check.resource, check.context)
        if decision == "allow":
            authorizer.allowed.append((role_arn, check.action, check.resource))
            continue
        if check.error is not None:
            code, message = check.error
            status = 400
        else:
            code, status, _ = ERROR_SHAPES[service]
            message = denial_message(principal, check.action, check.resource, explicit=decision == "explicit-deny")
            if service == "ec2":
                message = (
                    f"You are not authorized to perform this operation. {message}. "
                    "Encoded authorization failure message: (emulated, not encoded)"
                )
        authorizer.denials.append(Denial(principal, check.action, check.resource, code, message))
        raise client_error(service, operation, code, message, status)
    for check in checks:
        if check.action == "iam:CreateServiceLinkedRole":
            authorizer.service_linked_roles.add(check.resource)


@cache
def _service_model(service: str) -> Any:
    """botocore's model of ``service``, loaded once per process (loading it costs tens of milliseconds)."""
    return botocore.session.get_session().get_service_model(service)


@cache
def _operation(service: str, action: str) -> str:
    """The botocore operation of an ASL action (``describeFileSystems`` -> ``DescribeFileSystems``)."""
    model = _service_model(service)
    for name in model.operation_names:
        if name.lower() == action.lower():
            return str(name)
    raise UnknownIamAction(f"{service} has no API action {action!r}")


def authorize_task(
    emu: Any,
    role_arn: str,
    service: str,
    action: str,
    parameters: Mapping[str, Any] | None,
    *,
    session: str = "emulated",
) -> None:
    """Authorise a state machine Task's call: ``service`` and ``action`` as in its Resource
    (``"fsx"``, ``"describeFileSystems"``; ``"lambda"``, ``"invoke"``; ``"batch"``, ``"submitJob.sync"``)."""
    sync = action.endswith(".sync")
    boto_service = _BOTO_NAME.get(service, service)
    operation = _operation(boto_service, action.removesuffix(".sync"))
    authorize_call(emu, role_arn, boto_service, operation, parameters, session=session, sync=sync)


def authorize_state_task(task: Any, env: Any, parameters: Mapping[str, Any] | None) -> None:
    """Authorise a moto ``StateTaskService*`` about to call AWS, as the execution's role (``emulation.sfn``)."""
    try:
        execution = env.states.context_object.context_object_data["Execution"]
        role_arn, session = execution["RoleArn"], execution["Name"]
    except (AttributeError, KeyError, TypeError):
        raise IamEmulationError("the task's execution has no role to authorise its call with") from None
    condition = getattr(task.resource, "condition", None)
    action = task.resource.api_action + (".sync" if getattr(condition, "value", condition) == "sync" else "")
    authorize_task(active(), role_arn, task.resource.api_name, action, parameters, session=session)


# --- Lambda principals ---------------------------------------------------------------------------

_local = threading.local()


def current_principal() -> tuple[str, str] | None:
    """(role ARN, session) of the Lambda handler running on this thread, if any."""
    stack = getattr(_local, "principals", None)
    return stack[-1] if stack else None


@contextmanager
def acting_as(role_arn: str, session: str) -> Iterator[None]:
    """While inside, this thread's boto3 calls are authorised as ``role_arn`` (a Lambda's execution role)."""
    if not hasattr(_local, "principals"):
        _local.principals = []
    _local.principals.append((role_arn, session))
    try:
        yield
    finally:
        _local.principals.pop()


def install(stack: ExitStack, emulation_for: Callable[[], Any]) -> None:
    """Authorise every botocore call made while a principal is set (``acting_as``), for ``stack``'s duration."""
    original = BaseClient._make_api_call

    def _make_api_call(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        principal = current_principal()
        if principal is not None:
            emu = emulation_for()
            service = self.meta.service_model.service_name
            emu.iam.function_calls.append((emu.clock.seconds(), principal[1], f"{service}:{operation_name}"))
            authorize_call(
                emu,
                principal[0],
                self.meta.service_model.service_name,
                operation_name,
                api_params,
                session=principal[1],
            )
        return original(self, operation_name, api_params)

    moto_seam.patch(stack, BaseClient, "_make_api_call", _make_api_call)
