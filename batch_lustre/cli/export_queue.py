"""What the autoexport workflow's CheckMetrics said of the export queue, as a timeline shows it.

CheckMetrics (``lambda/check_metrics.py``) explains each decision in a ``reason`` that names UTC times and how
long ago the job ended: the same observation reads differently at every poll. ``observation`` says what was
observed, with times on the timeline's one clock (time since the run started, ``+M:SS``), so that a poll that
saw nothing new reads the same as the one before, and the timeline shows it once (``ObservationLog``).
"""

from __future__ import annotations

import datetime as dt
import re

from batch_lustre.cli.common import elapsed

_TIME = r"(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))"
_COUNTS = (
    r" \(\d+ datapoints since the job ended(?:; \d+ datapoints of periods that started before the job ended ignored)?\)"
)
_UNPROVEN = re.compile(
    r"^no datapoint of a period \((?P<period>\d+) s\) that started after the job ended at "
    + _TIME
    + r" \([\d.]+ minutes ago\)(?:; \d+ datapoints of periods that started before the job ended ignored)?"
    r": the export queue is not proven drained(?P<rest>.*)$"
)
_DRAINED = re.compile(
    r"^export queue drained: AgeOfOldestQueuedMessage is 0 in the period starting " + _TIME + _COUNTS + "(?P<rest>.*)$"
)
_QUEUED = re.compile(
    r"^export queue not drained: oldest queued message was (?P<age>\S+) s old in the period starting "
    + _TIME
    + _COUNTS
    + "(?P<rest>.*)$"
)
_ANY_TIME = re.compile(_TIME)


def _at(text: str, started_at: dt.datetime | None) -> str:
    """An ISO time of the reason on the run's clock (as it is when the run's start is unknown)."""
    if started_at is None:
        return text
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None or started_at.tzinfo is None:
        moment, started_at = moment.replace(tzinfo=None), started_at.replace(tzinfo=None)
    return elapsed(moment - started_at)


def observation(reason: str, started_at: dt.datetime | None) -> str:
    """CheckMetrics' ``reason`` as what was observed, times since the run started (module docstring)."""
    reason = " ".join(reason.split())
    found = _UNPROVEN.match(reason)
    if found:
        return (
            f"no datapoint yet of a period after the job ended ({_at(found['at'], started_at)}): "
            f"not proven drained{found['rest']}"
        )
    found = _QUEUED.match(reason)
    if found:
        return (
            f"not drained: oldest queued message {found['age']} s old in the period starting "
            f"{_at(found['at'], started_at)}{found['rest']}"
        )
    found = _DRAINED.match(reason)
    if found:
        return f"drained: 0 in the period starting {_at(found['at'], started_at)}{found['rest']}"
    return _ANY_TIME.sub(lambda m: _at(m["at"], started_at), reason)


class ObservationLog:
    """The observations shown so far: each distinct one is shown once."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def new(self, reason: str, started_at: dt.datetime | None) -> str | None:
        """The observation of ``reason`` if not shown yet (then it counts as shown), else None."""
        text = observation(reason, started_at)
        if text in self.seen:
            return None
        self.seen.add(text)
        return text
