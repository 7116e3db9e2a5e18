"""Code archives of the workflow's Lambda functions (their files: ``asl.naming.LAMBDA_FILES``).

Paths are made relative to the working directory when possible: Pulumi runs the program
from the project directory, where they read ``lambda/extract_parameters.py`` and so on.
"""

from __future__ import annotations

import os
from pathlib import Path

import pulumi

from batch_lustre.program.asl.naming import LAMBDA_FILES, lambda_handler

PROJECT_DIR = Path(__file__).resolve().parent.parent


def project_path(relative: str) -> str:
    """``relative`` (to the project directory) as a path usable from the working directory."""
    absolute = PROJECT_DIR / relative
    try:
        return os.path.relpath(absolute)
    except ValueError:  # another drive (Windows)
        return str(absolute)


def archive(module: str) -> pulumi.AssetArchive:
    """The code archive of the Lambda handler ``module``: each of its files under its member name."""
    files = LAMBDA_FILES[module]
    return pulumi.AssetArchive({member: pulumi.FileAsset(project_path(path)) for member, path in files.items()})


def handler(module: str) -> str:
    """The handler setting of the Lambda function whose code is ``module``."""
    return lambda_handler(module)
