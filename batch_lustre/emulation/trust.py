"""Who may assume a role: its trust policy, checked where AWS checks it (docs/aws-rules.md, "Roles: who may
assume them").

- Lambda, at CreateFunction: ``InvalidParameterValueException`` "The role defined for the function cannot be
  assumed by Lambda." (Lambda Developer Guide, "Lambda execution role"; Lambda API Reference, CreateFunction).
- Step Functions, at CreateStateMachine: ``AccessDeniedException`` "Neither the global service principal
  states.amazonaws.com, nor the regional one is authorized to assume the provided role." (Step Functions
  Developer Guide, "Troubleshooting IAM", and the CreateStateMachine errors).
- EventBridge, when it delivers to a target with a RoleArn: the delivery fails (the rule's FailedInvocations
  metric); nothing is started (EventBridge User Guide, "Using IAM roles to send events to targets").
- EC2 (a Batch compute environment's instance role): an instance that cannot assume its role cannot register
  with ECS, so jobs never start (Batch User Guide, "Amazon ECS instance role").
"""

from __future__ import annotations

import json
from typing import Any

from batch_lustre.emulation.iam import client_error
from batch_lustre.emulation.moto_seam import iam_backends

_REFUSALS: dict[str, tuple[str, int, str]] = {
    "lambda": (
        "InvalidParameterValueException",
        400,
        "The role defined for the function cannot be assumed by Lambda.",
    ),
    "stepfunctions": (
        "AccessDeniedException",
        400,
        "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume "
        "the provided role.",
    ),
}


def _statements(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, str):
        document = json.loads(document)
    found = document.get("Statement", []) if isinstance(document, dict) else []
    return found if isinstance(found, list) else [found]


def trusted_services(role_arn: str) -> set[str]:
    """The services the trust policy of role ``role_arn`` allows to ``sts:AssumeRole`` (empty if no such role)."""
    account = role_arn.split(":")[4]
    role_name = role_arn.rsplit("/", 1)[-1]
    role = next((r for r in iam_backends[account]["aws"].roles.values() if r.name == role_name), None)
    if role is None:
        return set()
    services: set[str] = set()
    for statement in _statements(role.assume_role_policy_document):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") != "Allow" or not {"sts:AssumeRole", "sts:*", "*"} & set(actions):
            continue
        principal = statement.get("Principal", {})
        named = principal.get("Service", []) if isinstance(principal, dict) else []
        services.update([named] if isinstance(named, str) else named)
    return services


def can_assume(role_arn: str, service: str) -> bool:
    """Whether ``service`` (e.g. ``lambda.amazonaws.com``) may assume role ``role_arn``."""
    return service in trusted_services(role_arn)


def require_trust(role_arn: str, service: str, api: str, operation: str) -> None:
    """Refuse ``operation`` of ``api`` as AWS does when ``service`` may not assume ``role_arn``."""
    if can_assume(role_arn, service):
        return
    code, status, message = _REFUSALS[api]
    raise client_error(api, operation, code, message, status)
