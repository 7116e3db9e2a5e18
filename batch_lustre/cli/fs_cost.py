"""A run's file-system cost in US dollars, as ``run``, ``status``, ``demo`` and ``scenarios`` show it.

The price is the stack's (``pricing.price``: stack config ``lustrePricePerGibMonthUsd``, else the table for the
stack's Region). The use is read from the run's execution history: the capacity ExtractParameters accepted, from
``CreateLustreFileSystem``'s exit until ``DeleteFSx``'s exit, or until the run ended when the file system was not
deleted (it may still exist, and bill: "so far").
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from batch_lustre import automation, pricing
from batch_lustre.cli.common import clock

PRICE_KEY = "lustrePricePerGibMonthUsd"


def stack_price(stack: str) -> pricing.Price:
    """The price of stack ``stack`` (``Pulumi.<stack>.yaml``: its Region and ``lustrePricePerGibMonthUsd``)."""
    settings = automation.stack_settings(stack)
    return pricing.price(automation.stack_region(stack), settings.values.get(PRICE_KEY))


@dataclass(frozen=True)
class FileSystemUse:
    """How much file system a run used, and what it cost."""

    capacity_gib: int
    seconds: float
    deleted: bool  # False: the run ended with the file system still there (kept, or not deleted yet)
    price: pricing.Price

    @property
    def gib_hours(self) -> float:
        return pricing.gib_hours(self.capacity_gib, self.seconds)

    @property
    def usd(self) -> float:
        return pricing.fs_cost_usd(self.capacity_gib, self.seconds, self.price.usd_per_gib_month)

    def line(self) -> str:
        """One line: the dollars, and how they are reckoned."""
        until = "" if self.deleted else " so far (the run ended with the file system not deleted)"
        return (
            f"file system cost: ${self.usd:.2f}{until} = {self.capacity_gib} GiB x {clock(self.seconds)} "
            f"({self.gib_hours:.1f} GiB-hours) at ${self.price.usd_per_gib_month:.3f} per GiB-month "
            f"({self.price.source})"
        )


def _params(output: str | None) -> Mapping[str, Any]:
    try:
        data = json.loads(output) if output else None
    except ValueError:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("fs"), dict) or not data["fs"].get("FileSystemId"):
        return {}
    params = (data.get("config") or {}).get("params")  # asl.paths.PARAMS
    return params if isinstance(params, dict) else {}


def use_from_history(events: Iterable[Mapping[str, Any]], price: pricing.Price) -> FileSystemUse | None:
    """The run's file-system use from its history events (None: no file system was created)."""
    created: dt.datetime | None = None
    deleted: dt.datetime | None = None
    ended: dt.datetime | None = None
    capacity: Any = None
    for event in sorted(events, key=lambda e: e["id"]):
        kind = event["type"]
        if kind == "TaskStateExited":
            details = event.get("stateExitedEventDetails") or {}
            if details.get("name") == "CreateLustreFileSystem":
                params = _params(details.get("output"))
                if params.get("lustreStorageCapacity") is not None:
                    created, capacity = event["timestamp"], params["lustreStorageCapacity"]
            elif details.get("name") == "DeleteFSx" and created is not None:
                deleted = event["timestamp"]
        elif kind in automation.TERMINAL_EVENTS:
            ended = event["timestamp"]
    if created is None or not isinstance(capacity, int | str):
        return None
    stop = deleted or ended or dt.datetime.now(dt.UTC)
    return FileSystemUse(int(capacity), max(0.0, (stop - created).total_seconds()), deleted is not None, price)


def run_use(execution_arn: str, sfn: Any, price: pricing.Price) -> FileSystemUse | None:
    """``use_from_history`` of the run ``execution_arn`` (its whole history, read now)."""
    return use_from_history(automation.HistoryReader(execution_arn, sfn).new_events(), price)
