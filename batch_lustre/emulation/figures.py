"""The figures of one emulated run (``RunFigures``) and their keys, in the order tools may rely on (``FIGURE_KEYS``:
``batch-lustre scenarios --json``). No moto import: the command line reads the keys without starting an emulation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass
class RunFigures:
    """The figures of one run, in emulated seconds (None: the phase did not happen)."""

    fs_lifetime_s: float | None  # CreateFileSystem accepted -> DeleteFileSystem accepted
    fs_available_before_job_s: float | None  # file system AVAILABLE -> job (first attempt / first child) RUNNING
    association_available_before_job_s: float | None  # association AVAILABLE -> the same
    # job (the parent) ended -> CreateDataRepositoryTask accepted (taskexport); autoexport: -> the first read of
    # the export-queue metric after the job ended (CheckMetrics' GetMetricData), or the fallback export task
    after_job_until_export_requested_s: float | None
    # export task SUCCEEDED (or auto export queue drained) -> DeleteFileSystem accepted
    after_export_done_until_delete_requested_s: float | None
    # the association's import task: created -> ended (grows with the objects under the linked path), and how
    # long the job waited for it after the association was AVAILABLE (0: it had ended by then)
    import_s: float | None
    import_wait_s: float | None
    transitions: int
    history_events: int
    status: str
    error: str | None


FIGURE_KEYS = tuple(field.name for field in dataclasses.fields(RunFigures))

# The line's figures of a scenario of many runs in line for lanes (emulation.catalogue_lane_runs.line_figures):
# runs that succeeded, runs refused (NoLaneAvailable), first start to last end, the quickest run's own time, their
# ratio, and the longest wait for a lane (emulated seconds). ``scenarios --json`` adds them after FIGURE_KEYS.
LINE_KEYS = (
    "runs_succeeded",
    "runs_refused",
    "makespan_s",
    "one_run_s",
    "makespan_over_one_run",
    "longest_lane_wait_s",
)
