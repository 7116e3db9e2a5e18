"""``demo``: the whole thing offline, on the emulated AWS of ``emulation/`` (no credentials, no network).

The stack's resources are created in moto, the state machine is the one ``asl`` generates for the
mode, and the run is started and followed by the same code as ``run``. Then: what is in the bucket,
what the run left behind (nothing, when it went well) and the run's figures on the emulated clock.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from asl import build_definition
from batch_lustre import automation
from batch_lustre.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, PollOption, clock, console, fail, one_line_errors
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
from batch_lustre.emulation.environment import offline_environment
from parameters import MODES, check_mode

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


# maxvCpus of the emulated compute environment (emulation.stack.setup_stack's default, and its MAX_VCPUS).
EMULATED_MAX_VCPUS = 256


def deploy_emulated(
    emu: Any,
    mode: str,
    *,
    stack: str | None = None,
    runtime_params: Mapping[str, Any] | None = None,
    secret_string: str | None = None,
    run_cleanup: bool = False,
) -> tuple[Any, dict[str, str]]:
    """What `pulumi up` makes, in the emulation ``emu``: the stack's resources and its state machine.

    Returns the ``emulation.EmulatedStack`` and the stack outputs, as ``stack.py`` exports them.
    ``secret_string`` replaces the secret's whole text (a broken secret). ``run_cleanup``: also the
    run-cleanup state machine and the EventBridge rule that starts it after a run that did not succeed
    (output ``runCleanupStateMachineArn``); its deliveries happen when the emulated clock moves.
    """
    from batch_lustre.emulation import setup_stack

    stack_name = stack or mode
    emulated = setup_stack(
        emu,
        mode,
        stack=stack_name,
        runtime_params=dict(runtime_params or {}),
        secret_string=secret_string,
        max_vcpus=EMULATED_MAX_VCPUS,
    )
    refs = emulated.refs
    sfn = automation.aws_client("stepfunctions", emu.region)
    machine = sfn.create_state_machine(
        name=refs.state_machine_name, roleArn=emulated.role_arn, definition=json.dumps(build_definition(refs))
    )["stateMachineArn"]
    outputs = {
        "mode": mode,
        "stateMachineArn": machine,
        "secretName": emulated.secret_name,
        "bucketName": refs.bucket_name,
        "computeEnvironment": emulated.compute_environment_name,
        "jobQueue": refs.job_queue_arn.rsplit("/", 1)[-1],
    }
    if run_cleanup:
        from batch_lustre.emulation.stack import setup_run_cleanup

        outputs["runCleanupStateMachineArn"] = setup_run_cleanup(emu, emulated).state_machine_arn
    return emulated, outputs


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


@contextmanager
def _emulation(chosen: NamedScenario, region: str) -> Iterator[Any]:
    """The emulated AWS of the scenario (imported here: only the demo needs moto and its patches)."""
    from batch_lustre.emulation import Emulation

    with Emulation(chosen.scenario(), region=region) as emu:
        yield emu


class SteppedEmulatedTime:
    """A clock for a command that polls a stack deployed in the emulation (``acceptance --emulated``).

    ``now`` is the emulated time. Wait states are held (``Emulation.hold_waits``) but during a pause, which lets
    the executions go on for a moment of real time and holds them again: whoever polls sees each run between two
    Waits, as one polling a real run sees it, however fast emulated time runs. A pause then delivers the due
    EventBridge events (the run-cleanup state machine starts), and when no execution runs, lets ``seconds`` of
    emulated time pass, as waiting does. Bounded by ``real_limit_seconds`` of real time (``AutomationError``).
    """

    STEP_SECONDS = 0.05

    def __init__(self, emu: Any, real_limit_seconds: float = 300.0) -> None:
        self.emu = emu
        self.deadline = time.monotonic() + real_limit_seconds
        self.real_limit_seconds = real_limit_seconds
        emu.hold_waits()

    def now(self) -> dt.datetime:
        return self.emu.clock.now()

    def pause(self, seconds: float) -> None:
        if time.monotonic() > self.deadline:
            raise automation.AutomationError(
                f"the emulated runs did not end within {self.real_limit_seconds} real seconds"
            )
        self.emu.release_waits()
        time.sleep(self.STEP_SECONDS)
        self.emu.hold_waits()
        self.emu.events.flush()
        if not self.running():
            self.emu.advance(seconds)

    def running(self) -> list[str]:
        """ARNs of the RUNNING executions of every state machine."""
        sfn = automation.aws_client("stepfunctions", self.emu.region)
        return [
            e["executionArn"]
            for m in sfn.list_state_machines()["stateMachines"]
            for e in sfn.list_executions(stateMachineArn=m["stateMachineArn"], statusFilter="RUNNING")["executions"]
        ]

    def close(self) -> None:
        """Let every held execution go, and stop those still RUNNING: nothing runs on after the emulation."""
        self.emu.release_waits()
        sfn = automation.aws_client("stepfunctions", self.emu.region)
        for arn in self.running():
            sfn.stop_execution(executionArn=arn, error="EmulationOver", cause="the command ended")


@contextmanager
def emulated_account(
    stack: str,
    scenario: str,
    *,
    files: Mapping[str, bytes] | None = None,
    runtime_params: Mapping[str, Any] | None = None,
) -> Iterator[tuple[dict[str, str], Any, str]]:
    """Stack ``stack`` deployed in an emulated AWS, for a command that works on a deployed stack.

    The mode is the stack's (``Pulumi.<stack>.yaml``); the emulated AWS does what ``scenario`` says, its job
    writing ``files`` (relative to /scratch) when given; the secret holds the mode's defaults, then
    ``runtime_params``, then the scenario's own; the run-cleanup state machine is deployed. Yields the stack
    outputs, a ``SteppedEmulatedTime`` and the region; the AWS clients of the region reach the emulation.
    """
    mode = automation.stack_settings(stack).mode
    chosen = choose(scenario, mode)
    behaviour = chosen.scenario()
    if files is not None:
        behaviour.batch.files = dict(files)
    region = "us-east-1"
    with offline_environment(region):
        from batch_lustre.emulation import Emulation

        with Emulation(behaviour, region=region) as emu:
            _, outputs = deploy_emulated(
                emu,
                mode,
                stack=stack,
                runtime_params={**(runtime_params or {}), **chosen.runtime_params},
                secret_string=chosen.secret_string(mode),
                run_cleanup=True,
            )
            clock = SteppedEmulatedTime(emu)
            try:
                yield outputs, clock, region
            finally:
                clock.close()


def show_scenarios() -> None:
    found = catalogue()
    table = Table(title="emulation scenarios (demo --scenario NAME)", title_justify="left")
    for column in ("name", "modes", "expected", "what happens"):
        table.add_column(column, overflow="fold")
    for name in found.scenario_names(single_run_only=True):
        item = found.SCENARIOS[name]
        table.add_row(name, ", ".join(item.modes), item.expected_label(item.modes[0]), item.description)
    console.print(table)


def demo(
    mode: Annotated[str, typer.Option("--mode", "-m", help=f"Workflow variant: {' or '.join(MODES)}.")] = MODES[0],
    scenario: Annotated[str, typer.Option("--scenario", help="What the emulated AWS does (see --list).")] = "success",
    list_scenarios: Annotated[bool, typer.Option("--list", help="List the scenarios and exit.")] = False,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Runtime parameter for this demo run (repeatable), checked as "
            "`params set` checks it, e.g. --set waitForLustreCreationSeconds=120.",
        ),
    ] = None,
    poll_seconds: PollOption = 0.05,
    timeout_seconds: Annotated[
        float, typer.Option("--timeout-seconds", min=1.0, help="Real seconds to wait for the run.")
    ] = 300.0,
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
        show_scenarios()
        return
    with one_line_errors():
        raw = from_flags(
            command=command, env=env, vcpus=vcpus, memory=memory, image_tag=image_tag, array_size=array_size, warm=warm
        )
        chosen = choose(scenario, mode)
        overrides = dict(chosen.runtime_params)
        for text in settings or []:
            key, value = automation.parse_assignment(text)
            overrides[key] = automation.check_assignment(mode, key, value)
        # The flags are checked before anything is emulated, against the emulated compute environment's
        # maxvCpus; the scenario's own input is what the scenario is about (maybe one the workflow refuses).
        execution_input = {**dict(chosen.execution_input), **automation.run_input(raw, EMULATED_MAX_VCPUS)}
    region = "us-east-1"
    with one_line_errors(), offline_environment(region), _emulation(chosen, region) as emu:
        stack, outputs = deploy_emulated(emu, mode, runtime_params=overrides, secret_string=chosen.secret_string(mode))
        refs = stack.refs
        sfn, s3 = automation.aws_client("stepfunctions", region), automation.aws_client("s3", region)
        console.print(
            f"[bold]demo[/] of the {mode} workflow on an emulated AWS, scenario [bold]{scenario}[/]: "
            f"{chosen.description}"
        )
        _show_stack(outputs, overrides)
        if execution_input:
            console.print(f"per-run overrides (execution input): {describe(execution_input)}", soft_wrap=True)
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
        )
        if outcome.status == "RUNNING":
            sfn.stop_execution(
                executionArn=handle.execution_arn,
                error="DemoTimeout",
                cause=f"not ended within {timeout_seconds} real seconds",
            )
            fail(f"the run did not end within --timeout-seconds={timeout_seconds}: stopped it")
        _show_aftermath(emu, stack, handle, started, outcome, chosen.expectation(mode).label)
    if not outcome.succeeded:
        raise typer.Exit(EXIT_FAILED)


def _show_stack(outputs: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    table = Table(title="emulated stack (what `pulumi up` would have made)", title_justify="left")
    table.add_column("output", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in outputs.items():
        table.add_row(name, str(value))
    console.print(table)
    changed = ", ".join(f"{k}={json.dumps(v)}" for k, v in overrides.items()) or "none"
    console.print(
        f"secret {outputs['secretName']}: the mode's runtime parameters at their defaults, except: {changed}",
        soft_wrap=True,
    )


def _show_aftermath(
    emu: Any, stack: Any, handle: automation.RunHandle, started: float, outcome: automation.RunOutcome, expected: str
) -> None:
    from batch_lustre.emulation.runner import leftovers, lustre_lifetime

    left = leftovers(emu, stack, handle.name)
    problems = [f"file system {fs} ({state})" for fs, state in left.file_systems]
    problems += [f"launch template {t}" for t in left.launch_templates]
    problems += [f"job definition {d.rsplit('/', 1)[-1]}" for d in left.active_job_definitions]
    problems += [f"job {j} not ended" for j in left.unfinished_jobs]
    if not left.compute_environment_restored:
        problems.append(f"compute environment still on launch template {left.compute_environment_launch_template}")
    if problems:
        console.print(
            "[yellow]left behind:[/] "
            + "; ".join(problems)
            + "  (`batch-lustre sweep` finds and deletes per-run leftovers)",
            soft_wrap=True,
        )
    else:
        console.print(
            "[green]nothing left behind:[/] no file system, launch template, job definition or running job; "
            "the compute environment is back on its baseline launch template"
        )

    figures = Table(title="the run's figures (emulated time)", title_justify="left")
    figures.add_column("figure", style="bold")
    figures.add_column("value", justify="right")
    figures.add_row("run duration", clock(emu.now() - started))
    figures.add_row("states entered", str(outcome.states_entered))
    calls = emu.calls.counts(handle.execution_arn)
    figures.add_row("AWS calls by the state machine", str(sum(calls.values())))
    lifetime = lustre_lifetime(emu, started)
    if lifetime is not None:
        for label, value in (
            ("file system creating", lifetime.creating),
            ("  then waiting for the job", lifetime.waiting_before_job),
            ("  job running", lifetime.job),
            ("  job end until export done", lifetime.after_job_until_export_done),
            ("  export done until delete", lifetime.after_export_until_delete),
            ("file system lifetime", lifetime.total),
        ):
            figures.add_row(label, clock(value) if value is not None else "-")
    console.print(figures)
    console.print("calls: " + ", ".join(f"{op} x{n}" for op, n in calls.items()), soft_wrap=True)
    got = outcome.status + (f": {outcome.error}" if outcome.error else "")
    matches = got == expected
    console.print(
        f"scenario expected {expected}; the run ended {got}" + ("" if matches else "  [bold red](not as expected)[/]")
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
