"""Step Functions' optimized DynamoDB integration (``arn:aws:states:::dynamodb:<apiAction>``) in the emulation.

The rules and their sources: docs/aws-rules.md, "DynamoDB: conditional writes through Step Functions".

moto's interpreter already runs ``getItem``, ``putItem``, ``updateItem`` and ``deleteItem`` against moto's
DynamoDB (conditional writes and their ``ConditionalCheckFailedException`` are moto's) and names a failure
``DynamoDB.<Code>`` with a Java-SDK style cause. Added here:

- The definition is refused at CreateStateMachine / UpdateStateMachine (``InvalidDefinition``) when a DynamoDB
  Task names an action the integration does not offer, an integration pattern other than request-response
  (``.sync``, ``.waitForTaskToken``), or a Parameters field outside the action's list. moto dropped such a field
  silently: a misspelt ``ConditionExpression`` made a conditional write unconditional.
- The call is logged, authorised as the execution's role and subject to scenario faults like every other Task
  (``emulation.sfn``, ``emulation.iam``).
- A request botocore's ``dynamodb`` model refuses (a missing ``TableName``, an attribute value that is not an
  AttributeValue) fails the task as DynamoDB's ValidationException does (moto's client does not validate).
- Error names (``error_names.dynamodb_optimized_error_name``): ``DynamoDB.<ErrorCode>`` for a code DynamoDB's
  model names (``ConditionalCheckFailedException``), ``DynamoDB.AmazonDynamoDBException`` for any other
  (ValidationException, AccessDeniedException); moto named every code ``DynamoDB.<ErrorCode>``.
- The result is the API response plus ``SdkHttpMetadata`` and ``SdkResponseMetadata``, as Step Functions returns it.

``DynamoDbRules`` (``emu.dynamodb``) switches a rule off, for tests that show what goes wrong without it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
from botocore.exceptions import ClientError, ParamValidationError
from botocore.model import OperationModel
from botocore.validate import validate_parameters

from batch_lustre.emulation import error_names, moto_seam
from batch_lustre.emulation.moto_seam import (
    CustomErrorName,
    EventDetails,
    FailureEvent,
    HistoryEventType,
    StateTaskServiceDynamoDB,
    StepFunctionsParserBackend,
    TaskFailedEventDetails,
    mock_random,
)

RESOURCE_PREFIX = "arn:aws:states:::dynamodb:"
# Step Functions developer guide, "Call DynamoDB APIs with Step Functions", "Supported DynamoDB APIs": the actions
# and, for each, the Parameters fields the integration accepts.
SUPPORTED_PARAMETERS: dict[str, frozenset[str]] = {
    "getItem": frozenset(
        {
            "Key",
            "TableName",
            "AttributesToGet",
            "ConsistentRead",
            "ExpressionAttributeNames",
            "ProjectionExpression",
            "ReturnConsumedCapacity",
        }
    ),
    "putItem": frozenset(
        {
            "Item",
            "TableName",
            "ConditionalOperator",
            "ConditionExpression",
            "Expected",
            "ExpressionAttributeNames",
            "ExpressionAttributeValues",
            "ReturnConsumedCapacity",
            "ReturnItemCollectionMetrics",
            "ReturnValues",
        }
    ),
    "deleteItem": frozenset(
        {
            "Key",
            "TableName",
            "ConditionalOperator",
            "ConditionExpression",
            "Expected",
            "ExpressionAttributeNames",
            "ExpressionAttributeValues",
            "ReturnConsumedCapacity",
            "ReturnItemCollectionMetrics",
            "ReturnValues",
        }
    ),
    "updateItem": frozenset(
        {
            "Key",
            "TableName",
            "AttributeUpdates",
            "ConditionalOperator",
            "ConditionExpression",
            "Expected",
            "ExpressionAttributeNames",
            "ExpressionAttributeValues",
            "ReturnConsumedCapacity",
            "ReturnItemCollectionMetrics",
            "ReturnValues",
            "UpdateExpression",
        }
    ),
}
_CONDITION_MEMBERS = ("ConditionExpression", "Expected", "ConditionalOperator")
_PLACEHOLDER = re.compile(r"[:#][A-Za-z0-9_]+")


@dataclass
class DynamoDbRules:
    """Rules of the DynamoDB integration the emulation enforces; each can be switched off for a test."""

    conditions: bool = True  # a condition that does not hold fails the write (off: every write is unconditional)
    known_parameters: bool = True  # a Parameters field outside the action's list refuses the definition


def _task_states(states: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        if state.get("Type") == "Task":
            yield f"{path}/{name}", state
        for i, branch in enumerate(state.get("Branches") or []):
            yield from _task_states(branch.get("States", {}), f"{path}/{name}/Branches[{i}]/States")
        for key in ("Iterator", "ItemProcessor"):
            if isinstance(state.get(key), dict):
                yield from _task_states(state[key].get("States", {}), f"{path}/{name}/{key}/States")


def definition_errors(definition: dict[str, Any], *, known_parameters: bool = True) -> list[str]:
    """What Step Functions refuses in the DynamoDB Tasks of ``definition``, one line each (empty: nothing)."""
    errors = []
    for where, state in _task_states(definition.get("States", {}), "/States"):
        resource = state.get("Resource")
        if not isinstance(resource, str) or not resource.startswith(RESOURCE_PREFIX):
            continue
        action, _, pattern = resource[len(RESOURCE_PREFIX) :].partition(".")
        if action not in SUPPORTED_PARAMETERS:
            errors.append(
                f"The resource provided {resource} is not recognized: the DynamoDB integration offers "
                f"{', '.join(sorted(SUPPORTED_PARAMETERS))} (at {where}/Resource)"
            )
            continue
        if pattern:
            errors.append(f"The DynamoDB integration supports request-response only, not .{pattern} (at {where})")
        if known_parameters:
            for field in sorted(state.get("Parameters") or {}):
                if field.removesuffix(".$") not in SUPPORTED_PARAMETERS[action]:
                    errors.append(
                        f"SCHEMA_VALIDATION_FAILED: The field {field!r} is not supported by Step Functions "
                        f"at {where}/Parameters"
                    )
    return errors


def without_condition(parameters: dict[str, Any]) -> None:
    """Drop the condition of a write, and the placeholders only it used (``DynamoDbRules.conditions`` off)."""
    for member in _CONDITION_MEMBERS:
        parameters.pop(member, None)
    used = set()
    for member in ("UpdateExpression", "ProjectionExpression"):
        used |= set(_PLACEHOLDER.findall(str(parameters.get(member, ""))))
    for member in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
        kept = {key: value for key, value in (parameters.get(member) or {}).items() if key in used}
        if kept:
            parameters[member] = kept
        else:
            parameters.pop(member, None)


def response_metadata(response: dict[str, Any]) -> dict[str, Any]:
    """``SdkHttpMetadata`` and ``SdkResponseMetadata`` as Step Functions adds them to the API response. Assumed: the
    headers' values (AWS's carry Server, Date, x-amz-crc32 too); the design reads none of them."""
    request_id = "".join(mock_random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(52))
    headers = {
        "Content-Length": str(len(json.dumps(response, separators=(",", ":")))),
        "Content-Type": "application/x-amz-json-1.0",
        "x-amzn-RequestId": request_id,
    }
    return {
        "SdkHttpMetadata": {
            "AllHttpHeaders": {key: [value] for key, value in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
    }


@cache
def operation(action: str) -> OperationModel:
    """botocore's ``dynamodb`` operation of an integration action (``putItem`` -> PutItem)."""
    model = botocore.session.get_session().get_service_model("dynamodb")
    return model.operation_model(action[:1].upper() + action[1:])


def install(stack: ExitStack, rules_for: Callable[[], DynamoDbRules]) -> None:
    """The definition check, the condition switch, validation errors and the response metadata, for ``stack``'s
    duration (logging, IAM and faults: ``emulation.sfn``)."""
    original_validate = StepFunctionsParserBackend._validate_definition
    original_from_error = StateTaskServiceDynamoDB._from_error

    def validate_definition(definition: str) -> None:
        original_validate(definition=definition)
        errors = definition_errors(json.loads(definition), known_parameters=rules_for().known_parameters)
        if errors:
            message = f"Invalid State Machine Definition: '{'; '.join(errors)}'"
            # moto's InvalidDefinition has no error code of its own: AWS's is InvalidDefinition.
            raise moto_seam.InvalidDefinition(message=message, exception_type="InvalidDefinition")

    def normalise_parameters(self: StateTaskServiceDynamoDB, parameters: dict, *args: Any, **kwargs: Any) -> None:
        if not rules_for().conditions:
            without_condition(parameters)
        # moto's client does not validate (parameter_validation=False); botocore's model does, as a real client.
        validate_parameters(parameters, operation(self.resource.api_action).input_shape)

    def normalise_response(self: StateTaskServiceDynamoDB, response: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(response, dict):
            response.update(response_metadata(response))

    def from_error(self: StateTaskServiceDynamoDB, env: Any, ex: Exception) -> FailureEvent:
        if isinstance(ex, ParamValidationError):
            cause = f"{ex} (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ValidationException; Proxy: null)"
            return FailureEvent(
                env=env,
                error_name=CustomErrorName(error_names.DYNAMODB_UNMODELLED),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(  # type: ignore[typeddict-item]  # moto declares every member required; AWS's are optional
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error=error_names.DYNAMODB_UNMODELLED,
                        cause=cause,
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                    )
                ),
            )
        failure = original_from_error(self, env, ex)
        if isinstance(ex, ClientError):
            return moto_seam.renamed_failure(
                failure, error_names.dynamodb_optimized_error_name(ex.response["Error"]["Code"])
            )
        return failure

    moto_seam.patch(stack, StepFunctionsParserBackend, "_validate_definition", staticmethod(validate_definition))
    moto_seam.patch(stack, StateTaskServiceDynamoDB, "_normalise_parameters", normalise_parameters)
    moto_seam.patch(stack, StateTaskServiceDynamoDB, "_normalise_response", normalise_response)
    moto_seam.patch(stack, StateTaskServiceDynamoDB, "_from_error", from_error)
