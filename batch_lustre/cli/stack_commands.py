"""``deploy``, ``preview``, ``refresh``, ``destroy``, ``outputs``: the stack through the Pulumi Automation API
(``deploy``, ``refresh`` and ``destroy`` refused while a run of the stack is RUNNING: ``automation.guard``;
``deploy`` also while it would leave an ECR repository that holds images: ``automation.repository_guard``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape

from batch_lustre import automation
from batch_lustre.cli.common import StackOption, fail, one_line_errors, out
from batch_lustre.cli.listing import Column, Listing, show


def _echo(line: str) -> None:
    typer.echo(line.rstrip("\n"))


YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
WaitOption = Annotated[
    str | None,
    typer.Option(
        "--wait",
        metavar="MINUTES",
        help=f"While a run of the stack is RUNNING, wait up to MINUTES (1-{automation.MAX_WAIT_MINUTES}) for it to "
        "end instead of refusing.",
        show_default=False,
    ),
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Go ahead even while a run of the stack is RUNNING (it may lose its results), or over what the refusal "
        "names (the images of an ECR repository the deploy would leave).",
    ),
]


def _guard(stack: str, action: str, wait: str | None, force: bool) -> dict[str, Any]:
    """Refuse ``action`` while a run of the stack is RUNNING (or wait for it, or go ahead forced); returns the
    guard's keyword arguments for the operation itself."""
    minutes = automation.check_wait_minutes(wait, "--wait")
    forced_over = automation.guard_stack(stack, action, wait_minutes=minutes, force=force, on_wait=_echo)
    for running in forced_over:
        out().print(f"[bold yellow]warning:[/] {action} forced during {running.describe()}")
    return {"wait_minutes": minutes, "force": force}


def _repository_guard(stack: str, force: bool) -> None:
    """Refuse a deploy that would leave an ECR repository holding images (or say what it is forced over)."""
    forced = automation.repository_check(stack, force=force)
    if forced is not None:
        out().print(
            f"[bold yellow]warning:[/] deploy forced over {escape(forced.describe())}: runs find no image in "
            f"{escape(forced.configured)} until you push them there, and this deploy and every later one fail to "
            f"delete {escape(forced.deployed)} until it is empty",
            soft_wrap=True,
        )


def _summary(changes: dict[str, int]) -> str:
    return ", ".join(f"{count} to {op}" for op, count in sorted(changes.items()) if count and op != "same") or (
        "no changes"
    )


def deploy(stack: StackOption, yes: YesOption = False, wait: WaitOption = None, force: ForceOption = False) -> None:
    """Deploy the stack (`pulumi up`): show the preview, ask, apply, then show the outputs. --yes: do not ask.
    Refused while a run of the stack is RUNNING (--wait MINUTES, --force), and while a change of ecrRepositoryName
    would leave a repository that holds images (--force; the refusal says how to move them)."""
    with one_line_errors():
        automation.stack_settings(stack)  # a stack config the program refuses: refused before any Pulumi call
        guard = _guard(stack, "deploy", wait, force)
        _repository_guard(stack, force)
        changes = automation.preview(stack, on_output=_echo)
    out().print(f"[bold]preview of {stack}:[/] {_summary(changes)}")
    if not yes and not typer.confirm(f"Apply these changes to stack {stack}?", default=False):
        fail("deploy cancelled: nothing was changed")
    with one_line_errors():
        found = automation.deploy(stack, on_output=_echo, **guard)
    _show_outputs(stack, found)


def refresh(stack: StackOption, wait: WaitOption = None, force: ForceOption = False) -> None:
    """Read the resources' actual state into Pulumi's state (`pulumi refresh`). Refused while a run of the stack
    is RUNNING (--wait MINUTES, --force)."""
    with one_line_errors():
        guard = _guard(stack, "refresh", wait, force)
        changes = automation.refresh(stack, on_output=_echo, **guard)
    out().print(f"[bold]refreshed {stack}:[/] {_summary(changes)}")


def preview(stack: StackOption) -> None:
    """Show what a deploy would change (`pulumi preview`)."""
    with one_line_errors():
        changes = automation.preview(stack, on_output=_echo)
    out().print(f"[bold]preview of {stack}:[/] {_summary(changes)}")


def destroy(stack: StackOption, yes: YesOption = False, wait: WaitOption = None, force: ForceOption = False) -> None:
    """Delete every resource of the stack (`pulumi destroy`). Refused while a run of the stack is RUNNING
    (--wait MINUTES), and while a file system of the stack, an image in its repository or an object in its bucket
    would be left billing or block it (each named, with what to do); --force goes ahead anyway."""
    with one_line_errors():
        # Can it act? The stack file, the pulumi CLI and a deployed stack, before the question.
        automation.pulumi_stack(stack)
        guard = _guard(stack, "destroy", wait, force)
        for blocker in automation.destroy_check(stack, force=force):
            out().print(f"[bold yellow]warning:[/] destroy forced over {escape(blocker.line())}", soft_wrap=True)
    if not yes and not typer.confirm(
        f"Destroy every resource of stack {stack} (state machine, compute environment, bucket, secret)?",
        default=False,
    ):
        fail("destroy cancelled: nothing was changed")
    with one_line_errors():
        changes = automation.destroy(stack, on_output=_echo, **guard)
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
    for command in (deploy, preview, refresh, destroy, outputs):
        app.command(command.__name__)(command)
