"""Small builders for Amazon States Language states, and the graph that holds them.

Each builder returns a plain dict. ``Graph`` refuses duplicate state names at
build time, so two steps can never silently share a name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

State = dict[str, Any]

AWS_SDK = "arn:aws:states:::aws-sdk:"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
# The optimized Batch integration that waits for the job (Step Functions developer guide, "Run a Job (.sync)").
BATCH_SUBMIT_JOB_SYNC = "arn:aws:states:::batch:submitJob.sync"

# How Step Functions spells a service in aws-sdk error names is documented only by example ("FSx.", "Batch.");
# the prefix's casing and the "Exception" suffix of unmodelled codes are not settled (docs/aws-rules.md).
# A branch that depends on an error name lists every spelling, so it holds whichever AWS uses.
_PREFIX_SPELLINGS = {
    "FSx": ("FSx", "Fsx", "FSX", "fsx"),
    "Batch": ("Batch", "batch", "AWSBatch"),
    "Ec2": ("Ec2", "EC2", "ec2"),
    "Ecr": ("Ecr", "ECR", "ecr"),
}


def error_names(service: str, code: str) -> list[str]:
    """Every spelling of an aws-sdk / optimized-integration error name: prefixes x with and without ``Exception``."""
    base = code[: -len("Exception")] if code.endswith("Exception") else code
    names = []
    for prefix in _PREFIX_SPELLINGS.get(service, (service,)):
        for suffix in ("Exception", ""):
            names.append(f"{prefix}.{base}{suffix}")
    return names


# Errors that heal by asking again, as an aws-sdk task reports them: the throttling codes and the 5xx codes that
# botocore's standard retry mode retries (botocore.retries.standard; tests/test_asl_graph.py compares), and the
# Java SDK's client-side error (a connection or timeout error of the integration itself), and the service's base
# exception (``generic_error_names``: an unmodelled code such as a throttle). Step Functions names an
# aws-sdk error <Service>.<Code>Exception; how it spells unmodelled codes is not documented (docs/aws-rules.md),
# so each code is listed under every spelling (``error_names``). States.TaskFailed is never retried: it matches
# every error but States.Timeout (Step Functions, "Error handling"), AccessDenied and validation errors included.
THROTTLING_CODES = (
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
)
SERVER_ERROR_CODES = (
    "InternalServerError",
    "InternalServerException",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServerException",
    "Unavailable",
    "SdkClientException",
)
# The prefix a service's errors carry (AWS_FACTS: FSx, Ec2, Batch, CloudWatch, SecretsManager).
SERVICE_PREFIX = {
    "fsx": "FSx",
    "batch": "Batch",
    "ec2": "Ec2",
    "cloudwatch": "CloudWatch",
    "secretsmanager": "SecretsManager",
    "sfn": "Sfn",
    "ecr": "Ecr",
}


def generic_error_names(prefix: str) -> list[str]:
    """``<Prefix>.<Prefix>Exception`` in every spelling: the SDK's base exception of a service, which is what an
    error code the service's model does not name arrives as (throttling among them; docs/aws-rules.md)."""
    return [f"{p}.{p}{suffix}" for p in _PREFIX_SPELLINGS.get(prefix, (prefix,)) for suffix in ("Exception", "")]


@dataclass(frozen=True)
class RetryPolicy:
    """A Task's Retry, written for the service it calls (``retriers``): the errors that heal, and how often."""

    interval_seconds: int
    max_attempts: int
    backoff_rate: float
    server_errors: bool = True  # False: only throttling (a call that may have been carried out)
    heals: tuple[str, ...] = ()  # codes of refusals that heal with time for this use (e.g. a resource still busy)

    def retriers(self, service: str) -> list[dict[str, Any]]:
        prefix = SERVICE_PREFIX.get(service.lower(), service)
        codes = [*THROTTLING_CODES, *(SERVER_ERROR_CODES if self.server_errors else ()), *self.heals]
        names = [name for code in codes for name in error_names(prefix, code)]
        names += generic_error_names(prefix)
        names = list(dict.fromkeys(names))
        return [
            {
                "ErrorEquals": names,
                "IntervalSeconds": self.interval_seconds,
                "MaxAttempts": self.max_attempts,
                "BackoffRate": self.backoff_rate,
            }
        ]


# Describe calls are idempotent. Two retries: a polling loop asks again at its next turn anyway, and every retry
# adds 3 events to the execution history (asl/history.py).
RETRY_READ = RetryPolicy(2, 2, 2.0)
# Creates carry a per-run client token (FSx, EC2) or are idempotent (UpdateComputeEnvironment).
RETRY_WRITE = RetryPolicy(2, 4, 2.0)
# RegisterJobDefinition and SubmitJob have no client token: a retry after a request that was carried out would
# leave a second revision or run a second job. Only throttling is retried (a refused call was not carried out).
RETRY_THROTTLED = RetryPolicy(2, 4, 2.0, server_errors=False)
# Cleanup must get through refusals that heal with time: a compute environment still UPDATING (Batch
# ClientException), a data repository task still running (DeleteFileSystem refused, FSx BadRequest), besides the
# transient errors. Bounded: 15 s growing by half each time, about 12 minutes in all.
RETRY_CLEANUP = RetryPolicy(15, 8, 1.5, heals=("BadRequest", "ClientException"))


class Graph:
    """An ordered set of named states; rendering gives the ASL ``States`` map."""

    def __init__(self, within: Graph | None = None) -> None:
        self._states: dict[str, State] = {}
        # State names are unique in the whole machine, Parallel branches included: a branch's graph
        # shares the set of names taken with the graph it is part of.
        self._taken: set[str] = within._taken if within is not None else set()

    def add(self, name: str, state: State) -> str:
        if name in self._taken:
            raise ValueError(f"duplicate state name {name!r}")
        self._taken.add(name)
        self._states[name] = state
        return name

    def render(self, start_at: str, comment: str) -> dict[str, Any]:
        """The ASL document; refuses missing targets and unreachable states (as CDK's state graph does)."""
        return {"Comment": comment, **self.branch(start_at)}

    def branch(self, start_at: str) -> dict[str, Any]:
        """``{"StartAt", "States"}``: a whole machine or one branch of a Parallel, checked.

        Refuses, in one ``ValueError`` naming every one of them, each target that is not a state (whichever state
        goes to it) and each state the start does not reach.
        """
        if start_at not in self._states:
            raise ValueError(f"StartAt {start_at!r} is not a state")
        problems = [
            f"state {name!r} goes to {target!r}, which is not a state"
            for name, state in self._states.items()
            for target in dict.fromkeys(targets(state))
            if target not in self._states
        ]
        reachable, todo = set(), [start_at]
        while todo:
            name = todo.pop()
            if name in reachable:
                continue
            reachable.add(name)
            todo.extend(target for target in targets(self._states[name]) if target in self._states)
        unreachable = sorted(set(self._states) - reachable)
        if unreachable:
            problems.append(f"states not reachable from {start_at!r}: {', '.join(unreachable)}")
        if problems:
            raise ValueError("; ".join(problems))
        return {"StartAt": start_at, "States": dict(self._states)}


def targets(state: Mapping[str, Any]) -> list[str]:
    """The states ``state`` can go to next (Next, Default, Choice rules, Catch)."""
    out = [state[key] for key in ("Next", "Default") if key in state]
    out += [rule["Next"] for rule in state.get("Choices", [])]
    out += [catch["Next"] for catch in state.get("Catch", [])]
    return out


def aws_sdk(
    service: str,
    action: str,
    parameters: dict[str, Any],
    *,
    next_state: str,
    result_path: str | None,
    result_selector: dict[str, Any] | None = None,
    retry: RetryPolicy | None = None,
    catch_to: str | None = None,
    catch_path: str = "$.error",
) -> State:
    """A Task calling ``service:action`` through the AWS SDK integration (``retry`` written for ``service``)."""
    state: State = {
        "Type": "Task",
        "Resource": f"{AWS_SDK}{service}:{action}",
        "Parameters": parameters,
        "ResultPath": result_path,
        "Next": next_state,
    }
    if result_selector is not None:
        state["ResultSelector"] = result_selector
    if retry is not None:
        state["Retry"] = retry.retriers(service)
    if catch_to:
        state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": catch_path, "Next": catch_to}]
    return state


# Lambda's transient errors, as Step Functions names them (Step Functions best practices, "Handle transient Lambda
# service exceptions", https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
# Not Lambda.Unknown: a function's timeout or out-of-memory is no transient error of Lambda's.
LAMBDA_TRANSIENT_ERRORS = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)


# The retrier that page recommends: 6 more attempts, 2 s growing twofold (2 + 4 + ... + 64 = 126 s of backoff).
LAMBDA_RETRY_ATTEMPTS = 6
LAMBDA_RETRY_INTERVAL_SECONDS = 2


def retry_lambda() -> list[dict[str, Any]]:
    """A Lambda Task's Retry: Lambda's transient errors, with the retrier AWS recommends for them."""
    return [
        {
            "ErrorEquals": list(LAMBDA_TRANSIENT_ERRORS),
            "IntervalSeconds": LAMBDA_RETRY_INTERVAL_SECONDS,
            "MaxAttempts": LAMBDA_RETRY_ATTEMPTS,
            "BackoffRate": 2.0,
        }
    ]


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
        "Retry": retry_lambda(),
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


# Bounded polling loops with growing waits. The loop's record lives under $.polls.<loop>:
#   count  checks done so far; wait  seconds of the next Wait; limit  index of the last wait (len - 1).
# The schedule is $.config.derived.waits.<loop> (ExtractParameters: it starts short, grows up to the seed's
# interval, and its sum covers the loop's time bound). After check number ``count + 1``, a loop whose
# ``count`` reached ``limit`` is over.
WAITS = "$.config.derived.waits"


def poll_record(loop: str) -> str:
    return f"$.polls.{loop}"


def start_polls(loop: str, next_state: str, schedule: str | None = None) -> State:
    """Pass that starts ``loop``: no check yet, the first wait of its schedule (``schedule``, default ``loop``)."""
    waits = f"{WAITS}.{schedule or loop}"
    return pass_parameters(
        {
            "count": 0,
            "wait.$": f"States.ArrayGetItem({waits}, 0)",
            "limit.$": f"States.MathAdd(States.ArrayLength({waits}), -1)",
        },
        poll_record(loop),
        next_state,
    )


def wait_poll(loop: str, next_state: str) -> State:
    return wait(f"{poll_record(loop)}.wait", next_state)


def next_poll(loop: str, next_state: str, schedule: str | None = None) -> State:
    """Pass counting one more check of ``loop`` and taking the next wait of its schedule."""
    record, waits = poll_record(loop), f"{WAITS}.{schedule or loop}"
    return pass_parameters(
        {
            "count.$": f"States.MathAdd({record}.count, 1)",
            "wait.$": f"States.ArrayGetItem({waits}, States.MathAdd({record}.count, 1))",
            "limit.$": f"{record}.limit",
        },
        record,
        next_state,
    )


def polls_over(loop: str, over: str) -> dict[str, Any]:
    """Choice rule: ``loop`` has used every wait of its schedule."""
    record = poll_record(loop)
    return {"Variable": f"{record}.count", "NumericGreaterThanEqualsPath": f"{record}.limit", "Next": over}


# --- Waiting in a Lambda (lambda/wait_for.py) ---------------------------------------------------------------------
# A loop is one WaitFor Task (it checks with the loop's waits inside one invocation, up to its timeout), a Choice
# and, only when the next wait does not fit in an invocation, a Wait: about 2 transitions per 14 minutes instead of
# 4 per check. The Task writes the loop's poll record $.polls.<record> = {count, wait, waited, Outcome, Last}: Last
# holds the descriptions of the last checks (lambda/wait_for.py). Only the first invocation of a loop can end
# without a check: a loop makes at most len(schedule) + 1 invocations (asl/history.py).
WAIT_FOR_TIMEOUT_SECONDS = 900  # Lambda's maximum function timeout (docs/aws-rules.md)
WAITING, OVER = "waiting", "over"
WAIT_FOR_RECORD = (
    "count",
    "wait",
    "waited",
    "Outcome",
    "Last",
    "Seen",
    "Transient",
)  # the keys of a record WaitFor returns


def wait_for(
    function_arn: str,
    check: str,
    record: str,
    schedule: str,
    ids: dict[str, Any],
    *,
    next_state: str,
    catch_to: str,
    catch_path: str = "$.error",
) -> State:
    """Task: WaitFor ``check`` with the waits of ``schedule``, its record at ``$.polls.<record>``."""
    if not function_arn:
        raise ValueError(f"the {check} wait needs the WaitFor function's ARN (WorkflowRefs.wait_for_function_arn)")
    return {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {
            "FunctionName": function_arn,
            "Payload": {
                "check": check,
                "record": record,
                "polls.$": "$.polls",
                "waits.$": f"{WAITS}.{schedule}",
                **ids,
            },
        },
        "ResultSelector": {key + ".$": f"$.Payload.{key}" for key in WAIT_FOR_RECORD},
        "ResultPath": poll_record(record),
        "Retry": retry_lambda(),
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": catch_path, "Next": catch_to}],
        "Next": next_state,
    }


def waiting_rules(record: str, wait_state: str, over: str) -> list[dict[str, Any]]:
    """The first Choice rules after a WaitFor Task: wait and ask again, or the loop's bound is reached."""
    outcome = f"{poll_record(record)}.Outcome"
    return [
        {"Variable": outcome, "StringEquals": WAITING, "Next": wait_state},
        {"Variable": outcome, "StringEquals": OVER, "Next": over},
    ]


def wait_for_next(record: str, task: str) -> State:
    """Wait: the wait that did not fit in the last invocation, then WaitFor again (it checks at once)."""
    return wait(f"{poll_record(record)}.wait", task)


def last(record: str, key: str) -> str:
    """Path of ``key`` of the last description WaitFor returned for ``record``."""
    return f"{poll_record(record)}.Last.{key}"


def parallel(branches: list[dict[str, Any]], *, next_state: str, catch_to: str | None = None) -> State:
    """A Parallel whose branches each end with the whole state data; their outputs are merged, later branches
    winning on a top-level key both set (each branch writes its own keys)."""
    merged = "$[0]"
    for i in range(1, len(branches)):
        merged = f"States.JsonMerge({merged}, $[{i}], false)"
    state: State = {
        "Type": "Parallel",
        "Branches": branches,
        "ResultSelector": {"merged.$": merged},
        "ResultPath": "$.parallel",
        "OutputPath": "$.parallel.merged",
        "Next": next_state,
    }
    if catch_to:
        state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": catch_to}]
    return state


def ends_branch(state: State) -> State:
    """``state`` ending its Parallel branch (End instead of Next)."""
    out = {k: v for k, v in state.items() if k != "Next"}
    out["End"] = True
    return out


def succeed() -> State:
    return {"Type": "Succeed"}


def all_states(definition: dict[str, Any]) -> dict[str, State]:
    """Every state of a definition by name, the states of Parallel branches included."""
    found: dict[str, State] = {}

    def visit(states: dict[str, State]) -> None:
        for name, state in states.items():
            found[name] = state
            for branch in state.get("Branches", []):
                visit(branch["States"])

    visit(definition["States"])
    return found
