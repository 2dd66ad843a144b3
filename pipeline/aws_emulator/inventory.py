"""What exists in the emulator, service by service, to prove a destroy left nothing behind.

The inventory is compared with one taken before the apply, so what moto
creates on its own (the default VPC, AWS-managed IAM policies, the ElastiCache
`default` user…) never counts as a leftover. Resources AWS keeps for a while
after deletion (KMS keys pending deletion, secrets in their recovery window)
count as gone, as they do for Terraform.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ClientFactory = Callable[[str], Any]
Inventory = dict[str, set[str]]


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterable[dict[str, Any]]:
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
    else:
        yield from getattr(client, operation)(**kwargs).get(key, [])


def _not_deleted(item: dict[str, Any]) -> bool:
    return item["State"].lower() not in ("deleted", "deleting")


def _not_named(prefix: str, field: str) -> Callable[[dict[str, Any]], bool]:
    return lambda item: not item[field].startswith(prefix)


@dataclass(frozen=True)
class Listing:
    """One kind, `client:kind`: the list call, the key its items are under and the field naming each.

    The kind's prefix is the boto3 client; `keep` leaves out what moto or AWS owns, or what
    is already on its way out.
    """

    kind: str
    operation: str
    key: str
    id_field: str | None  # None: the items are the ids
    params: Mapping[str, Any] = field(default_factory=dict)
    keep: Callable[[dict[str, Any]], bool] = lambda item: True

    def ids(self, client: ClientFactory) -> set[str]:
        items = _pages(client(self.kind.split(":")[0]), self.operation, self.key, **self.params)
        return {item if self.id_field is None else item[self.id_field] for item in items if self.keep(item)}


_LIVE_PREFIX_LISTS = {"Filters": [{"Name": "state", "Values": ["pending", "available", "active"]}]}
_ECS_SCALING = {"ServiceNamespace": "ecs"}
_REGIONAL = {"Scope": "REGIONAL"}

LISTINGS = (
    Listing("ec2:vpc", "describe_vpcs", "Vpcs", "VpcId"),
    Listing("ec2:subnet", "describe_subnets", "Subnets", "SubnetId"),
    Listing("ec2:security-group", "describe_security_groups", "SecurityGroups", "GroupId"),
    Listing("ec2:route-table", "describe_route_tables", "RouteTables", "RouteTableId"),
    Listing("ec2:internet-gateway", "describe_internet_gateways", "InternetGateways", "InternetGatewayId"),
    Listing("ec2:nat-gateway", "describe_nat_gateways", "NatGateways", "NatGatewayId", keep=_not_deleted),
    Listing("ec2:vpc-endpoint", "describe_vpc_endpoints", "VpcEndpoints", "VpcEndpointId", keep=_not_deleted),
    Listing("ec2:flow-log", "describe_flow_logs", "FlowLogs", "FlowLogId"),
    Listing("ec2:network-acl", "describe_network_acls", "NetworkAcls", "NetworkAclId"),
    Listing(
        "ec2:network-interface", "describe_network_interfaces", "NetworkInterfaces", "NetworkInterfaceId"
    ),
    Listing(
        "ec2:prefix-list-live",
        "describe_managed_prefix_lists",
        "PrefixLists",
        "PrefixListId",
        _LIVE_PREFIX_LISTS,
        lambda p: p.get("OwnerId") != "AWS",
    ),
    Listing("ecs:task-definition", "list_task_definitions", "taskDefinitionArns", None, {"status": "ACTIVE"}),
    Listing("elbv2:load-balancer", "describe_load_balancers", "LoadBalancers", "LoadBalancerArn"),
    Listing("elbv2:target-group", "describe_target_groups", "TargetGroups", "TargetGroupArn"),
    Listing("ecr:repository", "describe_repositories", "repositories", "repositoryArn"),
    Listing("rds:cluster", "describe_db_clusters", "DBClusters", "DBClusterIdentifier"),
    Listing("rds:instance", "describe_db_instances", "DBInstances", "DBInstanceIdentifier"),
    Listing("rds:subnet-group", "describe_db_subnet_groups", "DBSubnetGroups", "DBSubnetGroupName"),
    Listing(
        "rds:cluster-parameter-group",
        "describe_db_cluster_parameter_groups",
        "DBClusterParameterGroups",
        "DBClusterParameterGroupName",
        keep=_not_named("default.", "DBClusterParameterGroupName"),
    ),
    Listing(
        "rds:parameter-group",
        "describe_db_parameter_groups",
        "DBParameterGroups",
        "DBParameterGroupName",
        keep=_not_named("default.", "DBParameterGroupName"),
    ),
    Listing(
        "elasticache:replication-group",
        "describe_replication_groups",
        "ReplicationGroups",
        "ReplicationGroupId",
    ),
    Listing("elasticache:cache-cluster", "describe_cache_clusters", "CacheClusters", "CacheClusterId"),
    Listing(
        "elasticache:subnet-group",
        "describe_cache_subnet_groups",
        "CacheSubnetGroups",
        "CacheSubnetGroupName",
    ),
    Listing("iam:role", "list_roles", "Roles", "RoleName"),
    Listing("iam:policy", "list_policies", "Policies", "Arn", {"Scope": "Local"}),
    Listing("kms:alias", "list_aliases", "Aliases", "AliasName", keep=_not_named("alias/aws/", "AliasName")),
    Listing(
        "secretsmanager:secret", "list_secrets", "SecretList", "ARN", keep=lambda s: "DeletedDate" not in s
    ),
    Listing("wafv2:web-acl", "list_web_acls", "WebACLs", "ARN", _REGIONAL),
    Listing("wafv2:ip-set", "list_ip_sets", "IPSets", "ARN", _REGIONAL),
    Listing(
        "wafv2:logging-configuration",
        "list_logging_configurations",
        "LoggingConfigurations",
        "ResourceArn",
        _REGIONAL,
    ),
    Listing("logs:log-group", "describe_log_groups", "logGroups", "logGroupName"),
    Listing("cloudwatch:alarm", "describe_alarms", "MetricAlarms", "AlarmName"),
    Listing("cloudwatch:dashboard", "list_dashboards", "DashboardEntries", "DashboardName"),
    Listing("sns:topic", "list_topics", "Topics", "TopicArn"),
    Listing(
        "application-autoscaling:target",
        "describe_scalable_targets",
        "ScalableTargets",
        "ResourceId",
        _ECS_SCALING,
    ),
    Listing(
        "application-autoscaling:policy",
        "describe_scaling_policies",
        "ScalingPolicies",
        "PolicyName",
        _ECS_SCALING,
    ),
    Listing("bedrock:guardrail", "list_guardrails", "guardrails", "arn"),
    Listing("s3:bucket", "list_buckets", "Buckets", "Name"),
)


def _ecs(client: ClientFactory) -> Inventory:
    """Clusters and services: listed as ARNs, described to leave out the inactive ones."""
    ecs = client("ecs")
    clusters = [
        c
        for c in ecs.describe_clusters(clusters=list(_pages(ecs, "list_clusters", "clusterArns")))["clusters"]
        if c["status"] == "ACTIVE"
    ]
    services = {
        s["serviceArn"]
        for c in clusters
        for arns in [list(_pages(ecs, "list_services", "serviceArns", cluster=c["clusterArn"]))]
        if arns
        for s in ecs.describe_services(cluster=c["clusterArn"], services=arns)["services"]
        if s["status"] != "INACTIVE"
    }
    return {"ecs:cluster": {c["clusterArn"] for c in clusters}, "ecs:service": services}


def _elastic_ips(client: ClientFactory) -> Inventory:
    """An address without an allocation (EC2-Classic style) is named by its IP."""
    addresses = client("ec2").describe_addresses()["Addresses"]
    return {"ec2:elastic-ip": {a.get("AllocationId", a.get("PublicIp")) for a in addresses}}


def _kms_keys(client: ClientFactory) -> Inventory:
    """Customer keys not pending deletion (a destroyed key waits out its window, as in AWS)."""
    kms = client("kms")
    live_keys = set()
    for key in _pages(kms, "list_keys", "Keys"):
        meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        if meta.get("KeyManager") != "AWS" and meta["KeyState"] not in (
            "PendingDeletion",
            "PendingReplicaDeletion",
        ):
            live_keys.add(meta["Arn"])
    return {"kms:key": live_keys}


DESCRIBED = (_ecs, _elastic_ips, _kms_keys)


def take(client: ClientFactory) -> Inventory:
    """Every listed resource, keyed `service:kind`."""
    client = functools.cache(client)  # one client a service, however many kinds it lists
    found: Inventory = {listing.kind: listing.ids(client) for listing in LISTINGS}
    for described in DESCRIBED:
        found.update(described(client))
    return found


def leftovers(before: Inventory, after: Inventory) -> dict[str, set[str]]:
    """What exists now that did not exist before, per kind (empty: a clean destroy)."""
    return {
        kind: ids - before.get(kind, set()) for kind, ids in after.items() if ids - before.get(kind, set())
    }


def count(inventory: Inventory) -> int:
    return sum(len(ids) for ids in inventory.values())
