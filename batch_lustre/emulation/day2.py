"""What an operator does to a stack while one of its runs goes, in the emulation (the scenarios
``deploy-during-run``, ``refresh-during-run`` and ``job-on-baseline-host``): each returns the lines that say what
was done and what came of it.

- ``deploy_during_run`` / ``refresh_during_run``: ``batch-lustre deploy`` / ``refresh`` are refused by the
  Automation API's guard (``automation.guard.check_no_run``, against the emulated Step Functions), naming the run;
  then the operator forces them: a plain ``pulumi up`` (or ``pulumi refresh`` then ``pulumi up``) as Pulumi runs
  them on the stack's state (``emulation.pulumi_state``), which must send no launch-template change.
- ``destroy_during_run`` / ``destroy_after_run``: ``batch-lustre destroy`` during the job is refused by the guard,
  naming the run; after the run, by the teardown check (``automation.teardown.check_destroy``), naming what the
  run left (its kept file system, the results in the bucket) with the next step for each.
- ``baseline_during_run``: a manual edit (the console) puts the compute environment back on its baseline launch
  template while the run prepares: the run's job then lands on a host without its file system.
"""

from __future__ import annotations

from batch_lustre.emulation.clients import client
from batch_lustre.emulation.core import Emulation
from batch_lustre.emulation.pulumi_state import PulumiState
from batch_lustre.emulation.stack import EmulatedStack

UP_SENT_NOTHING = "pulumi up sent no change"


def _refused(emu: Emulation, stack: EmulatedStack, action: str) -> str:
    from batch_lustre.automation.errors import StackBusy
    from batch_lustre.automation.guard import check_no_run

    outputs = stack.deployment.outputs if stack.deployment is not None else {}
    try:
        check_no_run(stack.refs.stack, action, outputs, sfn=client("stepfunctions", emu.region))
    except StackBusy as refused:
        return str(refused)
    return f"{action} was not refused"


def _up(state: PulumiState) -> str:
    sent = state.up()
    return f"forced: {UP_SENT_NOTHING}" if not sent else "forced: pulumi up sent " + "; ".join(c.line() for c in sent)


def _state(emu: Emulation, stack: EmulatedStack) -> PulumiState:
    if stack.deployment is None:
        raise ValueError("the stack was not deployed by setup_stack: Pulumi has no state of it")
    return PulumiState(stack.deployment, emu.region)


def deploy_during_run(emu: Emulation, stack: EmulatedStack) -> list[str]:
    """``batch-lustre deploy`` refused; then a forced ``pulumi up`` (no refresh)."""
    return [_refused(emu, stack, "deploy"), _up(_state(emu, stack))]


def refresh_during_run(emu: Emulation, stack: EmulatedStack) -> list[str]:
    """``batch-lustre refresh`` refused; then a forced ``pulumi refresh`` and ``pulumi up``."""
    state = _state(emu, stack)
    lines = [_refused(emu, stack, "refresh")]
    lines += ["forced: refresh recorded " + "; ".join(c.line() for c in state.refresh())]
    return [*lines, _up(state)]


def destroy_during_run(emu: Emulation, stack: EmulatedStack) -> list[str]:
    """``batch-lustre destroy`` during the job: refused by the guard, naming the run."""
    return [_refused(emu, stack, "destroy")]


def destroy_after_run(emu: Emulation, stack: EmulatedStack) -> list[str]:
    """``batch-lustre destroy`` once the run has ended: refused by the teardown check, naming what is left."""
    from batch_lustre.automation.teardown import BUCKET, REPOSITORY, DestroyBlocked, TeardownClients, check_destroy
    from batch_lustre.program.parameters import parameters_for

    outputs = stack.deployment.outputs if stack.deployment is not None else {}
    defaults = {p.name: p.defaults[stack.refs.mode] for p in parameters_for(stack.refs.mode)}
    protected = {BUCKET: bool(defaults["protectBucket"]), REPOSITORY: bool(defaults["protectRepository"])}
    try:
        check_destroy(stack.refs.stack, outputs, TeardownClients.for_region(emu.region), protected=protected)
    except DestroyBlocked as refused:
        return [str(refused)]
    return ["destroy was not refused"]


def baseline_during_run(emu: Emulation, stack: EmulatedStack) -> list[str]:
    """UpdateComputeEnvironment back to the baseline launch template (its latest version), as a console edit."""
    ec2, batch = client("ec2", emu.region), client("batch", emu.region)
    template = ec2.describe_launch_templates(LaunchTemplateNames=[stack.baseline_launch_template_name])
    baseline = template["LaunchTemplates"][0]
    batch.update_compute_environment(
        computeEnvironment=stack.compute_environment_name,
        computeResources={
            "launchTemplate": {
                "launchTemplateId": baseline["LaunchTemplateId"],
                "version": str(baseline["LatestVersionNumber"]),
            }
        },
    )
    return [f"manual edit: compute environment back on its baseline launch template {baseline['LaunchTemplateId']}"]
