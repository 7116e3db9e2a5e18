"""No run the project accepts can outgrow Step Functions' 25,000-event execution history.

The bound is computed from each mode's definitions (asl/history.py): the job is waited on by ``.sync``, so only
the bounded waiting loops grow the history, per check where a Pass counts them, per invocation where WaitFor makes
them (``parameters.loop_turns``); the parameter validation refuses exactly the sets whose bound reaches the limit.
"""

import dataclasses
import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest
import wait_for
from conftest import sample_refs
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_lustre.emulation import Emulation, run_workflow
from batch_lustre.program.asl import build_definition, states
from batch_lustre.program.asl.data_layout import DataLayout
from batch_lustre.program.asl.history import (
    EVENTS_PER_VISIT,
    EXECUTION_EVENTS,
    HISTORY_LIMIT,
    history_form,
    worst_case_events,
)
from batch_lustre.program.asl.history_forms import COMMAND, definitions, forms
from batch_lustre.program.asl.run_cleanup import build_run_cleanup
from batch_lustre.program.asl.states import AWS_SDK, Graph, next_poll, parallel, polls_over, start_polls, wait_poll
from batch_lustre.program.parameters import (
    AUTO_EXPORT,
    CHECK_SECONDS,
    LOOPS,
    MODES,
    TASK_EXPORT,
    backoff_schedule,
    cross_field_problems,
    evaluate,
    invocations,
    loop_turns,
    parameters_for,
)
from batch_lustre.program.parameters.history_costs import WAIT_FOR_MARGIN_SECONDS, WAIT_FOR_TIMEOUT_SECONDS
from batch_lustre.program.parameters.history_forms import FORMS

PREFIX_LAYOUT = DataLayout("input/", "runs/")


@pytest.mark.parametrize("mode", MODES)
def test_the_forms_the_parameter_checks_use_are_those_of_the_definitions(mode):
    assert FORMS[mode] == forms()[mode], f"parameters/history_forms.py is stale: run `{COMMAND}`"
    assert {name: history_form(d) for name, d in definitions(mode).items()} == FORMS[mode]
    assert FORMS[mode] == real_forms(mode)  # the layout that writes more: the checks hold in both


@functools.cache
def real_forms(mode: str, layout: DataLayout = PREFIX_LAYOUT) -> dict:
    """Each machine's form from the definitions the tests build (not the generator's placeholder refs), in a data
    layout (by default a prefix layout: its two associations write more)."""
    refs = dataclasses.replace(sample_refs(mode), data_layout=layout)
    cleanup = build_run_cleanup(
        refs,
        find_run_resources_function_arn=refs.extract_parameters_function_arn,
        extract_parameters_function_arn=refs.extract_parameters_function_arn,
    )
    return {"workflow": history_form(build_definition(refs)), "run-cleanup": history_form(cleanup)}


WAIT = st.integers(1, 60) | st.integers(1, 3600)
BOUND = st.integers(1, 600) | st.integers(1, 10080)


@given(
    mode=st.sampled_from(MODES),
    lustre_wait=WAIT,
    job_wait=WAIT,
    export_wait=WAIT,
    lustre_bound=BOUND,
    export_bound=BOUND,
    runnable_bound=st.integers(5, 60) | st.integers(5, 1440),
    lane_bound=st.integers(1, 360),
)
def test_every_accepted_parameter_set_stays_under_the_history_limit_and_only_the_others_are_refused(
    mode, lustre_wait, job_wait, export_wait, lustre_bound, export_bound, runnable_bound, lane_bound
):
    values = {p.name: p.defaults[mode] for p in parameters_for(mode, runtime=True)} | {
        "waitForLustreCreationSeconds": lustre_wait,
        "waitForJobCompletionSeconds": job_wait,
        {TASK_EXPORT: "waitForDataRepositoryTaskSeconds", AUTO_EXPORT: "waitForCheckMetricsSeconds"}[mode]: export_wait,
        "lustreCreationTimeoutMinutes": lustre_bound,
        "exportTimeoutMinutes": export_bound,
        "jobRunnableTimeoutMinutes": runnable_bound,
        "laneWaitTimeoutMinutes": lane_bound,
    }
    turns = loop_turns(values, mode)
    worst = {name: evaluate(form, turns) for name, form in real_forms(mode).items()}
    accepted = not cross_field_problems(values, mode)
    assert accepted == all(events < HISTORY_LIMIT for events in worst.values()), (worst, values)


@pytest.mark.parametrize("mode", MODES)
def test_waiting_in_line_is_counted_per_check_because_a_lost_race_asks_wait_for_again(mode):
    variables = {variable for _, coefficients in real_forms(mode)["workflow"] for variable, _ in coefficients}
    assert "lane.checks" in variables and "lane.invocations" not in variables


@pytest.mark.parametrize("mode", MODES)
def test_a_run_that_waits_in_line_its_longest_bound_stays_under_the_history_limit(mode):
    values = {p.name: p.defaults[mode] for p in parameters_for(mode, runtime=True)} | {"laneWaitTimeoutMinutes": 360}
    assert not cross_field_problems(values, mode)
    turns = loop_turns(values, mode)
    assert max(evaluate(form, turns) for form in real_forms(mode).values()) < HISTORY_LIMIT


@pytest.mark.parametrize("mode", MODES)
def test_the_whole_bucket_layout_writes_no_more_than_a_prefix_layout_so_the_checks_hold_in_both(mode):
    defaults = {p.name: p.defaults[mode] for p in parameters_for(mode, runtime=True)}
    turns = loop_turns(defaults, mode)
    for name, form in real_forms(mode, DataLayout()).items():
        assert evaluate(form, turns) <= evaluate(real_forms(mode)[name], turns), name


@pytest.mark.parametrize("mode", MODES)
def test_the_bound_grows_with_the_turns(mode):
    """The bound really depends on the turns: ten times the defaults' would outgrow the history."""
    defaults = {p.name: p.defaults[mode] for p in parameters_for(mode, runtime=True)}
    turns = loop_turns(defaults, mode)
    definition = build_definition(sample_refs(mode))
    bigger = {variable: count * 10 for variable, count in turns.items()}
    assert worst_case_events(definition, bigger) > HISTORY_LIMIT > worst_case_events(definition, turns)


@pytest.mark.parametrize("mode", MODES)
def test_the_bound_needs_the_turns_of_every_loop_of_the_mode_and_of_no_other(mode):
    """Each loop's turns are read: without them, the bound cannot be computed (KeyError naming them)."""
    definition = build_definition(sample_refs(mode))
    defaults = {p.name: p.defaults[mode] for p in parameters_for(mode, runtime=True)}
    turns = loop_turns(defaults, mode)
    needed = set()
    for name in turns:
        try:
            worst_case_events(definition, {k: v for k, v in turns.items() if k != name})
        except KeyError as err:
            assert err.args == (name,)
            needed.add(name.split(".")[0])
    assert needed == {loop.name for loop in LOOPS if loop.applies_to(mode)}


# --- WaitFor's invocations: the count the model uses is what lambda/wait_for.py does ------------------------------


def test_the_model_takes_wait_for_s_timeout_and_margin_from_the_code():
    assert (WAIT_FOR_TIMEOUT_SECONDS, WAIT_FOR_MARGIN_SECONDS) == (
        states.WAIT_FOR_TIMEOUT_SECONDS,
        wait_for.MARGIN_SECONDS,
    )


class _Clock:
    """Lambda's context on a fake clock: every check takes CHECK_SECONDS, each invocation starts one more late."""

    def __init__(self) -> None:
        self.now = 0.0

    def get_remaining_time_in_millis(self) -> int:
        return int((WAIT_FOR_TIMEOUT_SECONDS - self.now) * 1000)

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _lambda_invocations(waits: list[int]) -> int:
    """Invocations of the real ``wait_for.wait`` until the schedule is used up, never done."""
    polls: dict = {}
    count = 0
    while True:
        count += 1
        clock = _Clock()
        clock.now = CHECK_SECONDS  # start-up

        def check(event, clock=clock):
            clock.now += CHECK_SECONDS
            return False, {"Lifecycle": "CREATING"}

        event = {"check": "fileSystem", "record": "x", "waits": waits, "polls": polls}
        out = wait_for.wait(event, clock, check, "Lifecycle", clock.sleep, check_at_once=True)
        if out["Outcome"] == "over":
            return count
        polls = {"x": out}


@settings(max_examples=30)
@given(
    bound=st.integers(0, 600) | st.integers(0, 2000).map(lambda minutes: minutes * 60),
    wait=st.integers(1, 60) | st.integers(1, 3600),
)
def test_the_invocations_the_model_counts_are_those_wait_for_makes(bound, wait):
    schedule = backoff_schedule(bound, wait)
    growth = [w for w in schedule if w < wait]
    assert invocations(growth, len(schedule) - len(growth), wait) == _lambda_invocations(schedule)


def _loop_machine(count_in_loop: bool) -> dict:
    g = Graph()
    g.add("Start", start_polls("x", "Wait"))
    g.add("Wait", wait_poll("x", "Check"))
    g.add(
        "Check",
        {"Type": "Choice", "Choices": [polls_over("x", "Done")], "Default": "Count" if count_in_loop else "Wait"},
    )
    if count_in_loop:
        g.add("Count", next_poll("x", "Wait"))
    g.add("Done", {"Type": "Succeed"})
    return g.render("Start", "loop")


def test_a_loop_costs_its_turns_times_its_limit():
    # Start (2), then (limit + 1) turns of Wait (2) + Check (2) + Count (2), then Done (2), plus 2 execution events.
    assert worst_case_events(_loop_machine(True), {"x.checks": 9}) == 2 + 10 * 6 + 2 + 2


def test_a_loop_that_counts_nothing_is_refused():
    with pytest.raises(ValueError, match="advances 0 poll records"):
        worst_case_events(_loop_machine(False), {"x.checks": 9})


# --- the model against the emulation: the events each visit writes, for generated loop counts ----------------------

ROLE = "arn:aws:iam::123456789012:role/history-probe"


@contextmanager
def emulated() -> Iterator[Emulation]:
    """An emulation with a role the probes' state machines run as, allowed everything (one per example: an
    emulation held across tests would be shared by the other tests run meanwhile on the same worker)."""
    with Emulation() as emu:
        iam = boto3.client("iam", region_name=emu.region)
        trust = {
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ]
        }
        iam.create_role(RoleName="history-probe", AssumeRolePolicyDocument=json.dumps(trust))
        allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_role_policy(RoleName="history-probe", PolicyName="all", PolicyDocument=json.dumps(allow))
        yield emu


def _probe(passes: int, with_task: bool, in_parallel: bool) -> dict:
    """A poll loop of ``passes`` extra Pass states (and a describe Task), alone or as the branch of a Parallel."""
    g = Graph()
    g.add("Start", start_polls("x", "Wait"))
    g.add("Wait", wait_poll("x", "Check"))
    body = [f"P{i}" for i in range(passes)] + (["Describe"] if with_task else []) + ["Count"]
    g.add("Check", {"Type": "Choice", "Choices": [polls_over("x", "Done")], "Default": body[0]})
    for name, after in zip(body[:-1], body[1:], strict=True):
        if name == "Describe":
            g.add(
                name,
                {
                    "Type": "Task",
                    "Resource": f"{AWS_SDK}fsx:describeFileSystems",
                    "Parameters": {},
                    "ResultPath": None,
                    "Next": after,
                },
            )
        else:
            g.add(name, {"Type": "Pass", "Next": after})
    g.add("Count", next_poll("x", "Wait"))
    g.add("Done", {"Type": "Succeed"})
    if not in_parallel:
        return g.render("Start", "probe")
    top = Graph()
    top.add("Both", {**parallel([g.branch("Start")], next_state="End"), "ResultPath": None, "OutputPath": "$"})
    top.add("End", {"Type": "Succeed"})
    return top.render("Both", "probe")


@settings(max_examples=12)
@given(
    checks=st.integers(1, 40),
    passes=st.integers(0, 2),
    with_task=st.booleans(),
    in_parallel=st.booleans(),
)
def test_the_model_counts_the_events_the_emulation_writes(checks, passes, with_task, in_parallel):
    definition = _probe(passes, with_task, in_parallel)
    with emulated() as emu:
        result = run_workflow(
            definition,
            role_arn=ROLE,
            name="history-probe",
            execution_name="probe",
            execution_input={"config": {"derived": {"waits": {"x": [1] * checks}}}},
            emulation=emu,
        )
    assert result.status == "SUCCEEDED", result.cause
    # Every visit writes what EVENTS_PER_VISIT says for its state type, and the execution its own two events.
    visits = [e["type"].removesuffix("StateEntered") for e in result.events if e["type"].endswith("StateEntered")]
    assert result.history_events == EXECUTION_EVENTS + sum(EVENTS_PER_VISIT[kind] for kind in visits)
    assert visits.count("Wait") == checks
    # The bound for this many checks holds, and is tight: it allows at most two turns of the loop more.
    turn = 2 + 2 + 2 * passes + 2 + (EVENTS_PER_VISIT["Task"] if with_task else 0)  # Wait, Check, body, Count
    bound = worst_case_events(definition, {"x.checks": checks})
    assert result.history_events <= bound <= result.history_events + 2 * turn
