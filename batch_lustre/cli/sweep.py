"""``sweep``: find and delete what ended runs left behind (file systems, launch templates, job definitions), and free
the lanes an ended run still holds (``automation.lane_view``); list the file systems from before the stack id and
adopt them on request (``automation.adoption``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer
from rich.markup import escape

from batch_lustre import automation
from batch_lustre.automation import adoption, lane_view, leftovers
from batch_lustre.cli.common import EXIT_FAILED, OutputsFileOption, StackOption, fail, one_line_errors, out, when
from batch_lustre.cli.lanes import read_lanes
from batch_lustre.cli.listing import Column, Listing, show
from batch_lustre.program.asl import naming

ORDER = {leftovers.JOB_DEFINITION: 0, leftovers.LAUNCH_TEMPLATE: 1, leftovers.FILE_SYSTEM: 2}


def sweep(
    stack: StackOption,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Delete (and adopt) without asking for confirmation.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Also delete file systems whose run is not in this stack's history (listed otherwise, not deleted).",
        ),
    ] = False,
    adopt: Annotated[
        bool,
        typer.Option(
            "--adopt",
            help="Tag the file systems from before the stack id (this stack's old tags, no stack id) with this "
            "stack's id, so that the stack's roles and sweep act on them.",
        ),
    ] = False,
    outputs_file: OutputsFileOption = None,
) -> None:
    """Find per-run resources of ended runs (tagged with the stack's id, output stackId) and delete them, and the
    lanes an ended run still holds and free them, after confirmation. Another stack's resources are never looked
    at; a lane another run took meanwhile is left alone. File systems from before the stack id (this stack's old
    tags, no id) are listed; --adopt tags them with the stack's id, after confirmation."""
    with one_line_errors():
        found = automation.load_outputs(stack, outputs_file)
        bucket = found.get(naming.OUTPUT_BUCKET_NAME, "the bucket")
        clients = leftovers.LeftoverClients.for_region(automation.stack_region(stack))
        old = adoption.from_before_stack_id(stack, found, clients.fsx)
        if adopt and old:
            _adopt(stack, found, old, clients, yes)
            old = []
        ended, running = leftovers.find_leftovers(stack, found, clients)
        view = read_lanes(stack, found)
    held = view.owner_ended if view is not None else ()
    console = out()
    for before in old:
        console.print(
            f"[yellow]from before the stack id:[/] file system {before.name} ({before.file_system_id}) of run "
            f"{before.run}, {before.lifecycle}: it carries this stack's old tags and no stack id, so neither the stack's roles nor "
            "sweep act on it; `--adopt` tags it with this stack's id",
            soft_wrap=True,
        )
    for item in running:
        console.print(f"left alone: {item.kind} {item.name} of run {item.run}, which is RUNNING")
    if not ended and not held:
        console.print(f"nothing to sweep: no per-run resource of an ended run of stack {stack}, no lane held by one")
        return
    ended.sort(key=lambda i: (ORDER[i.kind], i.run, i.name))
    if ended:
        show(_listing(stack, ended), console)
    for item in ended:
        why = item.in_use or (None if force else item.needs_force)
        if why:
            console.print(f"[yellow]left alone:[/] {item.kind} {item.name}: {escape(why)}", soft_wrap=True)
    if held:
        show(_lane_listing(stack, held), console)
    doomed = leftovers.to_delete(ended, force=force)
    if not doomed and not held:
        return
    file_systems = [i for i in doomed if i.kind == leftovers.FILE_SYSTEM]
    if file_systems:
        console.print(
            f"[bold red]WARNING: deleting {len(file_systems)} file system(s) deletes everything on them, for good.[/] "
            "A run keeps its file system only when its data is not provably in S3 (or with deleteLustre=false), "
            f"so files on them may be missing from s3://{bucket} and would be lost. Copy what you need first.",
            soft_wrap=True,
        )
    if not yes and not typer.confirm(_question(doomed, file_systems, held), default=False):
        fail("sweep cancelled: nothing was deleted")
    failures = 0
    if view is not None:
        failures += _free_lanes(view.table, held, automation.aws_client("dynamodb", automation.stack_region(stack)))
    for item in doomed:
        try:
            leftovers.delete_leftover(item, clients)
            console.print(
                f"deleted {item.kind} {item.name}" + (" (now DELETING)" if item.kind == leftovers.FILE_SYSTEM else "")
            )
        except automation.AwsError as err:
            failures += 1
            console.print(f"[red]could not delete {item.kind} {item.name}:[/] {escape(str(err))}")
    if failures:
        raise typer.Exit(EXIT_FAILED)


def _question(
    doomed: list[leftovers.Leftover], file_systems: list[leftovers.Leftover], held: tuple[lane_view.Lane, ...]
) -> str:
    parts = []
    if doomed:
        part = f"delete these {len(doomed)} resource(s)"
        if file_systems:
            part += f", including {len(file_systems)} file system(s) and any data on them not in S3"
        parts.append(part)
    if held:
        parts.append(f"free these {len(held)} lane(s)")
    question = " and ".join(parts)
    return question[0].upper() + question[1:] + "?"


def _free_lanes(table: str, held: tuple[lane_view.Lane, ...], dynamodb: Any) -> int:
    """Free each lane on the condition that its ended owner still holds it; the number of lanes that failed."""
    console = out()
    failures = 0
    for lane in held:
        try:
            freed = lane_view.free_lane(table, lane, dynamodb)
        except automation.AwsError as err:
            failures += 1
            console.print(f"[red]could not free lane {lane.index}:[/] {escape(str(err))}")
            continue
        if freed:
            console.print(f"freed lane {lane.index} (held by run {lane.run}, {lane.owner_status})")
        else:
            console.print(f"[yellow]left alone:[/] lane {lane.index}: another run took it over meanwhile")
    return failures


def _lane_listing(stack: str, held: tuple[lane_view.Lane, ...]) -> Listing:
    listing = Listing(
        [Column("lane", key=True), Column("run"), Column("run status"), Column("since")],
        title=f"lanes of stack {stack} held by ended runs",
    )
    for lane in held:
        listing.add_row(str(lane.index), lane.run or "-", lane.owner_status or "-", when(lane.since))
    return listing


def _adopt(
    stack: str,
    outputs: Mapping[str, Any],
    old: list[adoption.OldFileSystem],
    clients: leftovers.LeftoverClients,
    yes: bool,
) -> None:
    console = out()
    for item in old:
        console.print(f"from before the stack id: file system {item.name} ({item.file_system_id}) of run {item.run}")
    question = f"Tag these {len(old)} file system(s) with the id of stack {stack}, as its own?"
    if not yes and not typer.confirm(question, default=False):
        fail("adoption cancelled: nothing was tagged")
    for item in old:
        adoption.adopt(stack, outputs, item.file_system_id, clients.fsx)
        console.print(f"adopted file system {item.file_system_id}: tagged with stack {stack}'s id")


def _listing(stack: str, items: list[leftovers.Leftover]) -> Listing:
    listing = Listing(
        [
            Column("kind", key=True),
            Column("name", key=True),
            Column("id"),
            Column("run"),
            Column("run status"),
            Column("state"),
        ],
        title=f"left behind by ended runs of stack {stack}",
    )
    for item in items:
        listing.add_row(item.kind, item.name, item.resource_id, item.run, item.run_status, item.detail)
    return listing


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
