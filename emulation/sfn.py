"""Patches to moto's Step Functions interpreter: emulated time, SDK casing and error names, call log.

- Time: a Wait state (Seconds/SecondsPath/Timestamp) and a Retry interval advance the
  emulated clock instead of sleeping; ``$$.State.EnteredTime``, ``$$.Execution.StartTime``,
  history event timestamps and the execution's stop date read the emulated clock.
- AWS SDK integrations: moto 5.2.5 passes Parameters to boto3 unchanged and returns
  botocore's keys unchanged, so a Batch ``JobName`` never reaches the request (a missing
  required member fails the task with ``States.Runtime``) and results come back camelCase. Step Functions itself accepts PascalCase members for every service and
  returns PascalCase keys (AWS_FACTS.md). The request/response normalisation of LocalStack
  (the code moto's interpreter is taken from) is restored here, with response keys spelt
  as the Java SDK v2 names them (``DNSName`` -> ``DnsName``, ``jobId`` -> ``JobId``,
  ``ResourceARN`` stays).
- Error names: moto names an aws-sdk error ``<service>.<Code>Exception`` with the service
  spelt as in the Resource (``fsx.BadRequestException``; an error code botocore does not
  model: ``fsx.fsxException``); Step Functions spells the prefix ``FSx``, ``Batch``, ``Ec2``...
  (AWS_FACTS.md). Bindings for those are added: ``FSx.BadRequestException``,
  ``Batch.ClientException``, and for unmodeled codes such as throttling ``FSx.FSxException``,
  ``Batch.BatchException``, ``Ec2.Ec2Exception``.
- JSONPath: a definite path below an array index (``$.FileSystems[0].Lifecycle``) gives the
  value, not moto's ``[value]``.
- ``States.ALL`` does not catch ``States.Runtime`` nor ``States.DataLimitExceeded`` (Step
  Functions developer guide, "Error names"); moto catches them, which hides e.g. a JSONPath
  that does not resolve in a Task's Parameters (in AWS that fails the execution, skipping
  every cleanup state).
- ``Emulation.hold_waits()`` makes Wait states block until released, so an execution can be
  kept RUNNING while another one starts (concurrent-run tests).
- Clients: one boto3 client per service and region instead of one per task call.
- Call log: every aws-sdk and lambda:invoke call the state machine makes is recorded
  (botocore event hooks on the caller's session never see the interpreter's own clients).
- Faults: a scenario can make a given call fail with a given AWS error code.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cache
from types import SimpleNamespace
from typing import Any
from unittest import mock

import botocore.session
from botocore.errorfactory import ClientExceptionsFactory
from botocore.model import ListShape, ServiceModel, StructureShape
from jsonpath_ng.ext import parse as parse_json_path
from moto.stepfunctions.parser import models as parser_models
from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state import state as state_module
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk as aws_sdk_module,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
    StateTaskServiceLambda,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp as timestamp_module
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.parse import preprocessor  # noqa: F401  (imports every ASL component)
from moto.stepfunctions.parser.asl.utils import boto_client as boto_client_module
from moto.stepfunctions.parser.asl.utils import json_path as json_path_module
from moto.stepfunctions.parser.backend import execution as execution_module

from emulation.clock import EmulatedClock, clock_datetime_module
from emulation.scenario import Fault

# Step Functions' spelling of each service in error names (AWS_FACTS.md, "Step Functions").
SERVICE_ERROR_PREFIXES = {
    "fsx": "FSx",
    "batch": "Batch",
    "ec2": "Ec2",
    "cloudwatch": "CloudWatch",
    "secretsmanager": "SecretsManager",
    "lambda": "Lambda",
    "s3": "S3",
    "iam": "Iam",
    "sts": "Sts",
    "sfn": "Sfn",
}
_BOTO_NAMES = {"sfn": "stepfunctions", "states": "stepfunctions"}


@dataclass
class Call:
    operation: str  # as in the Resource: "fsx:describeFileSystems", "lambda:invoke"
    at: float  # emulated second
    execution_arn: str = ""
    error: str | None = None  # AWS error code when the call failed


@dataclass
class CallLog:
    calls: list[Call] = field(default_factory=list)

    def of(self, execution_arn: str) -> list[Call]:
        return [c for c in self.calls if c.execution_arn == execution_arn]

    def counts(self, execution_arn: str | None = None) -> dict[str, int]:
        """Calls by operation (of one execution, or of all)."""
        out: dict[str, int] = {}
        for call in self.calls if execution_arn is None else self.of(execution_arn):
            out[call.operation] = out.get(call.operation, 0) + 1
        return dict(sorted(out.items()))


@cache
def _service_model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(_BOTO_NAMES.get(service, service))


def operation_name(service: str, action: str) -> str:
    """The botocore operation of an ASL action name (``describeFileSystems`` -> ``DescribeFileSystems``)."""
    for name in _service_model(service).operation_names:
        if name.lower() == action.lower():
            return name
    raise ValueError(f"{service} has no API action {action!r}")


def sfn_key(member: str) -> str:
    """A response member as Step Functions spells it: the Java SDK v2 property name, capitalised.

    The Java SDK lower-cases a leading run of capitals except the last one before a lower-case
    letter (``DNSName`` -> ``dnsName``, ``ResourceARN`` -> ``resourceARN``); Step Functions
    upper-cases the first letter.
    """
    i = 1
    while i < len(member) and member[i].isupper() and not (i < len(member) - 1 and member[i + 1].islower()):
        i += 1
    java = member[:i].lower() + member[i:]
    return java[:1].upper() + java[1:]


def to_boto_request(parameters: dict[str, Any], shape: StructureShape) -> None:
    """Rename members spelt in any case (PascalCase in ASL) to the model's names, in place, recursively."""
    members = {name.lower(): (name, member) for name, member in shape.members.items()}
    for key in list(parameters):
        bound = members.get(key.lower())
        if bound is None:
            continue
        name, member = bound
        value = parameters.pop(key)
        _to_boto_value(value, member)
        parameters[name] = value


def _to_boto_value(value: Any, shape: Any) -> None:
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        to_boto_request(value, shape)
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for item in value:
            _to_boto_value(item, shape.member)


def to_sfn_response(response: Any, shape: Any) -> None:
    """Rename the model's members of a response to Step Functions' spelling, in place, recursively."""
    if isinstance(shape, StructureShape) and isinstance(response, dict):
        for key in list(response):
            if key in shape.members:
                value = response.pop(key)
                to_sfn_response(value, shape.members[key])
                response[sfn_key(key)] = value
    elif isinstance(shape, ListShape) and isinstance(response, list):
        for item in response:
            to_sfn_response(item, shape.member)


def fault_exception(service: str, action: str, fault: Fault) -> Exception:
    """The botocore exception a real client raises for ``fault.code`` (modeled class, or ClientError)."""
    model = _service_model(service)
    exceptions = ClientExceptionsFactory().create_client_exceptions(model)
    cls = exceptions.from_code(fault.code)
    response = {
        "Error": {"Code": fault.code, "Message": fault.message},
        "ResponseMetadata": {"HTTPStatusCode": fault.status_code, "RequestId": "emulated-fault"},
    }
    return cls(response, operation_name(service, action))


def install(
    stack: ExitStack,
    clock_for: Callable[[], EmulatedClock],
    calls_for: Callable[[], CallLog],
    faults_for: Callable[[], list[Fault]],
) -> None:
    _install_time(stack, clock_for)
    _install_json_path(stack)
    _install_catch_all(stack)
    _install_client_cache(stack)
    stack.enter_context(mock.patch.dict(aws_sdk_module._SERVICE_ERROR_NAMES,
                                        {k.lower(): v for k, v in SERVICE_ERROR_PREFIXES.items()}))

    def normalise_parameters(self: StateTaskServiceAwsSdk, parameters: dict, *args: Any, **kwargs: Any) -> None:
        service, action = self.resource.api_name, self.resource.api_action
        shape = _service_model(service).operation_model(operation_name(service, action)).input_shape
        if shape is not None:
            to_boto_request(parameters, shape)

    def normalise_response(self: StateTaskServiceAwsSdk, response: Any, *args: Any, **kwargs: Any) -> None:
        service, action = self.resource.api_name, self.resource.api_action
        shape = _service_model(service).operation_model(operation_name(service, action)).output_shape
        if shape is not None:
            to_sfn_response(response, shape)

    stack.enter_context(mock.patch.object(StateTaskServiceAwsSdk, "_normalise_parameters", normalise_parameters))
    stack.enter_context(mock.patch.object(StateTaskServiceAwsSdk, "_normalise_response", normalise_response))

    for cls in (StateTaskServiceAwsSdk, StateTaskServiceLambda):
        stack.enter_context(mock.patch.object(cls, "_eval_service_task",
                                              _logged(cls._eval_service_task, clock_for, calls_for, faults_for)))


def _logged(original: Callable[..., Any], clock_for: Callable[[], EmulatedClock],
            calls_for: Callable[[], CallLog], faults_for: Callable[[], list[Fault]]) -> Callable[..., Any]:
    from botocore.exceptions import ClientError

    def eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
        service, action = self.resource.api_name, self.resource.api_action
        try:
            execution_arn = env.states.context_object.context_object_data["Execution"]["Id"]
        except (AttributeError, KeyError, TypeError):
            execution_arn = ""
        call = Call(f"{service}:{action}", clock_for().seconds(), execution_arn)
        calls_for().calls.append(call)
        faults = faults_for()
        for i, fault in enumerate(faults):
            if fault.operation == call.operation and fault.times > 0:
                faults[i] = Fault(fault.operation, fault.code, fault.message, fault.times - 1, fault.status_code)
                call.error = fault.code
                raise fault_exception(service, action, fault)
        try:
            return original(self, env, *args, **kwargs)
        except ClientError as err:
            call.error = err.response.get("Error", {}).get("Code", "ClientError")
            raise

    return eval_service_task


_INDEFINITE = re.compile(r"\[\*\]|\.\*|\.\.|\[\?|\[[^\]]*[:,][^\]]*\]")


@cache
def _parsed_path(path: str) -> Any:
    return parse_json_path(path)  # jsonpath_ng builds a parser per call: parse each path once


def extract_json(path: str, data: Any) -> Any:
    """JSONPath as Step Functions evaluates it: a definite path gives one value, an indefinite one a list.

    moto 5.2.5 returns ``[value]`` for ``$.FileSystems[0].Lifecycle`` (a definite path
    below an array index); Step Functions (Jayway JsonPath) returns ``value``.
    """
    matches = _parsed_path(path).find(data)
    indefinite = bool(_INDEFINITE.search(path))
    if not matches:
        if indefinite:
            return []
        raise json_path_module.NoSuchJsonPathError(json_path=path, data=data)
    if indefinite:
        return [m.value for m in matches]
    return matches[0].value


def _install_json_path(stack: ExitStack) -> None:
    original = json_path_module.extract_json
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "extract_json", None) is original:
            stack.enter_context(mock.patch.object(module, "extract_json", extract_json))


def _install_client_cache(stack: ExitStack) -> None:
    """One boto3 client per (service, region) instead of one per task call (client creation costs ~15 ms)."""
    original = boto_client_module.boto_client_for
    clients: dict[tuple[str, str], Any] = {}

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (service, region)
        if key not in clients:
            clients[key] = original(region=region, service=service, state_credentials=state_credentials)
        return clients[key]

    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is original:
            stack.enter_context(mock.patch.object(module, "boto_client_for", boto_client_for))


UNCATCHABLE_BY_ALL = ("States.Runtime", "States.DataLimitExceeded")


def _install_catch_all(stack: ExitStack) -> None:
    original = ErrorEqualsDecl._eval_body

    def eval_body(self: ErrorEqualsDecl, env: Any) -> None:
        error_name = env.stack[-1]
        names = [e.error_name for e in self.error_names]
        if (getattr(error_name, "error_name", None) in UNCATCHABLE_BY_ALL and "States.ALL" in names
                and error_name.error_name not in names):
            env.stack.pop()
            env.stack.append(False)
            return
        original(self, env)

    stack.enter_context(mock.patch.object(ErrorEqualsDecl, "_eval_body", eval_body))


def _install_time(stack: ExitStack, clock_for: Callable[[], EmulatedClock]) -> None:
    clock = clock_for()
    clock_module = clock_datetime_module(clock)

    def wait_interval(self: WaitFunction, env: Any, wait_seconds: int) -> None:
        clock_for().waits_released.wait(timeout=120)  # Emulation.hold_waits(): keep this execution RUNNING
        if wait_seconds > 0 and env.is_running():
            clock_for().skip_wait(float(wait_seconds))

    stack.enter_context(mock.patch.object(WaitFunction, "_wait_interval", wait_interval))
    stack.enter_context(mock.patch.object(
        retrier_decl, "time", SimpleNamespace(sleep=lambda s: clock_for().skip_wait(float(s)))))
    stack.enter_context(mock.patch.object(EventManager, "_get_current_timestamp", staticmethod(clock.now)))
    for module in (state_module, timestamp_module, parser_models, execution_module):
        stack.enter_context(mock.patch.object(module, "datetime", clock_module))
