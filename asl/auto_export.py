"""autoexport: after the job, wait until the CloudWatch export-queue metric says auto export has drained."""

from __future__ import annotations

from typing import Any

from asl.common import AFTER_JOB, CLEANUP, DERIVED, MARK_DATA_SAFE, PARAMS, build
from asl.refs import WorkflowRefs
from asl.states import Graph, choice, count_poll, invoke_lambda, pass_parameters, poll_bound, wait


def add_metric_wait(g: Graph, refs: WorkflowRefs) -> None:
    g.add(AFTER_JOB, wait(f"{PARAMS}.waitForCheckMetricsSeconds", "CheckMetrics"))
    g.add("CheckMetrics", invoke_lambda(
        refs.check_metrics_function_arn,
        {
            "fileSystemId.$": "$.fs.FileSystemId",
            "jobEndedAt.$": "$.jobStatus.CheckedAt",
            "now.$": "$$.State.EnteredTime",
            "periodSeconds.$": f"{PARAMS}.lambdaPeriodSeconds",
            "timeDiffMinutes.$": f"{PARAMS}.lambdaTimeDiffMinutes",
        },
        next_state="IsExportDone", result_path="$.metrics",
        result_selector={"exportDone.$": "$.Payload.exportDone", "reason.$": "$.Payload.reason"},
        catch_to="MetricsUnreadable", catch_path="$.exportError",
    ))
    g.add("MetricsUnreadable", pass_parameters(
        {"Reason.$": "States.Format('the export queue metric could not be read: {}', $.exportError.Cause)"},
        "$.keep", CLEANUP,
    ))
    g.add("IsExportDone", choice(
        [{"Variable": "$.metrics.exportDone", "BooleanEquals": True, "Next": MARK_DATA_SAFE}],
        "CountExportPoll",
    ))
    g.add("CountExportPoll", count_poll("export", "IsExportWaitOver"))
    g.add("IsExportWaitOver", poll_bound("export", f"{DERIVED}.maxExportPolls", "ExportTimedOut", AFTER_JOB))
    g.add("ExportTimedOut", pass_parameters(
        {"Reason.$": "States.Format('auto export had not drained after exportTimeoutMinutes={} ({})', "
                     f"{PARAMS}.exportTimeoutMinutes, $.metrics.reason)"},
        "$.keep", CLEANUP,
    ))


def build_auto_export(refs: WorkflowRefs) -> dict[str, Any]:
    """The autoexport state machine definition."""
    if not refs.check_metrics_function_arn:
        raise ValueError("autoexport needs refs.check_metrics_function_arn")
    return build(refs, add_metric_wait,
                 "batch-lustre autoexport: FSx for Lustre scratch for one Batch job, results exported by auto "
                 "export, file system deleted once the export queue metric shows it drained")
