"""The run queue's rule (asl/lane_queue.py): which lane a run may take, from one view of the lane table and the line
of RUNNING executions."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch_lustre.program.asl.lane_queue import (
    NO_OWNER,
    TAKEOVER_GRACE_SECONDS,
    Execution,
    Holder,
    choose_lane,
    owner_has_ended,
    owners_to_describe,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:execution:m:"


def run(n: int, seconds: float = 0.0) -> Execution:
    return Execution(T0 + timedelta(seconds=seconds if seconds else n), f"{ARN}run-{n:02d}")


def hold(lane: int, execution: Execution) -> Holder:
    return Holder(lane, execution.arn, "2026-01-01T00:00:00Z")


def test_a_free_lane_is_taken_with_no_owner_to_replace():
    me = run(1)
    choice = choose_lane(me, 1, [me], [], ended=())
    assert (choice.lane, choice.ended, choice.free, choice.ahead) == (0, NO_OWNER, (0,), ())


def test_a_run_waits_while_its_only_lane_is_held_by_a_running_owner():
    owner, me = run(1), run(2)
    choice = choose_lane(me, 1, [owner, me], [hold(0, owner)], ended=())
    assert (choice.lane, choice.free, choice.owners) == (None, (), {0: owner.arn})


def test_a_lane_whose_owner_ended_is_taken_over_naming_that_owner():
    owner, me = run(1), run(2)
    choice = choose_lane(me, 1, [me], [hold(0, owner)], ended={owner.arn})
    assert (choice.lane, choice.ended) == (0, owner.arn)


def test_an_owner_missing_from_the_list_but_not_confirmed_ended_keeps_its_lane():
    owner, me = run(1), run(2)
    assert choose_lane(me, 1, [me], [hold(0, owner)], ended=()).lane is None


def test_an_older_run_without_a_lane_goes_first():
    older, me = run(1), run(2)
    choice = choose_lane(me, 1, [older, me], [], ended=())
    assert (choice.lane, choice.ahead) == (None, (older.arn,))


def test_with_two_free_lanes_the_second_in_line_takes_the_second_lane():
    older, me = run(1), run(2)
    assert choose_lane(me, 2, [older, me], [], ended=()).lane == 1


def test_runs_that_started_in_the_same_instant_are_ordered_by_arn():
    first, second = run(1, seconds=5), run(2, seconds=5)
    assert choose_lane(first, 1, [first, second], [], ended=()).lane == 0
    assert choose_lane(second, 1, [first, second], [], ended=()).ahead == (first.arn,)


def test_a_run_that_already_holds_a_lane_takes_it_again_naming_itself():
    me, younger = run(1), run(2)
    choice = choose_lane(me, 2, [me, younger], [hold(1, me)], ended=())
    assert (choice.lane, choice.ended) == (1, me.arn)


def test_a_listed_run_is_ordered_by_its_listed_start_whatever_start_it_was_given():
    other, listed_me = run(1, seconds=5.5), run(2, seconds=5.7)
    me_truncated = Execution(T0 + timedelta(seconds=5), listed_me.arn)  # e.g. a start time without milliseconds
    choice = choose_lane(me_truncated, 1, [other, listed_me], [], ended=())
    assert (choice.lane, choice.ahead) == (None, (other.arn,))
    assert choose_lane(other, 1, [other, listed_me], [], ended=()).lane == 0


def test_a_run_not_yet_listed_still_counts_the_runs_before_it():
    older, me = run(1), run(2)
    assert choose_lane(me, 1, [older], [], ended=()).ahead == (older.arn,)


def test_an_item_of_a_lane_the_stack_no_longer_has_holds_nothing():
    gone, me = run(1), run(2)
    choice = choose_lane(me, 1, [gone, me], [hold(3, gone)], ended=())
    assert (choice.lane, choice.owners) == (0, {})


def test_a_stack_without_lanes_is_refused():
    with pytest.raises(ValueError, match="lanes=0"):
        choose_lane(run(1), 0, [], [], ended=())


def test_owners_to_describe_are_the_owners_the_list_does_not_show():
    listed, unlisted = run(1), run(2)
    holders = [hold(0, listed), hold(1, unlisted), hold(2, unlisted)]
    assert owners_to_describe([listed], holders) == [unlisted.arn]


# --- Properties: one consistent view (the table, the line, the owners known to have ended) -----------------------


@st.composite
def views(draw):
    """A stack's lanes, its RUNNING executions (some holding lanes) and ended owners still in the table."""
    lanes = draw(st.integers(1, 6))
    starts = draw(st.lists(st.integers(0, 5), min_size=1, max_size=10))
    running = [Execution(T0 + timedelta(seconds=s), f"{ARN}run-{i:02d}") for i, s in enumerate(starts)]
    ended = [f"{ARN}ended-{i}" for i in range(draw(st.integers(0, 3)))]
    owners = draw(st.lists(st.sampled_from([r.arn for r in running] + ended + [None]), min_size=lanes, max_size=lanes))
    # A run holds at most one lane.
    seen: set[str] = set()
    holders = []
    for lane, owner in enumerate(owners):
        if owner is not None and owner not in seen:
            seen.add(owner)
            holders.append(Holder(lane, owner, "2026-01-01T00:00:00Z"))
    return lanes, running, holders, set(ended)


@given(views())
def test_no_two_runs_with_the_same_view_choose_the_same_lane(view):
    lanes, running, holders, ended = view
    holding = {h.owner for h in holders}
    chosen = [choose_lane(me, lanes, running, holders, ended).lane for me in running if me.arn not in holding]
    taken = [lane for lane in chosen if lane is not None]
    assert len(taken) == len(set(taken))
    assert not set(taken) & {h.lane for h in holders if h.owner not in ended}


@given(views())
def test_a_run_never_takes_a_lane_an_older_lane_less_run_could_not(view):
    lanes, running, holders, ended = view
    holding = {h.owner for h in holders}
    waiting = sorted(me for me in running if me.arn not in holding)
    chosen = [choose_lane(me, lanes, running, holders, ended).lane for me in waiting]
    for older, younger in zip(chosen, chosen[1:], strict=False):
        assert older is not None or younger is None


@given(views())
def test_a_lane_whose_owner_ended_is_free(view):
    lanes, running, holders, ended = view
    for me in running:
        choice = choose_lane(me, lanes, running, holders, ended)
        assert {h.lane for h in holders if h.owner in ended} <= set(choice.free)
        if choice.lane is not None and choice.ended != me.arn:
            assert choice.ended == next((h.owner for h in holders if h.lane == choice.lane), NO_OWNER)


@given(views())
def test_free_lanes_are_used_as_long_as_runs_wait(view):
    lanes, running, holders, ended = view
    holding = {h.owner for h in holders}
    waiting = [me for me in running if me.arn not in holding]
    free = choose_lane(running[0], lanes, running, holders, ended).free
    chosen = [choose_lane(me, lanes, running, holders, ended).lane for me in waiting]
    assert len([lane for lane in chosen if lane is not None]) == min(len(free), len(waiting))


# --- when an ended owner's lane may be taken over (owner_has_ended) ------------------------------------------

NOW = 2_000_000_000.0
STOPS = st.floats(min_value=0, max_value=3 * TAKEOVER_GRACE_SECONDS, allow_nan=False)


@given(STOPS, st.sampled_from(["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "RUNNING"]))
def test_an_owner_is_taken_over_only_past_the_grace_after_its_stop_and_never_while_running(ago, status):
    stopped = datetime.fromtimestamp(NOW - ago, UTC)
    ended = owner_has_ended({"status": status, "stopDate": stopped}, "not a time", NOW)
    assert ended == (status != "RUNNING" and ago > TAKEOVER_GRACE_SECONDS)


@given(STOPS)
def test_an_owner_step_functions_does_not_know_counts_from_when_it_took_the_lane(ago):
    since = datetime.fromtimestamp(NOW - ago, UTC).isoformat()
    assert owner_has_ended(None, since, NOW) == (ago > TAKEOVER_GRACE_SECONDS)
    assert owner_has_ended(None, "garbled", NOW) is False  # an unreadable item never frees a lane
