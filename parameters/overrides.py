"""Per-run overrides: the execution input of one run (docs/workflow-v2.md, "Execution input"), checked by
``validate_overrides`` at the start of every run (ExtractParameters) and, before anything is started, by the tools."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .payload import payload_problems
from .table import BY_NAME
from .text import NO_CONTROL, ParameterError, has_control, show_key, show_short
from .validation import coerce

INPUT_KEYS = ("command", "environment", "vcpus", "memory", "imageTag", "arraySize", "warmComputeCapacity")
MAX_COMMAND_ITEMS = 100
MAX_COMMAND_ITEM_CHARS = 4096
MAX_ENVIRONMENT_VARIABLES = 100
# Batch reserves names starting AWS_BATCH (SubmitJob ContainerOverrides.environment).
RESERVED_ENVIRONMENT_PREFIX = "AWS_BATCH"
# Batch ArrayProperties.size: 2-10,000 (1 here means "not an array job").
MAX_ARRAY_SIZE = 10_000
_ENVIRONMENT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# ECR image tag.
_IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def validate_overrides(raw_input: Any, max_vcpus: int) -> dict[str, Any]:
    """Validate the execution input (per-run overrides); every problem goes into one ParameterError.

    Returns the given keys only, typed. ``max_vcpus`` is the compute environment's maxvCpus: a job asking for
    more would never leave RUNNABLE. (vcpus x arraySize is not bounded by it: the children queue.)
    """
    if not isinstance(raw_input, Mapping):
        raise ParameterError(
            f"execution input={show_short(raw_input)} is not accepted: accepted a JSON object with any of the "
            f"keys {', '.join(INPUT_KEYS)}"
        )
    problems: list[str] = []
    typed: dict[str, Any] = {}
    for key in raw_input:
        if key not in INPUT_KEYS:
            problems.append(
                f"execution input key {show_short(key)} is not accepted: accepted keys {', '.join(INPUT_KEYS)}"
            )
    checks: dict[str, Callable[[Any], Any]] = {
        "command": _command,
        "environment": _environment,
        "vcpus": lambda v: _input_int("vcpus", v, 1, max_vcpus, f"computeEnvironmentMaxvCpus={max_vcpus}"),
        "memory": lambda v: _input_int("memory", v, 4, 10_000_000, "10000000 (MiB)"),
        "imageTag": _image_tag,
        "arraySize": lambda v: _input_int("arraySize", v, 1, MAX_ARRAY_SIZE, f"{MAX_ARRAY_SIZE} (1: a single job)"),
        "warmComputeCapacity": _input_bool,
    }
    for key in INPUT_KEYS:
        if key in raw_input:
            try:
                typed[key] = checks[key](raw_input[key])
            except ParameterError as err:
                problems.append(str(err))
    if not problems:
        # Each key is accepted on its own: the request they make together must still fit (Batch's SubmitJob payload).
        problems += payload_problems(typed)
    if problems:
        raise ParameterError("; ".join(problems))
    return typed


def _input_problem(key: str, value: Any, accepted: str) -> ParameterError:
    return ParameterError(f"execution input {key}={show_short(value)} is not accepted: accepted {accepted}")


def _input_int(key: str, value: Any, low: int, high: int, high_text: str) -> int:
    accepted = f"an integer from {low} to {high_text}"
    try:
        typed = coerce(BY_NAME["jobDefinitionVcpus"], value)  # any int parameter: the int spellings
    except ParameterError:
        raise _input_problem(key, value, accepted) from None
    if not low <= typed <= high:
        raise _input_problem(key, value, accepted)
    return typed


def _input_bool(value: Any) -> bool:
    try:
        return bool(coerce(BY_NAME["warmComputeCapacity"], value))
    except ParameterError:
        raise _input_problem("warmComputeCapacity", value, "true or false") from None


def _command(value: Any) -> list[str]:
    accepted = (
        f"a list of 1 to {MAX_COMMAND_ITEMS} strings of 1 to {MAX_COMMAND_ITEM_CHARS} characters, "
        f"{NO_CONTROL} (the container's command)"
    )
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= MAX_COMMAND_ITEMS
        or not all(
            isinstance(item, str) and 1 <= len(item) <= MAX_COMMAND_ITEM_CHARS and not has_control(item)
            for item in value
        )
    ):
        raise _input_problem("command", value, accepted)
    return list(value)


def _environment(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or len(value) > MAX_ENVIRONMENT_VARIABLES:
        raise _input_problem(
            "environment", value, f"a JSON object of at most {MAX_ENVIRONMENT_VARIABLES} names to string values"
        )
    problems = []
    for name, text in value.items():
        shown = f"environment.{show_key(name)}"
        if (
            not isinstance(name, str)
            or not _ENVIRONMENT_NAME.fullmatch(name)
            or name.startswith(RESERVED_ENVIRONMENT_PREFIX)
        ):
            problems.append(
                f"execution input environment name {show_short(name)} is not accepted: accepted names matching "
                f"[A-Za-z_][A-Za-z0-9_]* not starting {RESERVED_ENVIRONMENT_PREFIX} (Batch reserves those)"
            )
        elif not isinstance(text, str) or has_control(text):
            problems.append(str(_input_problem(shown, text, f"a string, {NO_CONTROL}")))
    if problems:
        raise ParameterError("; ".join(problems))
    return dict(value)


def _image_tag(value: Any) -> str:
    if not isinstance(value, str) or not _IMAGE_TAG.fullmatch(value):
        raise _input_problem(
            "imageTag", value, "an image tag: a letter, digit or _ then up to 127 letters, digits, _ . or -"
        )
    return value
