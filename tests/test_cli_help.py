"""Every command and subcommand answers ``--help`` (and ``-h``) with exit code 0."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from batch_lustre.cli.app import app

runner = CliRunner()
COMMANDS = [
    [],
    ["deploy"],
    ["preview"],
    ["destroy"],
    ["outputs"],
    ["params"],
    ["params", "show"],
    ["params", "set"],
    ["run"],
    ["status"],
    ["acceptance"],
    ["sweep"],
    ["graph"],
    ["demo"],
    ["scenarios"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "batch-lustre")
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(command, flag):
    result = runner.invoke(app, [*command, flag])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_python_dash_m_cli_runs_the_same_app():
    result = subprocess.run(
        [sys.executable, "-m", "batch_lustre.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    for command in ("deploy", "params", "run", "status", "acceptance", "sweep", "graph", "demo", "scenarios"):
        assert command in result.stdout
