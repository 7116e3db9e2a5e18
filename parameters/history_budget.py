"""The waits between a loop's checks (a backoff capped by the seed's interval) and the history budget: how many
checks each waiting loop of the workflow may make, so that no accepted run outgrows Step Functions' execution
history. ``history_problems`` refuses a parameter set whose schedule for a loop is longer."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .table import AUTO_EXPORT, BY_NAME, MODES, TASK_EXPORT, Parameter

# --- Waits between checks: a backoff capped by the seed's interval (docs/workflow-v2.md) ---------------------
# The first check of a loop comes BACKOFF_FIRST_SECONDS after it starts; each wait is BACKOFF_GROWTH times the one
# before, up to the seed's interval (the longest wait). Both are to be tuned from emulation measurements: this is
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


_LUSTRE_WAIT = dict.fromkeys(MODES, "waitForLustreCreationSeconds")
_EXPORT_TASK_WAIT = {TASK_EXPORT: "waitForDataRepositoryTaskSeconds"}
_AUTO_EXPORT_TASK_WAIT = {AUTO_EXPORT: AUTO_EXPORT_TASK_WAIT_SECONDS}
_METRICS_WAIT = {AUTO_EXPORT: "waitForCheckMetricsSeconds"}
_JOB_WAIT = dict.fromkeys(MODES, "waitForJobCompletionSeconds")

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


def history_problems(values: Mapping[str, Any], mode: str) -> list[str]:
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
