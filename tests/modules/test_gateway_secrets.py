"""modules/gateway_secrets.py: the LiteLLM key secrets, empty in Terraform (seed_secrets writes them)."""

from __future__ import annotations

import json

import pytest

from modules import cdk
from modules.gateway_secrets import GatewaySecrets, SecretsConfig
from modules.secret_tags import GENERATION_TAG, JSON_KEY_TAG, KEY_LENGTH_TAG


def by_name_suffix(doc: dict, kind: str, secret_suffix: str) -> dict:
    (secret,) = [s for s in doc["resource"][kind].values() if s["name"].endswith(secret_suffix)]
    return secret


def build_secrets(config: SecretsConfig):
    def build(stack):
        secrets = GatewaySecrets(stack, "secrets", config=config)
        for attr in ("kms_key_arn", "master_key_secret_arn", "salt_key_secret_arn"):
            cdk.TerraformOutput(stack, attr, value=getattr(secrets, attr))

    return build


@pytest.fixture(scope="module")
def doc(synth_in_stack) -> dict:
    return synth_in_stack(build_secrets(SecretsConfig(name="gw-test")))


@pytest.fixture(scope="module")
def rotated_doc(synth_in_stack) -> dict:
    return synth_in_stack(build_secrets(SecretsConfig(name="gw-test", master_key_version=3)))


def test_master_and_salt_keys_live_in_two_separate_secrets_beside_the_smoke_key(doc):
    names = sorted(s["name"] for s in doc["resource"]["aws_secretsmanager_secret"].values())

    assert names == ["gw-test/deploy-smoke-key", "gw-test/litellm-master-key", "gw-test/litellm-salt-key"]


def test_the_smoke_key_secret_is_empty_and_declares_nothing_for_the_seed_step(doc):
    """The admin task writes it (`admin smoke-key`); pipeline.seed_secrets writes only tagged secrets."""
    smoke = by_name_suffix(doc, "aws_secretsmanager_secret", "deploy-smoke-key")

    assert smoke["tags"] == {"llm-gateway:written-by": "admin smoke-key"}
    assert smoke["recovery_window_in_days"] == 30


def test_both_secrets_are_encrypted_with_the_rotating_customer_key(doc):
    (key_name,) = doc["resource"]["aws_kms_key"]

    for secret in doc["resource"]["aws_secretsmanager_secret"].values():
        assert secret["kms_key_id"] == f"${{aws_kms_key.{key_name}.arn}}"
    assert doc["resource"]["aws_kms_key"][key_name]["enable_key_rotation"] is True


def test_deleted_secrets_stay_recoverable_by_default(doc):
    for secret in doc["resource"]["aws_secretsmanager_secret"].values():
        assert secret["recovery_window_in_days"] == 30


def test_terraform_writes_no_secret_value_and_generates_none(doc):
    """No version and no generator: a plan against deployed state then reads no secret value."""
    assert "aws_secretsmanager_secret_version" not in doc["resource"]
    assert "ephemeral" not in doc and "aws_secretsmanager_random_password" not in doc.get("data", {})
    assert "sk-" not in json.dumps(doc)


def test_each_secret_declares_the_value_seed_secrets_writes(doc):
    master = by_name_suffix(doc, "aws_secretsmanager_secret", "master-key")["tags"]
    salt = by_name_suffix(doc, "aws_secretsmanager_secret", "salt-key")["tags"]

    assert master == {JSON_KEY_TAG: "LITELLM_MASTER_KEY", KEY_LENGTH_TAG: "48", GENERATION_TAG: "1"}
    assert salt == {JSON_KEY_TAG: "LITELLM_SALT_KEY", KEY_LENGTH_TAG: "48"}  # no generation: never rotated


def test_rotating_the_master_key_changes_only_the_master_generation_tag(doc, rotated_doc):
    assert (
        by_name_suffix(rotated_doc, "aws_secretsmanager_secret", "master-key")["tags"][GENERATION_TAG] == "3"
    )
    assert by_name_suffix(rotated_doc, "aws_secretsmanager_secret", "salt-key") == by_name_suffix(
        doc, "aws_secretsmanager_secret", "salt-key"
    )


def test_key_may_be_used_only_through_secrets_manager(doc):
    policy = json.loads(next(iter(doc["resource"]["aws_kms_key"].values()))["policy"])
    use = {s["Sid"]: s for s in policy["Statement"]}["AccountUsesKeyThroughServices"]

    assert use["Condition"]["StringEquals"]["kms:ViaService"] == [
        "secretsmanager.${data.aws_region.account_region.name}.amazonaws.com"
    ]
    assert "kms:Decrypt" in use["Action"]


def test_disposable_environment_may_delete_secrets_at_once(synth_in_stack):
    doc = synth_in_stack(build_secrets(SecretsConfig(name="gw-test", recovery_window_days=0)))

    assert {s["recovery_window_in_days"] for s in doc["resource"]["aws_secretsmanager_secret"].values()} == {
        0
    }


def test_attributes_point_at_the_two_secrets_and_the_key(doc):
    outputs = {name: out["value"] for name, out in doc["output"].items()}
    secrets = {s["name"]: n for n, s in doc["resource"]["aws_secretsmanager_secret"].items()}
    (key_name,) = doc["resource"]["aws_kms_key"]

    assert (
        outputs["master_key_secret_arn"]
        == f"${{aws_secretsmanager_secret.{secrets['gw-test/litellm-master-key']}.arn}}"
    )
    assert (
        outputs["salt_key_secret_arn"]
        == f"${{aws_secretsmanager_secret.{secrets['gw-test/litellm-salt-key']}.arn}}"
    )
    assert outputs["kms_key_arn"] == f"${{aws_kms_key.{key_name}.arn}}"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"recovery_window_days": 3}, "recovery_window_days=3"),
        ({"master_key_version": 0}, "master_key_version=0"),
        ({"key_length": 16}, "key_length=16"),
    ],
)
def test_unsafe_secret_settings_are_refused(change, message):
    stack = cdk.TerraformStack(cdk.Testing.app(), "test")

    with pytest.raises(ValueError, match=message):
        GatewaySecrets(stack, "secrets", config=SecretsConfig(name="gw-test", **change))
