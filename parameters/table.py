"""The table of every parameter of both modes: its seed name (camelCase), type, default per mode, the modes it
belongs to, whether it can be changed at run time (through the Secrets Manager secret) and the rule its value must
follow; and the modes and the data repository event types the association imports and, with ``autoExport``,
exports (used by ``asl/``, the Lambda and the emulation)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .derived_names import ENV_NAME_MAX_LENGTH, env_name_words
from .text import ParameterError

TASK_EXPORT = "taskexport"
AUTO_EXPORT = "autoexport"
MODES = (TASK_EXPORT, AUTO_EXPORT)


# Data repository event types (FSx API, AutoImportPolicy / AutoExportPolicy Events): a file new in, changed in or
# deleted from the file system (export) or the bucket (import).
EVENT_NEW = "NEW"
EVENT_CHANGED = "CHANGED"
EVENT_DELETED = "DELETED"
DATA_REPOSITORY_EVENTS = (EVENT_NEW, EVENT_CHANGED, EVENT_DELETED)


@dataclass(frozen=True)
class Parameter:
    """One parameter: its name as in the seeds, type, defaults and rule."""

    name: str
    kind: str  # "bool" | "int" | "str" | "str_list"
    defaults: Mapping[str, Any]  # mode -> default (a mode absent: not a parameter of it)
    runtime_modes: frozenset[str]  # modes in which the secret carries it
    accepted: str  # what is accepted, in words, for error messages
    check: Callable[[Any], bool] | None = None
    description: str = ""

    def applies_to(self, mode: str) -> bool:
        return mode in self.defaults

    def is_runtime(self, mode: str) -> bool:
        return mode in self.runtime_modes

    @property
    def accepted_words(self) -> str:
        """What is accepted, in words: ``accepted``, or what the kind takes."""
        return self.accepted or {"bool": "true or false", "int": "an integer"}.get(self.kind, "a string")


_BOTH = frozenset(MODES)
_TASK_ONLY = frozenset({TASK_EXPORT})
_AUTO_ONLY = frozenset({AUTO_EXPORT})
_NONE: frozenset[str] = frozenset()


def _both(value: Any) -> dict[str, Any]:
    return {TASK_EXPORT: value, AUTO_EXPORT: value}


def _int_range(low: int, high: int) -> tuple[str, Callable[[int], bool]]:
    return f"an integer from {low} to {high}", lambda v: low <= v <= high


def _scratch2_capacity(value: int) -> bool:
    # FSx API Reference, CreateFileSystem: SCRATCH_2 takes 1200, 2400 or a multiple of 2400 GiB.
    return value in (1200, 2400) or (value > 0 and value % 2400 == 0)


_ENV_NAME = re.compile(rf"[A-Za-z][A-Za-z0-9-]{{0,{ENV_NAME_MAX_LENGTH - 1}}}")
# An S3 key prefix a data repository association links (README "Your data"): segments of letters, digits and
# ! - _ . * ( ) (S3 User Guide, "Naming Amazon S3 objects": its safe characters but the quote, which Step Functions'
# States.Format would need escaped), each followed by "/", none "." or "..", at most 512 characters.
_KEY_PREFIX = re.compile(r"(?=.{2,512}\Z)(?:(?!\.{1,2}/)[A-Za-z0-9!_.*()-]+/)+")
# ECR CreateRepository repositoryName pattern.
_ECR_NAME = re.compile(r"(?=.{2,256}\Z)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
_INSTANCE_TYPE = re.compile(r"optimal|default_x86_64|default_arm64|[a-z0-9-]+(\.[a-z0-9-]+)?")

# CloudWatch Logs PutRetentionPolicy / CreateLogGroup retentionInDays: the only values the API accepts (CloudWatch Logs
# API Reference, PutRetentionPolicy; the same list in botocore's model documentation).
# fmt: off
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)
# fmt: on

# AWS Batch User Guide, "AWS Batch service quotas": 50 compute environments and 50 job queues per Region, not
# adjustable. Each lane (maxConcurrentRuns) is one of each.
MAX_LANES = 50

_wait = _int_range(1, 3600)
_timeout = _int_range(1, 10080)

PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "envName",
        "str",
        {TASK_EXPORT: "TaskExport", AUTO_EXPORT: "AutoExport"},
        _NONE,
        env_name_words(),
        lambda v: _ENV_NAME.fullmatch(v) is not None,
        "environment name: in lower case, the prefix of every resource name",
    ),
    Parameter(
        "ecrRepositoryName",
        "str",
        _both(""),
        _NONE,
        '"" (<envName in lower case>-<stack name in lower case>) or an ECR repository name (2-256 lowercase '
        "letters, digits, . _ - /)",
        lambda v: v == "" or _ECR_NAME.fullmatch(v) is not None,
        "ECR repository the stack creates; the job runs its image <repository URL>:<imageTag> (imageTag: a run's "
        "input, default latest). The default derives from envName and the stack, so two copies of one stack file do "
        "not collide; a deployed stack keeps the name it was deployed with (set it here to keep it)",
    ),
    Parameter(
        "ecrUntaggedImageExpiryDays",
        "int",
        _both(14),
        _NONE,
        *_int_range(1, 3650),
        "days after its push an untagged image (one whose tag a later push took over) is deleted from the ECR "
        "repository by its lifecycle policy; tagged images are kept",
    ),
    Parameter(
        "protectBucket",
        "bool",
        _both(True),
        _NONE,
        "true or false",
        None,
        "Pulumi protects the data bucket (the protect resource option): no pulumi up, refresh or destroy deletes or "
        "replaces it until this is set to false and deployed",
    ),
    Parameter(
        "protectRepository",
        "bool",
        _both(False),
        _NONE,
        "true or false",
        None,
        "Pulumi protects the ECR repository (the protect resource option); off by default: its images can be pushed "
        "again, and a protected repository blocks destroy and an ecrRepositoryName change",
    ),
    Parameter(
        "computeEnvironmentType",
        "str",
        _both("SPOT"),
        _NONE,
        "",
        None,
        "what the managed Batch compute environment launches: EC2 (On-Demand) or SPOT instances (Fargate cannot "
        "mount Lustre)",
    ),
    Parameter(
        "computeEnvironmentAllocationStrategy",
        "str",
        _both("BEST_FIT_PROGRESSIVE"),
        _NONE,
        "",
        None,
        "how Batch chooses instances; it must allow the launch-template updates every run makes (each run points "
        "the compute environment at its own launch template, which mounts its file system)",
    ),
    Parameter(
        "computeEnvironmentInstanceTypes",
        "str_list",
        _both(["optimal"]),
        _NONE,
        'a non-empty list of EC2 instance types or families (e.g. ["optimal"], ["c6i", "m6i.4xlarge"])',
        lambda v: bool(v) and all(_INSTANCE_TYPE.fullmatch(t) for t in v),
        "instance types or families the compute environment may launch (optimal: Batch chooses)",
    ),
    Parameter(
        "computeEnvironmentMinvCpus",
        "int",
        _both(0),
        _NONE,
        *_int_range(0, 100000),
        "vCPUs the compute environment keeps running even when no job runs (0: none, nothing bills between runs)",
    ),
    Parameter(
        "computeEnvironmentMaxvCpus",
        "int",
        _both(256),
        _NONE,
        *_int_range(1, 100000),
        "most vCPUs the compute environment runs at once: the bound of a job's vCPUs, and "
        "of the capacity a run warms up; an array's children beyond it queue",
    ),
    Parameter(
        "computeEnvironmentDesiredvCpus",
        "int",
        _both(0),
        _NONE,
        *_int_range(0, 100000),
        "vCPUs the compute environment asks for when it is created; then Batch scales "
        "it (and each run's warm capacity raises it), and pulumi up leaves it alone",
    ),
    Parameter(
        "maxConcurrentRuns",
        "int",
        _both(1),
        _NONE,
        f"an integer from 1 to {MAX_LANES} (AWS Batch allows at most {MAX_LANES} compute environments and "
        f"{MAX_LANES} job queues per Region, a quota that cannot be raised)",
        lambda v: 1 <= v <= MAX_LANES,
        "runs that go at once: the stack deploys this many lanes, each a compute environment (with the settings "
        "above) and its job queue; a run that finds every lane taken waits for one",
    ),
    Parameter(
        "dataRepositoryInputPrefix",
        "str",
        _both(""),
        _NONE,
        '"" (the whole bucket linked at /scratch) or an S3 key prefix ending in "/" (e.g. "input/"): segments of '
        "letters, digits and ! - _ . * ( ), none . or .., at most 512 characters",
        lambda v: v == "" or _KEY_PREFIX.fullmatch(v) is not None,
        'the bucket prefix linked at /scratch/input for the inputs ("": the whole bucket at /scratch, read and '
        "written)",
    ),
    Parameter(
        "dataRepositoryResultsPrefix",
        "str",
        _both("runs/"),
        _NONE,
        'an S3 key prefix ending in "/" (e.g. "runs/"): segments of letters, digits and ! - _ . * ( ), none . or '
        ".., at most 512 characters",
        lambda v: _KEY_PREFIX.fullmatch(v) is not None,
        "with an input prefix: each run's /scratch/results lands under <this prefix><run name>/",
    ),
    Parameter(
        "bucketNoncurrentVersionExpiryDays",
        "int",
        _both(0),
        _NONE,
        "0 (keep earlier versions forever) or a number of days from 1 to 36500",
        lambda v: 0 <= v <= 36500,
        "days the bucket keeps an object's earlier version after a newer version or a delete replaced it, then "
        "deletes it (S3 lifecycle); 0: earlier versions are kept forever, so an overwritten or deleted result can "
        "always be restored",
    ),
    Parameter(
        "autoExport",
        "bool",
        {TASK_EXPORT: False, AUTO_EXPORT: True},
        _BOTH,
        "true or false",
        None,
        "the association also exports each file to S3 as it is written (auto export); it is turned off "
        "before an export task",
    ),
    Parameter(
        "deleteLustre",
        "bool",
        _both(True),
        _BOTH,
        "true or false",
        None,
        "delete the run's file system once its data is provably in S3 (false: keep it, tagged batch-lustre:kept, "
        "billing until you delete it)",
    ),
    Parameter(
        "lustreFileSystemTypeVersion",
        "str",
        _both("2.15"),
        _BOTH,
        '"2.12" or "2.15"',
        lambda v: v in ("2.12", "2.15"),
        "Lustre version of each run's file system (data repository associations need 2.12 or 2.15)",
    ),
    Parameter(
        "lustreStorageCapacity",
        "int",
        _both(2400),
        _BOTH,
        "1200, 2400 or a multiple of 2400 (GiB, SCRATCH_2)",
        _scratch2_capacity,
        "storage of each run's SCRATCH_2 file system in GiB (what it bills by)",
    ),
    Parameter(
        "lustreImportedFileChunkSize",
        "int",
        _both(1024),
        _BOTH,
        *_int_range(1, 512000),
        "stripe size in MiB of the files the association imports from the bucket "
        "(ImportedFileChunkSize: the most data of one file on one disk)",
    ),
    Parameter(
        "jobDefinitionRetryAttempts",
        "int",
        _both(5),
        _BOTH,
        *_int_range(1, 10),
        "attempts Batch makes of the job; it retries only when the host went away (Spot "
        "reclaim, host failure), never after the job's own exit",
    ),
    Parameter(
        "jobDefinitionVcpus",
        "int",
        _both(32),
        _BOTH,
        *_int_range(1, 100000),
        "vCPUs of the job (of each child of an array); a run's input vcpus overrides it",
    ),
    Parameter(
        "jobDefinitionMemory",
        "int",
        _both(30000),
        _BOTH,
        *_int_range(4, 10_000_000),
        "memory of the job in MiB (of each child of an array); a run's input memory overrides it",
    ),
    Parameter(
        "warmComputeCapacity",
        "bool",
        _both(True),
        _BOTH,
        "true or false",
        None,
        "while the file system is created, raise the compute environment's desiredvCpus to what the run needs "
        "(vCPUs x array size, at most computeEnvironmentMaxvCpus) so hosts boot and wait for the mount; a run's input "
        "warmComputeCapacity overrides it",
    ),
    Parameter(
        "waitForLustreCreationSeconds",
        "int",
        _both(30),
        _BOTH,
        *_wait,
        "longest wait in seconds between two checks of the file system, its association and the "
        "association's import task, of the compute environment, and of the association update before an export "
        "task (the checks run inside the WaitFor Lambda)",
    ),
    Parameter(
        "waitForJobCompletionSeconds",
        "int",
        _both(300),
        _BOTH,
        *_wait,
        "no longer a job poll (the job is waited on by Step Functions' .sync integration): the "
        "longest wait in seconds between the watchdog's checks that the job started, and between the checks that a "
        "terminated job stopped",
    ),
    Parameter(
        "waitForDataRepositoryTaskSeconds",
        "int",
        {TASK_EXPORT: 300},
        _TASK_ONLY,
        *_wait,
        "longest wait in seconds between two checks of the export task, and between two tries while another data "
        "repository task (the association's import) runs",
    ),
    Parameter(
        "waitForCheckMetricsSeconds",
        "int",
        {AUTO_EXPORT: 60},
        _AUTO_ONLY,
        *_wait,
        "longest wait in seconds between two reads of the export queue's metric (AgeOfOldestQueuedMessage) "
        "after the job, inside the CheckMetrics Lambda",
    ),
    Parameter(
        "lambdaPeriodSeconds",
        "int",
        {AUTO_EXPORT: 60},
        _AUTO_ONLY,
        "a multiple of 60 from 60 to 3600",
        lambda v: 60 <= v <= 3600 and v % 60 == 0,
        "period in seconds of the metric's datapoints; a datapoint counts only if its period started after the job "
        "ended",
    ),
    # At least 5 minutes: CloudWatch publishes datapoints late, and a shorter quiet window could
    # call the export done before the last files left the queue (seed: "lambdaTimeDiffMinutes").
    Parameter(
        "lambdaTimeDiffMinutes",
        "int",
        {AUTO_EXPORT: 15},
        _AUTO_ONLY,
        *_int_range(5, 1440),
        "minutes after the job's end with no datapoint before the run stops trusting the metric and exports with "
        "an export task; also the least look-back of each read",
    ),
    # Bounds on every wait: not in the seeds, which could wait forever.
    Parameter(
        "lustreCreationTimeoutMinutes",
        "int",
        _both(60),
        _BOTH,
        *_timeout,
        "bound on the wait for the file system, its association and the association's import task (the job's "
        "inputs); past it the run fails before the job",
    ),
    Parameter(
        "jobTimeoutMinutes",
        "int",
        _both(1440),
        _BOTH,
        *_timeout,
        "the job is terminated if it has not ended this long after submission, retries included (Step Functions' "
        "Task timeout, Batch's attempt timeout and an explicit terminate); the stack config's value is also how "
        "long an update of the compute environment lets running jobs run (at most 7200)",
    ),
    Parameter(
        "jobRunnableTimeoutMinutes",
        "int",
        _both(20),
        _BOTH,
        *_int_range(5, 1440),
        "a job (every child of an array) that has not started this long after submission is terminated (no "
        "capacity, hosts failing the mount): the watchdog",
    ),
    # A run waiting in line checks every LANE_WAIT_SECONDS (parameters/history_budget.py) and each check may cost a
    # turn of the lane loop in the history (a lost race goes back to the check): 6 hours is 365 checks, at most about
    # 16,800 events, which with the other loops at their defaults stays under the 25,000-event history (taskexport's
    # worst case 23,750). The default, an hour (64 checks), keeps the defaults' worst case under 10,000 events and
    # leaves room for the other loops' longer bounds.
    Parameter(
        "laneWaitTimeoutMinutes",
        "int",
        _both(60),
        _BOTH,
        *_int_range(1, 360),
        "how long a run waits in line for a lane (every lane held by another run) before it fails with "
        "NoLaneAvailable, having created nothing",
    ),
    # autoexport checks the metric every waitForCheckMetricsSeconds (60 s): 240 minutes is 245 checks, in about 35
    # CheckMetrics invocations (parameters.history_costs).
    Parameter(
        "exportTimeoutMinutes",
        "int",
        {TASK_EXPORT: 720, AUTO_EXPORT: 240},
        _BOTH,
        *_timeout,
        "bound on each wait for the results to be provably in S3 (taskexport: the export task; autoexport: the "
        "metric, then a fallback export task with its own bound); an export not proven within it keeps the file "
        "system, tagged batch-lustre:kept, and the run fails saying why",
    ),
    # Read by the tools only (batch_lustre/pricing.py): the dollar cost they show for each run's file system.
    Parameter(
        "lustrePricePerGibMonthUsd",
        "str",
        _both(""),
        _NONE,
        "empty (the price table of batch_lustre/pricing.py) or USD per GiB-month of SCRATCH_2 storage, a decimal "
        'from 0.001 to 100, e.g. "0.140"',
        lambda v: v == "" or (re.fullmatch(r"[0-9]+(\.[0-9]+)?", v) is not None and 0.001 <= float(v) <= 100),
        "price the tools (demo, run, status) show each run's file system cost with; never deployed",
    ),
    # The jobs' container logs go to the stack's own log group (asl.naming.job_log_group_name), kept this long.
    Parameter(
        "jobLogRetentionDays",
        "int",
        _both(90),
        _NONE,
        "a CloudWatch Logs retention (days): " + ", ".join(map(str, LOG_RETENTION_DAYS)),
        lambda v: v in LOG_RETENTION_DAYS,
        "days the stack's log group keeps the jobs' logs (Batch's default group never expires them)",
    ),
)

BY_NAME: dict[str, Parameter] = {p.name: p for p in PARAMETERS}


def parameters_for(mode: str, runtime: bool | None = None) -> list[Parameter]:
    """Parameters of ``mode``; with ``runtime`` set, only those that are (not) in the secret."""
    check_mode(mode)
    return [p for p in PARAMETERS if p.applies_to(mode) and (runtime is None or p.is_runtime(mode) == runtime)]


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ParameterError(f"mode={mode!r} is not accepted: accepted {' or '.join(MODES)}")


def runtime_defaults(config_values: Mapping[str, Any], mode: str) -> dict[str, Any]:
    """The secret's initial content: the runtime parameters' values from validated stack config."""
    return {p.name: config_values[p.name] for p in parameters_for(mode, runtime=True)}
