"""The Pulumi CLI the Automation API runs: on PATH, and at least ``MINIMUM_PULUMI_CLI``.

The minimum is the Pulumi SDK version this project requires (pyproject.toml, ``pulumi>=``): the program runs with
that SDK, whose requests (resource options such as ``protect``, ``ignore_changes``) the CLI's engine must know;
a newer CLI runs an older SDK's program, not the reverse (README, "Real use"). The Automation API's own floor
(``pulumi.automation``'s minimum, 3.1.0) is far older.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache

from batch_lustre.automation.errors import PulumiCliMissing, PulumiCliTooOld

MINIMUM_PULUMI_CLI = (3, 272, 0)
INSTALL_HINT = "install it from https://www.pulumi.com/docs/install/ (e.g. `curl -fsSL https://get.pulumi.com | sh`)"
_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


def _words(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)


def check_pulumi_cli(version: str | None = None) -> tuple[int, int, int]:
    """The CLI's version (``version``: what ``pulumi version`` prints; default: asked of the CLI on PATH, once per
    process); ``PulumiCliMissing`` or ``PulumiCliTooOld`` (one line) if it cannot serve."""
    text = _cli_version() if version is None else version
    found = _VERSION.match(text.strip())
    if found is None:
        raise PulumiCliTooOld(
            f"the pulumi CLI's version {text.strip()!r} is not accepted: accepted {_words(MINIMUM_PULUMI_CLI)} or "
            f"newer; {INSTALL_HINT}"
        )
    numbers = (int(found.group(1)), int(found.group(2)), int(found.group(3)))
    if numbers < MINIMUM_PULUMI_CLI:
        raise PulumiCliTooOld(
            f"the pulumi CLI is version {_words(numbers)}: accepted {_words(MINIMUM_PULUMI_CLI)} or newer (the Pulumi "
            f"SDK this project runs its program with); update it: {INSTALL_HINT}"
        )
    return numbers


def _cli_version() -> str:
    path = shutil.which("pulumi")
    if path is None:
        raise PulumiCliMissing(f"the pulumi CLI is not on PATH: {INSTALL_HINT}")
    return _version_of(path)


@lru_cache(maxsize=4)
def _version_of(path: str) -> str:
    """What ``pulumi version`` prints, for the CLI at ``path``."""
    try:
        done = subprocess.run(
            [path, "version"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"},
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise PulumiCliMissing(f"the pulumi CLI could not be run ({err}): {INSTALL_HINT}") from None
    return done.stdout.strip() or done.stderr.strip()
