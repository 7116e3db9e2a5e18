"""``sweep``: find and delete what ended runs left behind (file systems, launch templates, job definitions); list
the file systems from before the stack id and adopt them on request (``automation.adoption``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer
from rich.markup import escape

from batch_lustre import automation
from batch_lustre.automation import adoption, leftovers
from batch_lustre.cli.common import EXIT_FAILED, OutputsFileOption, StackOption, fail, one_line_errors, out
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
    """Find per-run resources of ended runs (tagged with the stack's id, output stackId) and delete them, after
    confirmation. Another stack's resources are never looked at. File systems from before the stack id (this
    stack's old tags, no id) are listed; --adopt tags them with the stack's id, after confirmation."""
    with one_line_errors():
        found = automation.load_outputs(stack, outputs_file)
        bucket = found.get(naming.OUTPUT_BUCKET_NAME, "the bucket")
        clients = leftovers.LeftoverClients.for_region(automation.stack_region(stack))
        old = adoption.from_before_stack_id(stack, found, clients.fsx)
        if adopt and old:
            _adopt(stack, found, old, clients, yes)
            old = []
        ended, running = leftovers.find_leftovers(stack, found, clients)
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
    if not ended:
        console.print(f"nothing to sweep: no per-run resource of an ended run of stack {stack}")
        return
    ended.sort(key=lambda i: (ORDER[i.kind], i.run, i.name))
    show(_listing(stack, ended), console)
    for item in ended:
        why = item.in_use or (None if force else item.needs_force)
        if why:
            console.print(f"[yellow]left alone:[/] {item.kind} {item.name}: {escape(why)}", soft_wrap=True)
    doomed = leftovers.to_delete(ended, force=force)
    if not doomed:
        return
    file_systems = [i for i in doomed if i.kind == leftovers.FILE_SYSTEM]
    if file_systems:
        console.print(
            f"[bold red]WARNING: deleting {len(file_systems)} file system(s) deletes everything on them, for good.[/] "
            "A run keeps its file system only when its data is not provably in S3 (or with deleteLustre=false), "
            f"so files on them may be missing from s3://{bucket} and would be lost. Copy what you need first.",
            soft_wrap=True,
        )
    question = f"Delete these {len(doomed)} resource(s)"
    question += (
        f", including {len(file_systems)} file system(s) and any data on them not in S3?" if file_systems else "?"
    )
    if not yes and not typer.confirm(question, default=False):
        fail("sweep cancelled: nothing was deleted")
    failures = 0
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
