"""``graph``: draw a mode's workflow (the generated state machine definition) as an SVG or PNG picture.

Drawn with matplotlib from the layered layout of ``cli.workflow_layout``; no system binary is needed.
States are labelled boxes coloured by type (Fail red, Succeed green), Catch edges are dashed, a
Choice's edges carry the value they test.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Annotated, Any

import typer

from batch_lustre.cli.common import EXIT_BAD_INPUT, fail, one_line_errors, out
from batch_lustre.cli.workflow_layout import CATCH, CHOICE, DEFAULT, Edge, Layout, layout
from batch_lustre.program.asl import build_definition
from batch_lustre.program.asl.naming import (
    STACK_ID_LENGTH,
    job_log_group_name,
    lane_table_name,
    run_cleanup_state_machine_name,
    run_name_prefix,
    state_machine_name,
)
from batch_lustre.program.asl.refs import LaneRefs, WorkflowRefs
from batch_lustre.program.parameters import AUTO_EXPORT, MODES, check_mode

FORMATS = ("svg", "png")
X_UNIT, Y_UNIT = 3.0, 0.95  # inches between neighbouring states / layers
BOX_HEIGHT = 0.52
# Fill and border colour of each state type.
TYPE_COLOURS = {
    "Task": ("#dbe9f6", "#2b6cb0"),
    "Choice": ("#fff3c4", "#b7791f"),
    "Wait": ("#ece3f7", "#6b46c1"),
    "Pass": ("#eeeeee", "#666666"),
    "Fail": ("#f6c6c6", "#c53030"),
    "Succeed": ("#c9ebcf", "#2f855a"),
}
EDGE_STYLES = {  # kind -> (colour, line style)
    CATCH: ("#d9534f", (0, (4, 3))),
    CHOICE: ("#8a6d1d", "solid"),
    DEFAULT: ("#8a6d1d", "solid"),
}
NORMAL_EDGE = ("#4a5568", "solid")


def placeholder_refs(mode: str) -> WorkflowRefs:
    """WorkflowRefs with placeholder ARNs: the definition's shape does not depend on them."""
    check_mode(mode)
    account, region, prefix = "123456789012", "us-east-1", mode
    lane = LaneRefs(
        compute_environment_arn=f"arn:aws:batch:{region}:{account}:compute-environment/{prefix}-ce",
        job_queue_arn=f"arn:aws:batch:{region}:{account}:job-queue/{prefix}-queue",
        baseline_launch_template_id="lt-00000000000000000",
        baseline_launch_template_version="1",
    )
    return WorkflowRefs(
        mode=mode,
        stack=mode,
        stack_id="0" * STACK_ID_LENGTH,
        name_prefix=run_name_prefix(prefix, "0" * STACK_ID_LENGTH),
        region=region,
        account_id=account,
        state_machine_name=state_machine_name(prefix, mode),
        run_cleanup_state_machine_name=run_cleanup_state_machine_name(prefix, mode),
        secret_arn=f"arn:aws:secretsmanager:{region}:{account}:secret:{prefix}-runtime-parameters",
        bucket_name=f"{prefix}-data",
        subnet_id="subnet-00000000000000000",
        lustre_security_group_id="sg-00000000000000000",
        lanes=(lane,),
        lane_table_name=lane_table_name(run_name_prefix(prefix, "0" * STACK_ID_LENGTH)),
        job_repository_url=f"{account}.dkr.ecr.{region}.amazonaws.com/{prefix}",
        job_log_group_name=job_log_group_name(prefix, mode),
        extract_parameters_function_arn=f"arn:aws:lambda:{region}:{account}:function:{prefix}-extract-parameters",
        summarize_job_function_arn=f"arn:aws:lambda:{region}:{account}:function:{prefix}-summarize-job",
        wait_for_function_arn=f"arn:aws:lambda:{region}:{account}:function:{prefix}-wait-for",
        check_metrics_function_arn=(
            f"arn:aws:lambda:{region}:{account}:function:{prefix}-check-metrics" if mode == AUTO_EXPORT else ""
        ),
    )


def subtitle(state: dict[str, Any]) -> str:
    """The small second line of a state's box: what it calls, waits for or tests."""
    kind = state["Type"]
    if kind == "Task":
        resource = state.get("Resource", "")
        if ":aws-sdk:" in resource:
            return resource.split(":aws-sdk:", 1)[1]
        return resource.rsplit(":::", 1)[-1] if ":::" in resource else resource
    if kind == "Wait":
        path = state.get("SecondsPath") or state.get("TimestampPath") or str(state.get("Seconds", ""))
        return f"wait {path.rsplit('.', 1)[-1]}"
    if kind == "Fail":
        return f"fail: {state.get('Error') or state.get('ErrorPath', '')}".rstrip(": ")
    return kind.lower()


def _box_width(name: str, sub: str) -> float:
    return min(X_UNIT - 0.15, max(len(name) * 0.072, len(sub) * 0.055) + 0.3)


def _smooth_path(points: list[tuple[float, float]]) -> Any:
    """A path through ``points``: straight ends, quadratic curves around the inner points."""
    from matplotlib.path import Path as MplPath

    if len(points) == 2:
        return MplPath(points, [MplPath.MOVETO, MplPath.LINETO])
    vertices, codes = [points[0]], [MplPath.MOVETO]
    for i in range(1, len(points) - 1):
        before = ((points[i - 1][0] + points[i][0]) / 2, (points[i - 1][1] + points[i][1]) / 2)
        after = ((points[i][0] + points[i + 1][0]) / 2, (points[i][1] + points[i + 1][1]) / 2)
        vertices += [before, points[i], after]
        codes += [MplPath.LINETO, MplPath.CURVE3, MplPath.CURVE3]
    vertices.append(points[-1])
    codes.append(MplPath.LINETO)
    return MplPath(vertices, codes)


def draw(definition: dict[str, Any], out: Path, title: str) -> Layout:
    """Draw ``definition`` into ``out`` (.svg or .png); returns the layout used."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.artist import Artist
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

    placed = layout(definition)
    states = definition["States"]
    margin, header = 0.6, 1.4
    width = placed.width * X_UNIT + X_UNIT + 2 * margin
    height = (placed.layers - 1) * Y_UNIT + BOX_HEIGHT + 2 * margin + header
    fig = plt.figure(figsize=(max(width, 9.0), height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-X_UNIT / 2 - margin, max(width, 9.0) - X_UNIT / 2 - margin)
    ax.set_ylim(height - margin - header, -margin - header)  # y grows downwards, header above layer 0
    ax.axis("off")

    def at(point: tuple[float, float]) -> tuple[float, float]:
        return point[0] * X_UNIT, point[1] * Y_UNIT

    sizes = {name: (_box_width(name, subtitle(s)), BOX_HEIGHT) for name, s in states.items()}

    def clip(point: tuple[float, float], name: str, towards: tuple[float, float]) -> tuple[float, float]:
        """Where the edge leaves/enters ``name``'s box: its top or bottom side, towards the next point."""
        x, y = at(point)
        half_h = sizes[name][1] / 2
        return x, y + (half_h if towards[1] > y else -half_h)

    for edge, route in placed.routes.items():
        _draw_edge(ax, edge, [at(p) for p in route], clip, FancyArrowPatch)

    for name, state in states.items():
        x, y = at(placed.positions[name])
        w, h = sizes[name]
        fill, border = TYPE_COLOURS.get(state["Type"], ("#ffffff", "#000000"))
        terminal = state["Type"] in ("Fail", "Succeed")
        ax.add_patch(
            FancyBboxPatch(
                (x - w / 2, y - h / 2),
                w,
                h,
                boxstyle="round,pad=0,rounding_size=0.08",
                facecolor=fill,
                edgecolor=border,
                linewidth=2.0 if terminal else 1.0,
                zorder=3,
            )
        )
        ax.text(
            x,
            y - 0.08,
            name,
            ha="center",
            va="center",
            fontsize=8,
            zorder=4,
            fontweight="bold" if terminal or name == definition["StartAt"] else "normal",
        )
        ax.text(x, y + 0.13, subtitle(state), ha="center", va="center", fontsize=6, color="#444444", zorder=4)

    start_x, start_y = at(placed.positions[definition["StartAt"]])
    ax.plot([start_x], [start_y - 0.75], marker="o", markersize=9, color="black", zorder=4)
    ax.add_patch(
        FancyArrowPatch(
            (start_x, start_y - 0.7),
            (start_x, start_y - BOX_HEIGHT / 2),
            arrowstyle="-|>",
            mutation_scale=10,
            color="black",
            zorder=2,
        )
    )

    left = -X_UNIT / 2
    ax.text(left, -header - 0.25, title, fontsize=13, fontweight="bold", va="top")
    comment = textwrap.fill(definition.get("Comment", ""), 150)
    ax.text(left, -header + 0.1, comment, fontsize=7, color="#444444", va="top")
    legend: list[Artist] = [Patch(facecolor=f, edgecolor=b, label=t) for t, (f, b) in TYPE_COLOURS.items()]
    legend += [
        Line2D([], [], color=NORMAL_EDGE[0], label="next"),
        Line2D([], [], color=EDGE_STYLES[CHOICE][0], label="choice (value tested)"),
        Line2D([], [], color=EDGE_STYLES[CATCH][0], linestyle=(0, (4, 3)), label="catch (error)"),
    ]
    ax.legend(handles=legend, loc="upper center", ncol=9, fontsize=8, frameon=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format=out.suffix.lstrip(".").lower(), dpi=110)
    plt.close(fig)
    return placed


def _draw_edge(ax: Any, edge: Edge, points: list[tuple[float, float]], clip: Any, arrow_cls: Any) -> None:
    colour, style = EDGE_STYLES.get(edge.kind, NORMAL_EDGE)
    if edge.source == edge.target:
        route = points
    else:
        route = [
            clip((points[0][0] / X_UNIT, points[0][1] / Y_UNIT), edge.source, points[1]),
            *points[1:-1],
            clip((points[-1][0] / X_UNIT, points[-1][1] / Y_UNIT), edge.target, points[-2]),
        ]
    ax.add_patch(
        arrow_cls(
            path=_smooth_path(route),
            arrowstyle="-|>",
            mutation_scale=9,
            color=colour,
            linestyle=style,
            linewidth=0.9,
            alpha=0.85 if edge.kind == CATCH else 1.0,
            zorder=2,
        )
    )
    if edge.kind in (CHOICE, DEFAULT) and edge.label:
        (x0, y0), (x1, y1) = route[0], route[1]
        t = min(0.5, 0.35 / max(1e-6, abs(y1 - y0)))
        ax.text(
            x0 + (x1 - x0) * t,
            y0 + (y1 - y0) * t,
            textwrap.shorten(edge.label, 34),
            fontsize=5.5,
            ha="center",
            va="center",
            color=colour,
            zorder=5,
            bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.9},
        )


def graph(
    mode: Annotated[str, typer.Option("--mode", "-m", help=f"Workflow variant: {' or '.join(MODES)}.")] = MODES[0],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            dir_okay=False,
            help="Picture file; its suffix (.svg or .png) picks the format. Default: workflow-<mode>.svg",
        ),
    ] = None,
) -> None:
    """Draw the workflow of a mode (the generated state machine definition) as an SVG or PNG picture."""
    with one_line_errors():
        check_mode(mode)
        target = output or Path(f"workflow-{mode}.svg")
        if target.suffix.lstrip(".").lower() not in FORMATS:
            fail(
                f"--output={str(target)!r} is not accepted: accepted a file name ending in .svg or .png", EXIT_BAD_INPUT
            )
        definition = build_definition(placeholder_refs(mode))
        placed = draw(definition, target, f"batch-lustre {mode} workflow")
    out().print(
        f"wrote {target}: {len(definition['States'])} states, {len(placed.routes)} transitions, {placed.layers} layers"
    )


def register(app: typer.Typer) -> None:
    app.command("graph")(graph)
