"""ExtractParameters Lambda: validate the run-time secret at the start of every workflow run.

Contract (docs/workflow-v2.md, "ExtractParameters"):

- event ``{"secretString": str, "executionName": str, "input": object}`` (``input`` is the execution
  input, ``$$.Execution.Input``: the per-run overrides; absent means ``{}``);
- environment ``MODE`` (taskexport | autoexport), ``MAX_VCPUS`` (the compute
  environment's maxvCpus), ``NAME_PREFIX`` (prefix of the per-run resource names);
- returns ``{"ok": false, "error": "<one line naming key, value, accepted>", "params": {}, "derived": {}}``
  or ``{"ok": true, "error": "", "params": {...}, "derived": {...}}`` (always the four keys, so the
  state machine's ResultSelector can pick each).

A bad secret, execution name or execution input is the user's mistake: it is
reported as ``ok: false`` (every problem in one line) so the workflow can fail
with a readable message before creating anything. A bad environment or event
shape is a deployment bug: it raises.

``derived`` (every key always present):

- ``autoExportEvents``, ``launchTemplateName``, ``jobDefinitionName``, ``jobName``, ``clientRequestToken``;
- ``jobVcpus``, ``jobMemory``: strings (Batch ResourceRequirements values), the override or the secret's;
- ``imageTag``: ``"latest"`` unless overridden;
- ``containerOverrides``: ``{"Environment": [{"Name", "Value"}...]}`` plus ``"Command"`` when given;
- ``arraySize``: int, 1 = a single job;
- ``warmCapacity``: ``{}`` or ``{"DesiredvCpus": min(MAX_VCPUS, vcpus x arraySize)}``;
- ``jobTimeoutSeconds``: ``jobTimeoutMinutes * 60``;
- ``waits``: loop name -> list of wait seconds (``parameters.loop_schedules``), the mode's loops only:
  ``fileSystem``, ``computeEnvironment``, ``associationUpdate``, ``otherTask``, ``export``, ``runnable``,
  ``jobStop`` in both modes, and ``metrics`` in autoexport.

The ``parameters`` package is packaged next to this file in the deployed Lambda (``asl/naming.py``
``LAMBDA_FILES``), so it is imported as a top-level package. Standard library only; Python 3.11 and 3.12.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from typing import Any

from parameters import (
    DATA_REPOSITORY_EVENTS,
    MODES,
    ParameterError,
    check_execution_name,
    container_overrides,
    loop_schedules,
    parse_integer,
    parse_secret,
    validate_overrides,
    validate_runtime,
)

# Auto export events of the data repository association (FSx API, AutoExportPolicy.Events).
AUTO_EXPORT_EVENTS = DATA_REPOSITORY_EVENTS
DEFAULT_IMAGE_TAG = "latest"

# Batch job, job definition and launch template names: letters, digits, '-' and '_', at most 128.
# The execution name is at most 80 characters (parameters.check_execution_name), plus '-':
# a prefix of at most 47 keeps every derived name within 128.
_NAME_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,47}")


class ConfigurationError(RuntimeError):
    """The Lambda's environment or event is wrong: a deployment bug, not a user mistake."""


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Validate the secret and the execution name; derive what the workflow needs."""
    mode, max_vcpus, name_prefix = _environment()
    secret_string = event["secretString"]
    execution_name = event["executionName"]
    if not isinstance(secret_string, str):
        raise ConfigurationError(f"event secretString is a {type(secret_string).__name__}: expected a string")
    if not isinstance(execution_name, str):
        raise ConfigurationError(f"event executionName is a {type(execution_name).__name__}: expected a string")
    # No input at all (a state machine that does not pass it, or StartExecution without input) is no override;
    # an input that is present but not an object is the user's mistake, refused below.
    execution_input = event.get("input", {})

    # Collect every problem, so one failed run tells the user all there is to fix.
    problems: list[str] = []
    try:
        check_execution_name(execution_name)
    except ParameterError as err:
        problems.append(str(err))
    typed: dict[str, Any] | None = None
    try:
        raw = parse_secret(secret_string)
        typed = validate_runtime(raw, mode, max_vcpus)
    except ParameterError as err:
        problems.append(str(err))
    overrides: dict[str, Any] | None = None
    try:
        overrides = validate_overrides(execution_input, max_vcpus)
    except ParameterError as err:
        problems.append(str(err))
    if problems or typed is None or overrides is None:
        return {"ok": False, "error": _one_line("; ".join(problems)), "params": {}, "derived": {}}
    derived = derive(typed, mode, f"{name_prefix}-{execution_name}", overrides, max_vcpus=max_vcpus)
    return {"ok": True, "error": "", "params": typed, "derived": derived}


def derive(
    params: Mapping[str, Any],
    mode: str,
    run_name: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    max_vcpus: int,
) -> dict[str, Any]:
    """Values the state machine uses, from the validated runtime parameters and per-run overrides."""
    overrides = overrides or {}
    vcpus = overrides.get("vcpus", params["jobDefinitionVcpus"])
    memory = overrides.get("memory", params["jobDefinitionMemory"])
    array_size = overrides.get("arraySize", 1)
    warm = overrides.get("warmComputeCapacity", params["warmComputeCapacity"])
    return {
        "autoExportEvents": list(AUTO_EXPORT_EVENTS) if params["autoExport"] else [],
        # Batch ResourceRequirements values are strings.
        "jobVcpus": str(vcpus),
        "jobMemory": str(memory),
        "imageTag": overrides.get("imageTag", DEFAULT_IMAGE_TAG),
        "containerOverrides": container_overrides(overrides),
        "arraySize": array_size,
        # Every child of an array asks for vcpus; the environment cannot go past maxvCpus (the rest queue).
        "warmCapacity": {"DesiredvCpus": min(max_vcpus, vcpus * array_size)} if warm else {},
        "jobTimeoutSeconds": params["jobTimeoutMinutes"] * 60,
        "waits": loop_schedules(params, mode),
        "launchTemplateName": run_name,
        "jobDefinitionName": run_name,
        "jobName": run_name,
        "clientRequestToken": client_request_token(run_name),
    }


def client_request_token(run_name: str) -> str:
    """Idempotency token of the run's create calls (the workflow appends "-fs", "-dra", ...).

    FSx accepts at most 63 characters of [A-Za-z0-9_.-]; 48 hex characters leave room for the suffixes.
    """
    return hashlib.sha256(run_name.encode()).hexdigest()[:48]


def _environment() -> tuple[str, int, str]:
    """MODE, MAX_VCPUS and NAME_PREFIX; a missing or bad one is a deployment bug and raises."""
    try:
        mode = os.environ["MODE"]
        max_vcpus_text = os.environ["MAX_VCPUS"]
        name_prefix = os.environ["NAME_PREFIX"]
    except KeyError as err:
        raise ConfigurationError(f"environment variable {err.args[0]} is not set") from None
    if mode not in MODES:
        raise ConfigurationError(f"environment MODE={mode!r} is not accepted: accepted {' or '.join(MODES)}")
    try:
        max_vcpus = parse_integer(max_vcpus_text, key="environment MAX_VCPUS", accepted="an integer >= 1")
    except ParameterError as err:
        raise ConfigurationError(str(err)) from None
    if max_vcpus < 1:
        raise ConfigurationError(f"environment MAX_VCPUS={max_vcpus_text!r} is not accepted: accepted an integer >= 1")
    if not _NAME_PREFIX.fullmatch(name_prefix):
        raise ConfigurationError(
            f"environment NAME_PREFIX={name_prefix!r} is not accepted: accepted 1-47 letters, digits, '-' or '_'"
        )
    return mode, max_vcpus, name_prefix


def _one_line(text: str) -> str:
    """Messages quote user-supplied keys; keep the error on one line whatever they hold."""
    return " ".join(text.splitlines())
