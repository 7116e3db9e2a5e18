"""``lanes``: the stack's lanes (free, or which run holds each since when) and the runs waiting in line; the same
listings ``status`` shows under its runs (``automation.lane_view``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import typer
from rich.console import Console

from batch_lustre import automation
from batch_lustre.automation import lane_view
from batch_lustre.cli.common import JsonOption, OutputsFileOption, StackOption, one_line_errors, out, print_json, when
from batch_lustre.cli.listing import Column, Listing, show
from batch_lustre.program.asl import naming


def read_lanes(stack: str, found: Mapping[str, Any]) -> lane_view.LaneView | None:
    """The stack's lanes, or None for a stack deployed before lanes (no output ``laneTable``)."""
    if naming.OUTPUT_LANE_TABLE not in found:
        return None
    return lane_view.lanes(stack, found, lane_view.LaneClients.for_region(automation.stack_region(stack)))


def view_json(view: lane_view.LaneView) -> dict[str, Any]:
    """``lanes --json``: ``{table, lanes: [{lane, state, compute_environment, job_queue, run, owner, owner_status,
    since}], waiting: [{run, execution_arn, started_at, ahead, next_lane}]}``."""
    return {
        "table": view.table,
        "lanes": [
            {
                "lane": lane.index,
                "state": lane.state,
                "compute_environment": lane.compute_environment,
                "job_queue": lane.job_queue,
                "run": lane.run,
                "owner": lane.owner,
                "owner_status": lane.owner_status,
                "since": lane.since.isoformat() if lane.since else None,
            }
            for lane in view.lanes
        ],
        "waiting": [
            {
                "run": run.name,
                "execution_arn": run.execution_arn,
                "started_at": run.started.isoformat(),
                "ahead": run.ahead,
                "next_lane": run.next_lane,
            }
            for run in view.waiting
        ],
    }


def show_lanes(stack: str, view: lane_view.LaneView, console: Console) -> None:
    """The lanes, then the runs waiting in line (or that none waits)."""
    listing = Listing(
        [Column("lane", key=True), Column("state"), Column("run"), Column("since"), Column("compute environment")],
        title=f"lanes of stack {stack}",
    )
    for lane in view.lanes:
        state = {
            lane_view.OWNER_ENDED: f"owner {lane.owner_status}",
            lane_view.ENDING: f"owner {lane.owner_status}, its cleanup due",
        }.get(lane.state, lane.state)
        listing.add_row(str(lane.index), state, lane.run or "-", when(lane.since), lane.compute_environment or "-")
    show(listing, console)
    if not view.waiting:
        console.print("no run is waiting for a lane")
        return
    line = Listing(
        [Column("run", key=True), Column("started"), Column("ahead", justify="right"), Column("next lane")],
        title=f"runs waiting for a lane, first in line first ({len(view.waiting)})",
    )
    for run in view.waiting:
        next_lane = "-" if run.next_lane is None else str(run.next_lane)
        line.add_row(run.name, when(run.started), str(run.ahead), next_lane)
    show(line, console)
    if view.owner_ended:
        console.print(
            f"{len(view.owner_ended)} lane(s) held by an ended run: the next run in line takes it over "
            f"(`batch-lustre sweep {stack}` frees it now)"
        )


def lanes(stack: StackOption, outputs_file: OutputsFileOption = None, as_json: JsonOption = False) -> None:
    """The stack's lanes (free, or which run holds each since when) and the runs waiting in line, with how many
    are ahead of each."""
    with one_line_errors():
        found = automation.load_outputs(stack, outputs_file)
        view = lane_view.lanes(stack, found, lane_view.LaneClients.for_region(automation.stack_region(stack)))
    if as_json:
        print_json(view_json(view))
        return
    show_lanes(stack, view, out())


def register(app: typer.Typer) -> None:
    app.command("lanes")(lanes)
