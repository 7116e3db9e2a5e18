"""Pulumi's state of a stack deployed in the emulation, and what ``pulumi refresh`` and a later ``pulumi up`` do
with it, as Pulumi does it:

- ``refresh``: "compares the current stack's resource state with the state known to exist in the actual cloud
  provider. Any such changes are adopted into the current stack" (Pulumi CLI docs, `pulumi refresh`,
  https://www.pulumi.com/docs/iac/cli/commands/pulumi_refresh/). Here: the properties that change outside Pulumi
  (``READERS``: the compute environment's launch template and desiredvCpus, which each run and Batch change) are
  read from the emulated AWS into the state.
- ``up``: the program's inputs (the ones it declared at deploy, or those of a changed stack config) against the
  state; "Pulumi ignores a property by using the old value from the state instead of the value provided by the
  Pulumi program when determining whether an update or replace is needed" (Pulumi docs, "Resource option:
  ignoreChanges", https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/). Each differing property is
  sent to the emulated AWS as the provider would (``UPDATERS``), and recorded; a declared resource missing from
  the state (a refresh dropped it: the provider found it deleted) is created again.
- The secret's version: the provider reads it back by its version id, and drops it from the state when
  Secrets Manager has deleted it (a version left without any staging label may be deleted:
  ``secret_versions.delete_deprecated_versions``).

The state is a copy, per emulation, of what the deploy recorded (``Deployment.resources``): a refresh in one
emulation changes nothing in another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from botocore.exceptions import ClientError

from batch_lustre.emulation.clients import client
from batch_lustre.emulation.deploy import Deployment
from batch_lustre.emulation.deploy_resources import Declared, create

COMPUTE_ENVIRONMENT = "aws:batch/computeEnvironment:ComputeEnvironment"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"


@dataclass
class ResourceState:
    """One resource in Pulumi's state: its inputs as last applied (or refreshed), and its ``ignore_changes``."""

    type: str
    name: str
    id: str
    inputs: dict[str, Any]
    ignore_changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Change:
    """One property an operation changed: ``refresh`` (into the state) or ``update`` (sent to AWS)."""

    operation: str
    type: str
    name: str
    path: str
    before: Any
    after: Any

    def line(self) -> str:
        return f"{self.operation} {self.type.rsplit(':', 1)[-1]} {self.name}: {self.path} {self.before!r} -> {self.after!r}"


def _get(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def _copied(data: Any) -> Any:
    """``data`` with its dicts and lists copied and its leaves shared (an asset or archive compares by identity)."""
    if isinstance(data, dict):
        return {key: _copied(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_copied(value) for value in data]
    return data


def _held(value: Any) -> Any:
    """An asset or archive as what it holds (Pulumi compares them by content: two deploys' archives of one file are
    the same); any other value as it is."""
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {key: _held(member) for key, member in value.assets.items()}}
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        return {"file": str(value.path)}
    if isinstance(value, pulumi.StringAsset):
        return {"text": value.text}
    return value


def _same(a: Any, b: Any) -> bool:
    if a is b or a == b or (isinstance(a, (str, int, float)) and str(a) == str(b)):
        return True
    return isinstance(a, pulumi.Asset | pulumi.Archive) and _held(a) == _held(b)


def _leaves(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict) and data:
        found: dict[str, Any] = {}
        for key, value in data.items():
            found.update(_leaves(value, f"{prefix}.{key}" if prefix else key))
        return found
    return {prefix: data}


def _read_compute_environment(resource: ResourceState, region: str) -> dict[str, Any]:
    """What DescribeComputeEnvironments says of the properties a run or Batch changes."""
    found = client("batch", region).describe_compute_environments(computeEnvironments=[resource.id])
    resources = found["computeEnvironments"][0].get("computeResources") or {}
    template = resources.get("launchTemplate") or {}
    read: dict[str, Any] = {"computeResources.desiredVcpus": resources.get("desiredvCpus")}
    for key in ("launchTemplateId", "launchTemplateName", "version"):
        if template.get(key) is not None:
            read[f"computeResources.launchTemplate.{key}"] = template[key]
    return read


# The API's spelling of the compute environment's properties an update sends (Pulumi path -> request member).
_COMPUTE_UPDATES = {
    "computeResources.desiredVcpus": ("desiredvCpus", None),
    "computeResources.minVcpus": ("minvCpus", None),
    "computeResources.maxVcpus": ("maxvCpus", None),
    "computeResources.launchTemplate.launchTemplateId": ("launchTemplate", "launchTemplateId"),
    "computeResources.launchTemplate.version": ("launchTemplate", "version"),
}


def _update_compute_environment(resource: ResourceState, goal: dict[str, Any], paths: list[str], region: str) -> None:
    """UpdateComputeEnvironment with the changed properties, as the provider sends them."""
    compute: dict[str, Any] = {}
    for path in paths:
        if path not in _COMPUTE_UPDATES:
            raise NotImplementedError(f"the emulated pulumi up does not update {COMPUTE_ENVIRONMENT} {path}")
        member, inner = _COMPUTE_UPDATES[path]
        if inner is None:
            compute[member] = _get(goal, path)
        else:  # the provider sends the whole launch template reference
            compute[member] = {k: v for k, v in (_get(goal, "computeResources.launchTemplate") or {}).items() if v}
    client("batch", region).update_compute_environment(computeEnvironment=resource.id, computeResources=compute)


def _read_secret_version(resource: ResourceState, region: str) -> dict[str, Any] | None:
    """The version's string and labels, read by its version id as the provider does; None if it is gone."""
    arn, version_id = resource.id.split("|", 1)
    secrets = client("secretsmanager", region)
    try:
        text = secrets.get_secret_value(SecretId=arn, VersionId=version_id)["SecretString"]
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        return None
    stages = secrets.describe_secret(SecretId=arn).get("VersionIdsToStages", {}).get(version_id, [])
    return {"secretString": text, "versionStages": sorted(stages)}


def _update_secret_version(resource: ResourceState, goal: dict[str, Any], paths: list[str], region: str) -> None:
    """A changed string replaces the version (PutSecretValue with the declared labels, which move to it); changed
    labels alone are moved to this version (UpdateSecretVersionStage)."""
    arn, version_id = resource.id.split("|", 1)
    secrets = client("secretsmanager", region)
    stages = list(goal.get("versionStages") or [])
    if "secretString" in paths:
        found = secrets.put_secret_value(
            SecretId=arn, SecretString=goal["secretString"], **({"VersionStages": stages} if stages else {})
        )
        resource.id = f"{arn}|{found['VersionId']}"
        return
    holders = secrets.describe_secret(SecretId=arn).get("VersionIdsToStages", {})
    for stage in stages:
        holder = next((v for v, labels in holders.items() if stage in labels and v != version_id), None)
        moved = {"RemoveFromVersionId": holder} if holder else {}
        secrets.update_secret_version_stage(SecretId=arn, VersionStage=stage, MoveToVersionId=version_id, **moved)


READERS: dict[str, Callable[[ResourceState, str], dict[str, Any] | None]] = {
    COMPUTE_ENVIRONMENT: _read_compute_environment,
    SECRET_VERSION: _read_secret_version,
}
UPDATERS: dict[str, Callable[[ResourceState, dict[str, Any], list[str], str], None]] = {
    COMPUTE_ENVIRONMENT: _update_compute_environment,
    SECRET_VERSION: _update_secret_version,
}


@dataclass
class PulumiState:
    """Pulumi's state of ``deployment`` in ``region``'s emulated AWS; ``refresh`` and ``up`` as Pulumi runs them."""

    deployment: Deployment
    region: str
    resources: list[ResourceState] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.resources:
            self.resources = [
                ResourceState(r.type, r.name, r.id, _copied(r.inputs), r.ignore_changes)
                for r in self.deployment.resources
            ]

    def refresh(self) -> list[Change]:
        """Read what changes outside Pulumi into the state; returns the properties whose value changed."""
        made: list[Change] = []
        for resource in list(self.resources):
            reader = READERS.get(resource.type)
            if reader is None:
                continue
            read = reader(resource, self.region)
            if read is None:  # deleted outside Pulumi: the provider drops it from the state
                self.resources.remove(resource)
                made.append(Change("refresh", resource.type, resource.name, "(deleted)", resource.id, None))
                continue
            for path, actual in read.items():
                before = _get(resource.inputs, path)
                if actual is not None and not _same(actual, before):
                    _set(resource.inputs, path, actual)
                    made.append(Change("refresh", resource.type, resource.name, path, before, actual))
        self.changes += made
        return made

    def up(self, desired: Mapping[tuple[str, str], dict[str, Any]] | None = None) -> list[Change]:
        """The program's inputs (``desired``: (type, logical name) -> inputs; default: as deployed) against the
        state, ``ignore_changes`` honoured: each difference is sent to AWS and recorded in the state, a declared
        resource the state lacks is created; returns them."""
        if desired is None:
            desired = {(r.type, r.name): r.inputs for r in self.deployment.resources}
        made: list[Change] = []
        known = {(r.type, r.name) for r in self.resources}
        for declared in self.deployment.resources:
            if (declared.type, declared.name) in known:
                continue
            inputs = _copied(desired[declared.type, declared.name])
            account = client("sts", self.region).get_caller_identity()["Account"]
            resource_id, _ = create(Declared(declared.type, declared.name, declared.name, inputs), self.region, account)
            self.resources.append(
                ResourceState(declared.type, declared.name, resource_id, inputs, declared.ignore_changes)
            )
            made.append(Change("create", declared.type, declared.name, "(created)", None, resource_id))
        for resource in self.resources:
            goal = _copied(desired[resource.type, resource.name])
            for path in resource.ignore_changes:  # the old value from the state, when the state has one
                old = _get(resource.inputs, path)
                if old is not None:
                    _set(goal, path, _copied(old))
            before, after = _leaves(resource.inputs), _leaves(goal)
            paths = sorted(p for p in set(before) | set(after) if not _same(before.get(p), after.get(p)))
            if not paths:
                continue
            updater = UPDATERS.get(resource.type)
            if updater is None:
                raise NotImplementedError(f"the emulated pulumi up does not update {resource.type} ({paths})")
            updater(resource, goal, paths, self.region)
            made += [Change("update", resource.type, resource.name, p, before.get(p), after.get(p)) for p in paths]
            resource.inputs = goal
        self.changes += made
        return made
