"""ElastiCache behaviour moto 5.2.5 lacks, as methods for its backend.

- A replication group owns member cache clusters (`<group>-001`, …): moto lists
  their ids but never creates them, so the provider's read of
  `aws_elasticache_replication_group` fails with CacheClusterNotFound.
- Deleting a replication group or a cache cluster leaves it in `deleting`
  forever, so Terraform's wait for it to disappear never ends. Real ElastiCache
  removes it after a while; here it goes at once.
- DeleteCacheSubnetGroup does not exist.
- With cluster mode disabled, moto ignores NumCacheClusters (always one node
  unless ReplicasPerNodeGroup is given), so a two-node group drifts on every plan.
"""

from __future__ import annotations

from typing import Any

from moto.elasticache.exceptions import CacheSubnetGroupNotFound, ReplicationGroupNotFound
from moto.elasticache.models import CacheCluster, ElastiCacheBackend, ReplicationGroup

from .exceptions import CacheSubnetGroupInUse

_ORIGINAL = {
    "create_replication_group": ElastiCacheBackend.create_replication_group,
    "delete_replication_group": ElastiCacheBackend.delete_replication_group,
    "delete_cache_cluster": ElastiCacheBackend.delete_cache_cluster,
}


def _member_cluster(
    backend: ElastiCacheBackend, group: ReplicationGroup, cluster_id: str, az: str
) -> CacheCluster:
    """A member node inheriting the group's settings, as ElastiCache reports it."""
    cluster = CacheCluster(
        account_id=backend.account_id,
        region_name=backend.region_name,
        cache_cluster_id=cluster_id,
        cache_node_type=group.cache_node_type,
        replication_group_id=group.replication_group_id,
        az_mode="single-az",
        preferred_availability_zone=az,
        num_cache_nodes=1,
        engine=group.engine,
        engine_version=group.engine_version,
        cache_parameter_group_name=group.cache_parameter_group_name,
        cache_subnet_group_name=group.cache_subnet_group_name,
        transit_encryption_enabled=group.transit_encryption_enabled,
        network_type=group.network_type,
        ip_discovery=group.ip_discovery,
        snapshot_name=None,
        preferred_maintenance_window=group.preferred_maintenance_window,
        port=group.port,
        notification_topic_arn=group.notification_topic_arn,
        auto_minor_version_upgrade=group.auto_minor_version_upgrade,
        snapshot_retention_limit=group.snapshot_retention_limit,
        snapshot_window=group.snapshot_window,
        auth_token=None,
        outpost_mode=None,
        preferred_outpost_arn=None,
        preferred_availability_zones=None,
        cache_security_group_names=group.cache_security_group_names,
        security_group_ids=group.security_group_ids,
        tags=None,
        snapshot_arns=None,
        preferred_outpost_arns=None,
        log_delivery_configurations=[],
        cache_node_ids_to_remove=None,
        cache_node_ids_to_reboot=None,
    )
    # moto sets these only for engine "redis"; Valkey members carry them too.
    cluster.replication_group_id = group.replication_group_id
    cluster.num_cache_nodes = 1
    # Attributes ElastiCache reports on members but moto's CacheCluster does not model.
    cluster.auth_token_enabled = group.auth_token_enabled
    cluster.at_rest_encryption_enabled = group.at_rest_encryption_enabled
    cluster.transit_encryption_mode = group.transit_encryption_mode
    cluster.security_groups = [
        {"SecurityGroupId": sg, "Status": "active"} for sg in group.security_group_ids or []
    ]
    if group.cache_parameter_group_name:
        cluster.cache_parameter_group = {
            "CacheParameterGroupName": group.cache_parameter_group_name,
            "ParameterApplyStatus": "in-sync",
        }
    return cluster


def _add_missing_replicas(group: ReplicationGroup, wanted: int, azs: list[str]) -> None:
    """Grow a cluster-mode-disabled group to NumCacheClusters nodes, named as moto names the first."""
    node_group = group.node_groups[0]
    domain = node_group["primary_endpoint_address"].removeprefix("master.")
    for index in range(len(group.member_clusters), wanted):
        cluster_id = f"{group.replication_group_id}-{index + 1:0>3}"
        node_group["node_group_members"].append(
            {
                "cache_cluster_id": cluster_id,
                "cache_node_id": node_group["node_group_id"],
                "read_endpoint": {"address": f"{cluster_id}.{domain}", "port": group.port},
                "preferred_availability_zone": azs[index % len(azs)] if azs else "us-east-1b",
                "current_role": "replica",
            }
        )
        group.member_clusters.append(cluster_id)


def create_replication_group(self: ElastiCacheBackend, **kwargs: Any) -> ReplicationGroup:
    group = _ORIGINAL["create_replication_group"](self, **kwargs)
    if group.cluster_mode != "enabled" and kwargs.get("num_cache_clusters"):
        _add_missing_replicas(
            group, kwargs["num_cache_clusters"], kwargs.get("preferred_cache_cluster_azs") or []
        )
    for node_group in group.node_groups:
        for member in node_group["node_group_members"]:
            cluster_id = member["cache_cluster_id"]
            az = member.get("preferred_availability_zone") or f"{self.region_name}a"
            self.cache_clusters[cluster_id] = _member_cluster(self, group, cluster_id, az)
    return group


def delete_replication_group(
    self: ElastiCacheBackend, replication_group_id: str, retain_primary_cluster: bool | None
) -> ReplicationGroup:
    """Answer `deleting` (as AWS does) but remove the group and its members right away."""
    if replication_group_id not in self.replication_groups:
        raise ReplicationGroupNotFound(replication_group_id)
    group = self.replication_groups[replication_group_id]
    members = list(group.member_clusters)
    primary = members[0] if members else None
    _ORIGINAL["delete_replication_group"](self, replication_group_id, retain_primary_cluster)
    for cluster_id in members:
        if retain_primary_cluster and cluster_id == primary:
            self.cache_clusters[cluster_id].replication_group_id = None
            continue
        self.cache_clusters.pop(cluster_id, None)
    del self.replication_groups[replication_group_id]
    self.tagging_service.delete_all_tags_for_resource(group.arn)
    return group


def delete_cache_cluster(self: ElastiCacheBackend, cache_cluster_id: str) -> CacheCluster:
    cluster = _ORIGINAL["delete_cache_cluster"](self, cache_cluster_id)
    del self.cache_clusters[cache_cluster_id]
    self.tagging_service.delete_all_tags_for_resource(cluster.arn)
    return cluster


def delete_cache_subnet_group(self: ElastiCacheBackend, cache_subnet_group_name: str) -> None:
    """Refused while a cluster or replication group still uses the subnet group, as in AWS."""
    if cache_subnet_group_name not in self.cache_subnet_groups:
        raise CacheSubnetGroupNotFound(cache_subnet_group_name)
    users = [
        name
        for name, user in [*self.cache_clusters.items(), *self.replication_groups.items()]
        if user.cache_subnet_group_name == cache_subnet_group_name
    ]
    if users:
        raise CacheSubnetGroupInUse(cache_subnet_group_name, users)
    group = self.cache_subnet_groups.pop(cache_subnet_group_name)
    self.tagging_service.delete_all_tags_for_resource(group.arn)


BACKEND_METHODS = {
    "create_replication_group": create_replication_group,
    "delete_replication_group": delete_replication_group,
    "delete_cache_cluster": delete_cache_cluster,
    "delete_cache_subnet_group": delete_cache_subnet_group,
}
