"""Each resource type the Pulumi program declares, created in the emulated AWS from its declared inputs.

One function per type token: it makes the AWS API calls the pulumi-aws provider makes to create the resource
(through boto3, so moto's and the emulation's checks apply, and every request is validated against botocore's
service model), and returns the resource's id and the outputs the provider would report (ids, ARNs, names).
Inputs arrive as the engine sends them to the provider: camelCase keys, secrets unwrapped
(``batch_lustre.emulation.program.plain``).

A type without a function here is refused (``UnsupportedResource``): nothing the program declares is skipped.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from botocore.exceptions import ClientError

from batch_lustre.emulation.clients import client
from batch_lustre.emulation.program import RANDOM_ID, random_id_outputs
from batch_lustre.emulation.trust import require_trust
from batch_lustre.program.parameters import DERIVED_NAMES

# Step Functions refuses a role it cannot assume at CreateStateMachine: AccessDeniedException "Neither the global
# service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role."
# Lambda refuses it at CreateFunction: InvalidParameterValueException "The role defined for the function cannot be
# assumed by Lambda." (docs/aws-rules.md, "Roles: who may assume them").


class UnsupportedResource(Exception):
    """The program declares a resource type the emulation cannot create."""


@dataclass(frozen=True)
class Declared:
    """One resource as the program declared it: type token, logical name, physical name, inputs."""

    type: str
    name: str
    physical: str
    inputs: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.inputs.get(key, default)


Created = tuple[str, dict[str, Any]]  # (id, outputs beyond the inputs)
Creator = Callable[[Declared, str, str], Created]  # (resource, region, account) -> Created


def _tag_list(tags: Mapping[str, str] | None, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in (tags or {}).items()]


def _ec2_tags(resource_type: str, tags: Mapping[str, str] | None) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": _tag_list(tags)}] if tags else []


def _arn(region: str, account: str, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


# --- EC2 and VPC ---


def _vpc(r: Declared, region: str, account: str) -> Created:
    ec2 = client("ec2", region)
    vpc_id = ec2.create_vpc(CidrBlock=r.get("cidrBlock"), TagSpecifications=_ec2_tags("vpc", r.get("tags")))["Vpc"][
        "VpcId"
    ]
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):
        if attribute in r.inputs:
            ec2.modify_vpc_attribute(
                VpcId=vpc_id, **{attribute[0].upper() + attribute[1:]: {"Value": r.get(attribute)}}
            )
    return vpc_id, {"arn": _arn(region, account, "ec2", f"vpc/{vpc_id}")}


def _subnet(r: Declared, region: str, account: str) -> Created:
    ec2 = client("ec2", region)
    subnet = ec2.create_subnet(
        VpcId=r.get("vpcId"),
        CidrBlock=r.get("cidrBlock"),
        AvailabilityZone=r.get("availabilityZone"),
        TagSpecifications=_ec2_tags("subnet", r.get("tags")),
    )["Subnet"]
    if r.get("mapPublicIpOnLaunch"):
        ec2.modify_subnet_attribute(SubnetId=subnet["SubnetId"], MapPublicIpOnLaunch={"Value": True})
    return subnet["SubnetId"], {"arn": _arn(region, account, "ec2", f"subnet/{subnet['SubnetId']}")}


def _internet_gateway(r: Declared, region: str, account: str) -> Created:
    ec2 = client("ec2", region)
    gateway_id = ec2.create_internet_gateway(TagSpecifications=_ec2_tags("internet-gateway", r.get("tags")))[
        "InternetGateway"
    ]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=r.get("vpcId"))
    return gateway_id, {}


def _eip(r: Declared, region: str, account: str) -> Created:
    found = client("ec2", region).allocate_address(
        Domain=r.get("domain", "vpc"), TagSpecifications=_ec2_tags("elastic-ip", r.get("tags"))
    )
    return found["AllocationId"], {"allocationId": found["AllocationId"], "publicIp": found["PublicIp"]}


def _nat_gateway(r: Declared, region: str, account: str) -> Created:
    gateway = client("ec2", region).create_nat_gateway(
        SubnetId=r.get("subnetId"),
        AllocationId=r.get("allocationId"),
        TagSpecifications=_ec2_tags("natgateway", r.get("tags")),
    )["NatGateway"]
    return gateway["NatGatewayId"], {}


def _route_table(r: Declared, region: str, account: str) -> Created:
    ec2 = client("ec2", region)
    table_id = ec2.create_route_table(VpcId=r.get("vpcId"), TagSpecifications=_ec2_tags("route-table", r.get("tags")))[
        "RouteTable"
    ]["RouteTableId"]
    for route in r.get("routes") or []:
        target = {
            api: route[key]
            for key, api in (("gatewayId", "GatewayId"), ("natGatewayId", "NatGatewayId"))
            if key in route
        }
        ec2.create_route(RouteTableId=table_id, DestinationCidrBlock=route["cidrBlock"], **target)
    return table_id, {}


def _route_table_association(r: Declared, region: str, account: str) -> Created:
    found = client("ec2", region).associate_route_table(RouteTableId=r.get("routeTableId"), SubnetId=r.get("subnetId"))
    return found["AssociationId"], {}


GATEWAY_SERVICES = ("s3", "dynamodb")


def _vpc_endpoint(r: Declared, region: str, account: str) -> Created:
    ec2 = client("ec2", region)
    service = r.get("serviceName")
    kind = r.get("vpcEndpointType", "Gateway")
    # Gateway endpoints exist for S3 and DynamoDB of the VPC's own Region only; EC2 refuses another service name
    # (InvalidServiceName), which moto's CreateVpcEndpoint accepts (docs/aws-rules.md, "Running costs").
    if kind == "Gateway" and service not in {f"com.amazonaws.{region}.{name}" for name in GATEWAY_SERVICES}:
        raise ClientError(
            {
                "Error": {
                    "Code": "InvalidServiceName",
                    "Message": f"The Vpc Endpoint Service '{service}' does not exist",
                }
            },
            "CreateVpcEndpoint",
        )
    endpoint = ec2.create_vpc_endpoint(
        VpcId=r.get("vpcId"),
        ServiceName=service,
        VpcEndpointType=kind,
        RouteTableIds=list(r.get("routeTableIds") or []),
        TagSpecifications=_ec2_tags("vpc-endpoint", r.get("tags")),
    )["VpcEndpoint"]
    return endpoint["VpcEndpointId"], {"arn": _arn(region, account, "ec2", f"vpc-endpoint/{endpoint['VpcEndpointId']}")}


def _security_group(r: Declared, region: str, account: str) -> Created:
    ec2 = client("ec2", region)
    group_id = ec2.create_security_group(
        GroupName=r.get("name") or r.physical,
        Description=r.get("description", "Managed by Pulumi"),
        VpcId=r.get("vpcId"),
        TagSpecifications=_ec2_tags("security-group", r.get("tags")),
    )["GroupId"]
    # The provider removes the allow-all egress rule EC2 adds to a new group (pulumi-aws, aws.ec2.SecurityGroup:
    # "Terraform removes the default rule"); the program declares its own.
    ec2.revoke_security_group_egress(
        GroupId=group_id, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    return group_id, {"arn": _arn(region, account, "ec2", f"security-group/{group_id}")}


def _permission(r: Declared) -> dict[str, Any]:
    permission: dict[str, Any] = {"IpProtocol": r.get("ipProtocol")}
    if r.get("ipProtocol") != "-1":
        permission.update(FromPort=r.get("fromPort"), ToPort=r.get("toPort"))
    if r.get("referencedSecurityGroupId"):
        permission["UserIdGroupPairs"] = [
            {"GroupId": r.get("referencedSecurityGroupId"), "Description": r.get("description", "")}
        ]
    if r.get("cidrIpv4"):
        permission["IpRanges"] = [{"CidrIp": r.get("cidrIpv4"), "Description": r.get("description", "")}]
    return permission


def _ingress_rule(r: Declared, region: str, account: str) -> Created:
    rules = client("ec2", region).authorize_security_group_ingress(
        GroupId=r.get("securityGroupId"), IpPermissions=[_permission(r)]
    )["SecurityGroupRules"]
    return rules[0]["SecurityGroupRuleId"], {}


def _egress_rule(r: Declared, region: str, account: str) -> Created:
    rules = client("ec2", region).authorize_security_group_egress(
        GroupId=r.get("securityGroupId"), IpPermissions=[_permission(r)]
    )["SecurityGroupRules"]
    return rules[0]["SecurityGroupRuleId"], {}


def _launch_template(r: Declared, region: str, account: str) -> Created:
    data: dict[str, Any] = {}
    options = r.get("metadataOptions")
    if options:
        data["MetadataOptions"] = {
            api: options[key]
            for key, api in (
                ("httpEndpoint", "HttpEndpoint"),
                ("httpTokens", "HttpTokens"),
                ("httpPutResponseHopLimit", "HttpPutResponseHopLimit"),
            )
            if key in options
        }
    if r.get("userData"):
        data["UserData"] = r.get("userData")
    template = client("ec2", region).create_launch_template(
        LaunchTemplateName=r.get("name") or r.physical,
        LaunchTemplateData=data,
        TagSpecifications=_ec2_tags("launch-template", r.get("tags")),
        **({"VersionDescription": r.get("description")} if r.get("description") else {}),
    )["LaunchTemplate"]
    return template["LaunchTemplateId"], {
        "name": template["LaunchTemplateName"],
        "latestVersion": template["LatestVersionNumber"],
        "defaultVersion": template["DefaultVersionNumber"],
        "arn": _arn(region, account, "ec2", f"launch-template/{template['LaunchTemplateId']}"),
    }


# --- S3 ---


def _bucket(r: Declared, region: str, account: str) -> Created:
    name = r.get("bucket") or r.physical
    s3 = client("s3", region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    if r.get("tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tag_list(r.get("tags"))})
    return name, {"bucket": name, "arn": f"arn:aws:s3:::{name}"}


def _bucket_versioning(r: Declared, region: str, account: str) -> Created:
    status = r.get("versioningConfiguration")["status"]
    client("s3", region).put_bucket_versioning(Bucket=r.get("bucket"), VersioningConfiguration={"Status": status})
    return r.get("bucket"), {}


def _bucket_encryption(r: Declared, region: str, account: str) -> Created:
    rules = [
        {
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"]
            }
        }
        for rule in r.get("rules")
    ]
    client("s3", region).put_bucket_encryption(
        Bucket=r.get("bucket"), ServerSideEncryptionConfiguration={"Rules": rules}
    )
    return r.get("bucket"), {}


def _public_access_block(r: Declared, region: str, account: str) -> Created:
    keys = ("blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets")
    client("s3", region).put_public_access_block(
        Bucket=r.get("bucket"),
        PublicAccessBlockConfiguration={key[0].upper() + key[1:]: bool(r.get(key, False)) for key in keys},
    )
    return r.get("bucket"), {}


def _bucket_lifecycle(r: Declared, region: str, account: str) -> Created:
    rules = []
    for rule in r.get("rules"):
        request: dict[str, Any] = {"ID": rule["id"], "Status": rule["status"]}
        if "filter" in rule:
            request["Filter"] = {"Prefix": (rule["filter"] or {}).get("prefix", "")}
        expiry = rule.get("noncurrentVersionExpiration")
        if expiry:
            if expiry["noncurrentDays"] < 1:  # S3 takes a positive number of days; moto takes any
                raise ClientError(
                    {"Error": {"Code": "InvalidArgument", "Message": "NoncurrentDays must be a positive integer"}},
                    "PutBucketLifecycleConfiguration",
                )
            request["NoncurrentVersionExpiration"] = {"NoncurrentDays": expiry["noncurrentDays"]}
        rules.append(request)
    client("s3", region).put_bucket_lifecycle_configuration(
        Bucket=r.get("bucket"), LifecycleConfiguration={"Rules": rules}
    )
    return r.get("bucket"), {}


def _bucket_policy(r: Declared, region: str, account: str) -> Created:
    client("s3", region).put_bucket_policy(Bucket=r.get("bucket"), Policy=r.get("policy"))
    return r.get("bucket"), {}


# --- ECR, IAM ---


def _repository(r: Declared, region: str, account: str) -> Created:
    name = r.get("name") or r.physical
    found = client("ecr", region).create_repository(
        repositoryName=name,
        imageTagMutability=r.get("imageTagMutability", "MUTABLE"),
        imageScanningConfiguration={"scanOnPush": bool((r.get("imageScanningConfiguration") or {}).get("scanOnPush"))},
        tags=_tag_list(r.get("tags")),
    )["repository"]
    return name, {
        "name": name,
        "arn": found["repositoryArn"],
        "repositoryUrl": found["repositoryUri"],
        "registryId": account,
    }


def _lifecycle_policy(r: Declared, region: str, account: str) -> Created:
    policy = r.get("policy")
    # The typed policy document reaches the provider as an object, which it sends to ECR as JSON text.
    text = policy if isinstance(policy, str) else json.dumps(policy)
    client("ecr", region).put_lifecycle_policy(repositoryName=r.get("repository"), lifecyclePolicyText=text)
    return r.get("repository"), {"registryId": account, "policy": text}


def _role(r: Declared, region: str, account: str) -> Created:
    name = r.get("name") or r.physical
    role = client("iam", region).create_role(
        RoleName=name, AssumeRolePolicyDocument=r.get("assumeRolePolicy"), Tags=_tag_list(r.get("tags"))
    )["Role"]
    return name, {"name": name, "arn": role["Arn"], "uniqueId": role["RoleId"]}


def _role_policy(r: Declared, region: str, account: str) -> Created:
    name = r.get("name") or r.physical
    client("iam", region).put_role_policy(RoleName=r.get("role"), PolicyName=name, PolicyDocument=r.get("policy"))
    return f"{r.get('role')}:{name}", {"name": name}


def _role_policy_attachment(r: Declared, region: str, account: str) -> Created:
    iam = client("iam", region)
    _ensure_aws_managed_policy(r.get("policyArn"), region, account)
    iam.attach_role_policy(RoleName=r.get("role"), PolicyArn=r.get("policyArn"))
    return f"{r.get('role')}-{r.physical}", {}


def _ensure_aws_managed_policy(policy_arn: str, region: str, account: str) -> None:
    """An AWS managed policy exists in every account; moto loads none unless asked (all of them, slowly), so the
    one attached is created from moto's own copy of AWS's managed policies."""
    if not policy_arn.startswith("arn:aws:iam::aws:policy/"):
        return
    from batch_lustre.emulation.aws_managed import ensure_aws_managed_policy

    ensure_aws_managed_policy(policy_arn, region, account)


def _instance_profile(r: Declared, region: str, account: str) -> Created:
    iam = client("iam", region)
    name = r.get("name") or r.physical
    profile = iam.create_instance_profile(InstanceProfileName=name, Tags=_tag_list(r.get("tags")))["InstanceProfile"]
    if r.get("role"):
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=r.get("role"))
    return name, {"name": name, "arn": profile["Arn"]}


# --- Batch ---


_COMPUTE_RESOURCE_KEYS = {
    "type": "type",
    "allocationStrategy": "allocationStrategy",
    "minVcpus": "minvCpus",
    "maxVcpus": "maxvCpus",
    "desiredVcpus": "desiredvCpus",
    "instanceTypes": "instanceTypes",
    "subnets": "subnets",
    "securityGroupIds": "securityGroupIds",
    "instanceRole": "instanceRole",
    "tags": "tags",
}


def _compute_environment(r: Declared, region: str, account: str) -> Created:
    declared = r.get("computeResources") or {}
    resources: dict[str, Any] = {api: declared[key] for key, api in _COMPUTE_RESOURCE_KEYS.items() if key in declared}
    if "launchTemplate" in declared:
        template = declared["launchTemplate"]
        resources["launchTemplate"] = {
            api: template[key]
            for key, api in (
                ("launchTemplateId", "launchTemplateId"),
                ("launchTemplateName", "launchTemplateName"),
                ("version", "version"),
            )
            if key in template
        }
    if "ec2Configurations" in declared:
        resources["ec2Configuration"] = [{"imageType": c["imageType"]} for c in declared["ec2Configurations"]]
    name = r.get("name") or r.physical
    batch = client("batch", region)
    request: dict[str, Any] = {
        "computeEnvironmentName": name,
        "type": r.get("type"),
        "state": r.get("state", "ENABLED"),
        "computeResources": resources,
        "tags": r.get("tags") or {},
    }
    if r.get("serviceRole"):
        request["serviceRole"] = r.get("serviceRole")
    arn = batch.create_compute_environment(**request)["computeEnvironmentArn"]
    # CreateComputeEnvironment has no update policy: the provider sets it with UpdateComputeEnvironment.
    policy = r.get("updatePolicy")
    if policy:
        batch.update_compute_environment(
            computeEnvironment=arn,
            updatePolicy={
                "terminateJobsOnUpdate": bool(policy.get("terminateJobsOnUpdate", False)),
                "jobExecutionTimeoutMinutes": policy["jobExecutionTimeoutMinutes"],
            },
        )
    return arn, {"name": name, "arn": arn}


def _job_queue(r: Declared, region: str, account: str) -> Created:
    name = r.get("name") or r.physical
    arn = client("batch", region).create_job_queue(
        jobQueueName=name,
        state=r.get("state"),
        priority=r.get("priority"),
        computeEnvironmentOrder=[
            {"order": o["order"], "computeEnvironment": o["computeEnvironment"]}
            for o in r.get("computeEnvironmentOrders")
        ],
        tags=r.get("tags") or {},
    )["jobQueueArn"]
    return arn, {"name": name, "arn": arn}


# --- DynamoDB ---


def _table(r: Declared, region: str, account: str) -> Created:
    name = r.get("name") or r.physical
    keys = [("HASH", r.get("hashKey")), ("RANGE", r.get("rangeKey"))]
    request: dict[str, Any] = {
        "TableName": name,
        "BillingMode": r.get("billingMode"),
        "AttributeDefinitions": [{"AttributeName": a["name"], "AttributeType": a["type"]} for a in r.get("attributes")],
        "KeySchema": [{"AttributeName": key, "KeyType": kind} for kind, key in keys if key],
        "DeletionProtectionEnabled": bool(r.get("deletionProtectionEnabled", False)),
    }
    if r.get("tags"):
        request["Tags"] = _tag_list(r.get("tags"))
    arn = client("dynamodb", region).create_table(**request)["TableDescription"]["TableArn"]
    return name, {"name": name, "arn": arn}


# --- Secrets Manager, Lambda, logs, Step Functions, EventBridge ---


def _secret(r: Declared, region: str, account: str) -> Created:
    name = r.get("name") or r.physical
    arn = client("secretsmanager", region).create_secret(
        Name=name, Description=r.get("description", ""), Tags=_tag_list(r.get("tags"))
    )["ARN"]
    return arn, {"name": name, "arn": arn}


def _secret_version(r: Declared, region: str, account: str) -> Created:
    stages = {"VersionStages": r.get("versionStages")} if r.get("versionStages") else {}
    found = client("secretsmanager", region).put_secret_value(
        SecretId=r.get("secretId"), SecretString=r.get("secretString"), **stages
    )
    return f"{found['ARN']}|{found['VersionId']}", {"arn": found["ARN"], "versionId": found["VersionId"]}


def archive_bytes(archive: pulumi.AssetArchive) -> bytes:
    """The zip file the provider uploads for an ``AssetArchive`` of ``FileAsset`` members (paths relative to the
    working directory, as the program gives them)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archived:
        for member, asset in sorted(archive.assets.items()):
            if not isinstance(asset, pulumi.FileAsset):
                raise UnsupportedResource(f"archive member {member!r}: only FileAsset members are emulated")
            archived.writestr(member, Path(str(asset.path)).read_bytes())
    return buffer.getvalue()


def _function(r: Declared, region: str, account: str) -> Created:
    name = r.get("name") or r.physical
    require_trust(r.get("role"), "lambda.amazonaws.com", "lambda", "CreateFunction")
    request: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": r.get("runtime"),
        "Role": r.get("role"),
        "Handler": r.get("handler"),
        "Code": {"ZipFile": archive_bytes(r.get("code"))},
        "Timeout": r.get("timeout", 3),
        "MemorySize": r.get("memorySize", 128),
        "Environment": {"Variables": dict((r.get("environment") or {}).get("variables") or {})},
        "Tags": r.get("tags") or {},
    }
    logging = r.get("loggingConfig")
    if logging:
        request["LoggingConfig"] = {"LogFormat": logging["logFormat"], "LogGroup": logging["logGroup"]}
    if r.get("publish"):
        request["Publish"] = True
    created = client("lambda", region).create_function(**request)
    arn = created["FunctionArn"]
    # The provider reports the version it published (and "$LATEST" without publish) and its qualified ARN.
    version = created["Version"] if r.get("publish") else "$LATEST"
    return name, {
        "name": name,
        "arn": arn,
        "invokeArn": arn,
        "version": version,
        "qualifiedArn": f"{arn}:{version}",
        "qualifiedInvokeArn": f"{arn}:{version}",
    }


def _log_group(r: Declared, region: str, account: str) -> Created:
    name = r.get("name") or r.physical
    logs = client("logs", region)
    logs.create_log_group(logGroupName=name, tags=r.get("tags") or {})
    if r.get("retentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=r.get("retentionInDays"))
    return name, {"name": name, "arn": _arn(region, account, "logs", f"log-group:{name}")}


def _state_machine(r: Declared, region: str, account: str) -> Created:
    name = r.get("name") or r.physical
    require_trust(r.get("roleArn"), "states.amazonaws.com", "stepfunctions", "CreateStateMachine")
    logging = r.get("loggingConfiguration") or {}
    request: dict[str, Any] = {
        "name": name,
        "definition": r.get("definition"),
        "roleArn": r.get("roleArn"),
        "type": r.get("type", "STANDARD"),
        "tags": _tag_list(r.get("tags"), "key", "value"),
    }
    if logging:
        request["loggingConfiguration"] = {
            "level": logging.get("level", "OFF"),
            "includeExecutionData": bool(logging.get("includeExecutionData", False)),
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": logging["logDestination"]}}],
        }
    if r.get("tracingConfiguration") is not None:
        request["tracingConfiguration"] = {"enabled": bool(r.get("tracingConfiguration").get("enabled"))}
    arn = client("stepfunctions", region).create_state_machine(**request)["stateMachineArn"]
    return arn, {"name": name, "arn": arn}


def _event_rule(r: Declared, region: str, account: str) -> Created:
    name = r.get("name") or r.physical
    arn = client("events", region).put_rule(
        Name=name,
        EventPattern=r.get("eventPattern"),
        State=r.get("state", "ENABLED"),
        Description=r.get("description", ""),
        Tags=_tag_list(r.get("tags")),
    )["RuleArn"]
    return name, {"name": name, "arn": arn}


def _event_target(r: Declared, region: str, account: str) -> Created:
    target: dict[str, Any] = {"Id": r.get("targetId") or r.physical, "Arn": r.get("arn")}
    if r.get("roleArn"):
        target["RoleArn"] = r.get("roleArn")
    failed = client("events", region).put_targets(Rule=r.get("rule"), Targets=[target])
    if failed.get("FailedEntryCount"):
        raise UnsupportedResource(f"EventBridge refused target {target['Id']}: {failed['FailedEntries']}")
    return f"{r.get('rule')}-{target['Id']}", {}


def _random_id(r: Declared, region: str, account: str) -> Created:
    return random_id_outputs(r.physical, int(r.get("byteLength")))


CREATORS: Mapping[str, Creator] = {
    RANDOM_ID: _random_id,
    "aws:ec2/vpc:Vpc": _vpc,
    "aws:ec2/subnet:Subnet": _subnet,
    "aws:ec2/internetGateway:InternetGateway": _internet_gateway,
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/natGateway:NatGateway": _nat_gateway,
    "aws:ec2/routeTable:RouteTable": _route_table,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _route_table_association,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:ec2/securityGroup:SecurityGroup": _security_group,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _ingress_rule,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _egress_rule,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketVersioning:BucketVersioning": _bucket_versioning,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _bucket_encryption,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _public_access_block,
    "aws:s3/bucketPolicy:BucketPolicy": _bucket_policy,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _bucket_lifecycle,
    "aws:ecr/repository:Repository": _repository,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": _lifecycle_policy,
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _role_policy_attachment,
    "aws:iam/instanceProfile:InstanceProfile": _instance_profile,
    "aws:batch/computeEnvironment:ComputeEnvironment": _compute_environment,
    "aws:batch/jobQueue:JobQueue": _job_queue,
    "aws:dynamodb/table:Table": _table,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:secretsmanager/secretVersion:SecretVersion": _secret_version,
    "aws:lambda/function:Function": _function,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:sfn/stateMachine:StateMachine": _state_machine,
    "aws:cloudwatch/eventRule:EventRule": _event_rule,
    "aws:cloudwatch/eventTarget:EventTarget": _event_target,
}


def create(resource: Declared, region: str, account: str) -> Created:
    """Create ``resource`` in the emulated AWS; ``UnsupportedResource`` if its type cannot be."""
    creator = CREATORS.get(resource.type)
    if creator is None:
        raise UnsupportedResource(
            f"the emulation cannot create {resource.type} ({resource.name}): add it to "
            "batch_lustre/emulation/deploy_resources.py CREATORS"
        )
    check_name_length(resource)
    return creator(resource, region, account)


# The name limits of the resources whose names derive from envName (parameters.derived_names): moto does not check
# them, AWS refuses a longer name with a ValidationError (botocore models most of these maxima).
_NAME_LIMITS = {row.resource_type: row for row in DERIVED_NAMES}


def check_name_length(resource: Declared) -> None:
    """Refuse, as AWS would, a resource whose name is over its limit (``ClientError`` ValidationError)."""
    row = _NAME_LIMITS.get(resource.type)
    if row is None:
        return
    name = resource.get("bucket" if resource.type == "aws:s3/bucket:Bucket" else "name") or resource.physical
    if len(name) > row.limit:
        message = (
            f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must have "
            f"length less than or equal to {row.limit}"
        )
        raise ClientError({"Error": {"Code": "ValidationError", "Message": message}}, f"Create {row.what}")
