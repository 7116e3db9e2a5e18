"""The waits between a loop's checks (a backoff capped by the seed's interval) and the history budget: how many
checks each waiting loop of the workflow may make, so that no accepted run outgrows Step Functions' execution
history. ``history_problems`` refuses a parameter set whose schedule for a loop is longer."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .history_costs import checks_of, evaluate, invocations, invocations_of
from .history_forms import FORMS
from .table import AUTO_EXPORT, BY_NAME, MODES, TASK_EXPORT

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
# The longest wait between two looks at the lane table of a run waiting in line (docs/design.md, "The run queue"):
# a lane is held for a whole run (a file system's creation alone takes 5-12 minutes), so a minute is a small part
# of the wait, and each look may cost a turn of the lane loop in the history.
LANE_WAIT_SECONDS = 60

# --- History budget -----------------------------------------------------------------------------------------------
# A STANDARD execution fails, uncaught, when its history reaches 25,000 events (Step Functions service quotas). The
# job is waited on by .sync (its history does not grow with the job's length); what grows is the waiting loops:
# history_costs counts what each state machine of the mode writes for a parameter set's schedules, and a set whose
# worst case reaches the limit in one of them is refused.
HISTORY_EVENT_LIMIT = 25_000
# A file system is created in about 5-12 minutes, and its association can take more than 10 (docs/aws-rules.md,
# FSx lifecycles; the emulation's defaults: 7 + 5 minutes): a refusal never suggests a creation bound below this.
MIN_CREATION_MINUTES = 12
# autoexport has no seed interval for an export task (it runs one only when the metric cannot prove the export):
# its checks wait at most this long.
AUTO_EXPORT_TASK_WAIT_SECONDS = 300


@dataclass(frozen=True)
class Loop:
    """A waiting loop of the workflow: its time bound and the parameter whose seconds are its longest wait."""

    name: str  # key of derived.waits
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
_LANE_WAIT = dict.fromkeys(MODES, LANE_WAIT_SECONDS)

LOOPS: tuple[Loop, ...] = (
    Loop("lane", {}, "laneWaitTimeoutMinutes", fixed_wait=_LANE_WAIT),
    Loop("fileSystem", _LUSTRE_WAIT, "lustreCreationTimeoutMinutes"),
    Loop(
        "computeEnvironment",
        _LUSTRE_WAIT,
        fixed_minutes=COMPUTE_ENVIRONMENT_TIMEOUT_MINUTES,
    ),
    Loop(
        "associationUpdate",
        _LUSTRE_WAIT,
        fixed_minutes=ASSOCIATION_UPDATE_TIMEOUT_MINUTES,
    ),
    Loop(
        "otherTask",
        _EXPORT_TASK_WAIT,
        "exportTimeoutMinutes",
        fixed_wait=_AUTO_EXPORT_TASK_WAIT,
    ),
    Loop(
        "export",
        _EXPORT_TASK_WAIT,
        "exportTimeoutMinutes",
        fixed_wait=_AUTO_EXPORT_TASK_WAIT,
    ),
    Loop("metrics", _METRICS_WAIT, "exportTimeoutMinutes"),
    Loop("runnable", _JOB_WAIT, "jobRunnableTimeoutMinutes"),
    Loop("jobStop", _JOB_WAIT, fixed_minutes=JOB_STOP_TIMEOUT_MINUTES),
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


def loop_turns(values: Mapping[str, Any], mode: str) -> dict[str, int]:
    """For each loop's schedule: its checks and the WaitFor invocations they take (``history_costs``)."""
    turns: dict[str, int] = {}
    for loop in LOOPS:
        if not loop.applies_to(mode):
            continue
        wait = loop.max_wait(values, mode)
        count = check_count(loop_bound_seconds(loop, values), wait)
        growth = _growth_waits(wait)[:count]
        turns[checks_of(loop.name)] = count
        turns[invocations_of(loop.name)] = invocations(growth, count - len(growth), wait)
    return turns


def worst_cases(values: Mapping[str, Any], mode: str) -> dict[str, int]:
    """State machine of ``mode`` -> the most history events one execution writes with these parameters."""
    turns = loop_turns(values, mode)
    return {machine: evaluate(form, turns) for machine, form in FORMS[mode].items()}


def _pairs(mode: str) -> list[tuple[str, str | None]]:
    """(bound parameter, wait parameter or None) of the mode's loops, a wait named once (with its bound)."""
    pairs: dict[str, str | None] = {}
    for loop in LOOPS:
        if loop.applies_to(mode) and loop.bound_parameter is not None:
            wait = loop.wait_name(mode)
            if pairs.get(loop.bound_parameter) is None:
                pairs[loop.bound_parameter] = wait
    return list(pairs.items())


def history_parameters(mode: str) -> list[str]:
    """The parameters the history of ``mode`` depends on: each loop's bound and longest wait."""
    names = [name for bound, wait in _pairs(mode) for name in (bound, wait) if name is not None]
    return list(dict.fromkeys(names))


def _fits(values: Mapping[str, Any], mode: str) -> bool:
    return all(events < HISTORY_EVENT_LIMIT for events in worst_cases(values, mode).values())


def _least(low: int, high: int, fits: Any) -> int | None:
    """The smallest value in [low, high] that fits, where every larger one fits too (bisection)."""
    if not fits(high):
        return None
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if fits(middle) else (middle + 1, high)
    return low


def _most(low: int, high: int, fits: Any) -> int | None:
    """The largest value in [low, high] that fits, where every smaller one fits too (bisection)."""
    if not fits(low):
        return None
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return low


def _range(name: str) -> tuple[int, int]:
    """The accepted integers of a bound or wait parameter (``"an integer from A to B"``)."""
    words = BY_NAME[name].accepted.split()
    return int(words[-3]), int(words[-1])


def _suggestions(values: Mapping[str, Any], mode: str, bound: str, wait: str | None) -> list[str]:
    """The feasible values of ``bound`` (the longest) and ``wait`` (the shortest) that make ``values`` fit."""
    out = []
    if wait is not None:
        low, high = _range(wait)
        least = _least(max(low, int(values[wait])), high, lambda w: _fits({**values, wait: w}, mode))
        if least is not None:
            out.append(f"{wait} >= {least}")
    low, high = _range(bound)
    if bound == "lustreCreationTimeoutMinutes":
        low = max(low, MIN_CREATION_MINUTES)
    if low <= int(values[bound]):
        most = _most(low, int(values[bound]), lambda b: _fits({**values, bound: b}, mode))
        if most is not None:
            out.append(f"{bound} <= {most}")
    return out


def history_problems(values: Mapping[str, Any], mode: str) -> list[str]:
    """A line per loop (its bound and wait) to change when a state machine of ``mode`` could outgrow its execution
    history with ``values`` (a parameter absent from ``values`` counts at its default; none is checked while one of
    them is not an integer: its own check says why)."""
    names = history_parameters(mode)
    if any(name in values and (isinstance(values[name], bool) or not isinstance(values[name], int)) for name in names):
        return []
    full = {name: values[name] if name in values else BY_NAME[name].defaults[mode] for name in names}
    worst = worst_cases(full, mode)
    over = {machine: events for machine, events in worst.items() if events >= HISTORY_EVENT_LIMIT}
    if not over:
        return []
    machines = ", ".join(f"{machine} up to {events:,}" for machine, events in over.items())
    history = f"an execution could outgrow Step Functions' {HISTORY_EVENT_LIMIT:,}-event history ({machines} events)"
    found = [(bound, wait, _suggestions(full, mode, bound, wait)) for bound, wait in _pairs(mode)]
    named = [(bound, wait, fixes) for bound, wait, fixes in found if fixes]
    if not named:
        # No loop alone can fit: each named loop's values are those that fit with the loops named before it at
        # their first suggestion and the loops after it at their defaults (so the first suggestions fit together).
        pairs = [(b, w) for b, w, _ in found if _costlier(full, mode, b, w)] or [(b, w) for b, w, _ in found]
        trial = dict(full)
        for bound, wait in pairs:
            for name in (bound, wait):
                if name is not None:
                    trial[name] = (
                        min(trial[name], BY_NAME[name].defaults[mode])
                        if name == bound
                        else max(trial[name], BY_NAME[name].defaults[mode])
                    )
        for bound, wait in pairs:
            state = dict(trial)
            for name in (bound, wait):
                if name is not None:
                    state[name] = full[name]
            fixes = _suggestions(state, mode, bound, wait)
            named.append((bound, wait, fixes))
            trial = state
            if fixes:
                name, _, number = fixes[0].split(" ")
                trial[name] = int(number)
    problems = []
    for bound, wait, fixes in named:
        key = f"{bound}={full[bound]}" + (f" with {wait}={full[wait]}" if wait is not None else "")
        accepted = " or ".join(fixes) if fixes else "shorter bounds or longer waits of the other loops too"
        problems.append(f"{key} is not accepted: {history}; accepted {accepted}")
    return problems


def _costlier(values: Mapping[str, Any], mode: str, bound: str, wait: str | None) -> bool:
    """Whether a loop's bound is longer, or its wait shorter, than the mode's defaults."""
    longer = values[bound] > BY_NAME[bound].defaults[mode]
    return longer or (wait is not None and values[wait] < BY_NAME[wait].defaults[mode])
