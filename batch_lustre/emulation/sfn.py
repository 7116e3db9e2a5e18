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
- Speed, same behaviour: each definition is parsed once per process (``_install_parse_cache``), each JSONPath
  once (moto's ResultPath parsed it on every state), state data is copied with ``json_copy`` instead of
  ``copy.deepcopy``, and moto's ERROR log of every error a state meets is silenced (it rendered the whole state
  as text first).
- ListExecutions: an execution is RUNNING as soon as it is listed (moto listed it without a status for a moment).
- Call log: every aws-sdk, lambda:invoke, batch and dynamodb call the state machine makes is recorded
  (botocore event hooks on the caller's session never see the interpreter's own clients).
- Faults: a scenario can make a given call fail with a given AWS error code.
- Error names come from ``emulation.error_names`` (one table, each with its source); the aws-sdk
  prefix spelling can be switched for a test (``error_names.spelling("Fsx")``).
- History quota: a STANDARD execution whose history reaches ``MAX_HISTORY_EVENTS`` (25,000) events
  fails at once with ``error_names.HISTORY_LIMIT_ERROR``; event number 25,000 is its ExecutionFailed,
  no Catch runs, no further state is entered (Step Functions, "Avoid reaching the history quota").
- Payload quota: a task result, a state output or a Task's input after Parameters over 256 KiB fails
  with ``States.DataLimitExceeded`` (exactly 256 KiB passes; moto refused it).
- Ends without cleanup: ``StopExecution`` keeps its error and cause and ends the execution ABORTED
  even while it waits (also a held Wait); the state machine's ``TimeoutSeconds`` runs on the emulated
  clock: the execution ends TIMED_OUT at that emulated second (a Wait in progress is cut short).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import decimal
import enum
import logging
import marshal
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cache
from types import SimpleNamespace
from typing import Any

import botocore.session
from botocore.errorfactory import ClientExceptionsFactory
from botocore.exceptions import ClientError
from botocore.model import ListShape, ServiceModel, StructureShape
from jsonpath_ng.ext.parser import ExtendedJsonPathParser
from jsonpath_ng.parser import JsonPathParser

from batch_lustre.emulation import branches, clients, error_names, moto_seam
from batch_lustre.emulation.clock import EmulatedClock, clock_datetime_module
from batch_lustre.emulation.error_names import SERVICE_ERROR_PREFIXES, UNCATCHABLE_BY_ALL
from batch_lustre.emulation.iam import authorize_state_task
from batch_lustre.emulation.moto_seam import (
    ActionResult,
    AmazonStateLanguageParser,
    Environment,
    ErrorEqualsDecl,
    EvalComponent,
    EventDetails,
    EventManager,
    ExecutionFailedEventDetails,
    ExecutionStatus,
    ExecutionWorker,
    FailureEvent,
    FailureEventException,
    HistoryEventType,
    Program,
    ProgramStopped,
    ProgramTimedOut,
    StatesErrorName,
    StatesErrorNameType,
    StateTaskService,
    StateTaskServiceAwsSdk,
    StateTaskServiceBatch,
    StateTaskServiceDynamoDB,
    StateTaskServiceLambda,
    StepFunctionResponse,
    TaskFailedEventDetails,
    WaitFunction,
    aws_sdk_module,
    boto_client_module,
    eval_component_module,
    event_manager_module,
    execute_state_module,
    execution_module,
    json_path_module,
    parser_models,
    quotas,
    result_path_module,
    retrier_decl,
    state_module,
    state_parallel_module,
    state_task_lambda,
    state_task_service_module,
    states_module,
    string_expression_module,
    timestamp_module,
    to_json_str,
)
from batch_lustre.emulation.scenario import Fault

# Step Functions service quotas: events in one STANDARD execution's history (tests may lower it).
MAX_HISTORY_EVENTS = 25_000
# Step Functions service quotas: input or output of a task, state or execution (UTF-8 JSON).
MAX_PAYLOAD_BYTES = 256 * 1024
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
    _install_error_names(stack)
    _install_history_limit(stack)
    _install_payload_limit(stack)
    _install_execution_timeout(stack, clock_for)
    _install_stop_execution(stack, clock_for)
    _install_running_when_listed(stack)
    _install_parse_cache(stack)
    _install_quiet_failures(stack)
    _install_fast_copies(stack)

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

    moto_seam.patch(stack, StateTaskServiceAwsSdk, "_normalise_parameters", normalise_parameters)
    moto_seam.patch(stack, StateTaskServiceAwsSdk, "_normalise_response", normalise_response)

    for cls in (StateTaskServiceAwsSdk, StateTaskServiceLambda, StateTaskServiceBatch, StateTaskServiceDynamoDB):
        moto_seam.patch(
            stack, cls, "_eval_service_task", _logged(cls._eval_service_task, clock_for, calls_for, faults_for)
        )


def _logged(
    original: Callable[..., Any],
    clock_for: Callable[[], EmulatedClock],
    calls_for: Callable[[], CallLog],
    faults_for: Callable[[], list[Fault]],
) -> Callable[..., Any]:
    def eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
        service, action = self.resource.api_name, self.resource.api_action
        try:
            execution_arn = env.states.context_object.context_object_data["Execution"]["Id"]
        except (AttributeError, KeyError, TypeError):
            execution_arn = ""
        call = Call(f"{service}:{action}", clock_for().seconds(), execution_arn)
        calls_for().calls.append(call)
        try:  # IAM first, as the execution's role (emulation.iam)
            authorize_state_task(self, env, kwargs.get("normalised_parameters", args[1] if len(args) > 1 else None))
        except ClientError as err:
            call.error = err.response.get("Error", {}).get("Code", "ClientError")
            raise
        faults = faults_for()
        for i, fault in enumerate(faults):
            if fault.operation == call.operation and fault.times > 0:
                faults[i] = dataclasses.replace(fault, times=fault.times - 1)
                call.error = fault.code
                if fault.took_effect:  # the service acts; its answer never reaches the state machine
                    depth = len(env.stack)
                    original(self, env, *args, **kwargs)
                    del env.stack[depth:]
                raise fault_exception(service, action, fault)
        previous = getattr(_task_env, "env", None)
        _task_env.env = env  # a Lambda the task invokes waits on this execution's clock (emulated_wait)
        try:
            return original(self, env, *args, **kwargs)
        except ClientError as err:
            call.error = err.response.get("Error", {}).get("Code", "ClientError")
            raise
        finally:
            _task_env.env = previous

    return eval_service_task


_task_env = threading.local()


def current_task_env() -> Any:
    """The evaluation environment of the Task this thread is running (None outside a Task)."""
    return getattr(_task_env, "env", None)


# Values copied as they are: immutable, so a copy may share them (copy.deepcopy returns them unchanged too).
_IMMUTABLE = frozenset({str, int, float, bool, type(None), bytes, datetime.datetime, datetime.date, decimal.Decimal})


def json_copy(value: Any, memo: Any = None) -> Any:
    """``copy.deepcopy`` for state data, several times faster. ``marshal`` copies a value made only of exact dicts,
    lists, strings, numbers, booleans and None (JSON) in C; anything else (an SDK result holds datetimes) is
    walked here: dicts and lists copied, immutable leaves shared, any other object given to ``copy.deepcopy``.
    (State data has no shared or cyclic parts whose identity a copy would have to keep.)"""
    try:
        return marshal.loads(marshal.dumps(value))
    except ValueError:
        return _walk_copy(value, memo)


def _walk_copy(value: Any, memo: Any) -> Any:
    cls = type(value)
    if cls is dict:
        return {key: _walk_copy(item, memo) for key, item in value.items()}
    if cls is list:
        return [_walk_copy(item, memo) for item in value]
    if cls in _IMMUTABLE or isinstance(value, enum.Enum):
        return value
    return copy.deepcopy(value, memo)


# moto's modules that deep-copy state data (inputs, outputs, results, Parameters, history events) on every step.
_COPYING_MODULES = (
    string_expression_module,
    result_path_module,
    state_task_service_module,
    state_parallel_module,
    execute_state_module,
    states_module,
    event_manager_module,
)


def _install_fast_copies(stack: ExitStack) -> None:
    """moto deep-copies the state data several times per state (``copy.deepcopy``, a third of a run's time):
    ``json_copy`` makes the same copies."""
    fast = SimpleNamespace(deepcopy=json_copy, copy=copy.copy)
    for module in _COPYING_MODULES:
        moto_seam.patch(stack, module, "copy", fast)


_INDEFINITE = re.compile(r"\[\*\]|\.\*|\.\.|\[\?|\[[^\]]*[:,][^\]]*\]")


_JSON_PATH_LOCK = threading.Lock()  # a PLY parser keeps its state while it parses: one path at a time


@cache
def _json_path_parser(extended: bool) -> JsonPathParser:
    return ExtendedJsonPathParser() if extended else JsonPathParser()


@cache
def _parsed_path(path: str, extended: bool = True) -> Any:
    """``path`` parsed once per process (jsonpath_ng's ``parse`` builds a whole parser for every path it parses)."""
    with _JSON_PATH_LOCK:
        return _json_path_parser(extended).parse(path)


def _parsed_result_path(path: str) -> Any:
    return _parsed_path(path, extended=False)  # ResultPath: jsonpath_ng.parse, as moto calls it


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
    moto_seam.patch(stack, result_path_module, "parse", _parsed_result_path)
    for module in moto_seam.modules(moto_seam.JSON_PATH_MODULES):
        moto_seam.patch(stack, module, "extract_json", extract_json)


def _install_client_cache(stack: ExitStack) -> None:
    """One boto3 client per (service, region) and process instead of one per task call (creation costs ~15 ms).

    moto's clients ignore ``state_credentials`` (fixed keys, same account), so one client serves every execution.
    """
    original = boto_client_module.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        return clients.cached(
            ("interpreter", service, region),
            lambda: original(region=region, service=service, state_credentials=state_credentials),
        )

    for module in moto_seam.modules(moto_seam.BOTO_CLIENT_MODULES):
        moto_seam.patch(stack, module, "boto_client_for", boto_client_for)


def _install_quiet_failures(stack: ExitStack) -> None:
    """moto logs every error a state meets (``Exception=NoSuchJsonPathError at '<the whole state>'``) at ERROR,
    rendering the state as text before it asks the logger: silenced below CRITICAL for the emulation's duration,
    and not rendered at all while silenced."""
    log = logging.getLogger(eval_component_module.__name__)
    interpreter_log = logging.getLogger("moto.stepfunctions.parser")
    stack.callback(interpreter_log.setLevel, interpreter_log.level)
    interpreter_log.setLevel(logging.CRITICAL)
    for name in ("_log_failure_event_exception", "_log_exception"):
        original = getattr(EvalComponent, name)

        def logged(self: EvalComponent, *args: Any, _original: Callable[..., None] = original, **kwargs: Any) -> None:
            if log.isEnabledFor(logging.ERROR):
                _original(self, *args, **kwargs)

        moto_seam.patch(stack, EvalComponent, name, logged)


def _install_catch_all(stack: ExitStack) -> None:
    original = ErrorEqualsDecl._eval_body

    def eval_body(self: ErrorEqualsDecl, env: Any) -> None:
        error_name = env.stack[-1]
        names = [e.error_name for e in self.error_names]
        if (
            getattr(error_name, "error_name", None) in UNCATCHABLE_BY_ALL
            and error_names.STATES_ALL in names
            and error_name.error_name not in names
        ):
            env.stack.pop()
            env.stack.append(False)
            return
        original(self, env)

    moto_seam.patch(stack, ErrorEqualsDecl, "_eval_body", eval_body)


def _install_time(stack: ExitStack, clock_for: Callable[[], EmulatedClock]) -> None:
    clock = clock_for()
    clock_module = clock_datetime_module(clock)

    def wait_interval(self: WaitFunction, env: Any, wait_seconds: int) -> None:
        emulated_wait(clock_for(), float(wait_seconds), env)

    moto_seam.patch(stack, WaitFunction, "_wait_interval", wait_interval)
    moto_seam.patch(stack, retrier_decl, "time", SimpleNamespace(sleep=lambda s: clock_for().skip_wait(float(s))))
    moto_seam.patch(stack, EventManager, "_get_current_timestamp", staticmethod(clock.now))
    for module in (state_module, timestamp_module, parser_models, execution_module):
        moto_seam.patch(stack, module, "datetime", clock_module)


def emulated_wait(clock: EmulatedClock, seconds: float, env: Any) -> None:
    """A Wait state of ``seconds`` in execution ``env`` (also a Lambda's sleep within a Task: emulation.lambdas)."""
    _hold(clock, env)  # Emulation.hold_waits(): keep this execution RUNNING
    if seconds > 0 and env.is_running():
        branches.wait_until(clock, env, seconds)


HOLD_LIMIT_SECONDS = 120.0  # real seconds a held Wait stays held at most


def _hold(clock: EmulatedClock, env: Any) -> None:
    """Block (real time) while waits are held, until released or the execution stops (StopExecution)."""
    deadline = time.monotonic() + HOLD_LIMIT_SECONDS
    execution = branches.execution_arn(env)
    counted = False
    # A held wait waits (for its release): the clock may move for the other executions meanwhile.
    waiter = branches.Waiter(execution)
    try:
        while not clock.waits_released.wait(timeout=0.01):
            if not counted:
                with _HELD_LOCK:
                    _HELD[execution] += 1
                branches.ACTIVITY.add(waiter)
                counted = True
            if not env.is_running() or time.monotonic() > deadline:
                return
    finally:
        if counted:
            branches.ACTIVITY.remove(waiter)
            with _HELD_LOCK:
                _HELD[execution] -= 1


_HELD: Counter[str] = Counter()  # execution ARN -> its waits (Wait states, sleeping Lambdas) held now
_HELD_LOCK = threading.Lock()


def held(execution_arn: str) -> int:
    """How many waits of the execution are held now (``Emulation.hold_waits``): its parked branches."""
    with _HELD_LOCK:
        return _HELD[execution_arn]


# --- error names ---------------------------------------------------------------------------------


def _install_error_names(stack: ExitStack) -> None:
    """aws-sdk and optimized Batch error names from ``error_names`` (spelling switchable while running)."""

    def service_error_name(service_name: str) -> str:
        # A service not in the table keeps moto's own binding (e.g. DynamoDb), else its Resource spelling.
        return error_names.service_prefix(
            service_name, default=aws_sdk_module._SERVICE_ERROR_NAMES.get(service_name.lower(), service_name)
        )

    def exception_name(norm_service_name: str, ex: Exception) -> str:
        class_name = type(ex).__name__
        return error_names.sdk_error_name(
            _service_of(norm_service_name), None if class_name == "ClientError" else class_name
        )

    moto_seam.patch_dict(stack, aws_sdk_module, "_SERVICE_ERROR_NAMES", SERVICE_ERROR_PREFIXES)
    moto_seam.patch(stack, StateTaskServiceAwsSdk, "_normalise_service_error_name", staticmethod(service_error_name))
    moto_seam.patch(stack, StateTaskServiceAwsSdk, "_normalise_exception_name", staticmethod(exception_name))

    original_batch = StateTaskServiceBatch._from_error

    def batch_from_error(self: StateTaskServiceBatch, env: Any, ex: Exception) -> FailureEvent:
        failure = original_batch(self, env, ex)
        if isinstance(ex, ClientError):
            return moto_seam.renamed_failure(
                failure, error_names.batch_optimized_error_name(ex.response["Error"]["Code"])
            )
        return failure

    moto_seam.patch(stack, StateTaskServiceBatch, "_from_error", batch_from_error)


def _service_of(prefix: str) -> str:
    """The service whose error prefix (as currently spelt) is ``prefix``."""
    for service in SERVICE_ERROR_PREFIXES:
        if error_names.service_prefix(service) == prefix:
            return service
    return prefix


# --- history quota -------------------------------------------------------------------------------

_ROOT_ENV = "_emulation_root_env"
_LIMIT_LOCK = "_emulation_history_lock"
_LIMIT_FAILURE = "_emulation_history_limit_failure"


def _install_history_limit(stack: ExitStack) -> None:
    """A STANDARD execution whose history reaches MAX_HISTORY_EVENTS fails (Step Functions service quotas).

    Per "Avoid reaching the history quota": when event number MAX_HISTORY_EVENTS would be anything but
    ExecutionSucceeded, ExecutionFailed is logged as that event and the execution fails. Nothing is logged
    after it; the state in progress is not continued into another state, and no Catch runs.
    """
    original_environment = ExecutionWorker._get_evaluation_environment
    original_add = EventManager.add_event
    original_set_error = Environment.set_error

    def get_evaluation_environment(self: ExecutionWorker) -> Environment:
        env = original_environment(self)
        setattr(env.event_manager, _ROOT_ENV, env)  # frames share the execution's event manager
        setattr(env.event_manager, _LIMIT_LOCK, threading.RLock())
        return env

    def add_event(
        self: EventManager,
        context: Any,
        event_type: Any,
        event_details: Any = None,
        timestamp: Any = None,
        update_source_event_id: bool = True,
    ) -> int:
        env = getattr(self, _ROOT_ENV, None)
        if env is None or not env.is_standard_workflow():
            return original_add(self, context, event_type, event_details, timestamp, update_source_event_id)
        with getattr(self, _LIMIT_LOCK):
            if getattr(self, _LIMIT_FAILURE, None) is not None:
                return len(self._history_event_list)  # the history is closed
            limit = MAX_HISTORY_EVENTS
            if len(self._history_event_list) < limit - 1 or event_type == HistoryEventType.ExecutionSucceeded:
                return original_add(self, context, event_type, event_details, timestamp, update_source_event_id)
            failure = ExecutionFailedEventDetails(
                error=error_names.HISTORY_LIMIT_ERROR, cause=error_names.history_limit_cause(limit)
            )
            setattr(self, _LIMIT_FAILURE, failure)
            event_id = original_add(
                self,
                context,
                HistoryEventType.ExecutionFailed,
                EventDetails(executionFailedEventDetails=failure),  # type: ignore[typeddict-item]  # moto declares every member required; AWS's are optional
            )
        env.set_error(failure)
        return event_id

    def set_error(self: Environment, error: Any) -> None:
        failure = getattr(self.event_manager, _LIMIT_FAILURE, None)
        original_set_error(self, failure if failure is not None else error)  # the quota's failure stays

    moto_seam.patch(stack, ExecutionWorker, "_get_evaluation_environment", get_evaluation_environment)
    moto_seam.patch(stack, EventManager, "add_event", add_event)
    moto_seam.patch(stack, Environment, "set_error", set_error)


def history_events(env: Environment) -> int:
    """Events in the history of the execution that ``env`` belongs to."""
    return len(env.event_manager.get_event_history())


# --- payload quota -------------------------------------------------------------------------------


def within_payload_quota(value: Any) -> bool:
    """At most MAX_PAYLOAD_BYTES as UTF-8 JSON (a string counts as itself)."""
    text = value if isinstance(value, str) else to_json_str(value)
    return len(text.encode("utf-8")) <= MAX_PAYLOAD_BYTES


def _install_payload_limit(stack: ExitStack) -> None:
    """256 KiB for task results and state outputs (moto's checks, at <= instead of <) and Task inputs.

    "States.DataLimitExceeded: ... the output of a connector, the output of a state, or the input of a
    state after Parameters processing is larger than the payload size quota" (Step Functions, error names).
    """
    for module in (state_module, state_task_service_module, state_task_lambda, quotas):
        moto_seam.patch(stack, module, "is_within_size_quota", within_payload_quota)

    original_before = StateTaskService._before_eval_execution

    def before_eval_execution(
        self: StateTaskService, env: Any, resource_runtime_part: Any, raw_parameters: Any, state_credentials: Any
    ) -> None:
        if not within_payload_quota(raw_parameters):
            name = error_names.STATES_DATA_LIMIT_EXCEEDED
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesStatesDataLimitExceeded),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(  # type: ignore[typeddict-item]  # moto declares every member required; AWS's are optional
                        taskFailedEventDetails=TaskFailedEventDetails(
                            error=name,
                            cause=f"The state/task '{self._get_sfn_resource()}' has an input (after Parameters) with a "
                            f"size exceeding the maximum number of bytes service limit ({MAX_PAYLOAD_BYTES}).",
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                        )
                    ),
                )
            )
        original_before(self, env, resource_runtime_part, raw_parameters, state_credentials)

    moto_seam.patch(stack, StateTaskService, "_before_eval_execution", before_eval_execution)


# --- ends without cleanup: TimeoutSeconds, StopExecution -----------------------------------------


def _install_execution_timeout(stack: ExitStack, clock_for: Callable[[], EmulatedClock]) -> None:
    """The state machine's TimeoutSeconds on the emulated clock (moto measures it in real seconds)."""
    original = Program.eval

    def program_eval(self: Program, env: Environment) -> None:
        if env.is_frame():
            original(self, env)
            return
        # A running execution: the clock waits for its steps as for a Parallel branch's (emulation.branches).
        execution = branches.execution_arn(env)
        with branches.ACTIVITY.lock:
            branches.ACTIVITY.executions[execution] += 1
        try:
            timed_eval(self, env)
        finally:
            with branches.ACTIVITY.lock:
                branches.ACTIVITY.executions[execution] -= 1

    def timed_eval(self: Program, env: Environment) -> None:
        timeout = self.timeout_seconds.timeout_seconds if self.timeout_seconds else None
        if timeout is None:
            original(self, env)
            return
        clock = clock_for()

        def time_out(at: float) -> None:
            if env.is_running():
                env.set_timed_out()

        clock.schedule(clock.seconds() + float(timeout), time_out, f"execution TimeoutSeconds {timeout}")
        env.next_state_name = self.start_at.start_at_name
        EvalComponent.eval(self, env)

    moto_seam.patch(stack, Program, "eval", program_eval)


STOP_WAIT_SECONDS = 5.0  # real seconds StopExecution waits for the execution to leave its state


def _install_running_when_listed(stack: ExitStack) -> None:
    """An execution is RUNNING from the moment ListExecutions can see it. moto adds it to the state machine's
    executions before it sets its status, so a ListExecutions at that moment (another run's lane check, two
    runs started at once) failed with ``'NoneType' object has no attribute 'value'``."""
    original = execution_module.Execution.__init__

    def init(self: execution_module.Execution, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.exec_status = ExecutionStatus.RUNNING

    moto_seam.patch(stack, execution_module.Execution, "__init__", init)


def _install_stop_execution(stack: ExitStack, clock_for: Callable[[], EmulatedClock]) -> None:
    """StopExecution with its error and cause (moto drops both), at the emulated time; returns once ABORTED."""

    def stop_execution(self: StepFunctionResponse) -> ActionResult:
        arn = self._get_param("executionArn")
        error, cause = self._get_param("error"), self._get_param("cause")
        execution = self.stepfunction_backend.describe_execution(arn)
        if _status(execution) == "RUNNING":
            execution.stop(stop_date=clock_for().now(), error=error, cause=cause)
            deadline = time.monotonic() + STOP_WAIT_SECONDS
            while _status(execution) == "RUNNING" and time.monotonic() < deadline:
                time.sleep(0.002)
        return ActionResult({"stopDate": execution.stop_date or clock_for().now()})

    moto_seam.patch(stack, StepFunctionResponse, "stop_execution", stop_execution)

    # An execution that was stopped (or timed out) has ended so: a Task of it still finishing afterwards (a Lambda
    # that was sleeping, then ended) does not turn it FAILED, as moto's Environment.set_error would.
    original_set_error = Environment.set_error

    def set_error(self: Environment, error: Any) -> None:
        if isinstance(self.program_state(), (ProgramStopped, ProgramTimedOut)):
            return
        original_set_error(self, error)

    moto_seam.patch(stack, Environment, "set_error", set_error)


def _status(execution: Any) -> str:
    status = execution.exec_status
    return str(getattr(status, "value", status))


_PARSED: dict[str, Any] = {}


def _install_parse_cache(stack: ExitStack) -> None:
    """Parse each definition once per process: moto parses it (ANTLR, about 2 s for this project's definitions) on
    create, on update, for static analysis and for every execution. The parsed program holds no execution's
    state (that lives in the execution's Environment), so executions share it."""
    original = AmazonStateLanguageParser.parse

    def parse(definition: str) -> Any:
        if definition not in _PARSED:
            if len(_PARSED) > 32:
                _PARSED.clear()
            _PARSED[definition] = original(definition)
        return _PARSED[definition]

    moto_seam.patch(stack, AmazonStateLanguageParser, "parse", staticmethod(parse))
