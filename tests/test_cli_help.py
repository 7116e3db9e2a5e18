"""Every command's help (``--help`` and ``-h`` alike) starts with its docstring's summary and names every option,
argument and subcommand it declares."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from batch_lustre.cli.app import app

runner = CliRunner()


def commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the app, the app itself first (found from the app, so a new command is covered)."""
    found = [path]
    if hasattr(group, "commands"):
        for name, command in sorted(group.commands.items()):
            if not command.hidden:
                found += commands(command, (*path, name))
    return found


ROOT = typer.main.get_command(app)
COMMANDS = commands(ROOT)


def command_at(path: tuple[str, ...]) -> Any:
    command = ROOT
    for name in path:
        command = command.commands[name]
    return command


def flat(text: str) -> str:
    """Words only: the help wraps lines and draws panels."""
    return " ".join(text.replace("│", " ").split())


def test_every_command_is_covered():
    names = {path[0] for path in COMMANDS if path}
    assert {"deploy", "params", "run", "status", "acceptance", "sweep", "graph", "demo", "scenarios"} <= names
    assert ("params", "set") in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "batch-lustre")
def test_help_starts_with_the_summary_and_names_everything_the_command_declares(path):
    command = command_at(path)
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, [*path, "-h"]).output == result.output
    shown = flat(result.output)
    assert shown.startswith(f"Usage: {' '.join(('batch-lustre', *path))}"), shown[:100]
    summary = flat((command.help or "").split("\n\n")[0])
    assert summary, f"{' '.join(path)} has no docstring"
    assert summary in shown, summary
    words = set(shown.replace(",", " ").replace("/", " ").split())
    for param in command.params:
        if param.param_type_name == "option" and not param.hidden:
            for option in (*param.opts, *param.secondary_opts):
                assert option in words, option
        elif param.param_type_name == "argument":
            assert (param.metavar or param.name.upper()) in shown, param.name
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            if not sub.hidden:
                assert name in shown.split(), name


def test_python_dash_m_cli_runs_the_same_app_as_the_console_script():
    script = Path(sys.executable).with_name("batch-lustre")
    if not script.is_file():
        pytest.skip(f"no batch-lustre console script beside {sys.executable} (the package is not installed)")
    # Help is fitted to the terminal: the same width for both; this checkout's package, whichever the venv installed.
    project = str(Path(__file__).resolve().parent.parent)
    width = {**os.environ, "COLUMNS": "100", "PYTHONPATH": project}
    by_module = subprocess.run(
        [sys.executable, "-m", "batch_lustre.cli", "--help"], capture_output=True, text=True, check=False, env=width
    )
    by_script = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False, env=width)
    assert by_module.returncode == by_script.returncode == 0, by_module.stderr + by_script.stderr
    assert by_module.stdout == by_script.stdout
    assert flat(by_module.stdout).startswith(flat(runner.invoke(app, ["--help"]).output)[:40])
