"""Run the real Pulumi program offline, under Pulumi's mocks, and show what it declares.

    .venv/bin/python -m tests.offline_stacks [taskexport|autoexport]   # from the project directory

No AWS account and no Pulumi CLI are used: ``pulumi.runtime.set_mocks`` plays the
engine and the AWS provider. The stack config is read from ``Pulumi.<stack>.yaml`` and
handed over with ``pulumi.runtime.set_all_config`` (mocks do not read stack files).
Prints every resource (type, name, inputs), each state machine definition and the
stack outputs.

The mocks are the ones the tests use (``RecordingMocks``); the runner is the emulation's
(``batch_lustre.emulation.program.run_program``), which deploys the same program into the emulated AWS.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from batch_lustre.emulation import program as program_runner
from batch_lustre.emulation.program import RANDOM_ID, plain, random_id_outputs, stack_outputs_answer
from batch_lustre.program import settings
from batch_lustre.program.asl import naming

PROJECT_DIR = Path(__file__).resolve().parent.parent
STACKS = ("taskexport", "autoexport")

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
AVAILABILITY_ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


# --- stack config ---


def load_stack_config(stack: str) -> dict[str, str]:
    """``Pulumi.<stack>.yaml`` of this project, as Pulumi hands it to the program (``settings.load_stack_config``)."""
    return settings.load_stack_config(stack, PROJECT_DIR)


# --- mocks ---


@dataclass
class RecordedResource:
    """One resource the program declared: its type token, name, inputs (camelCase, as
    sent to the engine, secrets unwrapped, integral numbers as int), the state the mock
    answered with, and whether it is a cloud resource (not a component)."""

    type: str
    name: str
    inputs: dict[str, Any]
    id: str
    state: dict[str, Any]
    custom: bool = True


def _arn(service: str, resource: str, *, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}"


# type token -> (id prefix, function(physical name) -> extra output-only properties)
_OUTPUT_ONLY: dict[str, tuple[str, Callable[[str], dict[str, Any]]]] = {
    "aws:ec2/vpc:Vpc": ("vpc-", lambda n: {"arn": _arn("ec2", f"vpc/vpc-{n}")}),
    "aws:ec2/subnet:Subnet": ("subnet-", lambda n: {"arn": _arn("ec2", f"subnet/subnet-{n}")}),
    "aws:ec2/internetGateway:InternetGateway": ("igw-", lambda n: {}),
    "aws:ec2/eip:Eip": ("eipalloc-", lambda n: {"allocationId": f"eipalloc-{n}", "publicIp": "203.0.113.10"}),
    "aws:ec2/natGateway:NatGateway": ("nat-", lambda n: {}),
    "aws:ec2/routeTable:RouteTable": ("rtb-", lambda n: {}),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("vpce-", lambda n: {"arn": _arn("ec2", f"vpc-endpoint/vpce-{n}")}),
    "aws:ec2/securityGroup:SecurityGroup": ("sg-", lambda n: {"arn": _arn("ec2", f"security-group/sg-{n}")}),
    "aws:ec2/launchTemplate:LaunchTemplate": ("lt-", lambda n: {"latestVersion": 1, "defaultVersion": 1}),
    "aws:s3/bucket:Bucket": ("", lambda n: {"bucket": n, "arn": f"arn:aws:s3:::{n}"}),
    "aws:ecr/repository:Repository": (
        "",
        lambda n: {
            "arn": _arn("ecr", f"repository/{n}"),
            "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{n}",
        },
    ),
    "aws:iam/role:Role": ("", lambda n: {"arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{n}"}),
    "aws:iam/instanceProfile:InstanceProfile": (
        "",
        lambda n: {"arn": f"arn:aws:iam::{ACCOUNT_ID}:instance-profile/{n}"},
    ),
    "aws:batch/computeEnvironment:ComputeEnvironment": (
        "",
        lambda n: {"arn": _arn("batch", f"compute-environment/{n}")},
    ),
    "aws:batch/jobQueue:JobQueue": ("", lambda n: {"arn": _arn("batch", f"job-queue/{n}")}),
    "aws:secretsmanager/secret:Secret": ("", lambda n: {"arn": _arn("secretsmanager", f"secret:{n}-AbCdEf")}),
    "aws:dynamodb/table:Table": ("", lambda n: {"arn": _arn("dynamodb", f"table/{n}")}),
    "aws:lambda/function:Function": (
        "",
        lambda n: {
            "arn": _arn("lambda", f"function:{n}"),
            "version": "1",
            "qualifiedArn": _arn("lambda", f"function:{n}:1"),
        },
    ),
    "aws:cloudwatch/logGroup:LogGroup": ("", lambda n: {"arn": _arn("logs", f"log-group:{n}")}),
    "aws:sfn/stateMachine:StateMachine": ("", lambda n: {"arn": _arn("states", f"stateMachine:{n}")}),
}


# type token -> function(inputs) -> output properties the provider derives from the inputs
_FROM_INPUTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    # A typed policy document is sent as an object; the provider's state holds it as JSON text.
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": lambda inputs: {"policy": json.dumps(inputs["policy"])},
}


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks answering the AWS invokes this program makes and adding the output-only
    properties it reads (arn, id, latestVersion, repositoryUrl, bucket, name); every
    declared resource is recorded in ``resources``."""

    def __init__(self) -> None:
        self.resources: list[RecordedResource] = []
        self.protected: set[str] = set()  # logical names of the resources declared with protect
        self.dependencies: dict[str, tuple[str, ...]] = {}  # logical name -> the logical names it depends on
        self.urns: dict[str, tuple[str, ...]] = {}  # URN -> the URNs of its aliases
        self.deployed_outputs: dict[str, Any] = {}  # the stack's outputs of its last deploy: none, never deployed

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        # (result, failures): the mock monitor iterates the failures, so never None.
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/offline",
                "id": ACCOUNT_ID,
                "userId": "AIDAOFFLINE",
            }, []
        if args.token == "aws:index/getRegion:getRegion":
            return {"id": REGION, "name": REGION, "region": REGION, "endpoint": f"ec2.{REGION}.amazonaws.com"}, []
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {
                "id": REGION,
                "region": REGION,
                "names": list(AVAILABILITY_ZONES),
                "zoneIds": [f"use1-az{i + 1}" for i in range(len(AVAILABILITY_ZONES))],
                "groupNames": [REGION],
            }, []
        if args.token == naming.READ_STACK_OUTPUTS:
            return stack_outputs_answer(args, pulumi.get_stack(), self.deployed_outputs), []
        raise NotImplementedError(f"offline mocks have no answer for invoke {args.token}")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = plain(dict(args.inputs))
        id_prefix, extra = _OUTPUT_ONLY.get(args.typ, ("", lambda n: {}))
        # Explicit names are kept; Pulumi would auto-name the others "<name>-<random>".
        physical = inputs.get("name") or inputs.get("bucket") or f"{args.name}-0000000"
        derived = _FROM_INPUTS.get(args.typ, lambda _: {})(inputs)
        state = {**inputs, "name": physical, **extra(physical), **derived}
        resource_id = f"{id_prefix}{physical}"
        if args.typ == RANDOM_ID:  # drawn from the stack's name: as in the emulation
            resource_id, drawn = random_id_outputs(
                program_runner.auto_name(pulumi.get_stack(), args.name), inputs["byteLength"]
            )
            state.update(drawn)
        self.resources.append(RecordedResource(args.typ, args.name, inputs, resource_id, state, args.custom))
        return resource_id, state


# --- runner ---


@dataclass
class OfflineRun:
    """What one offline run of the program declared and exported."""

    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any] = field(default_factory=dict)
    protected: set[str] = field(default_factory=set)  # logical names of the resources declared with protect
    dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> names it depends on
    urns: dict[str, tuple[str, ...]] = field(default_factory=dict)  # URN -> the URNs of its aliases

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name_suffix: str = "") -> RecordedResource:
        """The single resource of ``type_token`` whose name ends with ``name_suffix``."""
        found = [r for r in self.of_type(type_token) if r.name.endswith(name_suffix)]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_token)]
            raise LookupError(f"{len(found)} resources of {type_token} named *{name_suffix}: all of the type: {names}")
        return found[0]

    def by_id(self, resource_id: str) -> RecordedResource:
        return next(r for r in self.resources if r.id == resource_id)


def run_program(
    stack: str,
    config: Mapping[str, str] | None = None,
    program: Callable[[], None] | None = None,
    mocks: RecordingMocks | None = None,
) -> OfflineRun:
    """Run ``program`` (default: the real ``stack.main``) for ``stack`` under mocks.

    ``config`` (full keys, e.g. ``batch-lustre:lustreStorageCapacity``) defaults to the
    stack's YAML file. Applies run (``preview=False``); an exception raised by the
    program or inside an apply is re-raised here, after the engine has settled (pass
    ``mocks`` to see what was declared before it).
    """
    from batch_lustre.program import stack as stack_module  # imported late: it imports the asl builders

    mocks = mocks if mocks is not None else RecordingMocks()
    outputs = program_runner.run_program(
        stack,
        load_stack_config(stack) if config is None else config,
        mocks,
        program or stack_module.main,
    )
    return OfflineRun(
        stack=stack,
        resources=mocks.resources,
        outputs=outputs,
        protected=mocks.protected,
        dependencies=mocks.dependencies,
        urns=mocks.urns,
    )


# --- listing ---

_LONG_JSON_INPUTS = {"definition"}


def describe(run: OfflineRun) -> str:
    """A readable listing of ``run``: resources, state machine definitions, outputs."""
    components = [r for r in run.resources if not r.custom]
    resources = [r for r in run.resources if r.custom]
    lines = [f"=== stack {run.stack}: {len(resources)} resources in {len(components)} components"]
    lines += [f"    {c.type}  {c.name}" for c in sorted(components, key=lambda r: (r.type, r.name))]
    for resource in sorted(resources, key=lambda r: (r.type, r.name)):
        lines.append("")
        lines.append(f"{resource.type}  {resource.name}  (id {resource.id})")
        for key, value in sorted(resource.inputs.items()):
            if key in ("tags", "tagsAll"):
                continue
            lines.append(f"    {key}: {_show(key, value)}")
        if "tags" in resource.inputs:
            lines.append(f"    tags: {json.dumps(resource.inputs['tags'], sort_keys=True)}")
    for machine in sorted(run.of_type("aws:sfn/stateMachine:StateMachine"), key=lambda r: r.name):
        lines += ["", f"=== state machine {machine.inputs.get('name')} definition", ""]
        lines.append(json.dumps(json.loads(machine.inputs["definition"]), indent=2))
    lines += ["", f"=== stack outputs of {run.stack}"]
    lines += [f"    {name}: {value}" for name, value in sorted(run.outputs.items())]
    return "\n".join(lines)


def _show(key: str, value: Any) -> str:
    if isinstance(value, pulumi.AssetArchive):
        members = {name: getattr(asset, "path", repr(asset)) for name, asset in value.assets.items()}
        return f"archive {json.dumps(members, sort_keys=True)}"
    if isinstance(value, str) and value[:1] in "{[":
        if key in _LONG_JSON_INPUTS:
            return "(JSON, printed below)"
        try:
            return "\n        " + json.dumps(json.loads(value), indent=2).replace("\n", "\n        ")
        except ValueError:
            return value
    return json.dumps(value, default=str, sort_keys=True)


def main(argv: list[str]) -> int:
    stacks = argv or list(STACKS)
    unknown = [s for s in stacks if s not in STACKS]
    if unknown:
        print(f"usage: python offline_stacks.py [{'|'.join(STACKS)}]  (unknown: {', '.join(unknown)})", file=sys.stderr)
        return 2
    for stack in stacks:
        try:
            run = run_program(stack)
        except pulumi.RunError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(describe(run))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
