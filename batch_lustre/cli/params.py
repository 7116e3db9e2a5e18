"""``params show`` / ``params set`` / ``params reset``: the runtime parameters in the stack's secret.

Values are checked as stack config is (``parameters.py``); a refused edit writes nothing.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.text import Text

from batch_lustre import automation
from batch_lustre.cli.common import JsonOption, OutputsFileOption, StackOption, one_line_errors, out, print_json
from batch_lustre.cli.listing import Column, Listing, show
from batch_lustre.cli.usage import ConsoleGroup
from batch_lustre.program.settings import Settings

app = typer.Typer(
    help="Show or edit the runtime parameters (the stack's secret) used by the next runs.",
    no_args_is_help=True,
    rich_markup_mode=None,
    cls=ConsoleGroup,
)

SecretIdOption = Annotated[
    str | None,
    typer.Option("--secret-id", help="Secret name or ARN (default: the stack output secretName)."),
]


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def parameters_json(stack: str, found: automation.RuntimeParameters | None, settings: Settings) -> dict[str, Any]:
    """``params show --json``: {stack, mode, secret_id, parameters: {name: {secret, stack_config, differs}},
    problem, live}.

    ``found`` None: read offline (``live`` false): ``secret_id``, every ``secret`` and ``differs``, and
    ``problem`` are null. Otherwise ``secret`` / ``stack_config`` are null when the secret lacks the key / it is
    not a parameter of the stack.
    """
    if found is None:
        return {
            "stack": stack,
            "mode": settings.mode,
            "secret_id": None,
            "parameters": {
                name: {"secret": None, "stack_config": value, "differs": None}
                for name, value in settings.runtime_defaults.items()
            },
            "problem": None,
            "live": False,
        }
    return {
        "stack": stack,
        "mode": found.mode,
        "secret_id": found.secret_id,
        "parameters": {
            name: {
                "secret": found.current.get(name),
                "stack_config": found.config.get(name),
                "differs": found.differs(name),
            }
            for name in found.names
        },
        "problem": found.problem,
        "live": True,
    }


def parameters_listing(found: automation.RuntimeParameters) -> Listing:
    """One row per parameter: the secret's value (``*`` where it differs from stack config) and stack config's."""
    listing = Listing([Column("parameter", key=True), Column("secret"), Column(""), Column("stack config")])
    for name in found.names:
        secret_value = _show(found.current[name]) if name in found.current else "(missing)"
        config_value = _show(found.config[name]) if name in found.config else "(not a parameter)"
        differs = found.differs(name)
        listing.add_row(
            name,
            Text(secret_value, style="yellow") if differs else secret_value,
            Text("*", style="yellow") if differs else "",
            config_value,
        )
    return listing


def config_listing(settings: Settings) -> Listing:
    """One row per runtime parameter: its value in stack config (what ``pulumi up`` writes into the secret)."""
    listing = Listing([Column("parameter", key=True), Column("stack config")])
    for name, value in settings.runtime_defaults.items():
        listing.add_row(name, _show(value))
    return listing


LiveOption = Annotated[
    bool,
    typer.Option(
        "--live",
        help="Read the deployed secret too (needs AWS credentials, and the pulumi CLI unless --secret-id or "
        "--outputs-file names it) and mark what differs from stack config. Without it (and without --secret-id "
        "or --outputs-file), the stack file alone is read: no Pulumi, no AWS.",
    ),
]


@app.command("show")
def show_parameters(
    stack: StackOption,
    live: LiveOption = False,
    secret_id: SecretIdOption = None,
    outputs_file: OutputsFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the runtime parameters as Pulumi.<stack>.yaml sets them; with --live, the deployed secret's values
    next to them, `*` marking a value that differs."""
    with one_line_errors():
        settings = automation.stack_settings(stack)
        found = None
        if live or secret_id is not None or outputs_file is not None:
            found = automation.read_parameters(stack, secret_id=secret_id, outputs_file=outputs_file)
    if as_json:
        print_json(parameters_json(stack, found, settings))
        return
    console = out()
    if found is None:
        console.print(Text(f"runtime parameters of stack {stack} ({settings.mode}) in Pulumi.{stack}.yaml"))
        show(config_listing(settings), console)
        console.print(
            Text(
                "what `pulumi up` writes into the stack's secret; `params set` edits the secret, "
                "`params show --live` shows it"
            )
        )
        return
    console.print(Text(f"runtime parameters of stack {stack} ({found.mode}) in secret {found.secret_id}"))
    show(parameters_listing(found), console)
    changed = [n for n in found.names if found.differs(n)]
    console.print(
        Text(
            f"* differs from Pulumi.{stack}.yaml: {', '.join(changed)}"
            if changed
            else f"every value is as in Pulumi.{stack}.yaml"
        )
    )
    if found.problem:
        console.print(Text.assemble(("the next run would refuse this secret: ", "red"), found.problem))


@app.command("set")
def set_(
    stack: StackOption,
    assignments: Annotated[list[str], typer.Argument(metavar="KEY=VALUE...", help="e.g. lustreStorageCapacity=4800")],
    secret_id: SecretIdOption = None,
    outputs_file: OutputsFileOption = None,
) -> None:
    """Set runtime parameters for the next runs. Nothing is written unless every value is accepted."""
    with one_line_errors():
        wanted: dict[str, str] = {}
        for text in assignments:
            key, value = automation.parse_assignment(text)
            wanted[key] = value
        before, document = automation.update_parameters(stack, wanted, secret_id=secret_id, outputs_file=outputs_file)
    console = out()
    for key in wanted:
        old = _show(before.current[key]) if key in before.current else "(missing)"
        console.print(Text.assemble(f"{key}: {old} -> ", (_show(document[key]), "bold")))
    console.print(Text(f"secret {before.secret_id} updated: the next run uses these values"))


@app.command("reset")
def reset(
    stack: StackOption,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    secret_id: SecretIdOption = None,
    outputs_file: OutputsFileOption = None,
) -> None:
    """Write the runtime parameters of Pulumi.<stack>.yaml into the secret, over every edit (`pulumi up` never
    does): shows what changes, then asks (--yes: do not ask)."""
    with one_line_errors():
        found = automation.read_parameters(stack, secret_id=secret_id, outputs_file=outputs_file)
    console = out()
    known = set(found.config)
    changed = [n for n in found.names if n not in known or found.differs(n)]
    if not changed:
        console.print(Text(f"secret {found.secret_id}: every value is as in Pulumi.{stack}.yaml, nothing to write"))
        return
    console.print(Text(f"secret {found.secret_id} -> Pulumi.{stack}.yaml:"))
    for name in changed:
        old = _show(found.current[name]) if name in found.current else "(missing)"
        new = _show(found.config[name]) if name in known else "(removed)"
        console.print(Text.assemble(f"{name}: {old} -> ", (new, "bold")))
    if not yes and not typer.confirm(f"Write these into secret {found.secret_id}?", default=False):
        console.print(Text("nothing written"))
        raise typer.Exit(1)
    with one_line_errors():
        automation.reset_parameters(stack, secret_id=found.secret_id, outputs_file=outputs_file)
    console.print(Text(f"secret {found.secret_id} reset to Pulumi.{stack}.yaml: the next run uses these values"))
