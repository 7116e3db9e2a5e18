"""Small builders for Amazon States Language states, and the graph that holds them.

Each builder returns a plain dict. ``Graph`` refuses duplicate state names at
build time, so two steps can never silently share a name.
"""

from __future__ import annotations

from collections.abc import Mapping
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
}


def error_names(service: str, code: str) -> list[str]:
    """Every spelling of an aws-sdk / optimized-integration error name: prefixes x with and without ``Exception``."""
    base = code[: -len("Exception")] if code.endswith("Exception") else code
    names = []
    for prefix in _PREFIX_SPELLINGS.get(service, (service,)):
        for suffix in ("Exception", ""):
            names.append(f"{prefix}.{base}{suffix}")
    return names


# Describe calls are idempotent: retry any task failure (throttling included). Two retries: a polling loop
# asks again at its next turn anyway, and every retry adds 3 events to the execution history (asl/history.py).
RETRY_READ = [
    {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 2.0},
]
# Creates carry a per-run client token (FSx, EC2) or are idempotent (UpdateComputeEnvironment): any
# failure may be retried.
RETRY_WRITE = [
    {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 2, "MaxAttempts": 4, "BackoffRate": 2.0},
]
# RegisterJobDefinition and SubmitJob have no client token: a retry after a request that was carried out
# would leave a second revision or run a second job. Only throttling is retried: Batch models no
# throttling error, so it arrives as the service's generic error or as the throttling code, under
# whichever spelling Step Functions gives it.
RETRY_THROTTLED = [
    {
        "ErrorEquals": [
            *error_names("Batch", "BatchException"),
            *error_names("Batch", "TooManyRequestsException"),
            *error_names("Batch", "ThrottlingException"),
        ],
        "IntervalSeconds": 2,
        "MaxAttempts": 4,
        "BackoffRate": 2.0,
    },
]
# Cleanup must get through transient refusals: a compute environment still
# UPDATING, a data repository task still running (DeleteFileSystem is refused
# while one is PENDING/EXECUTING). Bounded: 15 s growing by half each time, about 12 minutes in all.
RETRY_CLEANUP = [
    {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 15, "MaxAttempts": 8, "BackoffRate": 1.5},
]


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


# Lambda's transient errors, as Step Functions names them (Step Functions developer guide, "Handling errors").
LAMBDA_TRANSIENT_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)


def retry_lambda(max_attempts: int) -> list[dict[str, Any]]:
    """A Lambda Task's Retry: its transient errors, ``max_attempts`` more times, 2 s growing twofold."""
    return [
        {
            "ErrorEquals": list(LAMBDA_TRANSIENT_ERRORS),
            "IntervalSeconds": 2,
            "MaxAttempts": max_attempts,
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
        "Retry": retry_lambda(4),
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
WAIT_FOR_RECORD = ("count", "wait", "waited", "Outcome", "Last", "Seen")  # the keys of a record WaitFor returns
# WaitFor's describe calls are retried by boto3 and its next check comes soon: Lambda's own transient errors are
# retried twice (each retry is 3 more history events).
RETRY_WAIT_FOR_ATTEMPTS = 2


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
        "Retry": retry_lambda(RETRY_WAIT_FOR_ATTEMPTS),
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
