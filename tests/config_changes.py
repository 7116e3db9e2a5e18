"""What ``pulumi up`` does to a deployed stack when one stack config key changes: per resource unchanged, updated in
place, replaced, created or deleted.

The program runs under mocks twice: with the stack file as it is (the deployed state) and with one key changed.
Each resource of the second run is compared, when the engine registers it, with its inputs in the first, as the
provider would: the properties in its ``ignore_changes`` are left out, and a differing property that forces a new
resource (``replace_forcing``, the upstream provider's rules) makes it a replacement, any other difference an
update in place. A replaced resource gets new outputs the way AWS would give them (an auto-named resource a new
name, hence a new id and ARN), and a Lambda function or launch template updated in place a new version, so the
resources that read them see the change as they would in a real ``pulumi up``.

``replace_forcing``: pulumi-aws 7.51.1 bridges terraform-provider-aws (pulumi-aws v7 follows its v6 line,
pulumi/pulumi-aws#5665); the properties below force a new resource in the upstream resource schemas (``ForceNew``,
or a ``CustomizeDiff`` that calls ``ForceNew``), read in the upstream source at the file named; only the properties
this program sets, of the resource types it declares. The exact upstream release pulumi-aws 7.51.1 pins could not
be read (its ``upstream`` submodule is not in the sources available here): each row was read in the upstream
repository's stored snapshot, and a row marked ``assumed`` was not read at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from offline_stacks import RecordingMocks, load_stack_config, run_program

from batch_lustre.emulation.program import plain

UNCHANGED = "unchanged"
UPDATED = "updated"
REPLACED = "replaced"
CREATED = "created"
DELETED = "deleted"

UPSTREAM = "hashicorp/terraform-provider-aws"

COMPUTE_ENVIRONMENT = "aws:batch/computeEnvironment:ComputeEnvironment"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"


@dataclass(frozen=True)
class ForceNew:
    """A property (Pulumi property path, camelCase) whose change replaces the resource, and where that rule is."""

    path: str
    source: str  # file of hashicorp/terraform-provider-aws
    assumed: bool = False  # not read in the upstream source


def _rows(source: str, *paths: str, assumed: bool = False) -> tuple[ForceNew, ...]:
    return tuple(ForceNew(path, source, assumed) for path in paths)


# Batch compute environment: schema ForceNew on name, type, computeResources.ec2Configurations and
# computeResources.launchTemplate; its CustomizeDiff forces a new environment for a change of subnets, security
# groups, allocation strategy, instance types, instance role or compute resource tags only when the environment is
# not "updatable" (a service role other than Batch's service-linked role, or an allocation strategy before or after
# other than BEST_FIT_PROGRESSIVE, SPOT_CAPACITY_OPTIMIZED or SPOT_PRICE_CAPACITY_OPTIMIZED): ``_compute_environment``.
_BATCH_CE = "internal/service/batch/compute_environment.go"
COMPUTE_ENVIRONMENT_UNLESS_UPDATABLE = _rows(
    _BATCH_CE,
    "computeResources.subnets",
    "computeResources.securityGroupIds",
    "computeResources.allocationStrategy",
    "computeResources.instanceTypes",
    "computeResources.instanceRole",
    "computeResources.tags",
)
UPDATABLE_ALLOCATION_STRATEGIES = ("BEST_FIT_PROGRESSIVE", "SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED")
_BUCKET_CHILD = ("bucket", "expectedBucketOwner")

# type token -> the properties this program sets (or could) that force a new resource. An explicit physical name
# (``name``) always does. Every other property of these types that the program sets is updated in place.
REPLACE_FORCING: dict[str, tuple[ForceNew, ...]] = {
    COMPUTE_ENVIRONMENT: _rows(
        _BATCH_CE, "name", "namePrefix", "type", "computeResources.ec2Configurations", "computeResources.launchTemplate"
    ),
    "aws:batch/jobQueue:JobQueue": _rows("internal/service/batch/job_queue.go", "name", assumed=True),
    "aws:cloudwatch/eventRule:EventRule": _rows("internal/service/events/rule.go", "name", assumed=True),
    "aws:cloudwatch/eventTarget:EventTarget": _rows(
        "internal/service/events/target.go", "rule", "targetId", assumed=True
    ),
    "aws:cloudwatch/logGroup:LogGroup": _rows("internal/service/logs/group.go", "name", "namePrefix", "logGroupClass"),
    "aws:dynamodb/table:Table": _rows("internal/service/dynamodb/table.go", "name", "hashKey", "rangeKey"),
    "aws:ec2/eip:Eip": _rows("internal/service/ec2/ec2_eip.go", "domain", assumed=True),
    "aws:ec2/internetGateway:InternetGateway": _rows("internal/service/ec2/vpc_internet_gateway.go", assumed=True),
    LAUNCH_TEMPLATE: _rows("internal/service/ec2/ec2_launch_template.go", "name", "namePrefix", assumed=True),
    "aws:ec2/natGateway:NatGateway": _rows(
        "internal/service/ec2/vpc_nat_gateway.go", "allocationId", "subnetId", assumed=True
    ),
    "aws:ec2/routeTable:RouteTable": _rows("internal/service/ec2/vpc_route_table.go", "vpcId", assumed=True),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _rows(
        "internal/service/ec2/vpc_route_table_association.go", "subnetId", assumed=True
    ),
    "aws:ec2/securityGroup:SecurityGroup": _rows(
        "internal/service/ec2/vpc_security_group.go", "name", "namePrefix", "description", "vpcId", assumed=True
    ),
    "aws:ec2/subnet:Subnet": _rows(
        "internal/service/ec2/vpc_subnet.go", "vpcId", "cidrBlock", "availabilityZone", assumed=True
    ),
    "aws:ec2/vpc:Vpc": _rows("internal/service/ec2/vpc_.go", "cidrBlock", assumed=True),
    "aws:ec2/vpcEndpoint:VpcEndpoint": _rows(
        "internal/service/ec2/vpc_endpoint.go", "serviceName", "vpcId", "vpcEndpointType", assumed=True
    ),
    # No Update function: every change replaces it; pulumi-aws deletes the old policy first (DeleteBeforeReplace in
    # pulumi/pulumi-aws provider/resources.go): the new one is put on the same repository, never deleted after.
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": _rows(
        "internal/service/ecr/lifecycle_policy.go", "policy", "repository"
    ),
    "aws:ecr/repository:Repository": _rows("internal/service/ecr/repository.go", "name", "encryptionConfigurations"),
    # pulumi-random bridges terraform-provider-random, whose random_id has no Update: every input replaces it.
    "random:index/randomId:RandomId": _rows(
        "terraform-provider-random internal/provider/resource_id.go", "byteLength", "keepers", "prefix", assumed=True
    ),
    "aws:iam/instanceProfile:InstanceProfile": _rows(
        "internal/service/iam/instance_profile.go", "name", "namePrefix", "path", assumed=True
    ),
    "aws:iam/role:Role": _rows("internal/service/iam/role.go", "name", "namePrefix", "path", assumed=True),
    "aws:iam/rolePolicy:RolePolicy": _rows("internal/service/iam/role_policy.go", "name", "namePrefix", "role"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _rows(
        "internal/service/iam/role_policy_attachment.go", "role", "policyArn", assumed=True
    ),
    LAMBDA_FUNCTION: _rows("internal/service/lambda/function.go", "name", "packageType", assumed=True),
    "aws:s3/bucket:Bucket": _rows("internal/service/s3/bucket.go", "bucket", "bucketPrefix", assumed=True),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _rows(
        "internal/service/s3/bucket_lifecycle_configuration.go", *_BUCKET_CHILD, assumed=True
    ),
    "aws:s3/bucketPolicy:BucketPolicy": _rows("internal/service/s3/bucket_policy.go", "bucket", assumed=True),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _rows(
        "internal/service/s3/bucket_public_access_block.go", "bucket", assumed=True
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _rows(
        "internal/service/s3/bucket_server_side_encryption_configuration.go", *_BUCKET_CHILD, assumed=True
    ),
    "aws:s3/bucketVersioning:BucketVersioning": _rows(
        "internal/service/s3/bucket_versioning.go", *_BUCKET_CHILD, assumed=True
    ),
    "aws:secretsmanager/secret:Secret": _rows(
        "internal/service/secretsmanager/secret.go", "name", "namePrefix", assumed=True
    ),
    # secretString forces a new version, but the program ignores its changes (ignore_changes): edits survive.
    "aws:secretsmanager/secretVersion:SecretVersion": _rows(
        "internal/service/secretsmanager/secret_version.go", "secretId", "secretString", assumed=True
    ),
    "aws:sfn/stateMachine:StateMachine": _rows("internal/service/sfn/state_machine.go", "name", "namePrefix", "type"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _rows(
        "internal/service/ec2/vpc_security_group_egress_rule.go", "securityGroupId", assumed=True
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _rows(
        "internal/service/ec2/vpc_security_group_ingress_rule.go", "securityGroupId", assumed=True
    ),
}


@dataclass(frozen=True)
class Change:
    """What ``pulumi up`` does to one resource: ``action`` and the property paths that differ (empty when created,
    deleted or unchanged)."""

    type: str
    name: str
    action: str
    paths: tuple[str, ...] = ()


@dataclass
class Plan:
    """Every resource's ``Change`` under one stack config change, the protected resources before and after, and the
    stack as the change deploys it (``after``: the base of a change back)."""

    changes: list[Change] = field(default_factory=list)
    protected_before: set[str] = field(default_factory=set)
    protected_after: set[str] = field(default_factory=set)
    after: Deployed | None = None

    def acting(self) -> list[Change]:
        return [c for c in self.changes if c.action != UNCHANGED]

    def of(self, action: str) -> list[Change]:
        return [c for c in self.changes if c.action == action]


# --- comparing inputs ---


def comparable(value: Any) -> Any:
    """``value`` with Pulumi assets and archives as what they hold (so two runs' archives of one file compare
    equal), for comparison."""
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {k: comparable(v) for k, v in value.assets.items()}}
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        return {"file": str(value.path)}
    if isinstance(value, pulumi.StringAsset):
        return {"text": value.text}
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def differing_paths(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The property paths (``a.b``) whose values differ between ``old`` and ``new``: objects are walked, anything
    else (lists included) compared whole."""
    paths = []
    for key in sorted(set(old) | set(new)):
        path = f"{prefix}{key}"
        before, after = old.get(key), new.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            paths += differing_paths(before, after, f"{path}.")
        elif before != after:
            paths.append(path)
    return paths


def _under(path: str, prefixes: Iterable[str]) -> bool:
    return any(path == p or path.startswith(f"{p}.") for p in prefixes)


def _compute_environment(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[ForceNew, ...]:
    """The compute environment's CustomizeDiff: more properties force a new environment unless it is updatable."""
    role_ok = all(
        not r or "/aws-service-role/batch.amazonaws.com/" in r for r in (old.get("serviceRole"), new.get("serviceRole"))
    )
    strategies = [i.get("computeResources", {}).get("allocationStrategy") for i in (old, new)]
    if role_ok and all(s in UPDATABLE_ALLOCATION_STRATEGIES for s in strategies):
        return ()
    return COMPUTE_ENVIRONMENT_UNLESS_UPDATABLE


CUSTOMIZE_DIFF: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], tuple[ForceNew, ...]]] = {
    COMPUTE_ENVIRONMENT: _compute_environment,
}


def replacing_paths(type_token: str, old: Mapping[str, Any], new: Mapping[str, Any], paths: Iterable[str]) -> list[str]:
    """Of the differing ``paths`` of a resource of ``type_token``, those that force a new resource: its
    replace-forcing properties and an explicit physical name (``name``)."""
    rules = REPLACE_FORCING.get(type_token, ()) + CUSTOMIZE_DIFF.get(type_token, lambda o, n: ())(old, new)
    forcing = {"name", *(r.path for r in rules)}
    return [p for p in paths if _under(p, forcing)]


def classify(type_token: str, old: Mapping[str, Any], new: Mapping[str, Any], ignored: Iterable[str] = ()) -> Change:
    """What ``pulumi up`` does to a resource of ``type_token`` declared with ``new`` inputs over ``old``."""
    paths = [p for p in differing_paths(comparable(old), comparable(new)) if not _under(p, ignored)]
    if not paths:
        return Change(type_token, "", UNCHANGED)
    action = REPLACED if replacing_paths(type_token, old, new, paths) else UPDATED
    return Change(type_token, "", action, tuple(paths))


# --- running the program ---


class ChangeMocks(RecordingMocks):
    """Mocks comparing each resource, as the engine registers it, with the deployed run's (``deployed``): the
    outcome goes to ``changes``; a replaced auto-named resource is given a new name (so a new id and ARN), an updated
    Lambda function (published) and launch template a new version."""

    def __init__(self, deployed: Mapping[tuple[str, str], Any]) -> None:
        super().__init__()
        self.ignore_changes: dict[str, tuple[str, ...]] = {}
        self.deployed = deployed
        self.changes: list[Change] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = plain(dict(args.inputs))
        old = self.deployed.get((args.typ, args.name))
        if old is None:
            change = Change(args.typ, args.name, CREATED)
        else:
            found = classify(args.typ, old.inputs, inputs, self.ignore_changes.get(args.name, ()))
            change = Change(args.typ, args.name, found.action, found.paths)
        if args.custom:
            self.changes.append(change)
        resource_id, state = super().new_resource(args)
        if change.action == REPLACED and not inputs.get("name"):
            renamed = f"{args.name}-1111111"
            resource_id = str(resource_id).replace(f"{args.name}-0000000", renamed)
            state = json.loads(json.dumps(state, default=str).replace(f"{args.name}-0000000", renamed))
        elif change.action == UPDATED and args.typ == LAMBDA_FUNCTION and inputs.get("publish"):
            state = {**state, "version": "2", "qualifiedArn": str(state["qualifiedArn"]).rsplit(":", 1)[0] + ":2"}
        elif change.action == UPDATED and args.typ == LAUNCH_TEMPLATE:
            state = {**state, "latestVersion": 2}
        self.resources[-1].state = state
        return resource_id, state


@dataclass
class Deployed:
    """A stack as deployed: its config and what its program declared."""

    stack: str
    config: dict[str, str]
    resources: dict[tuple[str, str], Any]
    protected: set[str]


def deployed(stack: str, overrides: Mapping[str, str] | None = None) -> Deployed:
    """Stack ``stack`` as its stack file deploys it, with the stack config keys ``overrides`` (full keys) set."""
    config = {**load_stack_config(stack), **(overrides or {})}
    run = run_program(stack, config=config)
    return Deployed(stack, config, {(r.type, r.name): r for r in run.resources if r.custom}, run.protected)


def plan(base: Deployed, changed: Mapping[str, str]) -> Plan:
    """What ``pulumi up`` does to ``base`` with the stack config keys ``changed`` (full keys) set."""
    mocks = ChangeMocks(base.resources)
    config = {**base.config, **changed}
    run = run_program(base.stack, config=config, mocks=mocks)
    declared = {(c.type, c.name) for c in mocks.changes}
    deleted = [Change(t, n, DELETED) for (t, n) in base.resources if (t, n) not in declared]
    after = Deployed(base.stack, config, {(r.type, r.name): r for r in run.resources if r.custom}, run.protected)
    return Plan(mocks.changes + deleted, base.protected, run.protected, after)


# --- what a change does, in words (the README's table) ---

# type token -> (one, several): the words the README uses for a resource of the type.
WORDS: dict[str, tuple[str, str]] = {
    COMPUTE_ENVIRONMENT: ("compute environment", "compute environments"),
    "aws:batch/jobQueue:JobQueue": ("job queue", "job queues"),
    "aws:cloudwatch/logGroup:LogGroup": ("log group", "log groups"),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ("ECR lifecycle policy", "ECR lifecycle policies"),
    "aws:ecr/repository:Repository": ("ECR repository", "ECR repositories"),
    "aws:iam/rolePolicy:RolePolicy": ("IAM role policy", "IAM role policies"),
    LAMBDA_FUNCTION: ("Lambda function", "Lambda functions"),
    LAUNCH_TEMPLATE: ("launch template", "launch templates"),
    "aws:s3/bucket:Bucket": ("bucket", "buckets"),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "bucket lifecycle rule",
        "bucket lifecycle rules",
    ),
    "aws:secretsmanager/secret:Secret": ("secret", "secrets"),
    "aws:secretsmanager/secretVersion:SecretVersion": ("secret version", "secret versions"),
    "aws:sfn/stateMachine:StateMachine": ("state machine", "state machines"),
}
_VERBS = ((REPLACED, "replaces:"), (DELETED, "deletes:"), (CREATED, "creates:"), (UPDATED, "updates in place:"))
NO_CHANGE = "no change"
PROTECTION_ONLY = "Pulumi's protect flag only (no AWS change)"
NEW_STACK = "refused: a new stack"
# What makes a change one to wait for: any change to a running job's compute, or anything a run uses replaced or
# deleted under it (a lifecycle rule is no such thing: it acts days later, and is put back at once).
RUN_TOUCHING = (COMPUTE_ENVIRONMENT, "aws:batch/jobQueue:JobQueue")
NOT_USED_BY_RUNS = (
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
)


def _words(type_token: str, count: int) -> str:
    one, several = WORDS.get(type_token, (type_token, type_token))
    return one if count == 1 else f"{count} {several}"


def effect(plan: Plan) -> str:
    """``plan`` in words: what ``pulumi up`` does, by action and resource type."""
    parts = []
    for action, verb in _VERBS:
        counts: dict[str, int] = {}
        for change in plan.of(action):
            counts[change.type] = counts.get(change.type, 0) + 1
        if counts:
            parts.append(f"{verb} " + ", ".join(_words(t, n) for t, n in sorted(counts.items(), key=_word_order)))
    if parts:
        return "; ".join(parts)
    return PROTECTION_ONLY if plan.protected_before != plan.protected_after else NO_CHANGE


def _word_order(item: tuple[str, int]) -> str:
    return _words(item[0], 1).lower()


def wait_for_runs(plan: Plan) -> bool:
    """Whether ``plan`` is one to run only when no run is going: it changes the jobs' compute (a compute environment
    or job queue created is no run's: a new lane), or replaces or deletes anything a run may be using."""
    removed = [c for c in plan.of(REPLACED) + plan.of(DELETED) if c.type not in NOT_USED_BY_RUNS]
    touched = [c for c in plan.acting() if c.type in RUN_TOUCHING and c.action != CREATED]
    return bool(touched) or bool(removed)


# A lane's resources (stack config maxConcurrentRuns; components/compute_environment.py): its compute environment,
# the baseline launch template it starts from and its job queue. (A run's own launch templates are no resource of
# the stack.)
LANE_TYPES = (COMPUTE_ENVIRONMENT, "aws:batch/jobQueue:JobQueue", LAUNCH_TEMPLATE)
_LANE_WORDS = ((REPLACED, "replaced"), (DELETED, "removed"), (CREATED, "added"), (UPDATED, "updated in place"))
LANES_KEPT = "kept"


def lanes_effect(plan: Plan) -> str:
    """What ``plan`` does to the lanes, in words: a lane replaced or removed ends the jobs of the run that holds it;
    a lane updated in place is a Batch infrastructure update (running jobs get jobTimeoutMinutes)."""
    found = [words for action, words in _LANE_WORDS if any(c.type in LANE_TYPES for c in plan.of(action))]
    return ", ".join(found) or LANES_KEPT
