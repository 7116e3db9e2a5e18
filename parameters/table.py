"""The table of every parameter of both modes: its seed name (camelCase), type, default per mode, the modes it
belongs to, whether it can be changed at run time (through the Secrets Manager secret) and the rule its value must
follow; and the modes and the data repository event types the association imports and, with ``autoExport``,
exports (used by ``asl/``, the Lambda and the emulation)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

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


_ENV_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,39}")
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

_wait = _int_range(1, 3600)
_timeout = _int_range(1, 10080)

PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "envName",
        "str",
        {TASK_EXPORT: "TaskExport", AUTO_EXPORT: "AutoExport"},
        _NONE,
        "a letter then up to 39 letters, digits or hyphens",
        lambda v: _ENV_NAME.fullmatch(v) is not None,
        "environment name, prefix of every resource name",
    ),
    Parameter(
        "ecrRepositoryName",
        "str",
        {TASK_EXPORT: "batch-job-with-lustre-task-export", AUTO_EXPORT: "batch-job-with-lustre-auto-export"},
        _NONE,
        "an ECR repository name (2-256 lowercase letters, digits, . _ - /)",
        lambda v: _ECR_NAME.fullmatch(v) is not None,
        "ECR repository the job image is pulled from",
    ),
    Parameter(
        "computeEnvironmentType",
        "str",
        _both("SPOT"),
        _NONE,
        "",
        None,
        "Batch compute resource type (EC2 or SPOT: Fargate cannot mount Lustre)",
    ),
    Parameter(
        "computeEnvironmentAllocationStrategy",
        "str",
        _both("BEST_FIT_PROGRESSIVE"),
        _NONE,
        "",
        None,
        "allocation strategy; it must allow launch-template updates",
    ),
    Parameter(
        "computeEnvironmentInstanceTypes",
        "str_list",
        _both(["optimal"]),
        _NONE,
        'a non-empty list of EC2 instance types or families (e.g. ["optimal"], ["c6i", "m6i.4xlarge"])',
        lambda v: bool(v) and all(_INSTANCE_TYPE.fullmatch(t) for t in v),
        "instance types of the compute environment",
    ),
    Parameter("computeEnvironmentMinvCpus", "int", _both(0), _NONE, *_int_range(0, 100000), "minimum vCPUs"),
    Parameter("computeEnvironmentMaxvCpus", "int", _both(256), _NONE, *_int_range(1, 100000), "maximum vCPUs"),
    Parameter("computeEnvironmentDesiredvCpus", "int", _both(0), _NONE, *_int_range(0, 100000), "desired vCPUs"),
    Parameter(
        "autoExport",
        "bool",
        {TASK_EXPORT: False, AUTO_EXPORT: True},
        _BOTH,
        "true or false",
        None,
        "export to S3 automatically while the job runs",
    ),
    Parameter(
        "deleteLustre",
        "bool",
        _both(True),
        _BOTH,
        "true or false",
        None,
        "delete the file system once its data is safely in S3",
    ),
    Parameter(
        "lustreFileSystemTypeVersion",
        "str",
        _both("2.15"),
        _BOTH,
        '"2.12" or "2.15"',
        lambda v: v in ("2.12", "2.15"),
        "Lustre version (data repository associations need 2.12 or 2.15)",
    ),
    Parameter(
        "lustreStorageCapacity",
        "int",
        _both(2400),
        _BOTH,
        "1200, 2400 or a multiple of 2400 (GiB, SCRATCH_2)",
        _scratch2_capacity,
        "storage capacity in GiB",
    ),
    Parameter(
        "lustreImportedFileChunkSize", "int", _both(1024), _BOTH, *_int_range(1, 512000), "import chunk size in MiB"
    ),
    Parameter(
        "jobDefinitionRetryAttempts", "int", _both(5), _BOTH, *_int_range(1, 10), "job attempts (Batch allows 1-10)"
    ),
    Parameter("jobDefinitionVcpus", "int", _both(32), _BOTH, *_int_range(1, 100000), "vCPUs per job"),
    Parameter("jobDefinitionMemory", "int", _both(30000), _BOTH, *_int_range(4, 10_000_000), "memory per job in MiB"),
    Parameter(
        "warmComputeCapacity",
        "bool",
        _both(True),
        _BOTH,
        "true or false",
        None,
        "while the file system is created, raise the compute environment's desiredvCpus to what the job needs "
        "(at most maxvCpus) so hosts boot and wait for the mount",
    ),
    Parameter(
        "waitForLustreCreationSeconds", "int", _both(30), _BOTH, *_wait, "seconds between file system status checks"
    ),
    Parameter("waitForJobCompletionSeconds", "int", _both(300), _BOTH, *_wait, "seconds between job status checks"),
    Parameter(
        "waitForDataRepositoryTaskSeconds",
        "int",
        {TASK_EXPORT: 300},
        _TASK_ONLY,
        *_wait,
        "seconds between export task status checks",
    ),
    Parameter(
        "waitForCheckMetricsSeconds",
        "int",
        {AUTO_EXPORT: 60},
        _AUTO_ONLY,
        *_wait,
        "seconds between export-queue metric checks",
    ),
    Parameter(
        "lambdaPeriodSeconds",
        "int",
        {AUTO_EXPORT: 60},
        _AUTO_ONLY,
        "a multiple of 60 from 60 to 3600",
        lambda v: 60 <= v <= 3600 and v % 60 == 0,
        "metric period of the export-queue check",
    ),
    # At least 5 minutes: CloudWatch publishes datapoints late, and a shorter quiet window could
    # call the export done before the last files left the queue (seed: "lambdaTimeDiffMinutes").
    Parameter(
        "lambdaTimeDiffMinutes",
        "int",
        {AUTO_EXPORT: 15},
        _AUTO_ONLY,
        *_int_range(5, 1440),
        "metric window; also how long the queue must stay quiet after the job",
    ),
    # Bounds on every wait: not in the seeds, which could wait forever.
    Parameter(
        "lustreCreationTimeoutMinutes",
        "int",
        _both(60),
        _BOTH,
        *_timeout,
        "give up if the file system and its association are not AVAILABLE by then",
    ),
    Parameter(
        "jobTimeoutMinutes",
        "int",
        _both(1440),
        _BOTH,
        *_timeout,
        "terminate the job if it has not ended this long after submission",
    ),
    Parameter(
        "jobRunnableTimeoutMinutes",
        "int",
        _both(20),
        _BOTH,
        *_int_range(5, 1440),
        "terminate a job (every child of an array) still waiting to start this long after submission",
    ),
    # autoexport checks the metric every waitForCheckMetricsSeconds (60 s): 240 minutes is 245 checks, in about 35
    # CheckMetrics invocations (parameters.history_costs).
    Parameter(
        "exportTimeoutMinutes",
        "int",
        {TASK_EXPORT: 720, AUTO_EXPORT: 240},
        _BOTH,
        *_timeout,
        "give up waiting for the export (file system kept) after this long",
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
        "price of the file system's storage the tools show costs with",
    ),
    # The jobs' container logs go to the stack's own log group (asl.naming.job_log_group_name), kept this long.
    Parameter(
        "jobLogRetentionDays",
        "int",
        _both(90),
        _NONE,
        "a CloudWatch Logs retention in days: " + ", ".join(map(str, LOG_RETENTION_DAYS)),
        lambda v: v in LOG_RETENTION_DAYS,
        "days the jobs' logs are kept in the stack's log group (CloudWatch Logs retention)",
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
