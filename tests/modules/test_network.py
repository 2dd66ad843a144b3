"""modules/network.py: endpoints for AWS APIs, NAT per config, closed defaults, flow logs."""

from __future__ import annotations

import ipaddress
import json

import pytest

from modules.config import NetworkSettings
from modules.network import INTERFACE_ENDPOINTS, Network, NetworkWiring, subnet_cidrs
from modules.shared import LogDestination

KEY = "arn:aws:kms:us-east-1:111111111111:key/test"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


def wiring(**changes) -> NetworkWiring:
    base = dict(
        name="gw-test",
        region="us-east-1",
        account_id="111111111111",
        logs=LogDestination(kms_key_arn=KEY, retention_days=30),
    )
    return NetworkWiring(**{**base, **changes})


def settings(**changes) -> NetworkSettings:
    """The network section of an environment file (validated like one)."""
    base = dict(vpc_cidr="10.20.0.0/16", az_count=2, nat_gateways="single")
    return NetworkSettings(**{**base, **changes})


@pytest.fixture(scope="module")
def single(synth_in_stack) -> dict:
    return synth_in_stack(lambda stack: Network(stack, "network", settings=settings(), wiring=wiring()))


@pytest.fixture(scope="module")
def per_az(synth_in_stack) -> dict:
    return synth_in_stack(
        lambda stack: Network(
            stack,
            "network",
            settings=settings(az_count=3, availability_zones=ZONES, nat_gateways="per_az"),
            wiring=wiring(),
        )
    )


def sg_id(doc: dict, name: str) -> str:
    (key,) = [k for k, v in doc["resource"]["aws_security_group"].items() if v["name"] == name]
    return f"${{aws_security_group.{key}.id}}"


def rules(doc: dict, kind: str, group: str) -> list[dict]:
    return [r for r in doc["resource"].get(kind, {}).values() if r["security_group_id"] == group]


def test_single_nat_gateway_serves_every_private_subnet(single, of_type) -> None:
    assert len(of_type(single, "aws_nat_gateway")) == 1
    private_routes = [r for r in of_type(single, "aws_route") if "nat_gateway_id" in r]
    assert len(private_routes) == 2 and len({r["nat_gateway_id"] for r in private_routes}) == 1


def test_one_nat_gateway_per_az_when_configured(per_az, of_type) -> None:
    assert len(of_type(per_az, "aws_nat_gateway")) == 3 and len(of_type(per_az, "aws_eip")) == 3
    private_routes = [r for r in of_type(per_az, "aws_route") if "nat_gateway_id" in r]
    assert len({r["nat_gateway_id"] for r in private_routes}) == 3


def test_subnets_are_spread_over_the_azs_and_inside_the_vpc(per_az, of_type) -> None:
    subnets = of_type(per_az, "aws_subnet")
    assert len(subnets) == 6
    vpc = ipaddress.ip_network("10.20.0.0/16")
    nets = [ipaddress.ip_network(s["cidr_block"]) for s in subnets]
    assert all(n.subnet_of(vpc) for n in nets)
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    assert sorted(s["availability_zone"] for s in subnets) == sorted(ZONES * 2)
    assert "data" not in per_az, "zones are pinned by name, never looked up (a lookup can shift)"


def test_subnet_ranges_leave_room_for_more_azs() -> None:
    public, private = subnet_cidrs("10.20.0.0/16", 2)
    assert public == ["10.20.0.0/20", "10.20.16.0/20"] and private == ["10.20.128.0/20", "10.20.144.0/20"]


def test_no_subnet_hands_out_public_ips(single, of_type) -> None:
    public = [s for s in of_type(single, "aws_subnet") if s["tags"]["tier"] == "public"]
    assert len(public) == 2 and all(s["map_public_ip_on_launch"] is False for s in public)
    assert not any(s.get("map_public_ip_on_launch") for s in of_type(single, "aws_subnet"))


def test_default_security_group_is_closed(single, of_type) -> None:
    (default,) = of_type(single, "aws_default_security_group")
    assert default["ingress"] == [] and default["egress"] == []


def test_interface_endpoints_for_every_aws_api_the_tasks_use(single, of_type) -> None:
    endpoints = of_type(single, "aws_vpc_endpoint")
    interface = {e["service_name"] for e in endpoints if e["vpc_endpoint_type"] == "Interface"}
    assert interface == {f"com.amazonaws.us-east-1.{s}" for s in INTERFACE_ENDPOINTS}
    assert {"bedrock-runtime", "secretsmanager", "ecr.api", "ecr.dkr", "logs"} == set(INTERFACE_ENDPOINTS)
    assert all(e["private_dns_enabled"] for e in endpoints if e["vpc_endpoint_type"] == "Interface")
    (s3,) = [e for e in endpoints if e["vpc_endpoint_type"] == "Gateway"]
    assert s3["service_name"] == "com.amazonaws.us-east-1.s3" and len(s3["route_table_ids"]) == 2


def test_endpoints_accept_only_https_from_the_vpc(single) -> None:
    group = sg_id(single, "gw-test-endpoints")
    (ingress,) = rules(single, "aws_vpc_security_group_ingress_rule", group)
    assert (ingress["from_port"], ingress["to_port"], ingress["cidr_ipv4"]) == (443, 443, "10.20.0.0/16")
    assert rules(single, "aws_vpc_security_group_egress_rule", group) == []


def test_network_makes_no_app_tier_security_group(single, of_type) -> None:
    # The ALB's and the tasks' groups are made by Edge and the service (test_edge.py, test_service.py).
    assert [g["name"] for g in of_type(single, "aws_security_group")] == ["gw-test-endpoints"]


def test_flow_logs_capture_all_traffic_into_an_encrypted_group(single, of_type) -> None:
    (flow,) = of_type(single, "aws_flow_log")
    assert flow["traffic_type"] == "ALL"
    (group,) = [g for g in of_type(single, "aws_cloudwatch_log_group") if "flow" in g["name"]]
    assert group["kms_key_id"] == KEY and group["retention_in_days"] == 30


def test_flow_log_role_is_scoped_to_its_log_group_and_account(single, of_type) -> None:
    (role,) = of_type(single, "aws_iam_role")
    trust = json.loads(role["assume_role_policy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "111111111111"}}
    (statement,) = json.loads(of_type(single, "aws_iam_role_policy")[0]["policy"])["Statement"]
    assert "*" not in json.dumps(statement["Resource"]).replace(":*", "")
    assert all("aws_cloudwatch_log_group.network_flow-log-group" in r for r in statement["Resource"])
