"""Offline emulated AWS (moto plus what moto lacks) on which the real state machines run end to end.

    from batch_lustre.emulation import BatchScenario, Emulation, Scenario, run_workflow, setup_stack
    from batch_lustre.program import asl

    with Emulation(Scenario(batch=BatchScenario.host_ec2_then_succeeds(2))) as emu:
        stack = setup_stack(emu, "taskexport", runtime_params={"jobTimeoutMinutes": 120})
        result = run_workflow(asl.build_definition(stack.refs), role_arn=stack.role_arn,
                              name=stack.refs.state_machine_name, execution_name="run-1", stack=stack)
        result.status, result.error, result.calls, result.leftovers, result.lustre
        emu.s3_objects(stack.refs.bucket_name)

Time: nothing sleeps. Wait states and Retry intervals advance an emulated clock by their
full length (so the secret can keep realistic waits, and durations measured on the
clock are realistic), and every lifecycle (file system, association, task, job attempt,
auto export queue, metric datapoints) is an event on that clock. A whole run takes
about a second of real time. ``emu.advance(seconds)`` moves the clock from a test.

What is added to moto, and where:
- ``moto_seam``: every moto internal the emulation uses and every attribute it patches (``PATCHED``, with the
  signature each patch expects); ``moto_version``: the supported moto releases, checked before moto is imported.
- ``active_emulation``: the innermost active ``Emulation``, read by the extensions without importing ``core``.
- ``clock``: the emulated clock and its scheduled events.
- ``scenario``: what the emulated AWS does (outcomes, durations, injected faults).
- ``sfn``: Step Functions interpreter patches (time, SDK casing, error names, JSONPath,
  States.ALL vs States.Runtime, call log, faults).
- ``fsx`` / ``fsx_api``: Lustre lifecycles, data repository associations and tasks, file
  contents, export to S3; wired into moto's FSx backend and responses.
- ``batch``: jobs and array jobs without docker (attempts, retry strategy, files written onto the
  Lustre file system the launch template mounts), compute environment states (UPDATING, VALID,
  INVALID), hosts that boot, mount in their user data, or shut down (terminated or stopped); its parts
  ``batch_records``, ``batch_environments``, ``batch_hosts`` (with ``host_user_data``), ``batch_jobs``, ``batch_api``.
- ``batch_sync``: Step Functions' ``submitJob.sync`` integration on the emulated clock.
- ``iam`` (with ``iam_policy``, ``iam_requests``): every call of a state machine or a Lambda authorised against its role's policies, plus
  the checks AWS makes beyond the called action (FSx's S3 access check, service-linked roles).
- ``events``: "Step Functions Execution Status Change" events delivered to EventBridge rules.
- ``error_names``: the one table of error names the emulation raises, each with its source.
- ``lambdas``: Lambda invoke runs the real handler from ``lambda/`` in-process.
- ``metrics``: AgeOfOldestQueuedMessage datapoints from the auto export queue.
- ``core``: ``Emulation``, the context that installs and removes all of the above.
- ``stack``: the stack's resources in moto, and the ``WorkflowRefs`` to build the definition from.
- ``runner``: run a definition; status, timeline, calls, leftovers, the file system's lifetime (``figures``).
- ``environment``: fake credentials and no real account for the emulation's duration (no moto import).
- ``catalogue``: the named scenarios (demo, ``batch-lustre scenarios``, tests) and what each must end with.
- ``catalogue_run``: run one scenario of the catalogue on a fresh stack; judge it against its expectation
  and the rules every run keeps.
"""

import importlib
from typing import Any

# Names are imported from their modules on first use, so that ``emulation.environment`` can be
# imported (and entered) before moto is.
_EXPORTS = {
    "Emulation": "batch_lustre.emulation.core",
    "active": "batch_lustre.emulation.active_emulation",
    "LustreLifetime": "batch_lustre.emulation.runner",
    "RunResult": "batch_lustre.emulation.runner",
    "StartedRun": "batch_lustre.emulation.runner",
    "StateVisit": "batch_lustre.emulation.runner",
    "finish_workflow": "batch_lustre.emulation.runner",
    "run_workflow": "batch_lustre.emulation.runner",
    "start_workflow": "batch_lustre.emulation.runner",
    "BatchScenario": "batch_lustre.emulation.scenario",
    "Fault": "batch_lustre.emulation.scenario",
    "FsxScenario": "batch_lustre.emulation.scenario",
    "JobAttempt": "batch_lustre.emulation.scenario",
    "MetricsScenario": "batch_lustre.emulation.scenario",
    "Scenario": "batch_lustre.emulation.scenario",
    "EmulatedStack": "batch_lustre.emulation.stack",
    "runtime_parameters": "batch_lustre.emulation.stack",
    "setup_stack": "batch_lustre.emulation.stack",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'emulation' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
