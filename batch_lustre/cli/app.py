"""The ``batch-lustre`` command: one entry point, a subcommand per task (``batch-lustre --help``).

Exit codes: 0 success; 1 the operation or the run failed; 2 bad input (unknown stack, key or value).
Errors are one line on stderr: ``error: <what was wrong and what is accepted>``.
"""

from __future__ import annotations

import typer

from batch_lustre.cli import acceptance, demo, graph, params, runs, scenario_commands, stack_commands, sweep

app = typer.Typer(
    name="batch-lustre",
    help="Operate the batch-lustre stacks: deploy them, edit runtime parameters, start and follow runs, "
    "clean up leftovers, draw the workflow, or try it all offline (demo, scenarios).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
stack_commands.register(app)
app.add_typer(params.app, name="params")
runs.register(app)
acceptance.register(app)
sweep.register(app)
graph.register(app)
demo.register(app)
scenario_commands.register(app)


def main() -> None:
    """Entry point of the ``batch-lustre`` console script."""
    app(prog_name="batch-lustre")
