"""modules/gateway_logs.py: the encrypted gateway log group and the shared log key."""

from __future__ import annotations

import json

import pytest

from modules import cdk
from modules.gateway_logs import GatewayLogs, LogsConfig


def only(doc: dict, kind: str, block: str = "resource") -> dict:
    (item,) = doc[block][kind].values()
    return item


def statements(key: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}


@pytest.fixture(scope="module")
def doc(synth_in_stack) -> dict:
    def build(stack):
        logs = GatewayLogs(stack, "logs", config=LogsConfig(name="gw-test", retention_days=90))
        for attr in ("kms_key_arn", "log_group_name", "log_group_arn"):
            cdk.TerraformOutput(stack, attr, value=getattr(logs, attr))

    return synth_in_stack(build)


def test_log_group_is_named_for_ecs_and_keeps_configured_retention(doc):
    group = only(doc, "aws_cloudwatch_log_group")

    assert group["name"] == "/ecs/gw-test"
    assert group["retention_in_days"] == 90


def test_log_group_is_encrypted_with_the_rotating_customer_key(doc):
    (key_name,) = doc["resource"]["aws_kms_key"]

    assert only(doc, "aws_cloudwatch_log_group")["kms_key_id"] == f"${{aws_kms_key.{key_name}.arn}}"
    assert only(doc, "aws_kms_key")["enable_key_rotation"] is True


def test_key_lets_cloudwatch_logs_encrypt_only_this_accounts_log_groups(doc):
    grant = statements(only(doc, "aws_kms_key"))["CloudWatchLogsEncryptsAccountLogGroups"]

    assert grant["Principal"] == {"Service": "logs.${data.aws_region.account_region.name}.amazonaws.com"}
    context = grant["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert context.startswith("arn:${data.aws_partition.account_partition.partition}:logs:")
    assert context.endswith(":${data.aws_caller_identity.account_identity.account_id}:log-group:*")


def test_account_root_administers_but_cannot_decrypt_logs_directly(doc):
    policy = statements(only(doc, "aws_kms_key"))
    root_actions = {a for s in policy.values() if "AWS" in s["Principal"] for a in s["Action"]}

    assert "kms:ScheduleKeyDeletion" in root_actions
    assert not root_actions & {"kms:*", "kms:Decrypt", "kms:Encrypt"}


def test_attributes_point_at_the_key_and_log_group(doc):
    (key_name,) = doc["resource"]["aws_kms_key"]
    (group_name,) = doc["resource"]["aws_cloudwatch_log_group"]
    outputs = {name: out["value"] for name, out in doc["output"].items()}

    assert outputs["kms_key_arn"] == f"${{aws_kms_key.{key_name}.arn}}"
    assert outputs["log_group_name"] == f"${{aws_cloudwatch_log_group.{group_name}.name}}"
    assert outputs["log_group_arn"] == f"${{aws_cloudwatch_log_group.{group_name}.arn}}"


@pytest.mark.parametrize("days", [0, 2, 10_000])
def test_retention_that_cloudwatch_rejects_is_refused(days):
    app = cdk.Testing.app()
    stack = cdk.TerraformStack(app, "test")

    with pytest.raises(ValueError, match=f"retention_days={days}"):
        GatewayLogs(stack, "logs", config=LogsConfig(name="gw-test", retention_days=days))
