"""The states both workflow variants share: run start, file system, job, cleanup, finish.

State data layout of a run (all under ``$``):
  polls.<loop>.count   poll counters of every waiting loop (bounded loops)
  concurrency          running executions of this state machine
  secret / config      the secret's string / ExtractParameters' result (ok, error, params, derived)
  fs, fsStatus         CreateFileSystem result / latest DescribeFileSystems
  dra, draStatus       CreateDataRepositoryAssociation result / latest describe
  lt, ceUpdate         per-run launch template / compute environment switched to it
  jobDefinition, job, jobStatus, jobTerminate
  failure              {Error, Cause}: the run will fail with this
  jobFailure           {Error, Cause}: the job failed (results are still exported first)
  keep                 {Reason}: the file system must be kept (its data is not provably in S3)
  dataSafe             true once nothing on the file system is missing from S3
  cleanupErrors.<step> errors of cleanup steps (cleanup goes on after each); cleanupErrors.fileSystemKept
                       says the file system was left because DeleteFileSystem was refused
  fileSystemOutcome    {FileSystemDeleted, Reason}
"""

from __future__ import annotations

from typing import Any

from asl.naming import CONTAINER_SCRATCH_DIR, FILE_SYSTEM_PATH, HOST_SCRATCH_DIR, TAG_MODE, TAG_RUN, TAG_STACK
from asl.refs import WorkflowRefs
from asl.states import (
    RETRY_CLEANUP,
    RETRY_READ,
    RETRY_THROTTLED,
    RETRY_WRITE,
    Graph,
    aws_sdk,
    choice,
    count_poll,
    fail,
    fail_from,
    failure_record,
    invoke_lambda,
    pass_parameters,
    pass_result,
    poll_bound,
    wait,
)
from asl.user_data import user_data_expression

PARAMS = "$.config.params"


def client_token(suffix: str) -> str:
    """An idempotency token per run and per operation (so a retried create never makes a second resource)."""
    return f"States.Format('{{}}-{suffix}', $.config.derived.clientRequestToken)"

DERIVED = "$.config.derived"
AUTO_IMPORT_EVENTS = ["NEW", "CHANGED", "DELETED"]
EXPORT_PATH = FILE_SYSTEM_PATH.lstrip("/")  # data repository task paths are relative to the mount point

# Entry points that mode-specific sections and the shared part hand over to.
AFTER_JOB = "AfterJob"  # each variant adds this state: get the job's results into S3
CLEANUP = "Cleanup"
MARK_DATA_SAFE = "MarkDataSafe"
LOOPS = ("lustre", "job", "export", "association")


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


def add_run_start(g: Graph, refs: WorkflowRefs) -> str:
    """Refuse a concurrent run, read and validate the parameters. Returns the start state."""
    g.add("InitializeRun", pass_result({loop: {"count": 0} for loop in LOOPS}, "$.polls", "CheckNoOtherRun"))
    g.add("CheckNoOtherRun", aws_sdk(
        "sfn", "listExecutions",
        {"StateMachineArn.$": "$$.StateMachine.Id", "StatusFilter": "RUNNING", "MaxResults": 2},
        next_state="IsOnlyRun", result_path="$.concurrency",
        result_selector={"running.$": "States.ArrayLength($.Executions)"},
        retry=RETRY_READ, catch_to=failed_before_job(g, "CheckNoOtherRun"),
    ))
    g.add("IsOnlyRun", choice(
        [{"Variable": "$.concurrency.running", "NumericGreaterThan": 1, "Next": "ConcurrentRunRefused"}],
        "GetSecret",
    ))
    g.add("ConcurrentRunRefused", fail(
        "ConcurrentRunRefused",
        "Another run of this state machine is RUNNING. Runs share the compute environment and its launch "
        "template, so this run was refused before creating anything. Start it again when the other run has ended.",
    ))
    g.add("GetSecret", aws_sdk(
        "secretsmanager", "getSecretValue", {"SecretId": refs.secret_arn},
        next_state="ExtractParameters", result_path="$.secret",
        result_selector={"SecretString.$": "$.SecretString"},
        retry=RETRY_READ, catch_to=failed_before_job(g, "GetSecret"),
    ))
    g.add("ExtractParameters", invoke_lambda(
        refs.extract_parameters_function_arn,
        {"secretString.$": "$.secret.SecretString", "executionName.$": "$$.Execution.Name"},
        next_state="AreParametersValid", result_path="$.config",
        result_selector={
            "ok.$": "$.Payload.ok", "error.$": "$.Payload.error",
            "params.$": "$.Payload.params", "derived.$": "$.Payload.derived",
        },
        catch_to=failed_before_job(g, "ExtractParameters"),
    ))
    g.add("AreParametersValid", choice(
        [{"Variable": "$.config.ok", "BooleanEquals": True, "Next": "CreateLustreFileSystem"}],
        "ParametersInvalid",
    ))
    g.add("ParametersInvalid", {"Type": "Fail", "Error": "InvalidParameters", "CausePath": "$.config.error"})
    return "InitializeRun"


def add_file_system(g: Graph, refs: WorkflowRefs) -> None:
    """Create the file system and its data repository association; wait (bounded) for both."""
    g.add("CreateLustreFileSystem", aws_sdk(
        "fsx", "createFileSystem",
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
        next_state="WaitForFileSystem", result_path="$.fs",
        result_selector={"FileSystemId.$": "$.FileSystem.FileSystemId"},
        retry=RETRY_WRITE, catch_to=failed_before_job(g, "CreateLustreFileSystem"),
    ))
    g.add("WaitForFileSystem", wait(f"{PARAMS}.waitForLustreCreationSeconds", "CheckFileSystemStatus"))
    g.add("CheckFileSystemStatus", aws_sdk(
        "fsx", "describeFileSystems", {"FileSystemIds.$": "States.Array($.fs.FileSystemId)"},
        next_state="IsFileSystemAvailable", result_path="$.fsStatus",
        result_selector={"Lifecycle.$": "$.FileSystems[0].Lifecycle", "FileSystem.$": "$.FileSystems[0]"},
        retry=RETRY_READ, catch_to=failed_before_job(g, "CheckFileSystemStatus"),
    ))
    g.add("IsFileSystemAvailable", choice(
        [
            {"Or": [{"Variable": "$.fsStatus.Lifecycle", "StringEquals": s} for s in ("FAILED", "MISCONFIGURED")],
             "Next": "FileSystemFailed"},
            {"And": [{"Variable": "$.fsStatus.Lifecycle", "StringEquals": "AVAILABLE"},
                     {"Variable": "$.dra", "IsPresent": False}],
             "Next": "CreateDataRepositoryAssociation"},
            {"Variable": "$.fsStatus.Lifecycle", "StringEquals": "AVAILABLE", "Next": "CheckDataRepositoryAssociation"},
        ],
        "CountLustrePoll",
    ))
    g.add("FileSystemFailed", pass_parameters(
        failure_record("FileSystemFailed", "File system {} became {} while being created",
                       "$.fs.FileSystemId", "$.fsStatus.Lifecycle"),
        "$.failure", "NothingToExport",
    ))
    g.add("CreateDataRepositoryAssociation", aws_sdk(
        "fsx", "createDataRepositoryAssociation",
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
        next_state="CountLustrePoll", result_path="$.dra",
        result_selector={"AssociationId.$": "$.Association.AssociationId"},
        retry=RETRY_WRITE, catch_to=failed_before_job(g, "CreateDataRepositoryAssociation"),
    ))
    g.add("CheckDataRepositoryAssociation", aws_sdk(
        "fsx", "describeDataRepositoryAssociations", {"AssociationIds.$": "States.Array($.dra.AssociationId)"},
        next_state="IsFileSystemAndAssociationAvailable", result_path="$.draStatus",
        result_selector={"Lifecycle.$": "$.Associations[0].Lifecycle"},
        retry=RETRY_READ, catch_to=failed_before_job(g, "CheckDataRepositoryAssociation"),
    ))
    # MISCONFIGURED may recover within 15 minutes (FSx Lustre Guide, DRA lifecycle): keep waiting, bounded.
    g.add("IsFileSystemAndAssociationAvailable", choice(
        [
            {"Variable": "$.draStatus.Lifecycle", "StringEquals": "AVAILABLE", "Next": "CreateLaunchTemplate"},
            {"Variable": "$.draStatus.Lifecycle", "StringEquals": "FAILED", "Next": "AssociationFailed"},
        ],
        "CountLustrePoll",
    ))
    g.add("AssociationFailed", pass_parameters(
        failure_record("DataRepositoryAssociationFailed",
                       "Data repository association {} of file system {} became FAILED",
                       "$.dra.AssociationId", "$.fs.FileSystemId"),
        "$.failure", "NothingToExport",
    ))
    g.add("CountLustrePoll", count_poll("lustre", "IsLustreWaitOver"))
    g.add("IsLustreWaitOver", poll_bound("lustre", f"{DERIVED}.maxLustrePolls", "LustreWaitTimedOut",
                                         "WaitForFileSystem"))
    g.add("LustreWaitTimedOut", pass_parameters(
        failure_record("LustreCreationTimedOut",
                       "File system {} and its data repository association were not AVAILABLE within "
                       "lustreCreationTimeoutMinutes={} (last file system state {})",
                       "$.fs.FileSystemId", f"{PARAMS}.lustreCreationTimeoutMinutes", "$.fsStatus.Lifecycle"),
        "$.failure", "NothingToExport",
    ))


def dns_name_expression(refs: WorkflowRefs) -> str:
    """The file system's DNS name, built from its id (FSx Lustre names are ``<id>.fsx.<region>.<domain>``).

    Not read from the response: Step Functions spells aws-sdk result members as the Java SDK v2 does
    (``DNSName`` comes back as ``DnsName``), so a path to it is a trap whichever way it is spelt.
    """
    domain = "amazonaws.com.cn" if refs.region.startswith("cn-") else "amazonaws.com"
    return f"States.Format('{{}}.fsx.{refs.region}.{domain}', $.fs.FileSystemId)"


def add_compute_and_job(g: Graph, refs: WorkflowRefs) -> None:
    """Launch template, compute environment, job definition, job, and the bounded wait for the job."""
    fs = "$.fsStatus.FileSystem"
    g.add("CreateLaunchTemplate", aws_sdk(
        "ec2", "createLaunchTemplate",
        {
            "LaunchTemplateName.$": f"{DERIVED}.launchTemplateName",
            "ClientToken.$": client_token("lt"),
            "LaunchTemplateData": {
                "UserData.$": user_data_expression(dns_name_expression(refs), f"{fs}.LustreConfiguration.MountName"),
                "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled",
                                    "HttpPutResponseHopLimit": 2},
                "TagSpecifications": [
                    {"ResourceType": kind, "Tags": tag_list(refs)} for kind in ("instance", "volume")
                ],
            },
            "TagSpecifications": [{"ResourceType": "launch-template", "Tags": tag_list(refs)}],
        },
        next_state="UpdateComputeEnvironment", result_path="$.lt",
        # Batch resolves "$Latest" once, when the environment is updated: name the version explicitly.
        result_selector={
            "LaunchTemplateId.$": "$.LaunchTemplate.LaunchTemplateId",
            "Version.$": "States.Format('{}', $.LaunchTemplate.LatestVersionNumber)",
        },
        retry=RETRY_WRITE, catch_to=failed_before_job(g, "CreateLaunchTemplate"),
    ))
    g.add("UpdateComputeEnvironment", aws_sdk(
        "batch", "updateComputeEnvironment",
        {
            "ComputeEnvironment": refs.compute_environment_arn,
            "ComputeResources": {"LaunchTemplate": {"LaunchTemplateId.$": "$.lt.LaunchTemplateId",
                                                    "Version.$": "$.lt.Version"}},
        },
        next_state="CreateJobDefinition", result_path="$.ceUpdate",
        result_selector={"ComputeEnvironmentArn.$": "$.ComputeEnvironmentArn"},
        retry=RETRY_WRITE, catch_to=failed_before_job(g, "UpdateComputeEnvironment"),
    ))
    g.add("CreateJobDefinition", aws_sdk(
        "batch", "registerJobDefinition",
        {
            "JobDefinitionName.$": f"{DERIVED}.jobDefinitionName",
            "Type": "container",
            "PlatformCapabilities": ["EC2"],
            "ContainerProperties": {
                "Image": refs.job_image,
                "ResourceRequirements": [
                    {"Type": "VCPU", "Value.$": f"{DERIVED}.jobVcpus"},
                    {"Type": "MEMORY", "Value.$": f"{DERIVED}.jobMemory"},
                ],
                "Volumes": [{"Name": "scratch", "Host": {"SourcePath": HOST_SCRATCH_DIR}}],
                "MountPoints": [{"SourceVolume": "scratch", "ContainerPath": CONTAINER_SCRATCH_DIR,
                                 "ReadOnly": False}],
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
        next_state="SubmitJob", result_path="$.jobDefinition",
        result_selector={"JobDefinitionArn.$": "$.JobDefinitionArn"},
        retry=RETRY_THROTTLED, catch_to=failed_before_job(g, "CreateJobDefinition"),
    ))
    g.add("SubmitJob", aws_sdk(
        "batch", "submitJob",
        {
            "JobName.$": f"{DERIVED}.jobName",
            "JobQueue": refs.job_queue_arn,
            "JobDefinition.$": "$.jobDefinition.JobDefinitionArn",
            "PropagateTags": True,
            "Tags": tag_map(refs),
        },
        next_state="WaitForJobCompletion", result_path="$.job",
        result_selector={"JobId.$": "$.JobId"},
        retry=RETRY_THROTTLED, catch_to=failed_before_job(g, "SubmitJob"),
    ))
    g.add("WaitForJobCompletion", wait(f"{PARAMS}.waitForJobCompletionSeconds", "CheckJobStatus"))
    g.add("CheckJobStatus", aws_sdk(
        "batch", "describeJobs", {"Jobs.$": "States.Array($.job.JobId)"},
        next_state="IsJobComplete", result_path="$.jobStatus",
        result_selector={"Status.$": "$.Jobs[0].Status", "Job.$": "$.Jobs[0]", "CheckedAt.$": "$$.State.EnteredTime"},
        retry=RETRY_READ, catch_to="JobStatusUnknown",
    ))
    g.add("JobStatusUnknown", pass_parameters(
        failure_record("JobStatusUnknown",
                       "The status of job {} could not be read, so its results were not exported",
                       "$.job.JobId"),
        "$.failure", "KeepFileSystemJobStatusUnknown",
    ))
    g.add("KeepFileSystemJobStatusUnknown", pass_result(
        {"Reason": "the job status is unknown, so its results may not be in S3"}, "$.keep", CLEANUP))
    # A FAILED job is final (Batch already applied the retry strategy): never waited on again.
    g.add("IsJobComplete", choice(
        [
            {"Variable": "$.jobStatus.Status", "StringEquals": "SUCCEEDED", "Next": AFTER_JOB},
            {"Variable": "$.jobStatus.Status", "StringEquals": "FAILED", "Next": "RecordJobFailure"},
        ],
        "CountJobPoll",
    ))
    g.add("RecordJobFailure", pass_parameters(
        failure_record("JobFailed", "Job {} FAILED; its results are exported before cleanup. Job: {}",
                       "$.job.JobId", "States.JsonToString($.jobStatus.Job)"),
        "$.jobFailure", AFTER_JOB,
    ))
    g.add("CountJobPoll", count_poll("job", "IsJobWaitOver"))
    g.add("IsJobWaitOver", choice(
        [
            {"Variable": "$.polls.job.count", "NumericGreaterThanEqualsPath": f"{DERIVED}.maxJobPollsAfterTerminate",
             "Next": "JobWaitGaveUp"},
            {"And": [
                {"Variable": "$.polls.job.count", "NumericGreaterThanEqualsPath": f"{DERIVED}.maxJobPolls"},
                {"Variable": "$.jobTerminate", "IsPresent": False},
            ], "Next": "TerminateJob"},
        ],
        "WaitForJobCompletion",
    ))
    g.add("TerminateJob", aws_sdk(
        "batch", "terminateJob",
        {"JobId.$": "$.job.JobId", "Reason": "batch-lustre: jobTimeoutMinutes exceeded"},
        next_state="WaitForJobCompletion", result_path="$.jobTerminate",
        result_selector={"Requested": True},
        retry=RETRY_WRITE, catch_to="WaitForJobCompletion", catch_path="$.jobTerminate",
    ))
    g.add("JobWaitGaveUp", pass_parameters(
        failure_record("JobTimedOut",
                       "Job {} did not end within jobTimeoutMinutes={} nor after being terminated",
                       "$.job.JobId", f"{PARAMS}.jobTimeoutMinutes"),
        "$.failure", "KeepFileSystemJobNotEnded",
    ))
    g.add("KeepFileSystemJobNotEnded", pass_result(
        {"Reason": "the job had not ended, so its results may not be in S3"}, "$.keep", CLEANUP))


def failed_before_job(g: Graph, step: str) -> str:
    """The state recording that ``step`` failed before the job ran; returns its name.

    The run fails with Error ``<step>Failed`` and a Cause holding the original error and cause (a Fail
    state's error is never a reserved ``States.*`` name).
    """
    name = f"{step}Failed"
    g.add(name, pass_parameters(
        {"Error": name, "Cause.$": "States.Format('{}: {}', $.error.Error, $.error.Cause)"},
        "$.failure", "NothingToExport",
    ))
    return name


def add_failure_before_job(g: Graph) -> None:
    """Failures before the job ran: nothing was written to the file system, so nothing is lost by deleting it."""
    g.add("NothingToExport", pass_result(True, "$.dataSafe", CLEANUP))
    g.add(MARK_DATA_SAFE, pass_result(True, "$.dataSafe", CLEANUP))


def add_cleanup_and_finish(g: Graph, refs: WorkflowRefs) -> None:
    """Undo every per-run change, on every path; delete the file system only when its data is safe."""
    g.add(CLEANUP, choice(
        [{"Variable": "$.ceUpdate", "IsPresent": True, "Next": "RestoreComputeEnvironment"}],
        "CleanupLaunchTemplate",
    ))
    g.add("RestoreComputeEnvironment", aws_sdk(
        "batch", "updateComputeEnvironment",
        {
            "ComputeEnvironment": refs.compute_environment_arn,
            "ComputeResources": {"LaunchTemplate": {"LaunchTemplateId": refs.baseline_launch_template_id,
                                                    "Version": refs.baseline_launch_template_version}},
        },
        next_state="CleanupLaunchTemplate", result_path=None,
        retry=RETRY_CLEANUP, catch_to="CleanupLaunchTemplate",
        catch_path="$.cleanupErrors.restoreComputeEnvironment",
    ))
    # A launch template the compute environment may still use is not deleted.
    g.add("CleanupLaunchTemplate", choice(
        [{"And": [{"Variable": "$.lt", "IsPresent": True},
                  {"Variable": "$.cleanupErrors.restoreComputeEnvironment", "IsPresent": False}],
          "Next": "DeleteLaunchTemplate"}],
        "CleanupJobDefinition",
    ))
    g.add("DeleteLaunchTemplate", aws_sdk(
        "ec2", "deleteLaunchTemplate", {"LaunchTemplateId.$": "$.lt.LaunchTemplateId"},
        next_state="CleanupJobDefinition", result_path=None,
        retry=RETRY_CLEANUP, catch_to="CleanupJobDefinition", catch_path="$.cleanupErrors.deleteLaunchTemplate",
    ))
    g.add("CleanupJobDefinition", choice(
        [{"Variable": "$.jobDefinition", "IsPresent": True, "Next": "DeregisterJobDefinition"}],
        "ShouldDeleteLustre",
    ))
    g.add("DeregisterJobDefinition", aws_sdk(
        "batch", "deregisterJobDefinition", {"JobDefinition.$": "$.jobDefinition.JobDefinitionArn"},
        next_state="ShouldDeleteLustre", result_path=None,
        retry=RETRY_CLEANUP, catch_to="ShouldDeleteLustre", catch_path="$.cleanupErrors.deregisterJobDefinition",
    ))
    g.add("ShouldDeleteLustre", choice(
        [
            {"Variable": "$.fs", "IsPresent": False, "Next": "Finish"},
            {"Not": {"Variable": "$.dataSafe", "IsPresent": True}, "Next": "KeepFileSystemDataNotSafe"},
            {"Variable": f"{PARAMS}.deleteLustre", "BooleanEquals": False, "Next": "KeepFileSystemOnRequest"},
        ],
        "DeleteFSx",
    ))
    g.add("KeepFileSystemDataNotSafe", pass_result(
        {"FileSystemDeleted": False, "Reason": "its data is not provably in S3"}, "$.fileSystemOutcome", "Finish"))
    g.add("KeepFileSystemOnRequest", pass_result(
        {"FileSystemDeleted": False, "Reason": "deleteLustre=false"}, "$.fileSystemOutcome", "Finish"))
    delete = aws_sdk(
        "fsx", "deleteFileSystem",
        {"FileSystemId.$": "$.fs.FileSystemId", "ClientRequestToken.$": client_token("delete")},
        next_state="Finish", result_path="$.fileSystemOutcome",
        result_selector={"FileSystemDeleted": True, "Lifecycle.$": "$.Lifecycle"},
        retry=RETRY_CLEANUP, catch_to="DeleteFSxFailed", catch_path="$.cleanupErrors.deleteFileSystem",
    )
    # DeleteFileSystem is refused (BadRequest) while a data repository task is PENDING/EXECUTING, e.g. the
    # IMPORT task of the association, which can run for hours on a large bucket: keep asking, every 5 minutes
    # for 2 hours, before giving up (the cleanup retries alone last about 12 minutes).
    delete["Retry"] = [{"ErrorEquals": ["FSx.BadRequestException"], "IntervalSeconds": 300, "MaxAttempts": 24,
                        "BackoffRate": 1.0}, *delete["Retry"]]
    g.add("DeleteFSx", delete)
    g.add("DeleteFSxFailed", pass_result(
        {"FileSystemDeleted": False, "Reason": "DeleteFileSystem was refused"}, "$.fileSystemOutcome",
        "RecordFileSystemKept"))
    # The file system is left behind: the run's Cause must say so, whatever else failed.
    g.add("RecordFileSystemKept", pass_parameters(
        {"Message.$": "States.Format('file system {} was kept: DeleteFileSystem was refused', $.fs.FileSystemId)"},
        "$.cleanupErrors.fileSystemKept", "Finish"))
    g.add("Finish", choice(
        [
            {"And": [{"Variable": "$.failure", "IsPresent": True}, {"Variable": "$.keep", "IsPresent": True}],
             "Next": "AddKeptFileSystemToFailure"},
            {"And": [{"Variable": "$.failure", "IsPresent": True}, {"Variable": "$.cleanupErrors", "IsPresent": True}],
             "Next": "AddCleanupErrorsToFailure"},
            {"Variable": "$.failure", "IsPresent": True, "Next": "RunFailed"},
            {"Variable": "$.keep", "IsPresent": True, "Next": "ExportNotConfirmed"},
            {"And": [{"Variable": "$.jobFailure", "IsPresent": True},
                     {"Variable": "$.cleanupErrors", "IsPresent": True}],
             "Next": "AddCleanupErrorsToJobFailure"},
            {"Variable": "$.jobFailure", "IsPresent": True, "Next": "JobFailed"},
            {"Variable": "$.cleanupErrors", "IsPresent": True, "Next": "CleanupIncomplete"},
        ],
        "SummarizeRun",
    ))
    # A failed run whose cleanup also failed says both (a compute environment left on the run's launch
    # template, or a file system left behind, must not go unmentioned).
    for record, target in (("failure", "RunFailed"), ("jobFailure", "JobFailed")):
        g.add(f"AddCleanupErrorsTo{record[0].upper()}{record[1:]}", pass_parameters(
            {"Error.$": f"$.{record}.Error",
             "Cause.$": f"States.Format('{{}} Cleanup steps failed too: {{}}', $.{record}.Cause, "
                        "States.JsonToString($.cleanupErrors))"},
            f"$.{record}", target,
        ))
    g.add("AddKeptFileSystemToFailure", pass_parameters(
        {"Error.$": "$.failure.Error",
         "Cause.$": "States.Format('{} File system {} was kept: {}.', $.failure.Cause, $.fs.FileSystemId, "
                    "$.keep.Reason)"},
        "$.failure", "RunFailed",
    ))
    g.add("ExportNotConfirmed", pass_parameters(
        {"Error": "ExportNotConfirmed",
         "Cause.$": "States.Format('File system {} was kept: {}.', $.fs.FileSystemId, $.keep.Reason)"},
        "$.failure", "RunFailed",
    ))
    g.add("CleanupIncomplete", pass_parameters(
        {"Error": "CleanupIncomplete",
         "Cause.$": "States.Format('The job succeeded and its results are in S3, but cleanup steps failed: {}', "
                    "States.JsonToString($.cleanupErrors))"},
        "$.failure", "RunFailed",
    ))
    g.add("RunFailed", fail_from("$.failure.Error", "$.failure.Cause"))
    g.add("JobFailed", fail_from("$.jobFailure.Error", "$.jobFailure.Cause"))
    g.add("SummarizeRun", pass_parameters(
        {
            "mode": refs.mode,
            "bucket": refs.bucket_name,
            "fileSystemId.$": "$.fs.FileSystemId",
            "fileSystem.$": "$.fileSystemOutcome",
            "jobId.$": "$.job.JobId",
        },
        "$", "RunSucceeded",
    ))
    g.add("RunSucceeded", {"Type": "Succeed"})


def build(refs: WorkflowRefs, add_after_job: Any, comment: str) -> dict[str, Any]:
    """The whole definition: shared states plus the variant's ``AfterJob`` section."""
    g = Graph()
    start = add_run_start(g, refs)
    add_file_system(g, refs)
    add_compute_and_job(g, refs)
    add_after_job(g, refs)
    add_failure_before_job(g)
    add_cleanup_and_finish(g, refs)
    return g.render(start, comment)
