"""The whole stack: stack config -> settings -> components -> stack outputs.

``main()`` is what ``__main__.py`` runs. The config is read and validated before any
resource is declared, so a bad value stops the program with one line naming key,
value and what is accepted.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from asl import naming
from components.compute_environment import ComputeEnvironment, ComputeEnvironmentArgs
from components.data_bucket import DataBucket, DataBucketArgs
from components.network import Network, NetworkArgs
from components.run_cleanup import RunCleanup, RunCleanupArgs
from components.runtime_secret import RuntimeSecret, RuntimeSecretArgs
from components.workflow import WORKFLOWS, WorkflowArgs
from parameters import BY_NAME, MODES, ParameterError
from settings import Settings, load_settings

MODE_KEY = "mode"


def configured_keys(namespace: str) -> list[str]:
    """Every config key set for ``namespace`` (without the ``namespace:`` prefix).

    Pulumi has no public call listing config keys; the language host hands the whole
    config to ``set_all_config`` (and older ones through ``PULUMI_CONFIG``), so both are read.
    """
    prefix = f"{namespace}:"
    full_keys = set(runtime_config.CONFIG.get()) | set(pulumi.runtime.get_config_env())
    return sorted(k[len(prefix) :] for k in full_keys if k.startswith(prefix))


def read_stack_config(config: pulumi.Config) -> tuple[str, dict[str, Any]]:
    """The stack's mode and the raw value of every other key of the project's config.

    Values are passed on as Pulumi holds them (strings); a list parameter set as a YAML
    list arrives as JSON and is decoded. Unknown keys are passed on too, so that
    ``load_settings`` reports a misspelled key instead of silently using a default.
    Raises ``ParameterError`` if the mode is not set.
    """
    mode = config.get(MODE_KEY)
    if mode is None:
        raise ParameterError(f"{config.name}:{MODE_KEY} is missing from stack config: accepted {' or '.join(MODES)}")
    raw: dict[str, Any] = {}
    for key in configured_keys(config.name):
        if key == MODE_KEY:
            continue
        value = config.get(key)
        parameter = BY_NAME.get(key)
        if parameter is not None and parameter.kind == "str_list" and value is not None:
            value = _decode_list(value)
        raw[key] = value
    return mode, raw


def _decode_list(value: str) -> Any:
    """A structured (YAML list) value comes as JSON; anything else is left for the parameter check."""
    try:
        decoded = json.loads(value)
    except ValueError:
        return value  # e.g. "c6i,m6i": the parameter accepts comma-separated strings
    return decoded if isinstance(decoded, list) else value


def build_stack(settings: Settings, stack: str) -> None:
    """Declare every component of a stack in ``settings.mode`` and export its outputs."""
    tags = naming.stack_tags(stack, settings.mode)
    prefix = settings.resource_prefix

    network = Network(prefix, NetworkArgs(tags=tags))
    bucket = DataBucket(prefix, DataBucketArgs(tags=tags))
    compute = ComputeEnvironment(
        prefix,
        ComputeEnvironmentArgs(
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            ecr_repository_name=settings["ecrRepositoryName"],
            compute_type=settings["computeEnvironmentType"],
            allocation_strategy=settings["computeEnvironmentAllocationStrategy"],
            instance_types=list(settings["computeEnvironmentInstanceTypes"]),
            min_vcpus=settings["computeEnvironmentMinvCpus"],
            max_vcpus=settings["computeEnvironmentMaxvCpus"],
            desired_vcpus=settings["computeEnvironmentDesiredvCpus"],
            tags=tags,
        ),
    )
    secret = RuntimeSecret(prefix, RuntimeSecretArgs(values=settings.runtime_defaults, tags=tags))
    workflow_args = WorkflowArgs(
        stack=stack,
        name_prefix=prefix,
        max_vcpus=settings["computeEnvironmentMaxvCpus"],
        secret_arn=secret.secret_arn,
        bucket_name=bucket.bucket_name,
        private_subnet_ids=network.private_subnet_ids,
        lustre_security_group_id=compute.lustre_security_group_id,
        compute_environment_arn=compute.compute_environment_arn,
        baseline_launch_template_id=compute.baseline_launch_template_id,
        baseline_launch_template_version=compute.baseline_launch_template_version,
        job_queue_arn=compute.job_queue_arn,
        repository_url=compute.repository_url,
        tags=tags,
    )
    workflow = WORKFLOWS[settings.mode](prefix, workflow_args)
    # A run that ends without reaching its own Cleanup (stopped, timed out, failed by a limit or a runtime
    # error) is cleaned up by a second state machine, started by the run's status change event.
    run_cleanup = RunCleanup(
        prefix,
        RunCleanupArgs(
            mode=settings.mode,
            workflow=workflow_args,
            workflow_state_machine_arn=workflow.state_machine_arn,
            workflow_state_machine_name=workflow.state_machine_name,
            extract_parameters_function_arn=workflow.extract_parameters_function_arn,
        ),
    )

    pulumi.export("mode", settings.mode)
    pulumi.export("stateMachineArn", workflow.state_machine_arn)
    pulumi.export("runCleanupStateMachineArn", run_cleanup.state_machine_arn)
    pulumi.export("secretName", secret.secret_name)
    pulumi.export("bucketName", bucket.bucket_name)
    pulumi.export("ecrRepositoryUrl", compute.repository_url)
    pulumi.export("jobQueue", compute.job_queue_name)
    pulumi.export("computeEnvironment", compute.compute_environment_name)


def main() -> None:
    """The Pulumi program: read and validate the stack config, then build the stack.

    A config problem raises ``pulumi.RunError``, which Pulumi reports as its message
    alone (no traceback) and which stops the program before any resource is declared.
    """
    stack = pulumi.get_stack()
    try:
        mode, raw = read_stack_config(pulumi.Config(naming.PROJECT))
        settings = load_settings(mode, raw)
    except ParameterError as err:
        raise pulumi.RunError(f"stack {stack}: {err}") from None
    build_stack(settings, stack)
