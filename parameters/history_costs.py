"""What a run's waiting loops cost in Step Functions' execution history, counted as the definitions write it.

A loop around a WaitFor Task (lambda/wait_for.py; CheckMetrics the same) writes history per invocation of the
function, and one invocation makes every check of up to 14 minutes of its schedule; a loop counted by Pass
states (the run-cleanup machine's, a terminated job's, another data repository task's) writes history per check.
So each schedule of ``derived.waits`` has two counts (``loop_turns``): its checks and the WaitFor invocations its
waits take. ``history_forms.FORMS`` holds, for each mode and state machine, the worst-case history as terms
``const + sum(coefficient * turns[variable])`` (asl/history.py computes them from the definitions; a test keeps
them equal): ``worst_cases`` is their largest value for a parameter set's schedules.

Plain standard-library Python: the ExtractParameters Lambda ships this package.
"""

from __future__ import annotations

from collections.abc import Mapping

# (events, ((variable, events per turn), ...)): one term of a worst-case history (asl/history.py).
Term = tuple[int, tuple[tuple[str, int], ...]]

# The WaitFor function's timeout (asl/states.py WAIT_FOR_TIMEOUT_SECONDS) and the time it leaves unused before it
# (lambda/wait_for.py MARGIN_SECONDS); a test keeps these equal to the code's.
WAIT_FOR_TIMEOUT_SECONDS = 900
WAIT_FOR_MARGIN_SECONDS = 60
# The longest a check (its describe calls, boto3's retries included) is counted to take: WaitFor keeps the margin
# for one more check and its return, so the design bounds a check by it. A check that took longer would leave
# fewer checks to each invocation, and the invocation count below would no longer be an upper bound.
CHECK_SECONDS = WAIT_FOR_MARGIN_SECONDS


def checks_of(schedule: str) -> str:
    """The variable of a schedule's number of checks (its waits)."""
    return f"{schedule}.checks"


def invocations_of(schedule: str) -> str:
    """The variable of the most WaitFor invocations a schedule's waits take."""
    return f"{schedule}.invocations"


def evaluate(form: tuple[Term, ...], turns: Mapping[str, int]) -> int:
    """The largest term of ``form`` for ``turns`` (KeyError naming a variable ``turns`` lacks)."""
    return max(const + sum(c * turns[v] for v, c in coefs) for const, coefs in form)


def invocations(growth: list[int], tail_checks: int, max_wait: int) -> int:
    """The most invocations WaitFor makes to use a schedule of waits ``growth`` then ``tail_checks`` x ``max_wait``
    (``history_budget.backoff_schedule``), each check taking CHECK_SECONDS, never done: as lambda/wait_for.py's
    ``wait`` decides. Each invocation starts with its timeout less one check's time (start-up), the first checks
    at once (CheckMetrics does; counted for every loop: it only adds time), then each wait that still fits before
    the margin is slept and followed by a check; a wait that does not fit ends the invocation ("waiting"), the
    state machine waits it, and the next invocation checks at once."""
    total = len(growth) + tail_checks
    start = WAIT_FOR_TIMEOUT_SECONDS - CHECK_SECONDS
    count, count_invocations, waited = 0, 1, False
    remaining = start - CHECK_SECONDS  # the first invocation's check at once
    while count < len(growth) or (count < total and not waited):
        if count >= total:
            return count_invocations
        wait = growth[count] if count < len(growth) else max_wait
        if not waited:
            if wait > remaining - WAIT_FOR_MARGIN_SECONDS:
                count_invocations += 1
                remaining, waited = start, True
                continue
            remaining -= wait
        waited = False
        count += 1
        remaining -= CHECK_SECONDS
    if count >= total:
        return count_invocations
    # From here every invocation is alike: it checks at once, then as many waits of max_wait as fit.
    after_first = start - CHECK_SECONDS - WAIT_FOR_MARGIN_SECONDS - max_wait
    per_invocation = 1 + (after_first // (max_wait + CHECK_SECONDS) + 1 if after_first >= 0 else 0)
    return count_invocations - 1 + -(-(total - count) // per_invocation)
