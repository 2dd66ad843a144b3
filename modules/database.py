"""LiteLLM's database: Aurora PostgreSQL Serverless v2, reachable only from the gateway's tasks.

The master password is generated and kept by RDS in Secrets Manager
(`manage_master_user_password`): Terraform never sees it, so it is neither in
the configuration nor in state. Only the migration task reads it from that secret
(`DATABASE_USERNAME`/`DATABASE_PASSWORD`, see docs/contracts.md); serving tasks log in
as APP_USERNAME with IAM database authentication, so RDS rotating the master password
never touches them (docs/gateway.md, "Database credentials and rotation").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.db_subnet_group import DbSubnetGroup
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.rds_cluster import RdsCluster, RdsClusterServerlessv2ScalingConfiguration
from cdktf_cdktf_provider_aws.rds_cluster_instance import RdsClusterInstance
from cdktf_cdktf_provider_aws.rds_cluster_parameter_group import (
    RdsClusterParameterGroup,
    RdsClusterParameterGroupParameter,
)
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from constructs import Construct

from modules import cdk
from modules.config import LOG_RETENTION_DAYS, DatabaseSettings
from modules.shared import (
    EncryptionKey,
    KeyConfig,
    account_context,
    allow_from_group,
    encrypted_log_group,
    service_role,
)

PORT = 5432
DATABASE_NAME = "litellm"
MASTER_USERNAME = "gateway_admin"
# The role serving tasks log in as, with IAM database authentication (no password): `migrate`, connected
# as the master user, creates it with LiteLLM's data only and grants it rds_iam (gateway/migrations.py).
APP_USERNAME = "litellm_app"
ENHANCED_MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9-]{0,50}$")


@dataclass(frozen=True, kw_only=True)
class DatabaseWiring:
    """What the Database construct takes besides its settings (DatabaseSettings)."""

    # Cluster identifier and name prefix (lowercase letters, digits, hyphens; starts with a letter).
    name: str
    # VPC the database lives in.
    vpc_id: str
    # Private subnets in at least two Availability Zones (RDS requires two for a subnet group).
    subnet_ids: tuple[str, ...]
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

    def __init__(
        self, scope: Construct, id: str, *, settings: DatabaseSettings, wiring: DatabaseWiring
    ) -> None:
        super().__init__(scope, id)
        config = wiring
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

        # No rules yet: `admit` adds the gateway tasks' group once it exists. No egress ever (Terraform
        # removes AWS's default allow-all), since a database initiates nothing.
        security_group = SecurityGroup(
            self,
            "sg",
            name=f"{name}-database",
            description=f"Aurora PostgreSQL of {name}: port {PORT} from the gateway tasks only",
            vpc_id=config.vpc_id,
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
        postgres_logs = encrypted_log_group(
            self,
            "postgresql_logs",
            name=f"/aws/rds/cluster/{name}/postgresql",
            retention_days=config.log_retention_days,
            kms_key_arn=key.key_arn,
        )

        cluster = RdsCluster(
            self,
            "cluster",
            cluster_identifier=name,
            engine="aurora-postgresql",
            engine_mode="provisioned",
            engine_version=config.engine_version,
            serverlessv2_scaling_configuration=RdsClusterServerlessv2ScalingConfiguration(
                min_capacity=settings.min_acu, max_capacity=settings.max_acu
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
            backup_retention_period=settings.backup_retention_days,
            preferred_backup_window=config.backup_window,
            preferred_maintenance_window=config.maintenance_window,
            copy_tags_to_snapshot=True,
            enabled_cloudwatch_logs_exports=["postgresql"],
            deletion_protection=settings.deletion_protection,
            skip_final_snapshot=settings.skip_final_snapshot,
            final_snapshot_identifier=None if settings.skip_final_snapshot else f"{name}-final",
            depends_on=[postgres_logs],
            # AWS applies minor versions in the maintenance window (auto_minor_version_upgrade); without this,
            # the next plan would try to "downgrade" to the configured version and fail. Major upgrades are
            # a deliberate, reviewed operation (new parameter group family, allow_major_version_upgrade).
            lifecycle=cdk.TerraformResourceLifecycle(ignore_changes=["engine_version"]),
        )

        monitoring_role_arn = None
        if config.enhanced_monitoring_interval:
            monitoring_role_arn = self._monitoring_role(name)
        for index in range(settings.instances):
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
        # What the serving task role may `rds-db:connect` to: this cluster, as APP_USERNAME, nothing else.
        self.app_username: str = APP_USERNAME
        ctx = account_context(self)
        self.app_user_connect_arn: str = (
            f"arn:{ctx.partition}:rds-db:{ctx.region}:{ctx.account_id}:dbuser:"
            f"{cluster.cluster_resource_id}/{APP_USERNAME}"
        )
        self.security_group_id: str = security_group.id

    def admit(self, client_security_group_id: str) -> None:
        """Let the gateway tasks' group, and only it, reach the database (called once both groups exist).

        The id "ingress_from_clients" is part of an address that waivers name: keep it.
        """
        allow_from_group(
            self,
            "ingress_from_clients",
            group_id=self.security_group_id,
            source_group_id=client_security_group_id,
            port=PORT,
            description="PostgreSQL from the gateway tasks",
        )

    def _monitoring_role(self, name: str) -> str:
        ctx = account_context(self)
        role = service_role(
            self,
            "monitoring_role",
            name=f"{name}-rds-monitoring",
            service="monitoring.rds.amazonaws.com",
            account_id=ctx.account_id,
        )
        IamRolePolicyAttachment(
            self,
            "monitoring_policy",
            role=role.name,
            policy_arn=f"arn:{ctx.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
        )
        return role.arn


def _validate(config: DatabaseWiring) -> None:
    """Refuse wiring RDS would reject only after a long apply (the settings are checked by modules/config)."""

    def fail(field: str, problem: str) -> None:
        raise ValueError(f"DatabaseWiring.{field}: {problem}")

    if not _IDENTIFIER.match(config.name) or config.name.endswith("-") or "--" in config.name:
        fail(
            "name",
            f"{config.name!r} must be lowercase letters, digits and single hyphens, starting with a letter",
        )
    if _known_length(config.subnet_ids) is not None and len(config.subnet_ids) < 2:
        fail("subnet_ids", "needs subnets in at least two Availability Zones")
    if config.enhanced_monitoring_interval not in ENHANCED_MONITORING_INTERVALS:
        fail("enhanced_monitoring_interval", f"allowed: {ENHANCED_MONITORING_INTERVALS}")
    if config.log_retention_days not in LOG_RETENTION_DAYS:
        fail("log_retention_days", f"{config.log_retention_days} is not a CloudWatch Logs retention")
    if not re.fullmatch(r"\d+\.\d+", config.engine_version):
        fail("engine_version", f"{config.engine_version!r} must be a full Aurora version like 16.6")


def _known_length(values: tuple[str, ...]) -> int | None:
    """len(values), or None when it is a Terraform list token whose length only Terraform knows."""
    if len(values) == 1 and str(values[0]).startswith("#{TfToken["):  # how cdktf encodes a list token
        return None
    return len(values)
