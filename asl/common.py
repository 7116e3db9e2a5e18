"""The states both workflow variants share: run start, preparation, the job, cleanup, finish.

Shape (docs/workflow-v2.md): the file system is created first; its id and mount name are all the compute
side needs, so the file system's wait and the compute environment's preparation run side by side
(``PrepareFileSystemAndCompute``); the job is submitted with the optimized Batch integration that waits
for it (``.sync``: no polling while it runs), next to a watchdog that ends a job stuck before starting.

State data layout of a run (all under ``$``):
  polls.<loop>         {count, wait, limit} of every waiting loop (bounded; schedules in config.derived.waits)
  concurrency          running executions of this state machine
  secret / config      the secret's string / ExtractParameters' result (ok, error, params, derived)
  fs                   {FileSystemId, MountName} from CreateFileSystem; fsStatus: latest DescribeFileSystems
  dra, draStatus       CreateDataRepositoryAssociation result / latest describe
  lt, ceUpdate, ce     per-run launch template / compute environment switched to it / latest describe
  jobDefinition        per-run job definition
  job, jobEnd          {JobId} of the job (or array parent); {EndedAt}: when the job's end was seen
  watchdog             {Stuck, Status} when the watchdog ended a job that never started
  failure              {Error, Cause}: the run will fail with this
  jobFailure           {Error, Cause}: the job failed (results are still exported first)
  keep                 {Reason}: the file system must be kept (its data is not provably in S3)
  dataSafe             true once nothing on the file system is missing from S3
  cleanupErrors.<step> errors of cleanup steps (cleanup goes on after each); cleanupErrors.fileSystemKept
                       says the file system was left because DeleteFileSystem was refused
  fileSystemOutcome    {FileSystemDeleted, Reason}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asl.naming import (
    CONTAINER_SCRATCH_DIR,
    FILE_SYSTEM_PATH,
    HOST_SCRATCH_DIR,
    TAG_KEPT,
    TAG_MODE,
    TAG_RUN,
    TAG_STACK,
)
from asl.refs import WorkflowRefs
from asl.states import (
    BATCH_SUBMIT_JOB_SYNC,
    RETRY_CLEANUP,
    RETRY_READ,
    RETRY_THROTTLED,
    RETRY_WRITE,
    Graph,
    State,
    aws_sdk,
    choice,
    ends_branch,
    error_names,
    fail,
    fail_from,
    failure_record,
    invoke_lambda,
    next_poll,
    parallel,
    pass_parameters,
    pass_result,
    polls_over,
    start_polls,
    succeed,
    wait_poll,
)
from asl.user_data import user_data_expression

PARAMS = "$.config.params"
DERIVED = "$.config.derived"
AUTO_IMPORT_EVENTS = ["NEW", "CHANGED", "DELETED"]
EXPORT_PATH = FILE_SYSTEM_PATH.lstrip("/")  # data repository task paths are relative to the mount point

# Entry points that mode-specific sections and the shared part hand over to.
AFTER_JOB = "AfterJob"  # each variant adds this state: get the job's results into S3
CLEANUP = "Cleanup"
MARK_DATA_SAFE = "MarkDataSafe"
# Job states Batch reports once a job (or an array's child) was placed on a host.
STARTED_STATUSES = ("STARTING", "RUNNING", "SUCCEEDED", "FAILED")


def client_token(suffix: str) -> str:
    """An idempotency token per run and per operation (so a retried create never makes a second resource)."""
    return f"States.Format('{{}}-{suffix}', $.config.derived.clientRequestToken)"


def tag_list(refs: WorkflowRefs) -> list[dict[str, str]]:
    """Key/Value tags (FSx, EC2) of every per-run resource."""
    return [
        {"Key": TAG_STACK, "Value": refs.stack},
        {"Key": TAG_MODE, "Value": refs.mode},
        {"Key": TAG_RUN, "Value.$": "$$.Execution.Name"},
        {"Key": "Name", "Value.$": f"{DERIVED}.jobName"},
    ]


def tag_map(refs: WorkflowRefs) -> dict[str, str]:
    """Map tags (Batch) of every per-run resource."""
    return {TAG_STACK: refs.stack, TAG_MODE: refs.mode, f"{TAG_RUN}.$": "$$.Execution.Name"}


def file_system_arn(refs: WorkflowRefs) -> str:
    """The file system's ARN, built from its id (not read back from a response: see ``dns_name_expression``)."""
    partition = "aws-cn" if refs.region.startswith("cn-") else "aws"
    return f"States.Format('arn:{partition}:fsx:{refs.region}:{refs.account_id}:file-system/{{}}', $.fs.FileSystemId)"


def dns_name_expression(refs: WorkflowRefs) -> str:
    """The file system's DNS name, built from its id (FSx Lustre names are ``<id>.fsx.<region>.<domain>``).

    Not read from the response: Step Functions spells aws-sdk result members as the Java SDK v2 does
    (``DNSName`` comes back as ``DnsName``), so a path to it is a trap whichever way it is spelt.
    """
    domain = "amazonaws.com.cn" if refs.region.startswith("cn-") else "amazonaws.com"
    return f"States.Format('{{}}.fsx.{refs.region}.{domain}', $.fs.FileSystemId)"


def record_failure(g: Graph, name: str, next_state: str | None) -> str:
    """Pass ``name`` recording that the step before it failed: Error ``name``, Cause the original error and cause.

    A Fail state's error is never a reserved ``States.*`` name, so the original one goes into the Cause.
    ``next_state`` None: the Pass ends its Parallel branch.
    """
    state = pass_parameters(
        {"Error": name, "Cause.$": "States.Format('{}: {}', $.error.Error, $.error.Cause)"},
        "$.failure",
        next_state or "",
    )
    g.add(name, state if next_state else ends_branch(state))
    return name


# --- run start ----------------------------------------------------------------------------------


def add_run_start(g: Graph, refs: WorkflowRefs) -> str:
    """Refuse a concurrent run, read and validate the parameters and the run's input. Returns the start state."""
    g.add("InitializeRun", pass_result({}, "$.polls", "CheckNoOtherRun"))
    g.add(
        "CheckNoOtherRun",
        aws_sdk(
            "sfn",
            "listExecutions",
            {"StateMachineArn.$": "$$.StateMachine.Id", "StatusFilter": "RUNNING", "MaxResults": 2},
            next_state="IsOnlyRun",
            result_path="$.concurrency",
            result_selector={"running.$": "States.ArrayLength($.Executions)"},
            retry=RETRY_READ,
            catch_to=record_failure(g, "CheckNoOtherRunFailed", "NothingToExport"),
        ),
    )
    g.add(
        "IsOnlyRun",
        choice(
            [{"Variable": "$.concurrency.running", "NumericGreaterThan": 1, "Next": "ConcurrentRunRefused"}],
            "GetSecret",
        ),
    )
    g.add(
        "ConcurrentRunRefused",
        fail(
            "ConcurrentRunRefused",
            "Another run of this state machine is RUNNING. Runs share the compute environment and its launch "
            "template, so this run was refused before creating anything. Start it again when the other run has ended.",
        ),
    )
    g.add(
        "GetSecret",
        aws_sdk(
            "secretsmanager",
            "getSecretValue",
            {"SecretId": refs.secret_arn},
            next_state="ExtractParameters",
            result_path="$.secret",
            result_selector={"SecretString.$": "$.SecretString"},
            retry=RETRY_READ,
            catch_to=record_failure(g, "GetSecretFailed", "NothingToExport"),
        ),
    )
    g.add(
        "ExtractParameters",
        invoke_lambda(
            refs.extract_parameters_function_arn,
            {
                "secretString.$": "$.secret.SecretString",
                "executionName.$": "$$.Execution.Name",
                "input.$": "$$.Execution.Input",
            },
            next_state="AreParametersValid",
            result_path="$.config",
            result_selector={
                "ok.$": "$.Payload.ok",
                "error.$": "$.Payload.error",
                "params.$": "$.Payload.params",
                "derived.$": "$.Payload.derived",
            },
            catch_to=record_failure(g, "ExtractParametersFailed", "NothingToExport"),
        ),
    )
    g.add(
        "AreParametersValid",
        choice(
            [{"Variable": "$.config.ok", "BooleanEquals": True, "Next": "CreateLustreFileSystem"}],
            "ParametersInvalid",
        ),
    )
    g.add("ParametersInvalid", {"Type": "Fail", "Error": "InvalidParameters", "CausePath": "$.config.error"})
    return "InitializeRun"


# --- preparation: file system and compute, side by side --------------------------------------------


def add_preparation(g: Graph, refs: WorkflowRefs) -> None:
    """Create the file system, then wait for it (and its association) while the compute side gets ready."""
    g.add(
        "CreateLustreFileSystem",
        aws_sdk(
            "fsx",
            "createFileSystem",
            {
                "ClientRequestToken.$": client_token("fs"),
                "FileSystemType": "LUSTRE",
                "FileSystemTypeVersion.$": f"{PARAMS}.lustreFileSystemTypeVersion",
                "StorageCapacity.$": f"{PARAMS}.lustreStorageCapacity",
                "SubnetIds": [refs.subnet_id],
                "SecurityGroupIds": [refs.lustre_security_group_id],
                "LustreConfiguration": {"DeploymentType": "SCRATCH_2"},
                "Tags": tag_list(refs),
            },
            next_state="PrepareFileSystemAndCompute",
            result_path="$.fs",
            # The mount name is in CreateFileSystem's response: the launch template needs nothing more.
            result_selector={
                "FileSystemId.$": "$.FileSystem.FileSystemId",
                "MountName.$": "$.FileSystem.LustreConfiguration.MountName",
            },
            retry=RETRY_WRITE,
            catch_to=record_failure(g, "CreateLustreFileSystemFailed", "NothingToExport"),
        ),
    )
    branches = [_file_system_branch(g, refs), _compute_branch(g, refs)]
    g.add(
        "PrepareFileSystemAndCompute",
        parallel(branches, next_state="IsPrepared", catch_to=record_failure(g, "PreparationFailed", "NothingToExport")),
    )
    g.add("IsPrepared", choice([{"Variable": "$.failure", "IsPresent": True, "Next": "NothingToExport"}], "RunJob"))


def _file_system_branch(g: Graph, refs: WorkflowRefs) -> dict[str, Any]:
    b = Graph(within=g)
    b.add("StartFileSystemPolls", start_polls("fileSystem", "WaitForFileSystem"))
    b.add("WaitForFileSystem", wait_poll("fileSystem", "CheckFileSystemStatus"))
    b.add(
        "CheckFileSystemStatus",
        aws_sdk(
            "fsx",
            "describeFileSystems",
            {"FileSystemIds.$": "States.Array($.fs.FileSystemId)"},
            next_state="IsFileSystemAvailable",
            result_path="$.fsStatus",
            result_selector={"Lifecycle.$": "$.FileSystems[0].Lifecycle"},
            retry=RETRY_READ,
            catch_to=record_failure(b, "CheckFileSystemStatusFailed", None),
        ),
    )
    b.add(
        "IsFileSystemAvailable",
        choice(
            [
                {
                    "Or": [
                        {"Variable": "$.fsStatus.Lifecycle", "StringEquals": s} for s in ("FAILED", "MISCONFIGURED")
                    ],
                    "Next": "FileSystemFailed",
                },
                {
                    "Variable": "$.fsStatus.Lifecycle",
                    "StringEquals": "AVAILABLE",
                    "Next": "CreateDataRepositoryAssociation",
                },
                polls_over("fileSystem", "LustreWaitTimedOut"),
            ],
            "CountFileSystemPoll",
        ),
    )
    b.add("CountFileSystemPoll", next_poll("fileSystem", "WaitForFileSystem"))
    b.add(
        "FileSystemFailed",
        ends_branch(
            pass_parameters(
                failure_record(
                    "FileSystemFailed",
                    "File system {} became {} while being created",
                    "$.fs.FileSystemId",
                    "$.fsStatus.Lifecycle",
                ),
                "$.failure",
                "",
            )
        ),
    )
    b.add(
        "CreateDataRepositoryAssociation",
        aws_sdk(
            "fsx",
            "createDataRepositoryAssociation",
            {
                "ClientRequestToken.$": client_token("dra"),
                "FileSystemId.$": "$.fs.FileSystemId",
                "FileSystemPath": FILE_SYSTEM_PATH,
                "DataRepositoryPath": f"s3://{refs.bucket_name}/",
                "BatchImportMetaDataOnCreate": True,
                "ImportedFileChunkSize.$": f"{PARAMS}.lustreImportedFileChunkSize",
                "S3": {
                    "AutoImportPolicy": {"Events": AUTO_IMPORT_EVENTS},
                    "AutoExportPolicy": {"Events.$": f"{DERIVED}.autoExportEvents"},
                },
                "Tags": tag_list(refs),
            },
            next_state="WaitForDataRepositoryAssociation",
            result_path="$.dra",
            result_selector={"AssociationId.$": "$.Association.AssociationId"},
            retry=RETRY_WRITE,
            catch_to=record_failure(b, "CreateDataRepositoryAssociationFailed", None),
        ),
    )
    b.add("WaitForDataRepositoryAssociation", wait_poll("fileSystem", "CheckDataRepositoryAssociation"))
    b.add(
        "CheckDataRepositoryAssociation",
        aws_sdk(
            "fsx",
            "describeDataRepositoryAssociations",
            {"AssociationIds.$": "States.Array($.dra.AssociationId)"},
            next_state="IsFileSystemAndAssociationAvailable",
            result_path="$.draStatus",
            result_selector={"Lifecycle.$": "$.Associations[0].Lifecycle"},
            retry=RETRY_READ,
            catch_to=record_failure(b, "CheckDataRepositoryAssociationFailed", None),
        ),
    )
    # MISCONFIGURED may recover within 15 minutes (FSx Lustre Guide, DRA lifecycle): keep waiting, bounded.
    b.add(
        "IsFileSystemAndAssociationAvailable",
        choice(
            [
                {"Variable": "$.draStatus.Lifecycle", "StringEquals": "AVAILABLE", "Next": "FileSystemReady"},
                {"Variable": "$.draStatus.Lifecycle", "StringEquals": "FAILED", "Next": "AssociationFailed"},
                polls_over("fileSystem", "LustreWaitTimedOut"),
            ],
            "CountAssociationPoll",
        ),
    )
    b.add("CountAssociationPoll", next_poll("fileSystem", "WaitForDataRepositoryAssociation"))
    b.add(
        "AssociationFailed",
        ends_branch(
            pass_parameters(
                failure_record(
                    "DataRepositoryAssociationFailed",
                    "Data repository association {} of file system {} became FAILED",
                    "$.dra.AssociationId",
                    "$.fs.FileSystemId",
                ),
                "$.failure",
                "",
            )
        ),
    )
    b.add(
        "LustreWaitTimedOut",
        ends_branch(
            pass_parameters(
                failure_record(
                    "LustreCreationTimedOut",
                    "File system {} and its data repository association were not AVAILABLE within "
                    "lustreCreationTimeoutMinutes={} (last file system state {})",
                    "$.fs.FileSystemId",
                    f"{PARAMS}.lustreCreationTimeoutMinutes",
                    "$.fsStatus.Lifecycle",
                ),
                "$.failure",
                "",
            )
        ),
    )
    b.add("FileSystemReady", succeed())
    return b.branch("StartFileSystemPolls")


def _compute_branch(g: Graph, refs: WorkflowRefs) -> dict[str, Any]:
    b = Graph(within=g)
    b.add(
        "CreateLaunchTemplate",
        aws_sdk(
            "ec2",
            "createLaunchTemplate",
            {
                "LaunchTemplateName.$": f"{DERIVED}.launchTemplateName",
                "ClientToken.$": client_token("lt"),
                "LaunchTemplateData": {
                    "UserData.$": user_data_expression(dns_name_expression(refs), "$.fs.MountName"),
                    # A host whose mount fails shuts itself down: it must then be terminated, not stopped
                    # (EC2's default shutdown behaviour), or it would stay and bill.
                    "InstanceInitiatedShutdownBehavior": "terminate",
                    "MetadataOptions": {
                        "HttpTokens": "required",
                        "HttpEndpoint": "enabled",
                        "HttpPutResponseHopLimit": 2,
                    },
                    "TagSpecifications": [
                        {"ResourceType": kind, "Tags": tag_list(refs)} for kind in ("instance", "volume")
                    ],
                },
                "TagSpecifications": [{"ResourceType": "launch-template", "Tags": tag_list(refs)}],
            },
            next_state="UpdateComputeEnvironment",
            result_path="$.lt",
            # Batch resolves "$Latest" once, when the environment is updated: name the version explicitly.
            result_selector={
                "LaunchTemplateId.$": "$.LaunchTemplate.LaunchTemplateId",
                "Version.$": "States.Format('{}', $.LaunchTemplate.LatestVersionNumber)",
                "ComputeResources": {
                    "LaunchTemplate": {
                        "LaunchTemplateId.$": "$.LaunchTemplate.LaunchTemplateId",
                        "Version.$": "States.Format('{}', $.LaunchTemplate.LatestVersionNumber)",
                    }
                },
            },
            retry=RETRY_WRITE,
            catch_to=record_failure(b, "CreateLaunchTemplateFailed", None),
        ),
    )
    # Warm capacity (derived.warmCapacity = {"DesiredvCpus": n}, or {}): hosts boot while the file system is
    # created and wait in their user data until it is mountable. Batch refuses to lower desiredvCpus, so a
    # refused update is tried again without it before the run gives up.
    update = aws_sdk(
        "batch",
        "updateComputeEnvironment",
        {
            "ComputeEnvironment": refs.compute_environment_arn,
            "ComputeResources.$": f"States.JsonMerge($.lt.ComputeResources, {DERIVED}.warmCapacity, false)",
        },
        next_state="StartComputeEnvironmentPolls",
        result_path="$.ceUpdate",
        result_selector={"ComputeEnvironmentArn.$": "$.ComputeEnvironmentArn"},
        retry=RETRY_WRITE,
        catch_to="WasWarmingAsked",
    )
    b.add("UpdateComputeEnvironment", update)
    b.add(
        "WasWarmingAsked",
        choice(
            [
                {
                    "Variable": f"{DERIVED}.warmCapacity.DesiredvCpus",
                    "IsPresent": True,
                    "Next": "UpdateComputeEnvironmentWithoutWarming",
                }
            ],
            "UpdateComputeEnvironmentFailed",
        ),
    )
    b.add(
        "UpdateComputeEnvironmentWithoutWarming",
        aws_sdk(
            "batch",
            "updateComputeEnvironment",
            {"ComputeEnvironment": refs.compute_environment_arn, "ComputeResources.$": "$.lt.ComputeResources"},
            next_state="StartComputeEnvironmentPolls",
            result_path="$.ceUpdate",
            result_selector={"ComputeEnvironmentArn.$": "$.ComputeEnvironmentArn"},
            retry=RETRY_WRITE,
            catch_to="UpdateComputeEnvironmentFailed",
        ),
    )
    record_failure(b, "UpdateComputeEnvironmentFailed", None)
    # The job must not wait on an environment that cannot run it: wait until it is VALID on this run's
    # launch template, and fail at once when it is INVALID.
    b.add("StartComputeEnvironmentPolls", start_polls("computeEnvironment", "WaitForComputeEnvironment"))
    b.add("WaitForComputeEnvironment", wait_poll("computeEnvironment", "CheckComputeEnvironment"))
    b.add(
        "CheckComputeEnvironment",
        aws_sdk(
            "batch",
            "describeComputeEnvironments",
            {"ComputeEnvironments": [refs.compute_environment_arn]},
            next_state="IsComputeEnvironmentValid",
            result_path="$.ce",
            result_selector={"Environment.$": "$.ComputeEnvironments[0]"},
            retry=RETRY_READ,
            catch_to=record_failure(b, "CheckComputeEnvironmentFailed", None),
        ),
    )
    b.add(
        "IsComputeEnvironmentValid",
        choice(
            [
                {"Variable": "$.ce.Environment.Status", "StringEquals": "INVALID", "Next": "ComputeEnvironmentInvalid"},
                {
                    "And": [
                        {"Variable": "$.ce.Environment.Status", "StringEquals": "VALID"},
                        {
                            "Variable": "$.ce.Environment.ComputeResources.LaunchTemplate.LaunchTemplateId",
                            "StringEqualsPath": "$.lt.LaunchTemplateId",
                        },
                    ],
                    "Next": "CreateJobDefinition",
                },
                polls_over("computeEnvironment", "ComputeEnvironmentNotReady"),
            ],
            "CountComputeEnvironmentPoll",
        ),
    )
    b.add("CountComputeEnvironmentPoll", next_poll("computeEnvironment", "WaitForComputeEnvironment"))
    b.add(
        "ComputeEnvironmentInvalid",
        ends_branch(
            pass_parameters(
                failure_record(
                    "ComputeEnvironmentInvalid",
                    "Compute environment became INVALID after it was pointed at the run launch template: {}",
                    "States.JsonToString($.ce.Environment)",
                ),
                "$.failure",
                "",
            )
        ),
    )
    b.add(
        "ComputeEnvironmentNotReady",
        ends_branch(
            pass_parameters(
                failure_record(
                    "ComputeEnvironmentNotReady",
                    "Compute environment was not VALID on the run launch template within its bound: {}",
                    "States.JsonToString($.ce.Environment)",
                ),
                "$.failure",
                "",
            )
        ),
    )
    b.add(
        "CreateJobDefinition",
        aws_sdk(
            "batch",
            "registerJobDefinition",
            {
                "JobDefinitionName.$": f"{DERIVED}.jobDefinitionName",
                "Type": "container",
                "PlatformCapabilities": ["EC2"],
                "ContainerProperties": {
                    "Image.$": f"States.Format('{refs.job_repository_url}:{{}}', {DERIVED}.imageTag)",
                    "ResourceRequirements": [
                        {"Type": "VCPU", "Value.$": f"{DERIVED}.jobVcpus"},
                        {"Type": "MEMORY", "Value.$": f"{DERIVED}.jobMemory"},
                    ],
                    "Volumes": [{"Name": "scratch", "Host": {"SourcePath": HOST_SCRATCH_DIR}}],
                    "MountPoints": [
                        {"SourceVolume": "scratch", "ContainerPath": CONTAINER_SCRATCH_DIR, "ReadOnly": False}
                    ],
                },
                # Retry only when the host went away (Spot reclaim, host failure); exit on the job's own errors.
                "RetryStrategy": {
                    "Attempts.$": f"{PARAMS}.jobDefinitionRetryAttempts",
                    "EvaluateOnExit": [
                        {"OnStatusReason": "Host EC2*", "Action": "RETRY"},
                        {"OnReason": "*", "Action": "EXIT"},
                    ],
                },
                "PropagateTags": True,
                "Tags": tag_map(refs),
            },
            next_state="ComputeReady",
            result_path="$.jobDefinition",
            result_selector={"JobDefinitionArn.$": "$.JobDefinitionArn"},
            retry=RETRY_THROTTLED,
            catch_to=record_failure(b, "CreateJobDefinitionFailed", None),
        ),
    )
    b.add("ComputeReady", succeed())
    return b.branch("CreateLaunchTemplate")


# --- the job ------------------------------------------------------------------------------------


def _submit_job(refs: WorkflowRefs, *, array: bool) -> State:
    parameters: dict[str, Any] = {
        "JobName.$": f"{DERIVED}.jobName",
        "JobQueue": refs.job_queue_arn,
        "JobDefinition.$": "$.jobDefinition.JobDefinitionArn",
        "ContainerOverrides.$": f"{DERIVED}.containerOverrides",
        # Batch ends an attempt that runs longer (for an array: each child's attempt).
        "Timeout": {"AttemptDurationSeconds.$": f"{DERIVED}.jobTimeoutSeconds"},
        "PropagateTags": True,
        "Tags": tag_map(refs),
    }
    if array:
        parameters["ArrayProperties"] = {"Size.$": f"{DERIVED}.arraySize"}
    return {
        "Type": "Task",
        "Resource": BATCH_SUBMIT_JOB_SYNC,
        "Parameters": parameters,
        # The whole wait, queueing and retries included, is bounded by jobTimeoutMinutes.
        "TimeoutSecondsPath": f"{DERIVED}.jobTimeoutSeconds",
        "ResultSelector": {"JobId.$": "$.JobId"},
        "ResultPath": "$.job",
        "Retry": RETRY_THROTTLED,
        "Catch": [
            {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "FindTimedOutJob"},
            {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "SummarizeJobFailure"},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "JobStatusUnknown"},
        ],
        "Next": "JobEnded",
    }


def add_job(g: Graph, refs: WorkflowRefs) -> None:
    """Run the job (one container, or an array) and wait for it without polling; end a job stuck before it starts."""
    g.add(
        "RunJob",
        parallel([_job_branch(g, refs), _watchdog_branch(g, refs)], next_state="IsJobDone", catch_to="RunJobFailed"),
    )
    g.add(
        "RunJobFailed",
        pass_parameters(
            {"Error": "RunJobFailed", "Cause.$": "States.Format('{}: {}', $.error.Error, $.error.Cause)"},
            "$.failure",
            "KeepFileSystemJobStatusUnknown",
        ),
    )
    g.add(
        "KeepFileSystemJobStatusUnknown",
        pass_result({"Reason": "the job status is unknown, so its results may not be in S3"}, "$.keep", CLEANUP),
    )
    g.add(
        "IsJobDone",
        choice(
            [
                {"Variable": "$.keep", "IsPresent": True, "Next": CLEANUP},
                {"Variable": "$.watchdog.Stuck", "IsPresent": True, "Next": "JobNeverStarted"},
            ],
            AFTER_JOB,
        ),
    )
    # Nothing ran, so nothing was written: the file system can go without an export.
    g.add(
        "JobNeverStarted",
        pass_parameters(
            failure_record(
                "JobStuckRunnable",
                "Job {} never started within jobRunnableTimeoutMinutes={} (last status {}), so it was "
                "terminated. Is the compute environment able to run it (capacity, vCPUs, the file "
                "system mount)?",
                f"{DERIVED}.jobName",
                f"{PARAMS}.jobRunnableTimeoutMinutes",
                "$.watchdog.Status",
            ),
            "$.failure",
            "NothingToExport",
        ),
    )


def _job_branch(g: Graph, refs: WorkflowRefs) -> dict[str, Any]:
    b = Graph(within=g)
    b.add(
        "IsArrayJob",
        choice(
            [{"Variable": f"{DERIVED}.arraySize", "NumericGreaterThanEquals": 2, "Next": "SubmitArrayJob"}], "SubmitJob"
        ),
    )
    b.add("SubmitJob", _submit_job(refs, array=False))
    b.add("SubmitArrayJob", _submit_job(refs, array=True))
    b.add("JobEnded", ends_branch(pass_parameters({"EndedAt.$": "$$.State.EnteredTime"}, "$.jobEnd", "")))
    # A FAILED job's Cause is the job's JSON: a Lambda makes it one line (exit code, reason, log stream, attempts;
    # for an array, how many children failed and the first ones).
    b.add(
        "SummarizeJobFailure",
        invoke_lambda(
            refs.summarize_job_function_arn,
            {"jobName.$": f"{DERIVED}.jobName", "jobQueue": refs.job_queue_arn, "cause.$": "$.error.Cause"},
            next_state="RecordJobFailure",
            result_path="$.jobSummary",
            result_selector={"summary.$": "$.Payload.summary", "jobId.$": "$.Payload.jobId"},
            catch_to="RecordJobFailureUnsummarized",
            catch_path="$.summaryError",
        ),
    )
    b.add(
        "RecordJobFailure",
        pass_parameters(
            {
                "Error": "JobFailed",
                "Cause.$": "States.Format('{} Its results were exported before cleanup.', $.jobSummary.summary)",
            },
            "$.jobFailure",
            "JobEnded",
        ),
    )
    b.add(
        "RecordJobFailureUnsummarized",
        pass_parameters(
            {"Error": "JobFailed", "Cause.$": "States.Format('Job FAILED: {}', $.error.Cause)"},
            "$.jobFailure",
            "JobEnded",
        ),
    )
    b.add(
        "JobStatusUnknown",
        ends_branch(
            pass_parameters(
                {
                    "Error": "JobStatusUnknown",
                    "Cause.$": "States.Format('The job status could not be read, so its results were not exported: {}: {}', "
                    "$.error.Error, $.error.Cause)",
                },
                "$.failure",
                "",
            )
        ),
    )
    # jobTimeoutMinutes: the Task timed out; the job itself must really stop before its results are exported.
    b.add(
        "FindTimedOutJob",
        aws_sdk(
            "batch",
            "listJobs",
            {
                "JobQueue": refs.job_queue_arn,
                "Filters": [{"Name": "JOB_NAME", "Values.$": f"States.Array({DERIVED}.jobName)"}],
            },
            next_state="IsTimedOutJobFound",
            result_path="$.timedOut",
            result_selector={
                "Count.$": "States.ArrayLength($.JobSummaryList)",
                "JobIds.$": "$.JobSummaryList[*].JobId",
            },
            retry=RETRY_READ,
            catch_to="JobDidNotStop",
            catch_path="$.stopError",
        ),
    )
    b.add(
        "IsTimedOutJobFound",
        choice(
            [{"Variable": "$.timedOut.Count", "NumericGreaterThan": 0, "Next": "TerminateTimedOutJob"}],
            "RecordJobTimedOut",
        ),
    )
    b.add(
        "TerminateTimedOutJob",
        aws_sdk(
            "batch",
            "terminateJob",
            {
                "JobId.$": "States.ArrayGetItem($.timedOut.JobIds, 0)",
                "Reason": "batch-lustre: jobTimeoutMinutes exceeded",
            },
            next_state="StartJobStopPolls",
            result_path=None,
            retry=RETRY_WRITE,
            catch_to="JobDidNotStop",
            catch_path="$.stopError",
        ),
    )
    b.add("StartJobStopPolls", start_polls("jobStop", "WaitForJobToStop"))
    b.add("WaitForJobToStop", wait_poll("jobStop", "CheckJobStopped"))
    b.add(
        "CheckJobStopped",
        aws_sdk(
            "batch",
            "describeJobs",
            {"Jobs.$": "States.Array(States.ArrayGetItem($.timedOut.JobIds, 0))"},
            next_state="IsJobStopped",
            result_path="$.jobStatus",
            result_selector={"Status.$": "$.Jobs[0].Status"},
            retry=RETRY_READ,
            catch_to="JobDidNotStop",
            catch_path="$.stopError",
        ),
    )
    b.add(
        "IsJobStopped",
        choice(
            [
                {
                    "Or": [{"Variable": "$.jobStatus.Status", "StringEquals": s} for s in ("SUCCEEDED", "FAILED")],
                    "Next": "RecordJobTimedOut",
                },
                polls_over("jobStop", "JobDidNotStop"),
            ],
            "CountJobStopPoll",
        ),
    )
    b.add("CountJobStopPoll", next_poll("jobStop", "WaitForJobToStop"))
    b.add(
        "RecordJobTimedOut",
        pass_parameters(
            failure_record(
                "JobTimedOut",
                "Job {} did not end within jobTimeoutMinutes={} and was terminated; its "
                "results were exported before cleanup",
                f"{DERIVED}.jobName",
                f"{PARAMS}.jobTimeoutMinutes",
            ),
            "$.jobFailure",
            "JobEnded",
        ),
    )
    b.add(
        "JobDidNotStop",
        ends_branch(
            pass_result(
                {
                    "Reason": "the job had not ended after jobTimeoutMinutes and a terminate, so its results may not be in S3"
                },
                "$.keep",
                "",
            )
        ),
    )
    return b.branch("IsArrayJob")


def _watchdog_branch(g: Graph, refs: WorkflowRefs) -> dict[str, Any]:
    """Until the job (or any child of an array) has started: a job still queued after jobRunnableTimeoutMinutes
    is terminated (no capacity, a compute environment that cannot run it, hosts that fail the mount)."""
    b = Graph(within=g)
    b.add("StartRunnablePolls", start_polls("runnable", "WaitForJobToStart"))
    b.add("WaitForJobToStart", wait_poll("runnable", "FindJob"))
    b.add(
        "FindJob",
        aws_sdk(
            "batch",
            "listJobs",
            {
                "JobQueue": refs.job_queue_arn,
                "Filters": [{"Name": "JOB_NAME", "Values.$": f"States.Array({DERIVED}.jobName)"}],
            },
            next_state="IsJobListed",
            result_path="$.watched",
            result_selector={
                "Count.$": "States.ArrayLength($.JobSummaryList)",
                "JobIds.$": "$.JobSummaryList[*].JobId",
            },
            retry=RETRY_READ,
            catch_to="WatchdogStopped",
            catch_path="$.watchdogError",
        ),
    )
    b.add(
        "IsJobListed",
        choice(
            [
                {"Variable": "$.watched.Count", "NumericGreaterThan": 0, "Next": "CheckJobStarted"},
                polls_over("runnable", "WatchdogStopped"),
            ],
            "CountRunnablePoll",
        ),
    )
    b.add(
        "CheckJobStarted",
        aws_sdk(
            "batch",
            "describeJobs",
            {"Jobs.$": "States.Array(States.ArrayGetItem($.watched.JobIds, 0))"},
            next_state="HasJobStarted",
            result_path="$.watchedJob",
            result_selector={"Status.$": "$.Jobs[0].Status", "Job.$": "$.Jobs[0]"},
            retry=RETRY_READ,
            catch_to="WatchdogStopped",
            catch_path="$.watchdogError",
        ),
    )
    started_children = [
        {
            "And": [
                {"Variable": f"$.watchedJob.Job.ArrayProperties.StatusSummary.{s}", "IsPresent": True},
                {"Variable": f"$.watchedJob.Job.ArrayProperties.StatusSummary.{s}", "NumericGreaterThan": 0},
            ]
        }
        for s in STARTED_STATUSES
    ]
    b.add(
        "HasJobStarted",
        choice(
            [
                {
                    "Or": [{"Variable": "$.watchedJob.Status", "StringEquals": s} for s in STARTED_STATUSES]
                    + started_children,
                    "Next": "WatchdogStopped",
                },
                polls_over("runnable", "TerminateStuckJob"),
            ],
            "CountRunnablePoll",
        ),
    )
    b.add("CountRunnablePoll", next_poll("runnable", "WaitForJobToStart"))
    b.add(
        "TerminateStuckJob",
        aws_sdk(
            "batch",
            "terminateJob",
            {
                "JobId.$": "States.ArrayGetItem($.watched.JobIds, 0)",
                "Reason": "batch-lustre: never started within jobRunnableTimeoutMinutes",
            },
            next_state="RecordJobStuck",
            result_path=None,
            retry=RETRY_WRITE,
            catch_to="WatchdogStopped",
            catch_path="$.watchdogError",
        ),
    )
    b.add(
        "RecordJobStuck",
        ends_branch(pass_parameters({"Stuck": True, "Status.$": "$.watchedJob.Status"}, "$.watchdog", "")),
    )
    b.add("WatchdogStopped", succeed())
    return b.branch("StartRunnablePolls")


# --- failures before the job, cleanup, finish --------------------------------------------------------


def add_failure_before_job(g: Graph) -> None:
    """Failures before the job ran: nothing was written to the file system, so nothing is lost by deleting it."""
    g.add("NothingToExport", pass_result(True, "$.dataSafe", CLEANUP))
    g.add(MARK_DATA_SAFE, pass_result(True, "$.dataSafe", CLEANUP))


def add_cleanup_and_finish(g: Graph, refs: WorkflowRefs) -> None:
    """Undo every per-run change, on every path; delete the file system only when its data is safe."""
    g.add(
        CLEANUP,
        choice(
            [{"Variable": "$.ceUpdate", "IsPresent": True, "Next": "RestoreComputeEnvironment"}],
            "CleanupLaunchTemplate",
        ),
    )
    g.add(
        "RestoreComputeEnvironment",
        aws_sdk(
            "batch",
            "updateComputeEnvironment",
            {
                "ComputeEnvironment": refs.compute_environment_arn,
                "ComputeResources": {
                    "LaunchTemplate": {
                        "LaunchTemplateId": refs.baseline_launch_template_id,
                        "Version": refs.baseline_launch_template_version,
                    }
                },
            },
            next_state="CleanupLaunchTemplate",
            result_path=None,
            retry=RETRY_CLEANUP,
            catch_to="CleanupLaunchTemplate",
            catch_path="$.cleanupErrors.restoreComputeEnvironment",
        ),
    )
    # A launch template the compute environment may still use is not deleted.
    g.add(
        "CleanupLaunchTemplate",
        choice(
            [
                {
                    "And": [
                        {"Variable": "$.lt", "IsPresent": True},
                        {"Variable": "$.cleanupErrors.restoreComputeEnvironment", "IsPresent": False},
                    ],
                    "Next": "DeleteLaunchTemplate",
                }
            ],
            "CleanupJobDefinition",
        ),
    )
    g.add(
        "DeleteLaunchTemplate",
        aws_sdk(
            "ec2",
            "deleteLaunchTemplate",
            {"LaunchTemplateId.$": "$.lt.LaunchTemplateId"},
            next_state="CleanupJobDefinition",
            result_path=None,
            retry=RETRY_CLEANUP,
            catch_to="CleanupJobDefinition",
            catch_path="$.cleanupErrors.deleteLaunchTemplate",
        ),
    )
    g.add(
        "CleanupJobDefinition",
        choice(
            [{"Variable": "$.jobDefinition", "IsPresent": True, "Next": "DeregisterJobDefinition"}],
            "ShouldDeleteLustre",
        ),
    )
    g.add(
        "DeregisterJobDefinition",
        aws_sdk(
            "batch",
            "deregisterJobDefinition",
            {"JobDefinition.$": "$.jobDefinition.JobDefinitionArn"},
            next_state="ShouldDeleteLustre",
            result_path=None,
            retry=RETRY_CLEANUP,
            catch_to="ShouldDeleteLustre",
            catch_path="$.cleanupErrors.deregisterJobDefinition",
        ),
    )
    g.add(
        "ShouldDeleteLustre",
        choice(
            [
                {"Variable": "$.fs", "IsPresent": False, "Next": "Finish"},
                {"Not": {"Variable": "$.dataSafe", "IsPresent": True}, "Next": "KeepFileSystemDataNotSafe"},
                {"Variable": f"{PARAMS}.deleteLustre", "BooleanEquals": False, "Next": "KeepFileSystemOnRequest"},
            ],
            "DeleteFSx",
        ),
    )
    g.add(
        "KeepFileSystemDataNotSafe",
        pass_result(
            {"FileSystemDeleted": False, "Reason": "its data is not provably in S3"},
            "$.fileSystemOutcome",
            "TagFileSystemKept",
        ),
    )
    g.add(
        "KeepFileSystemOnRequest",
        pass_result(
            {"FileSystemDeleted": False, "Reason": "deleteLustre=false"}, "$.fileSystemOutcome", "TagFileSystemKept"
        ),
    )
    delete = aws_sdk(
        "fsx",
        "deleteFileSystem",
        {"FileSystemId.$": "$.fs.FileSystemId", "ClientRequestToken.$": client_token("delete")},
        next_state="Finish",
        result_path="$.fileSystemOutcome",
        result_selector={"FileSystemDeleted": True, "Lifecycle.$": "$.Lifecycle"},
        retry=RETRY_CLEANUP,
        catch_to="DeleteFSxFailed",
        catch_path="$.cleanupErrors.deleteFileSystem",
    )
    # DeleteFileSystem is refused (BadRequest) while a data repository task is PENDING/EXECUTING, e.g. the
    # IMPORT task of the association, which can run for hours on a large bucket: keep asking, every 5 minutes
    # for 2 hours, before giving up (the cleanup retries alone last about 12 minutes). Every spelling of the
    # error is listed: Step Functions' prefix for FSx is not documented.
    delete["Retry"] = [
        {
            "ErrorEquals": error_names("FSx", "BadRequestException"),
            "IntervalSeconds": 300,
            "MaxAttempts": 24,
            "BackoffRate": 1.0,
        },
        *delete["Retry"],
    ]
    g.add("DeleteFSx", delete)
    g.add(
        "DeleteFSxFailed",
        pass_result(
            {"FileSystemDeleted": False, "Reason": "DeleteFileSystem was refused"},
            "$.fileSystemOutcome",
            "RecordFileSystemKept",
        ),
    )
    # The file system is left behind: the run's Cause must say so, whatever else failed.
    g.add(
        "RecordFileSystemKept",
        pass_parameters(
            {"Message.$": "States.Format('file system {} was kept: DeleteFileSystem was refused', $.fs.FileSystemId)"},
            "$.cleanupErrors.fileSystemKept",
            "TagFileSystemKept",
        ),
    )
    # A kept file system is tagged, so the run-cleanup state machine (which runs after every failed run)
    # leaves it to the user instead of exporting and deleting it.
    g.add(
        "TagFileSystemKept",
        aws_sdk(
            "fsx",
            "tagResource",
            {"ResourceARN.$": file_system_arn(refs), "Tags": [{"Key": TAG_KEPT, "Value": "true"}]},
            next_state="Finish",
            result_path=None,
            retry=RETRY_CLEANUP,
            catch_to="Finish",
            catch_path="$.cleanupErrors.tagFileSystemKept",
        ),
    )
    g.add(
        "Finish",
        choice(
            [
                {
                    "And": [{"Variable": "$.failure", "IsPresent": True}, {"Variable": "$.keep", "IsPresent": True}],
                    "Next": "AddKeptFileSystemToFailure",
                },
                {
                    "And": [
                        {"Variable": "$.failure", "IsPresent": True},
                        {"Variable": "$.cleanupErrors", "IsPresent": True},
                    ],
                    "Next": "AddCleanupErrorsToFailure",
                },
                {"Variable": "$.failure", "IsPresent": True, "Next": "RunFailed"},
                {"Variable": "$.keep", "IsPresent": True, "Next": "ExportNotConfirmed"},
                {
                    "And": [
                        {"Variable": "$.jobFailure", "IsPresent": True},
                        {"Variable": "$.cleanupErrors", "IsPresent": True},
                    ],
                    "Next": "AddCleanupErrorsToJobFailure",
                },
                {"Variable": "$.jobFailure", "IsPresent": True, "Next": "JobFailed"},
                {"Variable": "$.cleanupErrors", "IsPresent": True, "Next": "CleanupIncomplete"},
            ],
            "SummarizeRun",
        ),
    )
    # A failed run whose cleanup also failed says both (a compute environment left on the run's launch
    # template, or a file system left behind, must not go unmentioned).
    g.add(
        "AddCleanupErrorsToFailure",
        pass_parameters(
            {
                "Error.$": "$.failure.Error",
                "Cause.$": "States.Format('{} Cleanup steps failed too: {}', $.failure.Cause, "
                "States.JsonToString($.cleanupErrors))",
            },
            "$.failure",
            "RunFailed",
        ),
    )
    g.add(
        "AddCleanupErrorsToJobFailure",
        pass_parameters(
            {
                "Error.$": "$.jobFailure.Error",
                "Cause.$": "States.Format('{} Cleanup steps failed too: {}', $.jobFailure.Cause, "
                "States.JsonToString($.cleanupErrors))",
            },
            "$.jobFailure",
            "JobFailed",
        ),
    )
    g.add(
        "AddKeptFileSystemToFailure",
        pass_parameters(
            {
                "Error.$": "$.failure.Error",
                "Cause.$": "States.Format('{} File system {} was kept: {}.', $.failure.Cause, $.fs.FileSystemId, "
                "$.keep.Reason)",
            },
            "$.failure",
            "RunFailed",
        ),
    )
    g.add(
        "ExportNotConfirmed",
        pass_parameters(
            {
                "Error": "ExportNotConfirmed",
                "Cause.$": "States.Format('File system {} was kept: {}.', $.fs.FileSystemId, $.keep.Reason)",
            },
            "$.failure",
            "RunFailed",
        ),
    )
    g.add(
        "CleanupIncomplete",
        pass_parameters(
            {
                "Error": "CleanupIncomplete",
                "Cause.$": "States.Format('The job succeeded and its results are in S3, but cleanup steps failed: {}', "
                "States.JsonToString($.cleanupErrors))",
            },
            "$.failure",
            "RunFailed",
        ),
    )
    g.add("RunFailed", fail_from("$.failure.Error", "$.failure.Cause"))
    g.add("JobFailed", fail_from("$.jobFailure.Error", "$.jobFailure.Cause"))
    g.add(
        "SummarizeRun",
        pass_parameters(
            {
                "mode": refs.mode,
                "bucket": refs.bucket_name,
                "fileSystemId.$": "$.fs.FileSystemId",
                "fileSystem.$": "$.fileSystemOutcome",
                "jobId.$": "$.job.JobId",
                "arraySize.$": f"{DERIVED}.arraySize",
            },
            "$",
            "RunSucceeded",
        ),
    )
    g.add("RunSucceeded", {"Type": "Succeed"})


def build(refs: WorkflowRefs, add_after_job: Callable[[Graph, WorkflowRefs], None], comment: str) -> dict[str, Any]:
    """The whole definition: shared states plus the variant's ``AfterJob`` section."""
    g = Graph()
    start = add_run_start(g, refs)
    add_preparation(g, refs)
    add_job(g, refs)
    add_after_job(g, refs)
    add_failure_before_job(g)
    add_cleanup_and_finish(g, refs)
    return g.render(start, comment)
