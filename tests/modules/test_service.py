"""modules/service.py: hardened Fargate tasks, secrets via `secrets` only, scoped roles, own SG, scaling."""

from __future__ import annotations

import dataclasses
import json

import pytest
from compute_settings import settings
from terraform_json import one, sg_id

from modules.gateway_runtime import GatewayRuntime
from modules.registry import PULL_ACTIONS, RegistryWiring
from modules.service import CONTAINER_PORT, Service, ServiceWiring

MASTER = "arn:aws:secretsmanager:us-east-1:111111111111:secret:gw/master-AAAAAA"
SALT = "arn:aws:secretsmanager:us-east-1:111111111111:secret:gw/salt-BBBBBB"
DB = "arn:aws:secretsmanager:us-east-1:111111111111:secret:rds!cluster-CCCCCC"
REDIS = "arn:aws:secretsmanager:us-east-1:111111111111:secret:gw/redis-DDDDDD"
PHOENIX = "arn:aws:secretsmanager:us-east-1:111111111111:secret:gw/phoenix-EEEEEE"
KEYS = ("arn:aws:kms:us-east-1:111111111111:key/secrets", "arn:aws:kms:us-east-1:111111111111:key/db")
BEDROCK_POLICY = "arn:aws:iam::111111111111:policy/gw-bedrock"
APP_USER_ARN = "arn:aws:rds-db:us-east-1:111111111111:dbuser:cluster-ABCDEFGHIJ/litellm_app"
BUILD_REPOSITORY = "arn:aws:ecr:us-east-1:999999999999:repository/gw-build"
BUILD_REPOSITORY_URL = "999999999999.dkr.ecr.us-east-1.amazonaws.com/gw-build"
CONTRACT_ENV = {
    "GATEWAY_ENVIRONMENT",
    "GATEWAY_MODELS",
    "GATEWAY_WORKERS",
    "AWS_REGION",
    "GUARDRAIL_ID",
    "GUARDRAIL_VERSION",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_SSL",
    "DATABASE_HOST",
    "DATABASE_PORT",
    "DATABASE_NAME",
    # Serving tasks log in as the application role with IAM database authentication, no password.
    "DATABASE_USERNAME",
    "IAM_TOKEN_DB_AUTH",
    "PHOENIX_COLLECTOR_ENDPOINT",
    "PHOENIX_PROJECT_NAME",
    "GATEWAY_TRACE_CONTENT",
    # The environment file's `api:` section (gateway/limits.py).
    "GATEWAY_MAX_REQUEST_BODY_MB",
    "GATEWAY_MAX_EMBEDDING_INPUTS",
    "GATEWAY_MAX_TOKENS",
    "GATEWAY_MAX_CACHED_ANSWER_KB",
    "GATEWAY_EXPOSE_INTERNAL_HEADERS",
}
CONTRACT_SECRETS = {
    "LITELLM_MASTER_KEY",
    "LITELLM_SALT_KEY",
    "REDIS_PASSWORD",
    "PHOENIX_API_KEY",
}


def runtime() -> GatewayRuntime:
    return GatewayRuntime(
        environment="test",
        models_json='[{"alias":"a","model_id":"amazon.titan-text-express-v1","mode":"chat","fallbacks":[]}]',
        region="us-east-1",
        guardrail_id="gr-1",
        guardrail_version="1",
        redis_host="cache.internal",
        redis_port="6379",
        database_host="db.internal",
        database_port="5432",
        database_name="litellm",
        database_username="litellm_app",
        database_connect_arn=APP_USER_ARN,
        phoenix_collector_endpoint="https://app.phoenix.arize.com/v1/traces",
        phoenix_project_name="gw-test",
        master_key_secret_arn=MASTER,
        salt_key_secret_arn=SALT,
        database_secret_arn=DB,
        redis_secret_arn=REDIS,
        phoenix_api_key_secret_arn=PHOENIX,
    )


WIRING = ServiceWiring(
    name="gw-test",
    region="us-east-1",
    account_id="111111111111",
    image_ref="sha256:" + "a" * 64,
    registry=RegistryWiring(name="gw-test", retain_images=False),
    vpc_id="vpc-1",
    vpc_cidr="10.20.0.0/16",
    database_port=5432,
    cache_port=6379,
    private_subnet_ids=["subnet-a", "subnet-b"],
    target_group_arn="arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/gw/1",
    alb_request_label="app/gw/1/targetgroup/gw/1",
    log_group_name="/gw/test",
    log_group_arn="arn:aws:logs:us-east-1:111111111111:log-group:/gw/test",
    runtime=runtime(),
    secret_kms_key_arns=KEYS,
    task_policy_arns=(BEDROCK_POLICY,),
)


def service(**changes):
    """Build the Service with the test settings changed."""
    return lambda stack: Service(stack, "compute", settings=settings(**changes), wiring=WIRING)


@pytest.fixture(scope="module")
def doc(synth_in_stack) -> dict:
    return synth_in_stack(service())


def task_definition(doc: dict, family: str) -> tuple[dict, dict]:
    (task,) = [t for t in doc["resource"]["aws_ecs_task_definition"].values() if t["family"] == family]
    (container,) = json.loads(task["container_definitions"])
    return task, container


def role_policy(doc: dict, role_name: str) -> list[dict]:
    (key,) = [k for k, r in doc["resource"]["aws_iam_role"].items() if r["name"] == role_name]
    policies = [
        p
        for p in doc["resource"]["aws_iam_role_policy"].values()
        if p["role"] == f"${{aws_iam_role.{key}.id}}"
    ]
    return [s for p in policies for s in json.loads(p["policy"])["Statement"]]


# ---------------------------------------------------------------- cluster
def test_cluster_has_container_insights(doc) -> None:
    assert one(doc, "aws_ecs_cluster")["setting"] == [{"name": "containerInsights", "value": "enabled"}]


# ---------------------------------------------------------------- serving task definition
def test_task_runs_on_fargate_x86_linux_with_the_configured_size(doc) -> None:
    task, _ = task_definition(doc, "gw-test")
    assert task["requires_compatibilities"] == ["FARGATE"] and task["network_mode"] == "awsvpc"
    assert (task["cpu"], task["memory"]) == ("1024", "2048")
    assert task["runtime_platform"] == {"cpu_architecture": "X86_64", "operating_system_family": "LINUX"}


def test_container_is_non_root_with_a_read_only_root_and_a_scratch_volume(doc) -> None:
    task, container = task_definition(doc, "gw-test")
    assert container["readonlyRootFilesystem"] is True
    assert container["user"] and not container["user"].startswith(("0", "root"))
    assert container["mountPoints"] == [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}]
    assert task["volume"] == [{"name": "tmp"}]
    assert container["linuxParameters"]["capabilities"]["drop"] == ["ALL"]


def test_environment_is_exactly_the_runtime_contract(doc) -> None:
    _, container = task_definition(doc, "gw-test")
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert set(env) == CONTRACT_ENV
    assert env["REDIS_SSL"] == "true" and json.loads(env["GATEWAY_MODELS"])[0]["alias"] == "a"


def test_trace_content_is_always_explicit_in_the_task_definition(doc) -> None:
    _, container = task_definition(doc, "gw-test")
    assert {e["name"]: e["value"] for e in container["environment"]}["GATEWAY_TRACE_CONTENT"] == "false"
    on = dataclasses.replace(
        runtime(), phoenix_collector_endpoint="https://phoenix.internal", trace_content=True
    )
    assert on.environment_vars()["GATEWAY_TRACE_CONTENT"] == "true"


def test_every_secret_comes_through_secrets_with_json_key_selectors(doc) -> None:
    _, container = task_definition(doc, "gw-test")
    secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert set(secrets) == CONTRACT_SECRETS
    assert secrets["LITELLM_MASTER_KEY"] == f"{MASTER}:LITELLM_MASTER_KEY::"
    assert secrets["LITELLM_SALT_KEY"] == f"{SALT}:LITELLM_SALT_KEY::"
    assert secrets["REDIS_PASSWORD"] == REDIS


def test_serving_tasks_log_in_as_the_application_role_with_iam_and_never_get_the_master_secret(doc) -> None:
    _, container = task_definition(doc, "gw-test")
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert (env["DATABASE_USERNAME"], env["IAM_TOKEN_DB_AUTH"]) == ("litellm_app", "true")
    assert not {s["name"] for s in container["secrets"]} & {"DATABASE_PASSWORD", "DATABASE_PASSWORD_FILE"}
    assert DB not in json.dumps(role_policy(doc, "gw-test-execution"))


def test_no_secret_is_a_plain_environment_value(doc) -> None:
    _, container = task_definition(doc, "gw-test")
    env = container["environment"]
    assert not {e["name"] for e in env} & CONTRACT_SECRETS
    assert not any("secretsmanager" in e["value"] or e["value"].startswith("sk-") for e in env)


def test_health_check_needs_no_curl(doc) -> None:
    _, container = task_definition(doc, "gw-test")
    assert container["healthCheck"]["command"] == ["CMD", "python", "-m", "gateway.healthcheck"]
    assert container["portMappings"][0]["containerPort"] == CONTAINER_PORT


def test_logs_go_to_the_gateway_group(doc) -> None:
    _, container = task_definition(doc, "gw-test")
    log = container["logConfiguration"]
    assert log["logDriver"] == "awslogs" and log["options"]["awslogs-group"] == "/gw/test"


def test_image_is_the_repository_at_a_digest_or_tag_from_the_variable(doc) -> None:
    _, container = task_definition(doc, "gw-test")
    (name, expression) = next(iter(doc["locals"].items()))
    assert container["image"] == f"${{local.{name}}}"
    digest = "sha256:" + "a" * 64
    assert expression.startswith(f'${{startswith("{digest}", "sha256:") ?')
    assert f".repository_url}}@{digest}" in expression and f".repository_url}}:{digest}" in expression


def test_execution_roles_pull_from_the_own_repository_only(doc) -> None:
    for role in ("gw-test-execution", "gw-test-migrate-execution"):
        statements = {s["Sid"]: s for s in role_policy(doc, role)}
        pull = statements["PullGatewayImage"]
        assert pull["Action"] == PULL_ACTIONS
        assert pull["Resource"].startswith("${aws_ecr_repository.") and pull["Resource"].endswith(".arn}")


# ---------------------------------------------------------------- images from another account's repository
@pytest.fixture(scope="module")
def promoted(synth_in_stack) -> dict:
    return synth_in_stack(service(image_repository=BUILD_REPOSITORY))


def test_promoted_image_is_the_build_repository_at_the_digest(promoted) -> None:
    _, container = task_definition(promoted, "gw-test")
    (name, expression) = next(iter(promoted["locals"].items()))
    assert container["image"] == f"${{local.{name}}}"
    digest = "sha256:" + "a" * 64
    assert (
        f'"{BUILD_REPOSITORY_URL}@{digest}"' in expression
        and f'"{BUILD_REPOSITORY_URL}:{digest}"' in expression
    )
    assert "aws_ecr_repository" not in expression


def test_promoted_execution_roles_pull_exactly_the_build_repository(promoted) -> None:
    for role in ("gw-test-execution", "gw-test-migrate-execution"):
        statements = {s["Sid"]: s for s in role_policy(promoted, role)}
        assert statements["PullGatewayImage"] == {
            "Sid": "PullGatewayImage",
            "Effect": "Allow",
            "Action": PULL_ACTIONS,
            "Resource": BUILD_REPOSITORY,
        }
        assert statements["EcrLogin"]["Resource"] == "*"
        assert statements["EcrLogin"]["Action"] == "ecr:GetAuthorizationToken"


# ---------------------------------------------------------------- migration task
def test_migration_task_runs_migrate_with_database_secrets_and_no_task_role(doc) -> None:
    task, container = task_definition(doc, "gw-test-migrate")
    assert container["command"] == ["migrate"]
    env = {e["name"]: e["value"] for e in container["environment"]}
    # The master user migrates and creates the application role; no IAM login, no second DATABASE_USERNAME.
    assert env["DATABASE_APP_USERNAME"] == "litellm_app"
    assert not {"DATABASE_USERNAME", "IAM_TOKEN_DB_AUTH"} & set(env)
    assert {s["name"] for s in container["secrets"]} == {
        "DATABASE_USERNAME",
        "DATABASE_PASSWORD",
        "LITELLM_MASTER_KEY",
        "LITELLM_SALT_KEY",
    }
    assert "task_role_arn" not in task
    assert "portMappings" not in container and container["readonlyRootFilesystem"] is True


def test_migration_execution_role_reads_only_its_secrets(doc) -> None:
    statements = {s["Sid"]: s for s in role_policy(doc, "gw-test-migrate-execution")}
    assert sorted(statements["ReadTaskSecrets"]["Resource"]) == sorted([MASTER, SALT, DB])


# ---------------------------------------------------------------- roles
def test_execution_role_reads_exactly_the_task_secrets_and_their_keys(doc) -> None:
    statements = {s["Sid"]: s for s in role_policy(doc, "gw-test-execution")}
    assert sorted(statements["ReadTaskSecrets"]["Resource"]) == sorted([MASTER, SALT, REDIS, PHOENIX])
    assert statements["ReadTaskSecrets"]["Action"] == "secretsmanager:GetSecretValue"
    assert statements["DecryptTaskSecrets"]["Resource"] == list(KEYS)


def test_execution_role_uses_a_wildcard_only_where_aws_has_no_resource_level_permission(doc) -> None:
    wildcard = [s for s in role_policy(doc, "gw-test-execution") if s["Resource"] == "*"]
    assert [s["Action"] for s in wildcard] == ["ecr:GetAuthorizationToken"]


def test_task_role_has_the_bedrock_policy_and_iam_login_as_the_application_user_only(doc) -> None:
    (attachment,) = doc["resource"]["aws_iam_role_policy_attachment"].values()
    assert attachment["policy_arn"] == BEDROCK_POLICY
    assert role_policy(doc, "gw-test-task") == [
        {"Effect": "Allow", "Action": "rds-db:connect", "Resource": APP_USER_ARN}
    ]


def test_roles_trust_only_ecs_tasks_of_this_account(doc) -> None:
    for role in doc["resource"]["aws_iam_role"].values():
        (statement,) = json.loads(role["assume_role_policy"])["Statement"]
        assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "111111111111"}}


# ---------------------------------------------------------------- service and scaling
def test_service_runs_in_private_subnets_without_public_ip(doc) -> None:
    network = one(doc, "aws_ecs_service")["network_configuration"]
    assert network == {
        "subnets": ["subnet-a", "subnet-b"],
        "security_groups": [sg_id(doc, "gw-test-service")],
        "assign_public_ip": False,
    }


def test_service_deploys_safely_and_allows_no_shell(doc) -> None:
    service = one(doc, "aws_ecs_service")
    assert service["deployment_circuit_breaker"] == {"enable": True, "rollback": True}
    assert (service["deployment_minimum_healthy_percent"], service["deployment_maximum_percent"]) == (
        100,
        200,
    )
    assert service["enable_execute_command"] is False and service["propagate_tags"] == "SERVICE"
    assert service["load_balancer"][0]["container_port"] == 4000


def test_every_environment_rolls_a_deployment_back_on_target_5xx_or_p95_latency(synthesized) -> None:
    for name, stack in synthesized.items():
        (service,) = stack["resource"]["aws_ecs_service"].values()
        alarms = stack["resource"]["aws_cloudwatch_metric_alarm"]
        watched = {ref.split(".")[1]: ref for ref in service["alarms"]["alarm_names"]}
        assert service["alarms"]["enable"] is True and service["alarms"]["rollback"] is True, name
        # Beside the circuit breaker, not instead of it.
        assert service["deployment_circuit_breaker"] == {"enable": True, "rollback": True}, name
        assert {(alarms[key]["metric_name"], alarms[key].get("extended_statistic")) for key in watched} == {
            ("HTTPCode_Target_5XX_Count", None),
            ("TargetResponseTime", "p95"),
        }, name
        for key, ref in watched.items():
            assert ref == f"${{aws_cloudwatch_metric_alarm.{key}.alarm_name}}", name
            # The gateway's own answers, on the target group the service registers with.
            assert alarms[key]["dimensions"]["TargetGroup"].startswith("${aws_lb_target_group."), name


def test_autoscaling_tracks_requests_per_target_and_cpu(doc) -> None:
    target = one(doc, "aws_appautoscaling_target")
    assert (target["min_capacity"], target["max_capacity"]) == (2, 6)
    policies = {
        p["target_tracking_scaling_policy_configuration"]["predefined_metric_specification"][
            "predefined_metric_type"
        ]: p["target_tracking_scaling_policy_configuration"]
        for p in doc["resource"]["aws_appautoscaling_policy"].values()
    }
    assert set(policies) == {"ALBRequestCountPerTarget", "ECSServiceAverageCPUUtilization"}
    assert policies["ALBRequestCountPerTarget"]["target_value"] == 300
    assert policies["ALBRequestCountPerTarget"]["predefined_metric_specification"]["resource_label"] == (
        "app/gw/1/targetgroup/gw/1"
    )
    assert policies["ECSServiceAverageCPUUtilization"]["target_value"] == 60


# ---------------------------------------------------------------- security group
def test_service_egress_is_https_and_the_data_ports_inside_the_vpc(doc) -> None:
    egress = doc["resource"]["aws_vpc_security_group_egress_rule"].values()
    assert {r["security_group_id"] for r in egress} == {sg_id(doc, "gw-test-service")}
    assert {(r["from_port"], r["cidr_ipv4"]) for r in egress} == {
        (443, "0.0.0.0/0"),
        (5432, "10.20.0.0/16"),
        (6379, "10.20.0.0/16"),
    }


def test_service_ingress_is_left_to_the_stack_once_the_albs_group_exists(doc) -> None:
    assert "aws_vpc_security_group_ingress_rule" not in doc["resource"]


def test_each_environment_runs_the_images_worker_rule_for_the_cpu_it_is_granted(synthesized):
    """One rule (gateway/contract.py): the task definition gave a worker per vCPU, the image one per two."""
    from gateway import contract

    for name, doc in synthesized.items():
        for task in doc["resource"]["aws_ecs_task_definition"].values():
            if task["family"].endswith(("-migrate", "-admin")):
                continue
            (container,) = json.loads(task["container_definitions"])
            env = {e["name"]: e["value"] for e in container["environment"]}
            granted = int(task["cpu"]) / 1024
            assert int(env["GATEWAY_WORKERS"]) == contract.default_workers(granted), name


def test_task_definitions_pass_only_the_contracts_variables_each_the_contracts_way(synthesized):
    """gateway/contract.py's table is what the image reads; a name outside it, or as a plain value where the
    table says secret (or the reverse), is a drift between the two sides."""
    from gateway import contract

    for name, doc in synthesized.items():
        for task in doc["resource"]["aws_ecs_task_definition"].values():
            family = task["family"]
            command = family.rsplit("-", 1)[1] if family.endswith(("-migrate", "-admin")) else "serve"
            (container,) = json.loads(task["container_definitions"])
            plain = {e["name"] for e in container.get("environment", [])}
            secret = {e["name"] for e in container.get("secrets", [])}
            assert plain <= contract.passed_by_task(command, "environment"), (name, command)
            assert secret <= contract.passed_by_task(command, "secret"), (name, command)


def test_serving_tasks_pass_every_variable_the_image_requires_of_a_full_gateway_with_a_database(synthesized):
    from gateway import contract

    needed = {**contract.required("always"), **contract.required("full"), **contract.required("database")}
    for name, doc in synthesized.items():
        for task in doc["resource"]["aws_ecs_task_definition"].values():
            if task["family"].endswith(("-migrate", "-admin")):
                continue
            (container,) = json.loads(task["container_definitions"])
            passed = {e["name"] for e in [*container.get("environment", []), *container.get("secrets", [])]}
            assert set(needed) <= passed, (name, sorted(set(needed) - passed))
