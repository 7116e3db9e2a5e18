"""The stack as ``pulumi up`` deploys it, in the emulated AWS, and the ``WorkflowRefs`` pointing at it.

``setup_stack`` runs the real Pulumi program (``stack.main``) with the stack config of ``Pulumi.<mode>.yaml``
(plus the changes a test asks for) under mocks that create every declared resource in moto
(``emulation.deploy``): network, bucket, secret, compute environment, queue, Lambdas and their roles, both state
machines and the EventBridge rule. The workflow under test is the definition the program deployed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from batch_lustre.emulation.clients import client
from batch_lustre.emulation.core import PROJECT_DIR, Emulation
from batch_lustre.emulation.deploy import Deployment, deploy
from batch_lustre.emulation.iam import acting_as_operator
from batch_lustre.program.asl import iam as asl_iam
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.parameters import BY_NAME, parameters_for
from batch_lustre.program.settings import load_stack_config

CONFIG_NAMESPACE = "batch-lustre"


@dataclass(frozen=True)
class EmulatedStack:
    refs: WorkflowRefs
    role_arn: str  # the state machine's role
    compute_environment_name: str
    baseline_launch_template_name: str
    secret_name: str
    vpc_id: str
    state_machine_arn: str = ""
    deployment: Deployment | None = None


def runtime_parameters(mode: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The secret's content: every runtime parameter of ``mode`` at its default, then ``overrides``."""
    values = {p.name: p.defaults[mode] for p in parameters_for(mode, runtime=True)}
    unknown = set(overrides or {}) - set(BY_NAME)
    if unknown:
        raise KeyError(f"not parameters: {sorted(unknown)}")
    values.update(overrides or {})
    return values


def stack_config(
    mode: str, changes: Mapping[str, Any] | None = None, *, env_name: str | None = None, max_vcpus: int | None = None
) -> dict[str, str]:
    """``Pulumi.<mode>.yaml``'s config as Pulumi hands it to the program, with ``changes`` (parameter name ->
    value) written in as a user would edit the file."""
    config = load_stack_config(mode, PROJECT_DIR)
    edits = dict(changes or {})
    unknown = set(edits) - set(BY_NAME)
    if unknown:
        raise KeyError(f"not parameters: {sorted(unknown)}")
    if env_name is not None:
        edits["envName"] = env_name
    if max_vcpus is not None:
        edits["computeEnvironmentMaxvCpus"] = max_vcpus
    for name, value in edits.items():
        config[f"{CONFIG_NAMESPACE}:{name}"] = value if isinstance(value, str) else json.dumps(value)
    return config


def setup_stack(
    emu: Emulation,
    mode: str,
    *,
    runtime_params: Mapping[str, Any] | None = None,
    secret_string: str | None = None,
    stack: str | None = None,
    env_name: str | None = None,
    max_vcpus: int = 256,
    config_changes: Mapping[str, Any] | None = None,
    job_image_tags: Sequence[str] = ("latest",),
) -> EmulatedStack:
    """Deploy the Pulumi program of ``mode`` as stack ``stack`` (default: ``mode``, as ``pulumi up -s <mode>``)
    into ``emu``'s AWS and return its refs.

    The stack config is ``Pulumi.<mode>.yaml``'s with ``config_changes`` (parameter name -> value, e.g. a data
    layout: README "Your data"), ``env_name`` and ``max_vcpus``. ``runtime_params`` are then
    written into the secret over its first version, as an operator changes them for the next runs (e.g. short
    waits); ``secret_string`` replaces the secret's text instead (a broken secret). ``job_image_tags``: the job
    images the user pushed to the stack's repository after the deploy (README, "Your job image").
    """
    config = stack_config(mode, config_changes, env_name=env_name, max_vcpus=max_vcpus)
    deployment = deploy(emu.region, stack or mode, config)  # the stack named as its stack file: Pulumi.<mode>.yaml
    facts = deployment.facts
    secret_name = deployment.outputs["secretName"]
    if runtime_params and secret_string is None:
        secret_string = json.dumps(runtime_parameters(mode, runtime_params), sort_keys=True)
    if secret_string is not None:
        client("secretsmanager", emu.region).put_secret_value(SecretId=secret_name, SecretString=secret_string)
    for tag in job_image_tags:
        push_job_image(emu, facts["refs"], tag)
    return EmulatedStack(
        refs=facts["refs"],
        role_arn=facts["workflow_role_arn"],
        compute_environment_name=deployment.outputs["computeEnvironment"],
        baseline_launch_template_name=facts["baseline_launch_template_name"],
        secret_name=secret_name,
        vpc_id=facts["vpc_id"],
        state_machine_arn=deployment.outputs["stateMachineArn"],
        deployment=deployment,
    )


_pushes = itertools.count(1)


def push_job_image(emu: Emulation, refs: WorkflowRefs, tag: str) -> str:
    """Push a new job image to the stack's repository under ``tag`` (``docker push <repository>:<tag>``), as the
    user does; returns its digest. Each push is a new image: a tag pushed again names the new one, and the image
    it named before keeps its digest, untagged."""
    layer = hashlib.sha256(f"layer {next(_pushes)}".encode()).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1,
            "digest": f"sha256:{layer}",
        },
        # moto derives the image digest from the layers' digests: a new layer, a new image.
        "layers": [
            {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1, "digest": f"sha256:{layer}"}
        ],
    }
    with acting_as_operator():  # the user's own credentials, whatever the emulation was doing
        found = client("ecr", emu.region).put_image(
            repositoryName=refs.job_repository_name, imageManifest=json.dumps(manifest), imageTag=tag
        )
    return str(found["image"]["imageId"]["imageDigest"])


def put_role_policy(emu: Emulation, role_arn: str, name: str, document: dict[str, Any]) -> None:
    """Make ``document`` the only inline policy of role ``role_arn``, named ``name`` (the program gives each role
    one inline policy: this replaces it, whatever its name)."""
    iam = client("iam", emu.region)
    role_name = role_arn.rsplit("/", 1)[-1]
    for existing in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        if existing != name:
            iam.delete_role_policy(RoleName=role_name, PolicyName=existing)
    iam.put_role_policy(RoleName=role_name, PolicyName=name, PolicyDocument=json.dumps(document))


def attach_workflow_policy(
    emu: Emulation,
    stack: EmulatedStack,
    definition: dict[str, Any],
    *,
    role_arn: str | None = None,
    document: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Give the state machine role (or ``role_arn``, e.g. the run-cleanup machine's) the policy derived from
    ``definition`` (``asl.iam.state_machine_policy``), or ``document``, replacing the previous one; returns it."""
    document = document if document is not None else asl_iam.state_machine_policy(stack.refs, definition)
    put_role_policy(emu, role_arn or stack.role_arn, "workflow", document)
    return document


@dataclass(frozen=True)
class RunCleanupStack:
    """The run-cleanup state machine, its function, and the EventBridge rule that starts it."""

    state_machine_arn: str
    role_arn: str
    find_run_resources_function_arn: str
    rule_name: str
    definition: dict[str, Any]


def setup_run_cleanup(emu: Emulation, stack: EmulatedStack) -> RunCleanupStack:
    """The run cleanup the program deployed with ``stack``: the FindRunResources function, the run-cleanup state
    machine and the EventBridge rule on the workflow's abnormal ends that starts it."""
    if stack.deployment is None:
        raise ValueError("the stack was not deployed by setup_stack: it has no run cleanup")
    facts = stack.deployment.facts
    return RunCleanupStack(
        state_machine_arn=facts["run_cleanup_state_machine_arn"],
        role_arn=facts["run_cleanup_role_arn"],
        find_run_resources_function_arn=facts["find_run_resources_function_arn"],
        rule_name=facts["run_cleanup_rule_name"],
        definition=json.loads(facts["run_cleanup_definition"]),
    )


def remove_run_cleanup(emu: Emulation, stack: EmulatedStack) -> None:
    """Take away the rule that starts the run cleanup (a stack without it, to show what it prevents)."""
    cleanup = setup_run_cleanup(emu, stack)
    events = client("events", emu.region)
    targets = events.list_targets_by_rule(Rule=cleanup.rule_name)["Targets"]
    if targets:
        events.remove_targets(Rule=cleanup.rule_name, Ids=[t["Id"] for t in targets])
    events.delete_rule(Name=cleanup.rule_name)
