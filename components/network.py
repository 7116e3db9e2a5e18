"""The VPC the compute environment and the per-run Lustre file systems live in."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import pulumi
import pulumi_aws as aws

from batch_lustre.program.components import Tags, named

AZ_COUNT = 2
VPC_CIDR = "10.0.0.0/16"
# Public subnets only hold the NAT gateway; private subnets hold the Batch instances
# and the file systems' network interfaces, so they get the room.
PUBLIC_SUBNET_CIDRS = ("10.0.0.0/24", "10.0.1.0/24")
PRIVATE_SUBNET_CIDRS = ("10.0.16.0/20", "10.0.32.0/20")


@dataclass
class NetworkArgs:
    """Inputs of :class:`Network`."""

    label: str = ""  # what each Name tag starts with (envName in lower case); the component's name when empty
    tags: Tags = field(default_factory=dict)


class Network(pulumi.ComponentResource):
    """A VPC over two availability zones: a public and a private subnet in each, an
    internet gateway, one NAT gateway (with its Elastic IP) in the first public subnet,
    the route tables that send private traffic through the NAT gateway, and an S3 gateway
    endpoint on the private route table: the hosts' S3 traffic (ECR image layers, which ECR
    stores in S3, and whatever the jobs read or write in S3) goes to S3 directly, without the
    NAT gateway's per-GB processing charge; a gateway endpoint has no charge of its own
    (docs/aws-rules.md, "VPC endpoints").

    Outputs: ``vpc_id``, ``private_subnet_ids``, ``public_subnet_ids``, ``s3_endpoint_id``.
    """

    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]
    s3_endpoint_id: pulumi.Output[str]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("batchlustre:index:Network", name, None, opts)
        self._name = name
        self._label = args.label or name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)

        zones = self._availability_zones()
        self.vpc = self._create_vpc()
        self.internet_gateway = self._create_internet_gateway()
        self.public_subnets = [
            self._create_subnet("public", i, zones[i], PUBLIC_SUBNET_CIDRS[i], public=True) for i in range(AZ_COUNT)
        ]
        self.private_subnets = [
            self._create_subnet("private", i, zones[i], PRIVATE_SUBNET_CIDRS[i], public=False) for i in range(AZ_COUNT)
        ]
        self.nat_gateway = self._create_nat_gateway(self.public_subnets[0])
        self._create_public_routes()
        self.private_route_table = self._create_private_routes()
        self.s3_endpoint = self._create_s3_gateway_endpoint()

        self.vpc_id = self.vpc.id
        self.s3_endpoint_id = self.s3_endpoint.id
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in self.public_subnets])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in self.private_subnets])
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "s3_endpoint_id": self.s3_endpoint_id,
            }
        )

    def _tags(self, suffix: str) -> dict[str, pulumi.Input[str]]:
        return named(self._args.tags, f"{self._label}-{suffix}")

    def _availability_zones(self) -> list[pulumi.Output[str]]:
        # Only zones of the region itself (no Local Zones, which need opting in).
        zones = aws.get_availability_zones_output(
            state="available",
            filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        return [zones.names.apply(partial(_zone, index=i)) for i in range(AZ_COUNT)]

    def _create_vpc(self) -> aws.ec2.Vpc:
        return aws.ec2.Vpc(
            f"{self._name}-vpc",
            cidr_block=VPC_CIDR,
            # The file systems' DNS names must resolve inside the VPC.
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=self._tags("vpc"),
            opts=self._child,
        )

    def _create_internet_gateway(self) -> aws.ec2.InternetGateway:
        return aws.ec2.InternetGateway(
            f"{self._name}-igw", vpc_id=self.vpc.id, tags=self._tags("igw"), opts=self._child
        )

    def _create_subnet(
        self, kind: str, index: int, zone: pulumi.Input[str], cidr: str, *, public: bool
    ) -> aws.ec2.Subnet:
        return aws.ec2.Subnet(
            f"{self._name}-{kind}-{index}",
            vpc_id=self.vpc.id,
            cidr_block=cidr,
            availability_zone=zone,
            map_public_ip_on_launch=public,
            tags=self._tags(f"{kind}-{index}"),
            opts=self._child,
        )

    def _create_nat_gateway(self, subnet: aws.ec2.Subnet) -> aws.ec2.NatGateway:
        eip = aws.ec2.Eip(f"{self._name}-nat-eip", domain="vpc", tags=self._tags("nat-eip"), opts=self._child)
        return aws.ec2.NatGateway(
            f"{self._name}-nat",
            allocation_id=eip.id,
            subnet_id=subnet.id,
            tags=self._tags("nat"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.internet_gateway]),
        )

    def _create_public_routes(self) -> None:
        table = aws.ec2.RouteTable(
            f"{self._name}-public-rt",
            vpc_id=self.vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=self.internet_gateway.id)],
            tags=self._tags("public-rt"),
            opts=self._child,
        )
        for i, subnet in enumerate(self.public_subnets):
            aws.ec2.RouteTableAssociation(
                f"{self._name}-public-rta-{i}", route_table_id=table.id, subnet_id=subnet.id, opts=self._child
            )

    def _create_private_routes(self) -> aws.ec2.RouteTable:
        table = aws.ec2.RouteTable(
            f"{self._name}-private-rt",
            vpc_id=self.vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=self.nat_gateway.id)],
            tags=self._tags("private-rt"),
            opts=self._child,
        )
        for i, subnet in enumerate(self.private_subnets):
            aws.ec2.RouteTableAssociation(
                f"{self._name}-private-rta-{i}", route_table_id=table.id, subnet_id=subnet.id, opts=self._child
            )
        return table

    def _create_s3_gateway_endpoint(self) -> aws.ec2.VpcEndpoint:
        # The endpoint adds its route (the S3 prefix list) to the table; the route table's inline routes leave a
        # gateway endpoint's route alone (docs/aws-rules.md, "VPC endpoints").
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self))
        return aws.ec2.VpcEndpoint(
            f"{self._name}-s3-endpoint",
            vpc_id=self.vpc.id,
            service_name=region.region.apply(s3_service_name),
            vpc_endpoint_type="Gateway",
            route_table_ids=[self.private_route_table.id],
            tags=self._tags("s3-endpoint"),
            opts=self._child,
        )


def s3_service_name(region: str) -> str:
    """The S3 gateway endpoint's service name in ``region``."""
    return f"com.amazonaws.{region}.s3"


def _zone(names: list[str], index: int) -> str:
    if len(names) < AZ_COUNT:
        raise ValueError(f"the region has {len(names)} availability zones; this stack needs {AZ_COUNT}")
    return names[index]
