"""Backoff schedules and the history refusals (docs/workflow-v2.md, "What the seeds' poll intervals now do",
"ExtractParameters"). A parameter set with which a state machine of the mode could write 25,000 history events is
refused, one line per loop to change; that the count is what the definitions write is tests/test_asl_history.py's
job (a property over every accepted set), not here."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch_lustre.program import parameters
from batch_lustre.program.parameters import (
    AUTO_EXPORT,
    AUTO_EXPORT_TASK_WAIT_SECONDS,
    BACKOFF_FIRST_SECONDS,
    BACKOFF_GROWTH,
    MIN_CREATION_MINUTES,
    MODES,
    TASK_EXPORT,
    ParameterError,
    backoff_schedule,
    check_count,
    cross_field_problems,
    loop_schedules,
    validate_runtime,
    worst_cases,
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
    "lane": ("laneWaitTimeoutMinutes", dict.fromkeys(MODES, 60)),
}
BOUND_RANGES = {
    "lustreCreationTimeoutMinutes": (1, 10080),
    "exportTimeoutMinutes": (1, 10080),
    "jobRunnableTimeoutMinutes": (5, 1440),
    "laneWaitTimeoutMinutes": (1, 360),
}
HISTORY = "an execution could outgrow Step Functions' 25,000-event history"


def defaults(mode: str) -> dict:
    return {p.name: p.defaults[mode] for p in parameters.parameters_for(mode, runtime=True)}


def loops_of(mode: str) -> set[str]:
    return {loop for loop, (_, waits) in CONTRACT_LOOPS.items() if mode in waits}


def wait_of(loop: str, mode: str) -> str | int:
    """The loop's longest wait in ``mode``: a parameter's name, or fixed seconds."""
    return CONTRACT_LOOPS[loop][1][mode]


def accepted(values: dict, mode: str) -> bool:
    return not cross_field_problems(values, mode)


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


# --- the loops --------------------------------------------------------------------------------------------------


def test_the_loops_are_the_contracts():
    assert {loop.name for loop in parameters.LOOPS} == set(CONTRACT_LOOPS)


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
def test_defaults_are_accepted_well_within_the_history(mode):
    assert accepted(defaults(mode), mode)
    assert max(worst_cases(defaults(mode), mode).values()) < 10_000


# --- what the WaitFor loops made safe ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_long_creation_with_frequent_checks_is_accepted_now_that_a_wait_for_invocation_makes_many_checks(mode):
    # 120 minutes at 30 s are 243 checks: refused while every check was counted as a turn of the state machine
    # (at most 200 checks of the file system); WaitFor makes them in about 28 invocations.
    values = defaults(mode) | {"waitForLustreCreationSeconds": 30, "lustreCreationTimeoutMinutes": 120}
    assert check_count(120 * 60, 30) > 200
    assert cross_field_problems(values, mode) == []
    assert max(worst_cases(values, mode).values()) < HISTORY_LIMIT


def test_a_loop_counted_per_check_still_bounds_its_schedule():
    # The run-cleanup machine waits for a CREATING file system with Pass-counted checks of the same schedule: 1 s
    # waits for 600 minutes are 36,000 checks there, however few WaitFor invocations the workflow makes of them.
    values = defaults(TASK_EXPORT) | {"waitForLustreCreationSeconds": 1, "lustreCreationTimeoutMinutes": 600}
    worst = worst_cases(values, TASK_EXPORT)
    assert worst["run-cleanup"] > 10 * HISTORY_LIMIT
    assert len(cross_field_problems(values, TASK_EXPORT)) == 1


# --- refused sets: one line per loop to change, naming its parameters, their values and what is accepted ---------

HISTORY_LIMIT = 25_000

OVER_LIMIT = [
    # (mode, changes, the lines' starts)
    (
        TASK_EXPORT,
        {"lustreCreationTimeoutMinutes": 600, "waitForLustreCreationSeconds": 1},
        ["lustreCreationTimeoutMinutes=600 with waitForLustreCreationSeconds=1 is not accepted"],
    ),
    (
        AUTO_EXPORT,
        {"lustreCreationTimeoutMinutes": 10080, "waitForLustreCreationSeconds": 1},
        ["lustreCreationTimeoutMinutes=10080 with waitForLustreCreationSeconds=1 is not accepted"],
    ),
    (
        TASK_EXPORT,
        {"exportTimeoutMinutes": 10080},
        ["exportTimeoutMinutes=10080 with waitForDataRepositoryTaskSeconds=300 is not accepted"],
    ),
    (
        AUTO_EXPORT,
        {"exportTimeoutMinutes": 10080, "waitForCheckMetricsSeconds": 1},
        ["exportTimeoutMinutes=10080 with waitForCheckMetricsSeconds=1 is not accepted"],
    ),
    (
        TASK_EXPORT,
        {"jobRunnableTimeoutMinutes": 1440, "waitForJobCompletionSeconds": 1},
        ["jobRunnableTimeoutMinutes=1440 with waitForJobCompletionSeconds=1 is not accepted"],
    ),
    # Two loops over the limit, each alone: two lines.
    (
        TASK_EXPORT,
        {"lustreCreationTimeoutMinutes": 600, "waitForLustreCreationSeconds": 1, "exportTimeoutMinutes": 10080},
        [
            "lustreCreationTimeoutMinutes=600 with waitForLustreCreationSeconds=1 is not accepted",
            "exportTimeoutMinutes=10080 with waitForDataRepositoryTaskSeconds=300 is not accepted",
        ],
    ),
]


@pytest.mark.parametrize(("mode", "changes", "starts"), OVER_LIMIT)
def test_a_set_that_could_outgrow_the_history_is_refused_one_short_line_per_problem(mode, changes, starts):
    values = defaults(mode) | changes
    problems = cross_field_problems(values, mode)
    assert [p.split(" is not accepted")[0] + " is not accepted" for p in problems] == starts
    for line in problems:
        assert "\n" not in line and HISTORY in line and "; accepted " in line
        assert len(line) < 300, line
    assert max(worst_cases(values, mode).values()) >= HISTORY_LIMIT


def suggestions(message: str) -> list[str]:
    """The values a refusal suggests: "; accepted a >= 1 or b <= 2"."""
    return message.rsplit("; accepted ", 1)[1].split(" or ")


@pytest.mark.parametrize(("mode", "changes", "starts"), OVER_LIMIT)
def test_the_values_a_refusal_suggests_are_accepted_feasible_and_the_boundary(mode, changes, starts):
    values = defaults(mode) | changes
    problems = cross_field_problems(values, mode)
    if len(problems) > 1:  # several loops to change: their first suggestions fit together
        together = dict(values)
        for line in problems:
            name, _, number = suggestions(line)[0].split(" ")
            together[name] = int(number)
        assert accepted(together, mode), cross_field_problems(together, mode)
        return
    for suggestion in suggestions(problems[0]):
        name, operator, number = suggestion.split(" ")
        number = int(number)
        assert accepted(values | {name: number}, mode), (
            suggestion,
            cross_field_problems(values | {name: number}, mode),
        )
        if operator == ">=":
            assert number >= values[name]  # never a wait shorter than asked, nor under the minimum
            assert not accepted(values | {name: number - 1}, mode)
        else:
            assert number <= values[name]
            if name == "lustreCreationTimeoutMinutes":
                assert number >= MIN_CREATION_MINUTES
            assert not accepted(values | {name: number + 1}, mode)


def test_a_creation_bound_shorter_than_a_file_system_takes_to_be_created_is_never_suggested():
    # At 1 s waits the longest creation bound that fits would be 3 minutes, less than a creation takes: only a
    # longer wait is suggested.
    values = defaults(TASK_EXPORT) | {"lustreCreationTimeoutMinutes": 600, "waitForLustreCreationSeconds": 1}
    values |= {"exportTimeoutMinutes": 3800}  # most of the history already spent on the export loops
    for line in cross_field_problems(values, TASK_EXPORT):
        for suggestion in suggestions(line):
            name, operator, number = suggestion.split(" ")
            if name == "lustreCreationTimeoutMinutes":
                assert int(number) >= MIN_CREATION_MINUTES, line


def test_the_secret_is_refused_by_the_same_rule():
    secret = defaults(AUTO_EXPORT) | {"exportTimeoutMinutes": 10080, "waitForCheckMetricsSeconds": 1}
    with pytest.raises(ParameterError, match="exportTimeoutMinutes=10080 with waitForCheckMetricsSeconds=1"):
        validate_runtime(secret, AUTO_EXPORT, 256)


def test_a_partial_set_is_checked_with_the_defaults_for_the_rest_and_a_non_integer_is_left_to_its_own_check():
    assert cross_field_problems({"waitForLustreCreationSeconds": 30}, TASK_EXPORT) == []
    assert cross_field_problems({"lustreCreationTimeoutMinutes": 10080}, TASK_EXPORT)
    assert (
        cross_field_problems({"lustreCreationTimeoutMinutes": 10080, "waitForLustreCreationSeconds": "1"}, TASK_EXPORT)
        == []
    )


def test_the_readme_gives_the_worst_cases_of_the_defaults():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    cases = {mode: worst_cases(defaults(mode), mode) for mode in (TASK_EXPORT, AUTO_EXPORT)}
    said = (
        f"the worst case is {cases[TASK_EXPORT]['workflow']:,} events for a\ntaskexport run and "
        f"{cases[TASK_EXPORT]['run-cleanup']:,} for its run cleanup, {cases[AUTO_EXPORT]['workflow']:,} and "
        f"{cases[AUTO_EXPORT]['run-cleanup']:,} in autoexport"
    )
    assert said in readme
