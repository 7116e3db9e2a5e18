"""The workflow definition, assembled from its sections (docs/workflow-v2.md).

Shape of a run: the file system is created first; its id and mount name are all the compute side needs, so
the file system's wait and the compute environment's preparation run side by side; the job is submitted with
the optimized Batch integration that waits for it (``.sync``: no polling while it runs), next to a watchdog
that ends a job stuck before starting. Sections, in order (each module adds its states to one graph):

  asl/run_start.py           InitializeRun ... AreParametersValid
  asl/prepare.py             CreateLustreFileSystem, PrepareFileSystemAndCompute (Parallel), IsPrepared
    asl/file_system_branch.py  its branch FileSystem: file system and data repository association AVAILABLE
    asl/compute_branch.py      its branch Compute: launch template, compute environment, job definition
  asl/job.py                 RunJob (Parallel): the job branch; IsJobDone
    asl/watchdog.py            its branch Watchdog: a job stuck before starting is terminated
  AfterJob                   the variant's section (asl/task_export.py, asl/auto_export.py)
  asl/cleanup.py             NothingToExport, MarkDataSafe, Cleanup ... TagFileSystemKept
  asl/finish.py              Finish ... RunFailed, JobFailed, SummarizeRun

Shared by the sections: asl/paths.py (the state data's layout), asl/sections.py (the states where sections
meet), asl/run_resources.py (tokens and tags of per-run resources), asl/states.py (state builders).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from batch_lustre.program.asl.cleanup import add_cleanup, add_failure_before_job
from batch_lustre.program.asl.finish import add_finish
from batch_lustre.program.asl.job import add_job
from batch_lustre.program.asl.prepare import add_preparation
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.asl.run_start import add_run_start
from batch_lustre.program.asl.states import Graph


def build(refs: WorkflowRefs, add_after_job: Callable[[Graph, WorkflowRefs], None], comment: str) -> dict[str, Any]:
    """The whole definition: shared states plus the variant's ``AfterJob`` section."""
    g = Graph()
    start = add_run_start(g, refs)
    add_preparation(g, refs)
    add_job(g, refs)
    add_after_job(g, refs)
    add_failure_before_job(g)
    add_cleanup(g, refs)
    add_finish(g, refs)
    return g.render(start, comment)
