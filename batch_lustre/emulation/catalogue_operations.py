"""The catalogue's scenarios of runs that end without their own cleanup, of an operator acting on the stack
during a run, of two runs on one stack, and of two stacks in one account.
"""

from __future__ import annotations

from batch_lustre.emulation.catalogue_base import (
    ABORT_DURING_JOB,
    ABORT_WHILE_CREATING,
    BASELINE_WHILE_PREPARING,
    DEPLOY_DURING_JOB,
    DESTROY_DURING_AND_AFTER,
    FS,
    REFRESH_DURING_JOB,
    SWEEP_BESIDE_ANOTHER_STACK,
    TWO_STACKS,
    Expected,
    NamedScenario,
)
from batch_lustre.emulation.error_names import HISTORY_LIMIT_ERROR
from batch_lustre.emulation.scenario import DEFAULT_FILES, Scenario

OPERATIONS_SCENARIOS: dict[str, NamedScenario] = {
    # --- runs that end without reaching their own cleanup ----------------------------------------
    "history-limit": NamedScenario(
        "the run reaches Step Functions' execution-history limit (lowered to 80 events here) while it prepares "
        "the file system and compute: it fails at once, no Catch runs; the run-cleanup state machine deletes the "
        "file system",
        Scenario,
        history_limit=80,
        expected=Expected("FAILED", HISTORY_LIMIT_ERROR, run_cleanup="SUCCEEDED"),
    ),
    "aborted-during-job": NamedScenario(
        "a person stops the run while its job runs: the run ends ABORTED without its Cleanup; the run-cleanup state "
        "machine terminates the job, exports what it wrote, and deletes the file system",
        Scenario,
        runs=ABORT_DURING_JOB,
        expected=Expected("ABORTED", "StoppedByOperator", run_cleanup="SUCCEEDED"),
    ),
    "aborted-while-creating": NamedScenario(
        "a person stops the run while the file system is being created: nothing ran, so the run-cleanup state "
        "machine deletes the file system without an export",
        Scenario,
        runs=ABORT_WHILE_CREATING,
        expected=Expected("ABORTED", "StoppedByOperator", run_cleanup="SUCCEEDED"),
    ),
    "timed-out": NamedScenario(
        "the state machine's own time-out (TimeoutSeconds, 20 minutes here) ends the run during its job: TIMED_OUT; "
        "the run-cleanup state machine terminates the job, exports, and deletes the file system",
        Scenario,
        execution_timeout_seconds=1200,
        expected=Expected("TIMED_OUT", None, run_cleanup="SUCCEEDED"),
    ),
    # --- an operator acting on the stack during a run ---------------------------------------------
    "deploy-during-run": NamedScenario(
        "batch-lustre deploy while the job runs: refused, naming the run; forced, pulumi up sends no change "
        "and the run succeeds with its results in S3",
        Scenario,
        runs=DEPLOY_DURING_JOB,
        expected=Expected(
            says=('"FileSystemDeleted": true',),
            operator_says=("deploy refused: run {run} (arn:aws:states:", "RUNNING since", "forced: pulumi up sent no"),
        ),
    ),
    "refresh-during-run": NamedScenario(
        "batch-lustre refresh while the job runs: refused; forced, the refresh records the run's launch template "
        "and the pulumi up after it leaves it in place (ignore_changes); the run succeeds with its results in S3",
        Scenario,
        runs=REFRESH_DURING_JOB,
        expected=Expected(
            says=('"FileSystemDeleted": true',),
            operator_says=(
                "refresh refused: run {run} (arn:aws:states:",
                "forced: refresh recorded refresh ComputeEnvironment",
                "computeResources.launchTemplate.launchTemplateId",
                "forced: pulumi up sent no change",
            ),
        ),
    ),
    "destroy-leaves-nothing-billing": NamedScenario(
        "deleteLustre=false; batch-lustre destroy while the job runs: refused, naming the run; once the run has "
        "ended: refused, naming the kept file system (copy, then batch-lustre sweep), the job image in the "
        "repository, the results in the bucket and the bucket's protection (protectBucket)",
        Scenario,
        runtime_params={"deleteLustre": False},
        runs=DESTROY_DURING_AND_AFTER,
        expected=Expected(
            keeps_file_system=True,
            says=('"FileSystemDeleted": false',),
            operator_says=(
                "destroy refused: run {run} (arn:aws:states:",
                "destroy refused: 4 thing(s) of stack",
                "file system {fs} (kept by run {run}): copy what you need from it, then delete it with "
                "`batch-lustre sweep -s",
                "(holds 1 image(s)): ECR deletes no repository that holds images",
                "(holds the runs' results (objects or their versions)): S3 deletes no bucket that holds objects",
                "(protected: protectBucket=true, and pulumi destroy deletes no protected resource)",
            ),
        ),
    ),
    "job-on-baseline-host": NamedScenario(
        "a console edit puts the compute environment back on its baseline while the run prepares: the job lands on "
        "a host without the file system, where the baseline made the mount point immutable; it fails to start "
        "(nothing written to the root disk), the run fails saying so, and the file system is deleted",
        Scenario,
        runs=BASELINE_WHILE_PREPARING,
        expected=Expected(
            "FAILED",
            "JobFailed",
            says=("CannotStartContainerError", "mkdir /fsx/scratch: operation not permitted"),
            job_attempts=1,
            operator_says=("manual edit: compute environment back on its baseline launch template",),
        ),
    ),
    # --- two stacks in one account ---------------------------------------------------------------
    "two-stacks-one-account": NamedScenario(
        "two copies of the stack file (stacks dev and prod, default ecrRepositoryName) deployed in one account run "
        "at the same time, each execution named run-1: both succeed with the results in their own bucket, no call of "
        "one stack's roles touches a resource of the other's, nothing is left",
        Scenario,
        runs=TWO_STACKS,
        expected=Expected(says=('"FileSystemDeleted": true',), lands_at=tuple(DEFAULT_FILES), run_cleanup=None),
    ),
    "sweep-spares-other-stacks": NamedScenario(
        "stack dev's run kept its file system (deleteLustre=false); while stack prod's run-1 runs its job in the same "
        "account, batch-lustre sweep on dev, then sweep --force, delete dev's file system and nothing of prod's; "
        "prod's run succeeds with its results in S3",
        Scenario,
        runtime_params={"deleteLustre": False},
        runs=SWEEP_BESIDE_ANOTHER_STACK,
        expected=Expected(
            says=('"FileSystemDeleted": false',),
            run_cleanup=None,
            operator_says=(
                "sweep dev: deleted file system " + FS,
                "sweep dev --force: nothing to sweep",
            ),
        ),
    ),
}
