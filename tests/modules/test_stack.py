"""modules/stack.py and main.py: one valid stack per environment, wired to its config, with its outputs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from modules.config import load
from modules.secret_tags import GENERATION_TAG
from modules.stack import EMULATED_SERVICES, GatewayStack

ROOT = Path(__file__).resolve().parents[2]
REQUIRED_OUTPUTS = {"alb_dns_name", "gateway_url", "ecr_repository_url", "guardrail_id", "guardrail_version"}


def one(doc: dict, kind: str) -> dict:
    (item,) = doc["resource"][kind].values()
    return item


def container(doc: dict, family: str) -> dict:
    (task,) = [t for t in doc["resource"]["aws_ecs_task_definition"].values() if t["family"] == family]
    (definition,) = json.loads(task["container_definitions"])
    return definition


# ---------------------------------------------------------------- one stack per environment
def test_every_environment_folder_becomes_a_stack(synthesized) -> None:
    folders = {p.name for p in (ROOT / "environments").iterdir() if p.is_dir()}
    assert set(synthesized) == folders >= {"dev", "prod"}
    assert {doc["//"]["metadata"]["stackName"] for doc in synthesized.values()} == {
        f"llm-gateway-{name}" for name in folders
    }


def test_a_new_environment_folder_synthesizes_a_new_stack(tmp_path: Path, capsys) -> None:
    import main

    staging = tmp_path / "environments" / "staging"
    staging.mkdir(parents=True)
    text = (ROOT / "environments" / "dev" / "config.yaml").read_text()
    (staging / "config.yaml").write_text(text.replace("llm-gateway/dev/", "llm-gateway/staging/"))
    code = main.main(["--environments-dir", str(staging.parent), "--out", str(tmp_path / "out")])
    doc = json.loads((tmp_path / "out" / "stacks" / "llm-gateway-staging" / "cdk.tf.json").read_text())
    assert code == 0 and doc["terraform"]["backend"]["s3"]["key"] == "llm-gateway/staging/terraform.tfstate"
    assert "built llm-gateway-staging in" in capsys.readouterr().out


def test_the_alb_idle_timeout_comes_from_the_environment_file(tmp_path: Path, dev, prod) -> None:
    import main

    # Not set in the shipped files: the schema's default, longer than a streamed answer.
    for doc in (dev, prod):
        assert one(doc, "aws_lb")["idle_timeout"] == 300
    staging = tmp_path / "environments" / "staging"
    staging.mkdir(parents=True)
    text = (ROOT / "environments" / "dev" / "config.yaml").read_text()
    text = text.replace("llm-gateway/dev/", "llm-gateway/staging/")
    text = text.replace("\nedge:\n", "\nedge:\n  idle_timeout: 900\n")
    (staging / "config.yaml").write_text(text)
    assert main.main(["--environments-dir", str(staging.parent), "--out", str(tmp_path / "out")]) == 0
    doc = json.loads((tmp_path / "out" / "stacks" / "llm-gateway-staging" / "cdk.tf.json").read_text())
    assert one(doc, "aws_lb")["idle_timeout"] == 900


def test_the_master_key_generation_comes_from_the_environment_file(tmp_path: Path, dev) -> None:
    import main

    def generation(doc: dict) -> str:
        (master,) = [
            s
            for s in doc["resource"]["aws_secretsmanager_secret"].values()
            if s["name"].endswith("master-key")
        ]
        return master["tags"][GENERATION_TAG]

    assert generation(dev) == "1"  # not set in the shipped files: the schema's default
    staging = tmp_path / "environments" / "staging"
    staging.mkdir(parents=True)
    text = (ROOT / "environments" / "dev" / "config.yaml").read_text()
    text = text.replace("llm-gateway/dev/", "llm-gateway/staging/") + "\nsecrets:\n  master_key_version: 2\n"
    (staging / "config.yaml").write_text(text)
    assert main.main(["--environments-dir", str(staging.parent), "--out", str(tmp_path / "out")]) == 0
    doc = json.loads((tmp_path / "out" / "stacks" / "llm-gateway-staging" / "cdk.tf.json").read_text())
    assert generation(doc) == "2"


def test_state_lives_in_s3_encrypted_locked_and_per_environment(dev, prod) -> None:
    backends = [doc["terraform"]["backend"]["s3"] for doc in (dev, prod)]
    assert all(b["encrypt"] is True and b["use_lockfile"] is True for b in backends)
    assert backends[0]["key"] == "llm-gateway/dev/terraform.tfstate"
    assert backends[0]["key"] != backends[1]["key"]


def test_provider_is_pinned_to_the_account_region_and_tags(prod) -> None:
    (provider,) = prod["provider"]["aws"]
    assert provider["region"] == "us-east-1" and provider["allowed_account_ids"] == ["222222222222"]
    tags = provider["default_tags"][0]["tags"]
    assert tags["project"] == "llm-gateway" and tags["environment"] == "prod"
    assert tags["data-classification"] == "confidential"
    assert "endpoints" not in provider and "skip_credentials_validation" not in provider


def test_required_outputs_exist(dev, prod) -> None:
    assert set(dev["output"]) >= REQUIRED_OUTPUTS and set(prod["output"]) >= REQUIRED_OUTPUTS


def test_gateway_url_is_https_in_every_environment_with_a_certificate(dev, prod) -> None:
    # Both have one; an environment without needs edge.allow_plaintext (tests/modules/test_edge.py).
    assert dev["output"]["gateway_url"]["value"].startswith("https://${aws_lb.")
    assert prod["output"]["gateway_url"]["value"].startswith("https://${aws_lb.")


def test_https_listener_beside_the_redirecting_http_one_where_a_certificate_is_configured(dev, prod) -> None:
    assert {x["protocol"] for x in dev["resource"]["aws_lb_listener"].values()} == {"HTTP", "HTTPS"}
    assert {x["protocol"] for x in prod["resource"]["aws_lb_listener"].values()} == {"HTTP", "HTTPS"}


def test_nat_gateways_follow_the_config(dev, prod) -> None:
    assert len(dev["resource"]["aws_nat_gateway"]) == 1
    assert len(prod["resource"]["aws_nat_gateway"]) == 3


def test_prod_is_protected_from_deletion_and_dev_is_not(dev, prod) -> None:
    assert one(prod, "aws_lb")["enable_deletion_protection"] is True
    assert one(prod, "aws_rds_cluster")["deletion_protection"] is True
    assert one(dev, "aws_lb")["enable_deletion_protection"] is False
    assert one(dev, "aws_rds_cluster")["deletion_protection"] is False


def test_secrets_of_a_disposable_environment_are_deleted_at_once(dev, prod) -> None:
    def windows(doc: dict) -> set[int]:
        return {s["recovery_window_in_days"] for s in doc["resource"]["aws_secretsmanager_secret"].values()}

    assert windows(dev) == {0} and windows(prod) == {30}


def test_sizes_come_from_the_config(prod) -> None:
    task = [
        t for t in prod["resource"]["aws_ecs_task_definition"].values() if t["family"] == "llm-gateway-prod"
    ]
    assert (task[0]["cpu"], task[0]["memory"]) == ("2048", "4096")
    target = one(prod, "aws_appautoscaling_target")
    assert (target["min_capacity"], target["max_capacity"]) == (3, 12)
    scaling = one(prod, "aws_rds_cluster")["serverlessv2_scaling_configuration"]
    assert (scaling["min_capacity"], scaling["max_capacity"]) == (1, 16)


# ---------------------------------------------------------------- wiring between constructs
def test_container_points_at_the_stacks_database_cache_and_guardrail(dev) -> None:
    env = {e["name"]: e["value"] for e in container(dev, "llm-gateway-dev")["environment"]}
    assert env["DATABASE_HOST"].startswith("${aws_rds_cluster.") and env["DATABASE_HOST"].endswith(
        ".endpoint}"
    )
    assert env["REDIS_HOST"].startswith("${aws_elasticache_replication_group.")
    assert env["GUARDRAIL_ID"].startswith("${aws_bedrock_guardrail.")
    assert env["GUARDRAIL_VERSION"].startswith("${aws_bedrock_guardrail_version.")
    assert env["GATEWAY_ENVIRONMENT"] == "dev" and env["PHOENIX_PROJECT_NAME"] == "llm-gateway-dev"


# ---------------------------------------------------------------- one image, two accounts
DEV_REPOSITORY_URL = "111111111111.dkr.ecr.us-east-1.amazonaws.com/llm-gateway-dev"


def test_prod_runs_images_from_devs_repository_and_owns_none(prod) -> None:
    assert not {k for k in prod["resource"] if k.startswith("aws_ecr_")}
    (expression,) = prod["locals"].values()
    assert f'"{DEV_REPOSITORY_URL}@${{var.image_tag}}"' in expression
    assert container(prod, "llm-gateway-prod")["image"] == f"${{local.{next(iter(prod['locals']))}}}"


def test_prod_execution_roles_pull_only_devs_repository(prod) -> None:
    statements = [
        statement
        for policy in prod["resource"]["aws_iam_role_policy"].values()
        for statement in json.loads(policy["policy"])["Statement"]
    ]
    pulls = [s["Resource"] for s in statements if s.get("Sid") == "PullGatewayImage"]
    assert (
        pulls == ["arn:aws:ecr:us-east-1:111111111111:repository/llm-gateway-dev"] * 3
    )  # serve, migrate, admin


def test_ecr_repository_url_is_where_each_environments_tasks_pull_from(dev, prod) -> None:
    assert prod["output"]["ecr_repository_url"]["value"] == DEV_REPOSITORY_URL
    assert dev["output"]["ecr_repository_url"]["value"].startswith("${aws_ecr_repository.")


def test_dev_lets_prods_account_pull_and_keeps_its_images(dev) -> None:
    (statement,) = json.loads(one(dev, "aws_ecr_repository_policy")["policy"])["Statement"]
    assert statement["Principal"]["AWS"] == [
        f"arn:${{data.aws_partition.account_partition.partition}}:iam::{account}:root"
        for account in ("222222222222", "333333333333")  # prod, staging
    ]
    assert statement["Action"] == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchGetImage",
    ]
    # prod runs these images: destroying dev must not delete them with the repository.
    assert one(dev, "aws_ecr_repository")["force_delete"] is False


def test_proxy_workers_follow_the_task_cpu_granted(dev, prod) -> None:
    """1 vCPU (dev) and 2 vCPU (prod) both get one worker: a second gained nothing on 2 cores."""
    workers = {
        name: {e["name"]: e["value"] for e in container(doc, f"llm-gateway-{name}")["environment"]}[
            "GATEWAY_WORKERS"
        ]
        for name, doc in (("dev", dev), ("prod", prod))
    }
    assert workers == {"dev": "1", "prod": "1"}


def test_both_environments_trace_to_phoenix_cloud_without_prompt_or_answer_text(dev, prod) -> None:
    for name, doc in (("dev", dev), ("prod", prod)):
        env = {e["name"]: e["value"] for e in container(doc, f"llm-gateway-{name}")["environment"]}
        assert env["PHOENIX_COLLECTOR_ENDPOINT"].startswith("https://app.phoenix.arize.com/")
        assert env["GATEWAY_TRACE_CONTENT"] == "false", name
        migrate = {e["name"] for e in container(doc, f"llm-gateway-{name}-migrate")["environment"]}
        assert "GATEWAY_TRACE_CONTENT" not in migrate  # migrations trace nothing


def test_a_collector_inside_the_vpc_gets_trace_content_unless_the_file_says_otherwise(tmp_path: Path) -> None:
    import main

    text = (ROOT / "environments" / "dev" / "config.yaml").read_text()
    text = text.replace("llm-gateway/dev/", "llm-gateway/stage/").replace(
        "https://app.phoenix.arize.com/v1/traces", "https://phoenix.llm-gateway.internal/v1/traces"
    )
    variants = {"stage": text.replace("content_capture: false", "content_capture: null"), "quiet": text}
    for name, variant in variants.items():
        (tmp_path / "environments" / name).mkdir(parents=True)
        (tmp_path / "environments" / name / "config.yaml").write_text(
            variant.replace("llm-gateway/stage/", f"llm-gateway/{name}/")
        )
    assert (
        main.main(["--environments-dir", str(tmp_path / "environments"), "--out", str(tmp_path / "out")]) == 0
    )
    content = {}
    for name in variants:
        doc = json.loads((tmp_path / "out" / "stacks" / f"llm-gateway-{name}" / "cdk.tf.json").read_text())
        env = {e["name"]: e["value"] for e in container(doc, f"llm-gateway-{name}")["environment"]}
        content[name] = env["GATEWAY_TRACE_CONTENT"]
    assert content == {"stage": "true", "quiet": "false"}


def test_request_limits_reach_the_serving_task_from_the_environment_file(dev, prod) -> None:
    for name, doc in (("dev", dev), ("prod", prod)):
        env = {e["name"]: e["value"] for e in container(doc, f"llm-gateway-{name}")["environment"]}
        expected = load(ROOT / "environments" / name).api.limits().to_env()
        assert {k: env[k] for k in expected} == expected, name
        assert env["GATEWAY_EXPOSE_INTERNAL_HEADERS"] == "false", name
        migrate = {e["name"] for e in container(doc, f"llm-gateway-{name}-migrate")["environment"]}
        assert not migrate & set(expected)  # migrations serve no requests


def test_catalogue_reaches_the_container_in_config_order(dev) -> None:
    env = {e["name"]: e["value"] for e in container(dev, "llm-gateway-dev")["environment"]}
    models = json.loads(env["GATEWAY_MODELS"])
    config = load(ROOT / "environments" / "dev")
    assert [(m["alias"], m["model_id"]) for m in models] == [(m.alias, m.model_id) for m in config.models]
    assert models[0]["fallbacks"] == ["nova-lite"]


def test_container_secrets_reference_the_stacks_secrets(dev) -> None:
    secrets = {s["name"]: s["valueFrom"] for s in container(dev, "llm-gateway-dev")["secrets"]}
    assert secrets["LITELLM_MASTER_KEY"].startswith("${aws_secretsmanager_secret.")
    # The master secret reaches the migration task only; serving tasks log in with IAM.
    assert "DATABASE_PASSWORD" not in secrets
    migrate = {s["name"]: s["valueFrom"] for s in container(dev, "llm-gateway-dev-migrate")["secrets"]}
    assert migrate["DATABASE_PASSWORD"].startswith("${aws_rds_cluster.")
    assert migrate["DATABASE_PASSWORD"].endswith(".master_user_secret[0].secret_arn}:password::")
    assert secrets["PHOENIX_API_KEY"].endswith("secret:llm-gateway/dev/phoenix-api-key-Q3v7Zk")


def test_task_role_gets_the_bedrock_and_cache_sign_in_policies_only(dev) -> None:
    (task_role,) = [
        k for k, r in dev["resource"]["aws_iam_role"].items() if r["name"] == "llm-gateway-dev-task"
    ]
    attached = [
        a["policy_arn"]
        for a in dev["resource"]["aws_iam_role_policy_attachment"].values()
        if a["role"] == f"${{aws_iam_role.{task_role}.name}}"
    ]
    assert len(attached) == 2
    assert {a.split(".")[1].split("_")[0] for a in attached} == {"bedrock", "cache"}


# ---------------------------------------------------------------- rules between groups that constructs own
def group_id(doc: dict, name: str) -> str:
    (key,) = [k for k, g in doc["resource"]["aws_security_group"].items() if g["name"] == name]
    return f"${{aws_security_group.{key}.id}}"


def group_rules(doc: dict, kind: str, name: str) -> list[dict]:
    group = group_id(doc, name)
    return [r for r in doc["resource"][kind].values() if r["security_group_id"] == group]


def test_the_alb_reaches_the_tasks_on_the_container_port_only(dev) -> None:
    (egress,) = group_rules(dev, "aws_vpc_security_group_egress_rule", "llm-gateway-dev-alb")
    (ingress,) = group_rules(dev, "aws_vpc_security_group_ingress_rule", "llm-gateway-dev-service")
    assert egress["referenced_security_group_id"] == group_id(dev, "llm-gateway-dev-service")
    assert ingress["referenced_security_group_id"] == group_id(dev, "llm-gateway-dev-alb")
    assert {(r["from_port"], r["to_port"]) for r in (egress, ingress)} == {(4000, 4000)}


@pytest.mark.parametrize(("group", "port"), [("database", 5432), ("cache", 6379)])
def test_the_data_tier_admits_the_tasks_and_nothing_else(dev, group: str, port: int) -> None:
    (ingress,) = group_rules(dev, "aws_vpc_security_group_ingress_rule", f"llm-gateway-dev-{group}")
    assert ingress["referenced_security_group_id"] == group_id(dev, "llm-gateway-dev-service")
    assert (ingress["from_port"], ingress["to_port"]) == (port, port) and "cidr_ipv4" not in ingress
    assert group_rules(dev, "aws_vpc_security_group_egress_rule", f"llm-gateway-dev-{group}") == []


def test_service_waits_for_its_listener_and_the_rules_that_forward_to_it(dev) -> None:
    service = one(dev, "aws_ecs_service")
    rules = [f"aws_lb_listener_rule.{name}" for name in dev["resource"]["aws_lb_listener_rule"]]
    # The forwarding listener: the one the rules hang on (not the one redirecting plain HTTP).
    (forwarding,) = {r["listener_arn"] for r in dev["resource"]["aws_lb_listener_rule"].values()}
    assert rules and service["depends_on"] == [forwarding.removeprefix("${").removesuffix(".arn}"), *rules]


def test_image_tag_variable_accepts_only_a_tag_or_digest(dev) -> None:
    variable = dev["variable"]["image_tag"]
    assert variable["type"] == "string" and "default" not in variable
    assert "sha256:[0-9a-f]{64}" in variable["validation"][0]["condition"]


def test_deployed_image_is_an_output_so_plans_can_keep_it(dev) -> None:
    assert dev["output"]["image_tag"]["value"] == "${var.image_tag}"


def test_the_smoke_key_outputs_name_the_secret_the_admin_task_writes_never_the_master_key(dev) -> None:
    """What the deploy smoke reads (stage.yml): the scoped key `admin smoke-key` writes (issue 17.5)."""
    arn, json_key = (
        dev["output"]["smoke_key_secret_arn"]["value"],
        dev["output"]["smoke_key_json_key"]["value"],
    )
    (admin,) = [
        c
        for t in dev["resource"]["aws_ecs_task_definition"].values()
        if t["family"].endswith("-admin")
        for c in json.loads(t["container_definitions"])
    ]
    env = {e["name"]: e["value"] for e in admin["environment"]}
    assert (env["GATEWAY_SMOKE_KEY_SECRET_ID"], json_key) == (arn, "key")
    masters = {
        s["valueFrom"]
        for c in _all_containers(dev)
        for s in c.get("secrets", [])
        if s["name"] == "LITELLM_MASTER_KEY"
    }
    assert masters and not any(m.startswith(arn) for m in masters)


def _all_containers(doc: dict) -> list[dict]:
    return [
        c
        for t in doc["resource"]["aws_ecs_task_definition"].values()
        for c in json.loads(t["container_definitions"])
    ]


def test_no_generated_secret_value_is_in_the_synthesized_json(synthesized) -> None:
    for doc in synthesized.values():
        text = json.dumps(doc)
        assert not re.search(r"sk-[A-Za-z0-9]{16,}", text)
        assert '"password":' not in text and "master_password" not in text


# ---------------------------------------------------------------- emulator mode
@pytest.fixture(scope="module")
def emulated(tmp_path_factory) -> tuple[dict, Path]:
    from modules import cdk

    state_dir = tmp_path_factory.mktemp("state")
    stack = GatewayStack(
        cdk.Testing.app(),
        "llm-gateway-dev",
        config=load(ROOT / "environments" / "dev"),
        aws_endpoint="http://127.0.0.1:5999",
        local_backend=state_dir,
    )
    return json.loads(cdk.Testing.synth(stack)), state_dir


def test_aws_endpoint_redirects_every_service_with_test_flags(emulated) -> None:
    doc, _ = emulated
    (provider,) = doc["provider"]["aws"]
    assert provider["endpoints"] == [dict.fromkeys(EMULATED_SERVICES, "http://127.0.0.1:5999")]
    assert provider["skip_credentials_validation"] is True and provider["skip_requesting_account_id"] is False
    assert provider["s3_use_path_style"] is True and provider["max_retries"] == 1
    assert "allowed_account_ids" not in provider


def test_local_backend_replaces_s3(emulated) -> None:
    doc, state_dir = emulated
    assert doc["terraform"]["backend"] == {
        "local": {"path": str(state_dir.resolve() / "llm-gateway-dev.tfstate")}
    }


# ---------------------------------------------------------------- Terraform accepts the stacks
@pytest.mark.slow
def test_every_stack_is_valid_terraform(synthesized, tmp_path: Path) -> None:
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed: cannot run terraform validate")
    from pipeline.terraform import provider_mirror, terraform_env

    if provider_mirror() is None:
        pytest.skip(
            "no provider mirror (TF_PROVIDER_MIRROR or /opt/tf-plugins): terraform init would download"
        )
    env = terraform_env()
    for name, doc in synthesized.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "cdk.tf.json").write_text(json.dumps(doc))
        for args in (["init", "-backend=false", "-input=false", "-no-color"], ["validate", "-no-color"]):
            result = subprocess.run(["terraform", *args], cwd=folder, env=env, capture_output=True, text=True)
            assert result.returncode == 0, f"{name}: terraform {args[0]}:\n{result.stdout}{result.stderr}"
