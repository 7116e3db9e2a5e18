"""The catalogue's scenarios of a run's preparation: the happy path and its variants, the secret, the file
system and its association.
"""

from __future__ import annotations

from batch_lustre.emulation.catalogue_base import (
    FS,
    NEVER_AVAILABLE_PARAMS,
    Expected,
    NamedScenario,
    invalid,
    malformed_json,
    secret_with,
)
from batch_lustre.emulation.scenario import (
    DRA_FAILED,
    DRA_MISCONFIGURED_THEN_AVAILABLE,
    FS_FAILED,
    FS_NEVER_AVAILABLE,
    BatchScenario,
    FsxScenario,
    Scenario,
)
from batch_lustre.program.parameters import AUTO_EXPORT

PREPARATION_SCENARIOS: dict[str, NamedScenario] = {
    # --- the happy path and its variants -------------------------------------------------------
    "success": NamedScenario(
        "everything works: file system, job, export, cleanup",
        Scenario,
        expected=Expected(says=('"FileSystemDeleted": true',)),
    ),
    "day-long-job": NamedScenario(
        "a job that runs 24 hours (jobTimeoutMinutes=1500): the run costs as many state transitions as a "
        "10-minute job, and the file system is deleted right after the export",
        lambda: Scenario(batch=BatchScenario.succeeds(run_seconds=24 * 3600.0)),
        runtime_params={"jobTimeoutMinutes": 1500},
        expected=Expected(says=('"FileSystemDeleted": true',)),
    ),
    "keep-file-system": NamedScenario(
        "deleteLustre=false: the results reach S3 and the file system is kept, as asked",
        Scenario,
        runtime_params={"deleteLustre": False},
        expected=Expected(
            keeps_file_system=True, says=('"FileSystemDeleted": false', '"Reason": "deleteLustre=false"')
        ),
    ),
    # --- the secret ---------------------------------------------------------------------------
    "invalid-capacity": NamedScenario(
        "the secret asks for lustreStorageCapacity=1000 (SCRATCH_2 takes 1200, 2400, n x 2400): refused at once",
        Scenario,
        runtime_params={"lustreStorageCapacity": 1000},
        expected=invalid("lustreStorageCapacity=1000 is not accepted", "1200, 2400"),
    ),
    "invalid-type": NamedScenario(
        'the secret holds jobDefinitionVcpus="lots" (not an integer): refused at once',
        Scenario,
        runtime_params={"jobDefinitionVcpus": "lots"},
        expected=invalid('jobDefinitionVcpus="lots" is not accepted'),
    ),
    "invalid-vcpus-over-max": NamedScenario(
        "the job asks for more vCPUs than the compute environment's maximum (it would wait forever): refused",
        Scenario,
        runtime_params={"jobDefinitionVcpus": 512},
        expected=invalid("jobDefinitionVcpus=512 is not accepted", "computeEnvironmentMaxvCpus=256"),
    ),
    "invalid-unknown-key": NamedScenario(
        "the secret holds a misspelt key (deleteLustreFs): refused, naming the accepted keys",
        Scenario,
        secret=secret_with(deleteLustreFs=False),
        expected=invalid("deleteLustreFs is not a parameter of the secret", "accepted keys"),
    ),
    "invalid-missing-key": NamedScenario(
        "the secret lacks jobTimeoutMinutes: refused, naming what is accepted",
        Scenario,
        secret=secret_with(jobTimeoutMinutes=None),
        expected=invalid("jobTimeoutMinutes is missing"),
    ),
    "invalid-auto-export-off": NamedScenario(
        "autoExport=false in the autoexport stack (nothing would reach S3): refused",
        Scenario,
        modes=(AUTO_EXPORT,),
        runtime_params={"autoExport": False},
        expected=invalid("autoExport=false is not accepted in mode autoexport"),
    ),
    "secret-not-json": NamedScenario(
        "the secret's text is not valid JSON (a hand edit gone wrong): refused, naming the position only",
        Scenario,
        secret=malformed_json,
        expected=invalid("secret content is not valid JSON", "line "),
    ),
    # --- the file system and its association --------------------------------------------------
    "file-system-fails": NamedScenario(
        "the file system becomes FAILED while being created: nothing ran, nothing to keep",
        lambda: Scenario(fsx=FsxScenario(outcome=FS_FAILED)),
        expected=Expected("FAILED", "FileSystemFailed", says=(FS, "became FAILED")),
    ),
    "file-system-refused": NamedScenario(
        "CreateFileSystem is refused (service quota): the run fails before creating anything",
        lambda: Scenario(fsx=FsxScenario(create_error=("ServiceLimitExceeded", "Total storage limit reached"))),
        expected=Expected(
            "FAILED",
            "CreateLustreFileSystemFailed",
            says=("ServiceLimitExceeded",),
            call_errors=("fsx:createFileSystem:ServiceLimitExceeded",),
            creates_nothing=True,
        ),
    ),
    "file-system-never-available": NamedScenario(
        "the file system stays CREATING: the run gives up after lustreCreationTimeoutMinutes and deletes it",
        lambda: Scenario(fsx=FsxScenario(outcome=FS_NEVER_AVAILABLE)),
        runtime_params=NEVER_AVAILABLE_PARAMS,
        expected=Expected(
            "FAILED",
            "LustreCreationTimedOut",
            says=(FS, "lustreCreationTimeoutMinutes=30", "last file system state CREATING"),
        ),
    ),
    "association-misconfigured": NamedScenario(
        "the data repository association is MISCONFIGURED for 10 minutes, then AVAILABLE: the run waits, succeeds",
        lambda: Scenario(fsx=FsxScenario(association_outcome=DRA_MISCONFIGURED_THEN_AVAILABLE)),
        expected=Expected(
            saw=(
                ("CheckDataRepositoryAssociation", "polls.fileSystem.Seen.association", "MISCONFIGURED"),
                ("CheckDataRepositoryAssociation", "polls.fileSystem.Last.AssociationLifecycle", "AVAILABLE"),
            )
        ),
    ),
    "association-fails": NamedScenario(
        "the data repository association becomes FAILED: the run fails before the job, the file system is deleted",
        lambda: Scenario(fsx=FsxScenario(association_outcome=DRA_FAILED)),
        expected=Expected("FAILED", "DataRepositoryAssociationFailed", says=(FS, "became FAILED")),
    ),
}
