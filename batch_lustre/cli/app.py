"""The ``batch-lustre`` command: one entry point, a subcommand per task (``batch-lustre --help``).

Exit codes: 0 success; 1 the operation or the run failed; 2 bad input (unknown stack, key or value, or a usage
error). Errors are one line on stderr: ``error: <what was wrong and what is accepted>``; with ``--json``, a JSON
object on stdout, ``{"error": ..., "code": ...}`` (``usage``, ``common.report_error``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from batch_lustre import __version__
from batch_lustre.cli import (
    acceptance,
    demo,
    graph,
    lanes,
    params,
    runs,
    scenario_commands,
    stack_commands,
    sweep,
)
from batch_lustre.cli.common import start_output
from batch_lustre.cli.usage import ConsoleGroup

app = typer.Typer(
    name="batch-lustre",
    help="Operate the batch-lustre stacks: deploy them, edit runtime parameters, start and follow runs, "
    "clean up leftovers, draw the workflow, or try it all offline (demo, scenarios). On a terminal, tables fit "
    "its width; piped, the output is plain lines. --json (errors too) on outputs, params show, run, status, lanes, "
    "demo and scenarios.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help as click writes it: wrapped at word boundaries, nothing cut (rich's panels cut long words).
    rich_markup_mode=None,
    cls=ConsoleGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"batch-lustre {__version__}")
        raise typer.Exit()


@app.callback()
def _every_command(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version of batch-lustre and exit."
        ),
    ] = False,
) -> None:
    # Runs before every command: its consoles are made for where its output goes now.
    start_output()


stack_commands.register(app)
app.add_typer(params.app, name="params")
runs.register(app)
lanes.register(app)
acceptance.register(app)
sweep.register(app)
graph.register(app)
demo.register(app)
scenario_commands.register(app)


def main() -> None:
    """Entry point of the ``batch-lustre`` console script."""
    app(prog_name="batch-lustre")
