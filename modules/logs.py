"""The gateway's CloudWatch log group and the KMS key for every log group of the stack.

The key's policy lets CloudWatch Logs use it for any log group of this account
and region (scoped by the `aws:logs:arn` encryption context), so the network
and edge constructs reuse `kms_key_arn` for VPC flow logs and WAF logs instead
of creating a key each.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from constructs import Construct

from modules.config import LOG_RETENTION_DAYS
from modules.secrets import EncryptionKey, KeyConfig

# The only values CloudWatch Logs accepts for retention_in_days (defined once, beside the config loader).
RETENTION_DAYS = LOG_RETENTION_DAYS


@dataclass(frozen=True, kw_only=True)
class LogsConfig:
    # Name of the gateway; the log group is /ecs/<name>.
    name: str
    # Days CloudWatch keeps the container logs (one of RETENTION_DAYS; "never expire" is not offered).
    retention_days: int


class GatewayLogs(Construct):
    """The container log group, encrypted with a customer-managed key shared by all log groups."""

    def __init__(self, scope: Construct, id: str, *, config: LogsConfig) -> None:
        super().__init__(scope, id)
        if config.retention_days not in RETENTION_DAYS:
            raise ValueError(
                f"LogsConfig.retention_days={config.retention_days} is not accepted by CloudWatch Logs; "
                f"allowed: {', '.join(map(str, RETENTION_DAYS))}"
            )
        key = EncryptionKey(
            self, "kms", config=KeyConfig(name=f"{config.name}-logs", allow_cloudwatch_logs=True)
        )
        group = CloudwatchLogGroup(
            self,
            "gateway",
            name=f"/ecs/{config.name}",
            retention_in_days=config.retention_days,
            kms_key_id=key.key_arn,
        )
        self.kms_key_arn: str = key.key_arn
        self.log_group_name: str = group.name
        self.log_group_arn: str = group.arn
