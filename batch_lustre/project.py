"""Where the Pulumi program lives, and how the tools import its modules without touching ``sys.path``.

The program's modules (``asl``, ``components``, ``parameters``, ``settings``, ``stack``) stay at the top level
of the project directory: ``pulumi up`` runs ``__main__.py`` there, and the Lambda archives ship
``parameters`` as a top-level module. Every other import of them uses ONE name, under this package:
``batch_lustre.program.<module>`` (``__main__.py`` included: ``from batch_lustre.program import stack``).
``batch_lustre/program/__init__.py`` sets that package's ``__path__`` to the project directory
(``program_path``), so Python's ordinary path-based finder loads ``<project>/asl/naming.py`` as
``batch_lustre.program.asl.naming``. Importing ``batch_lustre`` or its Automation API therefore changes
neither ``sys.path`` nor ``sys.modules`` beyond ``batch_lustre.*``: a tool with its own ``settings.py`` keeps it.

Why a ``__path__`` and not the alternatives:
- ``sys.path`` insertion (what this module did before) hands the generic names ``settings``, ``stack`` ... to
  whoever imports the API, and takes the tool's own modules of those names from it.
- A setuptools ``package-dir`` mapping (``batch_lustre.program`` -> ``.``) would make the project root a package
  (it has no ``__init__.py``, and holds ``tests/``, ``lambda/``, ``batch_lustre/`` itself), works through
  setuptools' editable finder only in its lenient mode, and for a non-editable install copies the program into
  site-packages, a second copy beside the one Pulumi runs, which can drift from it. The ``__path__`` always
  points at the project directory Pulumi runs, for an editable install, a plain install or a source tree.
- Symbolic links from ``batch_lustre/program/`` to the modules would do the same on POSIX, but break on checkouts
  without symlinks (Windows' default) and also ship a copy in a non-editable install.
mypy cannot follow a ``__path__``; it reads the program through ``.typecheck/batch_lustre/program``, a symbolic
link to the project directory named in ``pyproject.toml``'s ``[tool.mypy]`` (``mypy_path`` and ``files``), so
it checks the modules under the names the code imports and keeps their types across modules.

The project directory is, in this order:

1. ``$BATCH_LUSTRE_PROJECT_DIR``;
2. the checkout this package was installed from (an editable install, or running from the source tree);
3. the current directory or the nearest parent holding this project's ``Pulumi.yaml``.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "BATCH_LUSTRE_PROJECT_DIR"
PROJECT_NAME = "batch-lustre"


class ProjectNotFound(Exception):
    """No project directory: the program's modules cannot be imported."""


def _is_project(directory: Path) -> bool:
    pulumi_yaml = directory / "Pulumi.yaml"
    if not pulumi_yaml.is_file():
        return False
    for line in pulumi_yaml.read_text(encoding="utf-8").splitlines():
        if line.startswith("name:"):
            return line.split(":", 1)[1].strip().strip("'\"") == PROJECT_NAME
    return False


def find_project_dir() -> Path | None:
    """The project directory, or None if there is none to be found."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured).resolve()
    checkout = Path(__file__).resolve().parent.parent
    if _is_project(checkout):
        return checkout
    here = Path.cwd().resolve()
    for directory in (here, *here.parents):
        if _is_project(directory):
            return directory
    return None


def project_dir() -> Path:
    """The project directory; ``ProjectNotFound`` (one line saying what to do) if there is none."""
    found = find_project_dir()
    if found is None or not _is_project(found):
        where = f"{ENV_VAR}={os.environ[ENV_VAR]}" if os.environ.get(ENV_VAR) else f"from {Path.cwd()}"
        raise ProjectNotFound(
            f"no batch-lustre project directory ({where}): run from the directory holding the "
            f"project's Pulumi.yaml, or set {ENV_VAR} to it"
        )
    return found


def program_path() -> list[str]:
    """``batch_lustre.program``'s ``__path__``: the project directory, or nothing if none is found (then
    ``import batch_lustre.program.settings`` fails as any missing module does, and ``project_dir`` says why)."""
    found = find_project_dir()
    return [str(found)] if found is not None else []
