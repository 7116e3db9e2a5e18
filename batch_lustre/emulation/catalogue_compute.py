"""The catalogue's scenarios of transient errors, the compute environment and the job's start, array jobs and
per-run inputs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from batch_lustre.emulation.catalogue_base import (
    ARRAY_FILES,
    BURST,
    QUEUE_GONE,
    UPDATE_ATTEMPTS,
    UPDATING_AT_START,
    WAIT_CALLS,
    Expected,
    NamedScenario,
    invalid,
)
from batch_lustre.emulation.scenario import (
    ATTEMPT_HOST_EC2,
    BatchScenario,
    Fault,
    JobAttempt,
    LambdaFault,
    Scenario,
)
from batch_lustre.program.asl.states import LAMBDA_RETRY_ATTEMPTS, all_states

COMPUTE_SCENARIOS: dict[str, NamedScenario] = {
    # --- transient errors -----------------------------------------------------------------------
    "throttled-describe": NamedScenario(
        "the state machine's own calls, GetSecretValue and the lane's conditional write (TakeLane), are throttled "
        "twice each: the states' Retry gets through (the status checks are WaitFor's "
        "describe calls, retried by boto3 itself)",
        lambda: Scenario(
            faults=[
                Fault("dynamodb:putItem", "ThrottlingException", times=2),
                Fault("secretsmanager:getSecretValue", "ThrottlingException", times=2),
            ]
        ),
        expected=Expected(
            call_errors=("dynamodb:putItem:ThrottlingException", "secretsmanager:getSecretValue:ThrottlingException")
        ),
    ),
    "throttled-create": NamedScenario(
        "CreateFileSystem is throttled twice, then accepted (retried with the same client token: one file system)",
        lambda: Scenario(faults=[Fault("fsx:createFileSystem", "ThrottlingException", times=2)]),
        expected=Expected(call_errors=("fsx:createFileSystem:ThrottlingException",)),
    ),
    "throttled-waits": NamedScenario(
        "every describe call of the waits (file system, association, compute environment, job start, export task or "
        "export-queue metric) is throttled or answered 5xx six times in a row, more than boto3's own 3 attempts "
        "absorb: each wait counts them as not known yet and goes on; and Lambda refuses the run's first six "
        "invocations (its invocation limit), retried as AWS recommends; the run succeeds and deletes the file system",
        lambda: Scenario(
            lambda_faults=[LambdaFault(call, BURST) for call in WAIT_CALLS],
            faults=[Fault("lambda:invoke", "TooManyRequestsException", times=LAMBDA_RETRY_ATTEMPTS, status_code=429)],
        ),
        expected=Expected(
            says=('"FileSystemDeleted": true',),
            call_errors=("lambda:invoke:TooManyRequestsException",),
            saw=(
                ("CheckFileSystemStatus", "polls.fileSystem.Transient.count", 2),
                ("CheckComputeEnvironment", "polls.computeEnvironment.Transient.count", 2),
            ),
        ),
    ),
    "submit-rejected": NamedScenario(
        "Batch refuses SubmitJob (the job queue is gone): the job branch fails at once and the watchdog stops with "
        "it; nothing ran, so nothing is exported; the file system is deleted and the run fails naming Batch's reason",
        lambda: Scenario(faults=[Fault("batch:submitJob", "ClientException", QUEUE_GONE)]),
        expected=Expected(
            "FAILED",
            "JobRefused",
            says=("Batch refused to submit job", QUEUE_GONE),
            call_errors=("batch:submitJob:ClientException",),
        ),
    ),
    # --- the compute environment and the job's start ---------------------------------------------
    "update-answer-lost": NamedScenario(
        "Batch switches the compute environment to the run's launch template, but every answer is lost (HTTP 500 "
        "after the change, every attempt): the run fails as the update failed, and Cleanup still puts the "
        "compute environment back on its baseline before it deletes the run's launch template",
        lambda: Scenario(
            faults=[
                Fault(
                    "batch:updateComputeEnvironment",
                    "ServerException",
                    "We encountered an internal error",
                    times=UPDATE_ATTEMPTS,
                    status_code=500,
                    took_effect=True,
                )
            ]
        ),
        expected=Expected(
            "FAILED",
            "UpdateComputeEnvironmentFailed",
            call_errors=("batch:updateComputeEnvironment:ServerException",),
        ),
    ),
    "compute-environment-updating": NamedScenario(
        "the run starts while the compute environment is still UPDATING (a previous run's restore), and Batch "
        "refuses an update then (not documented either way): the run waits until it is VALID, then switches it to "
        "its launch template and succeeds",
        lambda: Scenario(batch=BatchScenario(refuse_update_while_updating=True)),
        runs=UPDATING_AT_START,
        expected=Expected(
            saw=(("CheckComputeEnvironmentIdle", "polls.computeEnvironment.Seen.computeEnvironmentIdle", "UPDATING"),)
        ),
    ),
    "compute-environment-invalid": NamedScenario(
        "the compute environment goes INVALID on the run's launch template: the run fails at once, before submitting "
        "a job that could never start, and deletes the file system",
        lambda: Scenario(batch=BatchScenario.compute_environment_invalid()),
        expected=Expected("FAILED", "ComputeEnvironmentInvalid", says=("INVALID",)),
    ),
    "no-capacity": NamedScenario(
        "no instance can be had (capacity): the job stays RUNNABLE; after jobRunnableTimeoutMinutes it is "
        "terminated and the file system deleted, instead of billing until jobTimeoutMinutes",
        lambda: Scenario(batch=BatchScenario.no_capacity()),
        expected=Expected("FAILED", "JobStuckRunnable", says=("jobRunnableTimeoutMinutes=20",)),
    ),
    "mount-fails": NamedScenario(
        "every host fails to mount the file system (here: a wrong mount name in the launch template): each host "
        "shuts itself down and is terminated, not stopped; the job never starts and is ended after "
        "jobRunnableTimeoutMinutes",
        Scenario,
        definition_change=lambda d: wrong_mount_name(d),
        expected=Expected("FAILED", "JobStuckRunnable", says=("jobRunnableTimeoutMinutes=20",)),
    ),
    # --- array jobs and per-run inputs -----------------------------------------------------------
    "array-1000": NamedScenario(
        "an array job of 1,000 children sharing the file system, each writing its own results: every child's "
        "output reaches S3",
        lambda: Scenario(batch=BatchScenario(files=dict(ARRAY_FILES))),
        execution_input={"arraySize": 1000},
        expected=Expected(says=('"arraySize": 1000',)),
    ),
    "array-children-fail": NamedScenario(
        "3 of 100 children exit with code 2: the results are exported, the run fails naming how many failed and "
        "the first ones with their exit code",
        lambda: Scenario(
            batch=dataclasses.replace(
                BatchScenario.array_children_fail([7, 42, 99], exit_code=2), files=dict(ARRAY_FILES)
            )
        ),
        execution_input={"arraySize": 100},
        expected=Expected("FAILED", "JobFailed", says=("3 of 100", "#7", "exit code 2")),
    ),
    "array-spot-reclaimed": NamedScenario(
        "Spot reclaims hit 5 of 200 children once each: Batch retries them (Host EC2 ...), the array succeeds",
        lambda: Scenario(
            batch=BatchScenario(
                files=dict(ARRAY_FILES),
                child_attempts={
                    i: [JobAttempt(ATTEMPT_HOST_EC2, run_seconds=120.0), JobAttempt()] for i in (0, 50, 100, 150, 199)
                },
            )
        ),
        execution_input={"arraySize": 200},
        expected=Expected(says=('"arraySize": 200',)),
    ),
    "overrides": NamedScenario(
        "the run's input overrides the command, an environment variable, vCPUs and memory, and the image tag",
        Scenario,
        execution_input={
            "command": ["python", "simulate.py", "--steps", "10"],
            "environment": {"CASE": "a1"},
            "vcpus": 8,
            "memory": 16000,
            "imageTag": "v2",
        },
        job_image_tags=("latest", "v2"),
    ),
    "invalid-override": NamedScenario(
        "the run's input asks for an array of 20,000 children (at most 10,000): refused before anything is created",
        Scenario,
        execution_input={"arraySize": 20000},
        expected=invalid("arraySize=20000 is not accepted"),
    ),
    "job-image-not-pushed": NamedScenario(
        "the run asks for image tag v3, which was never pushed to the stack's repository: the run fails at its "
        "start, naming the image, before anything is created",
        Scenario,
        execution_input={"imageTag": "v3"},
        expected=Expected(
            "FAILED", "JobImageNotFound", says=(":v3 is not in the repository: push it",), creates_nothing=True
        ),
    ),
}


def wrong_mount_name(definition: dict[str, Any]) -> None:
    """The launch template mounts a name the file system does not answer to (as a wrong MountName would)."""
    data = all_states(definition)["CreateLaunchTemplate"]["Parameters"]["LaunchTemplateData"]
    data["UserData.$"] = data["UserData.$"].replace("$.fs.MountName", "$.fs.FileSystemId")
