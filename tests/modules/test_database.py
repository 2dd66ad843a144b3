"""modules/database.py: Aurora PostgreSQL Serverless v2, encrypted, private, password never in state."""

from __future__ import annotations

import dataclasses
import json

import pytest
from cdktf_cdktf_provider_aws.data_aws_subnets import DataAwsSubnets

from modules import cdk
from modules.config import DatabaseSettings
from modules.database import Database, DatabaseWiring

PROD_SETTINGS = DatabaseSettings(
    min_acu=0.5,
    max_acu=8,
    instances=2,
    backup_retention_days=14,
    deletion_protection=True,
    skip_final_snapshot=False,
)
PROD = DatabaseWiring(
    name="gw-prod",
    vpc_id="vpc-0123",
    subnet_ids=("subnet-a", "subnet-b", "subnet-c"),
    availability_zones=("us-east-1a", "us-east-1b"),
    # enhanced_monitoring_interval left at its default: on, every 60 s.
)
DEV_SETTINGS = PROD_SETTINGS.model_copy(
    update=dict(max_acu=2.0, instances=1, deletion_protection=False, skip_final_snapshot=True)
)
DEV = dataclasses.replace(PROD, name="gw-dev", availability_zones=(), enhanced_monitoring_interval=0)


def build_database(settings: DatabaseSettings, wiring: DatabaseWiring):
    def build(stack):
        db = Database(stack, "database", settings=settings, wiring=wiring)
        db.admit("sg-tasks")  # the stack does this once the tasks' group exists
        for attr in (
            "cluster_endpoint",
            "port",
            "database_name",
            "master_user_secret_arn",
            "kms_key_arn",
            "cluster_identifier",
            "security_group_id",
        ):
            cdk.TerraformOutput(stack, attr, value=getattr(db, attr))

    return build


def only(doc: dict, kind: str) -> tuple[str, dict]:
    ((name, item),) = doc["resource"][kind].items()
    return name, item


def ref(kind: str, name: str, attr: str) -> str:
    return f"${{{kind}.{name}.{attr}}}"


@pytest.fixture(scope="module")
def prod_db(synth_in_stack) -> dict:
    return synth_in_stack(build_database(PROD_SETTINGS, PROD))


@pytest.fixture(scope="module")
def dev_db(synth_in_stack) -> dict:
    return synth_in_stack(build_database(DEV_SETTINGS, DEV))


def cluster(doc: dict) -> dict:
    return only(doc, "aws_rds_cluster")[1]


def test_cluster_is_aurora_postgresql_serverless_v2_with_configured_capacity(prod_db):
    c = cluster(prod_db)

    assert (c["engine"], c["engine_mode"]) == ("aurora-postgresql", "provisioned")
    assert c["engine_version"].startswith("16.")
    assert c["serverlessv2_scaling_configuration"] == {"min_capacity": 0.5, "max_capacity": 8}


def test_storage_is_encrypted_with_the_databases_own_rotating_key(prod_db):
    key_name, key = only(prod_db, "aws_kms_key")

    assert cluster(prod_db)["storage_encrypted"] is True
    assert cluster(prod_db)["kms_key_id"] == ref("aws_kms_key", key_name, "arn")
    assert key["enable_key_rotation"] is True


def test_master_password_is_managed_by_rds_and_never_an_argument(prod_db):
    key_name, _ = only(prod_db, "aws_kms_key")
    c = cluster(prod_db)
    text = json.dumps(prod_db)

    assert c["manage_master_user_password"] is True
    assert c["master_user_secret_kms_key_id"] == ref("aws_kms_key", key_name, "arn")
    assert "master_password" not in text
    assert "password_wo" not in text


def test_master_user_secret_arn_is_the_clusters_managed_secret(prod_db):
    cluster_name, _ = only(prod_db, "aws_rds_cluster")

    assert prod_db["output"]["master_user_secret_arn"]["value"] == (
        f"${{aws_rds_cluster.{cluster_name}.master_user_secret[0].secret_arn}}"
    )


def test_iam_authentication_is_enabled(prod_db):
    assert cluster(prod_db)["iam_database_authentication_enabled"] is True


def test_backups_follow_config_in_their_window_and_snapshots_copy_tags(prod_db):
    c = cluster(prod_db)

    assert c["backup_retention_period"] == 14
    assert c["preferred_backup_window"] == "03:00-04:00"
    assert c["preferred_maintenance_window"] == "sun:04:30-sun:05:30"
    assert c["copy_tags_to_snapshot"] is True


def test_production_keeps_deletion_protection_and_a_final_snapshot(prod_db):
    c = cluster(prod_db)

    assert c["deletion_protection"] is True
    assert c["skip_final_snapshot"] is False
    assert c["final_snapshot_identifier"] == "gw-prod-final"


def test_disposable_environment_turns_both_off_as_configured(dev_db):
    c = cluster(dev_db)

    assert c["deletion_protection"] is False
    assert c["skip_final_snapshot"] is True
    assert "final_snapshot_identifier" not in c


def test_instances_are_private_serverless_and_spread_over_the_zones(prod_db):
    instances = sorted(
        prod_db["resource"]["aws_rds_cluster_instance"].values(), key=lambda i: i["identifier"]
    )

    assert [i["identifier"] for i in instances] == ["gw-prod-1", "gw-prod-2"]
    assert {i["instance_class"] for i in instances} == {"db.serverless"}
    assert [i["availability_zone"] for i in instances] == ["us-east-1a", "us-east-1b"]
    assert all(
        i["publicly_accessible"] is False and i["auto_minor_version_upgrade"] is True for i in instances
    )


def test_single_instance_lets_rds_pick_the_zone(dev_db):
    (instance,) = dev_db["resource"]["aws_rds_cluster_instance"].values()

    assert "availability_zone" not in instance


def test_performance_insights_are_encrypted_with_the_database_key(prod_db):
    key_name, _ = only(prod_db, "aws_kms_key")

    for instance in prod_db["resource"]["aws_rds_cluster_instance"].values():
        assert instance["performance_insights_enabled"] is True
        assert instance["performance_insights_kms_key_id"] == ref("aws_kms_key", key_name, "arn")


def test_security_group_admits_only_postgres_from_the_client_group(prod_db):
    sg_name, sg = only(prod_db, "aws_security_group")
    _, rule = only(prod_db, "aws_vpc_security_group_ingress_rule")

    assert "ingress" not in sg
    assert "egress" not in sg
    assert rule["security_group_id"] == ref("aws_security_group", sg_name, "id")
    assert (rule["from_port"], rule["to_port"], rule["ip_protocol"]) == (5432, 5432, "tcp")
    assert rule["referenced_security_group_id"] == "sg-tasks"
    assert "cidr_ipv4" not in rule
    assert cluster(prod_db)["vpc_security_group_ids"] == [ref("aws_security_group", sg_name, "id")]


def test_parameter_group_forces_tls_for_the_engine_family(prod_db):
    group_name, group = only(prod_db, "aws_rds_cluster_parameter_group")

    assert group["family"] == "aurora-postgresql16"
    assert {"name": "rds.force_ssl", "value": "1"} in group["parameter"]
    assert cluster(prod_db)["db_cluster_parameter_group_name"] == ref(
        "aws_rds_cluster_parameter_group", group_name, "name"
    )


def test_parameter_group_logs_schema_changes_and_slow_queries_but_not_every_statement(prod_db):
    _, group = only(prod_db, "aws_rds_cluster_parameter_group")
    parameters = {p["name"]: p["value"] for p in group["parameter"]}

    assert parameters["log_statement"] == "ddl"
    assert int(parameters["log_min_duration_statement"]) > 0


def test_postgresql_logs_go_to_a_precreated_encrypted_log_group(prod_db):
    group_name, group = only(prod_db, "aws_cloudwatch_log_group")
    key_name, _ = only(prod_db, "aws_kms_key")
    c = cluster(prod_db)

    assert c["enabled_cloudwatch_logs_exports"] == ["postgresql"]
    assert group["name"] == "/aws/rds/cluster/gw-prod/postgresql"
    assert group["retention_in_days"] == 365
    assert group["kms_key_id"] == ref("aws_kms_key", key_name, "arn")
    assert f"aws_cloudwatch_log_group.{group_name}" in c["depends_on"]


def test_subnet_group_holds_the_configured_subnets(prod_db):
    group_name, group = only(prod_db, "aws_db_subnet_group")

    assert group["subnet_ids"] == ["subnet-a", "subnet-b", "subnet-c"]
    assert cluster(prod_db)["db_subnet_group_name"] == ref("aws_db_subnet_group", group_name, "name")


def test_enhanced_monitoring_is_on_by_default_with_a_role_only_rds_monitoring_can_assume(prod_db):
    role_name, role = only(prod_db, "aws_iam_role")
    trust = json.loads(role["assume_role_policy"])["Statement"]

    assert [s["Principal"] for s in trust] == [{"Service": "monitoring.rds.amazonaws.com"}]
    for instance in prod_db["resource"]["aws_rds_cluster_instance"].values():
        assert instance["monitoring_interval"] == 60
        assert instance["monitoring_role_arn"] == ref("aws_iam_role", role_name, "arn")


def test_without_enhanced_monitoring_no_role_is_created(dev_db):
    assert "aws_iam_role" not in dev_db["resource"]
    (instance,) = dev_db["resource"]["aws_rds_cluster_instance"].values()
    assert instance["monitoring_interval"] == 0


def test_port_and_database_name_are_plain_values_for_the_task_environment(prod_db):
    assert prod_db["output"]["port"]["value"] == 5432
    assert prod_db["output"]["database_name"]["value"] == "litellm"


def test_subnets_given_as_a_terraform_list_are_accepted(synth_in_stack):
    def build(stack):
        subnets = DataAwsSubnets(stack, "private")
        Database(
            stack, "database", settings=DEV_SETTINGS, wiring=dataclasses.replace(DEV, subnet_ids=subnets.ids)
        )

    doc = synth_in_stack(build)

    (group,) = doc["resource"]["aws_db_subnet_group"].values()
    assert group["subnet_ids"] == "${data.aws_subnets.private.ids}"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"subnet_ids": ("subnet-a",)}, "subnet_ids"),
        ({"name": "Gateway_DB"}, "name"),
        ({"enhanced_monitoring_interval": 7}, "enhanced_monitoring_interval"),
        ({"engine_version": "16"}, "engine_version"),
        ({"log_retention_days": 31}, "log_retention_days"),
    ],
)
def test_settings_rds_would_reject_are_refused_at_synth(change, field):
    stack = cdk.TerraformStack(cdk.Testing.app(), "test")

    with pytest.raises(ValueError, match=f"DatabaseWiring.{field}"):
        Database(stack, "database", settings=DEV_SETTINGS, wiring=dataclasses.replace(DEV, **change))
