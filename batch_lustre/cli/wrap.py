"""Text wrapped for a terminal with no word broken: at spaces, and a word longer than a line (an ARN, a path)
after its separators (``:``, ``/``, ``,``); only a piece still longer than the line is cut, at the line's end.

rich folds a word longer than the line at the last column, wherever it falls in the word: ``wrap_text`` runs
first, so rich never has to.
"""

from __future__ import annotations

import re

from rich.text import Text

SEPARATORS = ":/,"
_PIECE = re.compile(rf"[^{re.escape(SEPARATORS)}]*[{re.escape(SEPARATORS)}]+|[^{re.escape(SEPARATORS)}]+")
_WORD = re.compile(r"\S+")


def _pieces(start: int, word: str, width: int) -> list[tuple[int, int]]:
    """A word longer than ``width`` as (start, end) ranges: each ends after a separator, or is cut at ``width``."""
    found: list[tuple[int, int]] = []
    for match in _PIECE.finditer(word):
        begin, end = start + match.start(), start + match.end()
        while end - begin > width:
            found.append((begin, begin + width))
            begin += width
        found.append((begin, end))
    return found


def line_ranges(plain: str, width: int) -> list[tuple[int, int]]:
    """(start, end) of each line of ``plain`` (one paragraph, no newline) wrapped at ``width`` (module docstring)."""
    width = max(1, width)
    lines: list[list[int]] = []  # [start, end] of the current line
    for match in _WORD.finditer(plain):
        start, end = match.start(), match.end()
        if lines and end - lines[-1][0] <= width:
            lines[-1][1] = end  # the word (and the spaces before it) fits on the line
            continue
        if end - start <= width:
            lines.append([start, end])
            continue
        for begin, stop in _pieces(start, match.group(), width):
            if lines and stop - lines[-1][0] <= width and lines[-1][1] == begin:
                lines[-1][1] = stop  # the next piece of the same word fits on the line
            elif lines and stop - lines[-1][0] <= width and begin == start:
                lines[-1][1] = stop  # the word's first piece fits after the line's last word
            else:
                lines.append([begin, stop])
    return [(s, e) for s, e in lines] or [(0, 0)]


def wrap_text(text: Text, width: int) -> Text:
    """``text`` with its lines broken to fit ``width`` (module docstring), styles kept."""
    paragraphs = text.split("\n", allow_blank=True)
    lines: list[Text] = []
    for paragraph in paragraphs:
        for start, end in line_ranges(paragraph.plain, width):
            lines.append(paragraph[start:end])
    return Text("\n").join(lines)


def pack(prefix: str, items: list[str], width: int, separator: str = ", ") -> list[str]:
    """``prefix`` then ``items`` joined by ``separator``, in lines of at most ``width`` where it can: an item is
    never split across lines (a line holding a single item longer than ``width`` is the exception)."""
    lines = [prefix.rstrip()]
    for i, item in enumerate(items):
        piece = item + (separator.rstrip() if i < len(items) - 1 else "")
        candidate = f"{lines[-1]} {piece}" if lines[-1] else piece
        if len(candidate) <= width or not lines[-1].strip():
            lines[-1] = candidate
        else:
            lines.append("  " + piece)
    return lines
