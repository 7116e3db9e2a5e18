"""No word is broken across lines on an 80-column terminal: every command's help, the demo, scenarios, and the
listings, as a user sees them (``COLUMNS=80``, rich treating CliRunner's stdout as a terminal).

How a broken word is found: the same output is also rendered unwrapped (each thing the command prints, printed a
second time on a console 10,000 columns wide; the help at ``COLUMNS=10000``). A line break is a broken word when
the last word of a line and the first word of the next (cell by cell in a table) join into a longer word of the
unwrapped output, and the line does not end on a separator (``:``, ``/``, ``,``, where a long ARN may break). A
word cut with ``…`` where the unwrapped output has it whole is reported too (but in a run's live line, which is
one line cut on purpose and erased when the run ends).
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from batch_lustre.cli import common
from batch_lustre.cli.app import app
from batch_lustre.cli.wrap import SEPARATORS

runner = CliRunner()
TERMINAL_80 = {"COLUMNS": "80", "TTY_COMPATIBLE": "1", "NO_COLOR": "1"}
CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CELL = re.compile(r"[│┃]")
WIDE = 10_000
LIVE_LINE = re.compile(r"^\S? ?run \S+  \|  ")


def screen_lines(raw: str) -> list[str]:
    """What stays on the screen: a live display's frames erased (``ESC[2K``, cursor up), escapes removed."""
    lines: list[str] = []
    for line in raw.split("\n"):
        ups = line.count("\x1b[1A")
        if ups:
            del lines[len(lines) - ups :]
        kept = line.split("\x1b[2K")[-1].split("\r")[-1]
        lines.append(CSI.sub("", kept))
    return lines


def _cells(line: str) -> list[str]:
    return CELL.split(line)


def broken_words(wrapped: str, unwrapped: str) -> list[str]:
    """The words of ``unwrapped`` that ``wrapped`` breaks across two lines, or cuts with an ellipsis."""
    words = set(CSI.sub("", unwrapped).split())
    lines = screen_lines(wrapped)
    found = []
    for above, below in zip(lines, lines[1:], strict=False):
        cells_above, cells_below = _cells(above), _cells(below)
        pairs = list(zip(cells_above, cells_below, strict=False))
        if len(cells_above) != len(cells_below):
            pairs = [(above, below)]
        for left, right in pairs:
            if not left.strip() or not right.strip():
                continue
            end, start = left.split()[-1], right.split()[0]
            if end[-1] in SEPARATORS:
                continue
            if len(pairs) > 1 and end.isdigit() and start.isdigit():
                continue  # two rows' counts in one table column (2 above 1 is no "21" cut in two)
            joined = end + start
            whole = joined in words or any(joined in w for w in words if len(w) > len(joined))
            if whole and not (end in words and start in words and joined not in words):
                found.append(f"{end} | {start}")
    for line in lines:
        if LIVE_LINE.match(line):
            continue  # the live line of a run, cut to one line on purpose and erased at the end
        for word in line.split():
            stem = word.rstrip("…")
            if word.endswith("…") and stem and any(w.startswith(stem) and len(w) > len(stem) for w in words):
                found.append(f"{word} (cut)")
    return found


class TwinConsole(common.TerminalConsole):
    """The terminal's console, which also prints everything on an unwrapped console (``self.twin``)."""

    def __init__(self, twin: Console, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.twin = twin

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().print(*objects, **kwargs)
        self.twin.print(*objects, **kwargs)


@pytest.fixture
def twin(monkeypatch):
    """The unwrapped text of what the commands print on stdout (their consoles twinned)."""
    unwrapped = io.StringIO()
    wide = Console(file=unwrapped, width=WIDE, force_terminal=True, color_system=None, highlight=False)

    def console(stderr: bool) -> Console:
        if Console(stderr=stderr).is_terminal:
            return TwinConsole(wide, stderr=stderr, highlight=False)
        return Console(stderr=stderr, highlight=False, color_system=None, soft_wrap=True, emoji=False)

    monkeypatch.setattr(common, "_console", console)
    return unwrapped


# --- the check itself: it finds what rich's fold does to an ARN, and accepts a break after a separator -----------


ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:taskexport-taskexport-workflow"


def test_the_check_finds_a_word_rich_folds_at_the_last_column():
    folded = io.StringIO()
    Console(file=folded, width=80, force_terminal=True, color_system=None).print(f"stateMachineArn: {ARN}")
    assert len(folded.getvalue().splitlines()) == 3  # rich puts the ARN on its own line and folds it
    assert broken_words(folded.getvalue(), f"stateMachineArn: {ARN}") == [f"{ARN[:-1]} | w"]


def test_the_check_finds_a_help_text_cut_with_an_ellipsis():
    assert broken_words("  most the stack's computeEnvironmentMaxvCp…\n", "computeEnvironmentMaxvCpus") == [
        "computeEnvironmentMaxvCp… (cut)"
    ]


def test_the_check_accepts_words_wrapped_at_spaces_and_an_arn_broken_after_a_colon():
    assert broken_words(f"arn:aws:states:us-east-1:123456789012:stateMachine:\n{ARN.rsplit(':', 1)[1]}\n", ARN) == []
    assert broken_words("a long sentence\nwrapped at a space\n", "a long sentence wrapped at a space") == []


def test_the_check_compares_table_cells_column_by_column():
    table = "│ key-one │ a folded valu │\n│         │ e here        │\n"
    assert broken_words(table, "key-one a folded value here") == ["valu | e"]


# --- every command at 80 columns ---------------------------------------------------------------------------------

HELP = [
    [],
    ["deploy"],
    ["preview"],
    ["destroy"],
    ["outputs"],
    ["params"],
    ["params", "show"],
    ["params", "set"],
    ["run"],
    ["status"],
    ["acceptance"],
    ["sweep"],
    ["graph"],
    ["demo"],
    ["scenarios"],
]


@pytest.mark.parametrize("command", HELP, ids=lambda c: " ".join(c) or "batch-lustre")
def test_help_at_80_columns_breaks_no_word_and_cuts_nothing(command):
    wrapped = runner.invoke(app, [*command, "--help"], env=TERMINAL_80)
    unwrapped = runner.invoke(app, [*command, "--help"], env={"COLUMNS": str(WIDE)})
    assert wrapped.exit_code == unwrapped.exit_code == 0, wrapped.output
    assert max(len(line) for line in screen_lines(wrapped.stdout)) <= 80
    assert broken_words(wrapped.stdout, unwrapped.stdout) == []


@pytest.mark.parametrize(
    "command",
    [
        ["demo", "--list"],
        ["scenarios", "--list"],
        ["params", "show", "-s", "taskexport"],
        ["demo", "--mode", "taskexport"],
        ["demo", "--mode", "autoexport", "--scenario", "job-fails"],
        ["scenarios", "export-fails", "--mode", "taskexport"],
    ],
    ids=" ".join,
)
def test_output_at_80_columns_breaks_no_word(command, twin):
    result = runner.invoke(app, command, env=TERMINAL_80)
    assert result.exit_code in (0, 1), result.output
    assert twin.getvalue().strip(), "nothing was printed on the unwrapped console"
    assert max(len(line) for line in screen_lines(result.stdout)) <= 80
    assert broken_words(result.stdout, twin.getvalue()) == []
