"""The SubmitJob request of a run, and the bounds AWS puts on it, checked before anything runs.

``submit_job_parameters`` is the Task's ``Parameters`` (asl/job.py builds the SubmitJob states from it), and
``container_overrides`` is what ExtractParameters derives from the run's overrides (``derived.containerOverrides``).
``submit_job_request`` resolves the same Parameters on a run's values and spells them as the Batch API does, so
``payload_problems`` measures the request the workflow will send, not a copy of it. The parts the stack sets
(job queue ARN, tags) and the run name are counted at the largest AWS accepts: a run accepted here fits
whatever the stack's names are. Sources: docs/aws-rules.md, "AWS Batch: what a run's input can reach".
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .table import BY_NAME
from .text import ParameterError

# AWS Batch service quotas (docs.aws.amazon.com/batch/latest/userguide/service_limits.html): "Maximum job payload
# size (for SubmitJob API operations): 30 KiB"; it cannot be raised.
SUBMIT_JOB_PAYLOAD_LIMIT_BYTES = 30 * 1024
PAYLOAD_SOURCE = "AWS Batch service quotas, SubmitJob payload"

# Batch names (job, job queue, job definition): up to 128 letters, digits, hyphens and underscores (Batch API
# Reference, SubmitJob jobName; CreateJobQueue; RegisterJobDefinition). A tag key is at most 128 characters and a
# value at most 256 (Batch API Reference, TagResource).
MAX_BATCH_NAME = 128
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
# The longest ARN prefix among AWS partitions and Regions, with margin.
_ARN_PREFIX = "arn:aws-iso-b:batch:" + "r" * 24 + ":123456789012:"
WORST_JOB_QUEUE_ARN = _ARN_PREFIX + "job-queue/" + "q" * MAX_BATCH_NAME
WORST_JOB_DEFINITION_ARN = _ARN_PREFIX + "job-definition/" + "d" * MAX_BATCH_NAME + ":" + "9" * 10
WORST_JOB_NAME = "j" * MAX_BATCH_NAME
# The stack tags every job (stack, mode, run): three tags at the largest a tag can be.
WORST_TAGS = {str(i) * MAX_TAG_KEY: "v" * MAX_TAG_VALUE for i in range(3)}
WORST_EXECUTION_NAME = "e" * 80  # Step Functions execution names: at most 80 characters

# Where the worst-case request's values sit in the state data it is resolved on.
_DERIVED = "$.derived"
_JOB_DEFINITION_ARN = "$.jobDefinitionArn"
_JOB_QUEUE_ARN = "$.jobQueueArn"


def container_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``derived.containerOverrides``: the run's environment (always a list) and command (when given), in Step
    Functions' spelling of the SubmitJob members."""
    out: dict[str, Any] = {
        "Environment": [{"Name": name, "Value": value} for name, value in overrides.get("environment", {}).items()]
    }
    if "command" in overrides:
        out["Command"] = list(overrides["command"])
    return out


def submit_job_parameters(
    *, derived: str, job_definition_arn: str, job_queue_arn: str, tags: Mapping[str, str], array: bool
) -> dict[str, Any]:
    """The SubmitJob Task's Parameters: ``derived``, ``job_definition_arn`` and ``job_queue_arn`` (the run's lane's
    queue) are JSONPaths into the state data; ``tags`` may hold ``key.$`` paths."""
    parameters: dict[str, Any] = {
        "JobName.$": f"{derived}.jobName",
        "JobQueue.$": job_queue_arn,
        "JobDefinition.$": job_definition_arn,
        "ContainerOverrides.$": f"{derived}.containerOverrides",
        # Batch ends an attempt that runs longer (for an array: each child's attempt).
        "Timeout": {"AttemptDurationSeconds.$": f"{derived}.jobTimeoutSeconds"},
        "PropagateTags": True,
        "Tags": dict(tags),
    }
    if array:
        parameters["ArrayProperties"] = {"Size.$": f"{derived}.arraySize"}
    return parameters


def resolve(template: Any, state: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    """``template`` with each ``key.$`` replaced by ``key`` and the value its plain JSONPath selects (``$.a.b`` in
    ``state``, ``$$.a.b`` in ``context``), as Step Functions does for Parameters without intrinsic functions (but
    ``States.Format('{}', <plain path>)``: the value as a string)."""
    if isinstance(template, list):
        return [resolve(item, state, context) for item in template]
    if not isinstance(template, Mapping):
        return template
    out: dict[str, Any] = {}
    for key, value in template.items():
        if key.endswith(".$"):
            out[key[:-2]] = _select(value, state, context)
        else:
            out[key] = resolve(value, state, context)
    return out


# The one intrinsic function a Parameters template here may hold: a number as a string (a lane's index in a tag).
_AS_STRING = re.compile(r"States\.Format\('\{\}', (\$[^()\[\]]*)\)")


def _select(path: str, state: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    as_string = _AS_STRING.fullmatch(path)
    if as_string is not None:
        return str(_select(as_string.group(1), state, context))
    root, rest = (context, path[3:]) if path.startswith("$$.") else (state, path[2:])
    if not path.startswith("$") or "(" in path or "[" in path:
        raise ValueError(f"{path!r} is not a plain JSONPath")
    found: Any = root
    for part in rest.split("."):
        found = found[part]
    return found


def api_request(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Step Functions' PascalCase members spelt as the Batch API's (``JobName`` -> ``jobName``); the keys of the
    ``Tags`` map are the user's and stay as they are."""

    def member(name: str) -> str:
        return name[:1].lower() + name[1:]

    def convert(value: Any) -> Any:
        if isinstance(value, list):
            return [convert(item) for item in value]
        if isinstance(value, Mapping):
            return {member(k): (dict(v) if k == "Tags" else convert(v)) for k, v in value.items()}
        return value

    converted: dict[str, Any] = convert(parameters)
    return converted


def payload_bytes(request: Mapping[str, Any]) -> int:
    """Size of the request body as an AWS SDK sends it (JSON, non-ASCII escaped, botocore's separators)."""
    return len(json.dumps(request).encode("utf-8"))


def worst_case_request(overrides: Mapping[str, Any], job_timeout_seconds: int) -> dict[str, Any]:
    """The SubmitJob request of a run with these overrides, the stack's parts at their largest."""
    array_size = int(overrides.get("arraySize", 1))
    derived = {
        "jobName": WORST_JOB_NAME,
        "containerOverrides": container_overrides(overrides),
        "jobTimeoutSeconds": job_timeout_seconds,
        "arraySize": array_size,
    }
    parameters = submit_job_parameters(
        derived=_DERIVED,
        job_definition_arn=_JOB_DEFINITION_ARN,
        job_queue_arn=_JOB_QUEUE_ARN,
        tags=WORST_TAGS,
        array=array_size >= 2,
    )
    state = {"derived": derived, "jobDefinitionArn": WORST_JOB_DEFINITION_ARN, "jobQueueArn": WORST_JOB_QUEUE_ARN}
    return api_request(resolve(parameters, state, {"Execution": {"Name": WORST_EXECUTION_NAME}}))


def _longest_job_timeout_seconds() -> int:
    """The longest attempt timeout a run can have (jobTimeoutMinutes at its largest, a week): its digits count."""
    check = BY_NAME["jobTimeoutMinutes"].check
    return max(m for m in range(7 * 24 * 60 + 1) if check is None or check(m)) * 60


LONGEST_JOB_TIMEOUT_SECONDS = _longest_job_timeout_seconds()


def payload_problems(overrides: Mapping[str, Any]) -> list[str]:
    """One line if the SubmitJob request of a run with these (validated) overrides would exceed Batch's limit."""
    size = payload_bytes(worst_case_request(overrides, LONGEST_JOB_TIMEOUT_SECONDS))
    if size <= SUBMIT_JOB_PAYLOAD_LIMIT_BYTES:
        return []
    given = ", ".join(key for key in ("command", "environment") if key in overrides) or "the run"
    return [
        f"execution input {given} makes a SubmitJob request of {size} bytes, which is not accepted: accepted a "
        f"request of at most {SUBMIT_JOB_PAYLOAD_LIMIT_BYTES} bytes (30 KiB, {PAYLOAD_SOURCE}; the stack's names "
        f"and tags counted at their largest): shorten the command or the environment"
    ]


def check_payload(overrides: Mapping[str, Any]) -> None:
    """Raise ParameterError (one line) if the run's SubmitJob request would be refused for its size."""
    problems = payload_problems(overrides)
    if problems:
        raise ParameterError("; ".join(problems))
