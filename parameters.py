"""The one definition of every parameter of both modes.

Each parameter has its seed name (camelCase), type, default per mode, the
modes it belongs to, whether it can be changed at run time (through the
Secrets Manager secret) and the rule its value must follow.

This module is the single source for:
- stack config validation (``settings.load_settings``),
- the secret's initial content (``runtime_defaults``),
- the validation done at the start of every run (``lambda/extract_parameters.py``
  ships this file next to the handler).

It is plain standard-library Python so that it runs unchanged in the Lambda
runtime (Python 3.12) and in the Pulumi program (Python 3.11).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

TASK_EXPORT = "taskexport"
AUTO_EXPORT = "autoexport"
MODES = (TASK_EXPORT, AUTO_EXPORT)


class ParameterError(ValueError):
    """A parameter value is not accepted. The message names key, value and rule."""


@dataclass(frozen=True)
class Parameter:
    """One parameter: its name as in the seeds, type, defaults and rule."""

    name: str
    kind: str  # "bool" | "int" | "str" | "str_list"
    defaults: Mapping[str, Any]  # mode -> default (a mode absent: not a parameter of it)
    runtime_modes: frozenset[str]  # modes in which the secret carries it
    accepted: str  # what is accepted, in words, for error messages
    check: Callable[[Any], bool] | None = None
    description: str = ""

    def applies_to(self, mode: str) -> bool:
        return mode in self.defaults

    def is_runtime(self, mode: str) -> bool:
        return mode in self.runtime_modes


_BOTH = frozenset(MODES)
_TASK_ONLY = frozenset({TASK_EXPORT})
_AUTO_ONLY = frozenset({AUTO_EXPORT})
_NONE: frozenset[str] = frozenset()


def _both(value: Any) -> dict[str, Any]:
    return {TASK_EXPORT: value, AUTO_EXPORT: value}


def _int_range(low: int, high: int) -> tuple[str, Callable[[int], bool]]:
    return f"an integer from {low} to {high}", lambda v: low <= v <= high


def _scratch2_capacity(value: int) -> bool:
    # FSx API Reference, CreateFileSystem: SCRATCH_2 takes 1200, 2400 or a multiple of 2400 GiB.
    return value in (1200, 2400) or (value > 0 and value % 2400 == 0)


_ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,39}$")
# ECR CreateRepository repositoryName pattern.
_ECR_NAME = re.compile(r"^(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_INSTANCE_TYPE = re.compile(r"^(optimal|default_x86_64|default_arm64|[a-z0-9-]+(\.[a-z0-9-]+)?)$")

_wait = _int_range(1, 3600)
_timeout = _int_range(1, 10080)

PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "envName", "str", {TASK_EXPORT: "TaskExport", AUTO_EXPORT: "AutoExport"}, _NONE,
        "a letter then up to 39 letters, digits or hyphens", _ENV_NAME.match,
        "environment name, prefix of every resource name",
    ),
    Parameter(
        "ecrRepositoryName", "str",
        {TASK_EXPORT: "batch-job-with-lustre-task-export", AUTO_EXPORT: "batch-job-with-lustre-auto-export"},
        _NONE, "an ECR repository name (2-256 lowercase letters, digits, . _ - /)", _ECR_NAME.match,
        "ECR repository the job image is pulled from",
    ),
    Parameter(
        "computeEnvironmentType", "str", _both("SPOT"), _NONE, "", None,
        "Batch compute resource type (EC2 or SPOT: Fargate cannot mount Lustre)",
    ),
    Parameter(
        "computeEnvironmentAllocationStrategy", "str", _both("BEST_FIT_PROGRESSIVE"), _NONE, "", None,
        "allocation strategy; it must allow launch-template updates",
    ),
    Parameter(
        "computeEnvironmentInstanceTypes", "str_list", _both(["optimal"]), _NONE,
        "a non-empty list of EC2 instance types or families (e.g. [\"optimal\"], [\"c6i\", \"m6i.4xlarge\"])",
        lambda v: bool(v) and all(_INSTANCE_TYPE.match(t) for t in v),
        "instance types of the compute environment",
    ),
    Parameter("computeEnvironmentMinvCpus", "int", _both(0), _NONE, *_int_range(0, 100000), "minimum vCPUs"),
    Parameter("computeEnvironmentMaxvCpus", "int", _both(256), _NONE, *_int_range(1, 100000), "maximum vCPUs"),
    Parameter("computeEnvironmentDesiredvCpus", "int", _both(0), _NONE, *_int_range(0, 100000), "desired vCPUs"),
    Parameter(
        "autoExport", "bool", {TASK_EXPORT: False, AUTO_EXPORT: True}, _BOTH, "true or false", None,
        "export to S3 automatically while the job runs",
    ),
    Parameter("deleteLustre", "bool", _both(True), _BOTH, "true or false", None,
              "delete the file system once its data is safely in S3"),
    Parameter(
        "lustreFileSystemTypeVersion", "str", _both("2.15"), _BOTH, "\"2.12\" or \"2.15\"",
        lambda v: v in ("2.12", "2.15"),
        "Lustre version (data repository associations need 2.12 or 2.15)",
    ),
    Parameter(
        "lustreStorageCapacity", "int", _both(2400), _BOTH,
        "1200, 2400 or a multiple of 2400 (GiB, SCRATCH_2)", _scratch2_capacity, "storage capacity in GiB",
    ),
    Parameter("lustreImportedFileChunkSize", "int", _both(1024), _BOTH, *_int_range(1, 512000),
              "import chunk size in MiB"),
    Parameter("jobDefinitionRetryAttempts", "int", _both(5), _BOTH, *_int_range(1, 10),
              "job attempts (Batch allows 1-10)"),
    Parameter("jobDefinitionVcpus", "int", _both(32), _BOTH, *_int_range(1, 100000), "vCPUs per job"),
    Parameter("jobDefinitionMemory", "int", _both(30000), _BOTH, *_int_range(4, 10_000_000), "memory per job in MiB"),
    Parameter("waitForLustreCreationSeconds", "int", _both(30), _BOTH, *_wait,
              "seconds between file system status checks"),
    Parameter("waitForJobCompletionSeconds", "int", _both(300), _BOTH, *_wait, "seconds between job status checks"),
    Parameter("waitForDataRepositoryTaskSeconds", "int", {TASK_EXPORT: 300}, _TASK_ONLY, *_wait,
              "seconds between export task status checks"),
    Parameter("waitForCheckMetricsSeconds", "int", {AUTO_EXPORT: 60}, _AUTO_ONLY, *_wait,
              "seconds between export-queue metric checks"),
    Parameter(
        "lambdaPeriodSeconds", "int", {AUTO_EXPORT: 60}, _AUTO_ONLY, "a multiple of 60 from 60 to 3600",
        lambda v: 60 <= v <= 3600 and v % 60 == 0, "metric period of the export-queue check",
    ),
    # At least 5 minutes: CloudWatch publishes datapoints late, and a shorter quiet window could
    # call the export done before the last files left the queue (seed: "lambdaTimeDiffMinutes").
    Parameter("lambdaTimeDiffMinutes", "int", {AUTO_EXPORT: 15}, _AUTO_ONLY, *_int_range(5, 1440),
              "metric window; also how long the queue must stay quiet after the job"),
    # Bounds on every wait: not in the seeds, which could wait forever.
    Parameter("lustreCreationTimeoutMinutes", "int", _both(60), _BOTH, *_timeout,
              "give up if the file system and its association are not AVAILABLE by then"),
    Parameter("jobTimeoutMinutes", "int", _both(1440), _BOTH, *_timeout,
              "terminate the job if it has not ended this long after submission"),
    Parameter("exportTimeoutMinutes", "int", _both(720), _BOTH, *_timeout,
              "give up waiting for the export (file system kept) after this long"),
)

BY_NAME: dict[str, Parameter] = {p.name: p for p in PARAMETERS}

# Polls allowed after jobTimeoutMinutes, once the job was asked to terminate.
JOB_TERMINATION_GRACE_POLLS = 10
# Polls allowed for the association to leave UPDATING after auto export is turned off.
ASSOCIATION_UPDATE_MAX_POLLS = 60

_EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def parameters_for(mode: str, runtime: bool | None = None) -> list[Parameter]:
    """Parameters of ``mode``; with ``runtime`` set, only those that are (not) in the secret."""
    check_mode(mode)
    return [
        p for p in PARAMETERS if p.applies_to(mode) and (runtime is None or p.is_runtime(mode) == runtime)
    ]


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ParameterError(f"mode={mode!r} is not accepted: accepted {' or '.join(MODES)}")


def coerce(param: Parameter, value: Any) -> Any:
    """Convert a JSON or config value to the parameter's type, or raise ParameterError.

    Accepts JSON numbers/booleans and their string spellings ("2400", "true"),
    as stack config holds strings and a hand-edited secret may hold either.
    """
    kind = param.kind
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]+\s*", value):
            return int(value)
    elif kind == "str":
        if isinstance(value, str):
            return value.strip()
        if param.name == "lustreFileSystemTypeVersion" and isinstance(value, float):
            return f"{value:.2f}"
    elif kind == "str_list":
        if isinstance(value, str):
            value = [t.strip() for t in value.split(",") if t.strip()]
        if isinstance(value, list) and all(isinstance(t, str) for t in value):
            return [t.strip() for t in value]
    raise ParameterError(_message(param, value))


def _key(key: Any) -> str:
    """A key as the user wrote it, quoted when it is not a plain name (so a message stays on one line)."""
    return key if isinstance(key, str) and re.fullmatch(r"[A-Za-z0-9_]+", key) else _show(key)


def _accepted(param: Parameter) -> str:
    return param.accepted or {"bool": "true or false", "int": "an integer"}.get(param.kind, "a string")


def _message(param: Parameter, value: Any) -> str:
    return f"{param.name}={_show(value)} is not accepted: accepted {_accepted(param)}"


def _show(value: Any) -> str:
    import json

    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def validate_value(param: Parameter, value: Any) -> Any:
    """Coerce and check one value against its rule."""
    typed = coerce(param, value)
    if param.check is not None and not param.check(typed):
        raise ParameterError(_message(param, value))
    return typed


def validate(raw: Mapping[str, Any], mode: str, names: Iterable[str], *, where: str) -> dict[str, Any]:
    """Validate ``raw`` holding exactly ``names``; collect every problem into one ParameterError.

    ``where`` says where the values come from ("stack config", "secret") for the message.
    """
    wanted = list(names)
    problems: list[str] = []
    unknown = sorted(set(raw) - set(wanted))
    for key in unknown:
        problems.append(f"{_key(key)} is not a parameter of {where} in mode {mode}: accepted keys {', '.join(wanted)}")
    typed: dict[str, Any] = {}
    for name in wanted:
        if name not in raw:
            problems.append(f"{name} is missing from {where}: accepted {_accepted(BY_NAME[name])}")
            continue
        try:
            typed[name] = validate_value(BY_NAME[name], raw[name])
        except ParameterError as err:
            problems.append(str(err))
    if not problems:
        problems.extend(cross_field_problems(typed, mode))
    if problems:
        raise ParameterError("; ".join(problems))
    return typed


def cross_field_problems(values: Mapping[str, Any], mode: str) -> list[str]:
    """Rules between parameters; only those whose parameters are present are checked."""
    problems = []
    if mode == AUTO_EXPORT and values.get("autoExport") is False:
        problems.append(
            "autoExport=false is not accepted in mode autoexport: accepted true "
            "(without auto export nothing reaches S3; use the taskexport stack for explicit export)"
        )
    lo, want, hi = (values.get(k) for k in (
        "computeEnvironmentMinvCpus", "computeEnvironmentDesiredvCpus", "computeEnvironmentMaxvCpus"))
    if None not in (lo, want, hi) and not (lo <= want <= hi):
        problems.append(
            f"computeEnvironmentMinvCpus={lo}, computeEnvironmentDesiredvCpus={want}, "
            f"computeEnvironmentMaxvCpus={hi} are not accepted: accepted min <= desired <= max"
        )
    period, window = values.get("lambdaPeriodSeconds"), values.get("lambdaTimeDiffMinutes")
    if period is not None and window is not None and window * 60 < 2 * period:
        problems.append(
            f"lambdaTimeDiffMinutes={window} with lambdaPeriodSeconds={period} is not accepted: accepted "
            "a window of at least two periods (lambdaTimeDiffMinutes * 60 >= 2 * lambdaPeriodSeconds), "
            "or a metric window could hold no datapoint and read as a drained export queue"
        )
    return problems


def runtime_defaults(config_values: Mapping[str, Any], mode: str) -> dict[str, Any]:
    """The secret's initial content: the runtime parameters' values from validated stack config."""
    return {p.name: config_values[p.name] for p in parameters_for(mode, runtime=True)}


def validate_runtime(raw: Mapping[str, Any], mode: str, max_vcpus: int) -> dict[str, Any]:
    """Validate the secret's content at the start of a run (the job must fit the compute environment)."""
    if not isinstance(raw, Mapping):
        raise ParameterError(f"secret content={_show(raw)} is not accepted: accepted a JSON object")
    names = [p.name for p in parameters_for(mode, runtime=True)]
    typed = validate(raw, mode, names, where="the secret")
    if typed["jobDefinitionVcpus"] > max_vcpus:
        raise ParameterError(
            f"jobDefinitionVcpus={typed['jobDefinitionVcpus']} is not accepted: accepted at most "
            f"computeEnvironmentMaxvCpus={max_vcpus}, or the job would wait forever in RUNNABLE"
        )
    return typed


def check_execution_name(name: str) -> None:
    """Per-run resource names embed the execution name; Batch names allow only [A-Za-z0-9_-]."""
    if not isinstance(name, str) or not _EXECUTION_NAME.match(name):
        raise ParameterError(
            f"execution name={_show(name)} is not accepted: accepted 1-80 letters, digits, '-' or '_'"
        )


def poll_limit(timeout_minutes: int, wait_seconds: int) -> int:
    """How many status checks fit in ``timeout_minutes`` when checking every ``wait_seconds``."""
    return max(1, math.ceil(timeout_minutes * 60 / wait_seconds))
