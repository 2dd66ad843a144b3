"""LiteLLM's cache and rate-limit store: ElastiCache for Valkey, TLS only, IAM authentication, encrypted.

No AUTH token exists, so none can leak into Terraform state, plans or artifacts.
The aws provider 5.100 has no write-only `auth_token` on the replication group,
and an ephemeral value cannot feed a non-write-only argument, so any token would
land in state. Instead the group takes an RBAC user group: a Valkey user
authenticated by IAM (the gateway tasks' role signs a 15-minute token with
SigV4; LiteLLM 1.108.7 does this itself through `REDIS_AWS_IAM_*`,
`litellm/_redis_credential_provider.py`) and a disabled `default` user, which
every user group must hold. docs/gateway.md, "Cache authentication", has the
reasoning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.elasticache_replication_group import (
    ElasticacheReplicationGroup,
    ElasticacheReplicationGroupLogDeliveryConfiguration,
)
from cdktf_cdktf_provider_aws.elasticache_subnet_group import ElasticacheSubnetGroup
from cdktf_cdktf_provider_aws.elasticache_user import ElasticacheUser, ElasticacheUserAuthenticationMode
from cdktf_cdktf_provider_aws.elasticache_user_group import ElasticacheUserGroup
from cdktf_cdktf_provider_aws.iam_policy import IamPolicy
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from constructs import Construct

from modules.config import LOG_RETENTION_DAYS, CacheSettings
from modules.shared import EncryptionKey, KeyConfig, allow_from_group, encrypted_log_group, policy_document

PORT = 6379
ENGINE = "valkey"
ENGINE_VERSION = "7.2"
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
# The gateway's Valkey user is `<name>-gateway`: IAM users need user id == user name, and ids are <= 40 chars.
USER_SUFFIX = "-gateway"
MAX_NAME = 40 - len(USER_SUFFIX)
# The cache is the gateway's alone, and LiteLLM uses commands from many categories (scripts for rate
# limits, SCAN, INFO, CLIENT LIST): every key and command, but only for this one authenticated user.
GATEWAY_ACCESS = "on ~* +@all"
# Every user group must hold a user named `default`; this one can never log in ("off", no commands).
DEFAULT_USER_ACCESS = "off -@all"


@dataclass(frozen=True, kw_only=True)
class CacheWiring:
    """What the Cache construct takes besides its settings (CacheSettings)."""

    # Replication group id and name prefix (lowercase letters, digits, hyphens; at most 40 characters).
    name: str
    # VPC the cache lives in.
    vpc_id: str
    # Private subnets for the cache nodes (one per Availability Zone used).
    subnet_ids: tuple[str, ...]
    # Days of daily snapshots to keep (0 turns snapshots off).
    snapshot_retention_days: int = 7
    # Daily snapshot window (UTC); must not overlap the maintenance window.
    snapshot_window: str = "02:00-03:00"
    # Weekly maintenance window (UTC).
    maintenance_window: str = "sun:05:30-sun:06:30"
    # Take a final snapshot when the group is destroyed.
    final_snapshot: bool = True
    # Deliver the slow log to an encrypted CloudWatch log group.
    enable_slow_log: bool = True
    # Days to keep the slow log (a year by default, like the other audit-relevant logs).
    log_retention_days: int = 365


class Cache(Construct):
    """Valkey 7.2 replication group (cluster mode disabled) reachable only from the gateway tasks."""

    def __init__(self, scope: Construct, id: str, *, settings: CacheSettings, wiring: CacheWiring) -> None:
        super().__init__(scope, id)
        config = wiring
        _validate(config)
        name = config.name
        key = EncryptionKey(
            self,
            "kms",
            config=KeyConfig(
                name=f"{name}-cache",
                via_services=("elasticache",),
                allow_cloudwatch_logs=config.enable_slow_log,
            ),
        )
        user_group, gateway_user = self._users(config)

        # No rules yet: `admit` adds the gateway tasks' group once it exists. No egress ever (Terraform
        # removes AWS's default allow-all), since a cache initiates nothing.
        security_group = SecurityGroup(
            self,
            "sg",
            name=f"{name}-cache",
            description=f"Valkey of {name}: port {PORT} from the gateway tasks only",
            vpc_id=config.vpc_id,
        )
        subnet_group = ElasticacheSubnetGroup(
            self,
            "subnets",
            name=f"{name}-cache",
            description=f"Private subnets of the {name} cache",
            subnet_ids=list(config.subnet_ids),
        )

        log_delivery = []
        if config.enable_slow_log:
            slow_log = encrypted_log_group(
                self,
                "slow_log",
                name=f"/elasticache/{name}/slow-log",
                retention_days=config.log_retention_days,
                kms_key_arn=key.key_arn,
            )
            log_delivery.append(
                ElasticacheReplicationGroupLogDeliveryConfiguration(
                    destination=slow_log.name,
                    destination_type="cloudwatch-logs",
                    log_format="json",
                    log_type="slow-log",
                )
            )

        failover = settings.nodes >= 2
        group = ElasticacheReplicationGroup(
            self,
            "group",
            replication_group_id=name,
            description=f"{name}: LiteLLM cache and rate limits",
            engine=ENGINE,
            engine_version=ENGINE_VERSION,
            parameter_group_name="default.valkey7",
            cluster_mode="disabled",
            node_type=settings.node_type,
            num_cache_clusters=settings.nodes,
            automatic_failover_enabled=failover,
            multi_az_enabled=settings.multi_az,
            port=PORT,
            subnet_group_name=subnet_group.name,
            security_group_ids=[security_group.id],
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            # A string in the 5.100 bindings (the provider's schema quirk), not a bool.
            at_rest_encryption_enabled="true",
            kms_key_id=key.key_arn,
            # IAM-authenticated users instead of an AUTH token (which would sit in state).
            user_group_ids=[user_group.user_group_id],
            auto_minor_version_upgrade="true",
            snapshot_retention_limit=config.snapshot_retention_days,
            snapshot_window=config.snapshot_window if config.snapshot_retention_days else None,
            maintenance_window=config.maintenance_window,
            final_snapshot_identifier=f"{name}-final" if config.final_snapshot else None,
            log_delivery_configuration=log_delivery or None,
        )

        self.primary_endpoint_address: str = group.primary_endpoint_address
        self.port: int = PORT
        # What the gateway's tasks need: LiteLLM's REDIS_AWS_IAM_USER_NAME / _CACHE_NAME, and the policy
        # letting their role sign in (elasticache:Connect on this group as this user, nothing else).
        self.iam_user_name: str = gateway_user.user_name
        self.connect_policy_arn: str = self._connect_policy(config, group.arn, gateway_user.arn)
        self.kms_key_arn: str = key.key_arn
        self.replication_group_id: str = group.id
        self.security_group_id: str = security_group.id

    def admit(self, client_security_group_id: str) -> None:
        """Let the gateway tasks' group, and only it, reach the cache (called once both groups exist).

        The id "ingress_from_clients" is part of an address that waivers name: keep it.
        """
        allow_from_group(
            self,
            "ingress_from_clients",
            group_id=self.security_group_id,
            source_group_id=client_security_group_id,
            port=PORT,
            description="Valkey (TLS) from the gateway tasks",
        )

    def _users(self, config: CacheWiring) -> tuple[ElasticacheUserGroup, ElasticacheUser]:
        """The gateway's IAM-authenticated user and the disabled `default` user, in the group's user group."""
        gateway = ElasticacheUser(
            self,
            "gateway_user",
            user_id=f"{config.name}{USER_SUFFIX}",
            user_name=f"{config.name}{USER_SUFFIX}",
            engine=ENGINE,
            access_string=GATEWAY_ACCESS,
            authentication_mode=ElasticacheUserAuthenticationMode(type="iam"),
        )
        default = ElasticacheUser(
            self,
            "default_user",
            user_id=f"{config.name}-default",
            user_name="default",
            engine=ENGINE,
            access_string=DEFAULT_USER_ACCESS,
            # Not authentication_mode "no-password-required": ElastiCache reports that type back as
            # "no-password", which the provider would show as a change on every plan.
            no_password_required=True,
        )
        user_group = ElasticacheUserGroup(
            self,
            "users",
            user_group_id=config.name,
            engine=ENGINE,
            user_ids=[default.user_id, gateway.user_id],
        )
        return user_group, gateway

    def _connect_policy(self, config: CacheWiring, group_arn: str, user_arn: str) -> str:
        """elasticache:Connect to this group as the gateway user: what IAM authentication checks."""
        policy = IamPolicy(
            self,
            "connect",
            name=f"{config.name}-cache-connect",
            description=f"IAM sign-in to the {config.name} cache as {config.name}{USER_SUFFIX}",
            policy=policy_document(
                {
                    "Sid": "ConnectAsGatewayUser",
                    "Effect": "Allow",
                    "Action": "elasticache:Connect",
                    "Resource": [group_arn, user_arn],
                }
            ),
        )
        return policy.arn


def _validate(config: CacheWiring) -> None:
    """Refuse wiring ElastiCache would reject only after a long apply (modules/config checks the settings)."""

    def fail(field: str, problem: str) -> None:
        raise ValueError(f"CacheWiring.{field}: {problem}")

    if (
        not _IDENTIFIER.match(config.name)
        or len(config.name) > MAX_NAME
        or config.name.endswith("-")
        or "--" in config.name
    ):
        fail(
            "name",
            f"{config.name!r} must be 1-{MAX_NAME} lowercase letters, digits, single hyphens, starting with "
            f"a letter (the Valkey user id '<name>{USER_SUFFIX}' is at most 40 characters)",
        )
    if not 0 <= config.snapshot_retention_days <= 35:
        fail("snapshot_retention_days", f"{config.snapshot_retention_days} is outside 0-35")
    if config.final_snapshot and config.snapshot_retention_days == 0:
        fail("final_snapshot", "needs snapshot_retention_days >= 1 (ElastiCache snapshots must be enabled)")
    if config.log_retention_days not in LOG_RETENTION_DAYS:
        fail("log_retention_days", f"{config.log_retention_days} is not a CloudWatch Logs retention")
