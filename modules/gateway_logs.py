"""The gateway's CloudWatch log group and the KMS key for every log group of the stack.

The key's policy lets CloudWatch Logs use it for any log group of this account
and region (scoped by the `aws:logs:arn` encryption context), so the network
and edge constructs write VPC flow logs and WAF logs to its `destination` (this
key, the environment's retention) instead of creating a key each.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules.shared import EncryptionKey, KeyConfig, LogDestination


@dataclass(frozen=True, kw_only=True)
class LogsConfig:
    # Name of the gateway; the log group is /ecs/<name>.
    name: str
    # Days CloudWatch keeps the container logs (one of modules.config.LOG_RETENTION_DAYS; never "forever").
    retention_days: int


class GatewayLogs(Construct):
    """The container log group, encrypted with a customer-managed key shared by all log groups."""

    def __init__(self, scope: Construct, id: str, *, config: LogsConfig) -> None:
        super().__init__(scope, id)
        key = EncryptionKey(
            self, "kms", config=KeyConfig(name=f"{config.name}-logs", allow_cloudwatch_logs=True)
        )
        # Where every log group of the stack goes: this key, the environment's retention.
        self.destination = LogDestination(kms_key_arn=key.key_arn, retention_days=config.retention_days)
        group = self.destination.group(self, "gateway", f"/ecs/{config.name}")
        self.kms_key_arn: str = key.key_arn
        self.log_group_name: str = group.name
        self.log_group_arn: str = group.arn
