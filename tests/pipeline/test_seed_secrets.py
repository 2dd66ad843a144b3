"""pipeline.seed_secrets: the apply job writes the LiteLLM key values the stack's secrets declare.

Against moto's Secrets Manager, with the two secrets created exactly as the
synthesized stack declares them (name, tags) and no version, as Terraform leaves
them. Every run is watched for GetSecretValue: the step must never read a value.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from modules.gateway_secrets import GatewaySecrets, SecretsConfig
from modules.secret_tags import GENERATION_TAG
from pipeline import seed_secrets

REGION = "us-east-1"
KEY = re.compile(r"sk-[A-Za-z0-9]{48}")


@pytest.fixture(scope="module")
def declared() -> list[dict]:
    """The aws_secretsmanager_secret resources of a synthesized GatewaySecrets (name and tags)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from cdktf_cdktf_provider_aws.provider import AwsProvider

    from modules import cdk

    stack = cdk.TerraformStack(cdk.Testing.app(), "test")
    AwsProvider(stack, "aws", region=REGION)
    GatewaySecrets(stack, "secrets", config=SecretsConfig(name="gw-test"))
    doc = json.loads(cdk.Testing.synth(stack))
    assert "aws_secretsmanager_secret_version" not in doc["resource"]
    return sorted(doc["resource"]["aws_secretsmanager_secret"].values(), key=lambda s: s["name"])


@pytest.fixture
def aws(monkeypatch, declared, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        arns = {
            s["name"].rsplit("/", 1)[1]: client.create_secret(
                Name=s["name"], Tags=[{"Key": k, "Value": v} for k, v in s["tags"].items()]
            )["ARN"]
            for s in declared
        }
        outputs = {
            "master_key_secret_arn": arns["litellm-master-key"],
            "salt_key_secret_arn": arns["litellm-salt-key"],
        }
        (tmp_path / "dev.outputs.json").write_text(json.dumps(outputs))
        yield client, arns


def forbid_value_reads(monkeypatch) -> list[str]:
    """Every client the step creates refuses GetSecretValue (and says so in the returned list)."""
    reads: list[str] = []
    real = boto3.client

    def refuse(**kwargs):
        reads.append("GetSecretValue")
        raise AssertionError("seed_secrets read a secret value")

    def client(service, *args, **kwargs):
        made = real(service, *args, **kwargs)
        made.meta.events.register("before-call.secretsmanager.GetSecretValue", refuse)
        made.meta.events.register("before-call.secretsmanager.BatchGetSecretValue", refuse)
        return made

    monkeypatch.setattr(boto3, "client", client)
    return reads


def run(monkeypatch, tmp_path, capsys) -> tuple[int, str]:
    with monkeypatch.context() as patched:
        reads = forbid_value_reads(patched)
        code = seed_secrets.main(["dev", "--out-dir", str(tmp_path)])
    assert reads == []
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def versions(client, arn: str) -> dict[str, list[str]]:
    return client.describe_secret(SecretId=arn).get("VersionIdsToStages") or {}


def value(client, arn: str) -> dict:
    return json.loads(client.get_secret_value(SecretId=arn)["SecretString"])


def set_generation(client, arn: str, generation: int) -> None:
    client.tag_resource(SecretId=arn, Tags=[{"Key": GENERATION_TAG, "Value": str(generation)}])


def test_a_first_run_writes_both_keys_in_the_shape_ecs_selects_without_printing_them(
    aws, monkeypatch, tmp_path, capsys
):
    client, arns = aws
    code, printed = run(monkeypatch, tmp_path, capsys)

    assert code == 0, printed
    master, salt = value(client, arns["litellm-master-key"]), value(client, arns["litellm-salt-key"])
    assert list(master) == ["LITELLM_MASTER_KEY"] and KEY.fullmatch(master["LITELLM_MASTER_KEY"])
    assert list(salt) == ["LITELLM_SALT_KEY"] and KEY.fullmatch(salt["LITELLM_SALT_KEY"])
    assert master["LITELLM_MASTER_KEY"] != salt["LITELLM_SALT_KEY"]
    assert list(versions(client, arns["litellm-master-key"]).values()) == [["AWSCURRENT", "generation-1"]]
    assert list(versions(client, arns["litellm-salt-key"]).values()) == [["AWSCURRENT"]]
    for secret in (master["LITELLM_MASTER_KEY"], salt["LITELLM_SALT_KEY"]):
        assert secret not in printed and secret[3:] not in printed
    # The secret names are printed, and "written" twice (their values never).
    assert printed.count(": written (") == 2


def test_the_smoke_key_secret_is_left_empty_for_the_admin_task(aws, monkeypatch, tmp_path, capsys):
    client, arns = aws
    code, printed = run(monkeypatch, tmp_path, capsys)

    assert code == 0, printed
    assert versions(client, arns["deploy-smoke-key"]) == {}  # `admin smoke-key` writes it, never the seed


def test_a_second_run_writes_nothing(aws, monkeypatch, tmp_path, capsys):
    client, arns = aws
    run(monkeypatch, tmp_path, capsys)
    seeded = {name: arn for name, arn in arns.items() if name != "deploy-smoke-key"}
    before = {name: (versions(client, arn), value(client, arn)) for name, arn in seeded.items()}

    code, printed = run(monkeypatch, tmp_path, capsys)

    assert code == 0
    assert {name: (versions(client, arn), value(client, arn)) for name, arn in seeded.items()} == before
    assert printed.count(": unchanged (") == 2 and ": written" not in printed


def test_a_bumped_master_key_version_writes_exactly_one_new_master_value_and_never_the_salt(
    aws, monkeypatch, tmp_path, capsys
):
    client, arns = aws
    master_arn, salt_arn = arns["litellm-master-key"], arns["litellm-salt-key"]
    run(monkeypatch, tmp_path, capsys)
    old_master, salt_before = value(client, master_arn), (versions(client, salt_arn), value(client, salt_arn))
    set_generation(client, master_arn, 2)  # what the stack's tag says after master_key_version: 2 is applied

    code, printed = run(monkeypatch, tmp_path, capsys)
    again, _ = run(monkeypatch, tmp_path, capsys)

    assert code == 0 and again == 0
    stages = versions(client, master_arn)
    assert len(stages) == 2
    assert ["AWSCURRENT", "generation-2"] in stages.values()
    new_master = value(client, master_arn)["LITELLM_MASTER_KEY"]
    assert KEY.fullmatch(new_master) and new_master != old_master["LITELLM_MASTER_KEY"]
    assert (versions(client, salt_arn), value(client, salt_arn)) == salt_before
    assert "rotated" in printed and new_master not in printed


def test_the_salt_is_never_rewritten_once_it_has_a_value(aws, monkeypatch, tmp_path, capsys):
    client, arns = aws
    salt_arn = arns["litellm-salt-key"]
    client.put_secret_value(
        SecretId=salt_arn, SecretString=json.dumps({"LITELLM_SALT_KEY": "sk-" + "s" * 48})
    )
    before = versions(client, salt_arn)

    for _ in range(2):
        code, _ = run(monkeypatch, tmp_path, capsys)
        assert code == 0

    assert versions(client, salt_arn) == before
    assert value(client, salt_arn) == {"LITELLM_SALT_KEY": "sk-" + "s" * 48}


def test_a_value_the_stack_wrote_before_is_kept_and_labelled_generation_1(aws, monkeypatch, tmp_path, capsys):
    """Stacks deployed when Terraform wrote the versions: the current master key is adopted, not rotated."""
    client, arns = aws
    master_arn = arns["litellm-master-key"]
    existing = {"LITELLM_MASTER_KEY": "sk-" + "m" * 48}
    client.put_secret_value(SecretId=master_arn, SecretString=json.dumps(existing))

    code, printed = run(monkeypatch, tmp_path, capsys)

    assert code == 0 and "labelled" in printed
    assert value(client, master_arn) == existing
    assert sorted(next(iter(versions(client, master_arn).values()))) == ["AWSCURRENT", "generation-1"]


def test_a_lowered_master_key_version_is_refused_naming_the_secret(aws, monkeypatch, tmp_path, capsys):
    client, arns = aws
    master_arn = arns["litellm-master-key"]
    set_generation(client, master_arn, 3)
    run(monkeypatch, tmp_path, capsys)
    set_generation(client, master_arn, 2)

    code, printed = run(monkeypatch, tmp_path, capsys)

    assert code == 1
    assert (
        "gw-test/litellm-master-key" in printed and "generation-3" in printed and "only increase" in printed
    )


def test_missing_apply_outputs_are_a_one_line_error(aws, monkeypatch, tmp_path, capsys):
    (tmp_path / "dev.outputs.json").write_text(json.dumps({"gateway_url": "https://x"}))

    code, printed = run(monkeypatch, tmp_path, capsys)

    assert code == 1
    assert printed.startswith("error: dev: ") and "master_key_secret_arn, salt_key_secret_arn" in printed


def test_a_write_forces_a_new_deployment_of_the_service(aws, monkeypatch, tmp_path, capsys):
    """Tasks read their secrets when they start: the first value (or a rotated one) needs new tasks."""
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="gw")
    ecs.register_task_definition(
        family="gw", containerDefinitions=[{"name": "gw", "image": "x", "memory": 512}]
    )
    ecs.create_service(cluster="gw", serviceName="gw", taskDefinition="gw", desiredCount=0)
    outputs = json.loads((tmp_path / "dev.outputs.json").read_text())
    (tmp_path / "dev.outputs.json").write_text(
        json.dumps({**outputs, "ecs_cluster_name": "gw", "ecs_service_name": "gw"})
    )
    calls: list[dict] = []
    real = seed_secrets.redeploy
    monkeypatch.setattr(seed_secrets, "redeploy", lambda e, o: calls.append(o) or real(e, o))

    first, printed = run(monkeypatch, tmp_path, capsys)
    second, _ = run(monkeypatch, tmp_path, capsys)

    assert first == 0 and second == 0
    assert len(calls) == 1  # the second run wrote nothing, so it redeployed nothing
    assert "new deployment of gw/gw forced" in printed


def test_the_stage_workflow_seeds_right_after_apply_and_before_migrate():
    import yaml

    stage = yaml.safe_load((Path(__file__).parents[2] / ".github/workflows/stage.yml").read_text())
    runs = [step.get("run", "") for step in stage["jobs"]["apply"]["steps"]]
    at = {
        name: next(i for i, run in enumerate(runs) if marker in run)
        for name, marker in (
            ("apply", "nox -s apply"),
            ("seed", "-m pipeline.seed_secrets"),
            ("migrate", "-m pipeline.migrate"),
        )
    }
    assert at["apply"] + 1 == at["seed"] < at["migrate"]
    assert "pipeline.seed_secrets" not in json.dumps(stage["jobs"]["plan"])  # never under the plan role
