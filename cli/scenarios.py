"""Named emulation scenarios for ``demo --scenario NAME``: what the emulated AWS does in the run.

Each entry builds an ``emulation.Scenario`` and says which modes it applies to, which runtime
parameters it sets (short timeouts, so a never-ending wait ends in a few emulated hours) and
what the run should end with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from parameters import AUTO_EXPORT, MODES, TASK_EXPORT

# emulation (and moto) is imported only when a scenario is built: the rest of the command line does not
# need it, and moto cannot even be imported while AWS_PROFILE names a profile this machine lacks.


@dataclass(frozen=True)
class NamedScenario:
    description: str
    scenario: Callable[[Any], Any]  # emulation module -> emulation.Scenario
    modes: tuple[str, ...] = MODES
    runtime_params: Mapping[str, Any] = field(default_factory=dict)
    expected: str = "SUCCEEDED"  # the run's status, or "FAILED: <Error>"


SCENARIOS: dict[str, NamedScenario] = {
    "success": NamedScenario(
        "everything works: file system, job, export, cleanup", lambda em: em.Scenario()),
    "job-fails": NamedScenario(
        "the job's container exits with code 3: its results are exported, then the run fails",
        lambda em: em.Scenario(batch=em.BatchScenario.app_error(3)), expected="FAILED: JobFailed"),
    "spot-reclaimed-then-succeeds": NamedScenario(
        "the Spot instance is reclaimed twice; Batch retries the job, which then succeeds",
        lambda em: em.Scenario(batch=em.BatchScenario.host_ec2_then_succeeds(2))),
    "spot-reclaimed-always": NamedScenario(
        "every attempt loses its Spot instance: the job fails after jobDefinitionRetryAttempts",
        lambda em: em.Scenario(batch=em.BatchScenario.host_ec2_always()), runtime_params={"jobDefinitionRetryAttempts": 3},
        expected="FAILED: JobFailed"),
    "throttled": NamedScenario(
        "CreateFileSystem is throttled twice, then accepted (the state machine retries)",
        lambda em: em.Scenario(faults=[em.Fault("fsx:createFileSystem", "ThrottlingException", times=2)])),
    "file-system-fails": NamedScenario(
        "the file system becomes FAILED while being created: nothing ran, nothing to keep",
        lambda em: em.Scenario(fsx=em.FsxScenario(outcome=em.scenario.FS_FAILED)), expected="FAILED: FileSystemFailed"),
    "file-system-refused": NamedScenario(
        "CreateFileSystem is refused (service quota): the run fails before creating anything",
        lambda em: em.Scenario(fsx=em.FsxScenario(create_error=("ServiceLimitExceeded", "Total storage limit reached"))),
        expected="FAILED"),
    "file-system-never-available": NamedScenario(
        "the file system stays CREATING: the run gives up after lustreCreationTimeoutMinutes and deletes it",
        lambda em: em.Scenario(fsx=em.FsxScenario(outcome=em.scenario.FS_NEVER_AVAILABLE)),
        runtime_params={"lustreCreationTimeoutMinutes": 30, "waitForLustreCreationSeconds": 120},
        expected="FAILED: LustreCreationTimedOut"),
    "association-misconfigured": NamedScenario(
        "the data repository association is MISCONFIGURED for 10 minutes, then AVAILABLE",
        lambda em: em.Scenario(fsx=em.FsxScenario(association_outcome=em.scenario.DRA_MISCONFIGURED_THEN_AVAILABLE))),
    "association-fails": NamedScenario(
        "the data repository association becomes FAILED: the run fails before the job",
        lambda em: em.Scenario(fsx=em.FsxScenario(association_outcome=em.scenario.DRA_FAILED)),
        expected="FAILED: DataRepositoryAssociationFailed"),
    "compute-update-refused": NamedScenario(
        "Batch refuses to switch the compute environment to the run's launch template",
        lambda em: em.Scenario(batch=em.BatchScenario(update_compute_environment_error="Cannot update: environment INVALID")),
        expected="FAILED"),
    "export-fails": NamedScenario(
        "the export task FAILS: the file system is kept, as its data is not provably in S3",
        lambda em: em.Scenario(fsx=em.FsxScenario(export_outcome="FAILED")), modes=(TASK_EXPORT,),
        expected="FAILED: ExportNotConfirmed"),
    "export-misses-files": NamedScenario(
        "the export task SUCCEEDS but could not export some files: the file system is kept",
        lambda em: em.Scenario(fsx=em.FsxScenario(export_outcome="SUCCEEDED_WITH_FAILED_FILES")), modes=(TASK_EXPORT,),
        expected="FAILED: ExportNotConfirmed"),
    "no-metrics": NamedScenario(
        "the export-queue metric has no datapoints: the run waits lambdaTimeDiffMinutes of quiet, then succeeds",
        lambda em: em.Scenario(metrics=em.MetricsScenario(behaviour=em.scenario.METRIC_NONE)), modes=(AUTO_EXPORT,)),
    "export-queue-stuck": NamedScenario(
        "the auto export queue never drains: the run gives up after exportTimeoutMinutes and keeps the file system",
        lambda em: em.Scenario(metrics=em.MetricsScenario(behaviour=em.scenario.METRIC_NEVER_ZERO)), modes=(AUTO_EXPORT,),
        runtime_params={"exportTimeoutMinutes": 60, "waitForCheckMetricsSeconds": 300},
        expected="FAILED: ExportNotConfirmed"),
}


def build(named: NamedScenario) -> Any:
    """The ``emulation.Scenario`` of ``named``."""
    import emulation
    import emulation.scenario  # noqa: F401  (constants such as FS_FAILED)

    return named.scenario(emulation)


def scenario_names(mode: str | None = None) -> list[str]:
    """Scenario names, of ``mode`` only if given."""
    return [name for name, s in SCENARIOS.items() if mode is None or mode in s.modes]
