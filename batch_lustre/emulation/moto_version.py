"""The moto releases the emulation supports, checked without importing moto (tests/conftest.py checks it first,
so a suite run under another moto release stops at once; ``moto_seam`` checks it before it imports moto)."""

from __future__ import annotations

import re
from importlib import metadata

# The moto releases whose internals moto_seam was checked against: at least the first, below the second.
SUPPORTED_MOTO = ("5.2.5", "5.2.6")
INSTALL_HINT = "pip install -c constraints.txt 'moto[all]'"


class UnsupportedMotoError(ImportError):
    """The installed moto is outside ``SUPPORTED_MOTO`` (or not installed)."""


def _release(version: str) -> tuple[int, ...]:
    found = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in found.group(0).split(".")) if found else ()


def supported_text() -> str:
    """``SUPPORTED_MOTO`` as a version specifier: ``>=5.2.5,<5.2.6``."""
    return f">={SUPPORTED_MOTO[0]},<{SUPPORTED_MOTO[1]}"


def check_moto_version() -> str:
    """The installed moto's version; ``UnsupportedMotoError`` (one line naming both versions) if not supported."""
    try:
        installed = metadata.version("moto")
    except metadata.PackageNotFoundError:
        raise UnsupportedMotoError(
            f"moto is not installed; batch_lustre.emulation supports moto {supported_text()} ({INSTALL_HINT})"
        ) from None
    lowest, below = (_release(version) for version in SUPPORTED_MOTO)
    if not lowest <= _release(installed) < below:
        raise UnsupportedMotoError(
            f"moto {installed} is installed; batch_lustre.emulation supports moto {supported_text()} ({INSTALL_HINT})"
        )
    return installed
