"""``batch-lustre graph``: the generated workflow drawn as SVG/PNG, and the layered layout behind it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from batch_lustre.cli.app import app
from batch_lustre.cli.graph import TYPE_COLOURS, placeholder_refs, subtitle
from batch_lustre.cli.workflow_layout import CATCH, edges_of, layout
from batch_lustre.program.asl import build_definition
from batch_lustre.program.parameters import MODES

runner = CliRunner()


@pytest.fixture(scope="module", params=MODES)
def definition(request):
    return build_definition(placeholder_refs(request.param))


def test_svg_picture_names_every_state(tmp_path):
    out = tmp_path / "task.svg"
    result = runner.invoke(app, ["graph", "--mode", "taskexport", "-o", str(out)])
    assert result.exit_code == 0, result.output
    ET.parse(out)  # well-formed SVG
    text = out.read_text()
    for name in build_definition(placeholder_refs("taskexport"))["States"]:
        assert name in text
    assert "stroke-dasharray" in text  # Catch edges are dashed
    fail_fill, _ = TYPE_COLOURS["Fail"]
    succeed_fill, _ = TYPE_COLOURS["Succeed"]
    assert fail_fill in text and succeed_fill in text
    assert f"wrote {out}" in result.output.replace("\n", "")


def test_png_picture_is_written(tmp_path):
    out = tmp_path / "auto.png"
    result = runner.invoke(app, ["graph", "-m", "autoexport", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unsupported_picture_format_is_one_line_exit_2(tmp_path):
    result = runner.invoke(app, ["graph", "-o", str(tmp_path / "workflow.pdf")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --output=")
    assert result.stderr.rstrip().endswith("is not accepted: accepted a file name ending in .svg or .png")
    assert result.stderr.count("\n") == 1


def test_an_unknown_mode_is_one_line_exit_2(tmp_path):
    result = runner.invoke(app, ["graph", "-m", "fastexport", "-o", str(tmp_path / "x.svg")])
    assert result.exit_code == 2
    assert result.stderr == "error: mode='fastexport' is not accepted: accepted taskexport or autoexport\n"


def test_layout_places_every_state_once_in_its_own_spot(definition):
    placed = layout(definition)
    assert set(placed.positions) == set(definition["States"])
    assert len(set(placed.positions.values())) == len(placed.positions)


def test_layout_routes_every_transition_and_catch_edges_are_marked(definition):
    placed = layout(definition)
    edges = edges_of(definition)
    assert set(placed.routes) == set(edges)
    drawn = {(e.source, e.target) for e in edges}
    for name, state in definition["States"].items():
        for catcher in state.get("Catch", []):
            assert (name, catcher["Next"]) in drawn
    assert any(e.kind == CATCH for e in edges)


def test_layout_puts_the_start_first_and_edges_between_adjacent_layers(definition):
    placed = layout(definition)
    assert placed.positions[definition["StartAt"]][1] == 0
    for edge, route in placed.routes.items():
        if edge.source != edge.target:
            steps = [abs(b[1] - a[1]) for a, b in zip(route, route[1:], strict=False)]
            assert all(step == 1 for step in steps), edge  # long edges go through a point per layer


def test_box_subtitles_say_what_a_state_does():
    assert (
        subtitle({"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:fsx:createFileSystem"})
        == "fsx:createFileSystem"
    )
    assert (
        subtitle({"Type": "Wait", "SecondsPath": "$.config.params.waitForJobCompletionSeconds"})
        == "wait waitForJobCompletionSeconds"
    )
    assert subtitle({"Type": "Fail", "Error": "InvalidParameters"}) == "fail: InvalidParameters"
