"""Code archives of the workflow's Lambda functions.

Paths are made relative to the working directory when possible: Pulumi runs the program
from the project directory, where they read ``lambda/extract_parameters.py`` and so on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pulumi

PROJECT_DIR = Path(__file__).resolve().parent.parent

# archive member name -> file in the project. parameters.py is shipped next to the
# handler: the one definition of the parameters, used to validate the secret.
EXTRACT_PARAMETERS_FILES: Mapping[str, str] = {
    "extract_parameters.py": "lambda/extract_parameters.py",
    "parameters.py": "parameters.py",
}
EXTRACT_PARAMETERS_HANDLER = "extract_parameters.handler"

CHECK_METRICS_FILES: Mapping[str, str] = {"check_metrics.py": "lambda/check_metrics.py"}
CHECK_METRICS_HANDLER = "check_metrics.handler"

SUMMARIZE_JOB_FILES: Mapping[str, str] = {"summarize_job.py": "lambda/summarize_job.py"}
SUMMARIZE_JOB_HANDLER = "summarize_job.handler"


def project_path(relative: str) -> str:
    """``relative`` (to the project directory) as a path usable from the working directory."""
    absolute = PROJECT_DIR / relative
    try:
        return os.path.relpath(absolute)
    except ValueError:  # another drive (Windows)
        return str(absolute)


def lambda_archive(files: Mapping[str, str]) -> pulumi.AssetArchive:
    """An archive holding each project file of ``files`` under its member name."""
    return pulumi.AssetArchive({member: pulumi.FileAsset(project_path(path)) for member, path in files.items()})


def extract_parameters_archive() -> pulumi.AssetArchive:
    return lambda_archive(EXTRACT_PARAMETERS_FILES)


def check_metrics_archive() -> pulumi.AssetArchive:
    return lambda_archive(CHECK_METRICS_FILES)


def summarize_job_archive() -> pulumi.AssetArchive:
    return lambda_archive(SUMMARIZE_JOB_FILES)
