"""Named emulation scenarios for ``demo --scenario NAME``: what the emulated AWS does in the run.

Each entry builds an ``emulation.Scenario`` and says which modes it applies to, which runtime
parameters it sets (short timeouts, so a never-ending wait ends in a few emulated hours) and
what the run should end with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from emulation import BatchScenario, Fault, FsxScenario, MetricsScenario, Scenario
from emulation import scenario as sc
from parameters import AUTO_EXPORT, MODES, TASK_EXPORT


@dataclass(frozen=True)
class NamedScenario:
    description: str
    build: Callable[[], Scenario]
    modes: tuple[str, ...] = MODES
    runtime_params: Mapping[str, Any] = field(default_factory=dict)
    expected: str = "SUCCEEDED"  # the run's status, or "FAILED: <Error>"


SCENARIOS: dict[str, NamedScenario] = {
    "success": NamedScenario(
        "everything works: file system, job, export, cleanup", Scenario),
    "job-fails": NamedScenario(
        "the job's container exits with code 3: its results are exported, then the run fails",
        lambda: Scenario(batch=BatchScenario.app_error(3)), expected="FAILED: JobFailed"),
    "spot-reclaimed-then-succeeds": NamedScenario(
        "the Spot instance is reclaimed twice; Batch retries the job, which then succeeds",
        lambda: Scenario(batch=BatchScenario.host_ec2_then_succeeds(2))),
    "spot-reclaimed-always": NamedScenario(
        "every attempt loses its Spot instance: the job fails after jobDefinitionRetryAttempts",
        lambda: Scenario(batch=BatchScenario.host_ec2_always()), runtime_params={"jobDefinitionRetryAttempts": 3},
        expected="FAILED: JobFailed"),
    "throttled": NamedScenario(
        "CreateFileSystem is throttled twice, then accepted (the state machine retries)",
        lambda: Scenario(faults=[Fault("fsx:createFileSystem", "ThrottlingException", times=2)])),
    "file-system-fails": NamedScenario(
        "the file system becomes FAILED while being created: nothing ran, nothing to keep",
        lambda: Scenario(fsx=FsxScenario(outcome=sc.FS_FAILED)), expected="FAILED: FileSystemFailed"),
    "file-system-refused": NamedScenario(
        "CreateFileSystem is refused (service quota): the run fails before creating anything",
        lambda: Scenario(fsx=FsxScenario(create_error=("ServiceLimitExceeded", "Total storage limit reached"))),
        expected="FAILED"),
    "file-system-never-available": NamedScenario(
        "the file system stays CREATING: the run gives up after lustreCreationTimeoutMinutes and deletes it",
        lambda: Scenario(fsx=FsxScenario(outcome=sc.FS_NEVER_AVAILABLE)),
        runtime_params={"lustreCreationTimeoutMinutes": 30, "waitForLustreCreationSeconds": 120},
        expected="FAILED: LustreCreationTimedOut"),
    "association-misconfigured": NamedScenario(
        "the data repository association is MISCONFIGURED for 10 minutes, then AVAILABLE",
        lambda: Scenario(fsx=FsxScenario(association_outcome=sc.DRA_MISCONFIGURED_THEN_AVAILABLE))),
    "association-fails": NamedScenario(
        "the data repository association becomes FAILED: the run fails before the job",
        lambda: Scenario(fsx=FsxScenario(association_outcome=sc.DRA_FAILED)),
        expected="FAILED: DataRepositoryAssociationFailed"),
    "compute-update-refused": NamedScenario(
        "Batch refuses to switch the compute environment to the run's launch template",
        lambda: Scenario(batch=BatchScenario(update_compute_environment_error="Cannot update: environment INVALID")),
        expected="FAILED"),
    "export-fails": NamedScenario(
        "the export task FAILS: the file system is kept, as its data is not provably in S3",
        lambda: Scenario(fsx=FsxScenario(export_outcome="FAILED")), modes=(TASK_EXPORT,),
        expected="FAILED: ExportNotConfirmed"),
    "export-misses-files": NamedScenario(
        "the export task SUCCEEDS but could not export some files: the file system is kept",
        lambda: Scenario(fsx=FsxScenario(export_outcome="SUCCEEDED_WITH_FAILED_FILES")), modes=(TASK_EXPORT,),
        expected="FAILED: ExportNotConfirmed"),
    "no-metrics": NamedScenario(
        "the export-queue metric has no datapoints: the run waits lambdaTimeDiffMinutes of quiet, then succeeds",
        lambda: Scenario(metrics=MetricsScenario(behaviour=sc.METRIC_NONE)), modes=(AUTO_EXPORT,)),
    "export-queue-stuck": NamedScenario(
        "the auto export queue never drains: the run gives up after exportTimeoutMinutes and keeps the file system",
        lambda: Scenario(metrics=MetricsScenario(behaviour=sc.METRIC_NEVER_ZERO)), modes=(AUTO_EXPORT,),
        runtime_params={"exportTimeoutMinutes": 60, "waitForCheckMetricsSeconds": 300},
        expected="FAILED: ExportNotConfirmed"),
}


def scenario_names(mode: str | None = None) -> list[str]:
    """Scenario names, of ``mode`` only if given."""
    return [name for name, s in SCENARIOS.items() if mode is None or mode in s.modes]
