"""The stack speaks the container runtime contract: the gateway's own entrypoint accepts what it sets."""

from __future__ import annotations

import pytest

from gateway import entrypoint
from gateway.devstack import app_role
from gateway.devstack.emulator import Emulator
from gateway.devstack.phoenix_server import Phoenix
from gateway.devstack.postgres import Postgres
from gateway.devstack.proxy import proxy_environment
from gateway.devstack.redis_server import Redis
from gateway.devstack.stack import LocalStack


def _stack(tmp_path, *, database: bool) -> tuple[LocalStack, Phoenix]:
    stack = LocalStack(work_dir=tmp_path, log=lambda line: None)
    stack.postgres = Postgres(host="127.0.0.1", port=5433, database="litellm", username="litellm",
                              password="p@ss/word:with?odd#chars", child=None)  # fmt: skip
    stack.redis = Redis(host="127.0.0.1", port=6380, password="redis-secret", child=None)
    stack.emulator = Emulator(
        url="http://127.0.0.1:9000", access_key="AKIATEST", secret_key="secret", child=None
    )
    stack.database_enabled = database
    return stack, Phoenix(url="http://127.0.0.1:6006", grpc_port=4317, child=None)


def test_the_entrypoint_accepts_the_stacks_environment_without_a_database(tmp_path):
    stack, phoenix = _stack(tmp_path, database=False)
    env = proxy_environment({**stack._contract(phoenix), "HOST": "127.0.0.1", "PORT": "4001"}, home=tmp_path)
    settings = entrypoint.validate(env, "serve")
    assert settings.database is None
    assert (settings.host, settings.port, settings.variant) == ("127.0.0.1", 4001, "full")
    assert [m.alias for m in settings.models] == [m.alias for m in stack.environment.models]


def test_with_a_database_migrate_connects_as_the_owner_and_creates_the_application_role(tmp_path):
    stack, phoenix = _stack(tmp_path, database=True)
    env = proxy_environment(stack._migration_contract(stack._contract(phoenix)), home=tmp_path)
    settings = entrypoint.validate(env, "migrate")
    assert settings.database is not None
    assert settings.database.url().startswith(
        "postgresql://litellm:p%40ss%2Fword%3Awith%3Fodd%23chars@127.0.0.1:5433/"
    )
    assert settings.database.sslmode == "disable"
    assert settings.database.app_role == app_role.APP_ROLE


def test_with_a_database_the_gateway_connects_as_the_application_role_with_its_password_file(tmp_path):
    stack, phoenix = _stack(tmp_path, database=True)
    app_role.write_secret(stack.database_password_file, "app-secret")
    env = proxy_environment(stack._contract(phoenix), home=tmp_path)

    database = entrypoint.validate(env, "serve").database

    assert (database.username, database.auth) == (app_role.APP_ROLE, "password_file")
    assert database.password == "app-secret"
    assert "DATABASE_PASSWORD" not in env and stack.postgres.password not in env.values()
    assert stack.database_password_file.stat().st_mode & 0o077 == 0


def test_the_proxy_inherits_no_aws_credentials_from_the_developer(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "production-admin")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "a-real-session")
    stack, phoenix = _stack(tmp_path, database=False)
    env = proxy_environment(stack._contract(phoenix), home=tmp_path)
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env
    assert env["AWS_ACCESS_KEY_ID"] == "AKIATEST"
    assert env["AWS_BEDROCK_RUNTIME_ENDPOINT"] == "http://127.0.0.1:9000"


def test_every_run_gets_its_own_random_master_key(tmp_path):
    first = LocalStack(work_dir=tmp_path / "a", log=lambda line: None).master_key
    second = LocalStack(work_dir=tmp_path / "b", log=lambda line: None).master_key
    assert first != second
    assert first.startswith("sk-") and len(first) > 40 and first != "sk-1234"


def test_the_stacks_environment_is_local_so_the_entrypoint_accepts_disabled_features(tmp_path):
    stack, phoenix = _stack(tmp_path, database=False)
    env = proxy_environment({**stack._contract(phoenix), "GATEWAY_DISABLE": "guardrail,cache"}, home=tmp_path)
    assert entrypoint.validate(env, "serve").disabled == ("guardrail", "cache")


def test_an_extra_gateway_needs_a_running_stack(tmp_path):
    stack = LocalStack(work_dir=tmp_path, log=lambda line: None)
    with pytest.raises(RuntimeError, match="not running"):
        stack.add_gateway("full-cache", disable=("cache",))
