"""IAM in the emulation: every call the state machine or a Lambda makes is authorised, as AWS does.

Modules: ``iam_policy`` (policies, decisions, denial errors), ``iam_requests`` (the requests of a call:
``resolve``), and this one (authorising a call; the principals).

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

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from functools import cache
from typing import Any

from botocore.client import BaseClient

from batch_lustre.emulation import moto_seam
from batch_lustre.emulation.active_emulation import active
from batch_lustre.emulation.iam_policy import (  # noqa: F401  (the names of emulation.iam)
    _BOTO_NAME,
    ERROR_SHAPES,
    FSX_S3_VALIDATION_MESSAGE,
    Denial,
    IamAuthorizer,
    IamEmulationError,
    Policy,
    UnknownIamAction,
    _service_model,
    assumed_role_arn,
    client_error,
    condition_holds,
    decide,
    denial_message,
    role_policies,
)
from batch_lustre.emulation.iam_requests import known_operations, resolve  # noqa: F401

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
            authorizer.resource_tags.setdefault(check.resource, _resource_tags(check.context))
            if check.resource == "*":  # no resource-level permission: what the request names says what it reads
                authorizer.named.append((role_arn, check.action, tuple(_strings(parameters))))
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


RESOURCE_TAG = "aws:resourcetag/"


def _resource_tags(context: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """The resource's tags as the request context holds them (``aws:ResourceTag/<key>``, keys in lower case)."""
    return {
        key.removeprefix(RESOURCE_TAG): values[0] for key, values in context.items() if key.startswith(RESOURCE_TAG)
    }


def _strings(value: Any) -> list[str]:
    """Every string in a request's parameters (ids, names, ARNs), however deep."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


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


@contextmanager
def acting_as_operator() -> Iterator[None]:
    """While inside, this thread's boto3 calls are the operator's (the account's administrator, not authorised call by
    call), even on a thread that runs a Lambda handler: an action scheduled on the emulated clock runs on whichever
    thread moves the clock."""
    if not hasattr(_local, "principals"):
        _local.principals = []
    _local.principals.append(None)
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
