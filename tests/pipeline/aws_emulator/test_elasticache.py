"""ElastiCache behaviour added to moto: member clusters, deletions that finish, subnet group deletion."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


def _network(emulator):
    ec2 = emulator.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    emulator.client("elasticache").create_cache_subnet_group(
        CacheSubnetGroupName="cache", CacheSubnetGroupDescription="cache", SubnetIds=[subnet]
    )


def _group(emulator, clusters=2):
    _network(emulator)
    return emulator.client("elasticache").create_replication_group(
        ReplicationGroupId="gw",
        ReplicationGroupDescription="gateway cache",
        Engine="valkey",
        CacheNodeType="cache.t4g.small",
        NumCacheClusters=clusters,
        CacheSubnetGroupName="cache",
        TransitEncryptionEnabled=True,
        AtRestEncryptionEnabled=True,
        AuthToken="a-long-enough-auth-token-for-redis",
    )["ReplicationGroup"]


def test_a_replication_group_creates_its_member_clusters(emulator):
    members = _group(emulator, clusters=2)["MemberClusters"]
    described = emulator.client("elasticache").describe_cache_clusters()["CacheClusters"]
    assert members == ["gw-001", "gw-002"]
    assert sorted(c["CacheClusterId"] for c in described) == members


def test_member_clusters_are_available_and_inherit_the_group_settings(emulator):
    _group(emulator)
    member = emulator.client("elasticache").describe_cache_clusters(CacheClusterId="gw-001")["CacheClusters"][
        0
    ]
    assert member["CacheClusterStatus"] == "available"
    assert member["ReplicationGroupId"] == "gw"
    assert (member["Engine"], member["CacheNodeType"]) == ("valkey", "cache.t4g.small")
    assert member["TransitEncryptionEnabled"] is True
    assert member["AtRestEncryptionEnabled"] is True
    assert member["AuthTokenEnabled"] is True


def test_a_deleted_replication_group_and_its_members_are_gone(emulator):
    _group(emulator)
    elasticache = emulator.client("elasticache")
    assert (
        elasticache.delete_replication_group(ReplicationGroupId="gw")["ReplicationGroup"]["Status"]
        == "deleting"
    )
    with pytest.raises(ClientError) as error:
        elasticache.describe_replication_groups(ReplicationGroupId="gw")
    assert error.value.response["Error"]["Code"] == "ReplicationGroupNotFoundFault"
    assert elasticache.describe_cache_clusters()["CacheClusters"] == []


def test_retaining_the_primary_keeps_it_as_a_standalone_cluster(emulator):
    _group(emulator)
    elasticache = emulator.client("elasticache")
    elasticache.delete_replication_group(ReplicationGroupId="gw", RetainPrimaryCluster=True)
    remaining = elasticache.describe_cache_clusters()["CacheClusters"]
    assert [c["CacheClusterId"] for c in remaining] == ["gw-001"]
    assert "ReplicationGroupId" not in remaining[0]


def test_a_deleted_cache_cluster_is_gone(emulator):
    elasticache = emulator.client("elasticache")
    elasticache.create_cache_cluster(CacheClusterId="solo", CacheNodeType="cache.t4g.small", Engine="redis")
    elasticache.delete_cache_cluster(CacheClusterId="solo")
    assert elasticache.describe_cache_clusters()["CacheClusters"] == []


def test_an_unused_subnet_group_can_be_deleted(emulator):
    _network(emulator)
    elasticache = emulator.client("elasticache")
    elasticache.delete_cache_subnet_group(CacheSubnetGroupName="cache")
    assert elasticache.describe_cache_subnet_groups()["CacheSubnetGroups"] == []


def test_a_subnet_group_in_use_cannot_be_deleted(emulator):
    _group(emulator)
    with pytest.raises(ClientError) as error:
        emulator.client("elasticache").delete_cache_subnet_group(CacheSubnetGroupName="cache")
    assert error.value.response["Error"]["Code"] == "CacheSubnetGroupInUse"


def test_deleting_an_unknown_subnet_group_is_not_found(emulator):
    with pytest.raises(ClientError) as error:
        emulator.client("elasticache").delete_cache_subnet_group(CacheSubnetGroupName="nope")
    assert error.value.response["Error"]["Code"] == "CacheSubnetGroupNotFoundFault"


def _users(emulator):
    elasticache = emulator.client("elasticache")
    elasticache.create_user(
        UserId="gw-default",
        UserName="default",
        Engine="valkey",
        AccessString="off -@all",
        NoPasswordRequired=True,
    )
    elasticache.create_user(
        UserId="gw-gateway",
        UserName="gw-gateway",
        Engine="valkey",
        AccessString="on ~* +@all",
        AuthenticationMode={"Type": "iam"},
    )
    return elasticache


def test_a_user_group_holds_its_users_and_is_active(emulator):
    elasticache = _users(emulator)
    created = elasticache.create_user_group(
        UserGroupId="gw", Engine="valkey", UserIds=["gw-default", "gw-gateway"]
    )
    (described,) = elasticache.describe_user_groups(UserGroupId="gw")["UserGroups"]
    assert created["Status"] == described["Status"] == "active"
    assert described["UserIds"] == ["gw-default", "gw-gateway"]
    assert described["ARN"].endswith(":usergroup:gw")
    assert elasticache.describe_users(UserId="gw-gateway")["Users"][0]["UserGroupIds"] == ["gw"]


def test_a_user_group_without_a_default_user_is_refused(emulator):
    elasticache = _users(emulator)
    with pytest.raises(ClientError) as error:
        elasticache.create_user_group(UserGroupId="gw", Engine="valkey", UserIds=["gw-gateway"])
    assert error.value.response["Error"]["Code"] == "DefaultUserRequired"


def test_a_replication_group_takes_the_user_group_and_keeps_it_until_deleted(emulator):
    elasticache = _users(emulator)
    elasticache.create_user_group(UserGroupId="gw", Engine="valkey", UserIds=["gw-default", "gw-gateway"])
    _network(emulator)
    group = elasticache.create_replication_group(
        ReplicationGroupId="gw",
        ReplicationGroupDescription="gateway cache",
        Engine="valkey",
        CacheNodeType="cache.t4g.small",
        NumCacheClusters=1,
        CacheSubnetGroupName="cache",
        TransitEncryptionEnabled=True,
        UserGroupIds=["gw"],
    )["ReplicationGroup"]
    assert group["UserGroupIds"] == ["gw"]
    with pytest.raises(ClientError) as error:
        elasticache.delete_user_group(UserGroupId="gw")
    assert error.value.response["Error"]["Code"] == "InvalidUserGroupState"
    elasticache.delete_replication_group(ReplicationGroupId="gw")
    elasticache.delete_user_group(UserGroupId="gw")
    with pytest.raises(ClientError) as error:
        elasticache.describe_user_groups(UserGroupId="gw")
    assert error.value.response["Error"]["Code"] == "UserGroupNotFound"


def test_a_user_groups_tags_can_be_listed(emulator):
    elasticache = _users(emulator)
    arn = elasticache.create_user_group(
        UserGroupId="gw",
        Engine="valkey",
        UserIds=["gw-default", "gw-gateway"],
        Tags=[{"Key": "env", "Value": "dev"}],
    )["ARN"]
    assert elasticache.list_tags_for_resource(ResourceName=arn)["TagList"] == [{"Key": "env", "Value": "dev"}]
