"""``params show`` / ``params set``: the runtime parameters in the stack's secret.

Values are checked as stack config is (``parameters.py``); a refused edit writes nothing.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from batch_lustre import automation
from batch_lustre.cli.common import OutputsFileOption, StackOption, console, one_line_errors

app = typer.Typer(
    help="Show or edit the runtime parameters (the stack's secret) used by the next runs.", no_args_is_help=True
)

SecretIdOption = Annotated[
    str | None,
    typer.Option("--secret-id", help="Secret name or ARN (default: the stack output secretName)."),
]


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@app.command("show")
def show(stack: StackOption, secret_id: SecretIdOption = None, outputs_file: OutputsFileOption = None) -> None:
    """Show the runtime parameters; `*` marks a value that differs from the stack config."""
    with one_line_errors():
        found = automation.read_parameters(stack, secret_id=secret_id, outputs_file=outputs_file)
    console.print(f"runtime parameters of stack {stack} ({found.mode}) in secret {found.secret_id}", soft_wrap=True)
    table = Table()
    table.add_column("parameter", style="bold", overflow="fold")
    table.add_column("secret", overflow="fold")
    table.add_column("")
    table.add_column("stack config", overflow="fold")
    for name in found.names:
        secret_value = _show(found.current[name]) if name in found.current else "(missing)"
        config_value = _show(found.config[name]) if name in found.config else "(not a parameter)"
        differs = found.differs(name)
        table.add_row(
            name,
            f"[yellow]{secret_value}[/]" if differs else secret_value,
            "[yellow]*[/]" if differs else "",
            config_value,
        )
    console.print(table)
    changed = [n for n in found.names if found.differs(n)]
    console.print(
        f"* differs from Pulumi.{stack}.yaml: {', '.join(changed)}"
        if changed
        else f"every value is as in Pulumi.{stack}.yaml",
        soft_wrap=True,
    )
    if found.problem:
        console.print(f"[red]the next run would refuse this secret:[/] {found.problem}", soft_wrap=True)


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
    for key in wanted:
        old = _show(before.current[key]) if key in before.current else "(missing)"
        console.print(f"{key}: {old} -> [bold]{_show(document[key])}[/]")
    console.print(f"secret {before.secret_id} updated: the next run uses these values")
