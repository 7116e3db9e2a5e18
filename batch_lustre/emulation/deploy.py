"""``pulumi up`` into the emulated AWS: the real Pulumi program (``stack.main``, what ``__main__.py`` runs) under
Pulumi's mocks, whose ``new_resource`` creates each declared resource in moto from its declared inputs
(``deploy_resources``) and answers with the outputs the provider would give.

So the resources a run uses are the ones the program declares: a change to ``components/`` (a policy, a timeout,
a trust policy, a subnet) changes what the emulation runs.
"""

from __future__ import annotations

import threading
import weakref
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi

from batch_lustre.emulation import active_emulation
from batch_lustre.emulation import program as program_runner
from batch_lustre.emulation.clients import client
from batch_lustre.emulation.core import ID_SEED
from batch_lustre.emulation.deploy_resources import Declared, create
from batch_lustre.emulation.moto_seam import mock_random
from batch_lustre.program.asl import naming

# The engine registers resources from several threads, in an order that varies: creating one at a time, each with
# moto's id generator seeded from its own logical name, gives every resource the same ids in every deploy
# (whatever the order), so the same stack has the same definition text (parsed once per process, emulation/sfn.py).
_CREATING = threading.Lock()


@dataclass
class DeployedResource:
    """One resource the program declared and the emulation created: its type token, logical name, id, outputs."""

    type: str
    name: str
    id: str
    outputs: dict[str, Any]
    inputs: dict[str, Any] = field(default_factory=dict)  # as the program declared them
    ignore_changes: tuple[str, ...] = ()  # the resource option, in Pulumi's property paths


@dataclass
class DeployingMocks(pulumi.runtime.Mocks):
    """Pulumi's mocks, answering as the AWS provider would against the emulated AWS."""

    stack: str
    region: str
    account: str
    resources: list[DeployedResource] = field(default_factory=list)
    declared: list[tuple[Declared, str]] = field(default_factory=list)  # in creation order, with the id each got
    ignore_changes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # logical name -> the option's paths
    # The stack's last deploy in this emulation (Pulumi's state of it): the engine answers the program's read of
    # its outputs with it, and each resource the program declares with what the state holds (nothing is created).
    previous: Deployment | None = None

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        # (result, failures): the mock monitor iterates the failures, so never None.
        with _CREATING:  # one AWS call at a time: see _CREATING
            return self._call(args)

    def _call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            identity = client("sts", self.region).get_caller_identity()
            return {
                "accountId": identity["Account"],
                "arn": identity["Arn"],
                "id": identity["Account"],
                "userId": identity["UserId"],
            }, []
        if args.token == "aws:index/getRegion:getRegion":
            return {"id": self.region, "name": self.region, "region": self.region}, []
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            zones = client("ec2", self.region).describe_availability_zones(
                Filters=[{"Name": "state", "Values": [args.args.get("state", "available")]}]
            )["AvailabilityZones"]
            return {
                "id": self.region,
                "region": self.region,
                "names": [z["ZoneName"] for z in zones],
                "zoneIds": [z["ZoneId"] for z in zones],
                "groupNames": sorted({z.get("GroupName", self.region) for z in zones}),
            }, []
        if args.token == naming.READ_STACK_OUTPUTS:
            return program_runner.stack_outputs_answer(
                args, self.stack, self.previous.outputs if self.previous else {}
            ), []
        raise NotImplementedError(f"the emulation has no answer for invoke {args.token}")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = program_runner.plain(dict(args.inputs))
        if not args.custom:  # a ComponentResource: nothing to create
            return args.name, {}
        if self.previous is not None:
            return self._in_state(args, inputs)
        declared = Declared(args.typ, args.name, program_runner.auto_name(self.stack, args.name), inputs)
        with _CREATING:
            mock_random.seed(zlib.crc32(f"{self.stack}/{args.name}".encode()))
            resource_id, outputs = create(declared, self.region, self.account)
            self.declared.append((declared, resource_id))
        state = {**inputs, "name": declared.physical, **outputs}
        ignored = self.ignore_changes.get(args.name, ())
        self.resources.append(DeployedResource(args.typ, args.name, resource_id, state, inputs, ignored))
        return resource_id, state

    def _in_state(self, args: pulumi.runtime.MockResourceArgs, inputs: dict[str, Any]) -> tuple[str | None, dict]:
        """A resource of a stack deployed before: its id and outputs from the state, with the inputs declared now
        (``_update`` then sends what differs)."""
        assert self.previous is not None
        known = {(r.type, r.name): r for r in self.previous.resources}
        deployed = known.get((args.typ, args.name))
        if deployed is None:
            raise NotImplementedError(
                f"the emulated pulumi up of deployed stack {self.stack} creates no new resource ({args.typ} {args.name})"
            )
        # What the provider derived (an id, an ARN, a document as JSON text) stays; the declared inputs are new.
        derived = {k: v for k, v in deployed.outputs.items() if k not in deployed.inputs or deployed.inputs[k] != v}
        state = {**inputs, **derived}
        ignored = self.ignore_changes.get(args.name, ())
        self.resources.append(DeployedResource(args.typ, args.name, deployed.id, state, inputs, ignored))
        return deployed.id, state


@dataclass
class Deployment:
    """What one deploy created: every resource, the stack outputs, and ``facts`` about the program's components
    that the emulation's users read (resolved values: the workflow's refs, roles, names)."""

    stack: str
    resources: list[DeployedResource]
    outputs: dict[str, Any]
    facts: dict[str, Any]

    def counts(self) -> dict[str, int]:
        """Resources created, by type token (``aws:lambda/function:Function`` -> 5)."""
        return dict(sorted(Counter(r.type for r in self.resources).items()))

    def summary(self) -> str:
        """One line, as ``pulumi up`` ends: ``63 resources created (8 Role, 6 LogGroup, ...)``."""
        counts = self.counts()
        kinds = ", ".join(f"{n} {t.split(':')[-1]}" for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        return f"{sum(counts.values())} resources created ({kinds})"


def _facts(built: Any) -> dict[str, Any]:
    """The values of the program's components (``stack.BuiltStack``) that the emulation reads after a deploy."""
    cleanup = built.run_cleanup
    wanted = {
        "refs": built.workflow.refs,
        "workflow_role_arn": built.workflow.role.arn,
        "baseline_launch_template_name": built.compute.baseline_launch_template.name,
        "vpc_id": built.network.vpc_id,
        "run_cleanup_state_machine_arn": cleanup.state_machine_arn,
        "run_cleanup_role_arn": cleanup.role.arn,
        "find_run_resources_function_arn": cleanup.find_run_resources_function_arn,
        "run_cleanup_rule_name": cleanup.rule.name,
        "run_cleanup_definition": cleanup.definition,
    }
    return {key: program_runner.resolve(value) for key, value in wanted.items()}


@dataclass(frozen=True)
class _Recorded:
    declared: list[tuple[Declared, str]]  # in creation order, with the id each got
    deployment: Deployment


# (region, stack, config) -> the deploy's creations, replayed for the next deploy of the same program and config in
# this process: the Pulumi engine's part (about half a second) is then skipped, the creations are the same calls.
_RECORDED: dict[tuple[str, str, tuple[tuple[str, str], ...]], _Recorded] = {}


def forget_deployments() -> None:
    """Forget the recorded deploys: the next ``deploy`` runs the program again (after a change to it in a test)."""
    _RECORDED.clear()


# Per emulation (the active one): each stack's last deploy there, as Pulumi's state of the stack holds it.
_DEPLOYED: weakref.WeakKeyDictionary[Any, dict[str, Deployment]] = weakref.WeakKeyDictionary()


def _deployed_stacks() -> dict[str, Deployment]:
    """The stacks deployed in the active emulation (none outside one: every deploy is a first one)."""
    try:
        emulation = active_emulation.active()
    except RuntimeError:
        return {}
    return _DEPLOYED.setdefault(emulation, {})


def deploy(region: str, stack: str, config: Mapping[str, str]) -> Deployment:
    """Run the Pulumi program as stack ``stack`` with ``config`` (full keys, as ``Pulumi.<stack>.yaml`` holds
    them) against the emulated AWS of the active emulation in ``region``; return what it created.

    A config the program refuses raises its ``pulumi.RunError``; an AWS refusal raises the botocore error.
    The same program and config deployed again in this process replays the recorded creations. A stack deployed
    before in the active emulation is updated (``_update``): the program reads its outputs of that deploy, and
    refuses a change of its identity (``settings.check_identity``) before it declares anything.
    """
    stacks = _deployed_stacks()
    previous = stacks.get(stack)
    deployment = _update(region, stack, config, previous) if previous is not None else _create(region, stack, config)
    stacks[stack] = deployment
    return deployment


def _create(region: str, stack: str, config: Mapping[str, str]) -> Deployment:
    key = (region, stack, tuple(sorted(config.items())))
    recorded = _RECORDED.get(key)
    if recorded is not None:
        return _replay(region, stack, recorded)
    from batch_lustre.program import (
        stack as stack_module,  # the program's own module: imported late, it imports components and asl
    )

    account = _prepare(region)
    mocks = DeployingMocks(stack=stack, region=region, account=account)
    built: list[Any] = []
    outputs = program_runner.run_program(stack, config, mocks, lambda: built.append(stack_module.main()))
    deployment = Deployment(stack=stack, resources=mocks.resources, outputs=outputs, facts=_facts(built[0]))
    mock_random.seed(ID_SEED)  # the runs' ids (file systems, jobs) as in every emulation, whatever was deployed
    _RECORDED[key] = _Recorded(mocks.declared, deployment)
    return deployment


def _update(region: str, stack: str, config: Mapping[str, str], previous: Deployment) -> Deployment:
    """``pulumi up`` of a stack deployed before: the program runs against its state (each declared resource
    answered with what the state holds), then each input that differs is sent to the emulated AWS as Pulumi
    would (``pulumi_state.PulumiState.up``)."""
    from batch_lustre.emulation.pulumi_state import PulumiState  # it reads this module's Deployment
    from batch_lustre.program import stack as stack_module

    account = _prepare(region)
    mocks = DeployingMocks(stack=stack, region=region, account=account, previous=previous)
    built: list[Any] = []
    outputs = program_runner.run_program(stack, config, mocks, lambda: built.append(stack_module.main()))
    desired = {(r.type, r.name): r.inputs for r in mocks.resources}
    gone = sorted(f"{r.type} {r.name}" for r in previous.resources if (r.type, r.name) not in desired)
    if gone:
        raise NotImplementedError(f"the emulated pulumi up of deployed stack {stack} deletes no resource ({gone})")
    PulumiState(previous, region).up(desired)
    return Deployment(stack=stack, resources=mocks.resources, outputs=outputs, facts=_facts(built[0]))


# Types whose id holds a random UUID that moto draws outside its seeded generator; no input refers to them.
_RANDOM_IDS = frozenset({"aws:secretsmanager/secretVersion:SecretVersion"})


def _prepare(region: str) -> str:
    """The account; and EC2's default VPC made now, as moto makes it on the first EC2 call (which would otherwise
    draw ids at whichever creation comes first)."""
    with _CREATING:
        client("ec2", region).describe_availability_zones()
        return str(client("sts", region).get_caller_identity()["Account"])


def _replay(region: str, stack: str, recorded: _Recorded) -> Deployment:
    account = _prepare(region)
    drawn: dict[tuple[str, str], str] = {}  # the new ids of the types whose ids are random
    for declared, expected_id in recorded.declared:
        with _CREATING:
            mock_random.seed(zlib.crc32(f"{stack}/{declared.name}".encode()))
            resource_id, _ = create(declared, region, account)
        if resource_id != expected_id and declared.type not in _RANDOM_IDS:
            raise RuntimeError(f"replayed {declared.type} {declared.name} got id {resource_id}, not {expected_id}")
        if resource_id != expected_id:
            drawn[declared.type, declared.name] = resource_id
    mock_random.seed(ID_SEED)
    deployment = recorded.deployment
    if not drawn:
        return deployment
    resources = [replace(r, id=drawn.get((r.type, r.name), r.id)) for r in deployment.resources]
    return replace(deployment, resources=resources)
