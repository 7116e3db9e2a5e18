"""Tables that read well at any width and when piped.

A ``Listing`` is rows of cells under column headers. ``render`` picks its layout for the console:

- a terminal wide enough: a table, key columns (names to type, ids) never wrapped, the others wrapped at word
  boundaries only;
- a terminal too narrow for that: one block per row, its key on a line of its own, then ``header: value``
  lines wrapped at word boundaries (a listing of one value per row: ``key: value`` on one line);
- not a terminal (piped, a file): one plain line per row, ``key | header: value | header: value``, never
  wrapped, no box drawing, no colour.

Cells are plain text (never markup) or ``rich.text.Text`` (styled; plain when piped); an empty cell is left out
of the block and line layouts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from batch_lustre.cli.common import is_plain
from batch_lustre.cli.wrap import wrap_text

Cell = str | Text
PROSE_MIN_WIDTH = 16  # a wrapped column narrower than this reads as a list of words: use blocks instead
INDENT = "  "


@dataclass(frozen=True)
class Column:
    header: str
    key: bool = False  # part of the row's name: never wrapped nor cut
    justify: Literal["left", "right"] = "left"


@dataclass
class Listing:
    columns: Sequence[Column]
    title: str | None = None
    rows: list[tuple[Cell, ...]] = field(default_factory=list)

    def add_row(self, *cells: Cell) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"cells={len(cells)} is not accepted: accepted {len(self.columns)} (one per column)")
        self.rows.append(cells)


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def _text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else Text(cell)


def _longest_word(text: str) -> int:
    return max((len(word) for word in text.split()), default=0)


def min_table_width(listing: Listing) -> int:
    """The width a table of ``listing`` needs so that no key is wrapped and no word broken."""
    width = 1  # the left border
    for i, column in enumerate(listing.columns):
        cells = [_plain(row[i]) for row in listing.rows]
        longest = max((len(c) for c in cells), default=0)
        if column.key:
            need = longest
        else:
            need = max((_longest_word(c) for c in cells), default=0)
            need = max(need, min(longest, PROSE_MIN_WIDTH))
        width += max(need, _longest_word(column.header)) + 3  # padding and the border
    return width


def table(listing: Listing) -> Table:
    """``listing`` as a rich table (for a terminal wide enough: ``min_table_width``)."""
    found = Table(title=listing.title, title_justify="left")
    for i, column in enumerate(listing.columns):
        longest = max((len(_plain(row[i])) for row in listing.rows), default=0)
        if column.key:
            found.add_column(column.header, no_wrap=True, min_width=longest, justify=column.justify, style="bold")
        else:
            found.add_column(column.header, overflow="fold", justify=column.justify)
    for row in listing.rows:
        found.add_row(*(_text(c) for c in row))
    return found


def _row_key(listing: Listing, row: tuple[Cell, ...]) -> Text:
    parts = [_text(c) for c, col in zip(row, listing.columns, strict=True) if col.key and _plain(c)]
    return Text(" ").join(parts)


def _fields(listing: Listing, row: tuple[Cell, ...]) -> list[tuple[str, Text]]:
    return [(col.header, _text(c)) for c, col in zip(row, listing.columns, strict=True) if not col.key and _plain(c)]


def _one_value(listing: Listing) -> bool:
    """A listing of one value per key (a figure and its value): ``key: value`` on one line."""
    return sum(not column.key for column in listing.columns) == 1


def _labelled(header: str, value: Text) -> Text:
    return Text.assemble(f"{header}: ", value) if header else value


def lines(listing: Listing) -> list[Text]:
    """``listing`` as one plain line per row (piped output), the title first."""
    found = [Text(listing.title)] if listing.title else []
    for row in listing.rows:
        key = _row_key(listing, row)
        fields = _fields(listing, row)
        if _one_value(listing):
            found.append(Text.assemble(key, ": ", fields[0][1]) if fields else key)
            continue
        parts = ([key] if key.plain else []) + [_labelled(h, v) for h, v in fields]
        found.append(Text(" | ").join(parts))
    return found


def blocks(listing: Listing, width: int) -> Group:
    """``listing`` for a terminal ``width`` wide, too narrow for a table: a block per row, each value wrapped at word
    boundaries (``wrap.wrap_text``) under its label; a long value of a one-value listing on its own lines."""
    parts: list[RenderableType] = [wrap_text(Text(listing.title, style="italic"), width)] if listing.title else []
    one_value = _one_value(listing)
    labels = [f"{INDENT}{c.header}:" if c.header else INDENT for c in listing.columns if not c.key]
    value_width = max(1, width - max((len(label) for label in labels), default=0) - 1)
    for row in listing.rows:
        key = _row_key(listing, row)
        fields = _fields(listing, row)
        if one_value:  # a figure and its value: one line, or the value on lines of its own below its name
            line = Text.assemble(key, ": ", fields[0][1]) if fields else key
            if line.cell_len <= width:
                parts.append(line)
            else:
                parts.append(Text.assemble(key, ":"))
                parts.append(Padding(wrap_text(fields[0][1], width - len(INDENT)), (0, 0, 0, len(INDENT))))
            continue
        parts.append(Text.assemble(key, style="bold"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for header, value in fields:
            grid.add_row(Text(f"{INDENT}{header}:" if header else INDENT, style="dim"), wrap_text(value, value_width))
        parts.append(grid)
    return Group(*parts)


def render(listing: Listing, console: Console) -> RenderableType:
    """The layout of ``listing`` that reads well on ``console`` (module docstring)."""
    if is_plain(console):
        return Group(*lines(listing))
    if min_table_width(listing) <= console.width:
        return table(listing)
    return blocks(listing, console.width)


def show(listing: Listing, console: Console) -> None:
    """Print ``listing`` on ``console`` in the layout that reads well there."""
    if is_plain(console):
        for line in lines(listing):
            console.print(line, soft_wrap=True)
        return
    console.print(render(listing, console))
