"""``wrap.wrap_text`` and ``wrap.pack``: lines that fit, no word broken but a word longer than a line, which breaks
after a separator (or, a piece still too long, at the line's end)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text

from batch_lustre.cli.wrap import SEPARATORS, line_ranges, pack, wrap_text

WORD = st.text(alphabet="abcXYZ019-_.:/,", min_size=1, max_size=40)
WORDS = st.lists(WORD, min_size=1, max_size=15)


@settings(max_examples=200, derandomize=True)
@given(words=WORDS, width=st.integers(8, 80))
def test_lines_fit_keep_every_character_and_break_a_word_only_when_it_is_longer_than_a_line(words, width):
    text = " ".join(words)
    lines = wrap_text(Text(text), width).plain.split("\n")
    assert all(len(line) <= width for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    # Where a line ends inside a word, the word is longer than a line, and the break follows a separator or
    # the line is full (a piece with no separator left).
    position = 0
    for start, end in line_ranges(text, width):
        position = end
        if end < len(text) and text[end] != " " and end > 0 and text[end - 1] != " ":
            word = text[:end].split(" ")[-1] + text[end:].split(" ")[0]
            assert len(word) > width, (text, width)
            assert text[end - 1] in SEPARATORS or end - start == width, (text, width, start, end)
    assert position == len(text.rstrip())


def test_an_arn_longer_than_the_line_breaks_after_its_last_colon_that_fits():
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:taskexport-taskexport-workflow"
    assert wrap_text(Text(f"stateMachineArn: {arn}"), 80).plain.split("\n") == [
        "stateMachineArn: arn:aws:states:us-east-1:123456789012:stateMachine:",
        "taskexport-taskexport-workflow",
    ]


def test_styles_survive_the_wrapping():
    text = Text.assemble(("error: ", "red"), "word " * 30)
    wrapped = wrap_text(text, 20)
    assert wrapped.spans and wrapped.spans[0].style == "red" and wrapped.plain.startswith("error: ")


@settings(max_examples=100, derandomize=True)
@given(items=st.lists(st.text(alphabet="abc:x1 ", min_size=1, max_size=30).map(str.strip).filter(bool), max_size=12))
def test_pack_never_splits_an_item(items):
    lines = pack("calls:", items, 40)
    joined = " ".join(line.strip() for line in lines)
    for item in items:
        assert item in joined
    for line in lines[1:]:
        assert line.startswith("  ")
    assert all(len(line) <= 40 for line in lines if len(line.strip().split(", ")) > 1)
