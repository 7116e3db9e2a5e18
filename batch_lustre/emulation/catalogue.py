"""The named scenarios: what the emulated AWS does in a run, and what the run must end with.

One catalogue for everything that runs a scenario: ``batch-lustre demo --scenario NAME``,
``batch-lustre scenarios`` and ``tests/test_scenarios.py``. Each entry says which modes it
applies to, how the emulated AWS behaves (an ``emulation.Scenario``), the secret's content
(run-time parameters, or a broken secret text), how many executions start, and per mode
what is expected: final status, Error, fragments of the Cause (or of the output), whether the
file system is kept, and what the run must have seen on its way.

The entries live in themed modules (``catalogue_preparation``, ``catalogue_results``, ``catalogue_compute``,
``catalogue_operations``, ``catalogue_lanes``), their building blocks in ``catalogue_base``; this module puts them
in one table, in that order.

The rules every run must keep whatever its scenario (no per-run launch template or job
definition left, compute environment back on its baseline, a file system kept only when
deleteLustre=false or its data is not in S3, every file the job wrote in the bucket before
DeleteFileSystem) are checked by ``emulation.catalogue_run``, not repeated here.

This module itself needs only the scenario dataclasses and ``parameters`` (importing it still loads the
``emulation`` package, hence moto: the command line imports it only when a scenario is asked for).
"""

from __future__ import annotations

from batch_lustre.emulation.catalogue_base import (
    ABORT_DURING_JOB,
    ABORT_WHILE_CREATING,
    ARRAY_FILES,
    BASELINE_WHILE_PREPARING,
    BOTH_AT_ONCE,
    BURST,
    DEPLOY_DURING_JOB,
    DESTROY_DURING_AND_AFTER,
    EARLIER_RESULTS,
    FS,
    INPUTS,
    KEPT,
    LANE_RUNS,
    PREFIX_LAYOUT,
    REFRESH_DURING_JOB,
    SECOND_WHILE_FIRST_RUNS,
    SINGLE,
    SWEEP_BESIDE_ANOTHER_STACK,
    TWO_STACKS,
    UPDATING_AT_START,
    WAIT_CALLS,
    Expected,
    NamedScenario,
    default_secret,
)
from batch_lustre.emulation.catalogue_compute import COMPUTE_SCENARIOS, wrong_mount_name
from batch_lustre.emulation.catalogue_lanes import LANE_SCENARIOS
from batch_lustre.emulation.catalogue_operations import OPERATIONS_SCENARIOS
from batch_lustre.emulation.catalogue_preparation import PREPARATION_SCENARIOS
from batch_lustre.emulation.catalogue_results import RESULTS_SCENARIOS

__all__ = [
    "ABORT_DURING_JOB",
    "ABORT_WHILE_CREATING",
    "ARRAY_FILES",
    "BASELINE_WHILE_PREPARING",
    "BOTH_AT_ONCE",
    "BURST",
    "DEPLOY_DURING_JOB",
    "DESTROY_DURING_AND_AFTER",
    "EARLIER_RESULTS",
    "FS",
    "INPUTS",
    "KEPT",
    "LANE_RUNS",
    "PREFIX_LAYOUT",
    "REFRESH_DURING_JOB",
    "SCENARIOS",
    "SECOND_WHILE_FIRST_RUNS",
    "SINGLE",
    "SWEEP_BESIDE_ANOTHER_STACK",
    "TWO_STACKS",
    "UPDATING_AT_START",
    "WAIT_CALLS",
    "Expected",
    "NamedScenario",
    "cases",
    "default_secret",
    "scenario_names",
    "wrong_mount_name",
]

SCENARIOS: dict[str, NamedScenario] = {
    **PREPARATION_SCENARIOS,
    **RESULTS_SCENARIOS,
    **COMPUTE_SCENARIOS,
    **OPERATIONS_SCENARIOS,
    **LANE_SCENARIOS,
}


def scenario_names(mode: str | None = None, *, single_run_only: bool = False) -> list[str]:
    """Scenario names, of ``mode`` only if given (and only those starting one run, if asked)."""
    return [
        name
        for name, s in SCENARIOS.items()
        if (mode is None or mode in s.modes) and (not single_run_only or s.runs == SINGLE)
    ]


def cases() -> list[tuple[str, str]]:
    """Every (scenario, mode) pair of the catalogue, in catalogue order."""
    return [(name, mode) for name, s in SCENARIOS.items() for mode in s.modes]
