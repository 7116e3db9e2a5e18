"""Branch Compute of ``PrepareFileSystemAndCompute``: the run's launch template (mounting the file system),
the compute environment switched to it (and warmed, when asked) and VALID, the run's job definition."""

from __future__ import annotations

from typing import Any

from batch_lustre.program.asl.naming import CONTAINER_SCRATCH_DIR, HOST_SCRATCH_DIR
from batch_lustre.program.asl.paths import DERIVED, LANE, PARAMS
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.asl.run_resources import client_token, dns_name_expression, tag_list, tag_map
from batch_lustre.program.asl.sections import record_failure
from batch_lustre.program.asl.states import (
    RETRY_THROTTLED,
    RETRY_WRITE,
    Graph,
    aws_sdk,
    choice,
    ends_branch,
    failure_record,
    last,
    pass_parameters,
    wait_for,
    wait_for_next,
    waiting_rules,
)
from batch_lustre.program.asl.user_data import user_data_expression


def compute_branch(g: Graph, refs: WorkflowRefs) -> dict[str, Any]:
    """The branch, its states added to a graph within ``g``; it ends normally, with ``$.failure`` on a failure."""
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
                        {"ResourceType": kind, "Tags": tag_list(refs, lane=True)} for kind in ("instance", "volume")
                    ],
                },
                "TagSpecifications": [{"ResourceType": "launch-template", "Tags": tag_list(refs, lane=True)}],
            },
            next_state="CheckComputeEnvironmentIdle",
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
    # Not while it is changing (a previous run's restore still UPDATING): whether Batch refuses an update then is
    # not documented, so the run waits until it is not, bounded by the compute environment's loop (it shares the
    # loop's record and bound with CheckComputeEnvironment). Past the bound it goes ahead: Batch decides.
    b.add(
        "CheckComputeEnvironmentIdle",
        wait_for(
            refs.wait_for_function_arn,
            "computeEnvironmentIdle",
            "computeEnvironment",
            "computeEnvironment",
            {"computeEnvironment.$": f"{LANE}.computeEnvironmentArn"},
            next_state="IsComputeEnvironmentIdle",
            catch_to=record_failure(b, "CheckComputeEnvironmentIdleFailed", None),
        ),
    )
    b.add("WaitForComputeEnvironmentIdle", wait_for_next("computeEnvironment", "CheckComputeEnvironmentIdle"))
    b.add(
        "IsComputeEnvironmentIdle",
        choice(
            waiting_rules("computeEnvironment", "WaitForComputeEnvironmentIdle", "UpdateComputeEnvironment"),
            "UpdateComputeEnvironment",
        ),
    )
    # Warm capacity (derived.warmCapacity = {"DesiredvCpus": n}, or {}): hosts boot while the file system is
    # created and wait in their user data until it is mountable. Batch refuses to lower desiredvCpus, so a
    # refused update is tried again without it before the run gives up.
    update = aws_sdk(
        "batch",
        "updateComputeEnvironment",
        {
            "ComputeEnvironment.$": f"{LANE}.computeEnvironmentArn",
            "ComputeResources.$": f"States.JsonMerge($.lt.ComputeResources, {DERIVED}.warmCapacity, false)",
        },
        next_state="CheckComputeEnvironment",
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
            {"ComputeEnvironment.$": f"{LANE}.computeEnvironmentArn", "ComputeResources.$": "$.lt.ComputeResources"},
            next_state="CheckComputeEnvironment",
            result_path="$.ceUpdate",
            result_selector={"ComputeEnvironmentArn.$": "$.ComputeEnvironmentArn"},
            retry=RETRY_WRITE,
            catch_to="UpdateComputeEnvironmentFailed",
        ),
    )
    record_failure(b, "UpdateComputeEnvironmentFailed", None)
    # The job must not wait on an environment that cannot run it: wait until it is VALID on this run's
    # launch template, and fail at once when it is INVALID.
    b.add(
        "CheckComputeEnvironment",
        wait_for(
            refs.wait_for_function_arn,
            "computeEnvironment",
            "computeEnvironment",
            "computeEnvironment",
            {
                "computeEnvironment.$": f"{LANE}.computeEnvironmentArn",
                "launchTemplateId.$": "$.lt.LaunchTemplateId",
            },
            next_state="IsComputeEnvironmentValid",
            catch_to=record_failure(b, "CheckComputeEnvironmentFailed", None),
        ),
    )
    b.add("WaitForComputeEnvironment", wait_for_next("computeEnvironment", "CheckComputeEnvironment"))
    b.add(
        "IsComputeEnvironmentValid",
        choice(
            [
                *waiting_rules("computeEnvironment", "WaitForComputeEnvironment", "ComputeEnvironmentNotReady"),
                {
                    "Variable": last("computeEnvironment", "Ready"),
                    "BooleanEquals": True,
                    "Next": "CreateJobDefinition",
                },
            ],
            "ComputeEnvironmentInvalid",
        ),
    )
    b.add(
        "ComputeEnvironmentInvalid",
        ends_branch(
            pass_parameters(
                failure_record(
                    "ComputeEnvironmentInvalid",
                    "Compute environment became INVALID after it was pointed at the run launch template: {}",
                    f"States.JsonToString({last('computeEnvironment', 'Environment')})",
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
                    f"States.JsonToString({last('computeEnvironment', 'Environment')})",
                ),
                "$.failure",
                "",
            )
        ),
    )
    b.add(  # the last step: the branch ends ready
        "CreateJobDefinition",
        ends_branch(
            aws_sdk(
                "batch",
                "registerJobDefinition",
                {
                    "JobDefinitionName.$": f"{DERIVED}.jobDefinitionName",
                    "Type": "container",
                    "PlatformCapabilities": ["EC2"],
                    "ContainerProperties": {
                        # The digest ResolveJobImage read at run start: a push to the tag during the run changes nothing.
                        "Image.$": f"States.Format('{refs.job_repository_url}@{{}}', $.image.digest)",
                        "ResourceRequirements": [
                            {"Type": "VCPU", "Value.$": f"{DERIVED}.jobVcpus"},
                            {"Type": "MEMORY", "Value.$": f"{DERIVED}.jobMemory"},
                        ],
                        "Volumes": [{"Name": "scratch", "Host": {"SourcePath": HOST_SCRATCH_DIR}}],
                        "MountPoints": [
                            {"SourceVolume": "scratch", "ContainerPath": CONTAINER_SCRATCH_DIR, "ReadOnly": False}
                        ],
                        # The stack's log group, with its retention (not Batch's default /aws/batch/job, kept forever).
                        "LogConfiguration": {
                            "LogDriver": "awslogs",
                            "Options": {"awslogs-group": refs.job_log_group_name, "awslogs-region": refs.region},
                        },
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
                next_state="",
                result_path="$.jobDefinition",
                result_selector={"JobDefinitionArn.$": "$.JobDefinitionArn"},
                retry=RETRY_THROTTLED,
                catch_to=record_failure(b, "CreateJobDefinitionFailed", None),
            )
        ),
    )
    return b.branch("CreateLaunchTemplate")
