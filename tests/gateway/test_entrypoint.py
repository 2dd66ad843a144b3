"""gateway/entrypoint.py: the container side of the runtime contract (docs/contracts.md)."""

from __future__ import annotations

import json
import os
import secrets
import stat
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from gateway import entrypoint, limits, render

ROOT = Path(__file__).resolve().parents[2]
MODELS = render.catalogue_to_json(
    render.catalogue_from_env_file(ROOT / "environments" / "dev" / "config.yaml")
)


def contract_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """What the task definition sets in AWS, with a fresh random master key."""
    env = {
        "GATEWAY_ENVIRONMENT": "dev",
        "GATEWAY_MODELS": MODELS,
        "AWS_REGION": "us-east-1",
        "GUARDRAIL_ID": "gr-abc123",
        "GUARDRAIL_VERSION": "1",
        "REDIS_HOST": "cache.internal",
        "REDIS_PORT": "6379",
        "REDIS_SSL": "true",
        "REDIS_PASSWORD": "redis-auth",
        "DATABASE_HOST": "db.internal",
        "DATABASE_PORT": "5432",
        "DATABASE_NAME": "litellm",
        "DATABASE_USERNAME": "gateway",
        "DATABASE_PASSWORD": "plain",
        "PHOENIX_COLLECTOR_ENDPOINT": "https://phoenix.internal/v1/traces",
        "PHOENIX_PROJECT_NAME": "llm-gateway-dev",
        "LITELLM_MASTER_KEY": "sk-" + secrets.token_urlsafe(24),
        "LITELLM_SALT_KEY": "sk-" + secrets.token_urlsafe(24),
        "GATEWAY_WORKERS": "1",
        "GATEWAY_SCRATCH_DIR": str(tmp_path / "scratch"),
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def without(env: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in names}


@pytest.fixture
def execs(monkeypatch):
    """Capture the exec instead of replacing the test process with LiteLLM."""
    calls = []
    monkeypatch.setattr(entrypoint.os, "execve", lambda path, argv, env: calls.append((path, argv, env)))
    return calls


def error_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]


# ---------------------------------------------------------------- validation
def test_a_complete_environment_is_accepted(tmp_path):
    settings = entrypoint.validate(contract_env(tmp_path))
    assert settings.variant == "full"
    assert settings.database is not None
    assert (settings.host, settings.port, settings.workers) == ("0.0.0.0", 4000, 1)  # noqa: S104  # the container default


@pytest.mark.parametrize("name", [*entrypoint.ALWAYS_REQUIRED, *entrypoint.FULL_REQUIRED])
def test_a_missing_required_variable_stops_with_exit_2_and_its_name(tmp_path, capsys, execs, name):
    assert entrypoint.main(["serve"], without(contract_env(tmp_path), name)) == 2
    [line] = error_lines(capsys)
    assert line["level"] == "ERROR"
    assert name in line["message"]
    assert execs == []


def test_an_empty_variable_counts_as_missing(tmp_path):
    with pytest.raises(entrypoint.ContractError, match="GUARDRAIL_ID"):
        entrypoint.validate(contract_env(tmp_path, GUARDRAIL_ID="  "))


def test_all_missing_variables_are_named_in_one_error(tmp_path):
    with pytest.raises(entrypoint.ContractError) as error:
        entrypoint.validate(without(contract_env(tmp_path), "REDIS_HOST", "GUARDRAIL_VERSION"))
    assert "REDIS_HOST" in str(error.value)
    assert "GUARDRAIL_VERSION" in str(error.value)


@pytest.mark.parametrize("key", ["sk-1234", "not-an-sk-key-at-all", "sk-short"])
def test_a_weak_master_key_is_refused(tmp_path, key):
    with pytest.raises(entrypoint.ContractError, match="LITELLM_MASTER_KEY"):
        entrypoint.validate(contract_env(tmp_path, LITELLM_MASTER_KEY=key))


def test_debug_logging_is_refused_because_it_logs_prompts(tmp_path):
    with pytest.raises(entrypoint.ContractError, match="LITELLM_LOG"):
        entrypoint.validate(contract_env(tmp_path, LITELLM_LOG="DEBUG"))


def test_a_malformed_catalogue_is_reported_as_GATEWAY_MODELS(tmp_path):
    with pytest.raises(entrypoint.ContractError, match="GATEWAY_MODELS"):
        entrypoint.validate(contract_env(tmp_path, GATEWAY_MODELS='[{"alias": "x"}]'))


@pytest.mark.parametrize(("name", "value"), [("REDIS_PORT", "six"), ("PORT", "0"), ("GATEWAY_WORKERS", "-1")])
def test_a_non_numeric_or_non_positive_number_is_refused(tmp_path, name, value):
    with pytest.raises(entrypoint.ContractError, match=name):
        entrypoint.validate(contract_env(tmp_path, **{name: value}))


def test_phoenix_cloud_without_an_api_key_is_refused_before_litellm_fails_on_it(tmp_path):
    env = contract_env(tmp_path, PHOENIX_COLLECTOR_ENDPOINT="https://app.phoenix.arize.com/v1/traces")
    with pytest.raises(entrypoint.ContractError, match="PHOENIX_API_KEY"):
        entrypoint.validate(env)
    assert entrypoint.validate({**env, "PHOENIX_API_KEY": "px-key"})


PHOENIX_CLOUD = "https://app.phoenix.arize.com/v1/traces"


def _served(execs) -> tuple[dict, dict[str, str]]:
    """The rendered LiteLLM config and the environment the proxy was exec'd with."""
    [(_, argv, env)] = execs
    return yaml.safe_load(Path(argv[argv.index("--config") + 1]).read_text()), env


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        (PHOENIX_CLOUD, False),
        ("https://phoenix.example.com/v1/traces", False),
        ("https://phoenix.internal/v1/traces", True),
        ("grpc://10.20.4.5:4317", True),
        ("http://127.0.0.1:6006", True),
    ],
)
def test_trace_content_defaults_on_inside_the_network_and_off_outside(tmp_path, endpoint, expected):
    env = contract_env(tmp_path, PHOENIX_COLLECTOR_ENDPOINT=endpoint, PHOENIX_API_KEY="px-key")
    assert entrypoint.validate(env).trace_content is expected


def test_trace_content_to_an_external_collector_stops_the_container_naming_the_host(tmp_path, capsys, execs):
    env = contract_env(
        tmp_path,
        PHOENIX_COLLECTOR_ENDPOINT=PHOENIX_CLOUD,
        PHOENIX_API_KEY="px-key",
        GATEWAY_TRACE_CONTENT="true",
    )
    assert entrypoint.main([], env) == entrypoint.EXIT_CONFIG_ERROR
    assert execs == []
    [line] = error_lines(capsys)
    assert "GATEWAY_TRACE_CONTENT=true" in line["message"] and "'app.phoenix.arize.com'" in line["message"]


def test_trace_content_must_be_true_or_false(tmp_path):
    with pytest.raises(
        entrypoint.ContractError, match="GATEWAY_TRACE_CONTENT must be true or false, got 'yes'"
    ):
        entrypoint.validate(contract_env(tmp_path, GATEWAY_TRACE_CONTENT="yes"))


def test_without_trace_content_litellm_redacts_messages_and_exception_texts_too(tmp_path, execs):
    env = contract_env(tmp_path, PHOENIX_COLLECTOR_ENDPOINT=PHOENIX_CLOUD, PHOENIX_API_KEY="px-key")
    entrypoint.main([], env)
    config, proxy_env = _served(execs)
    assert config["litellm_settings"]["turn_off_message_logging"] is True
    assert config["litellm_settings"]["redact_messages_in_exceptions"] is True
    assert proxy_env["GATEWAY_TRACE_CONTENT"] == "false"  # resolved, for the tracing hook


def test_with_trace_content_inside_the_network_litellm_logs_messages(tmp_path, execs):
    entrypoint.main([], contract_env(tmp_path, GATEWAY_TRACE_CONTENT="true"))
    config, proxy_env = _served(execs)
    assert not set(render.TRACE_CONTENT_OFF) & set(config["litellm_settings"])
    assert proxy_env["GATEWAY_TRACE_CONTENT"] == "true"


def test_the_bare_variant_needs_neither_redis_nor_guardrail_nor_phoenix(tmp_path):
    env = without(
        contract_env(tmp_path, GATEWAY_VARIANT="bare", GATEWAY_ENVIRONMENT="local"), *entrypoint.FULL_REQUIRED
    )
    assert entrypoint.validate(env).variant == "bare"


def test_where_the_benchmark_variants_are_absent_as_in_the_image_a_local_variant_is_refused(
    tmp_path, monkeypatch
):
    import gateway.perf

    monkeypatch.setitem(sys.modules, "gateway.perf.variants", None)  # import fails, as in the image
    monkeypatch.delattr(gateway.perf, "variants", raising=False)
    env = contract_env(tmp_path, GATEWAY_VARIANT="bare", GATEWAY_ENVIRONMENT="local")
    with pytest.raises(entrypoint.ContractError, match="only a repository checkout"):
        entrypoint.validate(env)


@pytest.mark.parametrize("environment", ["dev", "prod", None])
def test_the_bare_variant_is_refused_outside_a_local_run(tmp_path, environment):
    env = contract_env(tmp_path, GATEWAY_VARIANT="bare", GATEWAY_ENVIRONMENT=environment)
    with pytest.raises(entrypoint.ContractError, match="GATEWAY_ENVIRONMENT=local"):
        entrypoint.validate(env)


@pytest.mark.parametrize("environment", ["dev", "prod", "Local", None])
def test_disabling_a_feature_is_refused_outside_a_local_run(tmp_path, environment):
    env = contract_env(tmp_path, GATEWAY_DISABLE="guardrail", GATEWAY_ENVIRONMENT=environment)
    with pytest.raises(entrypoint.ContractError, match=r"GATEWAY_DISABLE=guardrail .*only allowed"):
        entrypoint.validate(env)


def test_a_refused_gateway_disable_stops_the_container_before_litellm_starts(tmp_path, capsys, execs):
    code = entrypoint.main(
        [], contract_env(tmp_path, GATEWAY_DISABLE="guardrail", GATEWAY_ENVIRONMENT="prod")
    )
    assert code == entrypoint.EXIT_CONFIG_ERROR
    assert execs == []
    assert "GATEWAY_DISABLE" in error_lines(capsys)[-1]["message"]


def test_an_unknown_feature_in_gateway_disable_is_refused_by_name(tmp_path):
    env = contract_env(tmp_path, GATEWAY_DISABLE="guardrail,firewall", GATEWAY_ENVIRONMENT="local")
    with pytest.raises(entrypoint.ContractError, match=r"GATEWAY_DISABLE.*firewall"):
        entrypoint.validate(env)


def test_a_local_run_renders_the_config_without_the_disabled_features(tmp_path, execs):
    env = contract_env(tmp_path, GATEWAY_DISABLE="guardrail, tracing", GATEWAY_ENVIRONMENT="local")
    entrypoint.main([], env)
    [(_, argv, _)] = execs
    config = yaml.safe_load(Path(argv[argv.index("--config") + 1]).read_text())
    assert "guardrails" not in config
    assert render.TRACING_CALLBACK not in config["litellm_settings"]["callbacks"]
    assert config["litellm_settings"]["cache"] is True


def test_without_gateway_disable_every_feature_is_rendered(tmp_path, execs):
    entrypoint.main([], contract_env(tmp_path, GATEWAY_DISABLE=""))
    [(_, argv, _)] = execs
    config = yaml.safe_load(Path(argv[argv.index("--config") + 1]).read_text())
    assert config["guardrails"][0]["litellm_params"]["default_on"] is True
    assert config["litellm_settings"]["callbacks"][0] == render.TRACING_CALLBACK


def test_an_unknown_command_is_refused(tmp_path):
    with pytest.raises(entrypoint.ContractError, match="unknown command"):
        entrypoint.validate(contract_env(tmp_path), "shell")


# ---------------------------------------------------------------- database
def test_database_url_percent_encodes_every_special_character_of_the_password(tmp_path):
    password = "p@ss:w/rd?#%&+ =ü"
    settings = entrypoint.validate(
        contract_env(tmp_path, DATABASE_PASSWORD=password, DATABASE_USERNAME="a@b")
    )
    url = urlsplit(settings.database.url())
    assert (url.scheme, url.hostname, url.port, url.path) == ("postgresql", "db.internal", 5432, "/litellm")
    assert unquote(url.password) == password
    assert unquote(url.username) == "a@b"
    assert url.query == "sslmode=require"


def test_database_tls_can_be_relaxed_only_explicitly_and_to_a_known_mode(tmp_path):
    local = entrypoint.validate(contract_env(tmp_path, DATABASE_SSLMODE="disable"))
    assert local.database.url().endswith("?sslmode=disable")
    with pytest.raises(entrypoint.ContractError, match="DATABASE_SSLMODE"):
        entrypoint.validate(contract_env(tmp_path, DATABASE_SSLMODE="sometimes"))


def test_a_database_host_without_credentials_names_what_is_missing(tmp_path):
    with pytest.raises(entrypoint.ContractError, match="DATABASE_PASSWORD"):
        entrypoint.validate(without(contract_env(tmp_path), "DATABASE_PASSWORD"))


def test_the_salt_key_is_required_with_a_database(tmp_path):
    with pytest.raises(entrypoint.ContractError, match="LITELLM_SALT_KEY"):
        entrypoint.validate(without(contract_env(tmp_path), "LITELLM_SALT_KEY"))


def test_without_database_host_serve_says_so_in_one_line_and_runs_without_database(tmp_path, capsys, execs):
    env = without(contract_env(tmp_path), "DATABASE_HOST", "LITELLM_SALT_KEY")
    env["DATABASE_URL"] = "postgresql://stale@elsewhere/db"  # must not leak into the proxy
    entrypoint.main(["serve"], env)
    lines = error_lines(capsys)
    database_lines = [line for line in lines if "database" in line["message"]]
    assert [line["message"] for line in database_lines] == [entrypoint.NO_DATABASE_MESSAGE]
    [(_, argv, proxy_env)] = execs
    assert "DATABASE_URL" not in proxy_env
    config = yaml.safe_load(Path(argv[argv.index("--config") + 1]).read_text())
    assert not set(render.DATABASE_SETTINGS) & set(config["general_settings"])


def test_with_a_database_serve_passes_the_built_url_and_keeps_schema_updates_off(tmp_path, capsys, execs):
    entrypoint.main(["serve"], contract_env(tmp_path))
    [(_, argv, proxy_env)] = execs
    assert proxy_env["DATABASE_URL"].startswith("postgresql://gateway:plain@db.internal:5432/litellm")
    config = yaml.safe_load(Path(argv[argv.index("--config") + 1]).read_text())
    assert config["general_settings"]["disable_prisma_schema_update"] is True
    assert proxy_env["DISABLE_SCHEMA_UPDATE"] == "true"  # LiteLLM's own switch, read before its config
    assert "no database" not in capsys.readouterr().err


def test_migrate_applies_the_migrations_itself_and_never_starts_the_proxy(tmp_path, execs, monkeypatch):
    # The migrations themselves run against a real PostgreSQL in tests/gateway/test_migrations.py.
    migrated = []
    monkeypatch.setattr(entrypoint, "migrate", lambda database: migrated.append(database) or 0)
    assert entrypoint.main(["migrate"], without(contract_env(tmp_path), *entrypoint.FULL_REQUIRED)) == 0
    assert execs == []
    [database] = migrated
    assert (database.host, database.username, database.sslmode) == ("db.internal", "gateway", "require")


def test_migrate_imports_litellm_with_the_local_cost_map_and_warning_logs(tmp_path, execs, monkeypatch):
    """migrate imports litellm in this process, so the entrypoint's defaults apply before it does
    (the Dockerfile sets none of them: without the cost map LiteLLM fetches prices at import)."""
    for name in entrypoint.COMMAND_DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    seen = {}
    monkeypatch.setattr(
        entrypoint,
        "migrate",
        lambda database: seen.update({n: os.environ.get(n) for n in entrypoint.COMMAND_DEFAULTS}) or 0,
    )
    assert entrypoint.main(["migrate"], without(contract_env(tmp_path), *entrypoint.FULL_REQUIRED)) == 0
    assert seen["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert seen["LITELLM_LOG"] == "WARNING"
    assert seen["JSON_LOGS"] == "true"


def test_migrate_exits_1_when_a_migration_fails(tmp_path, execs, monkeypatch):
    monkeypatch.setattr(entrypoint, "migrate", lambda database: 1)
    assert entrypoint.main(["migrate"], without(contract_env(tmp_path), *entrypoint.FULL_REQUIRED)) == 1
    assert execs == []


def test_migrate_without_a_database_is_a_contract_error(tmp_path, capsys, execs):
    assert entrypoint.main(["migrate"], without(contract_env(tmp_path), "DATABASE_HOST")) == 2
    assert "DATABASE_HOST" in error_lines(capsys)[0]["message"]


# ---------------------------------------------------------------- the exec
def test_serve_execs_the_litellm_cli_with_the_rendered_config_host_port_and_workers(tmp_path, execs):
    entrypoint.main([], contract_env(tmp_path, HOST="127.0.0.1", PORT="4123", GATEWAY_WORKERS="2"))
    [(path, argv, _)] = execs
    assert path == sys.executable
    # LiteLLM's CLI, serving its app inside the gateway's request layer (gateway/serve.py).
    assert argv[1:3] == ["-m", "gateway.serve"]
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv[argv.index("--port") + 1] == "4123"
    assert argv[argv.index("--num_workers") + 1] == "2"
    config_path = Path(argv[argv.index("--config") + 1])
    assert config_path.parent == tmp_path / "scratch"
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600


def test_the_proxy_gets_production_logging_the_local_cost_map_and_scratch_paths(tmp_path, execs):
    entrypoint.main([], contract_env(tmp_path))
    [(_, _, proxy_env)] = execs
    assert proxy_env["LITELLM_LOG"] == "WARNING"
    assert proxy_env["JSON_LOGS"] == "true"
    assert proxy_env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert int(proxy_env["GRACEFUL_SHUTDOWN_TIMEOUT"]) < 30
    for name in ("LITELLM_UI_PATH", "LITELLM_ASSETS_PATH", "LITELLM_MIGRATION_DIR"):
        assert Path(proxy_env[name]).is_relative_to(tmp_path / "scratch")
        assert Path(proxy_env[name]).is_dir()


def test_the_proxy_keeps_a_json_access_log_at_info_while_litellm_logs_warnings(tmp_path, execs):
    entrypoint.main([], contract_env(tmp_path))
    [(_, argv, _)] = execs
    config = json.loads(Path(argv[argv.index("--log_config") + 1]).read_text())
    assert config["loggers"]["uvicorn.access"]["level"] == "INFO"
    assert config["loggers"]["uvicorn.error"]["level"] == "WARNING"
    assert {f["()"] for f in config["formatters"].values()} == {"litellm._logging.JsonFormatter"}


def test_an_explicit_log_level_applies_to_litellm_and_uvicorn_but_not_the_access_log(tmp_path, execs):
    entrypoint.main([], contract_env(tmp_path, LITELLM_LOG="error"))
    [(_, argv, proxy_env)] = execs
    config = json.loads(Path(argv[argv.index("--log_config") + 1]).read_text())
    assert proxy_env["LITELLM_LOG"] == "error"
    assert config["loggers"]["uvicorn"]["level"] == "ERROR"
    assert config["loggers"]["uvicorn.access"]["level"] == "INFO"


def test_the_uvicorn_log_config_is_one_uvicorn_accepts():
    import logging.config

    logging.config.dictConfig(entrypoint.uvicorn_log_config("WARNING"))
    assert logging.getLogger("uvicorn.access").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("uvicorn.error").getEffectiveLevel() == logging.WARNING


def test_render_prints_the_config_with_references_not_secret_values(tmp_path, capsys, execs):
    env = contract_env(tmp_path)
    assert entrypoint.main(["render"], env) == 0
    out = capsys.readouterr().out
    assert yaml.safe_load(out)["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    for secret in ("LITELLM_MASTER_KEY", "REDIS_PASSWORD", "DATABASE_PASSWORD"):
        assert env[secret] not in out
    assert execs == []


# ---------------------------------------------------------------- request limits
def test_the_proxy_gets_every_request_limit_with_the_defaults_written_out(tmp_path, execs):
    entrypoint.main([], contract_env(tmp_path, GATEWAY_MAX_TOKENS="4096"))
    [(_, _, proxy_env)] = execs
    assert proxy_env["GATEWAY_MAX_TOKENS"] == "4096"
    assert proxy_env["GATEWAY_MAX_REQUEST_BODY_MB"] == str(limits.DEFAULTS.max_request_body_mb)
    assert proxy_env["GATEWAY_EXPOSE_INTERNAL_HEADERS"] == "false"


def test_a_bad_request_limit_stops_the_container_naming_the_variable(tmp_path, capsys, execs):
    assert entrypoint.main([], contract_env(tmp_path, GATEWAY_MAX_REQUEST_BODY_MB="500")) == 2
    message = error_lines(capsys)[0]["message"]
    assert "GATEWAY_MAX_REQUEST_BODY_MB must be an integer from 1 to 64, got 500" in message
    assert execs == []


# ---------------------------------------------------------------- workers
@pytest.mark.parametrize(("cpus", "workers"), [(0.25, 1), (1, 1), (2, 1), (4, 2), (8, 4)])
def test_default_workers_is_one_per_two_cpus_and_at_least_one(cpus, workers):
    assert entrypoint.default_workers(cpus) == workers


def test_available_cpus_follows_a_cgroup_v2_quota(tmp_path):
    (tmp_path / "cpu.max").write_text("100000 100000\n")
    assert entrypoint.available_cpus(tmp_path) == 1


def test_available_cpus_follows_a_cgroup_v1_quota(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert entrypoint.available_cpus(tmp_path) == 0.5


def test_without_a_cgroup_quota_the_visible_cpus_count(tmp_path):
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert entrypoint.available_cpus(tmp_path) >= 1
