"""pipeline/chain.py's admin steps: what the chain reads from the admin task definition before it starts a
local stack, and what it refuses. The run itself (stack, smoke-key, smoke, access apply) is `nox -s
integration`'s; the admin command is tested against a real stack in tests/gateway/test_admin.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.chain import Chain, ChainError, ChainRun, LocalGateway, Step

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def server():
    from pipeline.aws_emulator import running

    with running() as emulator:
        yield emulator


def register(server, command: list[str], *, master_key: bool = True) -> str:
    secrets = server.client("secretsmanager", REGION)
    secret = secrets.create_secret(
        Name=f"master-{len(command)}-{master_key}-{id(command)}",
        SecretString=json.dumps({"LITELLM_MASTER_KEY": "sk-" + "m" * 30}),
    )["ARN"]
    container = {
        "name": "gateway",
        "image": "llm-gateway@sha256:" + "0" * 64,
        "memory": 512,
        "command": command,
        "environment": [
            {"name": "GATEWAY_ENVIRONMENT", "value": "dev"},
            {"name": "DATABASE_HOST", "value": "aurora.example"},
            {"name": "IAM_TOKEN_DB_AUTH", "value": "true"},
            {"name": "GATEWAY_SMOKE_KEY_SECRET_ID", "value": "arn:smoke"},
        ],
        "secrets": [{"name": "LITELLM_MASTER_KEY", "valueFrom": f"{secret}:LITELLM_MASTER_KEY::"}]
        if master_key
        else [],
    }
    ecs = server.client("ecs", REGION)
    return ecs.register_task_definition(family="llm-gateway-dev-admin", containerDefinitions=[container])[
        "taskDefinition"
    ]["taskDefinitionArn"]


def local_gateway(server, tmp_path: Path, outputs: dict[str, str]) -> LocalGateway:
    chain = Chain(tmp_path, (), ChainRun(["dev"]))
    (chain.plans / "dev.outputs.json").write_text(json.dumps(outputs))
    return LocalGateway(chain, "dev", server, REGION, {})


OUTPUTS = {"smoke_key_secret_arn": "arn:smoke", "smoke_key_json_key": "key"}


def test_a_stack_without_the_admin_task_output_is_refused_naming_it(server, tmp_path):
    local = local_gateway(server, tmp_path, OUTPUTS)

    with pytest.raises(ChainError, match=r"lacks the stack output.*admin_task_definition_arn"):
        local.start(Step("dev", "local stack"))
    assert local.stack is None


def test_a_task_definition_that_does_not_run_the_admin_command_is_refused(server, tmp_path):
    arn = register(server, ["serve"])
    local = local_gateway(server, tmp_path, {**OUTPUTS, "admin_task_definition_arn": arn})

    with pytest.raises(ChainError, match=r"runs \['serve'\], not the image's `admin` command"):
        local.start(Step("dev", "local stack"))
    assert local.stack is None


def test_a_task_definition_without_the_master_key_is_refused(server, tmp_path):
    arn = register(server, ["admin", "access", "plan", "--env", "dev"], master_key=False)
    local = local_gateway(server, tmp_path, {**OUTPUTS, "admin_task_definition_arn": arn})

    with pytest.raises(ChainError, match="passes no LITELLM_MASTER_KEY"):
        local.start(Step("dev", "local stack"))
