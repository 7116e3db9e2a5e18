"""What `pip install .` installs, and what the console script says when something is missing."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
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


PROGRAM_MODULES = ("asl", "components", "parameters", "settings", "stack")
PROGRAM_IMPORT_LINE = re.compile(rf"^[ \t]*(?:from[ \t]+|import[ \t][^\n]*\b)(?:{'|'.join(PROGRAM_MODULES)})\b", re.M)


def test_importing_the_api_keeps_the_tools_own_modules_and_sys_path(tmp_path):
    """A tool with its own settings.py imports the API: its module stays, sys.path and top-level names unchanged."""
    (tmp_path / "settings.py").write_text("TOOL_SETTING = 'mine'\n", encoding="utf-8")
    (tmp_path / "batch_lustre").symlink_to(ROOT / "batch_lustre")  # importable without the project on sys.path
    script = (
        "import json, sys\n"
        "import settings\n"
        "before_path, before_modules = list(sys.path), set(sys.modules)\n"
        "from batch_lustre import automation\n"
        f"config = automation.stack_settings('taskexport', work_dir=__import__('pathlib').Path({str(ROOT)!r}))\n"
        "import settings as again\n"
        "print(json.dumps({'same': again is settings, 'tool': getattr(again, 'TOOL_SETTING', None),\n"
        "    'path_unchanged': sys.path == before_path, 'mode': config.mode,\n"
        "    'new_top_level': sorted({m.split('.')[0] for m in set(sys.modules) - before_modules}),\n"
        "    'program_file': sys.modules['batch_lustre.program.settings'].__file__}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", project.ENV_VAR)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["same"] and found["tool"] == "mine"
    assert found["path_unchanged"]
    assert found["mode"] == "taskexport"
    assert not set(found["new_top_level"]) & set(PROGRAM_MODULES), found["new_top_level"]
    assert found["program_file"] == str(ROOT / "settings.py")


def _top_level_program_imports(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if not PROGRAM_IMPORT_LINE.search(text):  # a cheap look first: parse only what may hold such an import
        return []
    tree = ast.parse(text)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [
                f"{path}:{node.lineno} import {a.name}" for a in node.names if a.name.split(".")[0] in PROGRAM_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in PROGRAM_MODULES:
                names.append(f"{path}:{node.lineno} from {node.module}")
    return names


def test_the_program_modules_are_imported_by_one_name_outside_the_lambda_archives():
    """Only what the Lambda archives ship imports ``parameters`` as a top-level module; everything else uses
    ``batch_lustre.program.<module>`` (a second name would load a second copy, with its own classes)."""
    from batch_lustre.program.asl.naming import LAMBDA_FILES

    shipped = {(ROOT / source).resolve() for files in LAMBDA_FILES.values() for source in files.values()}
    shipped |= {p.resolve() for p in (ROOT / "parameters").rglob("*.py")} if (ROOT / "parameters").is_dir() else set()
    found = []
    for directory in ("asl", "components", "batch_lustre", "tests"):
        for path in sorted((ROOT / directory).rglob("*.py")):
            if path.resolve() not in shipped:
                found += _top_level_program_imports(path)
    for path in (ROOT / "__main__.py", ROOT / "settings.py", ROOT / "stack.py"):
        found += _top_level_program_imports(path)
    assert found == [], "\n".join(found)


def test_mypy_reads_the_program_under_its_package_name():
    shadow = ROOT / ".typecheck" / "batch_lustre" / "program"
    assert shadow.is_symlink() and shadow.resolve() == ROOT
    mypy = PYPROJECT["tool"]["mypy"]
    assert mypy["mypy_path"] == ".typecheck"
    assert ".typecheck/batch_lustre/program/asl" in mypy["files"]
    assert not {"asl", "components", "settings.py", "stack.py"} & set(mypy["files"])


def test_the_package_is_marked_as_typed():
    """PEP 561: py.typed is in the package and in its package data, so type checkers read the API's annotations."""
    assert (ROOT / "batch_lustre" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["batch_lustre"]


def test_what_setuptools_builds_holds_py_typed_and_the_program_package_but_not_the_program(tmp_path):
    """A non-editable install (setuptools' build_py, what a wheel holds): the batch_lustre package with py.typed
    and batch_lustre/program/__init__.py (its __path__ is the project directory at run time), never a copy of the
    program's modules."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "batch_lustre", tmp_path / "batch_lustre", ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py", "--build-lib", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    out = tmp_path / "out"
    names = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert "batch_lustre/py.typed" in names
    assert "batch_lustre/program/__init__.py" in names
    assert {name.split("/")[0] for name in names} == {"batch_lustre"}
