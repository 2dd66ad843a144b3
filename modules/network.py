"""Network: the VPC, its subnets and routes, private AWS endpoints and flow logs.

Tasks reach Bedrock, Secrets Manager, ECR, CloudWatch Logs and S3 through VPC
endpoints, so model traffic and secrets never cross the internet; the NAT
gateway(s) remain only for what has no endpoint (e.g. a SaaS trace collector).
"""

from __future__ import annotations

import dataclasses
import ipaddress

from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.eip import Eip
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.internet_gateway import InternetGateway
from cdktf_cdktf_provider_aws.nat_gateway import NatGateway
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc
from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint
from constructs import Construct

from modules.config import NetworkSettings
from modules.shared import LogDestination, allow_from_cidr, policy_document, security_group, service_role

# Interface endpoints the tasks need: model calls, secrets, image pulls, logs.
INTERFACE_ENDPOINTS = ("bedrock-runtime", "secretsmanager", "ecr.api", "ecr.dkr", "logs")


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetworkWiring:
    """What the Network construct takes besides its settings (NetworkSettings)."""

    name: str  # prefix of resource names
    region: str  # for endpoint service names and the default zone names
    account_id: str  # scopes the flow-log role's trust
    logs: LogDestination  # key and retention of the flow-log group


def subnet_cidrs(vpc_cidr: str, az_count: int) -> tuple[list[str], list[str]]:
    """Public and private subnet ranges: the VPC cut in 16, public from the start, private from the middle."""
    blocks = list(ipaddress.ip_network(vpc_cidr).subnets(prefixlen_diff=4))
    return [str(b) for b in blocks[:az_count]], [str(b) for b in blocks[8 : 8 + az_count]]


class Network(Construct):
    """VPC over the given AZs with public/private subnets, NAT, endpoints and flow logs.

    The ALB's and the tasks' security groups are made by Edge and the service, which own them;
    their Terraform addresses stay under this construct (network/alb-sg, network/service-sg),
    where they were first made, so that moving the code replaced no group.
    """

    def __init__(
        self, scope: Construct, id: str, *, settings: NetworkSettings, wiring: NetworkWiring
    ) -> None:
        super().__init__(scope, id)
        config = wiring
        name = config.name
        zones = settings.zone_names(wiring.region)
        self.vpc_cidr: str = settings.vpc_cidr
        self.vpc = Vpc(
            self,
            "vpc",
            cidr_block=settings.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,  # private DNS of the interface endpoints needs both
            tags={"Name": name},
        )
        # Closing the default security group: nothing may fall back on its allow-all rules.
        DefaultSecurityGroup(self, "default-sg", vpc_id=self.vpc.id, ingress=[], egress=[])

        public_cidrs, private_cidrs = subnet_cidrs(settings.vpc_cidr, len(zones))
        igw = InternetGateway(self, "igw", vpc_id=self.vpc.id, tags={"Name": name})
        public_rt = RouteTable(self, "public-rt", vpc_id=self.vpc.id, tags={"Name": f"{name}-public"})
        Route(
            self,
            "public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
        )

        public, private, private_rts, nats = [], [], [], []
        nat_count = len(zones) if settings.nat_gateways == "per_az" else 1
        for i, az in enumerate(zones):
            # Only the ALB and NAT live in a public subnet, with their own addresses.
            subnet = self._subnet(name, "public", i, az, public_cidrs[i], map_public_ip_on_launch=False)
            RouteTableAssociation(self, f"public-{i}-rt", subnet_id=subnet.id, route_table_id=public_rt.id)
            public.append(subnet)
            if i < nat_count:
                eip = Eip(self, f"nat-{i}-ip", domain="vpc", tags={"Name": f"{name}-nat-{i}"})
                nats.append(
                    NatGateway(
                        self,
                        f"nat-{i}",
                        allocation_id=eip.id,
                        subnet_id=subnet.id,
                        tags={"Name": f"{name}-nat-{i}"},
                        depends_on=[igw],
                    )
                )
        for i, az in enumerate(zones):
            subnet = self._subnet(name, "private", i, az, private_cidrs[i])
            rt = RouteTable(self, f"private-{i}-rt", vpc_id=self.vpc.id, tags={"Name": f"{name}-private-{i}"})
            Route(
                self,
                f"private-{i}-default",
                route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nats[i % nat_count].id,
            )
            RouteTableAssociation(self, f"private-{i}-rt-assoc", subnet_id=subnet.id, route_table_id=rt.id)
            private.append(subnet)
            private_rts.append(rt)
        self.nat_gateway_count = nat_count

        self._endpoints(config, private, private_rts)
        self._flow_logs(config)

        # ------------------------------------------------------------ outputs
        self.vpc_id: str = self.vpc.id
        self.public_subnet_ids: list[str] = [s.id for s in public]
        self.private_subnet_ids: list[str] = [s.id for s in private]

    def _endpoints(self, config: NetworkWiring, private: list[Subnet], private_rts: list[RouteTable]) -> None:
        sg = security_group(
            self,
            "endpoints-sg",
            name=f"{config.name}-endpoints",
            description="VPC interface endpoints: HTTPS from inside the VPC only",
            vpc_id=self.vpc.id,
        )
        allow_from_cidr(
            self,
            "endpoints-in-443",
            group_id=sg.id,
            cidr=self.vpc_cidr,
            port=443,
            description="HTTPS from the VPC",
        )
        self.endpoint_security_group_id: str = sg.id
        for service in INTERFACE_ENDPOINTS:
            VpcEndpoint(
                self,
                f"endpoint-{service.replace('.', '-')}",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{config.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in private],
                security_group_ids=[sg.id],
                tags={"Name": f"{config.name}-{service}"},
            )
        # ECR image layers come from S3: a free gateway endpoint keeps them off the NAT.
        VpcEndpoint(
            self,
            "endpoint-s3",
            vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{config.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_rts],
            tags={"Name": f"{config.name}-s3"},
        )

    def _subnet(self, name: str, tier: str, i: int, zone: str, cidr: str, **options: bool) -> Subnet:
        """Subnet `i` of a tier ("public" or "private"): its id, Name and `tier` tag say which."""
        return Subnet(
            self,
            f"{tier}-{i}",
            vpc_id=self.vpc.id,
            cidr_block=cidr,
            availability_zone=zone,
            tags={"Name": f"{name}-{tier}-{i}", "tier": tier},
            **options,
        )

    def _flow_logs(self, config: NetworkWiring) -> None:
        group = config.logs.group(self, "flow-log-group", f"/aws/vpc-flow-logs/{config.name}")
        role = service_role(
            self,
            "flow-log-role",
            name=f"{config.name}-vpc-flow-logs",
            service="vpc-flow-logs.amazonaws.com",
            account_id=config.account_id,
        )
        IamRolePolicy(
            self,
            "flow-log-policy",
            role=role.id,
            name="write-flow-logs",
            policy=policy_document(
                {
                    "Effect": "Allow",
                    "Action": [
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                    ],
                    "Resource": [group.arn, f"{group.arn}:*"],
                }
            ),
        )
        FlowLog(
            self,
            "flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
        )
        self.flow_log_group_name: str = group.name
