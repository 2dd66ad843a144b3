"""modules/cache.py: Valkey replication group, TLS-only, encrypted, IAM sign-in: no token anywhere."""

from __future__ import annotations

import dataclasses

import pytest

from modules import cdk
from modules.cache import Cache, CacheWiring
from modules.config import CacheSettings

PROD_SETTINGS = CacheSettings(node_type="cache.r7g.large", nodes=2, multi_az=True)
DEV_SETTINGS = CacheSettings(node_type="cache.t4g.small", nodes=1, multi_az=False)
PROD = CacheWiring(
    name="gw-prod",
    vpc_id="vpc-0123",
    subnet_ids=("subnet-a", "subnet-b"),
)
DEV = dataclasses.replace(PROD, name="gw-dev")


def build_cache(settings: CacheSettings, wiring: CacheWiring):
    def build(stack):
        cache = Cache(stack, "cache", settings=settings, wiring=wiring)
        cache.admit("sg-tasks")  # the stack does this once the tasks' group exists
        for attr in (
            "primary_endpoint_address",
            "port",
            "iam_user_name",
            "connect_policy_arn",
            "kms_key_arn",
            "replication_group_id",
            "security_group_id",
        ):
            cdk.TerraformOutput(stack, attr, value=getattr(cache, attr))

    return build


def only(doc: dict, kind: str, block: str = "resource") -> tuple[str, dict]:
    ((name, item),) = doc[block][kind].items()
    return name, item


def ref(kind: str, name: str, attr: str) -> str:
    return f"${{{kind}.{name}.{attr}}}"


@pytest.fixture(scope="module")
def prod_cache(synth_in_stack) -> dict:
    return synth_in_stack(build_cache(PROD_SETTINGS, PROD))


@pytest.fixture(scope="module")
def dev_cache(synth_in_stack) -> dict:
    return synth_in_stack(build_cache(DEV_SETTINGS, DEV))


def group(doc: dict) -> dict:
    return only(doc, "aws_elasticache_replication_group")[1]


def test_group_runs_valkey_7_2_with_cluster_mode_disabled(prod_cache):
    g = group(prod_cache)

    assert (g["engine"], g["engine_version"], g["cluster_mode"]) == ("valkey", "7.2", "disabled")
    assert g["parameter_group_name"] == "default.valkey7"
    assert g["port"] == 6379


def test_node_count_and_type_follow_config(prod_cache, dev_cache):
    assert (group(prod_cache)["num_cache_clusters"], group(prod_cache)["node_type"]) == (2, "cache.r7g.large")
    assert (group(dev_cache)["num_cache_clusters"], group(dev_cache)["node_type"]) == (1, "cache.t4g.small")


def test_multi_az_turns_on_automatic_failover(prod_cache):
    assert group(prod_cache)["multi_az_enabled"] is True
    assert group(prod_cache)["automatic_failover_enabled"] is True


def test_single_node_has_neither_multi_az_nor_failover(dev_cache):
    assert group(dev_cache)["multi_az_enabled"] is False
    assert group(dev_cache)["automatic_failover_enabled"] is False


def test_traffic_must_use_tls(prod_cache):
    assert group(prod_cache)["transit_encryption_enabled"] is True
    assert group(prod_cache)["transit_encryption_mode"] == "required"


def test_data_at_rest_is_encrypted_with_the_caches_rotating_key(prod_cache):
    key_name, key = only(prod_cache, "aws_kms_key")

    assert group(prod_cache)["at_rest_encryption_enabled"] == "true"
    assert group(prod_cache)["kms_key_id"] == ref("aws_kms_key", key_name, "arn")
    assert key["enable_key_rotation"] is True


def users(doc: dict) -> dict[str, dict]:
    return {u["user_name"]: u for u in doc["resource"]["aws_elasticache_user"].values()}


def test_no_token_exists_anywhere_in_the_cache(prod_cache):
    """An AUTH token would sit in state (the provider has no write-only one): none is made or read."""
    assert not {"auth_token", "auth_token_update_strategy"} & set(group(prod_cache))
    assert "aws_secretsmanager_secret" not in prod_cache["resource"]
    assert "aws_secretsmanager_secret_version" not in prod_cache.get("data", {})
    assert "ephemeral" not in prod_cache
    assert all("passwords" not in u for u in users(prod_cache).values())


def test_the_group_admits_only_its_user_group(prod_cache):
    user_group_name, user_group = only(prod_cache, "aws_elasticache_user_group")

    assert group(prod_cache)["user_group_ids"] == [
        ref("aws_elasticache_user_group", user_group_name, "user_group_id")
    ]
    assert user_group["engine"] == "valkey"
    assert len(user_group["user_ids"]) == 2


def test_the_gateway_user_signs_in_with_iam_under_its_own_id(prod_cache):
    gateway = users(prod_cache)["gw-prod-gateway"]

    # IAM authentication requires user id == user name; LiteLLM signs the token for that name.
    assert gateway["user_id"] == gateway["user_name"]
    assert gateway["authentication_mode"] == {"type": "iam"}
    assert gateway["access_string"] == "on ~* +@all"


def test_the_default_user_every_group_needs_can_never_sign_in(prod_cache):
    default = users(prod_cache)["default"]

    assert default["access_string"].split()[0] == "off"
    assert "-@all" in default["access_string"]
    assert default["user_id"] != "default"  # AWS's own default user cannot be replaced in a group by id
    assert default["no_password_required"] is True and "passwords" not in default


def test_the_connect_policy_allows_only_this_group_as_this_user(prod_cache):
    import json

    _, policy = only(prod_cache, "aws_iam_policy")
    (statement,) = json.loads(policy["policy"])["Statement"]
    group_name, _ = only(prod_cache, "aws_elasticache_replication_group")
    user_name = next(
        n for n, u in prod_cache["resource"]["aws_elasticache_user"].items() if u["user_name"] != "default"
    )

    assert (statement["Effect"], statement["Action"]) == ("Allow", "elasticache:Connect")
    assert statement["Resource"] == [
        ref("aws_elasticache_replication_group", group_name, "arn"),
        ref("aws_elasticache_user", user_name, "arn"),
    ]


def test_security_group_admits_only_valkey_from_the_client_group(prod_cache):
    sg_name, sg = only(prod_cache, "aws_security_group")
    _, rule = only(prod_cache, "aws_vpc_security_group_ingress_rule")

    assert "ingress" not in sg
    assert "egress" not in sg
    assert (rule["from_port"], rule["to_port"], rule["ip_protocol"]) == (6379, 6379, "tcp")
    assert rule["referenced_security_group_id"] == "sg-tasks"
    assert "cidr_ipv4" not in rule
    assert group(prod_cache)["security_group_ids"] == [ref("aws_security_group", sg_name, "id")]


def test_nodes_live_in_the_configured_subnets(prod_cache):
    subnet_group_name, subnet_group = only(prod_cache, "aws_elasticache_subnet_group")

    assert subnet_group["subnet_ids"] == ["subnet-a", "subnet-b"]
    assert group(prod_cache)["subnet_group_name"] == ref(
        "aws_elasticache_subnet_group", subnet_group_name, "name"
    )


def test_snapshots_and_maintenance_have_separate_windows_and_a_final_snapshot(prod_cache):
    g = group(prod_cache)

    assert g["snapshot_retention_limit"] == 7
    assert (g["snapshot_window"], g["maintenance_window"]) == ("02:00-03:00", "sun:05:30-sun:06:30")
    assert g["final_snapshot_identifier"] == "gw-prod-final"


def test_slow_log_goes_to_an_encrypted_log_group(prod_cache):
    log_name, log_group = only(prod_cache, "aws_cloudwatch_log_group")
    key_name, _ = only(prod_cache, "aws_kms_key")

    assert log_group["kms_key_id"] == ref("aws_kms_key", key_name, "arn")
    assert group(prod_cache)["log_delivery_configuration"] == [
        {
            "destination": ref("aws_cloudwatch_log_group", log_name, "name"),
            "destination_type": "cloudwatch-logs",
            "log_format": "json",
            "log_type": "slow-log",
        }
    ]


def test_slow_log_can_be_turned_off(synth_in_stack):
    doc = synth_in_stack(build_cache(DEV_SETTINGS, dataclasses.replace(DEV, enable_slow_log=False)))

    assert "log_delivery_configuration" not in group(doc)
    assert "aws_cloudwatch_log_group" not in doc["resource"]


def test_attributes_point_at_the_group_its_user_and_the_connect_policy(prod_cache):
    outputs = {name: out["value"] for name, out in prod_cache["output"].items()}
    group_name, _ = only(prod_cache, "aws_elasticache_replication_group")
    policy_name, _ = only(prod_cache, "aws_iam_policy")
    user_name = next(
        n for n, u in prod_cache["resource"]["aws_elasticache_user"].items() if u["user_name"] != "default"
    )

    assert outputs["primary_endpoint_address"] == ref(
        "aws_elasticache_replication_group", group_name, "primary_endpoint_address"
    )
    assert outputs["port"] == 6379
    assert outputs["iam_user_name"] == ref("aws_elasticache_user", user_name, "user_name")
    assert outputs["connect_policy_arn"] == ref("aws_iam_policy", policy_name, "arn")
    assert outputs["replication_group_id"] == ref("aws_elasticache_replication_group", group_name, "id")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "x" * 33}, "name"),  # <name>-gateway would exceed a user id's 40 characters
        ({"snapshot_retention_days": 0}, "final_snapshot"),
        ({"log_retention_days": 31}, "log_retention_days"),
    ],
)
def test_settings_elasticache_would_reject_are_refused_at_synth(change, field):
    stack = cdk.TerraformStack(cdk.Testing.app(), "test")

    with pytest.raises(ValueError, match=f"CacheWiring.{field}"):
        Cache(stack, "cache", settings=DEV_SETTINGS, wiring=dataclasses.replace(DEV, **change))
