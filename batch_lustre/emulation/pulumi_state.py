"""Pulumi's state of a stack deployed in the emulation, and what ``pulumi refresh`` and a later ``pulumi up`` do
with it, as Pulumi does it:

- ``refresh``: "compares the current stack's resource state with the state known to exist in the actual cloud
  provider. Any such changes are adopted into the current stack" (Pulumi CLI docs, `pulumi refresh`,
  https://www.pulumi.com/docs/iac/cli/commands/pulumi_refresh/). Here: the properties that change outside Pulumi
  (``READERS``: the compute environment's launch template and desiredvCpus, which each run and Batch change) are
  read from the emulated AWS into the state.
- ``up``: the program's inputs (the ones it declared at deploy: the same program and stack config) against the
  state; "Pulumi ignores a property by using the old value from the state instead of the value provided by the
  Pulumi program when determining whether an update or replace is needed" (Pulumi docs, "Resource option:
  ignoreChanges", https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/). Each differing property is
  sent to the emulated AWS as the provider would (``UPDATERS``), and recorded.

The state is a copy, per emulation, of what the deploy recorded (``Deployment.resources``): a refresh in one
emulation changes nothing in another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batch_lustre.emulation.clients import client
from batch_lustre.emulation.deploy import Deployment

COMPUTE_ENVIRONMENT = "aws:batch/computeEnvironment:ComputeEnvironment"


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


def _same(a: Any, b: Any) -> bool:
    return a is b or a == b or (isinstance(a, (str, int, float)) and str(a) == str(b))


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


READERS: dict[str, Callable[[ResourceState, str], dict[str, Any]]] = {COMPUTE_ENVIRONMENT: _read_compute_environment}
UPDATERS: dict[str, Callable[[ResourceState, dict[str, Any], list[str], str], None]] = {
    COMPUTE_ENVIRONMENT: _update_compute_environment
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
        for resource in self.resources:
            reader = READERS.get(resource.type)
            if reader is None:
                continue
            for path, actual in reader(resource, self.region).items():
                before = _get(resource.inputs, path)
                if actual is not None and not _same(actual, before):
                    _set(resource.inputs, path, actual)
                    made.append(Change("refresh", resource.type, resource.name, path, before, actual))
        self.changes += made
        return made

    def up(self) -> list[Change]:
        """The program's inputs (as deployed) against the state, ``ignore_changes`` honoured: each difference is
        sent to AWS and recorded in the state; returns them."""
        desired = {(r.type, r.name): r.inputs for r in self.deployment.resources}
        made: list[Change] = []
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
