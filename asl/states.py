"""Small builders for Amazon States Language states, and the graph that holds them.

Each builder returns a plain dict. ``Graph`` refuses duplicate state names at
build time, so two steps can never silently share a name.
"""

from __future__ import annotations

from typing import Any

State = dict[str, Any]

AWS_SDK = "arn:aws:states:::aws-sdk:"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"

# Describe calls are idempotent: retry any task failure (throttling included).
RETRY_READ = [
    {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 2, "MaxAttempts": 4, "BackoffRate": 2.0},
]
# Creates carry a per-run client token (FSx, EC2) or are idempotent (UpdateComputeEnvironment): any
# failure may be retried.
RETRY_WRITE = [
    {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 2, "MaxAttempts": 4, "BackoffRate": 2.0},
]
# RegisterJobDefinition and SubmitJob have no client token: a retry after a request that was carried out
# would leave a second revision or run a second job. Only throttling is retried: Batch models no
# throttling error, so it arrives as the service's generic error (Step Functions names aws-sdk errors
# after the Java SDK v2 exception classes).
RETRY_THROTTLED = [
    {"ErrorEquals": ["Batch.BatchException", "Batch.TooManyRequestsException"],
     "IntervalSeconds": 2, "MaxAttempts": 4, "BackoffRate": 2.0},
]
# Cleanup must get through transient refusals: a compute environment still
# UPDATING, a data repository task still running (DeleteFileSystem is refused
# while one is PENDING/EXECUTING). Bounded: 15 s growing by half each time, about 12 minutes in all.
RETRY_CLEANUP = [
    {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 15, "MaxAttempts": 8, "BackoffRate": 1.5},
]


class Graph:
    """An ordered set of named states; rendering gives the ASL ``States`` map."""

    def __init__(self) -> None:
        self._states: dict[str, State] = {}

    def add(self, name: str, state: State) -> str:
        if name in self._states:
            raise ValueError(f"duplicate state name {name!r}")
        self._states[name] = state
        return name

    def render(self, start_at: str, comment: str) -> dict[str, Any]:
        if start_at not in self._states:
            raise ValueError(f"StartAt {start_at!r} is not a state")
        return {"Comment": comment, "StartAt": start_at, "States": dict(self._states)}


def aws_sdk(
    service: str,
    action: str,
    parameters: dict[str, Any],
    *,
    next_state: str,
    result_path: str | None,
    result_selector: dict[str, Any] | None = None,
    retry: list[dict[str, Any]] | None = None,
    catch_to: str | None = None,
    catch_path: str = "$.error",
) -> State:
    """A Task calling ``service:action`` through the AWS SDK integration."""
    state: State = {
        "Type": "Task",
        "Resource": f"{AWS_SDK}{service}:{action}",
        "Parameters": parameters,
        "ResultPath": result_path,
        "Next": next_state,
    }
    if result_selector is not None:
        state["ResultSelector"] = result_selector
    if retry:
        state["Retry"] = retry
    if catch_to:
        state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": catch_path, "Next": catch_to}]
    return state


def invoke_lambda(
    function_arn: str,
    payload: dict[str, Any],
    *,
    next_state: str,
    result_path: str,
    result_selector: dict[str, Any],
    catch_to: str | None = None,
    catch_path: str = "$.error",
) -> State:
    """A Task invoking a Lambda function and keeping selected fields of its payload."""
    state: State = {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": function_arn, "Payload": payload},
        "ResultSelector": result_selector,
        "ResultPath": result_path,
        "Retry": [
            {
                "ErrorEquals": ["Lambda.ServiceException", "Lambda.AWSLambdaException",
                                "Lambda.SdkClientException", "Lambda.TooManyRequestsException"],
                "IntervalSeconds": 2,
                "MaxAttempts": 4,
                "BackoffRate": 2.0,
            }
        ],
        "Next": next_state,
    }
    if catch_to:
        state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": catch_path, "Next": catch_to}]
    return state


def wait(seconds_path: str, next_state: str) -> State:
    return {"Type": "Wait", "SecondsPath": seconds_path, "Next": next_state}


def choice(choices: list[dict[str, Any]], default: str) -> State:
    return {"Type": "Choice", "Choices": choices, "Default": default}


def pass_result(result: Any, result_path: str, next_state: str) -> State:
    return {"Type": "Pass", "Result": result, "ResultPath": result_path, "Next": next_state}


def pass_parameters(parameters: dict[str, Any], result_path: str, next_state: str) -> State:
    return {"Type": "Pass", "Parameters": parameters, "ResultPath": result_path, "Next": next_state}


def fail(error: str, cause: str) -> State:
    return {"Type": "Fail", "Error": error, "Cause": cause}


def fail_from(error_path: str, cause_path: str) -> State:
    return {"Type": "Fail", "ErrorPath": error_path, "CausePath": cause_path}


def failure_record(error: str, cause_format: str, *paths: str) -> dict[str, Any]:
    """Parameters of a Pass that records ``{"Error", "Cause"}`` with a formatted cause.

    The format string must hold no braces other than ``{}`` placeholders and no quotes.
    """
    if "'" in cause_format or "\\" in cause_format:
        raise ValueError("cause formats hold no quotes or backslashes")
    if paths:
        args = ", ".join(paths)
        return {"Error": error, "Cause.$": f"States.Format('{cause_format}', {args})"}
    return {"Error": error, "Cause": cause_format}


# Poll counters live in state data under $.polls.<name>.count.
def counter_path(name: str) -> str:
    return f"$.polls.{name}.count"


def count_poll(name: str, next_state: str) -> State:
    return pass_parameters(
        {"count.$": f"States.MathAdd({counter_path(name)}, 1)"}, f"$.polls.{name}", next_state
    )


def poll_bound(name: str, limit_path: str, over: str, again: str) -> State:
    """Choice ending a polling loop once its counter reaches ``limit_path``."""
    return choice(
        [{"Variable": counter_path(name), "NumericGreaterThanEqualsPath": limit_path, "Next": over}], again
    )
