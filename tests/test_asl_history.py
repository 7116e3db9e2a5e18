"""No run the project accepts can outgrow Step Functions' 25,000-event execution history.

The bound is computed from each mode's definition (asl/history.py): the job is waited on by ``.sync``, so only
the bounded polling loops grow the history, and ``parameters.LOOP_CHECK_LIMITS`` is what the parameter
validation lets each loop do at most (a parameter set needing more is refused, tests/test_parameters_history_budget.py).
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest
from conftest import sample_refs
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_lustre.emulation import Emulation, run_workflow
from batch_lustre.program.asl import build_definition
from batch_lustre.program.asl.history import EVENTS_PER_VISIT, EXECUTION_EVENTS, HISTORY_LIMIT, worst_case_events
from batch_lustre.program.asl.states import AWS_SDK, Graph, next_poll, parallel, polls_over, start_polls, wait_poll
from batch_lustre.program.parameters import LOOP_CHECK_LIMITS, LOOPS, MODES


@pytest.mark.parametrize("mode", MODES)
def test_the_longest_accepted_run_stays_under_the_history_limit(mode):
    worst = worst_case_events(build_definition(sample_refs(mode)), LOOP_CHECK_LIMITS)
    assert worst < HISTORY_LIMIT, f"{mode}: up to {worst} history events"


@pytest.mark.parametrize("mode", MODES)
def test_the_bound_grows_with_the_loop_limits(mode):
    """The bound really depends on the limits: ten times the checks would outgrow the history."""
    definition = build_definition(sample_refs(mode))
    bigger = {loop: limit * 10 for loop, limit in LOOP_CHECK_LIMITS.items()}
    assert worst_case_events(definition, bigger) > HISTORY_LIMIT > worst_case_events(definition, LOOP_CHECK_LIMITS)


@pytest.mark.parametrize("mode", MODES)
def test_the_bound_needs_the_limit_of_every_loop_of_the_mode_and_of_no_other(mode):
    """Each loop's limit is read: without it, the bound cannot be computed (KeyError naming it)."""
    definition = build_definition(sample_refs(mode))
    needed = set()
    for name in LOOP_CHECK_LIMITS:
        try:
            worst_case_events(definition, {k: v for k, v in LOOP_CHECK_LIMITS.items() if k != name})
        except KeyError as err:
            assert err.args == (name,)
            needed.add(name)
    assert needed == {loop.name for loop in LOOPS if loop.applies_to(mode)}


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
    assert worst_case_events(_loop_machine(True), {"x": 9}) == 2 + 10 * 6 + 2 + 2


def test_a_loop_that_counts_nothing_is_refused():
    with pytest.raises(ValueError, match="advances 0 poll records"):
        worst_case_events(_loop_machine(False), {"x": 9})


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
    bound = worst_case_events(definition, {"x": checks})
    assert result.history_events <= bound <= result.history_events + 2 * turn
