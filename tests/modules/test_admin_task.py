"""modules/admin_task.py: the `admin` one-off task, its two least-privilege roles, the stack's outputs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from compute_settings import settings
from test_service import APP_USER_ARN, MASTER, SALT, WIRING, role_policy, runtime, task_definition

from gateway import contract
from modules.admin_task import AdminTask, AdminTaskWiring
from modules.registry import PULL_ACTIONS
from modules.service import Service

SMOKE = "arn:aws:secretsmanager:us-east-1:111111111111:secret:gw-test/deploy-smoke-key-FFFFFF"
GATEWAY_KEY = "arn:aws:kms:us-east-1:111111111111:key/secrets"
ACCESS = "arn:aws:secretsmanager:us-east-1:111111111111:secret:gw-test/access/*"
ENVIRONMENTS = Path(__file__).resolve().parents[2] / "environments"
ADMIN_VARIABLES = {
    "GATEWAY_SMOKE_KEY_SECRET_ID": SMOKE,
    "GATEWAY_ACCESS_SECRET_PREFIX": "gw-test",
    "GATEWAY_ACCESS_KMS_KEY_ID": GATEWAY_KEY,
}


def admin_runtime():
    return dataclasses.replace(
        runtime(), smoke_key_secret_arn=SMOKE, access_secret_prefix="gw-test", access_kms_key_arn=GATEWAY_KEY
    )


def build(stack) -> None:
    wiring = dataclasses.replace(WIRING, runtime=admin_runtime())
    service = Service(stack, "compute", settings=settings(), wiring=wiring)
    AdminTask(
        stack,
        "admin",
        wiring=AdminTaskWiring(
            name="gw-test",
            region="us-east-1",
            account_id="111111111111",
            service=service,
            runtime=wiring.runtime,
            secrets_kms_key_arn=GATEWAY_KEY,
        ),
    )


@pytest.fixture(scope="module")
def doc(synth_in_stack) -> dict:
    return synth_in_stack(build)


def role_key(doc: dict, name: str) -> str:
    (key,) = [k for k, r in doc["resource"]["aws_iam_role"].items() if r["name"] == name]
    return key


# ---------------------------------------------------------------- the task definition
def test_by_default_the_task_runs_the_read_only_access_plan_of_its_environment(doc) -> None:
    task, container = task_definition(doc, "gw-test-admin")
    assert container["name"] == "gateway" and container["command"] == [
        "admin",
        "access",
        "plan",
        "--env",
        "test",
    ]
    _, serving_container = task_definition(doc, "gw-test")
    assert container["image"] == serving_container["image"]  # the image being served
    assert (task["cpu"], task["memory"], task["requires_compatibilities"]) == ("1024", "2048", ["FARGATE"])


def test_the_task_starts_python_ignoring_python_variables_and_the_service_the_images_entrypoint(doc) -> None:
    """An override of the task's environment must not run code before the admin command's own checks."""
    _, container = task_definition(doc, "gw-test-admin")
    assert container["entryPoint"] == ["python", "-E", "-u", "-B", "-m", "gateway.entrypoint"]
    _, serving = task_definition(doc, "gw-test")
    assert "entryPoint" not in serving


def test_the_task_listens_on_nothing_and_is_hardened_like_the_service(doc) -> None:
    _, container = task_definition(doc, "gw-test-admin")
    assert "portMappings" not in container and "healthCheck" not in container
    assert container["readonlyRootFilesystem"] is True and container["user"] == "10001:10001"
    assert container["linuxParameters"]["capabilities"]["drop"] == ["ALL"]


def test_logs_go_to_the_gateway_group_under_the_admin_stream_prefix(doc) -> None:
    _, container = task_definition(doc, "gw-test-admin")
    options = container["logConfiguration"]["options"]
    assert (options["awslogs-group"], options["awslogs-stream-prefix"]) == ("/gw/test", "admin")
    # Its lines are its report (pipeline.admin prints them): blocking mode drops none; serving never blocks.
    assert "mode" not in options
    _, serving = task_definition(doc, "gw-test")
    assert serving["logConfiguration"]["options"]["mode"] == "non-blocking"


def test_environment_is_the_contracts_admin_variables_with_the_serving_values_plus_where_output_goes(
    doc,
) -> None:
    _, container = task_definition(doc, "gw-test-admin")
    env = {e["name"]: e["value"] for e in container["environment"]}
    _, serving = task_definition(doc, "gw-test")
    serving_env = {e["name"]: e["value"] for e in serving["environment"]}
    shared = {k: v for k, v in env.items() if k not in ADMIN_VARIABLES}
    assert shared == {
        k: serving_env[k] for k in contract.passed_by_task("admin", "environment") if k in serving_env
    }
    assert {k: env[k] for k in ADMIN_VARIABLES} == ADMIN_VARIABLES
    # The database as the serving role does (IAM), and nothing for traffic.
    assert (env["DATABASE_USERNAME"], env["IAM_TOKEN_DB_AUTH"]) == ("litellm_app", "true")
    assert not {"GUARDRAIL_ID", "REDIS_HOST", "PHOENIX_COLLECTOR_ENDPOINT"} & set(env)


def test_secrets_are_the_master_and_salt_keys_only(doc) -> None:
    _, container = task_definition(doc, "gw-test-admin")
    assert {s["name"]: s["valueFrom"] for s in container["secrets"]} == {
        "LITELLM_MASTER_KEY": f"{MASTER}:LITELLM_MASTER_KEY::",
        "LITELLM_SALT_KEY": f"{SALT}:LITELLM_SALT_KEY::",
    }


def test_a_runtime_without_the_admin_fields_is_refused_naming_them() -> None:
    with pytest.raises(ValueError, match=r"GATEWAY_SMOKE_KEY_SECRET_ID.*smoke_key_secret_arn"):
        runtime().admin_environment_vars()


# ---------------------------------------------------------------- roles
def test_the_task_has_its_own_execution_and_task_roles(doc) -> None:
    task, _ = task_definition(doc, "gw-test-admin")
    serving, _ = task_definition(doc, "gw-test")
    assert task["execution_role_arn"] == f"${{aws_iam_role.{role_key(doc, 'gw-test-admin-execution')}.arn}}"
    assert task["task_role_arn"] == f"${{aws_iam_role.{role_key(doc, 'gw-test-admin-task')}.arn}}"
    assert (task["execution_role_arn"], task["task_role_arn"]) != (
        serving["execution_role_arn"],
        serving["task_role_arn"],
    )


def test_execution_role_pulls_logs_and_reads_only_the_secrets_it_injects(doc) -> None:
    statements = role_policy(doc, "gw-test-admin-execution")
    by_sid = {s["Sid"]: s for s in statements}
    assert set(by_sid) == {
        "EcrLogin",
        "PullGatewayImage",
        "WriteTaskLogs",
        "ReadTaskSecrets",
        "DecryptTaskSecrets",
    }
    assert by_sid["EcrLogin"] == {
        "Sid": "EcrLogin",
        "Effect": "Allow",
        "Action": "ecr:GetAuthorizationToken",
        "Resource": "*",
    }
    assert by_sid["PullGatewayImage"]["Action"] == PULL_ACTIONS
    assert by_sid["PullGatewayImage"]["Resource"].startswith("${aws_ecr_repository.")
    assert by_sid["WriteTaskLogs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert by_sid["WriteTaskLogs"]["Resource"] == "arn:aws:logs:us-east-1:111111111111:log-group:/gw/test:*"
    assert by_sid["ReadTaskSecrets"]["Action"] == "secretsmanager:GetSecretValue"
    assert sorted(by_sid["ReadTaskSecrets"]["Resource"]) == sorted([MASTER, SALT])
    assert by_sid["DecryptTaskSecrets"]["Action"] == "kms:Decrypt"
    assert by_sid["DecryptTaskSecrets"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}
    }


def test_task_role_statements_are_exactly_database_login_smoke_key_access_keys_and_the_gateway_key(
    doc,
) -> None:
    """Every action and resource of the task role, spelled out: no Bedrock, no other secret, no wildcard."""
    via_secrets_manager = {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}
    read_write = [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
    ]
    assert role_policy(doc, "gw-test-admin-task") == [
        {
            "Sid": "DatabaseLoginAsTheApplicationUser",
            "Effect": "Allow",
            "Action": "rds-db:connect",
            "Resource": APP_USER_ARN,
        },
        {"Sid": "SmokeKeySecret", "Effect": "Allow", "Action": read_write, "Resource": SMOKE},
        {"Sid": "AccessKeySecrets", "Effect": "Allow", "Action": read_write, "Resource": ACCESS},
        {
            "Sid": "CreateAccessKeySecretsWithTheGatewayKey",
            "Effect": "Allow",
            "Action": "secretsmanager:CreateSecret",
            "Resource": ACCESS,
            "Condition": {"StringEquals": {"secretsmanager:KmsKeyId": GATEWAY_KEY}},
        },
        {
            "Sid": "TagAccessKeySecrets",
            "Effect": "Allow",
            "Action": "secretsmanager:TagResource",
            "Resource": ACCESS,
            "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["managed-by"]}},
        },
        {
            "Sid": "GatewaySecretsKeyThroughSecretsManager",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": GATEWAY_KEY,
            "Condition": via_secrets_manager,
        },
    ]


def test_no_managed_policy_is_attached_to_the_admin_roles(doc) -> None:
    admin_roles = {
        f"${{aws_iam_role.{role_key(doc, n)}.name}}"
        for n in ("gw-test-admin-task", "gw-test-admin-execution")
    }
    attached = [
        a for a in doc["resource"]["aws_iam_role_policy_attachment"].values() if a["role"] in admin_roles
    ]
    assert attached == []  # the serving task role's Bedrock policy is not among them


def test_admin_roles_trust_only_ecs_tasks_of_this_account(doc) -> None:
    for name in ("gw-test-admin-task", "gw-test-admin-execution"):
        role = doc["resource"]["aws_iam_role"][role_key(doc, name)]
        (statement,) = json.loads(role["assume_role_policy"])["Statement"]
        assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "111111111111"}}


# ---------------------------------------------------------------- in every environment's stack
ADMIN_OUTPUTS = (
    "admin_task_definition_arn",
    "admin_container_name",
    "admin_log_group_name",
    "admin_log_stream_prefix",
)


def test_every_stack_outputs_the_admin_task_and_the_dedicated_smoke_key(synthesized) -> None:
    for name, stack in synthesized.items():
        outputs = stack["output"]
        assert set(ADMIN_OUTPUTS) <= set(outputs), name
        (secret_key,) = [
            k
            for k, s in stack["resource"]["aws_secretsmanager_secret"].items()
            if s["name"].endswith("/deploy-smoke-key")
        ]
        assert outputs["smoke_key_secret_arn"]["value"] == f"${{aws_secretsmanager_secret.{secret_key}.arn}}"
        assert outputs["smoke_key_json_key"]["value"] == "key"
        assert (outputs["admin_container_name"]["value"], outputs["admin_log_stream_prefix"]["value"]) == (
            "gateway",
            "admin",
        )


def test_the_smoke_key_secret_is_created_empty_and_not_for_the_seed_step(synthesized) -> None:
    from modules.secret_tags import GENERATION_TAG, JSON_KEY_TAG, KEY_LENGTH_TAG
    from pipeline import seed_secrets

    for name, stack in synthesized.items():
        assert "aws_secretsmanager_secret_version" not in stack["resource"], name
        (secret,) = [
            s for s in stack["resource"]["aws_secretsmanager_secret"].values() if "deploy-smoke" in s["name"]
        ]
        assert not {JSON_KEY_TAG, KEY_LENGTH_TAG, GENERATION_TAG} & set(secret["tags"]), name
        assert secret["kms_key_id"].startswith("${aws_kms_key.")
    assert (
        "smoke_key_secret_arn" not in seed_secrets.OUTPUTS
    )  # the seed writes only what it reads outputs for


def test_the_access_secrets_the_task_may_write_are_where_the_access_store_writes(synthesized) -> None:
    from gateway.access.secrets import SecretsManagerStore
    from modules.config import load_all

    for config in load_all(ENVIRONMENTS):
        stack = synthesized[config.name]
        (task,) = [
            t for t in stack["resource"]["aws_ecs_task_definition"].values() if t["family"].endswith("-admin")
        ]
        (container,) = json.loads(task["container_definitions"])
        env = {e["name"]: e["value"] for e in container["environment"]}
        store = SecretsManagerStore(
            env["GATEWAY_ACCESS_SECRET_PREFIX"], region=config.aws.region, client=object()
        )
        (policy,) = [
            json.loads(p["policy"])
            for p in stack["resource"]["aws_iam_role_policy"].values()
            if p["name"] == "admin"
        ]
        (access,) = [s for s in policy["Statement"] if s["Sid"] == "AccessKeySecrets"]
        prefix = access["Resource"].split(":secret:", 1)[1].removesuffix("*")
        assert store.name("team-search").startswith(prefix), config.name
        assert env["GATEWAY_SMOKE_KEY_SECRET_ID"].startswith("${aws_secretsmanager_secret."), config.name


def test_the_documented_runner_policy_names_this_stacks_admin_family_roles_and_log_streams(
    synthesized,
) -> None:
    """docs/iam/admin-runner.json is written by hand: it must name what the stack really creates."""
    from modules.config import load_all
    from pipeline import plan_role

    for config in load_all(ENVIRONMENTS):
        stack = synthesized[config.name]
        account = config.aws.account_id
        policy = [
            plan_role.admin_runner(region=config.aws.region, account_id=account, stack_id=config.stack_id)
        ]
        (task,) = [
            t for t in stack["resource"]["aws_ecs_task_definition"].values() if t["family"].endswith("-admin")
        ]
        (container,) = json.loads(task["container_definitions"])
        roles = {r["name"] for r in stack["resource"]["aws_iam_role"].values() if "-admin-" in r["name"]}
        (group,) = [
            g["name"]
            for g in stack["resource"]["aws_cloudwatch_log_group"].values()
            if g["name"].startswith("/ecs/")
        ]
        options = container["logConfiguration"]["options"]
        assert options["awslogs-group"].endswith(".name}") and options["awslogs-stream-prefix"] == "admin"
        region = config.aws.region
        family_arn = f"arn:aws:ecs:{region}:{account}:task-definition/{task['family']}:1"
        assert plan_role.may_allow(policy, "ecs:RunTask", family_arn), config.name
        for role in roles:
            assert plan_role.may_allow(policy, "iam:PassRole", f"arn:aws:iam::{account}:role/{role}"), role
        assert len(roles) == 2, roles
        stream = f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:admin/gateway/0123abcd"
        assert plan_role.may_allow(policy, "logs:GetLogEvents", stream), config.name
        assert stack["output"]["ecs_cluster_name"]["value"].endswith(
            ".name}"
        )  # the cluster is named stack_id
        (cluster,) = stack["resource"]["aws_ecs_cluster"].values()
        assert cluster["name"] == config.stack_id
