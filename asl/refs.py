"""The plain values a workflow definition is built from: ARNs, names, ids."""

from __future__ import annotations

from dataclasses import dataclass, field

from batch_lustre.program.asl.data_layout import DataLayout


@dataclass(frozen=True)
class LaneRefs:
    """One lane (stack config maxConcurrentRuns): a compute environment, its baseline launch template (the version
    its runs' Cleanup restores) and its job queue."""

    compute_environment_arn: str
    job_queue_arn: str
    baseline_launch_template_id: str
    baseline_launch_template_version: str


@dataclass(frozen=True)
class WorkflowRefs:
    """Everything the state machine definition refers to, as resolved strings.

    The Pulumi workflow component fills these from resource outputs inside
    ``Output.all(...).apply``; the emulation fills them from moto resources.
    """

    mode: str  # parameters.TASK_EXPORT | parameters.AUTO_EXPORT
    stack: str  # Pulumi stack name, tagged on every per-run resource
    stack_id: str  # the stack's generated id (naming.TAG_STACK_ID), tagged on every per-run resource
    name_prefix: str  # prefix of per-run resource names: naming.run_name_prefix(<envName lower>, stack_id)
    region: str
    account_id: str
    state_machine_name: str  # fixed name, so the role's policy can name the machine's executions
    # The run-cleanup machine's fixed name: the lane check describes its executions (a run cleanup holds the lane
    # of the run it cleans up after: asl/lane_queue.py).
    run_cleanup_state_machine_name: str
    secret_arn: str
    bucket_name: str
    subnet_id: str  # where the SCRATCH_2 file system lives
    lustre_security_group_id: str
    lanes: tuple[LaneRefs, ...]  # lane k at index k: each run takes one (asl/lane.py)
    lane_table_name: str  # the DynamoDB table of the lanes' holders (asl.naming.lane_table_name)
    # The job image is <job_repository_url>@<digest>: the digest <imageTag> (default "latest") names at run start.
    job_repository_url: str
    job_log_group_name: str  # the stack's log group of the jobs' logs (asl.naming.job_log_group_name)
    # The Lambda functions' ARNs as the definition invokes them: the stack passes qualified ARNs (a published
    # version, ``...:function:<name>:<version>``), so an execution keeps the code it started with.
    extract_parameters_function_arn: str
    summarize_job_function_arn: str
    check_metrics_function_arn: str = ""  # autoexport only
    # WaitFor (lambda/wait_for.py): the waiting loops; "" (the run-cleanup machine): the loops wait in states.
    wait_for_function_arn: str = ""
    data_layout: DataLayout = field(default_factory=DataLayout)  # the seeds' layout unless the stack config says

    @property
    def job_repository_name(self) -> str:
        """The ECR repository's name: ``<account>.dkr.ecr.<region>.amazonaws.com/<name>``'s last part."""
        return self.job_repository_url.split("/", 1)[1]
