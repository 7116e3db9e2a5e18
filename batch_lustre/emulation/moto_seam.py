"""The one module that knows moto's internals: every moto name the emulation uses, and every attribute it patches.

- At import it checks the installed moto against ``SUPPORTED_MOTO`` and refuses any other release with one line
  naming both (``UnsupportedMotoError``), before importing anything of moto's.
- Every attribute the emulation patches is listed in ``PATCHED`` with the signature the patch was written against.
  ``patch`` refuses an attribute that is not listed or that moto no longer has (``MotoSeamError``, naming it), and
  tests/test_moto_seam.py compares each listed signature with moto's, so an upgrade prints exactly what moved.
- The modules whose own binding of a function is patched (moto's modules import ``extract_json`` and
  ``boto_client_for`` by name) are listed explicitly (``JSON_PATH_MODULES``, ``BOTO_CLIENT_MODULES``); a missing
  one is an error naming it.

The other emulation modules import moto's names from here, never from moto.
"""

from __future__ import annotations

import importlib
import inspect
from contextlib import ExitStack
from types import ModuleType
from typing import Any
from unittest import mock

from batch_lustre.emulation.moto_version import SUPPORTED_MOTO, UnsupportedMotoError, check_moto_version


class MotoSeamError(RuntimeError):
    """A moto internal the emulation relies on is missing (or was not declared in ``PATCHED``)."""


MOTO_VERSION = check_moto_version()

# --- moto's names the emulation uses (after the version check) -------------------------------------------------
# ruff: noqa: E402
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from moto.batch.exceptions import ClientException
from moto.batch.models import BatchBackend, JobDefinition, batch_backends
from moto.batch.responses import BatchResponse
from moto.cloudwatch.models import cloudwatch_backends
from moto.core import responses as moto_responses_module
from moto.core.botocore_stubber import BotocoreStubber
from moto.core.config import default_user_config
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.dynamodb.models import dynamodb_backends
from moto.ec2.models import ec2_backends
from moto.events.models import EventMessageType, events_backends
from moto.events.utils import EventTemplateParser
from moto.fsx.models import FileSystem, FSxBackend, fsx_backends
from moto.fsx.responses import FSxResponse
from moto.iam.access_control import IAMPolicy, IAMPolicyStatement, PermissionResult
from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, iam_backends
from moto.logs.models import logs_backends
from moto.moto_api._internal import mock_random
from moto.s3.models import FakeBucket, s3_backends
from moto.secretsmanager.models import FakeSecret, secretsmanager_backends
from moto.stepfunctions.parser import models as parser_models
from moto.stepfunctions.parser import quotas
from moto.stepfunctions.parser.api import (
    ExecutionFailedEventDetails,
    ExecutionStatus,
    HistoryEventType,
    InvalidDefinition,
    TaskFailedEventDetails,
)
from moto.stepfunctions.parser.asl.component import eval_component as eval_component_module
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.common.path import result_path as result_path_module
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.string import string_expression as string_expression_module
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError, TimeoutSeconds
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state import state as state_module
from moto.stepfunctions.parser.asl.component.state.exec import execute_state as execute_state_module
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import state_parallel as state_parallel_module
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branch_worker import BranchWorker
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branches_decl import BranchesDecl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_lambda
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service as state_task_service_module,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk as aws_sdk_module,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_batch as batch_service_module,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch import (
    StateTaskServiceBatch,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb import (
    StateTaskServiceDynamoDB,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
    StateTaskServiceLambda,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp as timestamp_module
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval import states as states_module
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event import event_manager as event_manager_module
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped, ProgramTimedOut
from moto.stepfunctions.parser.asl.parse import preprocessor  # noqa: F401  (imports every ASL component)
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client as boto_client_module
from moto.stepfunctions.parser.asl.utils import json_path as json_path_module
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.backend import execution as execution_module
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend, stepfunctions_parser_backends
from moto.stepfunctions.responses import StepFunctionResponse
from moto.utilities.arns import parse_arn

__all__ = [
    "SUPPORTED_MOTO",
    "UnsupportedMotoError",
    "AWSManagedPolicy",
    "FakeBucket",
    "FakeSecret",
    "aws_managed_policies_data",
    "ActionResult",
    "AmazonStateLanguageParser",
    "BaseExecutionWorkerCommunication",
    "BatchBackend",
    "BatchResponse",
    "BotocoreStubber",
    "BranchWorker",
    "BranchesDecl",
    "ClientException",
    "CustomErrorName",
    "Environment",
    "ErrorEqualsDecl",
    "EvalComponent",
    "EvalTimeoutError",
    "EventDetails",
    "EventManager",
    "EventMessageType",
    "EventTemplateParser",
    "Execution",
    "ExecutionFailedEventDetails",
    "ExecutionStatus",
    "ExecutionWorker",
    "FSxBackend",
    "FSxResponse",
    "FailureEvent",
    "FailureEventException",
    "FileSystem",
    "HistoryEventType",
    "IAMPolicy",
    "InvalidDefinition",
    "IAMPolicyStatement",
    "JobDefinition",
    "JsonRESTError",
    "LambdaFunction",
    "PermissionResult",
    "Program",
    "ProgramError",
    "ProgramStopped",
    "ProgramTimedOut",
    "StateTaskService",
    "StateTaskServiceAwsSdk",
    "StateTaskServiceBatch",
    "StateTaskServiceDynamoDB",
    "StateTaskServiceLambda",
    "StatesErrorName",
    "StatesErrorNameType",
    "StepFunctionResponse",
    "StepFunctionsParserBackend",
    "TaskFailedEventDetails",
    "TimeoutSeconds",
    "WaitFunction",
    "aws_sdk_module",
    "backend",
    "batch_backends",
    "batch_service_module",
    "boto_client_module",
    "cloudwatch_backends",
    "default_user_config",
    "dynamodb_backends",
    "ec2_backends",
    "eval_component_module",
    "event_manager_module",
    "events_backends",
    "execute_state_module",
    "execution_module",
    "fsx_backends",
    "iam_backends",
    "json_path_module",
    "logs_backends",
    "mock_aws",
    "mock_random",
    "moto_responses_module",
    "parse_arn",
    "parser_models",
    "quotas",
    "result_path_module",
    "retrier_decl",
    "s3_backends",
    "state_module",
    "state_parallel_module",
    "state_task_lambda",
    "state_task_service_module",
    "states_module",
    "stepfunctions_parser_backends",
    "string_expression_module",
    "timestamp_module",
    "to_json_str",
]

# moto's backends by service, for lookups by name (IAM's resource checks).
_BACKENDS: dict[str, Any] = {
    "batch": batch_backends,
    "dynamodb": dynamodb_backends,
    "ec2": ec2_backends,
    "fsx": fsx_backends,
    "logs": logs_backends,
    "secretsmanager": secretsmanager_backends,
}


def backend(service: str, account_id: str, region: str) -> Any:
    """moto's backend of ``service`` (one of ``_BACKENDS``) in an account and region."""
    if service not in _BACKENDS:
        raise MotoSeamError(f"moto_seam.backend: no backend {service!r} listed (listed: {', '.join(_BACKENDS)})")
    return _BACKENDS[service][account_id][region]


# --- modules whose own binding of a function is patched --------------------------------------------------------
_PARSER = "moto.stepfunctions.parser.asl"
# Every moto module that imported ``json_path.extract_json`` by name (moto 5.2.5).
JSON_PATH_MODULES = (
    f"{_PARSER}.utils.json_path",
    f"{_PARSER}.component.common.string.string_expression",
    f"{_PARSER}.component.intrinsic.argument.argument",
    f"{_PARSER}.component.state.choice.comparison.operator.factory",
    f"{_PARSER}.component.state.choice.comparison.operator.implementations.boolean_equals",
    f"{_PARSER}.component.state.choice.comparison.operator.implementations.numeric",
    f"{_PARSER}.component.state.choice.comparison.operator.implementations.string_operators",
    f"{_PARSER}.component.state.choice.comparison.operator.implementations.timestamp_operators",
    f"{_PARSER}.eval.states",
)
# Every moto module that imported ``boto_client.boto_client_for`` by name (moto 5.2.5).
_SERVICE = f"{_PARSER}.component.state.exec.state_task.service"
BOTO_CLIENT_MODULES = (
    f"{_PARSER}.utils.boto_client",
    f"{_PARSER}.component.state.exec.state_map.item_reader.eval.resource_eval_s3",
    f"{_PARSER}.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3",
    f"{_PARSER}.component.state.exec.state_task.lambda_eval_utils",
    *(
        f"{_SERVICE}.state_task_service_{name}"
        for name in ("aws_sdk", "batch", "dynamodb", "ecs", "events", "glue", "sfn", "sns", "sqs", "unsupported")
    ),
)


def modules(names: tuple[str, ...]) -> list[ModuleType]:
    """The listed moto modules, imported; ``MotoSeamError`` naming the first that moto lacks."""
    found = []
    for name in names:
        try:
            found.append(importlib.import_module(name))
        except ImportError:
            raise MotoSeamError(f"moto {MOTO_VERSION} has no module {name} (the emulation patches it)") from None
    return found


# --- what the emulation patches, with the signature each patch was written against -----------------------------
# "module:attribute" or "module:Class.attribute" -> str(inspect.signature(...)) for a callable, else "<kind>".
PATCHED: dict[str, str] = {
    "botocore.client:BaseClient._make_api_call": "(self, operation_name, api_params)",
    "botocore.endpoint:time": "<module time>",
    "botocore.useragent:sanitize_user_agent_string_component": "(raw_str, allow_hash)",
    "moto.awslambda.models:LambdaFunction._invoke_lambda": "(self, event: 'str | None' = None) -> 'tuple[str, bool, str]'",
    "moto.batch.models:BatchBackend.cancel_job": "(self, job_id: str, reason: str) -> None",
    "moto.batch.models:BatchBackend.create_job_queue": "(self, queue_name: str, priority: str, schedule_policy: str | None, state: str, compute_env_order: list[dict[str, str]], tags: dict[str, str] | None = None) -> moto.batch.models.JobQueue",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb:StateTaskServiceDynamoDB._from_error": "(self, env: moto.stepfunctions.parser.asl.eval.environment.Environment, ex: Exception) -> moto.stepfunctions.parser.asl.component.common.error_name.failure_event.FailureEvent",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb:StateTaskServiceDynamoDB._normalise_parameters": "(self, parameters: 'dict', boto_service_name: 'str | None' = None, service_action_name: 'str | None' = None) -> 'None'",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb:StateTaskServiceDynamoDB._normalise_response": "(self, response: 'Any', boto_service_name: 'str | None' = None, service_action_name: 'str | None' = None) -> 'None'",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb:StateTaskServiceDynamoDB._eval_service_task": "(self, env: moto.stepfunctions.parser.asl.eval.environment.Environment, resource_runtime_part: moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource.ResourceRuntimePart, normalised_parameters: dict, state_credentials: moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials.StateCredentials)",
    "moto.stepfunctions.parser.models:StepFunctionsParserBackend._validate_definition": "(definition: str)",
    "moto.batch.models:BatchBackend.create_compute_environment": "(self, compute_environment_name: str, _type: str, state: str, compute_resources: dict[str, typing.Any], service_role: str, tags: dict[str, str] | None = None) -> moto.batch.models.ComputeEnvironment",
    "moto.batch.models:BatchBackend.describe_compute_environments": "(self, environments: list[str] | None = None) -> list[dict[str, typing.Any]]",
    "moto.batch.models:BatchBackend.describe_jobs": "(self, jobs: list[str] | None) -> list[dict[str, typing.Any]]",
    "moto.batch.models:BatchBackend.submit_job": "(self, job_name: str, job_def_id: str, job_queue: str, array_properties: dict[str, int], depends_on: list[dict[str, str]] | None = None, container_overrides: dict[str, typing.Any] | None = None, eks_properties_override: dict[str, typing.Any] | None = None, timeout: dict[str, int] | None = None, parameters: dict[str, str] | None = None, tags: dict[str, str] | None = None) -> tuple[str, str, str]",
    "moto.batch.models:BatchBackend.terminate_job": "(self, job_id: str, reason: str) -> None",
    "moto.batch.models:BatchBackend.update_compute_environment": "(self, compute_environment_name: str, state: str | None, compute_resources: typing.Any | None, service_role: str | None) -> tuple[str, str]",
    "moto.batch.responses:BatchResponse.listjobs": "(self) -> str",
    "moto.batch.responses:BatchResponse.submitjob": "(self) -> str",
    "moto.core.botocore_stubber:BotocoreStubber.__call__": "(self, event_name: str, request: botocore.awsrequest.AWSPreparedRequest, **kwargs: Any) -> botocore.awsrequest.AWSResponse | None",
    "moto.core.responses:method_names_from_class": "(clazz: 'object') -> 'list[str]'",
    "moto.fsx.models:FSxBackend.create_file_system": "(self, client_request_token: str, file_system_type: str, storage_capacity: int, storage_type: str, subnet_ids: list[str], security_group_ids: list[str], tags: list[dict[str, str]] | None, kms_key_id: str | None, windows_configuration: dict[str, typing.Any] | None, lustre_configuration: dict[str, typing.Any] | None, ontap_configuration: dict[str, typing.Any] | None, file_system_type_version: str | None, open_zfs_configuration: dict[str, typing.Any] | None) -> moto.fsx.models.FileSystem",
    "moto.fsx.models:FSxBackend.delete_file_system": "(self, file_system_id: str, client_request_token: str, windows_configuration: dict[str, typing.Any] | None, lustre_configuration: dict[str, typing.Any] | None, open_zfs_configuration: dict[str, typing.Any] | None) -> tuple[str, str, dict[str, typing.Any] | None, dict[str, typing.Any] | None, dict[str, typing.Any] | None]",
    "moto.fsx.models:FSxBackend.describe_file_systems": "(self, file_system_ids: list[str]) -> list[moto.fsx.models.FileSystem]",
    "moto.fsx.models:FileSystem.to_dict": "(self) -> dict[str, typing.Any]",
    "moto.fsx.responses:FSxResponse.create_data_repository_association": "<absent>",
    "moto.fsx.responses:FSxResponse.create_data_repository_task": "<absent>",
    "moto.fsx.responses:FSxResponse.describe_data_repository_associations": "<absent>",
    "moto.fsx.responses:FSxResponse.describe_data_repository_tasks": "<absent>",
    "moto.fsx.responses:FSxResponse.update_data_repository_association": "<absent>",
    "moto.s3.models:FakeBucket.get_permission": "(self, action: 'str', resource: 'str') -> 'Any'",
    "moto.secretsmanager.models:FakeSecret.reset_default_version": "(self, secret_version: 'dict[str, Any]', version_id: 'str') -> 'None'",
    "moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl:ErrorEqualsDecl._eval_body": "(self, env: moto.stepfunctions.parser.asl.eval.environment.Environment) -> None",
    "moto.stepfunctions.parser.asl.component.common.path.result_path:copy": "<module copy>",
    "moto.stepfunctions.parser.asl.component.common.path.result_path:parse": "(string: 'str') -> 'JSONPath'",
    "moto.stepfunctions.parser.asl.component.common.retry.retrier_decl:time": "<module time>",
    "moto.stepfunctions.parser.asl.component.common.string.string_expression:copy": "<module copy>",
    "moto.stepfunctions.parser.asl.component.common.string.string_expression:extract_json": "(path: str, data: Any) -> Any",
    "moto.stepfunctions.parser.asl.component.eval_component:EvalComponent._log_exception": "(self, exception: Exception) -> None",
    "moto.stepfunctions.parser.asl.component.eval_component:EvalComponent._log_failure_event_exception": "(self, failure_event_exception: moto.stepfunctions.parser.asl.component.common.error_name.failure_event.FailureEventException) -> None",
    "moto.stepfunctions.parser.asl.component.intrinsic.argument.argument:extract_json": "(path: str, data: Any) -> Any",
    "moto.stepfunctions.parser.asl.component.program.program:Program.eval": "(self, env: moto.stepfunctions.parser.asl.eval.environment.Environment) -> None",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.factory:extract_json": "(path: str, data: Any) -> Any",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.boolean_equals:extract_json": "(path: str, data: Any) -> Any",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.numeric:extract_json": "(path: str, data: Any) -> Any",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.string_operators:extract_json": "(path: str, data: Any) -> Any",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.timestamp_operators:extract_json": "(path: str, data: Any) -> Any",
    "moto.stepfunctions.parser.asl.component.state.exec.execute_state:copy": "<module copy>",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3:boto_client_for": "(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3:boto_client_for": "(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient",
    "moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branch_worker:BranchWorker._thread_routine": "(self) -> None",
    "moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branches_decl:BranchesDecl._eval_body": "(self, env: moto.stepfunctions.parser.asl.eval.environment.Environment) -> None",
    "moto.stepfunctions.parser.asl.component.state.exec.state_parallel.state_parallel:copy": "<module copy>",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils:boto_client_for": "(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service:StateTaskService._before_eval_execution": "(self, env: 'Environment', resource_runtime_part: 'ResourceRuntimePart', raw_parameters: 'dict', state_credentials: 'StateCredentials') -> 'None'",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service:copy": "<module copy>",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service:is_within_size_quota": "(value: Any) -> bool",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk:StateTaskServiceAwsSdk._eval_service_task": "(self, env: moto.stepfunctions.parser.asl.eval.environment.Environment, resource_runtime_part: moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource.ResourceRuntimePart, normalised_parameters: dict, state_credentials: moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials.StateCredentials)",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk:StateTaskServiceAwsSdk._normalise_exception_name": "(norm_service_name: str, ex: Exception) -> str",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk:StateTaskServiceAwsSdk._normalise_parameters": "(self, parameters: 'dict', boto_service_name: 'str | None' = None, service_action_name: 'str | None' = None) -> 'None'",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk:StateTaskServiceAwsSdk._normalise_response": "(self, response: 'Any', boto_service_name: 'str | None' = None, service_action_name: 'str | None' = None) -> 'None'",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk:StateTaskServiceAwsSdk._normalise_service_error_name": "(service_name: str) -> str",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk:_SERVICE_ERROR_NAMES": "<dict>",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk:boto_client_for": "(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch:StateTaskServiceBatch._build_sync_resolver": "(self, env: moto.stepfunctions.parser.asl.eval.environment.Environment, resource_runtime_part: moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource.ResourceRuntimePart, normalised_parameters: dict, state_credentials: moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials.StateCredentials) -> collections.abc.Callable[[], typing.Any] | None",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch:StateTaskServiceBatch._eval_service_task": "(self, env: moto.stepfunctions.parser.asl.eval.environment.Environment, resource_runtime_part: moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource.ResourceRuntimePart, normalised_parameters: dict, state_credentials: moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials.StateCredentials)",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch:StateTaskServiceBatch._eval_sync": "(self, env: moto.stepfunctions.parser.asl.eval.environment.Environment, sync_resolver: collections.abc.Callable[[], typing.Any] | None, timeout_seconds: int | None, callback_endpoint: moto.stepfunctions.parser.asl.eval.callback.callback.CallbackEndpoint | None, heartbeat_endpoint: moto.stepfunctions.parser.asl.eval.callback.callback.HeartbeatEndpoint | None) -> moto.stepfunctions.parser.asl.eval.callback.callback.CallbackOutcome | typing.Any",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch:StateTaskServiceBatch._from_error": "(self, env: moto.stepfunctions.parser.asl.eval.environment.Environment, ex: Exception) -> moto.stepfunctions.parser.asl.component.common.error_name.failure_event.FailureEvent",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch:StateTaskServiceBatch._normalise_parameters": "(self, parameters: 'dict', boto_service_name: 'str | None' = None, service_action_name: 'str | None' = None) -> 'None'",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch:StateTaskServiceBatch._normalise_response": "(self, response: 'Any', boto_service_name: 'str | None' = None, service_action_name: 'str | None' = None) -> 'None'",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch:_SUPPORTED_API_PARAM_BINDINGS": "<dict>",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch:boto_client_for": "(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb:boto_client_for": "(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_ecs:boto_client_for": "(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_events:boto_client_for": "(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_glue:boto_client_for": "(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda:StateTaskServiceLambda._eval_service_task": "(self, env: moto.stepfunctions.parser.asl.eval.environment.Environment, resource_runtime_part: moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource.ResourceRuntimePart, normalised_parameters: dict, state_credentials: moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials.StateCredentials)",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn:boto_client_for": "(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sns:boto_client_for": "(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sqs:boto_client_for": "(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported:boto_client_for": "(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda:is_within_size_quota": "(value: Any) -> bool",
    "moto.stepfunctions.parser.asl.component.state.state:datetime": "<module datetime>",
    "moto.stepfunctions.parser.asl.component.state.state:is_within_size_quota": "(value: Any) -> bool",
    "moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp:datetime": "<module datetime>",
    "moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function:WaitFunction._wait_interval": "(self, env: moto.stepfunctions.parser.asl.eval.environment.Environment, wait_seconds: int) -> None",
    "moto.stepfunctions.parser.asl.eval.environment:Environment.set_error": "(self, error: 'ExecutionFailedEventDetails') -> 'None'",
    "moto.stepfunctions.parser.asl.eval.event.event_manager:EventManager._get_current_timestamp": "() -> 'datetime.datetime'",
    "moto.stepfunctions.parser.asl.eval.event.event_manager:EventManager.add_event": "(self, context: 'EventHistoryContext', event_type: 'HistoryEventType', event_details: 'EventDetails | None' = None, timestamp: 'Timestamp' = None, update_source_event_id: 'bool' = True) -> 'int'",
    "moto.stepfunctions.parser.asl.eval.event.event_manager:copy": "<module copy>",
    "moto.stepfunctions.parser.asl.eval.states:copy": "<module copy>",
    "moto.stepfunctions.parser.asl.eval.states:extract_json": "(path: str, data: Any) -> Any",
    "moto.stepfunctions.parser.asl.parse.asl_parser:AmazonStateLanguageParser.parse": "(definition: str) -> tuple[moto.stepfunctions.parser.asl.component.eval_component.EvalComponent, antlr4.ParserRuleContext.ParserRuleContext]",
    "moto.stepfunctions.parser.asl.utils.boto_client:boto_client_for": "(region: str, service: str, state_credentials: Any = None) -> botocore.client.BaseClient",
    "moto.stepfunctions.parser.asl.utils.json_path:extract_json": "(path: str, data: Any) -> Any",
    "moto.stepfunctions.parser.backend.execution:BaseExecutionWorkerCommunication.terminated": "(self) -> 'None'",
    "moto.stepfunctions.parser.backend.execution:Execution.__init__": "(self, name: 'str', sm_type: 'StateMachineType', role_arn: 'Arn', exec_arn: 'Arn', account_id: 'str', region_name: 'str', state_machine: 'StateMachineInstance', start_date: 'Timestamp', cloud_watch_logging_session: 'CloudWatchLoggingSession | None', activity_store: 'dict[Arn, Activity]', input_data: 'str', trace_header: 'TraceHeader | None' = None)",
    "moto.stepfunctions.parser.backend.execution:Execution.start": "(self) -> 'None'",
    "moto.stepfunctions.parser.backend.execution:datetime": "<module datetime>",
    "moto.stepfunctions.parser.backend.execution_worker:ExecutionWorker._get_evaluation_environment": "(self) -> moto.stepfunctions.parser.asl.eval.environment.Environment",
    "moto.stepfunctions.parser.models:datetime": "<module datetime>",
    "moto.stepfunctions.parser.quotas:is_within_size_quota": "(value: Any) -> bool",
    "moto.stepfunctions.responses:StepFunctionResponse.stop_execution": "(self) -> moto.core.responses.ActionResult",
}


def renamed_failure(failure: FailureEvent, name: str) -> FailureEvent:
    """``failure`` under the error name ``name``, in its event and in its task-failed details (moto names an
    optimized integration's errors its own way; the emulation names them as Step Functions does)."""
    # Why mypy is told to ignore the next line: moto declares FailureEvent.error_name Final.
    failure.error_name = CustomErrorName(name)  # type: ignore[misc]
    details = failure.event_details.get("taskFailedEventDetails") if failure.event_details else None
    if details is not None:
        details["error"] = name
    return failure


def target(owner: Any, name: str) -> str:
    """The ``PATCHED`` key of ``owner.name`` (owner: a module or a class)."""
    if isinstance(owner, ModuleType):
        return f"{owner.__name__}:{name}"
    return f"{owner.__module__}:{owner.__qualname__}.{name}"


_MISSING = object()


def resolve(key: str) -> Any:
    """The object a ``PATCHED`` key names now; ``MotoSeamError`` naming what is missing."""
    module_name, _, path = key.partition(":")
    try:
        current: Any = importlib.import_module(module_name)
    except ImportError:
        raise MotoSeamError(f"moto {MOTO_VERSION} has no module {module_name} (the emulation patches {key})") from None
    for part in path.split("."):
        current = inspect.getattr_static(current, part, _MISSING)
        if current is _MISSING:
            raise MotoSeamError(f"moto {MOTO_VERSION}: {key} is missing ({part!r} not found; the emulation patches it)")
        if isinstance(current, (staticmethod, classmethod)):
            current = current.__func__
    return current


def describe(value: Any) -> str:
    """What ``PATCHED`` records of an attribute: its signature if callable, else its kind."""
    if isinstance(value, ModuleType):
        return f"<module {value.__name__}>"
    if callable(value) and not isinstance(value, type):
        try:
            return str(inspect.signature(value))
        except (TypeError, ValueError):
            return f"<{type(value).__name__}>"
    return f"<{type(value).__name__}>"


_PATCHED_LOG: list[str] = []  # keys patched in this process (tests compare them with PATCHED)


def patch(stack: ExitStack, owner: Any, name: str, new: Any, *, create: bool = False) -> None:
    """``owner.name = new`` for ``stack``'s duration; the attribute must be listed in ``PATCHED`` and exist."""
    key = target(owner, name)
    if key not in PATCHED:
        raise MotoSeamError(f"{key} is patched but not listed in moto_seam.PATCHED")
    if not create:
        resolve(key)
    _PATCHED_LOG.append(key)
    stack.enter_context(mock.patch.object(owner, name, new, create=create))


def patch_dict(stack: ExitStack, owner: Any, name: str, values: dict[Any, Any]) -> None:
    """Entries of the dict ``owner.name`` set for ``stack``'s duration (listed in ``PATCHED``, like ``patch``)."""
    key = target(owner, name)
    if key not in PATCHED:
        raise MotoSeamError(f"{key} is patched but not listed in moto_seam.PATCHED")
    _PATCHED_LOG.append(key)
    stack.enter_context(mock.patch.dict(resolve(key), values))


def drift() -> list[str]:
    """One line per ``PATCHED`` attribute whose signature (or presence) in the installed moto is not the expected one."""
    moved = []
    for key, expected in PATCHED.items():
        try:
            found = describe(resolve(key))
        except MotoSeamError:
            found = "<absent>"
        if found != expected:
            moved.append(f"{key}: expected {expected}, found {found} (moto {MOTO_VERSION})")
    return moved


def patched_so_far() -> set[str]:
    """The ``PATCHED`` keys patched in this process so far."""
    return set(_PATCHED_LOG)
