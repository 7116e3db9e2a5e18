"""Untrusted text: the error every refusal raises, how a value is shown in its one-line message, and the
checks every string and integer from outside goes through (no control characters, bounded digits)."""

from __future__ import annotations

import json
import re
from typing import Any


class ParameterError(ValueError):
    """A parameter value is not accepted. The message names key, value and rule."""


# No value may hold a control character (C0, DEL, C1) nor a Unicode line or paragraph separator: each value must
# stay on one line in every request and message.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
NO_CONTROL = "no control characters"
# More digits than any accepted integer has: longer text is refused before int() (which refuses more than
# 4,300 digits with a ValueError of its own).
MAX_INTEGER_DIGITS = 20
_INTEGER = re.compile(rf" *(-?[0-9]{{1,{MAX_INTEGER_DIGITS}}}) *")
# A value shown in a message is cut to this many characters: a 4 KiB command must not make a 4 KiB error.
SHOWN_CHARS = 120
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_]+")


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character or a line or paragraph separator."""
    return _CONTROL.search(text) is not None


def parse_integer(text: str, *, key: str, accepted: str) -> int:
    """Untrusted text -> int: an optional minus and 1 to MAX_INTEGER_DIGITS ASCII digits, spaces around.

    Anything else raises ``ParameterError`` (one line: ``key``, the text cut short, ``accepted``) before ``int()``
    is called, so no text reaches Python's own conversion limits.
    """
    found = _INTEGER.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        raise ParameterError(f"{key}={show_short(text)} is not accepted: accepted {accepted}")
    return int(found.group(1))


def show(value: Any) -> str:
    """``value`` as JSON (its repr if it is not JSON), on one line whatever it holds."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        pass
    try:
        return " ".join(repr(value).splitlines())
    except (ValueError, RecursionError):  # an integer past Python's conversion limit, or nested too deep
        return f"<a {type(value).__name__} too large to show>"


def show_short(value: Any) -> str:
    """``show(value)`` cut to SHOWN_CHARS characters."""
    shown = show(value)
    return shown if len(shown) <= SHOWN_CHARS else shown[: SHOWN_CHARS - 3] + "..."


def show_key(key: Any) -> str:
    """A key as the user wrote it, quoted when it is not a plain name (so a message stays on one line)."""
    return key if isinstance(key, str) and _PLAIN_KEY.fullmatch(key) else show_short(key)
