"""The catalogue's scenarios of the Batch job's outcome and of getting its results into S3."""

from __future__ import annotations

from batch_lustre.emulation.catalogue_base import (
    EARLIER_RESULTS,
    FS,
    INPUTS,
    KEPT,
    PREFIX_LAYOUT,
    QUEUE_STUCK_PARAMS,
    Expected,
    NamedScenario,
)
from batch_lustre.emulation.scenario import (
    DEFAULT_FILES,
    METRIC_NEVER_ZERO,
    METRIC_NONE,
    BatchScenario,
    FsxScenario,
    MetricsScenario,
    Scenario,
)
from batch_lustre.program.asl.naming import FILE_SYSTEM_PATH
from batch_lustre.program.parameters import AUTO_EXPORT, TASK_EXPORT

RESULTS_SCENARIOS: dict[str, NamedScenario] = {
    # --- Batch ----------------------------------------------------------------------------------
    "compute-update-refused": NamedScenario(
        "Batch refuses to switch the compute environment to the run's launch template",
        lambda: Scenario(batch=BatchScenario(update_compute_environment_error="Cannot update: environment INVALID")),
        expected=Expected(
            "FAILED",
            "UpdateComputeEnvironmentFailed",
            says=("Cannot update: environment INVALID",),
            call_errors=("batch:updateComputeEnvironment:ClientException",),
        ),
    ),
    "job-fails": NamedScenario(
        "the job's container exits with code 3: its results are exported, then the run fails",
        lambda: Scenario(batch=BatchScenario.app_error(3)),
        expected=Expected(
            "FAILED", "JobFailed", says=("exit code 3", "Its results were exported before cleanup"), job_attempts=1
        ),
    ),
    "spot-reclaimed-then-succeeds": NamedScenario(
        "the Spot instance is reclaimed twice (Host EC2 ... terminated); Batch retries the job, which then succeeds",
        lambda: Scenario(batch=BatchScenario.host_ec2_then_succeeds(2)),
        expected=Expected(job_attempts=3),
    ),
    "spot-reclaimed-always": NamedScenario(
        "every attempt loses its Spot instance: the job fails after jobDefinitionRetryAttempts=3",
        lambda: Scenario(batch=BatchScenario.host_ec2_always()),
        runtime_params={"jobDefinitionRetryAttempts": 3},
        expected=Expected("FAILED", "JobFailed", says=("Host EC2 (instance",), job_attempts=3),
    ),
    # --- getting the results into S3 ------------------------------------------------------------
    "export-fails": NamedScenario(
        "the export task FAILS: the file system is kept, as its data is not provably in S3",
        lambda: Scenario(fsx=FsxScenario(export_outcome="FAILED")),
        modes=(TASK_EXPORT,),
        expected=Expected("FAILED", "ExportNotConfirmed", says=(KEPT, "ended FAILED"), keeps_file_system=True),
    ),
    "export-misses-files": NamedScenario(
        "the export task SUCCEEDS but could not export some files: the file system is kept",
        lambda: Scenario(fsx=FsxScenario(export_outcome="SUCCEEDED_WITH_FAILED_FILES")),
        modes=(TASK_EXPORT,),
        expected=Expected(
            "FAILED", "ExportNotConfirmed", says=(KEPT, "could not export 1 files"), keeps_file_system=True
        ),
    ),
    "import-outlasts-association": NamedScenario(
        "the association's IMPORT task ends 30 minutes after the association is AVAILABLE: the job starts only "
        "after it ended, and finds every input object on /scratch",
        lambda: Scenario(
            fsx=FsxScenario(import_seconds=FsxScenario.association_seconds + 1800.0, bucket_objects=dict(INPUTS))
        ),
        expected=Expected(
            saw=(
                ("CheckImportTask", "polls.fileSystem.Seen.importTask", "EXECUTING"),
                ("CheckImportTask", "polls.fileSystem.Last.ImportLifecycle", "SUCCEEDED"),
            ),
            job_sees=tuple(f"{FILE_SYSTEM_PATH}/{key}" for key in INPUTS),
        ),
    ),
    "import-fails": NamedScenario(
        "the association's IMPORT task FAILS: the run ends before the job, naming the task; nothing ran, so the "
        "file system is deleted",
        lambda: Scenario(fsx=FsxScenario(import_outcome="FAILED")),
        expected=Expected("FAILED", "ImportFailed", says=("ended FAILED", "The import task failed")),
    ),
    "large-bucket": NamedScenario(
        "1,000,000 objects under the linked path (the seeds' layout: the whole bucket, every earlier run's results "
        "included): the import takes 500 s more, about 2,000 objects a second, and the job waits for it "
        "(figures: import_s, import_wait_s)",
        lambda: Scenario(fsx=FsxScenario(modelled_objects={"runs/": 999_000, "input/": 1_000})),
        expected=Expected(saw=(("CheckImportTask", "polls.fileSystem.Last.ImportLifecycle", "SUCCEEDED"),)),
    ),
    "large-bucket-input-prefix": NamedScenario(
        "the same bucket in a prefix layout (dataRepositoryInputPrefix=input/): only the 1,000 objects under input/ "
        "are imported, so the import wait stays the size of the inputs (figures: import_s, import_wait_s)",
        lambda: Scenario(fsx=FsxScenario(modelled_objects={"runs/": 999_000, "input/": 1_000})),
        stack_config=PREFIX_LAYOUT,
        expected=Expected(saw=(("CheckImportTask", "polls.fileSystem.Last.ImportLifecycle", "SUCCEEDED"),)),
    ),
    "prefix-layout": NamedScenario(
        "a prefix layout (dataRepositoryInputPrefix=input/, dataRepositoryResultsPrefix=runs/): the job finds the "
        "inputs under /scratch/input, its /scratch/results lands under runs/<run name>/, and an earlier run's "
        "results are neither imported nor touched",
        lambda: Scenario(fsx=FsxScenario(bucket_objects={**INPUTS, **EARLIER_RESULTS})),
        stack_config=PREFIX_LAYOUT,
        expected=Expected(
            says=('"FileSystemDeleted": true',),
            job_sees=tuple(f"{FILE_SYSTEM_PATH}/{key}" for key in INPUTS),
            lands_at=tuple(f"runs/{{run}}/{key.removeprefix('results/')}" for key in DEFAULT_FILES),
            untouched=(*INPUTS, *EARLIER_RESULTS),
        ),
    ),
    "import-running-at-export": NamedScenario(
        "an IMPORT task someone else starts on the file system runs for an hour, past the job's end: the export "
        "task waits for it and is tracked by its own TaskId",
        lambda: Scenario(fsx=FsxScenario(later_import=(120.0, 3600.0))),
        modes=(TASK_EXPORT,),
        expected=Expected(
            call_errors=("fsx:createDataRepositoryTask:DataRepositoryTaskExecuting",),
            saw=(
                ("CheckDataRepositoryTasks", "polls.export.Last.Type", "EXPORT_TO_REPOSITORY"),
                ("CheckDataRepositoryTasks", "polls.export.Last.Lifecycle", "SUCCEEDED"),
            ),
        ),
    ),
    "import-running-at-early-failure": NamedScenario(
        "the run fails before the job (compute environment update refused) while the association's IMPORT task "
        "still runs for an hour: DeleteFileSystem is refused until it ends; the run keeps asking, then deletes",
        lambda: Scenario(
            fsx=FsxScenario(import_seconds=3600.0),
            batch=BatchScenario(update_compute_environment_error="Cannot update: environment INVALID"),
        ),
        expected=Expected(
            "FAILED",
            "UpdateComputeEnvironmentFailed",
            says=("Cannot update: environment INVALID",),
            call_errors=("fsx:deleteFileSystem:BadRequest",),
        ),
    ),
    "import-outlasts-cleanup": NamedScenario(
        "as above, but the IMPORT task runs for 4 hours: after 2 hours of refused deletes the file system is "
        "left, and the run's Cause says so",
        lambda: Scenario(
            fsx=FsxScenario(import_seconds=4 * 3600.0),
            batch=BatchScenario(update_compute_environment_error="Cannot update: environment INVALID"),
        ),
        expected=Expected(
            "FAILED",
            "UpdateComputeEnvironmentFailed",
            keeps_file_system=True,
            says=(
                "Cannot update: environment INVALID",
                "file system " + FS + " was kept: DeleteFileSystem was refused",
            ),
        ),
    ),
    "no-metrics": NamedScenario(
        "the export-queue metric has no datapoints after the job: it proves nothing, so auto export is turned off "
        "and an export task exports what is pending; the file system is deleted once that task succeeded",
        lambda: Scenario(metrics=MetricsScenario(behaviour=METRIC_NONE)),
        modes=(AUTO_EXPORT,),
        expected=Expected(
            saw=(
                ("CheckMetrics", "polls.metrics.Seen.exportQueue", "UNPROVEN"),
                ("CheckDataRepositoryTasks", "polls.export.Last.Lifecycle", "SUCCEEDED"),
            )
        ),
    ),
    "no-metrics-slow-export": NamedScenario(
        "no datapoints at all and a slow auto export (30 minutes a file): quiet metrics prove nothing, so the run "
        "exports with a task instead of deleting files that are not in S3 yet",
        lambda: Scenario(
            metrics=MetricsScenario(behaviour=METRIC_NONE), fsx=FsxScenario(auto_export_latency_seconds=1800.0)
        ),
        modes=(AUTO_EXPORT,),
        expected=Expected(
            saw=(
                ("CheckMetrics", "polls.metrics.Seen.exportQueue", "UNPROVEN"),
                ("CheckDataRepositoryTasks", "polls.export.Last.Lifecycle", "SUCCEEDED"),
            )
        ),
    ),
    "late-datapoints": NamedScenario(
        "auto export is slow (15 minutes a file) and the export-queue metric's datapoints arrive 5 minutes late: the "
        "run calls the export done only once a 0 stamped after the job is seen, never earlier",
        lambda: Scenario(metrics=MetricsScenario.late(5), fsx=FsxScenario(auto_export_latency_seconds=900.0)),
        modes=(AUTO_EXPORT,),
        expected=Expected(saw=(("CheckMetrics", "polls.metrics.Seen.exportQueue", "DRAINED"),)),
    ),
    "metric-drains-after-job": NamedScenario(
        "auto export is slow (15 minutes per file): the metric is above 0 after the job, then 0; the run waits, "
        "then succeeds",
        lambda: Scenario(fsx=FsxScenario(auto_export_latency_seconds=900.0)),
        modes=(AUTO_EXPORT,),
        expected=Expected(
            saw=(
                ("CheckMetrics", "polls.metrics.Seen.exportQueue", "QUEUED"),
                ("CheckMetrics", "polls.metrics.Seen.exportQueue", "DRAINED"),
            )
        ),
    ),
    "export-queue-stuck": NamedScenario(
        "the export-queue metric never reaches 0: after exportTimeoutMinutes auto export is turned off and an "
        "export task exports what is pending; the file system is deleted once that task succeeded",
        lambda: Scenario(metrics=MetricsScenario(behaviour=METRIC_NEVER_ZERO)),
        modes=(AUTO_EXPORT,),
        runtime_params=QUEUE_STUCK_PARAMS,
        expected=Expected(
            saw=(
                ("CheckMetrics", "polls.metrics.Seen.exportQueue", "QUEUED"),
                ("CheckDataRepositoryTasks", "polls.export.Last.Lifecycle", "SUCCEEDED"),
            )
        ),
    ),
}
