"""What exists in the emulator, service by service, to prove a destroy left nothing behind.

The inventory is compared with one taken before the apply, so what moto
creates on its own (the default VPC, AWS-managed IAM policies, the ElastiCache
`default` user…) never counts as a leftover. Resources AWS keeps for a while
after deletion (KMS keys pending deletion, secrets in their recovery window)
count as gone, as they do for Terraform.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

ClientFactory = Callable[[str], Any]
Inventory = dict[str, set[str]]


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterable[dict[str, Any]]:
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
    else:
        yield from getattr(client, operation)(**kwargs).get(key, [])


def _ec2(client: ClientFactory) -> Inventory:
    ec2 = client("ec2")
    live = {"Name": "state", "Values": ["pending", "available", "active"]}
    return {
        "ec2:vpc": {v["VpcId"] for v in _pages(ec2, "describe_vpcs", "Vpcs")},
        "ec2:subnet": {s["SubnetId"] for s in _pages(ec2, "describe_subnets", "Subnets")},
        "ec2:security-group": {
            g["GroupId"] for g in _pages(ec2, "describe_security_groups", "SecurityGroups")
        },
        "ec2:route-table": {r["RouteTableId"] for r in _pages(ec2, "describe_route_tables", "RouteTables")},
        "ec2:internet-gateway": {
            g["InternetGatewayId"] for g in _pages(ec2, "describe_internet_gateways", "InternetGateways")
        },
        "ec2:nat-gateway": {
            g["NatGatewayId"]
            for g in _pages(ec2, "describe_nat_gateways", "NatGateways")
            if g["State"] not in ("deleted", "deleting")
        },
        "ec2:elastic-ip": {
            a.get("AllocationId", a.get("PublicIp")) for a in ec2.describe_addresses()["Addresses"]
        },
        "ec2:vpc-endpoint": {
            e["VpcEndpointId"]
            for e in _pages(ec2, "describe_vpc_endpoints", "VpcEndpoints")
            if e["State"].lower() not in ("deleted", "deleting")
        },
        "ec2:flow-log": {f["FlowLogId"] for f in _pages(ec2, "describe_flow_logs", "FlowLogs")},
        "ec2:network-acl": {n["NetworkAclId"] for n in _pages(ec2, "describe_network_acls", "NetworkAcls")},
        "ec2:network-interface": {
            n["NetworkInterfaceId"] for n in _pages(ec2, "describe_network_interfaces", "NetworkInterfaces")
        },
        "ec2:prefix-list-live": {
            p["PrefixListId"]
            for p in _pages(ec2, "describe_managed_prefix_lists", "PrefixLists", Filters=[live])
            if p.get("OwnerId") != "AWS"
        },
    }


def _compute(client: ClientFactory) -> Inventory:
    ecs, elbv2, ecr = client("ecs"), client("elbv2"), client("ecr")
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
    return {
        "ecs:cluster": {c["clusterArn"] for c in clusters},
        "ecs:service": services,
        "ecs:task-definition": set(
            _pages(ecs, "list_task_definitions", "taskDefinitionArns", status="ACTIVE")
        ),
        "elbv2:load-balancer": {
            lb["LoadBalancerArn"] for lb in _pages(elbv2, "describe_load_balancers", "LoadBalancers")
        },
        "elbv2:target-group": {
            t["TargetGroupArn"] for t in _pages(elbv2, "describe_target_groups", "TargetGroups")
        },
        "ecr:repository": {r["repositoryArn"] for r in _pages(ecr, "describe_repositories", "repositories")},
    }


def _data(client: ClientFactory) -> Inventory:
    rds, cache = client("rds"), client("elasticache")
    return {
        "rds:cluster": {c["DBClusterIdentifier"] for c in _pages(rds, "describe_db_clusters", "DBClusters")},
        "rds:instance": {
            i["DBInstanceIdentifier"] for i in _pages(rds, "describe_db_instances", "DBInstances")
        },
        "rds:subnet-group": {
            g["DBSubnetGroupName"] for g in _pages(rds, "describe_db_subnet_groups", "DBSubnetGroups")
        },
        "rds:cluster-parameter-group": {
            g["DBClusterParameterGroupName"]
            for g in _pages(rds, "describe_db_cluster_parameter_groups", "DBClusterParameterGroups")
            if not g["DBClusterParameterGroupName"].startswith("default.")
        },
        "rds:parameter-group": {
            g["DBParameterGroupName"]
            for g in _pages(rds, "describe_db_parameter_groups", "DBParameterGroups")
            if not g["DBParameterGroupName"].startswith("default.")
        },
        "elasticache:replication-group": {
            g["ReplicationGroupId"] for g in _pages(cache, "describe_replication_groups", "ReplicationGroups")
        },
        "elasticache:cache-cluster": {
            c["CacheClusterId"] for c in _pages(cache, "describe_cache_clusters", "CacheClusters")
        },
        "elasticache:subnet-group": {
            g["CacheSubnetGroupName"]
            for g in _pages(cache, "describe_cache_subnet_groups", "CacheSubnetGroups")
        },
    }


def _security(client: ClientFactory) -> Inventory:
    iam, kms, secrets, waf = client("iam"), client("kms"), client("secretsmanager"), client("wafv2")
    live_keys = set()
    for key in _pages(kms, "list_keys", "Keys"):
        meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        if meta.get("KeyManager") != "AWS" and meta["KeyState"] not in (
            "PendingDeletion",
            "PendingReplicaDeletion",
        ):
            live_keys.add(meta["Arn"])
    return {
        "iam:role": {r["RoleName"] for r in _pages(iam, "list_roles", "Roles")},
        "iam:policy": {p["Arn"] for p in _pages(iam, "list_policies", "Policies", Scope="Local")},
        "kms:key": live_keys,
        "kms:alias": {
            a["AliasName"]
            for a in _pages(kms, "list_aliases", "Aliases")
            if not a["AliasName"].startswith("alias/aws/")
        },
        "secretsmanager:secret": {
            s["ARN"] for s in _pages(secrets, "list_secrets", "SecretList") if "DeletedDate" not in s
        },
        "wafv2:web-acl": {a["ARN"] for a in waf.list_web_acls(Scope="REGIONAL")["WebACLs"]},
        "wafv2:ip-set": {s["ARN"] for s in waf.list_ip_sets(Scope="REGIONAL")["IPSets"]},
        "wafv2:logging-configuration": {
            c["ResourceArn"]
            for c in waf.list_logging_configurations(Scope="REGIONAL").get("LoggingConfigurations", [])
        },
    }


def _operations(client: ClientFactory) -> Inventory:
    logs, cloudwatch, sns = client("logs"), client("cloudwatch"), client("sns")
    scaling, bedrock, s3 = client("application-autoscaling"), client("bedrock"), client("s3")
    return {
        "logs:log-group": {g["logGroupName"] for g in _pages(logs, "describe_log_groups", "logGroups")},
        "cloudwatch:alarm": {a["AlarmName"] for a in _pages(cloudwatch, "describe_alarms", "MetricAlarms")},
        "cloudwatch:dashboard": {
            d["DashboardName"] for d in _pages(cloudwatch, "list_dashboards", "DashboardEntries")
        },
        "sns:topic": {t["TopicArn"] for t in _pages(sns, "list_topics", "Topics")},
        "application-autoscaling:target": {
            t["ResourceId"]
            for t in _pages(scaling, "describe_scalable_targets", "ScalableTargets", ServiceNamespace="ecs")
        },
        "application-autoscaling:policy": {
            p["PolicyName"]
            for p in _pages(scaling, "describe_scaling_policies", "ScalingPolicies", ServiceNamespace="ecs")
        },
        "bedrock:guardrail": {g["arn"] for g in bedrock.list_guardrails()["guardrails"]},
        "s3:bucket": {b["Name"] for b in s3.list_buckets().get("Buckets", [])},
    }


SERVICES = (_ec2, _compute, _data, _security, _operations)


def take(client: ClientFactory) -> Inventory:
    """Every listed resource, keyed `service:kind`."""
    found: Inventory = {}
    for service in SERVICES:
        found.update(service(client))
    return found


def leftovers(before: Inventory, after: Inventory) -> dict[str, set[str]]:
    """What exists now that did not exist before, per kind (empty: a clean destroy)."""
    return {
        kind: ids - before.get(kind, set()) for kind, ids in after.items() if ids - before.get(kind, set())
    }


def count(inventory: Inventory) -> int:
    return sum(len(ids) for ids in inventory.values())
