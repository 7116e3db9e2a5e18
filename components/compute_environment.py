"""AWS Batch: the job image repository, the compute environment and its job queue."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from batch_lustre.program.asl.naming import HOST_MOUNT_DIR, LUSTRE_PORT_RANGES
from batch_lustre.program.components import Tags, assume_role_policy, named

# New compute environments default to ECS_AL2023 since 2026-01-12 and AL2 is blocked for
# new ones from 2026-06-30; the per-run user data installs the client with dnf (AL2023).
# Named explicitly so the AMI family cannot change under the user data.
ECS_IMAGE_TYPE = "ECS_AL2023"
# Containers reach IMDS through the docker bridge: one hop more than the instance.
IMDS_HOP_LIMIT = 2
# How long running jobs are given when an infrastructure update replaces their instances (a plain `pulumi up`
# during a run; `batch-lustre deploy` refuses then): the stack's jobTimeoutMinutes, within Batch's range for it
# (UpdatePolicy.jobExecutionTimeoutMinutes, 1 to 7200: docs/aws-rules.md).
MAX_JOB_EXECUTION_TIMEOUT_ON_UPDATE_MINUTES = 7200
# What the compute environment's updates leave to Batch and to the runs (Pulumi property paths).
IGNORED_COMPUTE_CHANGES = ("computeResources.desiredVcpus", "computeResources.launchTemplate")


BASELINE_BOUNDARY = "==BATCHLUSTREBASELINE=="
# A host launched from the baseline has no file system. Every job's host path (asl.naming.HOST_SCRATCH_DIR) lies
# under the mount point, which only a run's launch template mounts: here the mount point is an empty directory
# made immutable, so the Docker daemon cannot create the job's host path under it and the job fails to start
# (docs/design.md, "A job never runs without its file system"), instead of writing to the root disk. Batch
# needs MIME multipart user data (docs/aws-rules.md, "Batch").
BASELINE_USER_DATA = f"""MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="{BASELINE_BOUNDARY}"

--{BASELINE_BOUNDARY}
Content-Type: text/x-shellscript; charset="us-ascii"

#!/bin/bash
# No Lustre file system on this host: no job may write under {HOST_MOUNT_DIR}.
set -euxo pipefail
MOUNT_DIR="{HOST_MOUNT_DIR}"
mkdir -p "$MOUNT_DIR"
chattr +i "$MOUNT_DIR"
echo "batch-lustre: baseline host, no file system: $MOUNT_DIR is immutable, a job needing it fails to start"

--{BASELINE_BOUNDARY}--
"""


@dataclass(frozen=True)
class SharedCompute:
    """What every lane of a stack shares, made once by lane 0's component: the job image repository, the
    instances' role and profile (and its policy attachments, which each compute environment depends on), the Lustre
    security group and the jobs' log group."""

    repository: aws.ecr.Repository
    instance_role: aws.iam.Role
    instance_role_attachments: Sequence[aws.iam.RolePolicyAttachment]
    instance_profile: aws.iam.InstanceProfile
    lustre_security_group: aws.ec2.SecurityGroup
    job_log_group: aws.cloudwatch.LogGroup


@dataclass
class ComputeEnvironmentArgs:
    """Inputs of :class:`ComputeEnvironment` (values from validated stack settings)."""

    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[Sequence[str]]
    ecr_repository_name: pulumi.Input[str]
    compute_type: pulumi.Input[str]  # EC2 | SPOT
    allocation_strategy: pulumi.Input[str]
    instance_types: pulumi.Input[Sequence[str]]
    min_vcpus: pulumi.Input[int]
    max_vcpus: pulumi.Input[int]
    desired_vcpus: pulumi.Input[int]
    job_log_group_name: pulumi.Input[str]  # asl.naming.job_log_group_name
    job_log_retention_days: pulumi.Input[int]  # jobLogRetentionDays
    untagged_image_expiry_days: int  # ecrUntaggedImageExpiryDays
    job_timeout_minutes: int  # jobTimeoutMinutes: the longest a job runs, so the longest an update lets it run on
    label: str = ""  # what each Name tag starts with (envName in lower case); the component's name when empty
    tags: Tags = field(default_factory=dict)
    protect_repository: bool = False  # Pulumi's protect option on the ECR repository (stack config protectRepository)
    # Another lane's shared resources (lanes k >= 1, stack config maxConcurrentRuns): used, not made (the repository,
    # log group and expiry inputs above are then not read). None: this component makes them (lane 0).
    shared: SharedCompute | None = None


class ComputeEnvironment(pulumi.ComponentResource):
    """The Batch side of one lane of the stack (stack config maxConcurrentRuns; one component per lane). Per lane:
    the baseline launch template, the compute environment and its job queue. Shared by the lanes
    (``SharedCompute``, made by lane 0's component and given to the others in ``args.shared``): the repository, the
    instance role and profile, the Lustre security group and the jobs' log group.

    - ECR repository named ``ecrRepositoryName``, scanned on push. Not ``force_delete``:
      ``pulumi destroy`` fails while it still holds images, so job images are never lost
      by accident (delete them first if the repository is really to go). Its lifecycle policy
      deletes untagged images (those whose tag a later push took over) ``untagged_image_expiry_days``
      after their push, so the repository does not grow with every push of ``latest``. Protected
      by Pulumi when ``protect_repository``.
    - Instance role (ECS for EC2 + SSM core) and its instance profile.
    - The Lustre security group, shared by the file systems and the Batch instances:
      inbound TCP on the Lustre ports (``asl.naming.LUSTRE_PORT_RANGES``) from itself, all outbound.
    - The baseline launch template: IMDSv2 required, hop limit 2, and user data that makes the
      (unmounted) mount point immutable, so a job placed on a host without a file system fails
      to start instead of writing to the root disk (``BASELINE_USER_DATA``).
    - A managed compute environment (type, allocation strategy, instance types and vCPUs
      from config) in the private subnets, using the baseline template's id and latest
      version. No ``service_role``, so Batch uses its AWSServiceRoleForBatch service-linked
      role, which the per-run launch-template update (an infrastructure update) requires.
    - A job queue on that compute environment.
    - The jobs' log group (``job_log_group_name``, kept ``job_log_retention_days``): every run's job definition
      sends its container's output there (awslogs), instead of Batch's default ``/aws/batch/job``, which never
      expires. The hosts write to it with the instance role (its ECS managed policy allows
      logs:CreateLogStream and logs:PutLogEvents).

    Each run points the compute environment at its own launch template and restores the
    baseline when it ends; a run that ends without its cleanup is put back by the run-cleanup
    state machine. So the launch template is in ``ignore_changes`` (set at creation, never sent by
    an update: a refresh during a run records the run's template, and an update must not put the
    baseline back under the run's jobs), and so is ``desiredvCpus``: Batch changes it by itself
    (and each run's warm capacity raises it), and refuses to lower it by an update. A change to
    the baseline launch template itself reaches the environment through the workflow (each run's
    Cleanup restores the id and version its definition holds), not through this resource. Do not
    run ``pulumi up`` while a run is going (``batch-lustre deploy`` refuses): other compute
    changes are still infrastructure updates.

    Outputs: ``repository_url``, ``compute_environment_arn``, ``compute_environment_name``,
    ``job_queue_arn``, ``job_queue_name``, ``lustre_security_group_id``,
    ``baseline_launch_template_id``, ``baseline_launch_template_version`` (string),
    ``instance_role_arn``, ``job_log_group_name``.
    """

    def __init__(self, name: str, args: ComputeEnvironmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("batchlustre:index:ComputeEnvironment", name, None, opts)
        self._name = name
        self._label = args.label or name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)

        self.shared = args.shared or self._create_shared()
        self.repository = self.shared.repository
        self.instance_role = self.shared.instance_role
        self.instance_profile = self.shared.instance_profile
        self.lustre_security_group = self.shared.lustre_security_group
        self.job_log_group = self.shared.job_log_group
        self.baseline_launch_template = self._create_baseline_launch_template()
        self.compute_environment = self._create_compute_environment()
        self.job_queue = self._create_job_queue()

        self.repository_url = self.repository.repository_url
        self.compute_environment_arn = self.compute_environment.arn
        self.compute_environment_name = self.compute_environment.name
        self.job_queue_arn = self.job_queue.arn
        self.job_queue_name = self.job_queue.name
        self.lustre_security_group_id = self.lustre_security_group.id
        self.baseline_launch_template_id = self.baseline_launch_template.id
        self.baseline_launch_template_version = self.baseline_launch_template.latest_version.apply(str)
        self.instance_role_arn = self.instance_role.arn
        self.job_log_group_name = self.job_log_group.name
        self.register_outputs(
            {
                "repository_url": self.repository_url,
                "compute_environment_arn": self.compute_environment_arn,
                "compute_environment_name": self.compute_environment_name,
                "job_queue_arn": self.job_queue_arn,
                "job_queue_name": self.job_queue_name,
                "lustre_security_group_id": self.lustre_security_group_id,
                "baseline_launch_template_id": self.baseline_launch_template_id,
                "baseline_launch_template_version": self.baseline_launch_template_version,
                "instance_role_arn": self.instance_role_arn,
                "job_log_group_name": self.job_log_group_name,
            }
        )

    def _tags(self, suffix: str) -> dict[str, pulumi.Input[str]]:
        return named(self._args.tags, f"{self._label}-{suffix}")

    def _create_shared(self) -> SharedCompute:
        """The resources every lane shares, declared in the order (and with the names) of a stack of one lane."""
        repository = self._create_repository()
        self._create_repository_lifecycle_policy(repository)
        instance_role, attachments, instance_profile = self._create_instance_role()
        lustre_security_group = self._create_lustre_security_group()
        return SharedCompute(
            repository=repository,
            instance_role=instance_role,
            instance_role_attachments=attachments,
            instance_profile=instance_profile,
            lustre_security_group=lustre_security_group,
            job_log_group=self._create_job_log_group(),
        )

    def _create_repository(self) -> aws.ecr.Repository:
        return aws.ecr.Repository(
            f"{self._name}-repository",
            name=self._args.ecr_repository_name,
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            image_tag_mutability="MUTABLE",  # jobs run <repository>:latest
            force_delete=False,
            tags=self._tags("repository"),
            opts=pulumi.ResourceOptions(parent=self, protect=self._args.protect_repository),
        )

    def _create_repository_lifecycle_policy(self, repository: aws.ecr.Repository) -> aws.ecr.LifecyclePolicy:
        return aws.ecr.LifecyclePolicy(
            f"{self._name}-repository-lifecycle",
            repository=repository.name,
            policy=untagged_image_expiry(self._args.untagged_image_expiry_days),
            opts=self._child,
        )

    def _create_instance_role(
        self,
    ) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment], aws.iam.InstanceProfile]:
        role = aws.iam.Role(
            f"{self._name}-instance-role",
            assume_role_policy=json.dumps(assume_role_policy("ec2.amazonaws.com")),
            tags=self._tags("instance-role"),
            opts=self._child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{self._name}-instance-role-{suffix}", role=role.name, policy_arn=policy_arn, opts=self._child
            )
            for suffix, policy_arn in (
                ("ecs", aws.iam.ManagedPolicy.AMAZON_EC2_CONTAINER_SERVICEFOR_EC2_ROLE),
                ("ssm", aws.iam.ManagedPolicy.AMAZON_SSM_MANAGED_INSTANCE_CORE),
            )
        ]
        profile = aws.iam.InstanceProfile(
            f"{self._name}-instance-profile", role=role.name, tags=self._tags("instance-profile"), opts=self._child
        )
        return role, attachments, profile

    def _create_lustre_security_group(self) -> aws.ec2.SecurityGroup:
        group = aws.ec2.SecurityGroup(
            f"{self._name}-lustre",
            description=f"Lustre file systems and their Batch clients (TCP {_port_ranges()} within the group)",
            vpc_id=self._args.vpc_id,
            tags=self._tags("lustre"),
            opts=self._child,
        )
        for from_port, to_port in LUSTRE_PORT_RANGES:
            aws.vpc.SecurityGroupIngressRule(
                f"{self._name}-lustre-{from_port}-{to_port}",
                security_group_id=group.id,
                referenced_security_group_id=group.id,
                ip_protocol="tcp",
                from_port=from_port,
                to_port=to_port,
                description=f"Lustre TCP {from_port}-{to_port} from the group itself",
                tags=self._tags(f"lustre-{from_port}-{to_port}"),
                opts=self._child,
            )
        # The provider removes AWS's default allow-all egress rule, so it is declared here.
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-lustre-egress",
            security_group_id=group.id,
            ip_protocol="-1",
            cidr_ipv4="0.0.0.0/0",
            description="All outbound (ECR, S3, Batch, package repositories)",
            tags=self._tags("lustre-egress"),
            opts=self._child,
        )
        return group

    def _create_baseline_launch_template(self) -> aws.ec2.LaunchTemplate:
        return aws.ec2.LaunchTemplate(
            f"{self._name}-baseline",
            description="Baseline for the compute environment between runs: IMDSv2, no file system, no job starts",
            user_data=base64.b64encode(BASELINE_USER_DATA.encode()).decode(),
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=IMDS_HOP_LIMIT,
            ),
            tags=self._tags("baseline"),
            opts=self._child,
        )

    def _create_compute_environment(self) -> aws.batch.ComputeEnvironment:
        args = self._args
        template = self.baseline_launch_template
        return aws.batch.ComputeEnvironment(
            f"{self._name}-ce",
            type="MANAGED",
            state="ENABLED",
            compute_resources=aws.batch.ComputeEnvironmentComputeResourcesArgs(
                type=args.compute_type,
                allocation_strategy=args.allocation_strategy,
                instance_types=args.instance_types,
                min_vcpus=args.min_vcpus,
                max_vcpus=args.max_vcpus,
                desired_vcpus=args.desired_vcpus,
                subnets=args.private_subnet_ids,
                security_group_ids=[self.lustre_security_group.id],
                instance_role=self.instance_profile.arn,
                launch_template=aws.batch.ComputeEnvironmentComputeResourcesLaunchTemplateArgs(
                    launch_template_id=template.id,
                    # An explicit number: Batch resolves $Latest/$Default only at creation or update.
                    version=template.latest_version.apply(str),
                ),
                ec2_configurations=[
                    aws.batch.ComputeEnvironmentComputeResourcesEc2ConfigurationArgs(image_type=ECS_IMAGE_TYPE)
                ],
                tags=self._tags("batch-instance"),
            ),
            update_policy=aws.batch.ComputeEnvironmentUpdatePolicyArgs(
                terminate_jobs_on_update=False,
                job_execution_timeout_minutes=min(
                    self._args.job_timeout_minutes, MAX_JOB_EXECUTION_TIMEOUT_ON_UPDATE_MINUTES
                ),
            ),
            tags=self._tags("ce"),
            # Batch changes desiredvCpus by itself (scaling, and each run's warm capacity) and refuses to
            # lower it by an update (docs/aws-rules.md): a refresh or an update must not try to put it back.
            # Each run points the environment at its own launch template and its Cleanup (or the run cleanup)
            # restores the baseline from the definition: a refresh during a run records the run's template, and
            # an update must not send the baseline back under the run's jobs.
            # The instances' role needs its policies for as long as the environment has instances: created before
            # it, deleted after it (pulumi-aws ComputeEnvironment: "set dependsOn to the related
            # aws.iam.RolePolicyAttachment; otherwise, the policy may be destroyed too soon and the compute
            # environment will then get stuck in the DELETING state"; docs/aws-rules.md).
            opts=pulumi.ResourceOptions(
                parent=self,
                ignore_changes=list(IGNORED_COMPUTE_CHANGES),
                depends_on=[*self.shared.instance_role_attachments, self.instance_profile],
            ),
        )

    def _create_job_queue(self) -> aws.batch.JobQueue:
        return aws.batch.JobQueue(
            f"{self._name}-queue",
            state="ENABLED",
            priority=1,
            compute_environment_orders=[
                aws.batch.JobQueueComputeEnvironmentOrderArgs(compute_environment=self.compute_environment.arn, order=1)
            ],
            tags=self._tags("queue"),
            opts=self._child,
        )

    def _create_job_log_group(self) -> aws.cloudwatch.LogGroup:
        return aws.cloudwatch.LogGroup(
            f"{self._name}-batch-job-logs",
            aws.cloudwatch.LogGroupArgs(
                name=self._args.job_log_group_name,
                retention_in_days=self._args.job_log_retention_days,
                tags=self._tags("batch-job-logs"),
            ),
            opts=self._child,
        )


def untagged_image_expiry(days: int) -> aws.ecr.LifecyclePolicyDocumentArgs:
    """An ECR lifecycle policy expiring each untagged image ``days`` after its push (ECR counts from the push,
    not from when the image lost its tag: docs/aws-rules.md, "ECR")."""
    return aws.ecr.LifecyclePolicyDocumentArgs(
        rules=[
            aws.ecr.LifecyclePolicyRuleArgs(
                rule_priority=1,
                description=f"Expire untagged images {days} days after their push",
                selection=aws.ecr.LifecyclePolicySelectionArgs(
                    tag_status="untagged", count_type="sinceImagePushed", count_unit="days", count_number=days
                ),
                action=aws.ecr.LifecyclePolicyActionArgs(type="expire"),
            )
        ]
    )


def _port_ranges() -> str:
    """The Lustre ports as words: ``988, 1018-1023``."""
    return ", ".join(str(low) if low == high else f"{low}-{high}" for low, high in LUSTRE_PORT_RANGES)
