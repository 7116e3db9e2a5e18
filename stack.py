"""The whole stack: stack config -> settings -> components -> stack outputs.

``main()`` is what ``__main__.py`` runs. The config is read and validated before any
resource is declared (``settings.settings_from_config``, the one reader of stack config),
so a bad value stops the program with one line naming key, value and what is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pulumi
import pulumi_random

from batch_lustre.program.asl import naming
from batch_lustre.program.components.compute_environment import ComputeEnvironment, ComputeEnvironmentArgs
from batch_lustre.program.components.data_bucket import DataBucket, DataBucketArgs
from batch_lustre.program.components.lane_table import LaneTable, LaneTableArgs
from batch_lustre.program.components.network import Network, NetworkArgs
from batch_lustre.program.components.run_cleanup import RunCleanup, RunCleanupArgs
from batch_lustre.program.components.runtime_secret import RuntimeSecret, RuntimeSecretArgs
from batch_lustre.program.components.workflow import PREVIOUS_WORKFLOW_TYPES, LaneArgs, Workflow, WorkflowArgs
from batch_lustre.program.parameters import BY_NAME, ParameterError
from batch_lustre.program.settings import (
    CONFIG_PREFIX,
    REGION_KEY,
    Settings,
    check_identity,
    check_stack_names,
    load_stack_config,
    settings_from_config,
    stack_identity,
)


def program_config(project_dir: Path | None = None) -> dict[str, str]:
    """The stack config as the engine handed it to the program: full key (``batch-lustre:mode``) -> value.

    Read through Pulumi's public API (``pulumi.Config``), key by key: the mode, every parameter and the Region.
    Pulumi has no public call listing the keys, so a key of this project that is no parameter (a misspelling) is
    found in the stack file beside the program (``Pulumi.<stack>.yaml`` in ``project_dir``, default the working
    directory, where ``pulumi up`` runs it) and handed over too, for ``settings_from_config`` to refuse.
    """
    project = pulumi.Config(naming.PROJECT)
    found = {f"{CONFIG_PREFIX}{name}": project.get(name) for name in ("mode", *BY_NAME)}
    found[REGION_KEY] = pulumi.Config("aws").get("region")
    stack_file = (project_dir or Path.cwd()) / f"Pulumi.{pulumi.get_stack()}.yaml"
    if stack_file.is_file():
        try:
            written = load_stack_config(pulumi.get_stack(), stack_file.parent)
        except ParameterError:
            written = {}  # not a stack file Pulumi could have read either: its keys came through pulumi.Config
        for key, value in written.items():
            if key.startswith(CONFIG_PREFIX) and key not in found:
                found[key] = value
    return {key: value for key, value in found.items() if value is not None}


# The name of every component, and so the start of every logical name.
COMPONENT_NAME = naming.PROJECT


def lane_name(lane: int) -> str:
    """The name of lane ``lane``'s ``ComputeEnvironment`` component, the start of its resources' logical names: lane
    0 keeps the stack's one name (a stack deployed with one lane is updated in place), lane k >= 1 is
    ``batch-lustre-lane-<k>``."""
    return COMPONENT_NAME if lane == 0 else f"{COMPONENT_NAME}-lane-{lane}"


@dataclass(frozen=True)
class BuiltStack:
    """The components of a stack, as declared (their outputs resolve as the engine creates the resources)."""

    settings: Settings
    network: Network
    bucket: DataBucket
    lanes: tuple[ComputeEnvironment, ...]  # lane k at index k (stack config maxConcurrentRuns)
    lane_table: LaneTable
    secret: RuntimeSecret
    workflow: Workflow
    run_cleanup: RunCleanup

    @property
    def compute(self) -> ComputeEnvironment:
        """Lane 0's component: it holds what every lane shares (repository, instance role, security group, log
        group)."""
        return self.lanes[0]


def stack_id_resource() -> pulumi_random.RandomId:
    """The stack's id: random hex digits drawn once, at the stack's first deploy, and kept in its state (no
    keepers: nothing replaces it). Tagged on every resource of the stack and of its runs (``naming.TAG_STACK_ID``),
    it tells this stack's resources from those of any other stack in the account, whatever its name or project."""
    return pulumi_random.RandomId("stack-id", byte_length=naming.STACK_ID_BYTES)


def previous_name(settings: Settings, previous_type: str | None = None) -> pulumi.ResourceOptions:
    """Aliases of a component, and of each resource declared under it, as the previous release declared them: the
    component named ``envName`` in lower case (of type ``previous_type``, when it had another), each resource's
    name starting with that name in place of ``COMPONENT_NAME``. So a stack that release deployed is updated in
    place, not rebuilt (docs/aws-rules.md, "Logical names and aliases").

    A transformation (Pulumi applies it to the component, then to every resource declared under it) gives each
    resource its alias in full: a child's names its previous parent's URN, so it does not depend on the engine
    deriving children's aliases from their parent's.
    """
    previous_parent: list[str] = []  # the component's previous URN, once the component is declared

    def alias(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not args.name.startswith(COMPONENT_NAME):
            return None
        previous = settings.resource_prefix + args.name[len(COMPONENT_NAME) :]
        if not previous_parent:  # the component itself, declared first
            component_type = previous_type or args.type_
            previous_parent.append(
                f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{component_type}::{previous}"
            )
            spec = pulumi.Alias(name=previous, type_=component_type)
        else:
            spec = pulumi.Alias(name=previous, parent=previous_parent[0])
        with_alias = pulumi.ResourceOptions(aliases=[*(args.opts.aliases or []), spec])
        return pulumi.ResourceTransformationResult(args.props, pulumi.ResourceOptions.merge(args.opts, with_alias))

    return pulumi.ResourceOptions(transformations=[alias])


def deployed_outputs() -> dict[str, Any]:
    """This stack's outputs as its last deploy left them (empty for a stack never deployed), read from the engine
    before anything is declared. If the engine cannot answer (an engine without the builtin, no backend), a
    warning says the identity keys are not checked this time, and the deploy goes on with nothing to compare."""
    name = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    try:
        result = pulumi.runtime.invoke(naming.READ_STACK_OUTPUTS, {"name": name})
    except Exception as err:  # any failure: the check is skipped, the deploy is not stopped
        pulumi.log.warn(
            f"could not read the outputs of stack {name} ({' '.join(str(err).split())}): a change of envName, mode "
            "or aws:region is not checked by this deploy"
        )
        return {}
    value = result.value if isinstance(result.value, dict) else {}
    outputs = value.get("outputs")
    return dict(outputs) if isinstance(outputs, dict) else {}


def build_stack(settings: Settings, stack: str, config: Mapping[str, str] | None = None) -> BuiltStack:
    """Declare every component of a stack in ``settings.mode``, export its outputs and return the components.

    Every logical name is fixed (``COMPONENT_NAME`` and what each component appends to it): neither ``envName`` nor
    the mode is part of a URN, so no value of stack config renames a resource. The names given explicitly (state
    machines, log groups, the ECR repository) and each resource's Name tag keep starting with ``envName``.
    """
    stack_id = stack_id_resource().hex
    tags = naming.stack_tags(stack, settings.mode, stack_id)
    prefix = settings.resource_prefix
    name = COMPONENT_NAME

    network = Network(name, NetworkArgs(label=prefix, tags=tags), previous_name(settings))
    bucket = DataBucket(
        name,
        DataBucketArgs(
            label=prefix,
            noncurrent_version_expiry_days=settings.bucket_noncurrent_version_expiry_days,
            tags=tags,
            protect=settings.protect_bucket,
        ),
        previous_name(settings),
    )
    # A Lustre file system lives in the one subnet it is created in (FSx API, CreateFileSystem SubnetIds): the first
    # private subnet. Every lane's compute environment launches there only, so no job's I/O crosses Availability Zones
    # (billed both ways, and slower). docs/aws-rules.md, "The file system's Availability Zone".
    scratch_subnet_ids = network.private_subnet_ids.apply(lambda ids: ids[:1])
    compute_args = ComputeEnvironmentArgs(
        label=prefix,
        vpc_id=network.vpc_id,
        private_subnet_ids=scratch_subnet_ids,
        ecr_repository_name=settings.ecr_repository_name(stack),
        compute_type=settings.compute_environment_type,
        allocation_strategy=settings.compute_environment_allocation_strategy,
        instance_types=settings.compute_environment_instance_types,
        min_vcpus=settings.compute_environment_min_vcpus,
        max_vcpus=settings.compute_environment_max_vcpus,
        desired_vcpus=settings.compute_environment_desired_vcpus,
        job_log_group_name=naming.job_log_group_name(prefix, stack),
        job_log_retention_days=settings.job_log_retention_days,
        untagged_image_expiry_days=settings.ecr_untagged_image_expiry_days,
        job_timeout_minutes=int(settings.values["jobTimeoutMinutes"]),
        tags=tags,
        protect_repository=settings.protect_repository,
    )
    compute = ComputeEnvironment(name, compute_args, previous_name(settings))
    # Lanes k >= 1 are new (no alias) and share lane 0's repository, instance role, security group and log group;
    # every lane launches in the file system's subnet.
    lanes = (compute,) + tuple(
        ComputeEnvironment(lane_name(k), replace(compute_args, label=f"{prefix}-lane-{k}", shared=compute.shared))
        for k in range(1, settings.max_concurrent_runs)
    )
    # A new component (no previous release declared it): no alias.
    lane_table = LaneTable(name, LaneTableArgs(stack_id=stack_id, label=prefix, tags=tags))
    secret = RuntimeSecret(
        name,
        RuntimeSecretArgs(values=settings.runtime_defaults, label=prefix, tags=tags),
        previous_name(settings),
    )
    workflow_args = WorkflowArgs(
        stack=stack,
        mode=settings.mode,
        stack_id=stack_id,
        name_prefix=prefix,
        max_vcpus=settings.compute_environment_max_vcpus,
        secret_arn=secret.secret_arn,
        bucket_name=bucket.bucket_name,
        private_subnet_ids=scratch_subnet_ids,
        lustre_security_group_id=compute.lustre_security_group_id,
        lanes=[
            LaneArgs(
                compute_environment_arn=lane.compute_environment_arn,
                job_queue_arn=lane.job_queue_arn,
                baseline_launch_template_id=lane.baseline_launch_template_id,
                baseline_launch_template_version=lane.baseline_launch_template_version,
            )
            for lane in lanes
        ],
        lane_table_name=lane_table.table_name,
        repository_url=compute.repository_url,
        job_log_group_name=compute.job_log_group_name,
        data_layout=settings.data_layout,
        tags=tags,
    )
    workflow = Workflow(name, workflow_args, previous_name(settings, PREVIOUS_WORKFLOW_TYPES[settings.mode]))
    # A run that ends without reaching its own Cleanup (stopped, timed out, failed by a limit or a runtime
    # error) is cleaned up by a second state machine, started by the run's status change event.
    run_cleanup = RunCleanup(
        name,
        RunCleanupArgs(
            mode=settings.mode,
            workflow=workflow_args,
            workflow_state_machine_arn=workflow.state_machine_arn,
            workflow_state_machine_name=workflow.state_machine_name,
            extract_parameters_function_arn=workflow.extract_parameters_function_arn,
            wait_for_function_arn=workflow.wait_for_function_arn,
        ),
        previous_name(settings),
    )

    pulumi.export(naming.OUTPUT_MODE, settings.mode)
    pulumi.export(naming.OUTPUT_STATE_MACHINE_ARN, workflow.state_machine_arn)
    pulumi.export(naming.OUTPUT_RUN_CLEANUP_STATE_MACHINE_ARN, run_cleanup.state_machine_arn)
    pulumi.export(naming.OUTPUT_SECRET_NAME, secret.secret_name)
    pulumi.export(naming.OUTPUT_BUCKET_NAME, bucket.bucket_name)
    pulumi.export(naming.OUTPUT_ECR_REPOSITORY_URL, compute.repository_url)
    pulumi.export(naming.OUTPUT_JOB_QUEUE, compute.job_queue_name)
    pulumi.export(naming.OUTPUT_COMPUTE_ENVIRONMENT, compute.compute_environment_name)
    pulumi.export(naming.OUTPUT_JOB_LOG_GROUP, compute.job_log_group_name)
    pulumi.export(
        naming.OUTPUT_LANES,
        [
            {
                naming.OUTPUT_COMPUTE_ENVIRONMENT: lane.compute_environment_name,
                naming.OUTPUT_JOB_QUEUE: lane.job_queue_name,
            }
            for lane in lanes
        ],
    )
    pulumi.export(naming.OUTPUT_LANE_TABLE, lane_table.table_name)
    pulumi.export(naming.OUTPUT_STACK_ID, stack_id)
    for output, value in stack_identity(settings, config or {}).items():
        if output != naming.OUTPUT_MODE:  # exported first, above
            pulumi.export(output, value)
    return BuiltStack(settings, network, bucket, lanes, lane_table, secret, workflow, run_cleanup)


def main() -> BuiltStack:
    """The Pulumi program: read and validate the stack config, refuse a change of the deployed stack's identity
    (``envName``, ``mode``, ``aws:region``: ``settings.check_identity``, against the outputs of its last deploy),
    then build the stack.

    A config problem raises ``pulumi.RunError``, which Pulumi reports as its message
    alone (no traceback) and which stops the program before any resource is declared.
    """
    stack = pulumi.get_stack()
    try:
        config = program_config()
        settings = settings_from_config(config)
        check_stack_names(settings, stack)
        check_identity(stack, deployed_outputs(), stack_identity(settings, config))
    except ParameterError as err:
        raise pulumi.RunError(f"stack {stack}: {err}") from None
    return build_stack(settings, stack, config)
