"""Offline emulated AWS (moto plus what moto lacks) on which the real state machines run end to end.

What is added to moto, and where:
- ``clock``: emulated time; Wait states and lifecycles run on it, nothing sleeps.
- ``sfn``: Step Functions interpreter patches (time, SDK casing, error names, call log, faults).
- ``fsx`` / ``fsx_api``: Lustre lifecycles, data repository associations and tasks, file contents, export.
- ``batch``: jobs without docker (attempts, retry strategy, files written onto Lustre), CE updates.
- ``lambdas``: Lambda invoke runs the real handler from ``lambda/`` in-process.
- ``metrics``: AgeOfOldestQueuedMessage datapoints from the auto export queue.
- ``stack``: the stack's resources in moto, and the ``WorkflowRefs`` to build the definition from.
- ``runner``: run a definition, get status, timeline, calls, leftovers and the file system's lifetime.
"""

from emulation.core import Emulation, active
from emulation.runner import LustreLifetime, RunResult, StateVisit, run_workflow
from emulation.scenario import (
    BatchScenario,
    Fault,
    FsxScenario,
    JobAttempt,
    MetricsScenario,
    Scenario,
)
from emulation.stack import EmulatedStack, runtime_parameters, setup_stack

__all__ = [
    "BatchScenario",
    "EmulatedStack",
    "Emulation",
    "Fault",
    "FsxScenario",
    "JobAttempt",
    "LustreLifetime",
    "MetricsScenario",
    "RunResult",
    "Scenario",
    "StateVisit",
    "active",
    "run_workflow",
    "runtime_parameters",
    "setup_stack",
]
