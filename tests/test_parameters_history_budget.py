"""Backoff schedules and the per-loop check limits (docs/workflow-v2.md, "What the seeds' poll intervals now do",
"ExtractParameters"). A parameter set whose schedule for a loop needs more checks than LOOP_CHECK_LIMITS allows is
refused; that these limits keep the longest accepted run under Step Functions' 25,000-event history is shown from
each mode's definition by tests/test_asl_history.py, not here."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from batch_lustre.program import parameters
from batch_lustre.program.parameters import (
    AUTO_EXPORT,
    AUTO_EXPORT_TASK_WAIT_SECONDS,
    BACKOFF_FIRST_SECONDS,
    BACKOFF_GROWTH,
    LOOP_CHECK_LIMITS,
    MODES,
    TASK_EXPORT,
    ParameterError,
    backoff_schedule,
    check_count,
    cross_field_problems,
    loop_schedules,
    validate_runtime,
)

# The contract's loops: (bound parameter or fixed minutes, longest wait by mode: a parameter or fixed seconds).
# A mode absent from the waits has no such loop.
EXPORT_TASK_WAIT = {TASK_EXPORT: "waitForDataRepositoryTaskSeconds", AUTO_EXPORT: 300}
LUSTRE_WAIT = dict.fromkeys(MODES, "waitForLustreCreationSeconds")
JOB_WAIT = dict.fromkeys(MODES, "waitForJobCompletionSeconds")
CONTRACT_LOOPS = {
    "fileSystem": ("lustreCreationTimeoutMinutes", LUSTRE_WAIT),
    "computeEnvironment": (30, LUSTRE_WAIT),
    "associationUpdate": (30, LUSTRE_WAIT),
    "otherTask": ("exportTimeoutMinutes", EXPORT_TASK_WAIT),
    "export": ("exportTimeoutMinutes", EXPORT_TASK_WAIT),
    "metrics": ("exportTimeoutMinutes", {AUTO_EXPORT: "waitForCheckMetricsSeconds"}),
    "runnable": ("jobRunnableTimeoutMinutes", JOB_WAIT),
    "jobStop": (10, JOB_WAIT),
}
CHOSEN_LIMITS = {
    "fileSystem": 200,
    "computeEnvironment": 70,
    "associationUpdate": 70,
    "otherTask": 160,
    "export": 160,
    "metrics": 250,
    "runnable": 60,
    "jobStop": 30,
}
# How each loop's refusal names it.
WHAT = {
    "fileSystem": "checks of the file system and its association",
    "computeEnvironment": "checks of the compute environment",
    "associationUpdate": "checks of the association update",
    "otherTask": "checks of another data repository task",
    "export": "checks of the export task",
    "metrics": "checks of the export queue metric",
    "runnable": "checks of a job waiting to start",
    "jobStop": "checks of a terminated job",
}
BOUND_RANGES = {
    "lustreCreationTimeoutMinutes": (1, 10080),
    "exportTimeoutMinutes": (1, 10080),
    "jobRunnableTimeoutMinutes": (5, 1440),
}
HISTORY = "(the run could outgrow Step Functions' 25,000-event execution history)"


def defaults(mode: str) -> dict:
    return {p.name: p.defaults[mode] for p in parameters.parameters_for(mode, runtime=True)}


def loops_of(mode: str) -> set[str]:
    return {loop for loop, (_, waits) in CONTRACT_LOOPS.items() if mode in waits}


def wait_of(loop: str, mode: str) -> str | int:
    """The loop's longest wait in ``mode``: a parameter's name, or fixed seconds."""
    return CONTRACT_LOOPS[loop][1][mode]


def accepted(values: dict, mode: str) -> bool:
    return not cross_field_problems(values, mode)


def refusals(values: dict, mode: str, loop: str) -> list[str]:
    return [p for p in cross_field_problems(values, mode) if WHAT[loop] in p]


def loop_accepts(values: dict, mode: str, loop: str) -> bool:
    """No refusal of ``loop`` (another loop sharing a parameter may still refuse the set)."""
    return not refusals(values, mode, loop)


def bound_minutes(loop: str, values: dict) -> int:
    bound = CONTRACT_LOOPS[loop][0]
    return bound if isinstance(bound, int) else values[bound]


# --- backoff_schedule ---------------------------------------------------------------------------------------------


def test_backoff_constants_are_the_chosen_ones():
    assert (BACKOFF_FIRST_SECONDS, BACKOFF_GROWTH) == (5, 1.5)
    assert BACKOFF_GROWTH > 1 and BACKOFF_FIRST_SECONDS >= 1  # a schedule that never grows could not end


def test_schedule_worked_out_by_hand():
    # 5, 7.5 -> 8, 11.25 -> 11, 16.875 -> 17, 25.3 -> 25, 37.97 -> 38 capped at 30; 66 s, then 30 s each.
    assert backoff_schedule(300, 30) == [5, 8, 11, 17, 25, 30, 30, 30, 30, 30, 30, 30, 30]  # 66 + 240 = 306 >= 300
    assert backoff_schedule(306, 30) == backoff_schedule(300, 30)
    assert backoff_schedule(307, 30) == backoff_schedule(300, 30) + [30]


def test_first_wait_is_the_seed_interval_when_it_is_shorter_than_the_first_backoff():
    assert backoff_schedule(10, 1) == [1] * 10
    assert backoff_schedule(12, 3) == [3, 3, 3, 3]


@pytest.mark.parametrize("bound", [0, 1, 5])
def test_a_schedule_has_at_least_one_wait(bound):
    assert backoff_schedule(bound, 60) == [5]


# Bounds up to the longest accepted (10080 minutes) and a little past, waits over the whole accepted range.
BOUNDS = st.integers(0, 10080 * 60 + 600)
WAITS = st.integers(1, 3600)


@given(BOUNDS, WAITS)
def test_schedule_covers_its_bound_and_is_the_shortest_that_does(bound, wait):
    schedule = backoff_schedule(bound, wait)
    assert sum(schedule) >= bound
    assert sum(schedule[:-1]) < bound or len(schedule) == 1
    assert check_count(bound, wait) == len(schedule)


@given(BOUNDS, WAITS)
def test_schedule_is_capped_at_the_seed_interval_grows_by_the_factor_and_never_shrinks(bound, wait):
    schedule = backoff_schedule(bound, wait)
    assert schedule[0] == min(BACKOFF_FIRST_SECONDS, wait)
    assert all(isinstance(w, int) and 1 <= w <= wait for w in schedule)
    assert schedule == sorted(schedule)
    for before, after in zip(schedule, schedule[1:], strict=False):
        # Each wait is the one before times the factor (whole seconds), or the cap.
        assert after == wait or abs(after - before * BACKOFF_GROWTH) <= 0.5 + before * 0.1, schedule


@given(BOUNDS, WAITS)
def test_a_longer_bound_never_needs_fewer_checks_and_a_longer_wait_never_more(bound, wait):
    assert check_count(bound + 60, wait) >= check_count(bound, wait)
    if wait < 3600:
        assert check_count(bound, wait + 1) <= check_count(bound, wait)


def test_schedule_grows_by_the_factor_until_the_cap():
    schedule = backoff_schedule(100_000, 3600)
    growing = [w for w in schedule if w < 3600]
    assert len(growing) >= 10
    for before, after in zip(growing, growing[1:], strict=False):
        assert abs(after / before - BACKOFF_GROWTH) < 0.15  # whole seconds: rounding moves the ratio a little
    assert schedule[len(growing) :] == [3600] * (len(schedule) - len(growing))


@pytest.mark.parametrize("wait", [0, -1, True, 2.5])
def test_a_wait_below_one_second_is_a_bug(wait):
    with pytest.raises(ValueError, match="max_wait_seconds"):
        backoff_schedule(60, wait)


# --- the loops and their limits -----------------------------------------------------------------------------------


def test_the_loops_are_the_contracts():
    assert set(LOOP_CHECK_LIMITS) == set(CONTRACT_LOOPS)
    assert {loop.name for loop in parameters.LOOPS} == set(CONTRACT_LOOPS)


def test_the_limits_are_the_chosen_ones():
    # The numbers the docs and the refusals quote; whether they fit the history is tests/test_asl_history.py's job.
    assert LOOP_CHECK_LIMITS == CHOSEN_LIMITS


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_has_exactly_its_loops(mode):
    assert set(loop_schedules(defaults(mode), mode)) == loops_of(mode)
    assert {loop.name for loop in parameters.LOOPS if loop.applies_to(mode)} == loops_of(mode)
    assert ("metrics" in loops_of(mode)) == (mode == AUTO_EXPORT)


@pytest.mark.parametrize("mode", MODES)
def test_each_loop_waits_at_most_its_contract_wait_and_covers_its_bound(mode):
    # Distinct values, so a loop reading another loop's wait or bound gives another schedule.
    values = defaults(mode) | {
        "waitForLustreCreationSeconds": 41,
        "waitForJobCompletionSeconds": 97,
        "lustreCreationTimeoutMinutes": 17,
        "exportTimeoutMinutes": 73,
        "jobRunnableTimeoutMinutes": 31,
    }
    values |= {
        TASK_EXPORT: {"waitForDataRepositoryTaskSeconds": 233},
        AUTO_EXPORT: {"waitForCheckMetricsSeconds": 151},
    }[mode]
    for loop, schedule in loop_schedules(values, mode).items():
        wait = wait_of(loop, mode)
        longest = wait if isinstance(wait, int) else values[wait]
        bound = bound_minutes(loop, values) * 60
        assert max(schedule) == longest, loop
        assert sum(schedule) >= bound > sum(schedule[:-1]), loop


def test_autoexport_export_task_checks_wait_at_most_the_fixed_interval_whatever_the_metric_interval():
    assert AUTO_EXPORT_TASK_WAIT_SECONDS == 300
    for metric_wait in (1, 60, 3600):
        waits = loop_schedules(defaults(AUTO_EXPORT) | {"waitForCheckMetricsSeconds": metric_wait}, AUTO_EXPORT)
        assert max(waits["metrics"]) == metric_wait
        for loop in ("export", "otherTask"):
            assert waits[loop] == backoff_schedule(240 * 60, AUTO_EXPORT_TASK_WAIT_SECONDS), (loop, metric_wait)
            assert max(waits[loop]) == 300


@pytest.mark.parametrize("mode", MODES)
def test_defaults_fit_every_limit(mode):
    schedules = loop_schedules(defaults(mode), mode)
    for loop, schedule in schedules.items():
        assert len(schedule) <= LOOP_CHECK_LIMITS[loop], (loop, len(schedule))
        assert sum(schedule) >= bound_minutes(loop, defaults(mode)) * 60
    assert accepted(defaults(mode), mode)


# --- the extreme accepted parameter sets --------------------------------------------------------------------------


def longest_accepted_bound(loop: str, mode: str, base: dict) -> int | None:
    """Found through the public rule (cross_field_problems) alone, not the module's own search."""
    name = CONTRACT_LOOPS[loop][0]
    low, high = BOUND_RANGES[name]

    def ok(minutes: int) -> bool:
        return loop_accepts(base | {name: minutes}, mode, loop)

    if not ok(low):
        return None
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if ok(middle) else (low, middle - 1)
    return low


def shortest_accepted_wait(loop: str, mode: str, values: dict) -> int | None:
    """By bisection through the public rule; that every shorter wait is refused and every longer one accepted is
    the property test_a_fixed_loop_accepts_exactly_the_waits_from_the_shortest_on."""
    wait_name = wait_of(loop, mode)

    def ok(wait: int) -> bool:
        return loop_accepts(values | {wait_name: wait}, mode, loop)

    low, high = 1, 3600
    if not ok(high):
        return None
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if ok(middle) else (middle + 1, high)
    return low


# (loop, mode, wait): wait None where the mode's wait is fixed.
BOUND_LOOPS = [
    (loop, mode, None if isinstance(wait_of(loop, mode), int) else wait)
    for loop in ("fileSystem", "otherTask", "export", "metrics", "runnable")
    for mode in MODES
    if mode in CONTRACT_LOOPS[loop][1]
    for wait in ((1, 10, 30, 60, 300, 3600) if not isinstance(wait_of(loop, mode), int) else (None,))
]


@pytest.mark.parametrize(("loop", "mode", "wait"), BOUND_LOOPS)
def test_longest_accepted_bound_fits_the_limit_and_one_minute_more_does_not(loop, mode, wait):
    bound_name = CONTRACT_LOOPS[loop][0]
    base = defaults(mode) if wait is None else defaults(mode) | {wait_of(loop, mode): wait}
    longest_wait = wait_of(loop, mode) if wait is None else wait
    longest = longest_accepted_bound(loop, mode, base)
    if longest is None:  # even the shortest bound needs too many checks at this wait
        assert check_count(BOUND_RANGES[bound_name][0] * 60, longest_wait) > LOOP_CHECK_LIMITS[loop]
        return
    extreme = base | {bound_name: longest}
    assert len(loop_schedules(extreme, mode)[loop]) <= LOOP_CHECK_LIMITS[loop]
    if longest < BOUND_RANGES[bound_name][1]:
        assert check_count((longest + 1) * 60, longest_wait) > LOOP_CHECK_LIMITS[loop]
        assert not loop_accepts(base | {bound_name: longest + 1}, mode, loop)


def test_autoexport_accepts_an_export_timeout_up_to_what_the_fixed_task_wait_allows():
    # 11 growing waits (854 s), then 300 s each: 160 checks cover 854 + 149 x 300 = 45,554 s = 759 minutes.
    assert longest_accepted_bound("export", AUTO_EXPORT, defaults(AUTO_EXPORT)) == 759
    assert longest_accepted_bound("otherTask", AUTO_EXPORT, defaults(AUTO_EXPORT)) == 759


FIXED_LOOPS = [(loop, mode) for loop in ("computeEnvironment", "associationUpdate", "jobStop") for mode in MODES]


@pytest.mark.parametrize(("loop", "mode"), FIXED_LOOPS)
def test_shortest_accepted_wait_of_a_fixed_loop_fits_the_limit(loop, mode):
    values = defaults(mode)
    wait = shortest_accepted_wait(loop, mode, values)
    assert wait is not None and wait > 1
    assert len(loop_schedules(values | {wait_of(loop, mode): wait}, mode)[loop]) <= LOOP_CHECK_LIMITS[loop]
    assert check_count(bound_minutes(loop, values) * 60, wait - 1) > LOOP_CHECK_LIMITS[loop]


@given(st.sampled_from(FIXED_LOOPS), WAITS)
def test_a_fixed_loop_accepts_exactly_the_waits_from_the_shortest_on(fixed, wait):
    loop, mode = fixed
    values = defaults(mode)
    shortest = shortest_accepted_wait(loop, mode, values)
    assert loop_accepts(values | {wait_of(loop, mode): wait}, mode, loop) == (wait >= shortest)


SHORT_OR_ANY_WAIT = st.integers(1, 60) | WAITS
SHORT_OR_ANY_BOUND = st.integers(1, 600) | st.integers(1, 10080)


@example(TASK_EXPORT, 30, 300, 300, 60, 720, 20)  # the defaults: accepted
@example(TASK_EXPORT, 1, 300, 300, 10080, 720, 20)  # the contract's example: refused
@given(
    st.sampled_from(MODES),
    SHORT_OR_ANY_WAIT,
    SHORT_OR_ANY_WAIT,
    SHORT_OR_ANY_WAIT,
    SHORT_OR_ANY_BOUND,
    SHORT_OR_ANY_BOUND,
    st.integers(5, 60) | st.integers(5, 1440),
)
def test_a_parameter_set_is_accepted_exactly_when_every_loop_fits_its_limit(
    mode, lustre_wait, job_wait, export_wait, lustre_bound, export_bound, runnable_bound
):
    # Over the whole accepted ranges: accepted sets never exceed any loop's limit (the limits are what
    # tests/test_asl_history.py bounds the whole run's history with), and a refused set exceeds one.
    values = defaults(mode) | {
        "waitForLustreCreationSeconds": lustre_wait,
        "waitForJobCompletionSeconds": job_wait,
        {TASK_EXPORT: "waitForDataRepositoryTaskSeconds", AUTO_EXPORT: "waitForCheckMetricsSeconds"}[mode]: export_wait,
        "lustreCreationTimeoutMinutes": lustre_bound,
        "exportTimeoutMinutes": export_bound,
        "jobRunnableTimeoutMinutes": runnable_bound,
    }
    checks = {loop: len(schedule) for loop, schedule in loop_schedules(values, mode).items()}
    fits = all(checks[loop] <= LOOP_CHECK_LIMITS[loop] for loop in checks)
    assert accepted(values, mode) == fits, (checks, cross_field_problems(values, mode))


# --- refused sets: one line naming the parameters, their values and what is accepted ------------------------------


def test_the_example_of_the_contract_is_refused_with_its_message():
    values = defaults(TASK_EXPORT) | {"lustreCreationTimeoutMinutes": 10080, "waitForLustreCreationSeconds": 1}
    problems = cross_field_problems(values, TASK_EXPORT)
    assert problems[0].startswith(
        "lustreCreationTimeoutMinutes=10080 with waitForLustreCreationSeconds=1 is not accepted: accepted at most "
        "200 checks of the file system and its association (the run could outgrow Step Functions' 25,000-event "
        "execution history); raise waitForLustreCreationSeconds or lower lustreCreationTimeoutMinutes"
    )


OVER_LIMIT = [
    # (loop, mode, changes, fragments)
    (
        "fileSystem",
        TASK_EXPORT,
        {"lustreCreationTimeoutMinutes": 600, "waitForLustreCreationSeconds": 60},
        [
            "lustreCreationTimeoutMinutes=600 with waitForLustreCreationSeconds=60",
            "at most 200 checks of the file system",
        ],
    ),
    (
        "computeEnvironment",
        AUTO_EXPORT,
        {"waitForLustreCreationSeconds": 10},
        [
            "waitForLustreCreationSeconds=10 is not accepted",
            "at most 70 checks of the compute environment in 30 minutes",
        ],
    ),
    (
        "associationUpdate",
        TASK_EXPORT,
        {"waitForLustreCreationSeconds": 10},
        [
            "waitForLustreCreationSeconds=10 is not accepted",
            "at most 70 checks of the association update in 30 minutes",
        ],
    ),
    (
        "otherTask",
        TASK_EXPORT,
        {"exportTimeoutMinutes": 10080, "waitForDataRepositoryTaskSeconds": 300},
        [
            "exportTimeoutMinutes=10080 with waitForDataRepositoryTaskSeconds=300",
            "at most 160 checks of another data repository task",
        ],
    ),
    (
        "export",
        TASK_EXPORT,
        {"exportTimeoutMinutes": 1000, "waitForDataRepositoryTaskSeconds": 300},
        [
            "exportTimeoutMinutes=1000 with waitForDataRepositoryTaskSeconds=300",
            "at most 160 checks of the export task",
        ],
    ),
    (
        "metrics",
        AUTO_EXPORT,
        {"exportTimeoutMinutes": 720, "waitForCheckMetricsSeconds": 60},
        [
            "exportTimeoutMinutes=720 with waitForCheckMetricsSeconds=60",
            "at most 250 checks of the export queue metric",
        ],
    ),
    # autoexport's export task waits are fixed (300 s): only the bound can change, and only the bound is named.
    (
        "export",
        AUTO_EXPORT,
        {"exportTimeoutMinutes": 1000, "waitForCheckMetricsSeconds": 3600},
        [
            "exportTimeoutMinutes=1000 is not accepted in mode autoexport",
            "at most 160 checks of the export task, each at most 300 s apart",
            "accepted exportTimeoutMinutes <= 759",
        ],
    ),
    (
        "otherTask",
        AUTO_EXPORT,
        {"exportTimeoutMinutes": 760, "waitForCheckMetricsSeconds": 3600},
        [
            "exportTimeoutMinutes=760 is not accepted in mode autoexport",
            "at most 160 checks of another data repository task, each at most 300 s apart",
            "accepted exportTimeoutMinutes <= 759",
        ],
    ),
    (
        "runnable",
        TASK_EXPORT,
        {"jobRunnableTimeoutMinutes": 1440, "waitForJobCompletionSeconds": 300},
        ["jobRunnableTimeoutMinutes=1440 with waitForJobCompletionSeconds=300", "at most 60 checks of a job waiting"],
    ),
    (
        "jobStop",
        AUTO_EXPORT,
        {"waitForJobCompletionSeconds": 10},
        ["waitForJobCompletionSeconds=10 is not accepted", "at most 30 checks of a terminated job in 10 minutes"],
    ),
]
OVER_LIMIT_IDS = [f"{c[0]}-{c[1]}" for c in OVER_LIMIT]


@pytest.mark.parametrize(("loop", "mode", "changes", "fragments"), OVER_LIMIT, ids=OVER_LIMIT_IDS)
def test_over_limit_set_of_each_loop_is_refused_naming_its_parameters(loop, mode, changes, fragments):
    values = defaults(mode) | changes
    assert len(loop_schedules(values, mode)[loop]) > LOOP_CHECK_LIMITS[loop]
    problems = refusals(values, mode, loop)
    assert len(problems) == 1, cross_field_problems(values, mode)
    message = problems[0]
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    assert HISTORY in message
    wait = wait_of(loop, mode)
    if isinstance(wait, int):  # a fixed wait: no parameter sets it, so the message names none
        assert not re.search(r"waitFor\w+", message), message
    else:
        assert f"{wait}={values[wait]}" in message


def test_every_loop_and_every_fixed_wait_has_an_over_limit_case():
    covered = {(loop, mode) for loop, mode, _, _ in OVER_LIMIT}
    assert {loop for loop, _ in covered} == set(CONTRACT_LOOPS)
    fixed = {
        (loop, mode)
        for loop, (_, waits) in CONTRACT_LOOPS.items()
        for mode, wait in waits.items()
        if isinstance(wait, int)
    }
    assert fixed == {("export", AUTO_EXPORT), ("otherTask", AUTO_EXPORT)} and fixed <= covered


def suggestions(message: str) -> list[str]:
    """The values a refusal suggests: "(e.g. a >= 1 or b <= 2)" or, for a fixed wait, "; accepted b <= 2"."""
    if "(e.g. " in message:
        return message.split("(e.g. ", 1)[1].rstrip(")").split(" or ")
    match = re.search(r"; accepted (\w+ <= \d+)$", message)
    assert match, message
    return [match.group(1)]


@pytest.mark.parametrize(("loop", "mode", "changes", "fragments"), OVER_LIMIT, ids=OVER_LIMIT_IDS)
def test_the_values_a_refusal_suggests_are_accepted(loop, mode, changes, fragments):
    values = defaults(mode) | changes
    message = refusals(values, mode, loop)[0]
    for suggestion in suggestions(message):
        name, operator, number = suggestion.split(" ")
        number = int(number)
        suggested = values | {name: number}
        assert loop_accepts(suggested, mode, loop), suggestion
        # ... and the suggestion is the boundary: one step the wrong way is refused again.
        beyond = values | {name: number - 1 if operator == ">=" else number + 1}
        assert not loop_accepts(beyond, mode, loop), suggestion


def test_the_secret_is_refused_by_the_same_rule():
    secret = defaults(AUTO_EXPORT) | {"exportTimeoutMinutes": 720}
    with pytest.raises(ParameterError, match="exportTimeoutMinutes=720 with waitForCheckMetricsSeconds=60"):
        validate_runtime(secret, AUTO_EXPORT, 256)
    secret = defaults(AUTO_EXPORT) | {"exportTimeoutMinutes": 760, "waitForCheckMetricsSeconds": 3600}
    with pytest.raises(ParameterError, match="exportTimeoutMinutes=760 is not accepted in mode autoexport"):
        validate_runtime(secret, AUTO_EXPORT, 256)


def test_only_loops_whose_parameters_are_present_are_checked():
    assert cross_field_problems({"waitForLustreCreationSeconds": 30}, TASK_EXPORT) == []
    assert cross_field_problems({"waitForLustreCreationSeconds": 1}, TASK_EXPORT)  # the fixed-bound loops
    assert cross_field_problems({"lustreCreationTimeoutMinutes": 10080}, TASK_EXPORT) == []
    assert cross_field_problems({"exportTimeoutMinutes": 10080}, TASK_EXPORT) == []
    # autoexport's export task loops need only their bound (their wait is fixed); the metric loop needs its wait too.
    problems = cross_field_problems({"exportTimeoutMinutes": 10080}, AUTO_EXPORT)
    assert len(problems) == 2 and all("exportTimeoutMinutes=10080" in p for p in problems), problems
    assert not [p for p in problems if WHAT["metrics"] in p]
