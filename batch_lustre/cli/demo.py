"""``demo``: the whole thing offline, on the emulated AWS of ``emulation/`` (no credentials, no network).

The stack's resources are created in moto, the state machine is the one ``asl`` generates for the
mode, and the run is started and followed by the same code as ``run``. Then: what is in the bucket,
what the run left behind (nothing, when it went well) and the run's figures on the emulated clock.

The emulated stack is the mode's ``Pulumi.<mode>.yaml``: its compute environment has that file's
computeEnvironmentMaxvCpus, and ``--set`` is checked as ``params set`` checks an edit of its secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from batch_lustre import automation
from batch_lustre.automation.emulated import stack_max_vcpus
from batch_lustre.cli import fs_cost
from batch_lustre.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    JsonOption,
    PollOption,
    VerboseOption,
    clock,
    fail,
    is_plain,
    one_line_errors,
    out,
    print_json,
    progress_console,
)
from batch_lustre.cli.listing import Column, Listing, show
from batch_lustre.cli.overrides import (
    ArraySizeOption,
    CommandOption,
    EnvOption,
    ImageTagOption,
    MemoryOption,
    VcpusOption,
    WarmOption,
    describe,
    from_flags,
)
from batch_lustre.cli.progress import follow_and_report
from batch_lustre.cli.wrap import pack
from batch_lustre.emulation.environment import offline_environment
from batch_lustre.program.asl import naming
from batch_lustre.program.parameters import MODES, ParameterError, check_mode, parameters_for, validate_runtime

if TYPE_CHECKING:
    from batch_lustre.emulation.catalogue import NamedScenario


def catalogue() -> ModuleType:
    """``emulation.catalogue``, imported only when a scenario is chosen.

    The emulation imports moto, which cannot even be imported while AWS_PROFILE names a profile this
    machine lacks: import it offline.
    """
    with offline_environment("us-east-1"):
        from batch_lustre.emulation import catalogue as module
    return module


def choose(name: str, mode: str) -> NamedScenario:
    """The scenario ``name`` for ``mode``; ``typer.Exit`` with a one-line error otherwise."""
    check_mode(mode)
    found = catalogue()
    accepted = ", ".join(found.scenario_names(mode, single_run_only=True))
    if name not in found.SCENARIOS:
        fail(f"--scenario={name!r} is not accepted: accepted {accepted}", EXIT_BAD_INPUT)
    chosen = found.SCENARIOS[name]
    if mode not in chosen.modes:
        fail(f"--scenario={name!r} is not accepted with --mode={mode}: accepted {accepted}", EXIT_BAD_INPUT)
    if chosen.runs != found.SINGLE:
        fail(
            f"--scenario={name!r} starts two runs, which the demo does not show: run `batch-lustre scenarios {name}`",
            EXIT_BAD_INPUT,
        )
    return chosen


def scenario_listing(found: ModuleType) -> Listing:
    """The single-run scenarios the demo can show: name, modes, what is expected, what happens."""
    listing = Listing(
        [Column("name", key=True), Column("modes"), Column("expected"), Column("what happens")],
        title="emulation scenarios (demo --scenario NAME)",
    )
    for name in found.scenario_names(single_run_only=True):
        item = found.SCENARIOS[name]
        listing.add_row(name, ", ".join(item.modes), item.expected_label(item.modes[0]), item.description)
    return listing


def check_settings(
    mode: str, assignments: Sequence[str], scenario_params: Mapping[str, Any], max_vcpus: int
) -> dict[str, Any]:
    """``--set KEY=VALUE`` typed, checked as ``params set`` checks an edit of the secret, before anything runs.

    ``automation.check_assignments``, the check of ``params set``: each key and value, then the whole secret the
    demo would write (the mode's defaults, the scenario's own values, these): the cross-field rules and
    jobDefinitionVcpus at most ``max_vcpus``. A scenario whose own secret is refused on purpose (``invalid-*``)
    is checked on the mode's defaults instead. ``ParameterError`` (one line) for the first refusal.
    """
    wanted = dict(automation.parse_assignment(text) for text in assignments)
    defaults = {p.name: p.defaults[mode] for p in parameters_for(mode, runtime=True)}
    base = {**defaults, **scenario_params}
    try:
        validate_runtime(base, mode, max_vcpus)
    except ParameterError:
        base = defaults  # the scenario is about a refused secret: --set is checked on the defaults
    return automation.check_assignments(mode, wanted, max_vcpus=max_vcpus, current=base)


@dataclass
class Aftermath:
    """What a demo run left and what it took: the end of the demo's report (and of its JSON)."""

    left_behind: list[str]
    calls: dict[str, int]  # AWS calls of the state machine by operation
    duration_s: float  # emulated
    lifetime: dict[str, float | None] = field(default_factory=dict)  # the file system's phases (PHASE_LABELS)


def aftermath(emu: Any, stack: Any, handle: automation.RunHandle, started: float) -> Aftermath:
    """Leftovers, AWS calls and the file system's phases of the demo's run, from the emulation."""
    from batch_lustre.emulation.runner import leftovers, lustre_lifetime

    left = leftovers(emu, stack, handle.name)
    problems = [f"file system {fs} ({state})" for fs, state in left.file_systems]
    problems += [f"launch template {t}" for t in left.launch_templates]
    problems += [f"job definition {d.rsplit('/', 1)[-1]}" for d in left.active_job_definitions]
    problems += [f"job {j} not ended" for j in left.unfinished_jobs]
    if not left.compute_environment_restored:
        problems.append(f"compute environment still on launch template {left.compute_environment_launch_template}")
    lifetime = lustre_lifetime(emu, started)
    phases: dict[str, float | None] = {}
    if lifetime is not None:
        phases = {
            "creating_s": lifetime.creating,
            "waiting_before_job_s": lifetime.waiting_before_job,
            "job_s": lifetime.job,
            "after_job_until_export_done_s": lifetime.after_job_until_export_done,
            "after_export_until_delete_s": lifetime.after_export_until_delete,
            "lifetime_s": lifetime.total,
        }
    return Aftermath(problems, dict(emu.calls.counts(handle.execution_arn)), emu.now() - started, phases)


PHASE_LABELS = (
    ("creating_s", "file system creating"),
    ("waiting_before_job_s", "  then waiting for the job"),
    ("job_s", "  job running"),
    ("after_job_until_export_done_s", "  job end until export done"),
    ("after_export_until_delete_s", "  export done until delete"),
    ("lifetime_s", "file system lifetime"),
)


def show_aftermath(
    console: Console,
    after: Aftermath,
    outcome: automation.RunOutcome,
    expected: str,
    use: fs_cost.FileSystemUse | None = None,
) -> None:
    if after.left_behind:
        console.print(
            Text.assemble(
                ("left behind: ", "yellow"),
                "; ".join(after.left_behind) + "  (`batch-lustre sweep` finds and deletes per-run leftovers)",
            )
        )
    else:
        console.print(
            "[green]nothing left behind:[/] no file system, launch template, job definition or running job; "
            "the compute environment is back on its baseline launch template"
        )
    figures = Listing(
        [Column("figure", key=True), Column("value", justify="right")], "the run's figures (emulated time)"
    )
    figures.add_row("run duration", clock(after.duration_s))
    figures.add_row("states entered", str(outcome.states_entered))
    figures.add_row("AWS calls by the state machine", str(sum(after.calls.values())))
    for key, label in PHASE_LABELS:
        if key in after.lifetime:
            value = after.lifetime[key]
            figures.add_row(label, clock(value) if value is not None else "-")
    if use is not None:
        figures.add_row("file system cost (USD)", f"${use.usd:.2f}")
    show(figures, console)
    if use is not None:
        console.print(Text(use.line()))
    # Each call and its count stay together on a line: the list breaks between calls only.
    calls = [f"{op} x{n}" for op, n in after.calls.items()]
    for line in ["calls: " + ", ".join(calls)] if is_plain(console) else pack("calls:", calls, console.width):
        console.print(Text(line), soft_wrap=True)
    got = outcome.status + (f": {outcome.error}" if outcome.error else "")
    matches = got == expected
    console.print(
        f"scenario expected {expected}; the run ended {got}" + ("" if matches else "  [bold red](not as expected)[/]")
    )


# ``demo --json``: these keys, in this order (documented in the README).
DEMO_JSON_KEYS = (
    "scenario",
    "mode",
    "run",
    "status",
    "error",
    "cause",
    "expected",
    "as_expected",
    "duration_s",
    "states_entered",
    "file_system_id",
    "exported",
    "left_behind",
    "aws_calls",
    "file_system_phases_s",
    "settings",
    "execution_input",
    "fs_cost_usd",
)


def demo_json(
    scenario: str,
    mode: str,
    outcome: automation.RunOutcome,
    expected: str,
    after: Aftermath,
    exported: list[automation.StoredObject],
    settings: Mapping[str, Any],
    execution_input: Mapping[str, Any],
    use: fs_cost.FileSystemUse | None = None,
) -> dict[str, Any]:
    """The demo's run as ``demo --json`` prints it: exactly ``DEMO_JSON_KEYS``."""
    got = outcome.status + (f": {outcome.error}" if outcome.error else "")
    return {
        "scenario": scenario,
        "mode": mode,
        "run": outcome.name,
        "status": outcome.status,
        "error": outcome.error,
        "cause": outcome.cause,
        "expected": expected,
        "as_expected": got == expected,
        "duration_s": after.duration_s,
        "states_entered": outcome.states_entered,
        "file_system_id": outcome.file_system_id,
        "exported": [{"key": o.key, "bytes": o.size} for o in exported],
        "left_behind": list(after.left_behind),
        "aws_calls": dict(after.calls),
        "file_system_phases_s": {key.removesuffix("_s"): value for key, value in after.lifetime.items()} or None,
        "settings": dict(settings),
        "execution_input": dict(execution_input),
        "fs_cost_usd": use.usd if use is not None else None,
    }


def demo(
    mode: Annotated[str, typer.Option("--mode", "-m", help=f"Workflow variant: {' or '.join(MODES)}.")] = MODES[0],
    scenario: Annotated[str, typer.Option("--scenario", help="What the emulated AWS does (see --list).")] = "success",
    list_scenarios: Annotated[bool, typer.Option("--list", help="List the scenarios and exit.")] = False,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Runtime parameter for this demo run (repeatable), checked as `params set` checks it, before "
            "anything runs: the key and value, the rules between parameters, and jobDefinitionVcpus at most the "
            "stack's computeEnvironmentMaxvCpus (Pulumi.<mode>.yaml). E.g. --set waitForLustreCreationSeconds=120.",
        ),
    ] = None,
    poll_seconds: PollOption = 0.05,
    timeout_seconds: Annotated[
        float, typer.Option("--timeout-seconds", min=1.0, help="Real seconds to wait for the run.")
    ] = 300.0,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    command: CommandOption = None,
    env: EnvOption = None,
    vcpus: VcpusOption = None,
    memory: MemoryOption = None,
    image_tag: ImageTagOption = None,
    array_size: ArraySizeOption = None,
    warm: WarmOption = None,
) -> None:
    """Run the workflow end to end on an emulated AWS: no credentials, no network. Exit code 0 only if it SUCCEEDED.

    The per-run override flags are those of `batch-lustre run`: they become the run's execution input and go
    through the workflow as on AWS (the emulated job does not run a container: it writes the scenario's files
    whatever its command).
    """
    if list_scenarios:
        found = catalogue()
        if as_json:
            print_json(
                [
                    {"name": n, "modes": list(found.SCENARIOS[n].modes), "description": found.SCENARIOS[n].description}
                    for n in found.scenario_names(single_run_only=True)
                ]
            )
        else:
            show(scenario_listing(found), out())
        return
    with one_line_errors():
        raw = from_flags(
            command=command, env=env, vcpus=vcpus, memory=memory, image_tag=image_tag, array_size=array_size, warm=warm
        )
        chosen = choose(scenario, mode)
        max_vcpus = stack_max_vcpus(mode)
        overrides = {
            **dict(chosen.runtime_params),
            **check_settings(mode, settings or [], chosen.runtime_params, max_vcpus),
        }
        # The flags are checked before anything is emulated, against the emulated compute environment's
        # maxvCpus; the scenario's own input is what the scenario is about (maybe one the workflow refuses).
        from_flags_input = automation.run_input(raw, max_vcpus)
        execution_input = {**dict(chosen.execution_input), **from_flags_input}
        # The user pushed the scenario's images, and the one --image-tag names.
        pushed = tuple(dict.fromkeys((*chosen.job_image_tags, *filter(None, [from_flags_input.get("imageTag")]))))
    console = progress_console(as_json)
    region = "us-east-1"
    with (
        one_line_errors(),
        automation.emulated(
            mode,
            scenario=chosen.scenario(),
            runtime_params=overrides,
            secret_string=chosen.secret_string(mode),
            stack_config=chosen.stack_config,
            job_image_tags=pushed,
        ) as deployed,
    ):
        emu, stack, outputs = deployed.emulation, deployed.resources, deployed.outputs
        refs = stack.refs
        sfn, s3 = automation.aws_client("stepfunctions", region), automation.aws_client("s3", region)
        console.print(
            f"[bold]demo[/] of the {mode} workflow on an emulated AWS, scenario [bold]{scenario}[/]: "
            f"{chosen.description}"
        )
        assert stack.deployment is not None  # automation.emulated runs the Pulumi program
        console.print(f"deployed the Pulumi program of stack {mode} (as pulumi up would): {stack.deployment.summary()}")
        _show_stack(console, outputs, overrides)
        if execution_input:
            console.print(f"per-run overrides (execution input): {describe(execution_input)}")
        started = emu.now()
        handle = automation.start_run(
            mode, stack_outputs=outputs, sfn=sfn, overrides=execution_input, check_overrides=False
        )
        outcome = follow_and_report(
            console,
            handle,
            sfn=sfn,
            s3=s3,
            bucket=refs.bucket_name,
            poll_seconds=poll_seconds,
            now=None,
            timeout_seconds=timeout_seconds,
            verbose=verbose,
        )
        if outcome.status == "RUNNING":
            sfn.stop_execution(
                executionArn=handle.execution_arn,
                error="DemoTimeout",
                cause=f"not ended within {timeout_seconds} real seconds",
            )
            fail(f"the run did not end within --timeout-seconds={timeout_seconds}: stopped it")
        after = aftermath(emu, stack, handle, started)
        use = fs_cost.run_use(handle.execution_arn, sfn, fs_cost.stack_price(mode))
        expected = chosen.expectation(mode).label
        if as_json:
            exported = automation.objects_since(refs.bucket_name, outcome.started_at, s3=s3)
            print_json(demo_json(scenario, mode, outcome, expected, after, exported, overrides, execution_input, use))
        else:
            show_aftermath(console, after, outcome, expected, use)
            show_next_steps(console, mode, scenario)
    if not outcome.succeeded:
        raise typer.Exit(EXIT_FAILED)


def next_steps(mode: str, scenario: str) -> Listing:
    """What to try after a demo: the other mode or a scenario, the whole catalogue, the picture, a real stack."""
    other = next(m for m in MODES if m != mode)
    steps = Listing([Column("command", key=True), Column("what it shows")], title="what to try next")
    if scenario == "success":
        steps.add_row(f"batch-lustre demo --mode {other}", "the same run in the other mode")
        steps.add_row("batch-lustre demo --list", "runs where something goes wrong: then demo --scenario NAME")
    else:
        steps.add_row("batch-lustre demo --list", "the other scenarios: then demo --scenario NAME")
    steps.add_row("batch-lustre scenarios", "every scenario in both modes, each judged pass or FAIL")
    steps.add_row(f"batch-lustre graph --mode {mode}", f"the workflow drawn as a picture (workflow-{mode}.svg)")
    steps.add_row(
        f"batch-lustre deploy -s {mode}", "the stack on your AWS account (needs the Pulumi CLI and credentials)"
    )
    return steps


def show_next_steps(console: Console, mode: str, scenario: str) -> None:
    show(next_steps(mode, scenario), console)


def _show_stack(console: Console, outputs: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    listing = Listing(
        [Column("output", key=True), Column("value")], title="emulated stack (what `pulumi up` would have made)"
    )
    for name, value in outputs.items():
        listing.add_row(name, str(value))
    show(listing, console)
    changed = ", ".join(f"{k}={json.dumps(v)}" for k, v in overrides.items()) or "none"
    console.print(
        Text(
            f"secret {outputs[naming.OUTPUT_SECRET_NAME]}: the mode's runtime parameters at their defaults, except: {changed}"
        )
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
