"""Automation API of batch-lustre, for other tools: the stack through Pulumi, the workflow's runs through AWS.

    from batch_lustre import automation

    automation.deploy("taskexport")                    # pulumi up, returns the stack outputs
    outcome = automation.run("taskexport")             # start a run and wait; RunFailed if it fails
    print(outcome.file_system_id, outcome.duration)

Stack operations (``deploy``, ``preview``, ``destroy``, ``outputs``) run the Pulumi program of this
repository (the one ``__main__.py`` runs) through the Automation API: a ``LocalWorkspace`` whose
work dir is the repository root and whose stack is the one named. They need the ``pulumi`` CLI on
PATH (``PulumiCliMissing`` otherwise).

Run operations (``start_run``, ``follow_run``, ``wait_for_run``, ``run``, ``list_runs``) and the
runtime parameters (``read_parameters``, ``update_parameters``) use boto3 against the resources named
by the stack outputs (from Pulumi, or from a ``pulumi stack output --json`` file: ``outputs_file``).

Per-run overrides (docs/workflow-v2.md, "Execution input"): ``start_run`` and ``run`` take
``overrides``, a mapping with any of the keys ``command`` (list of strings), ``environment`` (name ->
value), ``vcpus``, ``memory`` (MiB), ``imageTag``, ``arraySize``, ``warmComputeCapacity``; they become
the execution input, checked first by ``parameters.validate_overrides`` exactly as the workflow's
ExtractParameters checks them (a refused one raises ``ParameterError`` and starts nothing):

    automation.run("taskexport", overrides={"command": ["python", "sim.py", "--steps", "10"],
                                            "environment": {"STEPS": "10"}, "vcpus": 4, "memory": 8192})

``run_input`` is that check alone; ``compute_environment_max_vcpus`` the bound it checks ``vcpus`` against;
``execution_input`` reads what a run was started with; ``run_cleanup_of`` finds the run-cleanup execution
EventBridge started after a run that did not succeed.

Every function raises an ``AutomationError`` subclass (or ``parameters.ParameterError`` for a refused
value) whose message is one line saying what was wrong and what is accepted; nothing is printed.
The project directory is found by ``batch_lustre.project`` (``BATCH_LUSTRE_PROJECT_DIR`` points at another checkout).

The execution history (``GetExecutionHistory``) is the source of every run's progress and outcome,
not ``DescribeExecution`` (whose output moto cannot serialise when it holds datetimes).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from asl.naming import PROJECT
from batch_lustre.project import find_project_dir
from parameters import (
    BY_NAME,
    ParameterError,
    check_execution_name,
    parameters_for,
    validate_overrides,
    validate_runtime,
    validate_value,
)
from settings import Settings, load_settings, load_stack_config

# The repository (Pulumi.yaml, Pulumi.<stack>.yaml, __main__.py); override for an installed copy.
ROOT = find_project_dir() or Path.cwd()
MODE_KEY = f"{PROJECT}:mode"
REGION_KEY = "aws:region"
INSTALL_HINT = "install it from https://www.pulumi.com/docs/install/ (e.g. `curl -fsSL https://get.pulumi.com | sh`)"
TERMINAL_EVENTS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
    "ExecutionTimedOut": "TIMED_OUT",
}
# Stack outputs the run and parameter operations need (stack.py exports them).
REQUIRED_OUTPUTS = ("stateMachineArn", "secretName", "bucketName")


# --- errors ----------------------------------------------------------------------------------------


class AutomationError(Exception):
    """Something asked of the Automation API could not be done; the message is one line."""


class PulumiCliMissing(AutomationError):
    """The pulumi CLI is not on PATH."""


class UnknownStack(AutomationError):
    """No such stack: no Pulumi.<stack>.yaml here, or not deployed yet."""


class PulumiCommandFailed(AutomationError):
    """A pulumi command ran and failed."""


class MissingOutput(AutomationError):
    """The stack outputs lack a value this operation needs."""


class RunRefused(AutomationError):
    """A run was not started (another one is RUNNING)."""


class RunStillRunning(AutomationError):
    """``wait_for_run`` gave up waiting; the run goes on."""


class RunFailed(AutomationError):
    """A run ended in any state but SUCCEEDED. ``error`` and ``cause`` are the execution's."""

    def __init__(self, outcome: RunOutcome) -> None:
        self.outcome = outcome
        self.error = outcome.error
        self.cause = outcome.cause
        super().__init__(
            f"run {outcome.name} {outcome.status}: {outcome.error or 'no error'}: "
            f"{_one_line(outcome.cause or 'no cause')}"
        )


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


# --- stacks and their config -----------------------------------------------------------------------


def known_stacks(work_dir: Path = ROOT) -> list[str]:
    """Stacks of this project: one per ``Pulumi.<stack>.yaml`` in ``work_dir``."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in Path(work_dir).glob("Pulumi.*.yaml"))


def check_stack(stack: str, work_dir: Path = ROOT) -> None:
    """Raise ``UnknownStack`` unless ``stack`` has a ``Pulumi.<stack>.yaml`` in ``work_dir``."""
    stacks = known_stacks(work_dir)
    if stack not in stacks:
        raise UnknownStack(
            f"stack {stack!r} is not accepted: accepted {', '.join(stacks) or 'none'} "
            f"(a stack needs a Pulumi.<stack>.yaml in {work_dir})"
        )


def stack_config(stack: str, work_dir: Path = ROOT) -> dict[str, str]:
    """``Pulumi.<stack>.yaml``'s config as Pulumi hands it to the program (full keys, string values)."""
    check_stack(stack, work_dir)
    return load_stack_config(stack, Path(work_dir))


def stack_settings(stack: str, work_dir: Path = ROOT) -> Settings:
    """The stack's validated settings, read from ``Pulumi.<stack>.yaml`` as the program reads them."""
    config = stack_config(stack, work_dir)
    prefix = f"{PROJECT}:"
    mode = config.get(MODE_KEY)
    if mode is None:
        raise ParameterError(f"{MODE_KEY} is missing from Pulumi.{stack}.yaml: accepted taskexport or autoexport")
    raw: dict[str, Any] = {}
    for key, value in config.items():
        if not key.startswith(prefix) or key == MODE_KEY:
            continue
        name = key[len(prefix) :]
        parameter = BY_NAME.get(name)
        if parameter is not None and parameter.kind == "str_list" and value.startswith("["):
            value = json.loads(value)
        raw[name] = value
    return load_settings(mode, raw)


def stack_region(stack: str, work_dir: Path = ROOT) -> str | None:
    """The stack's ``aws:region`` (None: boto3's default applies)."""
    return stack_config(stack, work_dir).get(REGION_KEY)


# --- Pulumi ----------------------------------------------------------------------------------------


def pulumi_stack(stack: str, *, create: bool = False, work_dir: Path = ROOT) -> Any:
    """The Automation API stack ``stack`` of the program in ``work_dir`` (created if ``create``)."""
    check_stack(stack, work_dir)
    if shutil.which("pulumi") is None:
        raise PulumiCliMissing(f"the pulumi CLI is not on PATH: {INSTALL_HINT}")
    from pulumi import automation as auto

    try:
        if create:
            return auto.create_or_select_stack(stack_name=stack, work_dir=str(work_dir))
        return auto.select_stack(stack_name=stack, work_dir=str(work_dir))
    except FileNotFoundError as err:  # the CLI vanished between the check and the call
        raise PulumiCliMissing(f"the pulumi CLI could not be run ({err}): {INSTALL_HINT}") from None
    except auto.errors.StackNotFoundError:
        raise UnknownStack(
            f"stack {stack!r} has not been deployed: deploy it first (batch-lustre deploy {stack})"
        ) from None
    except auto.errors.CommandError as err:
        raise _command_failed("stack select", stack, err) from None


def _command_failed(command: str, stack: str, err: Exception) -> PulumiCommandFailed:
    """One line from a failed pulumi command: its exit code and its last ``error:`` line (or last line)."""
    text = str(err)  # CommandError holds "code: N / stdout: ... / stderr: ..."
    code = re.search(r"code: (-?\d+)", text)
    stdout, _, stderr = text.partition(" stderr: ")
    lines = [line.strip() for line in (stderr + "\n" + stdout.partition(" stdout: ")[2]).splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error")]
    detail = (errors or lines or ["no output"])[-1]
    return PulumiCommandFailed(
        f"pulumi {command} of stack {stack} failed (exit code {code.group(1) if code else '?'}): {_one_line(detail)}"
    )


def _pulumi_call(command: str, stack: str, action: Callable[[], Any]) -> Any:
    from pulumi import automation as auto

    try:
        return action()
    except FileNotFoundError as err:
        raise PulumiCliMissing(f"the pulumi CLI could not be run ({err}): {INSTALL_HINT}") from None
    except auto.errors.StackNotFoundError:
        raise UnknownStack(
            f"stack {stack!r} has not been deployed: deploy it first (batch-lustre deploy {stack})"
        ) from None
    except auto.errors.CommandError as err:
        raise _command_failed(command, stack, err) from None


def _plain_outputs(output_map: Mapping[str, Any]) -> dict[str, Any]:
    return {name: getattr(value, "value", value) for name, value in output_map.items()}


def deploy(stack: str, *, on_output: Callable[[str], Any] | None = None, work_dir: Path = ROOT) -> dict[str, Any]:
    """``pulumi up`` of ``stack`` (created if new); returns the stack outputs. Output lines go to ``on_output``."""
    pulumi = pulumi_stack(stack, create=True, work_dir=work_dir)
    result = _pulumi_call("up", stack, lambda: pulumi.up(on_output=on_output))
    return _plain_outputs(result.outputs)


def preview(stack: str, *, on_output: Callable[[str], Any] | None = None, work_dir: Path = ROOT) -> dict[str, int]:
    """``pulumi preview`` of ``stack``; returns the planned changes per operation (``{"create": 40}``)."""
    pulumi = pulumi_stack(stack, create=True, work_dir=work_dir)
    result = _pulumi_call("preview", stack, lambda: pulumi.preview(on_output=on_output))
    return {str(getattr(op, "value", op)): count for op, count in (result.change_summary or {}).items()}


def destroy(stack: str, *, on_output: Callable[[str], Any] | None = None, work_dir: Path = ROOT) -> dict[str, int]:
    """``pulumi destroy`` of ``stack``; returns the changes made (``{"delete": 40}``)."""
    pulumi = pulumi_stack(stack, work_dir=work_dir)
    result = _pulumi_call("destroy", stack, lambda: pulumi.destroy(on_output=on_output))
    return dict(result.summary.resource_changes or {})


def outputs(stack: str, *, work_dir: Path = ROOT) -> dict[str, Any]:
    """The stack outputs of ``stack`` (``pulumi stack output``), secrets in plain text."""
    pulumi = pulumi_stack(stack, work_dir=work_dir)
    return _plain_outputs(_pulumi_call("stack output", stack, pulumi.outputs))


def load_outputs(stack: str, outputs_file: Path | None = None, *, work_dir: Path = ROOT) -> dict[str, Any]:
    """Stack outputs from ``outputs_file`` (JSON, as ``pulumi stack output --json`` writes) or from Pulumi."""
    check_stack(stack, work_dir)
    if outputs_file is None:
        return outputs(stack, work_dir=work_dir)
    try:
        loaded = json.loads(Path(outputs_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise MissingOutput(
            f"outputs file {outputs_file} is not accepted ({_one_line(str(err))}): accepted "
            "a JSON object as `pulumi stack output --json` writes it"
        ) from None
    if not isinstance(loaded, dict):
        raise MissingOutput(f"outputs file {outputs_file} is not accepted: accepted a JSON object of stack outputs")
    return loaded


def required_output(stack_outputs: Mapping[str, Any], name: str, stack: str) -> str:
    """``stack_outputs[name]`` as a string, or ``MissingOutput`` naming it."""
    value = stack_outputs.get(name)
    if not isinstance(value, str) or not value:
        raise MissingOutput(
            f"stack {stack} has no output {name}: accepted outputs of a deployed stack "
            f"({', '.join(REQUIRED_OUTPUTS)}); has it been deployed?"
        )
    return value


# --- AWS clients -----------------------------------------------------------------------------------


def aws_client(service: str, region: str | None = None) -> Any:
    """A boto3 client (moto intercepts it in tests and in the demo).

    Sessions are reused (loading botocore's service models is what makes a new session slow), one per
    region and credential source, so a change of AWS_PROFILE or keys in the process gets a new one.
    """
    source = tuple(os.environ.get(k) for k in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_DEFAULT_REGION"))
    return _session(region, source).client(service)


@functools.lru_cache(maxsize=16)
def _session(region: str | None, credential_source: tuple[str | None, ...]) -> boto3.session.Session:
    return boto3.session.Session(region_name=region)


def region_of(arn: str) -> str | None:
    """The region of an ARN (``arn:aws:states:<region>:...``), None if it has none."""
    parts = arn.split(":")
    return parts[3] or None if len(parts) > 3 else None


# --- runtime parameters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RuntimeParameters:
    """The secret's runtime parameters next to the values stack config gives them."""

    stack: str
    mode: str
    secret_id: str
    current: dict[str, Any]  # the secret's JSON object as stored
    config: dict[str, Any]  # runtime parameters as stack config sets them (typed)
    problem: str | None  # why the secret would be refused at the start of a run (None: accepted)

    def differs(self, name: str) -> bool:
        """True if the secret's value of ``name`` is not the stack config's (missing counts)."""
        if name not in self.current:
            return True
        try:
            return validate_value(BY_NAME[name], self.current[name]) != self.config.get(name)
        except ParameterError:
            return True

    @property
    def names(self) -> list[str]:
        """Runtime parameters of the mode, then any unknown key found in the secret."""
        known = [p.name for p in parameters_for(self.mode, runtime=True)]
        return known + sorted(k for k in self.current if k not in known)


def _secret_document(text: str | None) -> dict[str, Any]:
    try:
        document = json.loads(text or "")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def read_parameters(
    stack: str,
    *,
    secret_id: str | None = None,
    outputs_file: Path | None = None,
    client: Any | None = None,
    work_dir: Path = ROOT,
) -> RuntimeParameters:
    """The runtime parameters in the stack's secret (``secret_id`` or the output ``secretName``)."""
    settings = stack_settings(stack, work_dir)
    if secret_id is None:
        secret_id = required_output(load_outputs(stack, outputs_file, work_dir=work_dir), "secretName", stack)
    secrets_manager = client or aws_client("secretsmanager", stack_region(stack, work_dir))
    text = _get_secret(secrets_manager, secret_id)
    current = _secret_document(text)
    try:
        validate_runtime(json.loads(text) if text else None, settings.mode, settings["computeEnvironmentMaxvCpus"])
        problem = None
    except ValueError as err:  # ParameterError, or JSON that does not parse
        problem = _one_line(str(err), 2000)
    return RuntimeParameters(stack, settings.mode, secret_id, current, settings.runtime_defaults, problem)


def _get_secret(client: Any, secret_id: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        return client.get_secret_value(SecretId=secret_id).get("SecretString")
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        raise AutomationError(
            f"secret {secret_id!r} could not be read: {code}: "
            f"{_one_line(err.response.get('Error', {}).get('Message', ''))}"
        ) from None


def parse_assignment(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` -> (KEY, VALUE); ``ParameterError`` otherwise."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ParameterError(f"{text!r} is not accepted: accepted KEY=VALUE, e.g. lustreStorageCapacity=4800")
    return key.strip(), value.strip()


def check_assignment(mode: str, key: str, value: str) -> Any:
    """The typed value of runtime parameter ``key``; ``ParameterError`` naming key, value and what is accepted."""
    runtime = [p.name for p in parameters_for(mode, runtime=True)]
    parameter = BY_NAME.get(key)
    if parameter is None or not parameter.applies_to(mode):
        raise ParameterError(f"{key} is not a runtime parameter of mode {mode}: accepted keys {', '.join(runtime)}")
    if not parameter.is_runtime(mode):
        raise ParameterError(
            f"{key} is a stack config parameter, not a runtime one: change it with "
            f"`pulumi config set {PROJECT}:{key} VALUE` and deploy; accepted keys {', '.join(runtime)}"
        )
    return validate_value(parameter, value)


def update_parameters(
    stack: str,
    assignments: Mapping[str, str],
    *,
    secret_id: str | None = None,
    outputs_file: Path | None = None,
    client: Any | None = None,
    work_dir: Path = ROOT,
) -> tuple[RuntimeParameters, dict[str, Any]]:
    """Set runtime parameters in the stack's secret; returns (before, the new document written).

    Every value is checked as stack config is (``parameters.py``), then the whole new document with
    ``validate_runtime``, before anything is written: a refused edit raises ``ParameterError`` and
    leaves the secret as it was.
    """
    settings = stack_settings(stack, work_dir)
    typed = {key: check_assignment(settings.mode, key, value) for key, value in assignments.items()}
    secrets_manager = client or aws_client("secretsmanager", stack_region(stack, work_dir))
    before = read_parameters(
        stack, secret_id=secret_id, outputs_file=outputs_file, client=secrets_manager, work_dir=work_dir
    )
    document = validate_runtime({**before.current, **typed}, settings.mode, settings["computeEnvironmentMaxvCpus"])
    secrets_manager.put_secret_value(SecretId=before.secret_id, SecretString=json.dumps(document, sort_keys=True))
    return before, document


# --- runs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunHandle:
    """A started run: its execution name and ARN."""

    name: str
    execution_arn: str
    state_machine_arn: str


@dataclass(frozen=True)
class RunEvent:
    """One history event of a run, with what it says about the run."""

    id: int
    type: str  # history event type, e.g. "TaskStateEntered"
    timestamp: dt.datetime
    state: str | None  # state name of StateEntered / StateExited events
    visit: int  # how many times ``state`` has been entered so far (loops)
    facts: dict[str, str]  # what this event taught (fileSystemId, job status...), see ``FACT_PATHS``


# Facts read from a state's output when it exits: name -> path in the state data (asl/common.py layout).
FACT_PATHS = {
    "fileSystemId": ("fs", "FileSystemId"),
    "fileSystem": ("fsStatus", "Lifecycle"),
    "association": ("draStatus", "Lifecycle"),
    "jobId": ("job", "JobId"),
    "job": ("watchedJob", "Status"),
    "export": ("exportStatus", "Lifecycle"),
    "exportQueue": ("metrics", "reason"),
}


@dataclass
class RunOutcome:
    """How a run ended (or where it is, while ``status`` is RUNNING)."""

    name: str
    execution_arn: str
    status: str  # RUNNING | SUCCEEDED | FAILED | ABORTED | TIMED_OUT
    started_at: dt.datetime | None
    stopped_at: dt.datetime | None
    error: str | None = None
    cause: str | None = None
    output: Any = None
    facts: dict[str, str] = field(default_factory=dict)
    states_entered: int = 0

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def duration(self) -> dt.timedelta | None:
        if self.started_at is None or self.stopped_at is None:
            return None
        return self.stopped_at - self.started_at

    @property
    def file_system_id(self) -> str | None:
        return self.facts.get("fileSystemId")


def new_run_name(now: dt.datetime | None = None) -> str:
    """A unique, sortable execution name (per-run resource names embed it: [A-Za-z0-9_-] only)."""
    now = now or dt.datetime.now(dt.UTC)
    return f"run-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def running_executions(state_machine_arn: str, sfn: Any) -> list[dict[str, Any]]:
    """The RUNNING executions of the state machine."""
    return sfn.list_executions(stateMachineArn=state_machine_arn, statusFilter="RUNNING", maxResults=100).get(
        "executions", []
    )


def compute_environment_max_vcpus(
    stack: str,
    stack_outputs: Mapping[str, Any],
    *,
    batch: Any | None = None,
    work_dir: Path = ROOT,
) -> int:
    """maxvCpus of the stack's compute environment: the bound ExtractParameters checks ``vcpus`` against.

    Read from the deployed compute environment (stack output ``computeEnvironment``), which the stack
    deploys with the same value it gives ExtractParameters; from ``Pulumi.<stack>.yaml`` when that
    output is missing.
    """
    name = stack_outputs.get("computeEnvironment")
    if isinstance(name, str) and name:
        batch = batch or aws_client("batch", region_of(str(stack_outputs.get("stateMachineArn", ""))))
        for env in batch.describe_compute_environments(computeEnvironments=[name]).get("computeEnvironments", []):
            found = (env.get("computeResources") or {}).get("maxvCpus")
            if isinstance(found, int):
                return found
    return int(stack_settings(stack, work_dir)["computeEnvironmentMaxvCpus"])


def run_input(overrides: Mapping[str, Any] | None, max_vcpus: int) -> dict[str, Any]:
    """The execution input for per-run ``overrides``: the given keys, typed, as ExtractParameters accepts them.

    ``ParameterError`` (one line: key, value, what is accepted) for anything ExtractParameters would refuse.
    """
    return validate_overrides({} if overrides is None else overrides, max_vcpus)


def start_run(
    stack: str,
    *,
    stack_outputs: Mapping[str, Any] | None = None,
    outputs_file: Path | None = None,
    name: str | None = None,
    sfn: Any | None = None,
    overrides: Mapping[str, Any] | None = None,
    max_vcpus: int | None = None,
    batch: Any | None = None,
    check_overrides: bool = True,
    work_dir: Path = ROOT,
) -> RunHandle:
    """Start a run of the stack's state machine, unless one is RUNNING (``RunRefused``).

    ``overrides``: per-run overrides (keys ``command``, ``environment``, ``vcpus``, ``memory``, ``imageTag``,
    ``arraySize``, ``warmComputeCapacity``; see the module docstring), sent as the execution input. They are
    checked first, with ``parameters.validate_overrides`` as ExtractParameters checks them, against
    ``max_vcpus`` (default: the deployed compute environment's maxvCpus, ``compute_environment_max_vcpus``,
    read with ``batch``): a refused one raises ``ParameterError`` and nothing is started. None or ``{}``
    sends ``{}``: the secret's values apply. ``check_overrides=False`` sends them unchecked, to see the
    workflow refuse them itself (the demo's scenarios of a bad input).

    The state machine refuses a concurrent run itself too (ConcurrentRunRefused); this check
    refuses it before an execution is even created.
    """
    found = dict(stack_outputs) if stack_outputs is not None else load_outputs(stack, outputs_file, work_dir=work_dir)
    machine = required_output(found, "stateMachineArn", stack)
    name = name or new_run_name()
    check_execution_name(name)
    execution_input: Any = {}
    if not check_overrides:
        execution_input = {} if overrides is None else overrides
    elif overrides is not None and not (isinstance(overrides, Mapping) and not overrides):
        if max_vcpus is None:
            max_vcpus = compute_environment_max_vcpus(stack, found, batch=batch, work_dir=work_dir)
        execution_input = run_input(overrides, max_vcpus)
    sfn = sfn or aws_client("stepfunctions", region_of(machine))
    running = running_executions(machine, sfn)
    if running:
        names = ", ".join(e["name"] for e in running)
        raise RunRefused(
            f"run refused: run {names} of stack {stack} is RUNNING and runs share the compute "
            f"environment; wait for it to end (batch-lustre status {stack})"
        )
    arn = sfn.start_execution(
        stateMachineArn=machine, name=name, input=json.dumps(dict(execution_input), sort_keys=True)
    )["executionArn"]
    return RunHandle(name=name, execution_arn=arn, state_machine_arn=machine)


def execution_name(execution_arn: str) -> str:
    return execution_arn.rsplit(":", 1)[-1]


class HistoryReader:
    """Reads an execution's history incrementally: each ``new_events()`` returns events not seen yet."""

    def __init__(self, execution_arn: str, sfn: Any) -> None:
        self.execution_arn = execution_arn
        self.sfn = sfn
        self.last_id = 0

    def new_events(self) -> list[dict[str, Any]]:
        # Newest first, down to the last event already seen: one call per poll on a long history.
        fresh: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": self.execution_arn, "reverseOrder": True, "maxResults": 200}
        while True:
            page = self.sfn.get_execution_history(**kwargs)
            events = page.get("events", [])
            fresh.extend(e for e in events if e["id"] > self.last_id)
            if not page.get("nextToken") or not events or events[-1]["id"] <= self.last_id:
                break
            kwargs["nextToken"] = page["nextToken"]
        fresh.sort(key=lambda e: e["id"])
        if fresh:
            self.last_id = fresh[-1]["id"]
        return fresh


class RunTracker:
    """Turns history events into ``RunEvent``s and the run's ``RunOutcome``."""

    def __init__(self, handle_name: str, execution_arn: str) -> None:
        self.outcome = RunOutcome(handle_name, execution_arn, "RUNNING", None, None)
        self.visits: dict[str, int] = {}

    def add(self, event: dict[str, Any]) -> RunEvent:
        kind = event["type"]
        timestamp = event["timestamp"]
        state, facts = None, {}
        if kind == "ExecutionStarted":
            self.outcome.started_at = timestamp
        elif kind.endswith("StateEntered"):
            state = event["stateEnteredEventDetails"]["name"]
            self.visits[state] = self.visits.get(state, 0) + 1
            self.outcome.states_entered += 1
        elif kind.endswith("StateExited"):
            details = event["stateExitedEventDetails"]
            state = details["name"]
            facts = _facts(details.get("output"))
            self.outcome.facts.update(facts)
        elif kind in TERMINAL_EVENTS:
            self._end(kind, event)
        return RunEvent(event["id"], kind, timestamp, state, self.visits.get(state, 0) if state else 0, facts)

    def _end(self, kind: str, event: dict[str, Any]) -> None:
        outcome = self.outcome
        outcome.status = TERMINAL_EVENTS[kind]
        outcome.stopped_at = event["timestamp"]
        details = event.get(kind[0].lower() + kind[1:] + "EventDetails", {})
        if kind == "ExecutionSucceeded":
            text = details.get("output")
            try:
                outcome.output = json.loads(text) if text else None
            except ValueError:
                outcome.output = text
        else:
            outcome.error, outcome.cause = details.get("error"), details.get("cause")


def _facts(output: str | None) -> dict[str, str]:
    try:
        data = json.loads(output) if output else None
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    found = {}
    for fact, (section, key) in FACT_PATHS.items():
        value = data.get(section)
        if isinstance(value, dict) and isinstance(value.get(key), str):
            found[fact] = value[key]
    return found


def follow_run(
    execution_arn: str,
    *,
    sfn: Any | None = None,
    region: str | None = None,
    on_event: Callable[[RunEvent, RunOutcome], Any] | None = None,
    poll_seconds: float = 5.0,
    timeout_seconds: float | None = None,
    sleep: Callable[[float], Any] = time.sleep,
) -> RunOutcome:
    """Read the run's history until it ends (or ``timeout_seconds`` pass); call ``on_event`` for each event.

    Returns the outcome whatever it is (``status`` stays RUNNING on timeout); never raises for a failed run.
    """
    sfn = sfn or aws_client("stepfunctions", region or region_of(execution_arn))
    reader = HistoryReader(execution_arn, sfn)
    tracker = RunTracker(execution_name(execution_arn), execution_arn)
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    while True:
        for event in reader.new_events():
            run_event = tracker.add(event)
            if on_event is not None:
                on_event(run_event, tracker.outcome)
        if tracker.outcome.status != "RUNNING":
            return tracker.outcome
        if deadline is not None and time.monotonic() >= deadline:
            return tracker.outcome
        sleep(poll_seconds)


def wait_for_run(
    execution_arn: str,
    *,
    sfn: Any | None = None,
    region: str | None = None,
    on_event: Callable[[RunEvent, RunOutcome], Any] | None = None,
    poll_seconds: float = 5.0,
    timeout_seconds: float | None = None,
) -> RunOutcome:
    """Wait for the run to end: its outcome if it SUCCEEDED; ``RunFailed(error, cause)`` otherwise;
    ``RunStillRunning`` if ``timeout_seconds`` passed first."""
    outcome = follow_run(
        execution_arn,
        sfn=sfn,
        region=region,
        on_event=on_event,
        poll_seconds=poll_seconds,
        timeout_seconds=timeout_seconds,
    )
    if outcome.status == "RUNNING":
        raise RunStillRunning(f"run {outcome.name} is still RUNNING after {timeout_seconds} s of waiting")
    if not outcome.succeeded:
        raise RunFailed(outcome)
    return outcome


def run(
    stack: str,
    *,
    stack_outputs: Mapping[str, Any] | None = None,
    outputs_file: Path | None = None,
    name: str | None = None,
    sfn: Any | None = None,
    on_event: Callable[[RunEvent, RunOutcome], Any] | None = None,
    poll_seconds: float = 5.0,
    timeout_seconds: float | None = None,
    overrides: Mapping[str, Any] | None = None,
    work_dir: Path = ROOT,
) -> RunOutcome:
    """Start a run and wait for it: ``start_run`` (with its per-run ``overrides``) then ``wait_for_run``."""
    handle = start_run(
        stack,
        stack_outputs=stack_outputs,
        outputs_file=outputs_file,
        name=name,
        sfn=sfn,
        overrides=overrides,
        work_dir=work_dir,
    )
    return wait_for_run(
        handle.execution_arn, sfn=sfn, on_event=on_event, poll_seconds=poll_seconds, timeout_seconds=timeout_seconds
    )


@dataclass(frozen=True)
class RunSummary:
    """One run as ``list_runs`` reports it."""

    name: str
    execution_arn: str
    status: str
    started_at: dt.datetime | None
    stopped_at: dt.datetime | None
    error: str | None  # the Error of a run that did not succeed

    @property
    def duration(self) -> dt.timedelta | None:
        if self.started_at is None or self.stopped_at is None:
            return None
        return self.stopped_at - self.started_at


def iter_executions(state_machine_arn: str, sfn: Any) -> Iterator[dict[str, Any]]:
    """Every execution of the state machine, newest first."""
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": 100}
    while True:
        page = sfn.list_executions(**kwargs)
        yield from page.get("executions", [])
        if not page.get("nextToken"):
            return
        kwargs["nextToken"] = page["nextToken"]


def list_runs(
    state_machine_arn: str, *, sfn: Any | None = None, region: str | None = None, limit: int = 10
) -> list[RunSummary]:
    """The ``limit`` most recent runs, newest first, with the Error of those that did not succeed."""
    sfn = sfn or aws_client("stepfunctions", region or region_of(state_machine_arn))
    found = []
    for execution in iter_executions(state_machine_arn, sfn):
        found.append(execution)
    found.sort(key=lambda e: e.get("startDate") or dt.datetime.min.replace(tzinfo=dt.UTC), reverse=True)
    runs = []
    for execution in found[:limit]:
        error = None
        if execution["status"] not in ("RUNNING", "SUCCEEDED"):
            error = run_error(execution["executionArn"], sfn)
        runs.append(
            RunSummary(
                execution["name"],
                execution["executionArn"],
                execution["status"],
                execution.get("startDate"),
                execution.get("stopDate"),
                error,
            )
        )
    return runs


def execution_input(execution_arn: str, sfn: Any) -> Any:
    """The input an execution was started with (from its ExecutionStarted event), parsed; None if unreadable."""
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1)["events"]
    # The oldest event (moto ignores maxResults: it answers every event, oldest first).
    first = min(events, key=lambda e: e["id"]) if events else None
    if first is None or first["type"] != "ExecutionStarted":
        return None
    try:
        return json.loads(first.get("executionStartedEventDetails", {}).get("input") or "null")
    except ValueError:
        return None


def run_cleanup_of(
    run_name: str, run_cleanup_state_machine_arn: str, *, sfn: Any | None = None, since: dt.datetime | None = None
) -> dict[str, Any] | None:
    """The run-cleanup execution EventBridge started after run ``run_name`` ended without success, or None (yet).

    The stack's rule hands the run's "Step Functions Execution Status Change" event to the run-cleanup state
    machine (stack output ``runCleanupStateMachineArn``) as its input: ``detail.name`` is the run's name.
    Executions started before ``since`` (a minute of clock skew allowed) are not looked at.
    """
    sfn = sfn or aws_client("stepfunctions", region_of(run_cleanup_state_machine_arn))
    floor = None if since is None else since - dt.timedelta(minutes=1)
    found = [
        e
        for e in iter_executions(run_cleanup_state_machine_arn, sfn)
        if floor is None or e.get("startDate") is None or e["startDate"] >= floor
    ]
    found.sort(key=lambda e: e.get("startDate") or dt.datetime.min.replace(tzinfo=dt.UTC), reverse=True)
    for execution in found:
        event = execution_input(execution["executionArn"], sfn)
        detail = event.get("detail") if isinstance(event, dict) else None
        if isinstance(detail, dict) and detail.get("name") == run_name:
            return execution
    return None


def run_error(execution_arn: str, sfn: Any) -> str | None:
    """The Error a run ended with (None while it runs, or if it succeeded)."""
    events = sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=1)["events"]
    # The newest event (moto ignores reverseOrder and maxResults: it answers every event, oldest first).
    last = max(events, key=lambda e: e["id"]) if events else None
    if last is None or last["type"] not in TERMINAL_EVENTS or last["type"] == "ExecutionSucceeded":
        return None
    kind = last["type"]
    return last.get(kind[0].lower() + kind[1:] + "EventDetails", {}).get("error")


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    last_modified: dt.datetime


def objects_since(
    bucket: str, since: dt.datetime | None, *, s3: Any | None = None, region: str | None = None, limit: int = 1000
) -> list[StoredObject]:
    """Objects of ``bucket`` written at or after ``since`` (a minute of clock skew allowed), up to ``limit``."""
    s3 = s3 or aws_client("s3", region)
    floor = None if since is None else since - dt.timedelta(minutes=1)
    found: list[StoredObject] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            modified = item["LastModified"]
            if floor is None or modified >= floor:
                found.append(StoredObject(item["Key"], item.get("Size", 0), modified))
                if len(found) >= limit:
                    return found
    return found
