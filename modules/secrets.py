"""Customer-managed KMS keys, and the gateway's LiteLLM master and salt keys.

`EncryptionKey` lives here because every data-holding construct (logs, secrets,
database, cache, guardrail, alarm topic) needs a key with the same baseline
policy; it is the one place that policy is written.

`GatewaySecrets` generates the LiteLLM keys WITHOUT their values ever entering
Terraform state: an ephemeral `aws_secretsmanager_random_password` feeds the
write-only `secret_string_wo` argument (needs Terraform >= 1.11; checked with
1.11 and the aws provider 5.100), and Terraform keeps neither. cdktf 0.21 has
no class for ephemeral resources, so the block is written into the stack's JSON
with a raw override.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.data_aws_region import DataAwsRegion
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from cdktf_cdktf_provider_aws.secretsmanager_secret_version import SecretsmanagerSecretVersion
from constructs import Construct

from modules import cdk

# Key administration: everything except using the key to encrypt or decrypt.
_ADMIN_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
]
_USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]


@dataclass(frozen=True)
class AccountContext:
    """Terraform references to the deploying account, region and partition."""

    account_id: str
    region: str
    partition: str


def account_context(scope: Construct) -> AccountContext:
    """One set of caller-identity/region/partition data sources per stack, shared by all constructs."""
    stack = cdk.TerraformStack.of(scope)
    identity = stack.node.try_find_child("account_identity") or DataAwsCallerIdentity(
        stack, "account_identity"
    )
    region = stack.node.try_find_child("account_region") or DataAwsRegion(stack, "account_region")
    partition = stack.node.try_find_child("account_partition") or DataAwsPartition(stack, "account_partition")
    return AccountContext(account_id=identity.account_id, region=region.name, partition=partition.partition)


def terraform_name(construct: Construct, suffix: str) -> str:
    """A Terraform identifier unique in the stack, derived from the construct's path."""
    path = "_".join(c.node.id for c in construct.node.scopes[2:])  # below the app and the stack
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{path}_{suffix}").lstrip("_0123456789") or suffix


# ---------------------------------------------------------------- KMS
@dataclass(frozen=True, kw_only=True)
class KeyConfig:
    # Alias suffix (alias/<name>) and the key's description.
    name: str
    # Services (endpoint prefixes, e.g. "secretsmanager") through which account principals may use the key.
    via_services: tuple[str, ...] = ()
    # Let CloudWatch Logs encrypt log groups of this account and region with the key.
    allow_cloudwatch_logs: bool = False
    # Service principals (e.g. "cloudwatch.amazonaws.com") that use the key directly on this account's behalf.
    service_principals: tuple[str, ...] = ()
    # Waiting period before a deleted key is destroyed (7-30 days); the maximum gives the most time to undo.
    deletion_window_days: int = 30


class EncryptionKey(Construct):
    """A customer-managed KMS key with yearly rotation and a least-privilege key policy.

    The account root may administer the key but may use it only through the
    listed services (`kms:ViaService`), so a leaked IAM credential with broad KMS
    rights still cannot decrypt data outside those services.
    """

    def __init__(self, scope: Construct, id: str, *, config: KeyConfig) -> None:
        super().__init__(scope, id)
        if not 7 <= config.deletion_window_days <= 30:
            raise ValueError(f"KeyConfig.deletion_window_days={config.deletion_window_days}: allowed 7 to 30")
        ctx = account_context(self)
        self.policy_json = json.dumps(key_policy(config, ctx), separators=(",", ":"))
        key = KmsKey(
            self,
            "key",
            description=f"{config.name}: customer-managed key",
            enable_key_rotation=True,
            deletion_window_in_days=config.deletion_window_days,
            policy=self.policy_json,
        )
        KmsAlias(self, "alias", name=f"alias/{config.name}", target_key_id=key.key_id)
        self.key_arn: str = key.arn
        self.key_id: str = key.key_id


def key_policy(config: KeyConfig, ctx: AccountContext) -> dict:
    """The key policy document for `config` (tokens for account, region and partition)."""
    root = f"arn:{ctx.partition}:iam::{ctx.account_id}:root"
    statements: list[dict] = [
        {
            "Sid": "AccountAdministersKey",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": _ADMIN_ACTIONS,
            "Resource": "*",
        }
    ]
    if config.via_services:
        services = [f"{service}.{ctx.region}.amazonaws.com" for service in config.via_services]
        statements.append(
            {
                "Sid": "AccountUsesKeyThroughServices",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": [*_USE_ACTIONS, "kms:CreateGrant", "kms:ListGrants"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:CallerAccount": ctx.account_id, "kms:ViaService": services},
                },
            }
        )
    if config.allow_cloudwatch_logs:
        statements.append(
            {
                "Sid": "CloudWatchLogsEncryptsAccountLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{ctx.region}.amazonaws.com"},
                "Action": [
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{ctx.partition}:logs:{ctx.region}:{ctx.account_id}:log-group:*"
                        )
                    }
                },
            }
        )
    if config.service_principals:
        statements.append(
            {
                "Sid": "ServicesUseKeyForAccount",
                "Effect": "Allow",
                "Principal": {"Service": list(config.service_principals)},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


# ---------------------------------------------------------------- LiteLLM keys
@dataclass(frozen=True, kw_only=True)
class SecretsConfig:
    # Prefix of the secret names (<name>/litellm-master-key, <name>/litellm-salt-key) and the key alias.
    name: str
    # Bump to write a NEW master key (rotation); the value is generated at apply time, never stored in state.
    master_key_version: int = 1
    # Days a deleted secret stays recoverable (7-30). 0 deletes at once: only for disposable environments,
    # where a pending deletion would block re-creating the stack under the same secret names for weeks.
    recovery_window_days: int = 30
    # Random characters after the `sk-` prefix.
    key_length: int = 48


class GatewaySecrets(Construct):
    """LiteLLM's master key and salt key, each in its own secret.

    Two secrets so that rotating the master key never touches the salt key.
    The salt key must NEVER change once the gateway has used it: LiteLLM
    encrypts the provider credentials and keys stored in its database with it,
    and a new salt makes every one of them unreadable. It is therefore written
    once (write-only version fixed at 1) and has no rotation knob. Replacing
    the salt secret (renaming the stack, `terraform destroy`) generates a new
    salt: restore the old value from the deleted secret (recovery window)
    before the gateway starts against an existing database.

    Values are generated by an ephemeral resource at apply time and sent
    through write-only arguments: they appear neither in the configuration nor
    in Terraform state or plan files. The secrets hold JSON objects
    (`{"LITELLM_MASTER_KEY": "sk-…"}`, `{"LITELLM_SALT_KEY": "sk-…"}`) so ECS can
    select the key by name (`<arn>:LITELLM_MASTER_KEY::`).
    """

    def __init__(self, scope: Construct, id: str, *, config: SecretsConfig) -> None:
        super().__init__(scope, id)
        if config.master_key_version < 1:
            raise ValueError(f"SecretsConfig.master_key_version={config.master_key_version}: must be >= 1")
        if not (config.recovery_window_days == 0 or 7 <= config.recovery_window_days <= 30):
            raise ValueError(
                f"SecretsConfig.recovery_window_days={config.recovery_window_days}: allowed 7 to 30, "
                "or 0 to delete at once (Secrets Manager's limits)"
            )
        if not 32 <= config.key_length <= 128:
            raise ValueError(f"SecretsConfig.key_length={config.key_length}: allowed 32 to 128")

        key = EncryptionKey(
            self,
            "kms",
            config=KeyConfig(name=f"{config.name}-gateway-secrets", via_services=("secretsmanager",)),
        )
        self.kms_key_arn: str = key.key_arn
        self.master_key_secret_arn: str = self._secret(
            config,
            key,
            "master",
            "LITELLM_MASTER_KEY",
            "litellm-master-key",
            config.master_key_version,
            "LiteLLM master key: admin credential of the gateway (rotatable).",
        )
        self.salt_key_secret_arn: str = self._secret(
            config,
            key,
            "salt",
            "LITELLM_SALT_KEY",
            "litellm-salt-key",
            1,
            "LiteLLM salt key: encrypts credentials stored in the database. NEVER change it once used.",
        )

    def _secret(
        self,
        config: SecretsConfig,
        key: EncryptionKey,
        id: str,
        json_key: str,
        suffix: str,
        version: int,
        description: str,
    ) -> str:
        secret = SecretsmanagerSecret(
            self,
            id,
            name=f"{config.name}/{suffix}",
            description=description,
            kms_key_id=key.key_arn,
            recovery_window_in_days=config.recovery_window_days,
        )
        password = terraform_name(self, f"{id}_key")
        cdk.TerraformStack.of(self).add_override(
            f"ephemeral.aws_secretsmanager_random_password.{password}",
            {
                "password_length": config.key_length,
                # Letters and digits only: the key travels in HTTP headers and shell variables unquoted.
                "exclude_punctuation": True,
                "include_space": False,
                "require_each_included_type": True,
            },
        )
        value = f"ephemeral.aws_secretsmanager_random_password.{password}.random_password"
        SecretsmanagerSecretVersion(
            self,
            f"{id}_value",
            secret_id=secret.id,
            secret_string_wo=f'${{jsonencode({{"{json_key}" = "sk-${{{value}}}"}})}}',
            secret_string_wo_version=version,
        )
        return secret.arn
