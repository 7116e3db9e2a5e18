"""Where the Pulumi program lives: the project directory, and its modules on ``sys.path``.

The program's modules (``asl``, ``components``, ``parameters``, ``settings``, ``stack``) are not installed
into site-packages, where their generic names would collide with other projects; Pulumi runs them from the
project directory, and the tools import them from there. The project directory is, in this order:

1. ``$BATCH_LUSTRE_PROJECT_DIR``;
2. the checkout this package was installed from (an editable install, or running from the source tree);
3. the current directory or the nearest parent holding this project's ``Pulumi.yaml``.
"""

from __future__ import annotations

import os
import sys
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


def use_project_modules() -> None:
    """Put the project directory (if found) first on ``sys.path``, so ``import asl`` finds the program's."""
    found = find_project_dir()
    if found is not None and str(found) not in sys.path:
        sys.path.insert(0, str(found))
