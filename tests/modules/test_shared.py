"""modules/shared.py: the KMS key, the service role, the log group and the cross-group rules, written once."""

from __future__ import annotations

import fnmatch
import json

import pytest

from modules import cdk
from modules.shared import (
    EncryptionKey,
    KeyConfig,
    LogDestination,
    allow_from_cidr,
    allow_from_group,
    allow_to_cidr,
    allow_to_group,
    encrypted_log_group,
    policy_document,
    security_group,
    service_role,
)

KEY = "arn:aws:kms:us-east-1:111111111111:key/test"


def only(doc: dict, kind: str) -> dict:
    (item,) = doc["resource"][kind].values()
    return item


# ---------------------------------------------------------------- KMS key
def test_two_keys_in_one_stack_share_one_set_of_account_data_sources(synth_in_stack):
    doc = synth_in_stack(
        lambda stack: [
            EncryptionKey(stack, f"k{i}", config=KeyConfig(name=f"k{i}", via_services=("rds",)))
            for i in range(2)
        ]
    )

    assert len(doc["resource"]["aws_kms_key"]) == 2
    assert list(doc["data"]["aws_caller_identity"]) == ["account_identity"]


def test_key_deletion_window_outside_kms_limits_is_refused():
    stack = cdk.TerraformStack(cdk.Testing.app(), "test")

    with pytest.raises(ValueError, match="deletion_window_days=3"):
        EncryptionKey(stack, "k", config=KeyConfig(name="k", deletion_window_days=3))


def key_statements(synth_in_stack) -> list[dict]:
    doc = synth_in_stack(
        lambda stack: EncryptionKey(
            stack,
            "k",
            config=KeyConfig(name="k", via_services=("rds", "secretsmanager"), allow_cloudwatch_logs=True),
        )
    )
    return json.loads(only(doc, "aws_kms_key")["policy"])["Statement"]


# What lets a principal read data with the key, directly or by a grant whose grantee skips the conditions.
USING_THE_KEY = (
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:CreateGrant",
)


def test_the_account_uses_or_grants_the_key_only_through_the_listed_services(synth_in_stack):
    for statement in key_statements(synth_in_stack):
        if "AWS" not in statement["Principal"]:
            continue  # service principals (CloudWatch Logs) have their own conditions
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        granted = {a for a in USING_THE_KEY if any(fnmatch.fnmatchcase(a, pattern) for pattern in actions)}
        if granted:
            services = statement["Condition"]["StringEquals"]["kms:ViaService"]
            assert services == [
                f"{s}.${{data.aws_region.account_region.name}}.amazonaws.com"
                for s in ("rds", "secretsmanager")
            ], statement["Sid"]
        if "kms:CreateGrant" in granted:
            assert statement["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}


def test_the_administrator_statement_names_actions_without_create_or_put_wildcards(synth_in_stack):
    statements = {s["Sid"]: s for s in key_statements(synth_in_stack)}
    admin = statements["AccountAdministersKey"]["Action"]

    assert not [a for a in admin if a.startswith(("kms:Create", "kms:Put")) and a != "kms:CreateAlias"]
    assert "kms:CreateAlias" in admin and "kms:ScheduleKeyDeletion" in admin
    # Terraform replaces the policy on apply; never with KMS's lockout check skipped.
    replace = statements["AccountReplacesKeyPolicy"]
    assert replace["Action"] == "kms:PutKeyPolicy"
    assert replace["Condition"] == {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "false"}}


# ---------------------------------------------------------------- service role
def test_service_role_trusts_only_its_service_acting_for_the_account(synth_in_stack):
    doc = synth_in_stack(
        lambda stack: service_role(
            stack, "role", name="r", service="monitoring.rds.amazonaws.com", account_id="111111111111"
        )
    )

    (statement,) = json.loads(only(doc, "aws_iam_role")["assume_role_policy"])["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Service": "monitoring.rds.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"}},
    }


# ---------------------------------------------------------------- log group
def test_log_group_is_encrypted_with_the_given_key_and_kept_the_given_days(synth_in_stack):
    doc = synth_in_stack(
        lambda stack: encrypted_log_group(stack, "logs", name="/gw/test", retention_days=90, kms_key_arn=KEY)
    )

    group = only(doc, "aws_cloudwatch_log_group")
    assert (group["name"], group["retention_in_days"], group["kms_key_id"]) == ("/gw/test", 90, KEY)


def test_log_group_retention_that_cloudwatch_rejects_is_refused_naming_the_group():
    stack = cdk.TerraformStack(cdk.Testing.app(), "test")

    with pytest.raises(ValueError, match=r"log group /gw/test: retention_days=0 .* allowed: 1, 3, 5"):
        encrypted_log_group(stack, "logs", name="/gw/test", retention_days=0, kms_key_arn=KEY)


def test_gateway_flow_and_waf_log_groups_share_the_logs_key_and_retention(synthesized):
    # Network and edge receive GatewayLogs' destination; the database and cache use keys of their own.
    for name, doc in synthesized.items():
        groups = doc["resource"]["aws_cloudwatch_log_group"]
        shared = [g for k, g in groups.items() if k.startswith(("logs_", "network_", "edge_"))]
        assert len(shared) == 3, (name, sorted(groups))
        assert len({(g["kms_key_id"], g["retention_in_days"]) for g in shared}) == 1, name


def test_a_log_destination_makes_groups_with_its_key_and_retention_and_refuses_bad_ones(synth_in_stack):
    destination = LogDestination(kms_key_arn=KEY, retention_days=30)
    doc = synth_in_stack(lambda stack: destination.group(stack, "logs", "/gw/test"))

    group = only(doc, "aws_cloudwatch_log_group")
    assert (group["name"], group["retention_in_days"], group["kms_key_id"]) == ("/gw/test", 30, KEY)
    stack = cdk.TerraformStack(cdk.Testing.app(), "test")
    with pytest.raises(ValueError, match=r"log group /gw/other: retention_days=31"):
        LogDestination(kms_key_arn=KEY, retention_days=31).group(stack, "other", "/gw/other")


def test_policy_document_is_the_statements_under_the_2012_policy_version():
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    assert json.loads(policy_document(statement, statement)) == {
        "Version": "2012-10-17",
        "Statement": [statement, statement],
    }


# ---------------------------------------------------------------- rules between groups
def test_group_rules_reference_the_other_group_and_open_one_tcp_port(synth_in_stack):
    def build(stack):
        allow_from_group(
            stack, "in", group_id="sg-db", source_group_id="sg-tasks", port=5432, description="from the tasks"
        )
        allow_to_group(
            stack, "out", group_id="sg-alb", target_group_id="sg-tasks", port=4000, description="to the tasks"
        )

    doc = synth_in_stack(build)

    ingress, egress = (
        only(doc, "aws_vpc_security_group_ingress_rule"),
        only(doc, "aws_vpc_security_group_egress_rule"),
    )
    assert (ingress["security_group_id"], ingress["referenced_security_group_id"]) == ("sg-db", "sg-tasks")
    assert (egress["security_group_id"], egress["referenced_security_group_id"]) == ("sg-alb", "sg-tasks")
    assert (ingress["ip_protocol"], ingress["from_port"], ingress["to_port"]) == ("tcp", 5432, 5432)
    assert (egress["ip_protocol"], egress["from_port"], egress["to_port"]) == ("tcp", 4000, 4000)
    assert "cidr_ipv4" not in ingress and "cidr_ipv4" not in egress


def test_cidr_rules_open_one_tcp_port_to_or_from_one_range_and_no_group(synth_in_stack):
    def build(stack):
        allow_from_cidr(
            stack, "in", group_id="sg-alb", cidr="203.0.113.0/24", port=443, description="clients"
        )
        allow_to_cidr(stack, "out", group_id="sg-tasks", cidr="10.0.0.0/16", port=5432, description="Aurora")

    doc = synth_in_stack(build)

    ingress, egress = (
        only(doc, "aws_vpc_security_group_ingress_rule"),
        only(doc, "aws_vpc_security_group_egress_rule"),
    )
    assert (ingress["security_group_id"], ingress["cidr_ipv4"], ingress["from_port"]) == (
        "sg-alb",
        "203.0.113.0/24",
        443,
    )
    assert (egress["security_group_id"], egress["cidr_ipv4"], egress["to_port"]) == (
        "sg-tasks",
        "10.0.0.0/16",
        5432,
    )
    assert "referenced_security_group_id" not in ingress and "referenced_security_group_id" not in egress


def test_security_group_is_tagged_with_its_name_and_has_no_inline_rules(synth_in_stack):
    doc = synth_in_stack(
        lambda stack: security_group(stack, "sg", name="gw-alb", description="ALB", vpc_id="vpc-1")
    )

    group = only(doc, "aws_security_group")
    assert (group["name"], group["tags"], group["vpc_id"]) == ("gw-alb", {"Name": "gw-alb"}, "vpc-1")
    assert "ingress" not in group and "egress" not in group
