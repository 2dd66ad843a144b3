"""gateway/admin.py before LiteLLM starts: bad input is one clear line and exit 1 (never 2, which `access
plan` means "changes"), and the admin LiteLLM's config differs from the served one only by traffic."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import admin, contract, entrypoint, render

ROOT = Path(__file__).resolve().parents[2]
MODELS = json.dumps([{"alias": "nova-lite", "model_id": "amazon.nova-lite-v1:0", "mode": "chat"}])


def admin_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """What the admin task definition passes (gateway/contract.py, command admin); no Redis, no Phoenix."""
    return {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "GATEWAY_MODELS": MODELS,
        "AWS_REGION": "eu-west-1",
        "LITELLM_MASTER_KEY": "sk-" + "a" * 32,
        "LITELLM_SALT_KEY": "sk-" + "b" * 32,
        "DATABASE_HOST": "127.0.0.1",
        "DATABASE_PORT": "9",
        "DATABASE_NAME": "litellm",
        "DATABASE_USERNAME": "litellm_app",
        "DATABASE_PASSWORD": "unused",
        "GATEWAY_SCRATCH_DIR": str(tmp_path / "scratch"),
        "GATEWAY_SMOKE_KEY_SECRET_ID": "llm-gateway-dev/smoke-key",
        "GATEWAY_ACCESS_SECRET_PREFIX": "llm-gateway-dev",
        **extra,
    }


def run(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gateway.entrypoint", "admin", *args],
        env=admin_env(tmp_path, **extra), cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "extra", "says"),
    [
        (["smoke-key"], {}, "the following arguments are required: --env"),
        (["rotate-all", "--env", "dev"], {}, "invalid choice: 'rotate-all'"),
        (["access", "destroy", "--env", "dev"], {}, "invalid choice: 'destroy'"),
        (["smoke-key", "--env", "qa"], {}, "--env qa: no "),
        (
            ["smoke-key", "--env", "dev"],
            {"GATEWAY_SMOKE_KEY_SECRET_ID": ""},
            "needs GATEWAY_SMOKE_KEY_SECRET_ID",
        ),
        (
            ["access", "plan", "--env", "dev"],
            {"GATEWAY_ACCESS_SECRET_PREFIX": ""},
            "GATEWAY_ACCESS_SECRET_PREFIX",
        ),
        (["access", "apply", "--env", "dev"], {"GATEWAY_ENVIRONMENT": "prod"}, "allowed: prod"),
    ],
)
def test_bad_input_is_refused_with_exit_1_before_litellm_starts(tmp_path, args, extra, says):
    done = run(tmp_path, *args, **extra)

    assert done.returncode == 1, done.stderr
    assert says in done.stderr
    assert "starting LiteLLM" not in done.stderr


def test_an_unknown_environment_names_the_allowed_ones(tmp_path):
    done = run(tmp_path, "smoke-key", "--env", "qa")
    known = sorted(p.name for p in (ROOT / "environments").iterdir() if (p / "config.yaml").is_file())
    assert f"allowed: {', '.join(known)}" in done.stderr


@pytest.mark.parametrize("program", [["smoke-key"], ["access", "plan"]])
def test_a_contract_error_exits_1_not_2_which_access_plan_means_changes(tmp_path, program):
    """Other commands exit 2 on a contract error; the admin task's runner would report that as drift."""
    done = run(tmp_path, *program, "--env", "dev", DATABASE_HOST="")
    assert done.returncode == admin.EXIT_ERROR, done.stderr
    assert "admin needs a database: DATABASE_HOST is not set" in done.stderr


def test_admin_takes_no_redis_phoenix_or_guardrail_variables(tmp_path):
    """The full serving configuration requires them; the admin task definition passes none."""
    settings = entrypoint.validate(admin_env(tmp_path), "admin")
    assert settings.database is not None
    with pytest.raises(entrypoint.ContractError, match="REDIS_HOST"):
        entrypoint.validate(admin_env(tmp_path), "serve")


def test_the_admin_config_keeps_catalogue_database_and_keys_and_drops_only_what_traffic_uses(tmp_path):
    settings = entrypoint.validate(admin_env(tmp_path), "admin")
    served = entrypoint.rendered_config(settings)

    config = admin.admin_config(served)

    assert config["model_list"] == served["model_list"]
    assert config["general_settings"] == served["general_settings"]
    ceiling = "upperbound_key_generate_params"
    assert config["litellm_settings"][ceiling] == served["litellm_settings"][ceiling]
    assert "guardrails" in served and "guardrails" not in config
    assert not {"callbacks", "cache", "cache_params"} & set(config["litellm_settings"])
    assert not any(name.startswith("redis") for name in config["router_settings"])
    # Every variable the admin LiteLLM resolves is one the admin task has.
    referenced = set(re.findall(r"os\.environ/(\w+)", render.dump(config)))
    assert referenced == {"LITELLM_MASTER_KEY", "DATABASE_URL", "AWS_REGION"}


# ---------------------------------------------------------------- an overridden environment
def test_the_admin_process_keeps_only_the_variables_it_takes(tmp_path):
    """Whoever may run the task may override its environment; nothing beyond the contract and the runtime
    reaches the admin process or its LiteLLM (a proxy would see the master key; credentials of another
    account would receive the keys it stores)."""
    hostile = {
        "HTTP_PROXY": "http://proxy.example:8080",
        "https_proxy": "http://proxy.example:8080",
        "ALL_PROXY": "socks5://proxy.example:1080",
        "AWS_ACCESS_KEY_ID": "AKIAOTHERACCOUNT",
        "AWS_SECRET_ACCESS_KEY": "other-account-secret",
        "AWS_ENDPOINT_URL": "https://secretsmanager.attacker.example",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://attacker.example/creds",
        "NODE_OPTIONS": "--import data:text/javascript,process.exit(3)",
        "LD_PRELOAD": "/tmp/x.so",
        "PYTHONWARNINGS": "ignore::antigravity.x",
        "BROWSER": "sh -c 'id' #%s",
        "SENTRY_DSN": "https://key@sentry.example/1",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example",
    }
    runtime = {
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x",
        "ECS_AGENT_URI": "http://169.254.170.2",
    }
    environ = {**admin_env(tmp_path), **runtime, **hostile}

    kept, dropped = admin.kept_environment(environ, entrypoint.COMMAND_DEFAULTS)

    assert kept == {**admin_env(tmp_path), **runtime}
    assert dropped == sorted(hostile)


@pytest.mark.parametrize(
    ("endpoint", "kept"),
    [("http://127.0.0.1:5000", True), ("http://localhost:5000", True), ("https://attacker.example", False)],
    ids=["loopback_ip", "localhost", "another_host"],
)
def test_emulator_credentials_are_kept_only_with_a_loopback_endpoint(tmp_path, endpoint, kept):
    local = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    environ = {**admin_env(tmp_path), **local}
    assert (set(local) <= set(admin.kept_environment(environ)[0])) is kept


def test_the_entrypoint_hands_the_admin_command_only_what_it_keeps(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(admin, "main", lambda argv, settings, env, *, log: seen.update(env) or 0)
    environ = {**admin_env(tmp_path), "HTTPS_PROXY": "http://proxy.example:8080"}
    assert entrypoint.main(["admin", "smoke-key", "--env", "dev"], environ) == 0
    assert "HTTPS_PROXY" not in seen and seen["LITELLM_MASTER_KEY"] == environ["LITELLM_MASTER_KEY"]


@pytest.mark.parametrize(
    ("entry_point", "runs"),
    [(("python", "-m", "gateway.entrypoint"), True), (contract.ADMIN_ENTRY_POINT, False)],
    ids=["the_images_entrypoint_runs_it", "the_admin_task_entry_point_does_not"],
)
def test_python_variables_cannot_run_code_before_the_admin_command(tmp_path, entry_point, runs):
    """PYTHONWARNINGS naming an importable module runs code at interpreter start, before any check of ours;
    the admin task's entry point (-E) ignores it. The image's plain one shows the attack is real."""
    marker = tmp_path / "ran"
    env = {
        **admin_env(tmp_path),
        "GATEWAY_MODELS": "not json",  # refused at once, after interpreter start: no LiteLLM is started
        "PYTHONWARNINGS": "ignore::antigravity.x",
        "BROWSER": f"touch {marker} #%s",
    }
    done = subprocess.run(
        [sys.executable, *entry_point[1:], "admin", "smoke-key", "--env", "dev"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    assert marker.exists() is runs


def test_every_variable_the_image_sets_is_kept():
    """The runtime list is written in gateway/admin.py; the image's ENV is the Dockerfile's. A new ENV line
    that the admin command would drop fails here (PATH is the image's too, extended from its base)."""
    from pipeline.migration_task import image_environment

    image = {name: "x" for name in (*image_environment(), "PATH")}
    kept, dropped = admin.kept_environment(image)
    assert dropped == [] and set(kept) == set(image)
