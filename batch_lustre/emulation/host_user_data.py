"""What a host of the emulated Batch reads from its launch template's user data.

The user data is the one ``asl/user_data.py`` renders (``render(dns_name, mount_name)``): MIME multipart,
with a shell part that sets ``DNS_NAME``, ``MOUNT_NAME`` and ``MOUNT_DIR``, tries
``mount -t lustre -o ... "$DNS_NAME@tcp:/$MOUNT_NAME" "$MOUNT_DIR"`` in a ``for ... in $(seq 1 N)`` loop with
``sleep S`` between tries, then shuts the host down unless the directory is a mount point. This module reads
that shape and nothing more general: the file system a host mounts, how often and how far apart it tries, and
whether it shuts down without the mount; and the baseline launch template's ``chattr +i`` of the unmounted
mount point (``immutable_dirs``). The rules: docs/aws-rules.md, section "Batch".
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

_ASSIGN = re.compile(r'^([A-Z_][A-Z0-9_]*)="([^"\n]*)"$', re.MULTILINE)
_VARIABLE = re.compile(r"\$\{?([A-Z_][A-Z0-9_]*)\}?")
_MOUNT = re.compile(r'^\s*mount -t lustre(?: -o \S+)? "?([^"\s@]+)@tcp:/([^"\s]+?)"? "?([^"\s]+?)"?(?:\s|$)', re.M)
_LOOP = re.compile(r"^\s*for \w+ in \$\(seq 1 (\d+)\); do\n(.*?)^\s*done$", re.MULTILINE | re.DOTALL)
_SLEEP = re.compile(r"^\s*sleep (\d+)$", re.MULTILINE)
_CHATTR_IMMUTABLE = re.compile(r'^\s*chattr \+i "?([^"\s]+)"?\s*$', re.MULTILINE)
_MIME = re.compile(r"^content-type:\s*multipart/", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class LustreMount:
    """The ``mount -t lustre`` of the user data, its variables expanded."""

    dns_name: str
    mount_name: str
    mount_dir: str


def decode_user_data(user_data: Any) -> str:
    """The text of a launch template's UserData (moto keeps a Base64EncodedString; plain base64 text too)."""
    try:
        if hasattr(user_data, "decode") and not isinstance(user_data, (str, bytes)):
            return str(user_data.decode())
        return base64.b64decode(user_data).decode("utf-8", errors="replace")
    except Exception:
        return ""


def is_mime_multipart(script: str) -> bool:
    """Batch merges its own user data into a MIME multipart one only (else the environment goes INVALID)."""
    return _MIME.search(script) is not None


def shuts_down_without_mount(script: str) -> bool:
    """The user data refuses to go on without the mount (``mountpoint -q ... || <shut down>``)."""
    return "mountpoint -q" in script


def immutable_dirs(script: str) -> list[str]:
    """Directories the user data makes immutable (``chattr +i DIR``, variables expanded): nothing can be created
    in them, not even by root (chattr(1): "A file with the 'i' attribute cannot be modified ... no link can be
    created to this file"; a directory's entries are links)."""
    return [_expanded(script, found).rstrip("/") or "/" for found in _CHATTR_IMMUTABLE.findall(script)]


def _expanded(script: str, text: str) -> str:
    variables = dict(_ASSIGN.findall(script))
    return _VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def parse_lustre_mount(script: str) -> LustreMount | None:
    """The file system the user data mounts (``<dns>@tcp:/<mount name>``) and where; None without a Lustre mount."""
    found = _MOUNT.search(script)
    if found is None:
        return None
    dns_name, mount_name, mount_dir = (_expanded(script, part) for part in found.groups())
    return LustreMount(dns_name=dns_name, mount_name=mount_name, mount_dir=mount_dir)


def parse_mount_retry(script: str) -> tuple[int, float]:
    """How often the user data tries the mount and the seconds between tries: ``(attempts, interval)``.

    The ``for ... in $(seq 1 N)`` loop around the mount with its ``sleep S``: ``(N, S)``. A mount outside such a
    loop is tried once.
    """
    for loop in _LOOP.finditer(script):
        body = loop.group(2)
        if _MOUNT.search(body):
            sleep = _SLEEP.search(body)
            return max(1, int(loop.group(1))), float(sleep.group(1)) if sleep else 0.0
    return 1, 0.0
