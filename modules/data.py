"""LiteLLM's database: Aurora PostgreSQL Serverless v2, reachable only from the gateway's tasks.

The master password is generated and kept by RDS in Secrets Manager
(`manage_master_user_password`): Terraform never sees it, so it is neither in
the configuration nor in state. The task reads it from that secret
(`DATABASE_USERNAME`/`DATABASE_PASSWORD`, see docs/contracts.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.db_subnet_group import DbSubnetGroup
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.rds_cluster import RdsCluster, RdsClusterServerlessv2ScalingConfiguration
from cdktf_cdktf_provider_aws.rds_cluster_instance import RdsClusterInstance
from cdktf_cdktf_provider_aws.rds_cluster_parameter_group import (
    RdsClusterParameterGroup,
    RdsClusterParameterGroupParameter,
)
from constructs import Construct

from modules import cdk
from modules.logs import RETENTION_DAYS
from modules.network import clients_only_security_group
from modules.secrets import EncryptionKey, KeyConfig, account_context

PORT = 5432
DATABASE_NAME = "litellm"
MASTER_USERNAME = "gateway_admin"
ENHANCED_MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9-]{0,50}$")


@dataclass(frozen=True, kw_only=True)
class DatabaseConfig:
    # Cluster identifier and name prefix (lowercase letters, digits, hyphens; starts with a letter).
    name: str
    # VPC the database lives in.
    vpc_id: str
    # Private subnets in at least two Availability Zones (RDS requires two for a subnet group).
    subnet_ids: tuple[str, ...]
    # Security group of the gateway tasks: the only source allowed to reach port 5432.
    client_security_group_id: str
    # Serverless v2 minimum capacity in ACUs (0 lets the cluster auto-pause; steps of 0.5).
    min_acu: float
    # Serverless v2 maximum capacity in ACUs (1-256, steps of 0.5).
    max_acu: float
    # db.serverless instances: 1 is a writer only; more adds readers that take over on failover.
    instances: int
    # Days of automated backups (1-35).
    backup_retention_days: int
    # Refuse `terraform destroy` / DeleteDBCluster while true.
    deletion_protection: bool
    # Destroy without a final snapshot (disposable environments only).
    skip_final_snapshot: bool
    # Aurora PostgreSQL version (Serverless v2 capable); minor upgrades are then applied by AWS.
    engine_version: str = "16.6"
    # Availability Zones to spread the instances over, in order (empty: RDS picks from the subnet group).
    availability_zones: tuple[str, ...] = ()
    # Enhanced Monitoring (OS metrics) granularity in seconds; 0 turns it off and creates no monitoring role.
    enhanced_monitoring_interval: int = 60
    # Days to keep the exported PostgreSQL logs in CloudWatch (a year by default, for audits).
    log_retention_days: int = 365
    # Daily backup window (UTC); must not overlap the maintenance window.
    backup_window: str = "03:00-04:00"
    # Weekly maintenance window (UTC) for minor upgrades and patches.
    maintenance_window: str = "sun:04:30-sun:05:30"


class Database(Construct):
    """Encrypted, SSL-only, IAM-auth-enabled Aurora PostgreSQL Serverless v2 cluster."""

    def __init__(self, scope: Construct, id: str, *, config: DatabaseConfig) -> None:
        super().__init__(scope, id)
        _validate(config)
        name = config.name
        key = EncryptionKey(
            self,
            "kms",
            config=KeyConfig(
                name=f"{name}-database",
                # rds: storage and Performance Insights; secretsmanager: the managed master secret.
                via_services=("rds", "secretsmanager"),
                allow_cloudwatch_logs=True,
            ),
        )

        security_group = clients_only_security_group(
            self,
            name=f"{name}-database",
            description=f"Aurora PostgreSQL of {name}: port {PORT} from the gateway tasks only",
            vpc_id=config.vpc_id,
            port=PORT,
            client_security_group_id=config.client_security_group_id,
            rule_description="PostgreSQL from the gateway tasks",
        )
        subnet_group = DbSubnetGroup(
            self,
            "subnets",
            name=f"{name}-database",
            description=f"Private subnets of the {name} database",
            subnet_ids=list(config.subnet_ids),
        )
        major = config.engine_version.split(".")[0]
        parameters = RdsClusterParameterGroup(
            self,
            "parameters",
            name=f"{name}-aurora-postgresql{major}",
            family=f"aurora-postgresql{major}",
            description=f"{name}: TLS required, DDL and slow queries logged",
            parameter=[
                RdsClusterParameterGroupParameter(name="rds.force_ssl", value="1"),
                # Audit schema changes only: "all" would copy request data (and key hashes) into the logs.
                RdsClusterParameterGroupParameter(name="log_statement", value="ddl"),
                # Slow queries (ms), to find what to index as spend logs grow.
                RdsClusterParameterGroupParameter(name="log_min_duration_statement", value="5000"),
            ],
            lifecycle=cdk.TerraformResourceLifecycle(create_before_destroy=True),
        )
        # Created before the cluster so RDS writes into an encrypted group with a retention.
        postgres_logs = CloudwatchLogGroup(
            self,
            "postgresql_logs",
            name=f"/aws/rds/cluster/{name}/postgresql",
            retention_in_days=config.log_retention_days,
            kms_key_id=key.key_arn,
        )

        cluster = RdsCluster(
            self,
            "cluster",
            cluster_identifier=name,
            engine="aurora-postgresql",
            engine_mode="provisioned",
            engine_version=config.engine_version,
            serverlessv2_scaling_configuration=RdsClusterServerlessv2ScalingConfiguration(
                min_capacity=config.min_acu, max_capacity=config.max_acu
            ),
            database_name=DATABASE_NAME,
            port=PORT,
            master_username=MASTER_USERNAME,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=key.key_arn,
            iam_database_authentication_enabled=True,
            storage_encrypted=True,
            kms_key_id=key.key_arn,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[security_group.id],
            db_cluster_parameter_group_name=parameters.name,
            backup_retention_period=config.backup_retention_days,
            preferred_backup_window=config.backup_window,
            preferred_maintenance_window=config.maintenance_window,
            copy_tags_to_snapshot=True,
            enabled_cloudwatch_logs_exports=["postgresql"],
            deletion_protection=config.deletion_protection,
            skip_final_snapshot=config.skip_final_snapshot,
            final_snapshot_identifier=None if config.skip_final_snapshot else f"{name}-final",
            depends_on=[postgres_logs],
            # AWS applies minor versions in the maintenance window (auto_minor_version_upgrade); without this,
            # the next plan would try to "downgrade" to the configured version and fail. Major upgrades are
            # a deliberate, reviewed operation (new parameter group family, allow_major_version_upgrade).
            lifecycle=cdk.TerraformResourceLifecycle(ignore_changes=["engine_version"]),
        )

        monitoring_role_arn = None
        if config.enhanced_monitoring_interval:
            monitoring_role_arn = self._monitoring_role(name)
        for index in range(config.instances):
            zones = config.availability_zones
            RdsClusterInstance(
                self,
                f"instance_{index + 1}",
                identifier=f"{name}-{index + 1}",
                cluster_identifier=cluster.id,
                instance_class="db.serverless",
                engine=cluster.engine,
                engine_version=cluster.engine_version,
                availability_zone=zones[index % len(zones)] if zones else None,
                db_subnet_group_name=subnet_group.name,
                publicly_accessible=False,
                auto_minor_version_upgrade=True,
                performance_insights_enabled=True,
                performance_insights_kms_key_id=key.key_arn,
                performance_insights_retention_period=7,
                monitoring_interval=config.enhanced_monitoring_interval,
                monitoring_role_arn=monitoring_role_arn,
                copy_tags_to_snapshot=True,
                lifecycle=cdk.TerraformResourceLifecycle(ignore_changes=["engine_version"]),
            )

        self.cluster_endpoint: str = cluster.endpoint
        self.port: int = PORT
        self.database_name: str = DATABASE_NAME
        self.master_user_secret_arn: str = cluster.master_user_secret.get(0).secret_arn
        self.kms_key_arn: str = key.key_arn
        self.cluster_identifier: str = cluster.cluster_identifier
        self.security_group_id: str = security_group.id

    def _monitoring_role(self, name: str) -> str:
        ctx = account_context(self)
        role = IamRole(
            self,
            "monitoring_role",
            name=f"{name}-rds-monitoring",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "monitoring.rds.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id}},
                        }
                    ],
                }
            ),
        )
        IamRolePolicyAttachment(
            self,
            "monitoring_policy",
            role=role.name,
            policy_arn=f"arn:{ctx.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
        )
        return role.arn


def _validate(config: DatabaseConfig) -> None:
    """Refuse settings RDS would reject only after a long apply."""

    def fail(field: str, problem: str) -> None:
        raise ValueError(f"DatabaseConfig.{field}: {problem}")

    if not _IDENTIFIER.match(config.name) or config.name.endswith("-") or "--" in config.name:
        fail(
            "name",
            f"{config.name!r} must be lowercase letters, digits and single hyphens, starting with a letter",
        )
    if _known_length(config.subnet_ids) is not None and len(config.subnet_ids) < 2:
        fail("subnet_ids", "needs subnets in at least two Availability Zones")
    for field in ("min_acu", "max_acu"):
        value = getattr(config, field)
        if value * 2 != int(value * 2):
            fail(field, f"{value} is not a multiple of 0.5")
    if not 0 <= config.min_acu <= config.max_acu:
        fail("min_acu", f"{config.min_acu} must be between 0 and max_acu ({config.max_acu})")
    if not 1 <= config.max_acu <= 256:
        fail("max_acu", f"{config.max_acu} is outside 1-256")
    if not 1 <= config.instances <= 16:
        fail("instances", f"{config.instances} is outside 1-16 (one writer and up to 15 readers)")
    if not 1 <= config.backup_retention_days <= 35:
        fail("backup_retention_days", f"{config.backup_retention_days} is outside 1-35")
    if config.enhanced_monitoring_interval not in ENHANCED_MONITORING_INTERVALS:
        fail("enhanced_monitoring_interval", f"allowed: {ENHANCED_MONITORING_INTERVALS}")
    if config.log_retention_days not in RETENTION_DAYS:
        fail("log_retention_days", f"{config.log_retention_days} is not a CloudWatch Logs retention")
    if not re.fullmatch(r"\d+\.\d+", config.engine_version):
        fail("engine_version", f"{config.engine_version!r} must be a full Aurora version like 16.6")


def _known_length(values: tuple[str, ...]) -> int | None:
    """len(values), or None when it is a Terraform list token whose length only Terraform knows."""
    if len(values) == 1 and str(values[0]).startswith("#{TfToken["):  # how cdktf encodes a list token
        return None
    return len(values)
