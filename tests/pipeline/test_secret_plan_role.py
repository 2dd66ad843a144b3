"""The plan role (docs/iam/plan-role.json) against what a plan really calls, and what it must not read.

A pull request's plan runs PR-controlled code with this role, so the role must
be able to plan (every call a real plan makes, recorded by the emulator, is
allowed) and read nothing secret: no secret value, no parameter, no decryption,
no log line, no object but its own environment's state (which holds no secret:
test_secret_grep.py).
"""

from __future__ import annotations

import json

import pytest

from pipeline import plan_role

ROOT = plan_role.ROOT
ENVIRONMENTS = sorted(p.parent.name for p in (ROOT / "environments").glob("*/config.yaml"))
SECRET = "arn:aws:secretsmanager:us-east-1:222222222222:secret:llm-gateway-prod/litellm-master-key-AbCdEf"


def documents(environment: str) -> list[dict]:
    return [
        *plan_role.managed_policy_documents(),
        plan_role.for_environment(ROOT / "environments" / environment),
    ]


def state_of(environment: str) -> tuple[str, str]:
    from modules.config import load

    state = load(ROOT / "environments" / environment).state
    return state.bucket, state.key


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("secretsmanager:GetSecretValue", SECRET),
        ("secretsmanager:BatchGetSecretValue", "*"),
        ("ssm:GetParameter", "arn:aws:ssm:us-east-1:222222222222:parameter/any"),
        ("kms:Decrypt", "arn:aws:kms:us-east-1:222222222222:key/any"),
        ("logs:GetLogEvents", "arn:aws:logs:us-east-1:222222222222:log-group:/ecs/llm-gateway-prod:*"),
        ("logs:StartQuery", "*"),
        ("ecr:BatchGetImage", "arn:aws:ecr:us-east-1:111111111111:repository/llm-gateway-dev"),
        ("elasticache:Connect", "*"),
        ("rds-db:connect", "*"),
        ("bedrock:InvokeModel", "*"),
    ],
)
def test_the_plan_role_reads_no_secret_and_no_data(environment, action, resource):
    assert not plan_role.may_allow(documents(environment), action, resource)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_plan_role_reads_its_own_state_only_and_never_writes_it(environment):
    bucket, key = state_of(environment)
    docs = documents(environment)

    assert plan_role.allowed(docs, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")
    assert plan_role.allowed(docs, "s3:ListBucket", f"arn:aws:s3:::{bucket}")
    assert plan_role.allowed(docs, "s3:PutObject", f"arn:aws:s3:::{bucket}/{key}.tflock")  # the lock only
    assert not plan_role.may_allow(docs, "s3:PutObject", f"arn:aws:s3:::{bucket}/{key}")
    assert not plan_role.may_allow(docs, "s3:GetObject", f"arn:aws:s3:::{bucket}/other/terraform.tfstate")
    for other in ENVIRONMENTS:
        other_bucket, other_key = state_of(other)
        if other != environment:
            assert not plan_role.may_allow(docs, "s3:GetObject", f"arn:aws:s3:::{other_bucket}/{other_key}")


def test_the_evaluation_lets_an_explicit_deny_win_and_needs_an_allow():
    conditional = {
        "Statement": [
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*", "Condition": {"Bool": {}}}
        ]
    }
    assert plan_role.may_allow([conditional], "s3:PutObject") and not plan_role.allowed(
        [conditional], "s3:PutObject"
    )

    allow = {"Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}
    deny = {"Statement": {"Effect": "Deny", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b/k"}}

    assert plan_role.allowed([allow], "s3:GetObject", "arn:aws:s3:::b/x")
    assert not plan_role.allowed([allow, deny], "s3:GetObject", "arn:aws:s3:::b/x")
    assert plan_role.allowed([allow, deny], "s3:GetObject", "arn:aws:s3:::b/k")
    assert not plan_role.allowed([deny], "s3:GetObject", "arn:aws:s3:::b/k")


def test_the_command_line_renders_the_policy_for_an_environment(capsys):
    bucket, key = state_of("prod")
    assert plan_role.main(["prod"]) == 0
    rendered = json.loads(capsys.readouterr().out)
    assert rendered["managed_policy_arns"] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    assert f"arn:aws:s3:::{bucket}/{key}" in json.dumps(rendered["inline_policy"])
    assert "${" not in json.dumps(rendered)


def test_docs_point_at_the_one_policy_file_instead_of_restating_it():
    gitops = (ROOT / "docs" / "gitops.md").read_text()
    assert "docs/iam/plan-role.json" in gitops or "iam/plan-role.json" in gitops


# ---------------------------------------------------------------- against a real plan
pytestmark_slow = pytest.mark.slow


@pytestmark_slow
def test_the_recording_holds_the_reads_of_a_real_plan(applied_stack):
    """The check below is only as good as the recording: it must see the provider's reads."""
    actions = plan_role.recorded_actions(applied_stack.recording)
    assert {"elasticache:DescribeReplicationGroups", "ecs:DescribeServices", "iam:GetRole"} <= actions
    assert not [a for a in actions if ":?" in a], "requests whose operation was not recognised"


@pytestmark_slow
def test_a_pull_request_plan_needs_nothing_else_the_plan_role_does_not_allow(applied_stack):
    """Every call a plan against deployed state makes is allowed, with no exception."""
    docs = documents("dev")
    actions = plan_role.recorded_actions(applied_stack.recording)
    assert sorted(a for a in actions if not plan_role.allowed(docs, a)) == []


@pytestmark_slow
def test_a_plan_reads_no_secret_value(applied_stack):
    """The key secrets hold values (seeded after apply), yet refreshing the stack reads none of them."""
    assert {"LITELLM_MASTER_KEY", "LITELLM_SALT_KEY"} <= {k.rsplit(":", 1)[1] for k in applied_stack.secrets}
    actions = plan_role.recorded_actions(applied_stack.recording)
    assert "secretsmanager:DescribeSecret" in actions  # the secrets themselves are refreshed
    assert not {"secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue"} & actions
