"""``params show`` / ``params set``: the runtime parameters in the stack's secret.

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

app = typer.Typer(
    help="Show or edit the runtime parameters (the stack's secret) used by the next runs.", no_args_is_help=True
)

SecretIdOption = Annotated[
    str | None,
    typer.Option("--secret-id", help="Secret name or ARN (default: the stack output secretName)."),
]


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def parameters_json(stack: str, found: automation.RuntimeParameters) -> dict[str, Any]:
    """``params show --json``: {stack, mode, secret_id, parameters: {name: {secret, stack_config, differs}}, problem}.

    ``secret`` / ``stack_config`` are null when the secret lacks the key / it is not a parameter of the stack.
    """
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


@app.command("show")
def show_parameters(
    stack: StackOption,
    secret_id: SecretIdOption = None,
    outputs_file: OutputsFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the runtime parameters; `*` marks a value that differs from the stack config."""
    with one_line_errors():
        found = automation.read_parameters(stack, secret_id=secret_id, outputs_file=outputs_file)
    if as_json:
        print_json(parameters_json(stack, found))
        return
    console = out()
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
