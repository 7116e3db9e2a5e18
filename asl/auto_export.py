"""autoexport: after the job, prove that auto export has drained, or export what is pending with a task.

The FSx DeleteFileSystem API reference advises, before deleting, waiting for AgeOfOldestQueuedMessage to be
zero (automatic export) or running an export data repository task. "No datapoints" proves nothing (the
metric has datapoints only while the queue is active; docs/aws-rules.md). So the file system is deleted
only after one of two proofs: a 0 datapoint stamped after the job ended (``CheckMetrics`` says DRAINED), or,
when the metric cannot prove it (no datapoint for ``lambdaTimeDiffMinutes`` after the job, or still queued
at ``exportTimeoutMinutes``), auto export turned off and one EXPORT_TO_REPOSITORY task that SUCCEEDED.
"""

from __future__ import annotations

from typing import Any

from batch_lustre.program.asl.paths import PARAMS
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.asl.sections import AFTER_JOB, MARK_DATA_SAFE
from batch_lustre.program.asl.states import Graph, choice, last, wait_for, wait_for_next, waiting_rules
from batch_lustre.program.asl.task_export import add_export_task
from batch_lustre.program.asl.workflow import build

EXPORT_PENDING_FILES = "ExportPendingFiles"


def add_metric_wait(g: Graph, refs: WorkflowRefs) -> None:
    # CheckMetrics reads the metric after each wait of the "metrics" schedule, inside one invocation (as WaitFor
    # does: lambda/check_metrics.py), until the queue is proven drained or the fallback is due.
    g.add(AFTER_JOB, {"Type": "Pass", "Comment": "the job ended: prove its results are in S3", "Next": "CheckMetrics"})
    g.add(
        "CheckMetrics",
        wait_for(
            refs.check_metrics_function_arn,
            "exportQueue",
            "metrics",
            "metrics",
            {
                "fileSystemId.$": "$.fs.FileSystemId",
                "jobEndedAt.$": "$.jobEnd.EndedAt",
                "periodSeconds.$": f"{PARAMS}.lambdaPeriodSeconds",
                "timeDiffMinutes.$": f"{PARAMS}.lambdaTimeDiffMinutes",
            },
            next_state="IsExportDone",
            catch_to=EXPORT_PENDING_FILES,
            catch_path="$.metricsError",
        ),
    )
    g.add("WaitForCheckMetrics", wait_for_next("metrics", "CheckMetrics"))
    g.add(
        "IsExportDone",
        choice(
            [
                *waiting_rules("metrics", "WaitForCheckMetrics", EXPORT_PENDING_FILES),
                {"Variable": last("metrics", "state"), "StringEquals": "DRAINED", "Next": MARK_DATA_SAFE},
            ],
            # The metric cannot prove it (no datapoint since the job ended, for lambdaTimeDiffMinutes).
            EXPORT_PENDING_FILES,
        ),
    )
    add_export_task(g, refs, entry=EXPORT_PENDING_FILES)


def build_auto_export(refs: WorkflowRefs) -> dict[str, Any]:
    """The autoexport state machine definition."""
    if not refs.check_metrics_function_arn:
        raise ValueError("autoexport needs refs.check_metrics_function_arn")
    return build(
        refs,
        add_metric_wait,
        "batch-lustre autoexport: FSx for Lustre scratch for a Batch job (or array), results exported by "
        "auto export; the file system is deleted once the export queue metric shows it drained after the "
        "job, or an export task exported whatever was pending",
    )
