"""The stacks of the Pulumi program, through the Automation API: their config and settings, deploy, preview,
refresh, destroy (the last three refused during a run: ``guard``; a deploy that would move the stack off an ECR
repository holding images refused too: ``repository_guard``), and their outputs (from Pulumi, or from a ``pulumi stack output --json`` file).

Every operation takes ``work_dir``, the project directory (``Pulumi.yaml``, ``Pulumi.<stack>.yaml``,
``__main__.py``); by default the one ``batch_lustre.project`` finds when the operation runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from batch_lustre.automation.boundary import operation
from batch_lustre.automation.errors import MissingOutput, PulumiCliMissing, PulumiCommandFailed, UnknownStack, one_line
from batch_lustre.automation.guard import (
    DEFAULT_POLL_SECONDS,
    RunningExecution,
    TimeSource,
    check_no_run,
    running_runs,
    stack_state_machines,
)
from batch_lustre.automation.pulumi_cli import INSTALL_HINT, check_pulumi_cli
from batch_lustre.automation.repository_guard import RepositoryChange, check_repository_change
from batch_lustre.automation.teardown import BUCKET, REPOSITORY, Blocker, TeardownClients, check_destroy
from batch_lustre.program.asl.naming import OUTPUT_BUCKET_NAME, OUTPUT_SECRET_NAME, OUTPUT_STATE_MACHINE_ARN
from batch_lustre.program.settings import (
    REGION_KEY,
    Settings,
    check_identity,
    check_stack_names,
    load_stack_config,
    settings_from_config,
    stack_identity,
)
from batch_lustre.project import find_project_dir

# Stack outputs the run and parameter operations need (stack.py exports them).
REQUIRED_OUTPUTS = (OUTPUT_STATE_MACHINE_ARN, OUTPUT_SECRET_NAME, OUTPUT_BUCKET_NAME)


@operation
def project_root() -> Path:
    """The project directory, looked up now (``$BATCH_LUSTRE_PROJECT_DIR`` first; the current directory if none)."""
    return find_project_dir() or Path.cwd()


# The project directory found on import; the operations look it up again each time (``work_dir=None``).
ROOT = project_root()


def _work_dir(work_dir: Path | None) -> Path:
    return Path(work_dir) if work_dir is not None else project_root()


# --- stacks and their config -----------------------------------------------------------------------


@operation
def known_stacks(work_dir: Path | None = None) -> list[str]:
    """Stacks of this project: one per ``Pulumi.<stack>.yaml`` in ``work_dir``."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in _work_dir(work_dir).glob("Pulumi.*.yaml"))


@operation
def check_stack(stack: str, work_dir: Path | None = None) -> None:
    """Raise ``UnknownStack`` unless ``stack`` has a ``Pulumi.<stack>.yaml`` in ``work_dir``."""
    root = _work_dir(work_dir)
    stacks = known_stacks(root)
    if stack not in stacks:
        raise UnknownStack(
            f"stack {stack!r} is not accepted: accepted {', '.join(stacks) or 'none'} "
            f"(a stack needs a Pulumi.<stack>.yaml in {root})"
        )


@operation
def stack_config(stack: str, work_dir: Path | None = None) -> dict[str, str]:
    """``Pulumi.<stack>.yaml``'s config as Pulumi hands it to the program (full keys, string values)."""
    root = _work_dir(work_dir)
    check_stack(stack, root)
    return load_stack_config(stack, root)


@operation
def stack_settings(stack: str, work_dir: Path | None = None) -> Settings:
    """The stack's validated settings, read from ``Pulumi.<stack>.yaml`` as the program reads them
    (``settings.settings_from_config``); ``ParameterError`` (one line) for a refused value."""
    settings = settings_from_config(stack_config(stack, work_dir), source=f"Pulumi.{stack}.yaml")
    check_stack_names(settings, stack)
    return settings


@operation
def stack_region(stack: str, work_dir: Path | None = None) -> str | None:
    """The stack's ``aws:region`` (None: boto3's default applies)."""
    return stack_config(stack, work_dir).get(REGION_KEY)


# --- Pulumi ----------------------------------------------------------------------------------------


@operation
def pulumi_stack(stack: str, *, create: bool = False, work_dir: Path | None = None) -> Any:
    """The Automation API stack ``stack`` of the program in ``work_dir`` (created if ``create``)."""
    root = _work_dir(work_dir)
    check_stack(stack, root)
    check_pulumi_cli()
    from pulumi import automation as auto

    if create:
        return _pulumi_call(
            "stack select", stack, lambda: auto.create_or_select_stack(stack_name=stack, work_dir=str(root))
        )
    return _pulumi_call("stack select", stack, lambda: auto.select_stack(stack_name=stack, work_dir=str(root)))


def _command_failed(command: str, stack: str, err: Exception) -> PulumiCommandFailed:
    """One line from a failed pulumi command: its exit code and its last ``error:`` line (or last line)."""
    text = str(err)  # CommandError holds "code: N / stdout: ... / stderr: ..."
    code = re.search(r"code: (-?\d+)", text)
    stdout, _, stderr = text.partition(" stderr: ")
    lines = [line.strip() for line in (stderr + "\n" + stdout.partition(" stdout: ")[2]).splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error")]
    detail = (errors or lines or ["no output"])[-1]
    return PulumiCommandFailed(
        f"pulumi {command} of stack {stack} failed (exit code {code.group(1) if code else '?'}): {one_line(detail)}"
    )


def _pulumi_call(command: str, stack: str, action: Callable[[], Any]) -> Any:
    """``action()``, a call of the pulumi CLI, with its failures as one-line ``AutomationError``s."""
    from pulumi import automation as auto

    try:
        return action()
    except FileNotFoundError as err:  # the CLI vanished after the PATH check
        raise PulumiCliMissing(f"the pulumi CLI could not be run ({err}): {INSTALL_HINT}") from None
    except auto.errors.StackNotFoundError:
        raise UnknownStack(
            f"stack {stack!r} has not been deployed: deploy it first (batch-lustre deploy {stack})"
        ) from None
    except auto.errors.CommandError as err:
        raise _command_failed(command, stack, err) from None


def _plain_outputs(output_map: Mapping[str, Any]) -> dict[str, Any]:
    return {name: getattr(value, "value", value) for name, value in output_map.items()}


@operation
def guard_stack(
    stack: str,
    action: str,
    *,
    work_dir: Path | None = None,
    wait_minutes: int | None = None,
    force: bool = False,
    sfn: Any | None = None,
    time_source: TimeSource | None = None,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    on_wait: Callable[[str], Any] | None = None,
) -> list[RunningExecution]:
    """``guard.check_no_run`` for ``action`` of ``stack``, with the outputs of the deployed stack (a stack not
    deployed yet has no run: []). ``deploy``, ``refresh`` and ``destroy`` make this check themselves; a tool
    that asks its user before it acts (``batch-lustre deploy``) makes it first too."""
    try:
        pulumi = pulumi_stack(stack, work_dir=work_dir)
    except UnknownStack:
        check_no_run(stack, action, {}, wait_minutes=wait_minutes)  # the value is still checked
        return []
    return _guarded(pulumi, stack, action, locals(), on_wait)[0]


def _guarded(
    pulumi: Any, stack: str, action: str, given: Mapping[str, Any], on_wait: Callable[[str], Any] | None
) -> tuple[list[RunningExecution], dict[str, Any]]:
    """``guard.check_no_run`` for ``action`` of the stack, with its outputs as the deployed stack has them; returns
    what it went ahead under and those outputs. For a deploy, first the program's own refusal of a change of the
    stack's identity (``settings.check_identity``: ``ParameterError``), so that it comes before any preview or
    question."""
    found = _plain_outputs(_pulumi_call("stack output", stack, pulumi.outputs))
    if action == "deploy":
        work_dir = given["work_dir"]
        check_identity(stack, found, stack_identity(stack_settings(stack, work_dir), stack_config(stack, work_dir)))
    keys = ("wait_minutes", "force", "sfn", "time_source", "poll_seconds")
    return check_no_run(stack, action, found, on_wait=on_wait, **{key: given[key] for key in keys}), found


@operation
def repository_check(
    stack: str, *, force: bool = False, work_dir: Path | None = None, ecr: Any | None = None
) -> RepositoryChange | None:
    """``repository_guard.check_repository_change`` for a deploy of ``stack``: its stack config against the
    deployed stack's outputs (a stack not deployed yet: None). ``deploy`` makes this check itself; a tool that asks
    its user before it acts (``batch-lustre deploy``) makes it first too."""
    settings = stack_settings(stack, work_dir)
    try:
        pulumi = pulumi_stack(stack, work_dir=work_dir)
    except UnknownStack:
        return None
    found = _plain_outputs(_pulumi_call("stack output", stack, pulumi.outputs))
    return check_repository_change(stack, settings, found, force=force, ecr=ecr)


@operation
def deploy(
    stack: str,
    *,
    on_output: Callable[[str], Any] | None = None,
    work_dir: Path | None = None,
    wait_minutes: int | None = None,
    force: bool = False,
    sfn: Any | None = None,
    time_source: TimeSource | None = None,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    ecr: Any | None = None,
) -> dict[str, Any]:
    """``pulumi up`` of ``stack`` (created if new); returns the stack outputs. Output lines go to ``on_output``.

    Refused (``StackBusy``, naming the run) while a run of the stack is RUNNING, unless ``wait_minutes`` (1 to
    ``guard.MAX_WAIT_MINUTES``: wait for the runs to end, looking every ``poll_seconds`` with ``sfn``, timed by
    ``time_source``) or ``force`` (deploy anyway). See ``guard``. Then refused (``RepositoryHoldsImages``, naming
    both repositories and how to move the images) when the stack config names another ECR repository than the
    deployed one while that one holds images (read with ``ecr``), unless ``force``. See ``repository_guard``.

    A stack config the program would refuse raises its ``ParameterError`` first, before any Pulumi call; a change
    of the deployed stack's ``envName``, ``mode`` or ``aws:region`` raises it before ``pulumi up``.
    """
    settings = stack_settings(stack, work_dir)
    pulumi = pulumi_stack(stack, create=True, work_dir=work_dir)
    _, found = _guarded(pulumi, stack, "deploy", locals(), on_output)
    check_repository_change(stack, settings, found, force=force, ecr=ecr)
    result = _pulumi_call("up", stack, lambda: pulumi.up(on_output=on_output))
    return _plain_outputs(result.outputs)


@operation
def refresh(
    stack: str,
    *,
    on_output: Callable[[str], Any] | None = None,
    work_dir: Path | None = None,
    wait_minutes: int | None = None,
    force: bool = False,
    sfn: Any | None = None,
    time_source: TimeSource | None = None,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
) -> dict[str, int]:
    """``pulumi refresh`` of ``stack`` (read the resources' actual state into Pulumi's state); returns the
    changes it recorded (``{"update": 1}``). Guarded as ``deploy`` is (``wait_minutes``, ``force``)."""
    pulumi = pulumi_stack(stack, work_dir=work_dir)
    _guarded(pulumi, stack, "refresh", locals(), on_output)
    result = _pulumi_call("refresh", stack, lambda: pulumi.refresh(on_output=on_output))
    return dict(result.summary.resource_changes or {})


@operation
def preview(
    stack: str, *, on_output: Callable[[str], Any] | None = None, work_dir: Path | None = None
) -> dict[str, int]:
    """``pulumi preview`` of ``stack``; returns the planned changes per operation (``{"create": 40}``). A stack
    config the program would refuse raises its ``ParameterError`` first, before any Pulumi call."""
    stack_settings(stack, work_dir)
    pulumi = pulumi_stack(stack, create=True, work_dir=work_dir)
    result = _pulumi_call("preview", stack, lambda: pulumi.preview(on_output=on_output))
    return {str(getattr(op, "value", op)): count for op, count in (result.change_summary or {}).items()}


@operation
def destroy_check(
    stack: str,
    *,
    force: bool = False,
    work_dir: Path | None = None,
    sfn: Any | None = None,
    teardown_clients: TeardownClients | None = None,
) -> list[Blocker]:
    """What a destroy of the deployed ``stack`` would leave billing or fail on (``teardown.check_destroy``: its file
    systems, the images in its repository, the objects in its bucket): ``DestroyBlocked``, one line naming each
    with its next step, unless ``force`` (then they are returned). ``destroy`` makes this check itself; a tool
    that asks its user before it acts (``batch-lustre destroy``) makes it first too."""
    pulumi = pulumi_stack(stack, work_dir=work_dir)
    return _teardown(pulumi, stack, force=force, work_dir=work_dir, sfn=sfn, clients=teardown_clients)


def _teardown(
    pulumi: Any,
    stack: str,
    *,
    force: bool,
    work_dir: Path | None,
    sfn: Any | None,
    clients: TeardownClients | None,
) -> list[Blocker]:
    found = _plain_outputs(_pulumi_call("stack output", stack, pulumi.outputs))
    running = {run.name for run in running_runs(stack_state_machines(found), sfn=sfn)}
    clients = clients or TeardownClients.for_region(stack_region(stack, work_dir))
    config = stack_settings(stack, work_dir)
    protected = {BUCKET: config.protect_bucket, REPOSITORY: config.protect_repository}
    return check_destroy(stack, found, clients, force=force, running=running, protected=protected)


@operation
def destroy(
    stack: str,
    *,
    on_output: Callable[[str], Any] | None = None,
    work_dir: Path | None = None,
    wait_minutes: int | None = None,
    force: bool = False,
    sfn: Any | None = None,
    time_source: TimeSource | None = None,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    teardown_clients: TeardownClients | None = None,
) -> dict[str, int]:
    """``pulumi destroy`` of ``stack``; returns the changes made (``{"delete": 40}``). Guarded as ``deploy`` is
    (``wait_minutes``, ``force``): a destroy under a run would orphan its file system. Then refused
    (``DestroyBlocked``) while it would leave a file system of the stack billing or fail on images in the
    repository or objects in the bucket (``destroy_check``), unless ``force``."""
    pulumi = pulumi_stack(stack, work_dir=work_dir)
    _guarded(pulumi, stack, "destroy", locals(), on_output)
    _teardown(pulumi, stack, force=force, work_dir=work_dir, sfn=sfn, clients=teardown_clients)
    result = _pulumi_call("destroy", stack, lambda: pulumi.destroy(on_output=on_output))
    return dict(result.summary.resource_changes or {})


@operation
def outputs(stack: str, *, work_dir: Path | None = None) -> dict[str, Any]:
    """The stack outputs of ``stack`` (``pulumi stack output``), secrets in plain text."""
    pulumi = pulumi_stack(stack, work_dir=work_dir)
    return _plain_outputs(_pulumi_call("stack output", stack, pulumi.outputs))


@operation
def load_outputs(stack: str, outputs_file: Path | None = None, *, work_dir: Path | None = None) -> dict[str, Any]:
    """Stack outputs from ``outputs_file`` (JSON, as ``pulumi stack output --json`` writes) or from Pulumi."""
    check_stack(stack, work_dir)
    if outputs_file is None:
        return outputs(stack, work_dir=work_dir)
    try:
        loaded = json.loads(Path(outputs_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise MissingOutput(
            f"outputs file {outputs_file} is not accepted ({one_line(str(err))}): accepted "
            "a JSON object as `pulumi stack output --json` writes it"
        ) from None
    if not isinstance(loaded, dict):
        raise MissingOutput(f"outputs file {outputs_file} is not accepted: accepted a JSON object of stack outputs")
    return loaded


@operation
def required_output(stack_outputs: Mapping[str, Any], name: str, stack: str) -> str:
    """``stack_outputs[name]`` as a string, or ``MissingOutput`` naming it."""
    value = stack_outputs.get(name)
    if not isinstance(value, str) or not value:
        raise MissingOutput(
            f"stack {stack} has no output {name}: accepted outputs of a deployed stack "
            f"({', '.join(REQUIRED_OUTPUTS)}); has it been deployed?"
        )
    return value
