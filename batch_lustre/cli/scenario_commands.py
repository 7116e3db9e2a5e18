"""``scenarios``: run the catalogue of scenarios on the emulated AWS and judge each run.

``batch-lustre scenarios`` runs every scenario in every mode it applies to and prints one table row per
run: what was expected, what happened, what was left behind, how many state transitions it took, and
whether it passed (the expectation met and every rule kept). Piped, each run's line is printed as soon as
it ends. ``batch-lustre scenarios NAME`` runs one scenario and prints its timeline of states on the
emulated clock (time since the run started) and its figures.

The catalogue is ``emulation/catalogue.py``; the run and the rules are ``emulation/catalogue_run.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from batch_lustre import automation, pricing
from batch_lustre.cli import fs_cost
from batch_lustre.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    VerboseOption,
    clock,
    elapsed,
    err_out,
    fail,
    is_plain,
    out,
    print_json,
)
from batch_lustre.cli.listing import Column, Listing, show
from batch_lustre.cli.progress import cause_line
from batch_lustre.emulation.environment import offline_environment
from batch_lustre.emulation.figures import FIGURE_KEYS, LINE_KEYS
from batch_lustre.program.asl import run_cleanup_output
from batch_lustre.program.parameters import MAX_LANES, MODES, check_mode

if TYPE_CHECKING:
    from batch_lustre.emulation.catalogue_run import ScenarioResult
    from batch_lustre.emulation.runner import RunResult, StateVisit

REGION = "us-east-1"
LONGEST_LOOP = 12  # states in the longest polling loop folded into one timeline row
# ``--json``: the verdict, then the figures of the run that went ahead (emulation.figures.RunFigures, emulated
# seconds), then the file system's cost in US dollars (null without a deleted file system: its lifetime, the
# capacity of the scenario's secret, the mode's stack price, batch_lustre/pricing.py). These keys, exactly, in
# this order: what tools may rely on. A scenario of many runs in line for lanes adds ``LINE_KEYS`` at the end.
JSON_KEYS = ("scenario", "mode", "passed", "problems", *FIGURE_KEYS, "fs_cost_usd")


def load_catalogue() -> tuple[ModuleType, ModuleType]:
    """``emulation.catalogue`` and ``emulation.catalogue_run``, imported only when a scenario runs.

    moto cannot even be imported while AWS_PROFILE names a profile this machine lacks: import offline.
    """
    with offline_environment(REGION):
        from batch_lustre.emulation import catalogue, catalogue_run
    return catalogue, catalogue_run


def scenarios(
    name: Annotated[
        str | None,
        typer.Argument(
            metavar="NAME",
            show_default=False,
            help="Run only this scenario and print its timeline of states and its figures (see --list).",
        ),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode",
            "-m",
            show_default=False,
            help=f"Only this mode ({' or '.join(MODES)}); default: every mode the scenario applies to.",
        ),
    ] = None,
    list_scenarios: Annotated[bool, typer.Option("--list", help="List the scenarios and exit.")] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print JSON instead of tables: NAME --mode M gives one object; otherwise a list of objects, "
            "one per scenario and mode; with --list, a list of {name, modes, description}. Each object "
            "has exactly the keys " + ", ".join(JSON_KEYS) + " (durations in emulated seconds, null "
            "when the phase did not happen).",
        ),
    ] = False,
    lanes: Annotated[
        int | None,
        typer.Option(
            "--lanes",
            min=1,
            max=MAX_LANES,
            show_default=False,
            help="Deploy NAME's stack with this many lanes (maxConcurrentRuns), over the scenario's own stack config "
            "(e.g. many-runs-at-once --lanes 10: each run on its own lane).",
        ),
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Run the scenarios on an emulated AWS (no credentials, no network) and judge them. Exit code 0 only if all pass.

    Without NAME: every scenario, one table row per scenario and mode (expected, got, leftovers, transitions).
    With NAME: that scenario's timeline of states on the emulated clock, AWS calls, the run-cleanup executions
    and the run's figures.
    """
    if mode is not None:
        try:
            check_mode(mode)
        except ValueError as err:
            fail(str(err), EXIT_BAD_INPUT)
    catalogue, catalogue_run = load_catalogue()
    if list_scenarios:
        if as_json:
            print_json(
                [
                    {"name": n, "modes": list(e.modes), "description": e.description}
                    for n, e in catalogue.SCENARIOS.items()
                ]
            )
        else:
            show(catalogue_listing(catalogue), out())
        return
    if name is None:
        if lanes is not None:
            fail(f"--lanes={lanes} is not accepted without NAME: accepted with one scenario's NAME", EXIT_BAD_INPUT)
        cases = [(n, m) for n, m in catalogue.cases() if mode is None or m == mode]
        if as_json:
            results = _run(catalogue_run, cases, err_out())
            print_json([result_json(r) for r in results])
            if not all(r.passed for r in results):
                raise typer.Exit(EXIT_FAILED)
            return
        console = out()
        if is_plain(console):  # each run's line as soon as it ends
            results = _run(catalogue_run, cases, console, lambda r: show(scenario_listing([r], title=False), console))
        else:
            results = _run(catalogue_run, cases, console)
            show(scenario_listing(results), console)
        _show_problems(console, results)
        failed = [r for r in results if not r.passed]
        console.print(
            f"{len(results) - len(failed)} of {len(results)} scenario runs passed"
            + (f"; [bold red]{len(failed)} failed[/]" if failed else "")
        )
        if failed:
            raise typer.Exit(EXIT_FAILED)
        return
    if name not in catalogue.SCENARIOS:
        fail(f"scenario={name!r} is not accepted: accepted {', '.join(catalogue.SCENARIOS)}", EXIT_BAD_INPUT)
    entry = catalogue.SCENARIOS[name]
    config = None if lanes is None else {**entry.stack_config, "maxConcurrentRuns": lanes}
    if mode is not None and mode not in entry.modes:
        fail(
            f"scenario={name!r} is not accepted with --mode={mode}: it applies to {' and '.join(entry.modes)}",
            EXIT_BAD_INPUT,
        )
    cases = [(name, m) for m in entry.modes if mode is None or m == mode]
    if as_json:
        results = _run(catalogue_run, cases, err_out(), stack_config=config)
        print_json(result_json(results[0]) if mode is not None else [result_json(r) for r in results])
    else:
        results = _run(
            catalogue_run, cases, out(), lambda r: show_result(out(), r, verbose=verbose), stack_config=config
        )
    if not all(r.passed for r in results):
        raise typer.Exit(EXIT_FAILED)


def _run(
    catalogue_run: ModuleType,
    cases: Sequence[tuple[str, str]],
    console: Console,
    on_result: Callable[[ScenarioResult], Any] | None = None,
    stack_config: Mapping[str, Any] | None = None,
) -> list[ScenarioResult]:
    """Run the cases (with ``stack_config`` instead of each scenario's own, if given), calling ``on_result`` as
    each ends; on a terminal, a live line says which one runs."""
    results = []
    for i, (name, mode) in enumerate(cases, 1):
        if is_plain(console):
            result = catalogue_run.run_scenario(name, mode, stack_config=stack_config)
        else:
            with console.status(f"scenario {i}/{len(cases)}: {name} ({mode})"):
                result = catalogue_run.run_scenario(name, mode, stack_config=stack_config)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def result_json(result: ScenarioResult) -> dict[str, Any]:
    """One scenario run as ``--json`` prints it: exactly ``JSON_KEYS`` (and ``LINE_KEYS`` for runs in line)."""
    found = result.figures or {}
    return {
        "scenario": result.name,
        "mode": result.mode,
        "passed": result.passed,
        "problems": list(result.problems),
        **{key: found.get(key) for key in FIGURE_KEYS},
        "fs_cost_usd": scenario_cost(result),
        **{key: found[key] for key in LINE_KEYS if key in found},
    }


def scenario_cost(result: ScenarioResult) -> float | None:
    """What the run's file system cost in USD (``fs_lifetime_s`` at the capacity of the scenario's secret and the
    mode's stack price); None when no file system was deleted."""
    lifetime = (result.figures or {}).get("fs_lifetime_s")
    if lifetime is None:
        return None
    catalogue, _ = load_catalogue()
    with offline_environment(REGION):
        defaults = automation.stack_settings(result.mode).runtime_defaults
        price = fs_cost.stack_price(result.mode)
    params = {**defaults, **catalogue.SCENARIOS[result.name].runtime_params}
    try:
        capacity = int(params["lustreStorageCapacity"])
    except (KeyError, TypeError, ValueError):
        return None
    return pricing.fs_cost_usd(capacity, float(lifetime), price.usd_per_gib_month)


def catalogue_listing(catalogue: ModuleType) -> Listing:
    """Every scenario: name, modes, what is expected, what happens."""
    listing = Listing(
        [Column("name", key=True), Column("modes"), Column("expected"), Column("what happens")],
        title="scenarios (batch-lustre scenarios NAME)",
    )
    for name, entry in catalogue.SCENARIOS.items():
        listing.add_row(
            name,
            ", ".join(entry.modes),
            expected_text(entry.expected_label(entry.modes[0]), entry.expectation(entry.modes[0])),
            entry.description,
        )
    return listing


def expected_text(label: str, expected: Any) -> str:
    """The expected outcome, with the file system kept when it is."""
    return label + (", file system kept" if expected.keeps_file_system else "")


def verdict(result: ScenarioResult) -> Text:
    return Text("pass", style="green") if result.passed else Text("FAIL", style="bold red")


def scenario_listing(results: Sequence[ScenarioResult], *, title: bool = True) -> Listing:
    """One row per scenario run: result, scenario, mode, expected, got, leftovers, transitions."""
    listing = Listing(
        [
            Column("result", key=True),
            Column("scenario", key=True),
            Column("mode", key=True),
            Column("expected"),
            Column("got"),
            Column("leftovers"),
            Column("transitions", justify="right"),
        ],
        title="scenarios on the emulated AWS" if title else None,
    )
    for r in results:
        listing.add_row(
            verdict(r),
            r.name,
            f"({r.mode})",
            expected_text(r.expected_label, r.expected),
            r.got,
            "; ".join(r.leftovers) or "none",
            str(r.transitions),
        )
    return listing


def _show_problems(console: Console, results: Sequence[ScenarioResult]) -> None:
    for r in results:
        for problem in r.problems:
            console.print(Text.assemble((f"{r.name} ({r.mode}): ", "red"), problem))


@dataclass(frozen=True)
class TimelineRow:
    entered: float
    exited: float | None
    states: tuple[str, ...]  # one state, or the states of one turn of a loop
    turns: int  # how many times in a row


def fold_timeline(visits: Sequence[StateVisit]) -> list[TimelineRow]:
    """The timeline with each polling loop's repeated turns folded into one row."""
    names = [v.name for v in visits]
    rows: list[TimelineRow] = []
    i = 0
    while i < len(visits):
        best: tuple[int, int] | None = None  # (turns, length)
        for length in range(2, LONGEST_LOOP + 1):
            block = names[i : i + length]
            if len(block) < length:
                break
            turns = 1
            while names[i + turns * length : i + (turns + 1) * length] == block:
                turns += 1
            if turns >= 2 and (best is None or turns * length > best[0] * best[1]):
                best = (turns, length)
        turns, length = best or (1, 1)
        last = visits[i + turns * length - 1]
        rows.append(TimelineRow(visits[i].entered, last.exited, tuple(names[i : i + length]), turns))
        i += turns * length
    return rows


def show_result(console: Console, result: ScenarioResult, *, verbose: bool = False) -> None:
    """One scenario run: verdict, timeline of states, figures. ``verbose``: the whole Cause."""
    console.print(Text.assemble("\n", (result.name, "bold"), f" ({result.mode}): {result.description}"))
    console.print(
        Text.assemble(
            f"expected {expected_text(result.expected_label, result.expected)}; got {result.got}  ", verdict(result)
        )
    )
    if result.cause:
        console.print(Text(f"Cause: {result.cause if verbose else cause_line(result.cause)}"))
    for problem in result.problems:
        console.print(Text.assemble(("problem: ", "red"), problem))
    console.print(Text("left behind: " + ("; ".join(result.leftovers) or "nothing")))
    for line in result.operator:  # what an operator acting on the stack was told (deploy, refresh, destroy...)
        console.print(Text.assemble(("operator: ", "bold"), line))
    for execution in result.executions:
        show(timeline_listing(execution.name, execution.result.timeline), console)
    if result.run_cleanups:
        show(run_cleanup_listing(result.run_cleanups), console)
    show(figures_listing(result), console)


def timeline_listing(execution_name: str, visits: Sequence[StateVisit]) -> Listing:
    """The states of an execution, polling loops folded, on one clock: emulated time since it started."""
    listing = Listing(
        [Column("at", key=True), Column("state(s)"), Column("until"), Column("turns")],
        title=f"timeline of execution {execution_name} (emulated time since its start)",
    )
    for row in fold_timeline(visits):
        states = row.states[0] if len(row.states) == 1 else " > ".join(row.states)
        listing.add_row(elapsed(row.entered), states, elapsed(row.exited), f"x{row.turns}" if row.turns > 1 else "")
    return listing


def run_cleanup_did(run: RunResult) -> str:
    """What one run-cleanup execution did, in one line: its output (succeeded) or its Cause (failed)."""
    if run.status == "SUCCEEDED":
        return run_cleanup_output.run_cleanup_did(run.output) or json.dumps(run.output)
    return f"{run.error or '-'}: {run.cause or '-'}"


def run_cleanup_listing(runs: Sequence[RunResult]) -> Listing:
    """The run-cleanup executions EventBridge started after the run: status, duration, what they did."""
    listing = Listing(
        [Column("execution", key=True), Column("status"), Column("emulated duration"), Column("what it did")],
        title="run-cleanup executions (started by EventBridge after the run ended without success)",
    )
    for run in runs:
        style = "green" if run.status == "SUCCEEDED" else "bold red"
        listing.add_row(
            run.execution_arn.rsplit(":", 1)[-1],
            Text(run.status, style=style),
            clock(run.emulated_seconds),
            run_cleanup_did(run),
        )
    return listing


# (RunFigures key, label) of the figures table: the file system's billable phases of the run that went ahead.
FIGURE_LABELS = (
    ("fs_lifetime_s", "file system lifetime (create accepted -> delete accepted)"),
    ("fs_available_before_job_s", "  file system AVAILABLE before the job ran"),
    ("association_available_before_job_s", "  association AVAILABLE before the job ran"),
    ("after_job_until_export_requested_s", "  after the job until the export was requested"),
    ("after_export_done_until_delete_requested_s", "  after the export was done until delete requested"),
    ("import_s", "import task of the association (bucket metadata)"),
    ("import_wait_s", "  waited for it after the association was AVAILABLE"),
)


def figures_listing(result: ScenarioResult) -> Listing:
    """The run's figures: the file system's phases, history events, transitions, AWS calls."""
    table = Listing([Column("figure", key=True), Column("value", justify="right")], title="figures")
    found = result.figures or {}
    for key, label in FIGURE_LABELS:
        value = found.get(key)
        table.add_row(label, clock(value) if value is not None else "-")
    if "history_events" in found:
        table.add_row("history events (of the run that went ahead)", str(found["history_events"]))
    for key in LINE_KEYS:
        if key in found:
            table.add_row(key.removesuffix("_s").replace("_", " "), str(found[key]))
    table.add_row("state transitions", str(result.transitions))
    table.add_row("emulated duration", clock(result.emulated_seconds))
    table.add_row("AWS calls", str(sum(result.calls.values())))
    for operation, count in result.calls.items():
        table.add_row(f"  {operation}", str(count))
    cost = scenario_cost(result)
    table.add_row("file system cost (USD, until delete requested)", "-" if cost is None else f"${cost:.2f}")
    lifetime = result.lustre
    if lifetime is None:
        table.add_row("file system lifetime", "no file system")
    else:
        for label, value in (
            (f"file system {lifetime.file_system_id}: creating", lifetime.creating),
            ("  waiting before the job", lifetime.waiting_before_job),
            ("  job", lifetime.job),
            ("  after the job until export done", lifetime.after_job_until_export_done),
            ("  after export until delete requested", lifetime.after_export_until_delete),
            ("  lifetime until delete requested", lifetime.total),
        ):
            table.add_row(label, clock(value))
    return table


def register(app: typer.Typer) -> None:
    app.command("scenarios")(scenarios)
