"""IAM authorisation requests of a call: which actions on which resources (with which condition keys) one AWS
call needs, resolved per operation (``resolve``). The checks and their sources: docs/aws-rules.md, section "IAM"."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from batch_lustre.emulation import moto_seam
from batch_lustre.emulation.iam_policy import (
    _IAM_PREFIX,
    FSX_S3_SERVICE,
    FSX_S3_VALIDATION_ACTIONS,
    FSX_S3_VALIDATION_CODE,
    FSX_S3_VALIDATION_MESSAGE,
    FSX_SERVICE,
    SYNC_BATCH_RULE,
    Check,
    UnknownIamAction,
)
from batch_lustre.emulation.moto_seam import iam_backends

# --- resolving a call into authorisation requests -------------------------------------------------


def _get(params: Mapping[str, Any] | None, *path: str) -> Any:
    """``params[path...]`` with member names matched case-insensitively (ASL PascalCase or botocore's)."""
    value: Any = params
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = next((v for k, v in value.items() if k.lower() == name.lower()), None)
    return value


def _tag_dict(tags: Any) -> dict[str, str]:
    """Tags as a dict, from a Key/Value list (FSx, EC2, Secrets Manager) or a map (Batch)."""
    if isinstance(tags, Mapping):
        return {str(k): str(v) for k, v in tags.items()}
    out = {}
    for tag in tags or []:
        key, value = _get(tag, "Key"), _get(tag, "Value")
        if key is not None:
            out[str(key)] = "" if value is None else str(value)
    return out


def _request_context(tags: Mapping[str, str] | None) -> dict[str, tuple[str, ...]]:
    if not tags:
        return {}
    context: dict[str, tuple[str, ...]] = {f"aws:requesttag/{k}".lower(): (v,) for k, v in tags.items()}
    context["aws:tagkeys"] = tuple(tags)
    return context


def _resource_context(tags: Mapping[str, str], *prefixes: str) -> dict[str, tuple[str, ...]]:
    return {f"{p}:resourcetag/{k}".lower(): (v,) for k, v in tags.items() for p in ("aws", *prefixes)}


@dataclass
class _Call:
    emu: Any
    service: str  # botocore service name
    operation: str  # botocore operation name
    params: Mapping[str, Any]

    @property
    def region(self) -> str:
        return str(self.emu.region)

    @property
    def account(self) -> str:
        return str(self.emu.account_id)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def get(self, *path: str) -> Any:
        return _get(self.params, *path)

    def check(
        self,
        action: str,
        resource: str,
        *contexts: Mapping[str, tuple[str, ...]],
        exists: bool = True,
        error: tuple[str, str] | None = None,
    ) -> Check:
        merged: dict[str, tuple[str, ...]] = {"aws:requestedregion": (self.region,)}
        for context in contexts:
            merged.update(context)
        return Check(action, resource, merged, exists, error)

    def backend(self, name: str) -> Any:
        return moto_seam.backend(name, self.account, self.region)


_Resolver = Callable[[_Call], list[Check]]
_RESOLVERS: dict[tuple[str, str], _Resolver] = {}


def _resolves(service: str, *operations: str) -> Callable[[_Resolver], _Resolver]:
    def register(fn: _Resolver) -> _Resolver:
        for operation in operations:
            _RESOLVERS[(service, operation)] = fn
        return fn

    return register


def _everything(action: str) -> _Resolver:
    """An action without resource-level permissions: authorised on ``*``."""
    return lambda c: [c.check(action, "*")]


for _service, _operations in {
    "fsx": ("DescribeFileSystems", "DescribeDataRepositoryAssociations", "DescribeDataRepositoryTasks"),
    "batch": ("DescribeComputeEnvironments", "DescribeJobs", "ListJobs", "DescribeJobDefinitions"),
    "ec2": ("DescribeLaunchTemplates",),
    "cloudwatch": ("GetMetricData",),
}.items():
    for _described in _operations:
        _RESOLVERS[(_service, _described)] = _everything(f"{_service}:{_described}")


@_resolves("sts", "GetCallerIdentity")
def _no_permission(c: _Call) -> list[Check]:
    return []  # needs no permission (STS API Reference, GetCallerIdentity)


@_resolves("stepfunctions", "ListExecutions")
def _list_executions(c: _Call) -> list[Check]:
    if c.get("mapRunArn"):
        return [c.check("states:ListExecutions", str(c.get("mapRunArn")))]
    return [c.check("states:ListExecutions", str(c.get("stateMachineArn")))]


@_resolves("stepfunctions", "DescribeExecution")
def _describe_execution(c: _Call) -> list[Check]:
    # Service Authorization Reference, AWS Step Functions: DescribeExecution on resource type "execution".
    return [c.check("states:DescribeExecution", str(c.get("executionArn")))]


@_resolves("ecr", "DescribeImages")
def _describe_images(c: _Call) -> list[Check]:
    # Service Authorization Reference, Amazon ECR: DescribeImages on resource type "repository".
    return [c.check("ecr:DescribeImages", c.arn("ecr", f"repository/{c.get('repositoryName')}"))]


@_resolves("secretsmanager", "GetSecretValue")
def _get_secret_value(c: _Call) -> list[Check]:
    secret_id = str(c.get("SecretId"))
    secret = c.backend("secretsmanager").secrets.get(secret_id)
    if secret is None:
        arn = secret_id if secret_id.startswith("arn:") else c.arn("secretsmanager", f"secret:{secret_id}")
        return [c.check("secretsmanager:GetSecretValue", arn, exists=False)]
    tags = _resource_context(_tag_dict(secret.tags), "secretsmanager")
    return [c.check("secretsmanager:GetSecretValue", secret.arn, tags)]


@_resolves("lambda", "Invoke")
def _invoke(c: _Call) -> list[Check]:
    name, qualifier = str(c.get("FunctionName")), c.get("Qualifier")
    if name.startswith("arn:"):
        arn = name
    elif ":function:" in name:
        arn = f"arn:aws:lambda:{c.region}:{name}"
    else:
        arn = c.arn("lambda", f"function:{name}")
    if qualifier and arn.count(":") == 6:
        arn = f"{arn}:{qualifier}"
    return [c.check("lambda:InvokeFunction", arn)]


# --- DynamoDB ------------------------------------------------------------------------------------


@_resolves("dynamodb", "Scan")
def _dynamodb_scan(c: _Call) -> list[Check]:
    # Service Authorization Reference, Amazon DynamoDB: Scan on resource type "table" (or "index").
    name = str(c.get("TableName"))
    arn = name if name.startswith("arn:") else c.arn("dynamodb", f"table/{name}")
    exists = arn.rsplit("/", 1)[-1] in c.backend("dynamodb").tables
    index = c.get("IndexName")
    return [c.check("dynamodb:Scan", f"{arn}/index/{index}" if index else arn, exists=exists)]


@_resolves("dynamodb", "GetItem", "PutItem", "UpdateItem", "DeleteItem")
def _dynamodb_item(c: _Call) -> list[Check]:
    # Service Authorization Reference, Amazon DynamoDB: the item actions on resource type "table"
    # (Step Functions developer guide, "IAM policies for Amazon DynamoDB": table/<tableName>).
    name = str(c.get("TableName"))
    arn = name if name.startswith("arn:") else c.arn("dynamodb", f"table/{name}")
    exists = arn.rsplit("/", 1)[-1] in c.backend("dynamodb").tables
    return [c.check(f"dynamodb:{c.operation}", arn, exists=exists)]


# --- FSx -----------------------------------------------------------------------------------------


def _fsx_tags(c: _Call, arn: str) -> dict[str, str]:
    return _tag_dict(c.backend("fsx").list_tags_for_resource(arn))


def _file_system(c: _Call, file_system_id: str) -> tuple[str, dict[str, tuple[str, ...]], bool]:
    """ARN, resource-tag context and existence of a file system."""
    fs = c.backend("fsx").file_systems.get(file_system_id)
    arn = fs.resource_arn if fs is not None else c.arn("fsx", f"file-system/{file_system_id}")
    return arn, _resource_context(_fsx_tags(c, arn)) if fs is not None else {}, fs is not None


def _fsx_resource(c: _Call, arn: str) -> tuple[dict[str, tuple[str, ...]], bool]:
    """Resource-tag context and existence of any FSx resource ARN (file system, association, task)."""
    kind, _, rest = arn.split(":", 5)[5].partition("/")
    model = c.emu.fsx
    tags = _fsx_tags(c, arn)
    if kind == "file-system":
        exists = rest in c.backend("fsx").file_systems
    elif kind == "association":
        dra = model.associations.get(rest.rsplit("/", 1)[-1])
        exists = dra is not None
        tags = {**_tag_dict(dra.tags if dra else []), **tags}
    elif kind == "task":
        task = model.tasks.get(rest)
        exists = task is not None
        tags = {**_tag_dict(task.tags if task else []), **tags}
    else:
        exists = True
    return _resource_context(tags), exists


def _tag_on_create(c: _Call, action: str, resources: list[str], request: dict[str, tuple[str, ...]]) -> list[Check]:
    """A create carrying tags also needs the service's TagResource on the new resource(s)."""
    return [c.check(action, arn, request) for arn in resources] if request else []


@_resolves("fsx", "CreateFileSystem")
def _create_file_system(c: _Call) -> list[Check]:
    # A new resource is authorised as <type>/* (observed: "... fsx:CreateFileSystem on resource: ...file-system/*").
    new = c.arn("fsx", "file-system/*")
    request = _request_context(_tag_dict(c.get("Tags")))
    checks = [c.check("fsx:CreateFileSystem", new, request), *_tag_on_create(c, "fsx:TagResource", [new], request)]
    role = _service_linked_role(c, FSX_SERVICE, "AWSServiceRoleForAmazonFSx")
    if role not in c.emu.iam.service_linked_roles:
        checks.append(c.check("iam:CreateServiceLinkedRole", role, {"iam:awsservicename": (FSX_SERVICE,)}))
    return checks


def _service_linked_role(c: _Call, service: str, name: str) -> str:
    return f"arn:aws:iam::{c.account}:role/aws-service-role/{service}/{name}"


@_resolves("fsx", "CreateDataRepositoryAssociation")
def _create_dra(c: _Call) -> list[Check]:
    fs_id = str(c.get("FileSystemId"))
    fs_arn, fs_tags, fs_exists = _file_system(c, fs_id)
    new = c.arn("fsx", f"association/{fs_id}/*")
    request = _request_context(_tag_dict(c.get("Tags")))
    checks = [
        c.check("fsx:CreateDataRepositoryAssociation", new, request),
        c.check("fsx:CreateDataRepositoryAssociation", fs_arn, request, fs_tags, exists=fs_exists),
        *_tag_on_create(c, "fsx:TagResource", [new], request),
    ]
    # The file system's S3 access role (FSxDeleteServiceLinkedRoleAccess names AWSServiceRoleForFSxS3Access_*).
    role = _service_linked_role(c, FSX_S3_SERVICE, f"AWSServiceRoleForFSxS3Access_{fs_id}")
    if role not in c.emu.iam.service_linked_roles:
        checks.append(c.check("iam:CreateServiceLinkedRole", role, {"iam:awsservicename": (FSX_S3_SERVICE,)}))
    checks += [c.check("iam:AttachRolePolicy", role), c.check("iam:PutRolePolicy", role)]
    # FSx validates, as the caller, that the bucket prefix can be read, listed and written.
    path = str(c.get("DataRepositoryPath") or "")
    if path.startswith("s3://"):
        bucket, _, prefix = path[len("s3://") :].partition("/")
        targets = {"bucket": f"arn:aws:s3:::{bucket}", "prefix": f"arn:aws:s3:::{bucket}/{prefix}*"}
        checks += [
            c.check(action, targets[kind], error=(FSX_S3_VALIDATION_CODE, FSX_S3_VALIDATION_MESSAGE))
            for action, kind in FSX_S3_VALIDATION_ACTIONS
        ]
    return checks


@_resolves("fsx", "UpdateDataRepositoryAssociation")
def _update_dra(c: _Call) -> list[Check]:
    dra_id = str(c.get("AssociationId"))
    dra = c.emu.fsx.associations.get(dra_id)
    arn = dra.resource_arn if dra is not None else c.arn("fsx", f"association/*/{dra_id}")
    context, exists = _fsx_resource(c, arn)
    return [c.check("fsx:UpdateDataRepositoryAssociation", arn, context, exists=exists)]


@_resolves("fsx", "CreateDataRepositoryTask")
def _create_task(c: _Call) -> list[Check]:
    fs_arn, fs_tags, fs_exists = _file_system(c, str(c.get("FileSystemId")))
    new = c.arn("fsx", "task/*")
    request = _request_context(_tag_dict(c.get("Tags")))
    return [
        c.check("fsx:CreateDataRepositoryTask", fs_arn, request, fs_tags, exists=fs_exists),
        c.check("fsx:CreateDataRepositoryTask", new, request),
        *_tag_on_create(c, "fsx:TagResource", [new], request),
    ]


@_resolves("fsx", "DeleteFileSystem")
def _delete_file_system(c: _Call) -> list[Check]:
    arn, tags, exists = _file_system(c, str(c.get("FileSystemId")))
    return [c.check("fsx:DeleteFileSystem", arn, tags, exists=exists)]


@_resolves("fsx", "TagResource", "UntagResource", "ListTagsForResource")
def _fsx_tagging(c: _Call) -> list[Check]:
    arn = str(c.get("ResourceARN"))
    context, exists = _fsx_resource(c, arn)
    request = _request_context(_tag_dict(c.get("Tags"))) if c.operation == "TagResource" else {}
    if c.operation == "UntagResource":
        request = {"aws:tagkeys": tuple(c.get("TagKeys") or ())}
    return [c.check(f"fsx:{c.operation}", arn, request, context, exists=exists)]


# --- EC2 -----------------------------------------------------------------------------------------


def _ec2_request_tags(c: _Call, resource_type: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for spec in c.get("TagSpecifications") or []:
        if _get(spec, "ResourceType") == resource_type:
            tags.update(_tag_dict(_get(spec, "Tags")))
    return tags


@_resolves("ec2", "CreateLaunchTemplate")
def _create_launch_template(c: _Call) -> list[Check]:
    new = c.arn("ec2", "launch-template/*")
    tags = _ec2_request_tags(c, "launch-template")
    request = _request_context(tags)
    checks = [c.check("ec2:CreateLaunchTemplate", new, request, {"ec2:region": (c.region,)})]
    if tags:
        # Tag on create (EC2 User Guide, "Grant permission to tag resources during creation").
        checks.append(c.check("ec2:CreateTags", new, request, {"ec2:createaction": ("CreateLaunchTemplate",)}))
    return checks


@_resolves("ec2", "DeleteLaunchTemplate")
def _delete_launch_template(c: _Call) -> list[Check]:
    ec2 = c.backend("ec2")
    template_id = c.get("LaunchTemplateId")
    if not template_id and c.get("LaunchTemplateName"):
        template_id = ec2.launch_template_name_to_ids.get(str(c.get("LaunchTemplateName")))
    exists = bool(template_id) and template_id in ec2.launch_templates
    arn = c.arn("ec2", f"launch-template/{template_id or '*'}")
    tags = _resource_context(ec2.tags.get(template_id, {}), "ec2") if exists else {}
    return [c.check("ec2:DeleteLaunchTemplate", arn, tags, {"ec2:region": (c.region,)}, exists=exists)]


# --- Batch ---------------------------------------------------------------------------------------


def _batch_tags(c: _Call, arn: str) -> dict[str, tuple[str, ...]]:
    return _resource_context(_tag_dict(c.backend("batch").list_tags_for_resource(arn)))


def _pass_roles(c: _Call, *passed: tuple[tuple[str, ...], str]) -> list[Check]:
    """iam:PassRole for every role the request passes (IAM User Guide, "Grant a user permissions to pass a role"):
    ``passed`` is (member path, service the role is passed to)."""

    checks = []
    for path, service in passed:
        value = c.get(*path)
        if not value:
            continue
        roles = [str(value)]
        if ":instance-profile/" in str(value):  # an instance profile passes its role(s)
            profiles = iam_backends[c.account]["aws"].instance_profiles.values()
            roles = [r.arn for p in profiles if p.arn == value for r in p.roles] or roles
        checks += [c.check("iam:PassRole", role, {"iam:passedtoservice": (service,)}) for role in roles]
    return checks


@_resolves("batch", "UpdateComputeEnvironment")
def _update_compute_environment(c: _Call) -> list[Check]:
    identifier = str(c.get("computeEnvironment"))
    env = c.backend("batch").get_compute_environment(identifier)
    arn = (
        env.arn
        if env is not None
        else (identifier if identifier.startswith("arn:") else c.arn("batch", f"compute-environment/{identifier}"))
    )
    return [
        c.check("batch:UpdateComputeEnvironment", arn, _batch_tags(c, arn), exists=env is not None),
        *_pass_roles(
            c, (("serviceRole",), "batch.amazonaws.com"), (("computeResources", "instanceRole"), "ec2.amazonaws.com")
        ),
    ]


@_resolves("batch", "RegisterJobDefinition")
def _register_job_definition(c: _Call) -> list[Check]:
    name = str(c.get("jobDefinitionName"))
    revisions = [d.revision for d in c.backend("batch").get_job_definitions(name)]
    request = _request_context(_tag_dict(c.get("tags")))
    new_revision = c.arn("batch", f"job-definition/{name}:{max(revisions, default=0) + 1}")
    return [
        c.check("batch:RegisterJobDefinition", c.arn("batch", f"job-definition/{name}"), request),
        *_tag_on_create(c, "batch:TagResource", [new_revision], request),
        *_pass_roles(
            c,
            (("containerProperties", "jobRoleArn"), "ecs-tasks.amazonaws.com"),
            (("containerProperties", "executionRoleArn"), "ecs-tasks.amazonaws.com"),
        ),
    ]


def _job_definition(c: _Call, identifier: str) -> tuple[str, dict[str, tuple[str, ...]], bool]:
    found = c.backend("batch").get_job_definition(identifier)
    if found is not None:
        return found.arn, _batch_tags(c, found.arn), True
    arn = identifier if identifier.startswith("arn:") else c.arn("batch", f"job-definition/{identifier}")
    return arn, {}, False


@_resolves("batch", "DeregisterJobDefinition")
def _deregister_job_definition(c: _Call) -> list[Check]:
    arn, tags, exists = _job_definition(c, str(c.get("jobDefinition")))
    return [c.check("batch:DeregisterJobDefinition", arn, tags, exists=exists)]


@_resolves("batch", "SubmitJob")
def _submit_job(c: _Call) -> list[Check]:
    batch = c.backend("batch")
    queue_id = str(c.get("jobQueue"))
    queue = batch.get_job_queue(queue_id)
    queue_arn = (
        queue.arn
        if queue is not None
        else (queue_id if queue_id.startswith("arn:") else c.arn("batch", f"job-queue/{queue_id}"))
    )
    definition_arn, definition_tags, definition_exists = _job_definition(c, str(c.get("jobDefinition")))
    new = c.arn("batch", "job/*")
    request = _request_context(_tag_dict(c.get("tags")))
    checks = [
        c.check("batch:SubmitJob", queue_arn, request, _batch_tags(c, queue_arn), exists=queue is not None),
        c.check("batch:SubmitJob", definition_arn, request, definition_tags, exists=definition_exists),
        c.check("batch:SubmitJob", new, request),
    ]
    # Tags on the job: TagResource on the job, and (observed) on the job definition revision.
    return checks + _tag_on_create(c, "batch:TagResource", [new, definition_arn], request)


@_resolves("batch", "TerminateJob")
def _terminate_job(c: _Call) -> list[Check]:
    return [c.check("batch:TerminateJob", c.arn("batch", f"job/{c.get('jobId')}"))]


@_resolves("batch", "TagResource", "UntagResource", "ListTagsForResource")
def _batch_tagging(c: _Call) -> list[Check]:
    arn = str(c.get("resourceArn"))
    request = _request_context(_tag_dict(c.get("tags"))) if c.operation == "TagResource" else {}
    return [c.check(f"batch:{c.operation}", arn, request, _batch_tags(c, arn))]


def _submit_job_sync(c: _Call) -> list[Check]:
    """``arn:aws:states:::batch:submitJob.sync`` (Step Functions developer guide, "IAM policies for AWS Batch")."""
    rule = c.arn("events", f"rule/{SYNC_BATCH_RULE}")
    return [
        *_submit_job(c),
        *(c.check(f"events:{action}", rule) for action in ("PutTargets", "PutRule", "DescribeRule")),
        c.check("batch:DescribeJobs", "*"),
        # Step Functions terminates the job when the task is stopped; checked up front (see docs/aws-rules.md).
        c.check("batch:TerminateJob", c.arn("batch", "job/*")),
    ]


def iam_prefix(service: str) -> str:
    return _IAM_PREFIX.get(service, service)


def resolve(
    emu: Any, service: str, operation: str, parameters: Mapping[str, Any] | None, *, sync: bool = False
) -> list[Check]:
    """The authorisation requests AWS makes for ``service``'s ``operation`` with ``parameters`` (botocore names)."""
    call = _Call(emu, service, operation, parameters or {})
    if sync:
        if (service, operation) != ("batch", "SubmitJob"):
            raise UnknownIamAction(f"no .sync integration is emulated for {service}:{operation}")
        return _submit_job_sync(call)
    resolver = _RESOLVERS.get((service, operation))
    if resolver is None:
        raise UnknownIamAction(
            f"batch_lustre.emulation.iam does not know which IAM authorisation {iam_prefix(service)}:{operation} needs: "
            "add a resolver for it (emulation/iam_requests.py) before the code calls it"
        )
    return resolver(call)


def known_operations() -> list[tuple[str, str]]:
    """Every (botocore service, operation) the resolver knows."""
    return sorted(_RESOLVERS)
