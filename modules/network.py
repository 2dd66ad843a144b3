"""Network: the VPC, its subnets and routes, private AWS endpoints, flow logs, app-tier security groups.

Tasks reach Bedrock, Secrets Manager, ECR, CloudWatch Logs and S3 through VPC
endpoints, so model traffic and secrets never cross the internet; the NAT
gateway(s) remain only for what has no endpoint (e.g. a SaaS trace collector).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.eip import Eip
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.internet_gateway import InternetGateway
from cdktf_cdktf_provider_aws.nat_gateway import NatGateway
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc
from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

# Interface endpoints the tasks need: model calls, secrets, image pulls, logs.
INTERFACE_ENDPOINTS = ("bedrock-runtime", "secretsmanager", "ecr.api", "ecr.dkr", "logs")
POSTGRES_PORT = 5432
REDIS_PORT = 6379


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    """Inputs of the Network construct."""

    name: str  # prefix of resource names
    region: str  # for endpoint service names
    account_id: str  # scopes the flow-log role's trust
    vpc_cidr: str  # VPC IPv4 range
    availability_zones: tuple[str, ...]  # AZ names, pinned (one public and one private subnet each)
    nat_gateways: str  # "single" or "per_az"
    allowed_client_cidrs: tuple[str, ...]  # networks allowed to reach the ALB
    https: bool  # open 443 on the ALB (a certificate is configured)
    container_port: int  # port the service listens on
    log_kms_key_arn: str  # KMS key for the flow-log group (allows CloudWatch Logs)
    log_retention_days: int  # flow-log retention


def subnet_cidrs(vpc_cidr: str, az_count: int) -> tuple[list[str], list[str]]:
    """Public and private subnet ranges: the VPC cut in 16, public from the start, private from the middle."""
    blocks = list(ipaddress.ip_network(vpc_cidr).subnets(prefixlen_diff=4))
    return [str(b) for b in blocks[:az_count]], [str(b) for b in blocks[8 : 8 + az_count]]


class Network(Construct):
    """VPC over the given AZs with public/private subnets, NAT, endpoints, flow logs and app-tier SGs."""

    def __init__(self, scope: Construct, id: str, *, config: NetworkConfig) -> None:
        super().__init__(scope, id)
        name = config.name
        self.vpc = Vpc(
            self,
            "vpc",
            cidr_block=config.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,  # private DNS of the interface endpoints needs both
            tags={"Name": name},
        )
        # Closing the default security group: nothing may fall back on its allow-all rules.
        DefaultSecurityGroup(self, "default-sg", vpc_id=self.vpc.id, ingress=[], egress=[])

        public_cidrs, private_cidrs = subnet_cidrs(config.vpc_cidr, len(config.availability_zones))
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
        zones = config.availability_zones
        nat_count = len(zones) if config.nat_gateways == "per_az" else 1
        for i, az in enumerate(zones):
            subnet = Subnet(
                self,
                f"public-{i}",
                vpc_id=self.vpc.id,
                cidr_block=public_cidrs[i],
                availability_zone=az,
                map_public_ip_on_launch=False,  # only the ALB and NAT live here, with their own addresses
                tags={"Name": f"{name}-public-{i}", "tier": "public"},
            )
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
            subnet = Subnet(
                self,
                f"private-{i}",
                vpc_id=self.vpc.id,
                cidr_block=private_cidrs[i],
                availability_zone=az,
                tags={"Name": f"{name}-private-{i}", "tier": "private"},
            )
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
        self._app_security_groups(config)

        # ------------------------------------------------------------ outputs
        self.vpc_id: str = self.vpc.id
        self.vpc_cidr: str = config.vpc_cidr
        self.public_subnet_ids: list[str] = [s.id for s in public]
        self.private_subnet_ids: list[str] = [s.id for s in private]

    def _endpoints(self, config: NetworkConfig, private: list[Subnet], private_rts: list[RouteTable]) -> None:
        sg = SecurityGroup(
            self,
            "endpoints-sg",
            name=f"{config.name}-endpoints",
            description="VPC interface endpoints: HTTPS from inside the VPC only",
            vpc_id=self.vpc.id,
            tags={"Name": f"{config.name}-endpoints"},
        )
        VpcSecurityGroupIngressRule(
            self,
            "endpoints-in-443",
            security_group_id=sg.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4=config.vpc_cidr,
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

    def _flow_logs(self, config: NetworkConfig) -> None:
        group = CloudwatchLogGroup(
            self,
            "flow-log-group",
            name=f"/aws/vpc-flow-logs/{config.name}",
            retention_in_days=config.log_retention_days,
            kms_key_id=config.log_kms_key_arn,
        )
        role = IamRole(
            self,
            "flow-log-role",
            name=f"{config.name}-vpc-flow-logs",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            "Condition": {"StringEquals": {"aws:SourceAccount": config.account_id}},
                        }
                    ],
                }
            ),
        )
        IamRolePolicy(
            self,
            "flow-log-policy",
            role=role.id,
            name="write-flow-logs",
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "logs:CreateLogStream",
                                "logs:PutLogEvents",
                                "logs:DescribeLogStreams",
                            ],
                            "Resource": [group.arn, f"{group.arn}:*"],
                        }
                    ],
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

    def _app_security_groups(self, config: NetworkConfig) -> None:
        alb = SecurityGroup(
            self,
            "alb-sg",
            name=f"{config.name}-alb",
            description="Gateway ALB: HTTP(S) from the allowed client networks",
            vpc_id=self.vpc.id,
            tags={"Name": f"{config.name}-alb"},
        )
        service = SecurityGroup(
            self,
            "service-sg",
            name=f"{config.name}-service",
            description="Gateway tasks: the container port from the ALB only",
            vpc_id=self.vpc.id,
            tags={"Name": f"{config.name}-service"},
        )
        ports = (80, 443) if config.https else (80,)
        for i, cidr in enumerate(config.allowed_client_cidrs):
            for port in ports:
                VpcSecurityGroupIngressRule(
                    self,
                    f"alb-in-{port}-{i}",
                    security_group_id=alb.id,
                    ip_protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_ipv4=cidr,
                    description=f"clients {cidr}",
                )
        VpcSecurityGroupEgressRule(
            self,
            "alb-out-service",
            security_group_id=alb.id,
            ip_protocol="tcp",
            from_port=config.container_port,
            to_port=config.container_port,
            referenced_security_group_id=service.id,
            description="to the gateway tasks",
        )
        VpcSecurityGroupIngressRule(
            self,
            "service-in-alb",
            security_group_id=service.id,
            ip_protocol="tcp",
            from_port=config.container_port,
            to_port=config.container_port,
            referenced_security_group_id=alb.id,
            description="from the ALB",
        )
        # 443 leaves through the VPC endpoints or, for what has none (the trace collector), the NAT.
        VpcSecurityGroupEgressRule(
            self,
            "service-out-https",
            security_group_id=service.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4="0.0.0.0/0",
            description="AWS APIs via endpoints, trace collector via NAT",
        )
        for port, what in ((POSTGRES_PORT, "Aurora"), (REDIS_PORT, "Valkey")):
            VpcSecurityGroupEgressRule(
                self,
                f"service-out-{port}",
                security_group_id=service.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4=config.vpc_cidr,
                description=f"{what} inside the VPC",
            )
        self.alb_security_group_id: str = alb.id
        self.service_security_group_id: str = service.id


def clients_only_security_group(
    scope: Construct,
    *,
    name: str,
    description: str,
    vpc_id: str,
    port: int,
    client_security_group_id: str,
    rule_description: str,
) -> SecurityGroup:
    """A data-tier group: `port` in from the gateway tasks' group only, and no egress at all.

    Terraform removes AWS's default allow-all egress, and a database or cache initiates nothing.
    The construct ids ("sg", "ingress_from_clients") are part of resource addresses that
    waivers name: keep them.
    """
    group = SecurityGroup(scope, "sg", name=name, description=description, vpc_id=vpc_id)
    VpcSecurityGroupIngressRule(
        scope,
        "ingress_from_clients",
        security_group_id=group.id,
        referenced_security_group_id=client_security_group_id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        description=rule_description,
    )
    return group
