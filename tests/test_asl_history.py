"""No run the project accepts can outgrow Step Functions' 25,000-event execution history.

The bound is computed from each mode's definition (asl/history.py): the job is waited on by ``.sync``, so only
the bounded polling loops grow the history, and ``parameters.LOOP_CHECK_LIMITS`` is what the parameter
validation lets each loop do at most (a parameter set needing more is refused, tests/test_parameters_history_budget.py).
"""

import pytest
from conftest import sample_refs

from batch_lustre.program.asl import build_definition
from batch_lustre.program.asl.history import HISTORY_LIMIT, worst_case_events
from batch_lustre.program.asl.states import Graph, next_poll, polls_over, start_polls, wait_poll
from batch_lustre.program.parameters import LOOP_CHECK_LIMITS, MODES


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


def test_every_loop_of_the_definitions_has_a_limit():
    for mode in MODES:
        worst_case_events(build_definition(sample_refs(mode)), LOOP_CHECK_LIMITS)  # KeyError if a loop has none


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
