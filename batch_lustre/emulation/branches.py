"""Emulated time across the Parallel branches of an execution, and across executions: the clock moves only when
every branch of every running execution waits.

AWS runs the branches of a Parallel state at once, each taking its steps within milliseconds; only a Wait
state, or a task waiting for something (``batch:submitJob.sync``), takes time. The emulation has one clock,
moved forward by whoever waits. A branch that waited by moving the clock the whole length of its Wait would
run ahead of its siblings: the file-system branch's seven minutes of status checks would pass before the
compute branch had made its next call, and the compute branch's calls would all be late by those minutes.

So a Wait (``wait_until``) and a ``.sync`` task (``batch_sync``) register as waiters of their execution, each
with the emulated second it waits for. While another branch of the execution is still taking steps, a waiter
only watches the clock. When every branch of the execution waits, the clock moves to the earliest second any
waiter waits for (or the next scheduled event, whichever is first): each branch then sees every state of the
others in order, and the figures do not depend on which thread the machine ran first.

Executions run at once too (runs waiting in line for a lane while another holds it, a run cleanup beside a run):
each is counted from its start to its end, and a waiter moves the clock only when no running execution has a
thread still taking steps, for the same reason as a branch: a run that acts while another waits must not see the
other's minutes pass between two of its states.

Branches are counted when their Parallel starts them (all at once, before the first runs) and uncounted when
each ends; a Parallel nested in a branch blocks that branch until its own branches end. A branch that fails stays
counted until its Parallel has stopped the others (Step Functions, "Parallel workflow state": if any branch fails,
the Parallel fails and its other branches are stopped): its siblings are stopped at the emulated second it failed,
not after the clock moved on to their next wait.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from batch_lustre.emulation import moto_seam
from batch_lustre.emulation.clock import EmulatedClock
from batch_lustre.emulation.moto_seam import BranchesDecl, BranchWorker, ProgramError

WATCH_SECONDS = 0.005  # real seconds between two looks at the clock while another branch acts


def execution_arn(env: Any) -> str:
    """The execution an evaluation environment (or one of its frames) belongs to."""
    try:
        return str(env.states.context_object.context_object_data["Execution"]["Id"])
    except (AttributeError, KeyError, TypeError):
        return ""


@dataclass(eq=False)
class Waiter:
    """A Wait state or a .sync task of ``execution``, waiting until emulated second ``wake_at`` (None: an event)."""

    execution: str
    wake_at: float | None = None


class Activity:
    """Per execution: running Parallel branches, Parallels waiting on their branches, and the waiters."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.executions: Counter[str] = Counter()  # running executions (their top-level program)
        self.branches: Counter[str] = Counter()
        self.parallels: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()  # failed branches whose Parallel has not stopped the others yet
        self.waiters: list[Waiter] = []

    def add(self, waiter: Waiter) -> None:
        with self.lock:
            self.waiters.append(waiter)

    def remove(self, waiter: Waiter) -> None:
        with self.lock:
            self.waiters.remove(waiter)

    def others_active(self, execution: str) -> bool:
        """Whether a thread of ``execution``, or of another running execution, that is not waiting may still act
        (and must be let act first)."""
        with self.lock:
            running = {e for e, count in self.executions.items() if count > 0} | {execution}
            return any(self._acting(e) for e in running)

    def _acting(self, execution: str) -> bool:
        """Whether a thread of ``execution`` is taking steps: its top-level program (no Parallel running) or a
        branch (a branch running a nested Parallel waits on it), less its waiters. Call with the lock held."""
        waiting = sum(1 for w in self.waiters if w.execution == execution)
        if self.parallels[execution] > 0:
            actors = self.branches[execution] - (self.parallels[execution] - 1)
        else:
            actors = 1 if self.executions[execution] > 0 or waiting else 0
        return actors - waiting > 0

    def earliest_wake(self) -> float | None:
        with self.lock:
            times = [w.wake_at for w in self.waiters if w.wake_at is not None]
        return min(times) if times else None

    def step(self, clock: EmulatedClock, waiter: Waiter) -> bool:
        """If ``waiter``'s execution has no branch left acting, move the clock to the next second anyone waits
        for (or the next event); True if it moved. Call with the clock's lock held."""
        if self.others_active(waiter.execution):
            return False
        targets = [t for t in (self.earliest_wake(), next_event(clock)) if t is not None]
        now = clock.seconds()
        if targets and min(targets) > now:
            clock.advance(min(targets) - now)
            return True
        return False


ACTIVITY = Activity()


def next_event(clock: EmulatedClock) -> float | None:
    """The emulated time of the clock's next scheduled event."""
    pending = clock.pending()
    return pending[0][0] if pending else None


def wait_until(clock: EmulatedClock, env: Any, seconds: float) -> None:
    """A Wait state of ``seconds``: wait on the clock, moving it only when no sibling branch is acting.

    Ends early, at that emulated second, if the execution ends meanwhile (stopped, or timed out by an event).
    """
    with clock.lock:
        start = clock.seconds()
        clock.waits += 1
    waiter = Waiter(execution_arn(env), wake_at=start + seconds)
    ACTIVITY.add(waiter)
    try:
        while env.is_running():
            with clock.lock:
                clock.settle()
                if clock.seconds() >= (waiter.wake_at or 0.0):
                    break
                if ACTIVITY.step(clock, waiter):
                    continue
            time.sleep(WATCH_SECONDS)
    finally:
        ACTIVITY.remove(waiter)
        with clock.lock:
            clock.waited_seconds += clock.seconds() - start


def install(stack: ExitStack) -> None:
    """Count each Parallel's branches for ``ACTIVITY``: all of them before the first starts, each until it ends."""
    original_routine = BranchWorker._thread_routine
    original_branches = BranchesDecl._eval_body

    def thread_routine(self: BranchWorker) -> None:
        try:
            original_routine(self)
        finally:
            with ACTIVITY.lock:
                if isinstance(self.env.program_state(), ProgramError):
                    ACTIVITY.failed[execution_arn(self.env)] += 1
                else:
                    ACTIVITY.branches[execution_arn(self.env)] -= 1

    def branches_eval_body(self: BranchesDecl, env: Any) -> None:
        # Every branch is counted before the first one starts: a branch whose thread starts late (a loaded
        # machine) must not let a sibling think it is alone and move the clock.
        execution = execution_arn(env)
        with ACTIVITY.lock:
            ACTIVITY.parallels[execution] += 1
            ACTIVITY.branches[execution] += len(self.programs)
        try:
            original_branches(self, env)
        finally:
            with ACTIVITY.lock:
                ACTIVITY.parallels[execution] -= 1
                ACTIVITY.branches[execution] -= ACTIVITY.failed.pop(execution, 0)

    moto_seam.patch(stack, BranchWorker, "_thread_routine", thread_routine)
    moto_seam.patch(stack, BranchesDecl, "_eval_body", branches_eval_body)
