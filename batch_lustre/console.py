"""The ``batch-lustre`` console script: the command line, or one line saying what is missing.

Before the command line is imported: the project directory must be found (the Pulumi program's modules are
imported from it, ``batch_lustre.project``), and the ``cli`` extra must be installed. A command that needs the
emulation (``demo``, ``scenarios``, ``acceptance --emulated``) without the ``emulation`` extra says so too.
"""

from __future__ import annotations

import sys

from batch_lustre.project import ProjectNotFound, project_dir

EXTRA_OF_MODULE = {"typer": "cli", "rich": "cli", "networkx": "cli", "matplotlib": "cli", "moto": "emulation"}


def missing_extra(error: ModuleNotFoundError) -> str | None:
    """The one-line message for a module of an extra that is not installed (None: not an extra's module)."""
    top = (error.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(top)
    if extra is None:
        return None
    return (
        f"error: this command needs the {extra!r} extra (module {top!r} is not installed): "
        f"pip install -c constraints.txt -e '.[{extra}]' from the project directory"
    )


def main() -> None:
    """Entry point of the ``batch-lustre`` console script."""
    try:
        project_dir()
    except ProjectNotFound as error:
        sys.exit(f"error: {error}")
    try:
        from batch_lustre.cli.app import main as run_app

        run_app()
    except ModuleNotFoundError as error:
        message = missing_extra(error)
        if message is None:
            raise
        sys.exit(message)
