"""A stack deployed in the offline emulated AWS (``batch_lustre.emulation``), run from another tool's tests.

    from batch_lustre import automation

    with automation.emulated("taskexport") as stack:
        outcome = stack.run(overrides={"vcpus": 4}, timeout=120)   # RunFailed if the run does not succeed
        print(outcome.file_system_id, stack.outputs["bucketName"], stack.list_runs())

``emulated`` deploys the stack of ``Pulumi.<stack>.yaml`` (its mode and computeEnvironmentMaxvCpus) in a new
emulation, with fake credentials and no network, and yields an ``EmulatedDeployment``: the stack outputs, and
``start_run``/``run``/``list_runs`` that are the API's own (the same checks, the same outcome) aimed at it. The
emulated AWS does what its ``scenario`` says (default: everything succeeds). Needs the ``emulation`` extra.

``deploy_emulated`` is the deployment alone, in an emulation the caller entered (the demo, the scenarios and
``acceptance --emulated`` use it).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from batch_lustre.automation import clients
from batch_lustre.automation.boundary import boundary, operation
from batch_lustre.automation.errors import AutomationError
from batch_lustre.automation.history import RunOutcome
from batch_lustre.automation.runs import RunHandle, RunSummary, list_runs, start_run, wait_for_run
from batch_lustre.automation.stacks import stack_settings
from batch_lustre.program.asl import naming

if TYPE_CHECKING:
    from contextlib import ExitStack

    from batch_lustre.emulation import EmulatedStack, Emulation, Scenario

REGION = "us-east-1"


@operation
def stack_max_vcpus(stack: str) -> int:
    """computeEnvironmentMaxvCpus of ``Pulumi.<stack>.yaml``: the emulated compute environment's maxvCpus.

    Read offline: checking the file reads botocore's service models, which fails on an AWS_PROFILE this machine
    lacks (the emulation needs no AWS configuration at all)."""
    from batch_lustre.emulation.environment import offline_environment

    with offline_environment(REGION):
        return stack_settings(stack).compute_environment_max_vcpus


@operation
def deploy_emulated(
    emu: Emulation,
    mode: str,
    *,
    stack: str | None = None,
    runtime_params: Mapping[str, Any] | None = None,
    secret_string: str | None = None,
    run_cleanup: bool = False,
    stack_config: Mapping[str, Any] | None = None,
    job_image_tags: Sequence[str] = ("latest",),
) -> tuple[EmulatedStack, dict[str, Any]]:
    """``pulumi up`` of stack ``stack`` (default: ``mode``) in the emulation ``emu``: the Pulumi program run under
    mocks that create every resource it declares (``emulation.deploy``).

    Returns the ``emulation.EmulatedStack`` and the stack outputs, as ``stack.py`` exports them.
    ``runtime_params`` are written into the secret as an operator would; ``secret_string`` replaces the secret's
    whole text (a broken secret). ``stack_config``: parameters set in the stack file over ``Pulumi.<stack>.yaml``'s
    (deploy-time ones too, e.g. the data layout). Without ``run_cleanup`` the EventBridge rule that starts the run cleanup after a
    run that did not succeed is taken away (and ``runCleanupStateMachineArn`` is not an output); with it, its
    deliveries happen when the emulated clock moves. ``job_image_tags``: the job images pushed to the stack's
    repository after the deploy, as the user does (README, "Your job image").
    """
    from batch_lustre.emulation import setup_stack

    stack_name = stack or mode
    emulated_stack = setup_stack(
        emu,
        mode,
        stack=stack_name,
        runtime_params=dict(runtime_params or {}),
        secret_string=secret_string,
        max_vcpus=stack_max_vcpus(stack_name),
        config_changes=stack_config,
        job_image_tags=job_image_tags,
    )
    assert emulated_stack.deployment is not None  # setup_stack deploys the Pulumi program
    # As `pulumi stack output --json` gives them: strings, and the lists and objects (``lanes``) as JSON values.
    outputs = {
        name: value if isinstance(value, (list, dict)) else str(value)
        for name, value in emulated_stack.deployment.outputs.items()
    }
    if not run_cleanup:
        from batch_lustre.emulation.stack import remove_run_cleanup

        remove_run_cleanup(emu, emulated_stack)
        outputs.pop(naming.OUTPUT_RUN_CLEANUP_STATE_MACHINE_ARN, None)
    return emulated_stack, outputs


@dataclass
class EmulatedDeployment:
    """A stack deployed in an emulated AWS (``emulated``): its outputs, and runs of its workflow.

    ``emulation`` is the ``batch_lustre.emulation.Emulation`` (its clock, S3 objects, calls, leftovers);
    ``resources`` what the deployment made (``emulation.EmulatedStack``: the workflow's refs, role ARNs).
    """

    stack: str
    mode: str
    outputs: dict[str, Any]
    emulation: Emulation
    resources: EmulatedStack
    region: str = REGION
    handles: list[RunHandle] = field(default_factory=list)

    @property
    def state_machine_arn(self) -> str:
        return self.outputs[naming.OUTPUT_STATE_MACHINE_ARN]

    @property
    def bucket_name(self) -> str:
        return self.outputs[naming.OUTPUT_BUCKET_NAME]

    @operation
    def start_run(
        self, *, overrides: Mapping[str, Any] | None = None, name: str | None = None, check_overrides: bool = True
    ) -> RunHandle:
        """``automation.start_run`` on this stack: ``overrides`` checked as ``batch-lustre run`` checks them."""
        handle = start_run(
            self.stack, stack_outputs=self.outputs, name=name, overrides=overrides, check_overrides=check_overrides
        )
        self.handles.append(handle)
        return handle

    @operation
    def run(
        self,
        *,
        overrides: Mapping[str, Any] | None = None,
        name: str | None = None,
        timeout: float = 300.0,
        poll_seconds: float = 0.05,
    ) -> RunOutcome:
        """Start a run and wait for it (``timeout`` real seconds): its outcome if it SUCCEEDED, ``RunFailed``
        otherwise, ``RunStillRunning`` after ``timeout`` (the run is then stopped when the deployment ends)."""
        handle = self.start_run(overrides=overrides, name=name)
        return wait_for_run(handle.execution_arn, poll_seconds=poll_seconds, timeout_seconds=timeout)

    @operation
    def list_runs(self, *, limit: int = 10) -> list[RunSummary]:
        """``automation.list_runs`` of this stack's state machine, newest first."""
        return list_runs(self.state_machine_arn, limit=limit)


class SteppedEmulatedTime:
    """A clock (``guard.TimeSource``) for whoever polls a stack deployed in the emulation
    (``acceptance --emulated``).

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
            raise AutomationError(f"the emulated runs did not end within {self.real_limit_seconds} real seconds")
        self.emu.release_waits()
        time.sleep(self.STEP_SECONDS)
        self.emu.hold_waits()
        self.emu.events.flush()
        if not self.running():
            self.emu.advance(seconds)

    def running(self) -> list[str]:
        """ARNs of the RUNNING executions of every state machine."""
        sfn = clients.aws_client("stepfunctions", self.emu.region)
        return [
            e["executionArn"]
            for m in sfn.list_state_machines()["stateMachines"]
            for e in sfn.list_executions(stateMachineArn=m["stateMachineArn"], statusFilter="RUNNING")["executions"]
        ]

    def close(self) -> None:
        """Let every held execution go, and stop those still RUNNING: nothing runs on after the emulation."""
        self.emu.release_waits()
        sfn = clients.aws_client("stepfunctions", self.emu.region)
        for arn in self.running():
            sfn.stop_execution(executionArn=arn, error="EmulationOver", cause="the command ended")


class _Emulated:
    """``emulated``'s context manager: the offline environment, the emulation, the deployment; on exit every
    execution still RUNNING is stopped, and the emulation ends."""

    def __init__(
        self,
        stack: str,
        scenario: Scenario | str | None,
        runtime_params: Mapping[str, Any] | None,
        secret_string: str | None,
        run_cleanup: bool,
        job_files: Mapping[str, bytes] | None,
        stack_config: Mapping[str, Any] | None = None,
        job_image_tags: Sequence[str] = ("latest",),
    ) -> None:
        self.arguments = (stack, scenario, runtime_params, secret_string, run_cleanup, job_files)
        self.stack_config = dict(stack_config or {})
        self.job_image_tags = tuple(job_image_tags)
        self.exit_stack: ExitStack | None = None
        self.deployment: EmulatedDeployment | None = None

    def __enter__(self) -> EmulatedDeployment:
        from contextlib import ExitStack

        stack, scenario, runtime_params, secret_string, run_cleanup, job_files = self.arguments
        with boundary("emulated"), ExitStack() as entered:
            mode = stack_settings(stack).mode
            params = dict(runtime_params or {})
            config = dict(self.stack_config)
            behaviour, named_secret = _scenario(scenario, mode, params, config)
            if job_files is not None:
                behaviour.batch.files = dict(job_files)
            from batch_lustre.emulation.environment import offline_environment

            entered.enter_context(offline_environment(REGION))
            from batch_lustre.emulation import Emulation

            emu = entered.enter_context(Emulation(behaviour, region=REGION))
            resources, outputs = deploy_emulated(
                emu,
                mode,
                stack=stack,
                runtime_params=params,
                secret_string=secret_string if secret_string is not None else named_secret,
                run_cleanup=run_cleanup,
                stack_config=config,
                job_image_tags=self.job_image_tags,
            )
            self.deployment = EmulatedDeployment(stack, mode, outputs, emu, resources)
            self.exit_stack = entered.pop_all()
        return self.deployment

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        assert self.exit_stack is not None and self.deployment is not None
        try:
            _stop_running(self.deployment)
        finally:
            self.exit_stack.__exit__(kind, error, trace)


def _scenario(
    scenario: Scenario | str | None, mode: str, params: dict[str, Any], config: dict[str, Any]
) -> tuple[Scenario, str | None]:
    """The emulation's behaviour, and the secret text of a named scenario that breaks it on purpose (else None).

    A name is one of the catalogue's scenarios (``batch-lustre demo --list``): its behaviour, its runtime
    parameters (added to ``params``), its stack config (added to ``config`` where not set) and its secret."""
    from batch_lustre.emulation.environment import offline_environment

    try:
        with offline_environment(REGION):
            from batch_lustre.emulation import Scenario, catalogue
    except ModuleNotFoundError as missing:
        raise AutomationError(
            f"emulated: the emulated AWS needs the 'emulation' extra (module {missing.name!r} is not installed): "
            "pip install -c constraints.txt -e '.[emulation]'"
        ) from missing
    if scenario is None:
        return Scenario(), None
    if not isinstance(scenario, str):
        return scenario, None
    named = catalogue.SCENARIOS.get(scenario)
    accepted = ", ".join(catalogue.scenario_names(mode, single_run_only=True))
    if named is None or mode not in named.modes:
        raise AutomationError(f"scenario={scenario!r} is not accepted in mode {mode}: accepted {accepted}")
    params.update(named.runtime_params)
    config.update({key: value for key, value in named.stack_config.items() if key not in config})
    return named.scenario(), named.secret_string(mode)


def _stop_running(deployment: EmulatedDeployment) -> None:
    """Let held executions go and stop those still RUNNING: nothing runs on after the emulation."""
    deployment.emulation.release_waits()
    sfn = clients.aws_client("stepfunctions", deployment.region)
    for machine in sfn.list_state_machines()["stateMachines"]:
        running = sfn.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING")
        for execution in running["executions"]:
            sfn.stop_execution(executionArn=execution["executionArn"], error="EmulationOver", cause="the test ended")


@operation
def emulated(
    stack: str = "taskexport",
    *,
    scenario: Scenario | str | None = None,
    runtime_params: Mapping[str, Any] | None = None,
    secret_string: str | None = None,
    run_cleanup: bool = True,
    job_files: Mapping[str, bytes] | None = None,
    stack_config: Mapping[str, Any] | None = None,
    job_image_tags: Sequence[str] = ("latest",),
) -> _Emulated:
    """``with emulated(stack) as deployed:`` the stack of ``Pulumi.<stack>.yaml`` deployed in a new emulated AWS.

    ``scenario``: what the emulated AWS does, an ``emulation.Scenario`` or the name of one of the catalogue's
    (``batch-lustre demo --list``); default: everything succeeds. ``runtime_params``: the secret's values that
    differ from the mode's defaults; ``secret_string`` replaces the secret's text. ``run_cleanup``: also the
    run-cleanup state machine and its EventBridge rule. ``job_files``: what the emulated job writes (paths
    relative to /scratch -> bytes) instead of the scenario's. ``stack_config``: parameters set in the stack file
    over ``Pulumi.<stack>.yaml``'s (a named scenario adds its own). ``job_image_tags``: the job images pushed to
    the stack's repository after the deploy (``docker push``; a run of a tag not pushed fails JobImageNotFound). Inside, the process has fake AWS credentials and every
    boto3 client reaches the emulation; on exit, runs still RUNNING are stopped.
    """
    return _Emulated(
        stack, scenario, runtime_params, secret_string, run_cleanup, job_files, stack_config, job_image_tags
    )
