"""The leftover inventory: what a destroy must have removed, measured against a baseline."""

from __future__ import annotations

from pipeline.aws_emulator import inventory


def _client(emulator):
    return lambda service: emulator.client(service)


def test_moto_defaults_are_not_leftovers(emulator):
    baseline = inventory.take(_client(emulator))
    assert inventory.leftovers(baseline, inventory.take(_client(emulator))) == {}
    assert baseline["ec2:vpc"]  # the default VPC is there, and ignored


def test_a_resource_created_after_the_baseline_is_a_leftover(emulator):
    baseline = inventory.take(_client(emulator))
    vpc = emulator.client("ec2").create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    left = inventory.leftovers(baseline, inventory.take(_client(emulator)))
    assert left["ec2:vpc"] == {vpc}


def test_a_kms_key_pending_deletion_counts_as_gone(emulator):
    baseline = inventory.take(_client(emulator))
    kms = emulator.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert "kms:key" not in inventory.leftovers(baseline, inventory.take(_client(emulator)))


def test_a_secret_in_its_recovery_window_counts_as_gone(emulator):
    baseline = inventory.take(_client(emulator))
    secrets = emulator.client("secretsmanager")
    secrets.create_secret(Name="gw", SecretString="x")
    secrets.delete_secret(SecretId="gw", RecoveryWindowInDays=7)
    assert "secretsmanager:secret" not in inventory.leftovers(baseline, inventory.take(_client(emulator)))


def test_a_guardrail_is_inventoried(emulator):
    baseline = inventory.take(_client(emulator))
    emulator.client("bedrock").create_guardrail(
        name="g",
        blockedInputMessaging="in",
        blockedOutputsMessaging="out",
        wordPolicyConfig={"managedWordListsConfig": [{"type": "PROFANITY"}]},
    )
    assert len(inventory.leftovers(baseline, inventory.take(_client(emulator)))["bedrock:guardrail"]) == 1
