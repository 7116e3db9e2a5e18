"""The Automation API raises only AutomationError subclasses, in one line: AWS errors wrapped with the operation
and the cause, a refused value as automation.ParameterError (also the program's parameters.ParameterError)."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_lustre import automation
from batch_lustre.automation import clients
from batch_lustre.program import parameters as program_parameters
from batch_lustre.program.parameters import INPUT_KEYS

REGION = "us-east-1"
MACHINE = f"arn:aws:states:{REGION}:123456789012:stateMachine:taskexport-taskexport-workflow"
EXECUTION = f"arn:aws:states:{REGION}:123456789012:execution:taskexport-taskexport-workflow:run-1"
OUTPUTS = {"stateMachineArn": MACHINE, "secretName": "taskexport-runtime-parameters", "bucketName": "bucket"}


def call_start_run() -> Any:
    return automation.start_run("taskexport", stack_outputs=OUTPUTS, name="run-1")


def call_list_runs() -> Any:
    return automation.list_runs(MACHINE)


def call_wait_for_run() -> Any:
    return automation.wait_for_run(EXECUTION, poll_seconds=0, timeout_seconds=0)


def call_read_parameters() -> Any:
    return automation.read_parameters("taskexport", secret_id="taskexport-runtime-parameters")


def call_update_parameters() -> Any:
    return automation.update_parameters(
        "taskexport", {"jobTimeoutMinutes": "60"}, secret_id="taskexport-runtime-parameters"
    )


OPERATIONS = {
    "start_run": call_start_run,
    "list_runs": call_list_runs,
    "wait_for_run": call_wait_for_run,
    "read_parameters": call_read_parameters,
    "update_parameters": call_update_parameters,
}


class RaisingClient:
    """A boto3 client whose every request raises ``error`` (as botocore would before or after sending)."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.requests: list[str] = []

    def __getattr__(self, request: str) -> Any:
        def call(**_: Any) -> Any:
            self.requests.append(request)
            raise self.error

        return call


def client_error(code: str, request: str = "ListExecutions") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} happened\nat AWS"}}, request)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket fails the test (and is recorded)."""
    attempts: list[Any] = []

    def refuse(self, address):
        attempts.append(address)
        raise OSError(f"test tried to reach {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


@pytest.fixture
def no_credentials(tmp_path, monkeypatch, no_network):
    """No AWS credentials anywhere botocore looks, and no instance metadata service to ask."""
    import os

    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    for name in ("credentials", "config"):
        (tmp_path / name).write_text("", encoding="utf-8")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    clients._session.cache_clear()
    yield no_network
    clients._session.cache_clear()


ERRORS = {
    "no credentials": (NoCredentialsError(), automation.NoCredentials, "no AWS credentials found"),
    "no endpoint": (
        EndpointConnectionError(endpoint_url=f"https://states.{REGION}.amazonaws.com/"),
        automation.EndpointUnreachable,
        "Could not connect to the endpoint URL",
    ),
    "throttled": (client_error("ThrottlingException"), automation.Throttled, "throttled"),
    "access denied": (client_error("AccessDeniedException"), automation.AccessDenied, "denied"),
    "other client error": (client_error("InternalServerError"), automation.AwsError, "InternalServerError"),
}


@pytest.mark.parametrize("error_name", ERRORS)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_aws_error_is_an_automation_error_naming_the_operation_in_one_line(
    operation, error_name, monkeypatch, no_network
):
    error, expected_type, expected_text = ERRORS[error_name]
    client = RaisingClient(error)
    monkeypatch.setattr(clients, "aws_client", lambda service, region=None: client)
    with pytest.raises(automation.AutomationError) as raised:
        OPERATIONS[operation]()
    assert type(raised.value) is expected_type
    message = str(raised.value)
    assert message.startswith(f"{operation}: "), message
    assert expected_text in message
    assert "\n" not in message
    assert client.requests, "the operation sent no request"
    assert no_network == []


@pytest.mark.parametrize("operation", OPERATIONS)
def test_without_credentials_every_run_and_parameter_operation_raises_no_credentials_before_any_network_call(
    operation, no_credentials
):
    with pytest.raises(automation.NoCredentials) as raised:
        OPERATIONS[operation]()
    message = str(raised.value)
    assert message.startswith(f"{operation}: no AWS credentials found (botocore NoCredentialsError)"), message
    assert "\n" not in message
    assert no_credentials == [], "a request went to the network"


def test_the_operation_named_is_the_one_called_not_one_it_calls(monkeypatch, no_network):
    """start_run reads the compute environment's maxvCpus (another operation) first: the error names start_run."""
    client = RaisingClient(client_error("AccessDeniedException", "DescribeComputeEnvironments"))
    monkeypatch.setattr(clients, "aws_client", lambda service, region=None: client)
    outputs = {**OUTPUTS, "computeEnvironment": "taskexport-ce"}
    with pytest.raises(automation.AccessDenied, match=r"^start_run: AWS denied DescribeComputeEnvironments"):
        automation.start_run("taskexport", stack_outputs=outputs, overrides={"vcpus": 4})
    assert client.requests == ["describe_compute_environments"]


def test_a_generator_operation_is_guarded_at_each_step(monkeypatch):
    pages = iter([{"executions": [{"name": "a"}], "nextToken": "t"}])

    class Sfn:
        def list_executions(self, **_):
            try:
                return next(pages)
            except StopIteration:
                raise client_error("ThrottlingException") from None

    found = automation.iter_executions(MACHINE, Sfn())
    assert next(found) == {"name": "a"}
    with pytest.raises(automation.Throttled, match=r"^iter_executions: AWS throttled ListExecutions"):
        next(found)


def test_parameter_error_is_an_automation_error_and_the_programs_parameter_error():
    assert issubclass(automation.ParameterError, automation.AutomationError)
    assert issubclass(automation.ParameterError, program_parameters.ParameterError)
    with pytest.raises(automation.ParameterError) as raised:
        automation.check_assignment("taskexport", "jobTimeoutMinutes", "soon")
    assert isinstance(raised.value, program_parameters.ParameterError)
    assert "jobTimeoutMinutes" in str(raised.value) and "\n" not in str(raised.value)
    with pytest.raises(program_parameters.ParameterError):
        automation.run_input({"vcpus": 0}, 256)


def test_every_public_function_of_the_api_is_guarded():
    import inspect

    unguarded = [
        name
        for name in automation.__all__
        if inspect.isfunction(getattr(automation, name))
        and name != "one_line"  # formats a string: nothing it calls can fail
        and not getattr(getattr(automation, name), "__api_operation__", False)
    ]
    assert unguarded == []
    assert getattr(automation.HistoryReader.new_events, "__api_operation__", False)


# --- any JSON value as a run's overrides -------------------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["4", "8192", "v1", "v1\n", "python", "true", "1" * 40])
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(INPUT_KEYS) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
OVERRIDES = JSON_VALUES | st.dictionaries(st.sampled_from(INPUT_KEYS), JSON_VALUES, max_size=4)


class QuietSfn:
    """A Step Functions client with no running execution, which starts any execution it is asked to."""

    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []

    def list_executions(self, **_: Any) -> dict[str, Any]:
        return {"executions": []}

    def start_execution(self, **request: Any) -> dict[str, Any]:
        self.started.append(request)
        return {"executionArn": EXECUTION}


@settings(max_examples=50, derandomize=True, deadline=None)
@given(overrides=OVERRIDES)
def test_any_json_value_as_run_input_gives_a_typed_input_or_a_parameter_error(overrides):
    try:
        typed = automation.run_input(overrides, 256)
    except automation.ParameterError as refused:
        assert "\n" not in str(refused)
    else:
        assert isinstance(typed, dict) and set(typed) <= set(INPUT_KEYS)
        json.dumps(typed)


@settings(max_examples=50, derandomize=True, deadline=None)
@given(overrides=OVERRIDES)
def test_any_json_value_as_start_runs_overrides_starts_a_run_or_raises_a_parameter_error(overrides):
    sfn = QuietSfn()
    try:
        handle = automation.start_run(
            "taskexport", stack_outputs=OUTPUTS, name="run-1", sfn=sfn, overrides=overrides, max_vcpus=256
        )
    except automation.ParameterError as refused:
        assert "\n" not in str(refused)
        assert sfn.started == [], "a refused input started a run"
    else:
        assert handle.execution_arn == EXECUTION
        assert set(json.loads(sfn.started[0]["input"])) <= set(INPUT_KEYS)
