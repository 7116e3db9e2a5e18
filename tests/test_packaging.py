"""What `pip install .` installs, and what the console script says when something is missing."""

from __future__ import annotations

import sys
import tomllib
import types
from pathlib import Path

import pytest
from setuptools import find_namespace_packages

from batch_lustre import console, project

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_only_the_product_namespace_is_installed():
    setuptools_config = PYPROJECT["tool"]["setuptools"]
    assert "py-modules" not in setuptools_config
    found = find_namespace_packages(where=str(ROOT), **setuptools_config["packages"]["find"])
    assert found, "no package found"
    assert {name.split(".")[0] for name in found} == {"batch_lustre"}, found


def test_the_program_needs_no_extra_and_the_extras_hold_the_tools():
    base = " ".join(PYPROJECT["project"]["dependencies"])
    for tool in ("moto", "typer", "rich", "pytest"):
        assert tool not in base
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert any(dep.startswith("moto") for dep in extras["emulation"])
    assert any(dep.startswith("typer") for dep in extras["cli"])


def test_every_dependency_is_pinned_in_the_constraints_file():
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    }
    declared = list(PYPROJECT["project"]["dependencies"])
    for extra in PYPROJECT["project"]["optional-dependencies"].values():
        declared += [d for d in extra if not d.startswith("batch-lustre")]
    for requirement in declared:
        name = (
            requirement.split(";")[0]
            .split("[")[0]
            .split("=")[0]
            .split(">")[0]
            .split("<")[0]
            .strip()
            .lower()
            .replace("_", "-")
        )
        assert name in pinned, f"{name} is not pinned in constraints.txt"


def test_every_extra_requirement_waits_for_requires_python():
    """Under Python 3.10 pip resolves an extra's requirements before it checks the project's requires-python: a pin
    without a release for 3.10 then fails as ResolutionImpossible. With the marker, pip says "requires a different
    Python" (measured with pip 23.0.1 on Python 3.10.13, both README commands)."""
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"
    for extra in PYPROJECT["project"]["optional-dependencies"].values():
        for requirement in extra:
            assert requirement.endswith("; python_version >= '3.11'"), requirement


def test_the_product_does_not_import_the_test_harness():
    for source in (ROOT / "batch_lustre").rglob("*.py"):
        assert "offline_stacks" not in source.read_text(encoding="utf-8"), source


def test_outside_a_project_the_command_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv(project.ENV_VAR, str(tmp_path))
    with pytest.raises(SystemExit) as ended:
        console.main()
    message = str(ended.value.code)
    assert "\n" not in message
    assert project.ENV_VAR in message and str(tmp_path) in message


def test_a_missing_extra_is_named_in_one_line(monkeypatch):
    def main() -> None:
        raise ModuleNotFoundError("No module named 'moto'", name="moto")

    monkeypatch.setitem(sys.modules, "batch_lustre.cli.app", types.SimpleNamespace(main=main))
    with pytest.raises(SystemExit) as ended:
        console.main()
    assert str(ended.value.code).startswith("error: this command needs the 'emulation' extra")


def test_a_missing_module_of_no_extra_is_not_hidden(monkeypatch):
    def main() -> None:
        raise ModuleNotFoundError("No module named 'asl'", name="asl")

    monkeypatch.setitem(sys.modules, "batch_lustre.cli.app", types.SimpleNamespace(main=main))
    with pytest.raises(ModuleNotFoundError):
        console.main()


def test_the_project_directory_is_found_from_a_subdirectory(monkeypatch):
    monkeypatch.delenv(project.ENV_VAR, raising=False)
    monkeypatch.chdir(ROOT / "tests")
    assert project.project_dir() == ROOT
