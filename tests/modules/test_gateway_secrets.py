"""modules/gateway_secrets.py: LiteLLM keys generated at apply time, never in state."""

from __future__ import annotations

import json
import shutil

import pytest

from modules import cdk
from modules.gateway_secrets import GatewaySecrets, SecretsConfig


def by_name_suffix(doc: dict, kind: str, secret_suffix: str) -> dict:
    (secret,) = [s for s in doc["resource"][kind].values() if s["name"].endswith(secret_suffix)]
    return secret


def version_of(doc: dict, secret_suffix: str) -> dict:
    (secret_id,) = [
        n
        for n, s in doc["resource"]["aws_secretsmanager_secret"].items()
        if s["name"].endswith(secret_suffix)
    ]
    (version,) = [
        v
        for v in doc["resource"]["aws_secretsmanager_secret_version"].values()
        if v["secret_id"] == f"${{aws_secretsmanager_secret.{secret_id}.id}}"
    ]
    return version


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


def test_master_and_salt_keys_live_in_two_separate_secrets(doc):
    names = sorted(s["name"] for s in doc["resource"]["aws_secretsmanager_secret"].values())

    assert names == ["gw-test/litellm-master-key", "gw-test/litellm-salt-key"]


def test_both_secrets_are_encrypted_with_the_rotating_customer_key(doc):
    (key_name,) = doc["resource"]["aws_kms_key"]

    for secret in doc["resource"]["aws_secretsmanager_secret"].values():
        assert secret["kms_key_id"] == f"${{aws_kms_key.{key_name}.arn}}"
    assert doc["resource"]["aws_kms_key"][key_name]["enable_key_rotation"] is True


def test_deleted_secrets_stay_recoverable_by_default(doc):
    for secret in doc["resource"]["aws_secretsmanager_secret"].values():
        assert secret["recovery_window_in_days"] == 30


def test_secret_values_are_write_only_and_come_from_ephemeral_passwords(doc):
    for suffix, json_key in (("master-key", "LITELLM_MASTER_KEY"), ("salt-key", "LITELLM_SALT_KEY")):
        version = version_of(doc, suffix)
        assert "secret_string" not in version
        assert "secret_binary" not in version
        assert version["secret_string_wo"].startswith(f'${{jsonencode({{"{json_key}" = "sk-${{ephemeral.')
        assert ".random_password}" in version["secret_string_wo"]


def test_each_secret_gets_its_own_ephemeral_password(doc):
    passwords = doc["ephemeral"]["aws_secretsmanager_random_password"]
    referenced = {
        name
        for name in passwords
        for v in doc["resource"]["aws_secretsmanager_secret_version"].values()
        if f"ephemeral.aws_secretsmanager_random_password.{name}.random_password" in v["secret_string_wo"]
    }

    assert len(passwords) == 2
    assert referenced == set(passwords)


def test_generated_keys_are_long_and_header_safe(doc):
    for password in doc["ephemeral"]["aws_secretsmanager_random_password"].values():
        assert password["password_length"] >= 32
        assert password["exclude_punctuation"] is True
        assert password["include_space"] is False


def test_nothing_that_lands_in_state_generates_a_value(doc):
    assert "aws_secretsmanager_random_password" not in doc.get("data", {})
    assert "sk-" not in json.dumps(doc.get("resource", {})).replace('"sk-${ephemeral.', "")


def test_rotating_the_master_key_bumps_only_the_master_write_only_version(doc, rotated_doc):
    assert version_of(doc, "master-key")["secret_string_wo_version"] == 1
    assert version_of(rotated_doc, "master-key")["secret_string_wo_version"] == 3
    assert version_of(rotated_doc, "salt-key")["secret_string_wo_version"] == 1
    assert version_of(rotated_doc, "salt-key") == version_of(doc, "salt-key")


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


@pytest.mark.slow
def test_stack_with_ephemeral_passwords_passes_terraform_validate(doc, tmp_path):
    """The raw `ephemeral` block is not checked by cdktf: only Terraform can say it is valid."""
    if shutil.which("terraform") is None:
        print("SKIP reason: terraform is not on PATH")
        pytest.skip("terraform is not on PATH")
    from pipeline.terraform import terraform, terraform_env

    (tmp_path / "cdk.tf.json").write_text(json.dumps(doc))
    env = terraform_env()
    terraform(["init", "-backend=false", "-no-color"], tmp_path, env=env, capture=True)
    result = terraform(["validate", "-json", "-no-color"], tmp_path, env=env, capture=True, check=False)

    report = json.loads(result.stdout)
    assert report["valid"] is True, report["diagnostics"]
