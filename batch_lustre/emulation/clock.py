"""Emulated time: a clock that only moves when the emulation says so, and the events due on it.

Nothing in the emulation sleeps. A Wait state of N seconds advances the clock by
N emulated seconds at once; every lifecycle (file system creation, job attempts,
export) is an event scheduled at an emulated time and applied, in time order,
when the clock reaches it. Durations measured on this clock are the realistic
ones (a 7-minute file system creation reads as 420 s) while a whole run takes a
fraction of a real second.
"""

from __future__ import annotations

import datetime as _dt
import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

UTC = _dt.UTC


@dataclass(order=True)
class _Scheduled:
    at: float
    seq: int
    action: Callable[[float], None] = field(compare=False)
    label: str = field(compare=False, default="")


class EmulatedClock:
    """Seconds since the emulation started, plus a wall-clock origin for timestamps.

    ``advance`` moves time forward and applies every scheduled event that came due,
    each at its own time (``now()`` inside an event's action is the event's time), so a
    single long Wait still goes through every intermediate state in order.
    """

    def __init__(self, origin: _dt.datetime | None = None) -> None:
        # A whole minute: CloudWatch stamps a datapoint with its minute's start, so where a run begins within its
        # minute decides which datapoints follow the job's end (in autoexport, whether the queue is proven
        # drained by the metric or by the fallback export task). Starting on the minute makes every run of a
        # scenario take the same path and give the same figures.
        origin = origin or _dt.datetime.now(tz=UTC).replace(second=0, microsecond=0)
        self.origin = origin if origin.tzinfo else origin.replace(tzinfo=UTC)
        self._seconds = 0.0
        self._queue: list[_Scheduled] = []
        self._seq = itertools.count()
        self.lock = threading.RLock()
        self.waited_seconds = 0.0  # total of the Wait states and retry intervals that were skipped
        self.waits = 0
        self.waits_released = threading.Event()  # cleared: Wait states block (real time) until set again
        self.waits_released.set()

    # --- reading -----------------------------------------------------------------------------
    def seconds(self) -> float:
        """Emulated seconds since the origin."""
        return self._seconds

    def now(self) -> _dt.datetime:
        """The emulated time as an aware UTC datetime."""
        return self.at(self._seconds)

    def at(self, seconds: float) -> _dt.datetime:
        """The datetime of emulated second ``seconds``."""
        return self.origin + _dt.timedelta(seconds=seconds)

    def seconds_of(self, when: _dt.datetime) -> float:
        """Emulated seconds of a datetime (naive datetimes are taken as UTC)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return (when - self.origin).total_seconds()

    # --- scheduling --------------------------------------------------------------------------
    def schedule(self, at: float, action: Callable[[float], None], label: str = "") -> None:
        """Run ``action(at)`` once the clock reaches emulated second ``at`` (now, if already past)."""
        with self.lock:
            heapq.heappush(self._queue, _Scheduled(max(at, self._seconds), next(self._seq), action, label))
            self._run_due()

    def schedule_in(self, delay: float, action: Callable[[float], None], label: str = "") -> None:
        self.schedule(self._seconds + max(0.0, delay), action, label)

    def pending(self) -> list[tuple[float, str]]:
        """Scheduled events not yet due, in time order (for debugging and tests)."""
        with self.lock:
            return [(s.at, s.label) for s in sorted(self._queue)]

    # --- moving ------------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``, applying due events in time order."""
        if seconds < 0:
            raise ValueError(f"time does not go backwards: advance({seconds})")
        with self.lock:
            target = self._seconds + seconds
            while self._queue and self._queue[0].at <= target:
                item = heapq.heappop(self._queue)
                self._seconds = max(self._seconds, item.at)
                item.action(item.at)
            self._seconds = target

    def skip_wait(self, seconds: float) -> None:
        """A Wait state or retry interval: advance instead of sleeping, and count it."""
        with self.lock:
            self.waits += 1
            self.waited_seconds += seconds
            self.advance(seconds)

    def settle(self) -> None:
        """Apply events due at the current time (scheduled 'now' by an earlier event)."""
        with self.lock:
            self._run_due()

    def _run_due(self) -> None:
        while self._queue and self._queue[0].at <= self._seconds:
            item = heapq.heappop(self._queue)
            item.action(item.at)


def clock_datetime_class(clock: EmulatedClock) -> type[_dt.datetime]:
    """A ``datetime`` subclass whose ``now()``/``utcnow()`` read ``clock``.

    Used to replace the ``datetime`` name inside moto's Step Functions modules, so
    ``$$.State.EnteredTime``, ``$$.Execution.StartTime`` and history timestamps are
    emulated times.
    """

    class ClockDatetime(_dt.datetime):
        @classmethod
        # Why mypy is told to ignore the next line: the stubs type datetime.now as returning Self; this returns the clock's plain datetime.
        def now(cls, tz: _dt.tzinfo | None = None) -> _dt.datetime:  # type: ignore[override]
            current = clock.now()
            return current.astimezone(tz) if tz is not None else current.replace(tzinfo=None)

        @classmethod
        # Why mypy is told to ignore the next line: as for now (the stubs' Self return type).
        def utcnow(cls) -> _dt.datetime:  # type: ignore[override]
            return clock.now().replace(tzinfo=None)

    return ClockDatetime


def clock_datetime_module(clock: EmulatedClock) -> object:
    """A stand-in for the ``datetime`` module whose ``datetime.now()`` reads ``clock``."""
    import types

    module = types.ModuleType("datetime")
    module.__dict__.update({k: v for k, v in _dt.__dict__.items() if not k.startswith("__")})
    # Why mypy is told to ignore the next line: a ModuleType has no declared attributes; this one is the datetime module's stand-in.
    module.datetime = clock_datetime_class(clock)  # type: ignore[attr-defined]
    return module
