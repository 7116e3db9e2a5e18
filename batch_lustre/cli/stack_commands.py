"""``deploy``, ``preview``, ``destroy``, ``outputs``: the stack through the Pulumi Automation API."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from batch_lustre import automation
from batch_lustre.cli.common import StackOption, fail, one_line_errors, out
from batch_lustre.cli.listing import Column, Listing, show


def _echo(line: str) -> None:
    typer.echo(line.rstrip("\n"))


YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def _summary(changes: dict[str, int]) -> str:
    return ", ".join(f"{count} to {op}" for op, count in sorted(changes.items()) if count and op != "same") or (
        "no changes"
    )


def deploy(stack: StackOption, yes: YesOption = False) -> None:
    """Deploy the stack (`pulumi up`): show the preview, ask, apply, then show the outputs. --yes: do not ask."""
    with one_line_errors():
        changes = automation.preview(stack, on_output=_echo)
    out().print(f"[bold]preview of {stack}:[/] {_summary(changes)}")
    if not yes and not typer.confirm(f"Apply these changes to stack {stack}?", default=False):
        fail("deploy cancelled: nothing was changed")
    with one_line_errors():
        found = automation.deploy(stack, on_output=_echo)
    _show_outputs(stack, found)


def preview(stack: StackOption) -> None:
    """Show what a deploy would change (`pulumi preview`)."""
    with one_line_errors():
        changes = automation.preview(stack, on_output=_echo)
    out().print(f"[bold]preview of {stack}:[/] {_summary(changes)}")


def destroy(stack: StackOption, yes: YesOption = False) -> None:
    """Delete every resource of the stack (`pulumi destroy`)."""
    with one_line_errors():
        # Can it act? The stack file, the pulumi CLI and a deployed stack, before the question.
        automation.pulumi_stack(stack)
    if not yes and not typer.confirm(
        f"Destroy every resource of stack {stack} (state machine, compute environment, bucket, secret)? "
        "Runs' leftovers are not Pulumi resources: run `batch-lustre sweep` first",
        default=False,
    ):
        fail("destroy cancelled: nothing was changed")
    with one_line_errors():
        changes = automation.destroy(stack, on_output=_echo)
    out().print(f"[bold]destroyed {stack}:[/] " + (", ".join(f"{n} {op}" for op, n in changes.items()) or "nothing"))


def outputs(
    stack: StackOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (usable as --outputs-file).")] = False,
) -> None:
    """Show the stack outputs (`pulumi stack output`)."""
    with one_line_errors():
        found = automation.outputs(stack)
    if as_json:
        typer.echo(json.dumps(found, indent=2, sort_keys=True))
    else:
        _show_outputs(stack, found)


def _show_outputs(stack: str, found: dict) -> None:
    listing = Listing([Column("output", key=True), Column("value")], title=f"outputs of stack {stack}")
    for name, value in sorted(found.items()):
        listing.add_row(name, value if isinstance(value, str) else json.dumps(value))
    show(listing, out())


def register(app: typer.Typer) -> None:
    for command in (deploy, preview, destroy, outputs):
        app.command(command.__name__)(command)
