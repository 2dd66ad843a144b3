"""Building blocks every construct uses, written once: the KMS key, the service role, the log group,
the security group and its one-port rules.

Also the account context (caller identity, region, partition) and the Terraform
name helper the constructs share. Each helper keeps the construct ids its callers
pass, so moving code here changed no resource address.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TypeVar

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.data_aws_region import DataAwsRegion
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from modules import cdk
from modules.config import LOG_RETENTION_DAYS

# The IAM policy language's current version; every policy document the stack writes names it.
POLICY_VERSION = "2012-10-17"

# Key administration, named action by action: everything except using the key, granting its use
# (kms:CreateGrant, only through the services: AccountGrantsThroughServices) and replacing the
# policy (kms:PutKeyPolicy, its own statement). A wildcard such as kms:Create* would include
# CreateGrant, and a grant is honoured without the policy's kms:ViaService condition.
ADMIN_ACTIONS = (
    "kms:CreateAlias",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
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
)
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
            "Action": list(ADMIN_ACTIONS),
            "Resource": "*",
        },
        {
            # Terraform replaces the policy on apply, and KMS's lockout check requires the caller to
            # keep this right; the check itself may not be skipped (a policy nobody can change).
            "Sid": "AccountReplacesKeyPolicy",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": "kms:PutKeyPolicy",
            "Resource": "*",
            "Condition": {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "false"}},
        },
    ]
    if config.via_services:
        services = [f"{service}.{ctx.region}.amazonaws.com" for service in config.via_services]
        through_services = {"kms:CallerAccount": ctx.account_id, "kms:ViaService": services}
        statements.append(
            {
                "Sid": "AccountUsesKeyThroughServices",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": [*_USE_ACTIONS, "kms:ListGrants"],
                "Resource": "*",
                "Condition": {"StringEquals": through_services},
            }
        )
        statements.append(
            {
                # A grant lets its grantee use the key without this policy's conditions: only the
                # services may create one, and only for their own resources.
                "Sid": "AccountGrantsThroughServices",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {
                    "StringEquals": through_services,
                    "Bool": {"kms:GrantIsForAWSResource": "true"},
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
    return {"Version": POLICY_VERSION, "Statement": statements}


# ---------------------------------------------------------------- IAM
def policy_document(*statements: dict) -> str:
    """An IAM policy's JSON: the statements under the current policy-language version."""
    return json.dumps({"Version": POLICY_VERSION, "Statement": list(statements)})


def service_role(
    scope: Construct,
    id: str,
    *,
    name: str,
    service: str,
    account_id: str,
    description: str | None = None,
) -> IamRole:
    """An IAM role only `service` (e.g. "ecs-tasks.amazonaws.com") may assume, and only for `account_id`.

    The `aws:SourceAccount` condition is the confused-deputy guard: the service acting for
    another account cannot assume the role.
    """
    trust = policy_document(
        {
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )
    return IamRole(scope, id, name=name, description=description, assume_role_policy=trust)


# ---------------------------------------------------------------- CloudWatch Logs
def encrypted_log_group(
    scope: Construct, id: str, *, name: str, retention_days: int, kms_key_arn: str
) -> CloudwatchLogGroup:
    """A log group encrypted with a customer-managed key and kept `retention_days` (never "forever")."""
    if retention_days not in LOG_RETENTION_DAYS:
        raise ValueError(
            f"log group {name}: retention_days={retention_days} is not accepted by CloudWatch Logs; "
            f"allowed: {', '.join(map(str, LOG_RETENTION_DAYS))}"
        )
    return CloudwatchLogGroup(scope, id, name=name, retention_in_days=retention_days, kms_key_id=kms_key_arn)


@dataclass(frozen=True, kw_only=True)
class LogDestination:
    """The key and retention of a construct's log groups, passed as one value so that the wiring of
    every construct that logs carries one field instead of the same two."""

    kms_key_arn: str  # a key whose policy allows CloudWatch Logs
    retention_days: int  # one of LOG_RETENTION_DAYS (checked when a group is made)

    def group(self, scope: Construct, id: str, name: str) -> CloudwatchLogGroup:
        """A log group `name` encrypted with this key and kept this long."""
        return encrypted_log_group(
            scope, id, name=name, retention_days=self.retention_days, kms_key_arn=self.kms_key_arn
        )


# ---------------------------------------------------------------- security groups and their rules
def security_group(scope: Construct, id: str, *, name: str, description: str, vpc_id: str) -> SecurityGroup:
    """A security group named `name`, with rules only as separate resources (none inline), tagged Name."""
    return SecurityGroup(scope, id, name=name, description=description, vpc_id=vpc_id, tags={"Name": name})


_Rule = TypeVar("_Rule", VpcSecurityGroupIngressRule, VpcSecurityGroupEgressRule)


def _tcp_rule(
    kind: type[_Rule], scope: Construct, id: str, group_id: str, port: int, description: str, **peer: str
) -> _Rule:
    """One TCP port of `group_id`, to or from one peer: a CIDR (cidr_ipv4) or another group's members."""
    return kind(
        scope,
        id,
        security_group_id=group_id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        description=description,
        **peer,
    )


def allow_from_cidr(
    scope: Construct, id: str, *, group_id: str, cidr: str, port: int, description: str
) -> VpcSecurityGroupIngressRule:
    """TCP `port` into `group_id` from the IPv4 range `cidr`."""
    return _tcp_rule(VpcSecurityGroupIngressRule, scope, id, group_id, port, description, cidr_ipv4=cidr)


def allow_to_cidr(
    scope: Construct, id: str, *, group_id: str, cidr: str, port: int, description: str
) -> VpcSecurityGroupEgressRule:
    """TCP `port` out of `group_id` to the IPv4 range `cidr`."""
    return _tcp_rule(VpcSecurityGroupEgressRule, scope, id, group_id, port, description, cidr_ipv4=cidr)


def allow_from_group(
    scope: Construct, id: str, *, group_id: str, source_group_id: str, port: int, description: str
) -> VpcSecurityGroupIngressRule:
    """TCP `port` into `group_id` from members of `source_group_id` only.

    For rules between two groups that different constructs own: the stack adds them once both exist.
    """
    return _tcp_rule(
        VpcSecurityGroupIngressRule,
        scope,
        id,
        group_id,
        port,
        description,
        referenced_security_group_id=source_group_id,
    )


def allow_to_group(
    scope: Construct, id: str, *, group_id: str, target_group_id: str, port: int, description: str
) -> VpcSecurityGroupEgressRule:
    """TCP `port` out of `group_id` to members of `target_group_id` only (allow_from_group's twin)."""
    return _tcp_rule(
        VpcSecurityGroupEgressRule,
        scope,
        id,
        group_id,
        port,
        description,
        referenced_security_group_id=target_group_id,
    )
