"""CloudWatch AWS/FSx AgeOfOldestQueuedMessage (Publisher=AutoExport), driven by the auto export queue.

AWS_FACTS.md: 1-minute period; datapoints only while the queue is active. Here,
once a file system's auto export queue gets an entry, a datapoint is published
every emulated minute: the age in seconds of the oldest queued file, then (when
the queue has drained) 0 for ``zero_minutes`` minutes, then nothing. The scenario
can suppress every datapoint, make the queue stuck (never 0), or make datapoints
late: with ``delay_minutes`` each datapoint is stamped with its period's start but
reaches CloudWatch (GetMetricData returns it) that many minutes later, as real
CloudWatch datapoints can (so "the newest datapoint" lags behind the queue).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from batch_lustre.emulation.clock import EmulatedClock
from batch_lustre.emulation.moto_seam import cloudwatch_backends
from batch_lustre.emulation.scenario import METRIC_NONE, MetricsScenario

NAMESPACE = "AWS/FSx"
METRIC_NAME = "AgeOfOldestQueuedMessage"
PERIOD_SECONDS = 60


@dataclass
class ExportQueueMetric:
    clock: EmulatedClock
    scenario: MetricsScenario
    account_id: str
    region: str
    queue_oldest: Callable[[str], float | None]  # file system id -> when its oldest queued file was queued
    published: list[tuple[str, float, float]] = field(default_factory=list)  # (fs id, emulated second, value)
    visible: list[tuple[str, float, float]] = field(default_factory=list)  # those CloudWatch has (delay_minutes)
    _ticking: set[str] = field(default_factory=set)
    _zeros: dict[str, int] = field(default_factory=dict)

    def queue_active(self, file_system_id: str) -> None:
        """The file system's auto export queue got an entry: publish every minute from now on."""
        self._zeros[file_system_id] = 0
        if self.scenario.behaviour == METRIC_NONE or file_system_id in self._ticking:
            return
        self._ticking.add(file_system_id)
        self.clock.schedule(
            self._next_minute(self.clock.seconds()), lambda at: self._tick(file_system_id, at), "metric tick"
        )

    def _next_minute(self, seconds: float) -> float:
        """The next whole wall-clock minute (datapoints are stamped at the start of their period)."""
        epoch = self.clock.at(seconds).timestamp()
        return seconds + (math.floor(epoch / PERIOD_SECONDS) + 1) * PERIOD_SECONDS - epoch

    def _tick(self, file_system_id: str, at: float) -> None:
        oldest = self.queue_oldest(file_system_id)
        if oldest is not None:
            self._publish(file_system_id, at, max(1.0, at - oldest))
            self._zeros[file_system_id] = 0
        elif self._zeros.get(file_system_id, 0) < self.scenario.zero_minutes:
            self._publish(file_system_id, at, 0.0)
            self._zeros[file_system_id] = self._zeros.get(file_system_id, 0) + 1
        else:
            self._ticking.discard(file_system_id)
            return
        self.clock.schedule(at + PERIOD_SECONDS, lambda t: self._tick(file_system_id, t), "metric tick")

    def stop(self, file_system_id: str) -> None:
        self._ticking.discard(file_system_id)
        self._zeros[file_system_id] = self.scenario.zero_minutes

    def _publish(self, file_system_id: str, at: float, value: float) -> None:
        self.published.append((file_system_id, at, value))
        delay = self.scenario.delay_minutes * 60
        if delay > 0:
            self.clock.schedule(at + delay, lambda _: self._put(file_system_id, at, value), "late metric datapoint")
        else:
            self._put(file_system_id, at, value)

    def _put(self, file_system_id: str, at: float, value: float) -> None:
        """The datapoint of the period starting at emulated second ``at`` reaches CloudWatch."""
        self.visible.append((file_system_id, at, value))
        cloudwatch_backends[self.account_id][self.region].put_metric_data(
            NAMESPACE,
            [
                {
                    "MetricName": METRIC_NAME,
                    "Dimensions": [
                        {"Name": "FileSystemId", "Value": file_system_id},
                        {"Name": "Publisher", "Value": "AutoExport"},
                    ],
                    "Timestamp": self.clock.at(at).replace(tzinfo=None),  # moto compares naive UTC
                    "Value": value,
                    "Unit": "Seconds",
                }
            ],
        )
