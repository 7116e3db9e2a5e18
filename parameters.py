"""The one definition of every parameter of both modes.

Each parameter has its seed name (camelCase), type, default per mode, the
modes it belongs to, whether it can be changed at run time (through the
Secrets Manager secret) and the rule its value must follow.

This module is the single source for:
- stack config validation (``settings.settings_from_config`` -> ``settings.load_settings``),
- the secret's initial content (``runtime_defaults``),
- the validation done at the start of every run (``lambda/extract_parameters.py``
  ships this file next to the handler), including the execution input's per-run
  overrides (``validate_overrides``),
- the waits between checks (``backoff_schedule``) and the history budget that bounds
  how many checks a loop may make (``LOOP_CHECK_LIMITS``, applied by ``cross_field_problems``),
- the data repository event types (``DATA_REPOSITORY_EVENTS``) the association imports and, with
  ``autoExport``, exports (used by ``asl/``, the Lambda and the emulation).

It is plain standard-library Python so that it runs unchanged in the Lambda
runtime (Python 3.12) and in the Pulumi program (Python 3.11).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

TASK_EXPORT = "taskexport"
AUTO_EXPORT = "autoexport"
MODES = (TASK_EXPORT, AUTO_EXPORT)


# Data repository event types (FSx API, AutoImportPolicy / AutoExportPolicy Events): a file new in, changed in or
# deleted from the file system (export) or the bucket (import).
EVENT_NEW = "NEW"
EVENT_CHANGED = "CHANGED"
EVENT_DELETED = "DELETED"
DATA_REPOSITORY_EVENTS = (EVENT_NEW, EVENT_CHANGED, EVENT_DELETED)


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
        "envName",
        "str",
        {TASK_EXPORT: "TaskExport", AUTO_EXPORT: "AutoExport"},
        _NONE,
        "a letter then up to 39 letters, digits or hyphens",
        lambda v: _ENV_NAME.match(v) is not None,
        "environment name, prefix of every resource name",
    ),
    Parameter(
        "ecrRepositoryName",
        "str",
        {TASK_EXPORT: "batch-job-with-lustre-task-export", AUTO_EXPORT: "batch-job-with-lustre-auto-export"},
        _NONE,
        "an ECR repository name (2-256 lowercase letters, digits, . _ - /)",
        lambda v: _ECR_NAME.match(v) is not None,
        "ECR repository the job image is pulled from",
    ),
    Parameter(
        "computeEnvironmentType",
        "str",
        _both("SPOT"),
        _NONE,
        "",
        None,
        "Batch compute resource type (EC2 or SPOT: Fargate cannot mount Lustre)",
    ),
    Parameter(
        "computeEnvironmentAllocationStrategy",
        "str",
        _both("BEST_FIT_PROGRESSIVE"),
        _NONE,
        "",
        None,
        "allocation strategy; it must allow launch-template updates",
    ),
    Parameter(
        "computeEnvironmentInstanceTypes",
        "str_list",
        _both(["optimal"]),
        _NONE,
        'a non-empty list of EC2 instance types or families (e.g. ["optimal"], ["c6i", "m6i.4xlarge"])',
        lambda v: bool(v) and all(_INSTANCE_TYPE.match(t) for t in v),
        "instance types of the compute environment",
    ),
    Parameter("computeEnvironmentMinvCpus", "int", _both(0), _NONE, *_int_range(0, 100000), "minimum vCPUs"),
    Parameter("computeEnvironmentMaxvCpus", "int", _both(256), _NONE, *_int_range(1, 100000), "maximum vCPUs"),
    Parameter("computeEnvironmentDesiredvCpus", "int", _both(0), _NONE, *_int_range(0, 100000), "desired vCPUs"),
    Parameter(
        "autoExport",
        "bool",
        {TASK_EXPORT: False, AUTO_EXPORT: True},
        _BOTH,
        "true or false",
        None,
        "export to S3 automatically while the job runs",
    ),
    Parameter(
        "deleteLustre",
        "bool",
        _both(True),
        _BOTH,
        "true or false",
        None,
        "delete the file system once its data is safely in S3",
    ),
    Parameter(
        "lustreFileSystemTypeVersion",
        "str",
        _both("2.15"),
        _BOTH,
        '"2.12" or "2.15"',
        lambda v: v in ("2.12", "2.15"),
        "Lustre version (data repository associations need 2.12 or 2.15)",
    ),
    Parameter(
        "lustreStorageCapacity",
        "int",
        _both(2400),
        _BOTH,
        "1200, 2400 or a multiple of 2400 (GiB, SCRATCH_2)",
        _scratch2_capacity,
        "storage capacity in GiB",
    ),
    Parameter(
        "lustreImportedFileChunkSize", "int", _both(1024), _BOTH, *_int_range(1, 512000), "import chunk size in MiB"
    ),
    Parameter(
        "jobDefinitionRetryAttempts", "int", _both(5), _BOTH, *_int_range(1, 10), "job attempts (Batch allows 1-10)"
    ),
    Parameter("jobDefinitionVcpus", "int", _both(32), _BOTH, *_int_range(1, 100000), "vCPUs per job"),
    Parameter("jobDefinitionMemory", "int", _both(30000), _BOTH, *_int_range(4, 10_000_000), "memory per job in MiB"),
    Parameter(
        "warmComputeCapacity",
        "bool",
        _both(True),
        _BOTH,
        "true or false",
        None,
        "while the file system is created, raise the compute environment's desiredvCpus to what the job needs "
        "(at most maxvCpus) so hosts boot and wait for the mount",
    ),
    Parameter(
        "waitForLustreCreationSeconds", "int", _both(30), _BOTH, *_wait, "seconds between file system status checks"
    ),
    Parameter("waitForJobCompletionSeconds", "int", _both(300), _BOTH, *_wait, "seconds between job status checks"),
    Parameter(
        "waitForDataRepositoryTaskSeconds",
        "int",
        {TASK_EXPORT: 300},
        _TASK_ONLY,
        *_wait,
        "seconds between export task status checks",
    ),
    Parameter(
        "waitForCheckMetricsSeconds",
        "int",
        {AUTO_EXPORT: 60},
        _AUTO_ONLY,
        *_wait,
        "seconds between export-queue metric checks",
    ),
    Parameter(
        "lambdaPeriodSeconds",
        "int",
        {AUTO_EXPORT: 60},
        _AUTO_ONLY,
        "a multiple of 60 from 60 to 3600",
        lambda v: 60 <= v <= 3600 and v % 60 == 0,
        "metric period of the export-queue check",
    ),
    # At least 5 minutes: CloudWatch publishes datapoints late, and a shorter quiet window could
    # call the export done before the last files left the queue (seed: "lambdaTimeDiffMinutes").
    Parameter(
        "lambdaTimeDiffMinutes",
        "int",
        {AUTO_EXPORT: 15},
        _AUTO_ONLY,
        *_int_range(5, 1440),
        "metric window; also how long the queue must stay quiet after the job",
    ),
    # Bounds on every wait: not in the seeds, which could wait forever.
    Parameter(
        "lustreCreationTimeoutMinutes",
        "int",
        _both(60),
        _BOTH,
        *_timeout,
        "give up if the file system and its association are not AVAILABLE by then",
    ),
    Parameter(
        "jobTimeoutMinutes",
        "int",
        _both(1440),
        _BOTH,
        *_timeout,
        "terminate the job if it has not ended this long after submission",
    ),
    Parameter(
        "jobRunnableTimeoutMinutes",
        "int",
        _both(20),
        _BOTH,
        *_int_range(5, 1440),
        "terminate a job (every child of an array) still waiting to start this long after submission",
    ),
    # autoexport checks the metric every waitForCheckMetricsSeconds (60 s): 720 minutes would be about 720
    # checks, past the history budget (LOOP_CHECK_LIMITS); 240 minutes is 245.
    Parameter(
        "exportTimeoutMinutes",
        "int",
        {TASK_EXPORT: 720, AUTO_EXPORT: 240},
        _BOTH,
        *_timeout,
        "give up waiting for the export (file system kept) after this long",
    ),
    # Read by the tools only (batch_lustre/pricing.py): the dollar cost they show for each run's file system.
    Parameter(
        "lustrePricePerGibMonthUsd",
        "str",
        _both(""),
        _NONE,
        "empty (the price table of batch_lustre/pricing.py) or USD per GiB-month of SCRATCH_2 storage, a decimal "
        'from 0.001 to 100, e.g. "0.140"',
        lambda v: v == "" or (re.fullmatch(r"[0-9]+(\.[0-9]+)?", v) is not None and 0.001 <= float(v) <= 100),
        "price of the file system's storage the tools show costs with",
    ),
)

BY_NAME: dict[str, Parameter] = {p.name: p for p in PARAMETERS}

# --- Waits between checks (workflow v2): a backoff capped by the seed's interval ---------------------------------
# The first check of a loop comes BACKOFF_FIRST_SECONDS after it starts; each wait is BACKOFF_GROWTH times the one
# before, up to the seed's interval (the longest wait). Both are to be tuned from batch_lustre.emulation measurements: this is
# the one place that sets them (derived.waits, the history budget and its tests all follow).
BACKOFF_FIRST_SECONDS = 5
BACKOFF_GROWTH = 1.5

# Time bounds of the loops that no parameter sets (docs/workflow-v2.md, "Loop bounds").
COMPUTE_ENVIRONMENT_TIMEOUT_MINUTES = 30
ASSOCIATION_UPDATE_TIMEOUT_MINUTES = 30
JOB_STOP_TIMEOUT_MINUTES = 10

# --- History budget -----------------------------------------------------------------------------------------------
# A STANDARD execution fails, uncaught, when its history reaches 25,000 events (Step Functions service quotas). The
# job is waited on by .sync (its history does not grow with the job's length); what grows is the polling loops.
# Checks allowed per loop: a parameter set whose schedule for a loop is longer is refused. asl/history.py computes,
# from each mode's definition, the worst-case history of a run whose every loop uses its whole limit (every retry
# of every call included), and tests/test_asl_history.py shows it under 25,000 for both modes.
HISTORY_EVENT_LIMIT = 25_000
LOOP_CHECK_LIMITS: dict[str, int] = {
    "fileSystem": 200,  # defaults: 60 min, longest wait 30 s = 123 checks
    "computeEnvironment": 70,  # defaults: 30 min at 30 s = 63 checks
    "associationUpdate": 70,  # defaults: 30 min at 30 s = 63 checks
    "otherTask": 160,  # defaults: taskexport 720 min at 300 s = 153; autoexport 240 min at 300 s = 57 checks
    "export": 160,  # as otherTask
    "metrics": 250,  # autoexport defaults: 240 min at 60 s = 245 checks
    "runnable": 60,  # defaults: 20 min at 300 s = 13 checks
    "jobStop": 30,  # defaults: 10 min at 300 s = 11 checks
}
# autoexport has no seed interval for an export task (it runs one only when the metric cannot prove the export):
# its checks wait at most this long.
AUTO_EXPORT_TASK_WAIT_SECONDS = 300


@dataclass(frozen=True)
class Loop:
    """A waiting loop of the workflow: its time bound and the parameter whose seconds are its longest wait."""

    name: str  # key of derived.waits and LOOP_CHECK_LIMITS
    what: str  # "checks of ..." for messages
    wait_parameter: Mapping[str, str]  # mode -> parameter (seconds): the longest wait
    bound_parameter: str | None = None  # parameter (minutes) that bounds the loop; None: fixed_minutes
    fixed_minutes: int = 0
    fixed_wait: Mapping[str, int] = field(default_factory=dict)  # mode -> longest wait, where no parameter sets it

    def applies_to(self, mode: str) -> bool:
        return mode in self.wait_parameter or mode in self.fixed_wait

    def wait_name(self, mode: str) -> str | None:
        return self.wait_parameter.get(mode)

    def max_wait(self, values: Mapping[str, Any], mode: str) -> int:
        name = self.wait_parameter.get(mode)
        return int(values[name]) if name is not None else self.fixed_wait[mode]


_LUSTRE_WAIT = _both("waitForLustreCreationSeconds")
_EXPORT_TASK_WAIT = {TASK_EXPORT: "waitForDataRepositoryTaskSeconds"}
_AUTO_EXPORT_TASK_WAIT = {AUTO_EXPORT: AUTO_EXPORT_TASK_WAIT_SECONDS}
_METRICS_WAIT = {AUTO_EXPORT: "waitForCheckMetricsSeconds"}
_JOB_WAIT = _both("waitForJobCompletionSeconds")

LOOPS: tuple[Loop, ...] = (
    Loop("fileSystem", "checks of the file system and its association", _LUSTRE_WAIT, "lustreCreationTimeoutMinutes"),
    Loop(
        "computeEnvironment",
        "checks of the compute environment",
        _LUSTRE_WAIT,
        fixed_minutes=COMPUTE_ENVIRONMENT_TIMEOUT_MINUTES,
    ),
    Loop(
        "associationUpdate",
        "checks of the association update",
        _LUSTRE_WAIT,
        fixed_minutes=ASSOCIATION_UPDATE_TIMEOUT_MINUTES,
    ),
    Loop(
        "otherTask",
        "checks of another data repository task",
        _EXPORT_TASK_WAIT,
        "exportTimeoutMinutes",
        fixed_wait=_AUTO_EXPORT_TASK_WAIT,
    ),
    Loop(
        "export",
        "checks of the export task",
        _EXPORT_TASK_WAIT,
        "exportTimeoutMinutes",
        fixed_wait=_AUTO_EXPORT_TASK_WAIT,
    ),
    Loop("metrics", "checks of the export queue metric", _METRICS_WAIT, "exportTimeoutMinutes"),
    Loop("runnable", "checks of a job waiting to start", _JOB_WAIT, "jobRunnableTimeoutMinutes"),
    Loop("jobStop", "checks of a terminated job", _JOB_WAIT, fixed_minutes=JOB_STOP_TIMEOUT_MINUTES),
)


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _growth_waits(max_wait_seconds: int) -> list[int]:
    """The waits before the cap is reached: first, first x growth, ... (whole seconds), each < max_wait_seconds."""
    waits: list[int] = []
    exact = float(min(BACKOFF_FIRST_SECONDS, max_wait_seconds))
    while True:
        wait = min(max_wait_seconds, max(1, _round_half_up(exact)))
        if wait >= max_wait_seconds:
            return waits
        waits.append(wait)
        exact *= BACKOFF_GROWTH


def _check_wait(max_wait_seconds: int) -> None:
    if isinstance(max_wait_seconds, bool) or not isinstance(max_wait_seconds, int) or max_wait_seconds < 1:
        raise ValueError(f"max_wait_seconds={max_wait_seconds!r} is not accepted: accepted an integer >= 1")


def check_count(bound_seconds: int, max_wait_seconds: int) -> int:
    """``len(backoff_schedule(bound_seconds, max_wait_seconds))``, without building the list."""
    _check_wait(max_wait_seconds)
    total = 0
    growth = _growth_waits(max_wait_seconds)
    for count, wait in enumerate(growth, start=1):
        total += wait
        if total >= bound_seconds:
            return count
    return len(growth) + max(1, math.ceil((bound_seconds - total) / max_wait_seconds))


def backoff_schedule(bound_seconds: int, max_wait_seconds: int) -> list[int]:
    """Waits (whole seconds) between the checks of a loop bounded by ``bound_seconds``.

    The first wait is min(BACKOFF_FIRST_SECONDS, max_wait_seconds); each next one is BACKOFF_GROWTH times longer
    (rounded half up), capped at ``max_wait_seconds``. The list is the shortest whose sum covers
    ``bound_seconds``, and has at least one element: the loop ends after ``len(list)`` checks.
    """
    count = check_count(bound_seconds, max_wait_seconds)
    growth = _growth_waits(max_wait_seconds)
    return (growth + [max_wait_seconds] * count)[:count]


def loop_bound_seconds(loop: Loop, values: Mapping[str, Any]) -> int:
    """The loop's time bound in seconds (from its parameter, or fixed)."""
    minutes = values[loop.bound_parameter] if loop.bound_parameter else loop.fixed_minutes
    return int(minutes) * 60


def loop_schedules(values: Mapping[str, Any], mode: str) -> dict[str, list[int]]:
    """``derived.waits``: every loop's backoff schedule for validated runtime parameters ``values``."""
    return {
        loop.name: backoff_schedule(loop_bound_seconds(loop, values), loop.max_wait(values, mode))
        for loop in LOOPS
        if loop.applies_to(mode)
    }


def _history_problems(values: Mapping[str, Any], mode: str) -> list[str]:
    """Loops whose schedule is longer than LOOP_CHECK_LIMITS allows (checked when their parameters are present)."""
    problems = []
    history = f"the run could outgrow Step Functions' {HISTORY_EVENT_LIMIT:,}-event execution history"
    for loop in LOOPS:
        if not loop.applies_to(mode):
            continue
        wait_name = loop.wait_name(mode)
        if wait_name is not None and not isinstance(values.get(wait_name), int):
            continue
        if loop.bound_parameter is not None and not isinstance(values.get(loop.bound_parameter), int):
            continue
        wait, limit = loop.max_wait(values, mode), LOOP_CHECK_LIMITS[loop.name]
        bound_seconds = loop_bound_seconds(loop, values)
        if wait < 1 or check_count(bound_seconds, wait) <= limit:
            continue
        if wait_name is None:  # a fixed wait: only the bound can change (a loop with a fixed wait has a bound param)
            bound_name = str(loop.bound_parameter)
            max_bound = _most_minutes(wait, limit, BY_NAME[bound_name])
            problems.append(
                f"{bound_name}={values[bound_name]} is not accepted in mode {mode}: accepted at most {limit} "
                f"{loop.what}, each at most {wait} s apart ({history}); accepted {bound_name} <= {max_bound}"
            )
            continue
        min_wait = _least_wait(bound_seconds, limit, BY_NAME[wait_name])
        raise_wait = f"{wait_name} >= {min_wait}" if min_wait is not None else None
        if loop.bound_parameter is None:
            fix = f"raise {wait_name} (e.g. {raise_wait})" if raise_wait else f"no {wait_name} is long enough"
            problems.append(
                f"{wait_name}={wait} is not accepted: accepted at most {limit} {loop.what} in "
                f"{loop.fixed_minutes} minutes ({history}); {fix}"
            )
            continue
        bound_name, bound = loop.bound_parameter, values[loop.bound_parameter]
        max_bound = _most_minutes(wait, limit, BY_NAME[bound_name])
        examples = [e for e in (raise_wait, f"{bound_name} <= {max_bound}" if max_bound is not None else None) if e]
        hint = f" (e.g. {' or '.join(examples)})" if examples else ""
        problems.append(
            f"{bound_name}={bound} with {wait_name}={wait} is not accepted: accepted at most {limit} {loop.what} "
            f"({history}); raise {wait_name} or lower {bound_name}{hint}"
        )
    return problems


def _least_wait(bound_seconds: int, limit: int, wait_param: Parameter) -> int | None:
    """The shortest accepted wait whose schedule fits ``limit`` checks (check_count falls as the wait grows)."""
    low, high = 1, 3600
    while wait_param.check is not None and not wait_param.check(high) and high > low:
        high -= 1
    if check_count(bound_seconds, high) > limit:
        return None
    while low < high:
        middle = (low + high) // 2
        if check_count(bound_seconds, middle) <= limit:
            high = middle
        else:
            low = middle + 1
    return low


def _most_minutes(wait: int, limit: int, bound_param: Parameter) -> int | None:
    """The longest accepted bound (minutes) whose schedule at ``wait`` fits ``limit`` checks."""
    low, high = 0, 10080
    while low < high:
        middle = (low + high + 1) // 2
        if check_count(middle * 60, wait) <= limit:
            low = middle
        else:
            high = middle - 1
    while low > 0 and bound_param.check is not None and not bound_param.check(low):
        low -= 1
    return low if low > 0 else None


_EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def parameters_for(mode: str, runtime: bool | None = None) -> list[Parameter]:
    """Parameters of ``mode``; with ``runtime`` set, only those that are (not) in the secret."""
    check_mode(mode)
    return [p for p in PARAMETERS if p.applies_to(mode) and (runtime is None or p.is_runtime(mode) == runtime)]


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
    lo, want, hi = (
        values.get(k)
        for k in ("computeEnvironmentMinvCpus", "computeEnvironmentDesiredvCpus", "computeEnvironmentMaxvCpus")
    )
    if lo is not None and want is not None and hi is not None and not (lo <= want <= hi):
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
    problems.extend(_history_problems(values, mode))
    return problems


def runtime_defaults(config_values: Mapping[str, Any], mode: str) -> dict[str, Any]:
    """The secret's initial content: the runtime parameters' values from validated stack config."""
    return {p.name: config_values[p.name] for p in parameters_for(mode, runtime=True)}


def validate_runtime(raw: Any, mode: str, max_vcpus: int) -> dict[str, Any]:
    """Validate the secret's content (parsed JSON, anything) at the start of a run: a JSON object of the runtime
    parameters of ``mode``, whose job fits the compute environment (at most ``max_vcpus``)."""
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
        raise ParameterError(f"execution name={_show(name)} is not accepted: accepted 1-80 letters, digits, '-' or '_'")


# --- Per-run overrides: the execution input (docs/workflow-v2.md, "Execution input") --------------------------------
INPUT_KEYS = ("command", "environment", "vcpus", "memory", "imageTag", "arraySize", "warmComputeCapacity")
MAX_COMMAND_ITEMS = 100
MAX_COMMAND_ITEM_CHARS = 4096
MAX_ENVIRONMENT_VARIABLES = 100
# Batch reserves names starting AWS_BATCH (SubmitJob ContainerOverrides.environment).
RESERVED_ENVIRONMENT_PREFIX = "AWS_BATCH"
# Batch ArrayProperties.size: 2-10,000 (1 here means "not an array job").
MAX_ARRAY_SIZE = 10_000
_ENVIRONMENT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# ECR image tag.
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_SHOWN_CHARS = 120


def _show_short(value: Any) -> str:
    """A value for a message, cut short: a 4 KiB command must not make a 4 KiB error."""
    shown = _show(value)
    return shown if len(shown) <= _SHOWN_CHARS else shown[: _SHOWN_CHARS - 3] + "..."


def validate_overrides(raw_input: Any, max_vcpus: int) -> dict[str, Any]:
    """Validate the execution input (per-run overrides); every problem goes into one ParameterError.

    Returns the given keys only, typed. ``max_vcpus`` is the compute environment's maxvCpus: a job asking for
    more would never leave RUNNABLE. (vcpus x arraySize is not bounded by it: the children queue.)
    """
    if not isinstance(raw_input, Mapping):
        raise ParameterError(
            f"execution input={_show_short(raw_input)} is not accepted: accepted a JSON object with any of the "
            f"keys {', '.join(INPUT_KEYS)}"
        )
    problems: list[str] = []
    typed: dict[str, Any] = {}
    for key in raw_input:
        if key not in INPUT_KEYS:
            problems.append(
                f"execution input key {_show_short(key)} is not accepted: accepted keys {', '.join(INPUT_KEYS)}"
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
    if problems:
        raise ParameterError("; ".join(problems))
    return typed


def _input_problem(key: str, value: Any, accepted: str) -> ParameterError:
    return ParameterError(f"execution input {key}={_show_short(value)} is not accepted: accepted {accepted}")


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
        f"a list of 1 to {MAX_COMMAND_ITEMS} strings of 1 to {MAX_COMMAND_ITEM_CHARS} characters "
        "(the container's command)"
    )
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= MAX_COMMAND_ITEMS
        or not all(isinstance(item, str) and 1 <= len(item) <= MAX_COMMAND_ITEM_CHARS for item in value)
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
        shown = f"environment.{_key(name)}"
        if not _ENVIRONMENT_NAME.match(name) or name.startswith(RESERVED_ENVIRONMENT_PREFIX):
            problems.append(
                f"execution input environment name {_show_short(name)} is not accepted: accepted names matching "
                f"[A-Za-z_][A-Za-z0-9_]* not starting {RESERVED_ENVIRONMENT_PREFIX} (Batch reserves those)"
            )
        elif not isinstance(text, str):
            problems.append(str(_input_problem(shown, text, "a string")))
    if problems:
        raise ParameterError("; ".join(problems))
    return dict(value)


def _image_tag(value: Any) -> str:
    if not isinstance(value, str) or not _IMAGE_TAG.match(value):
        raise _input_problem(
            "imageTag", value, "an image tag: a letter, digit or _ then up to 127 letters, digits, _ . or -"
        )
    return value
