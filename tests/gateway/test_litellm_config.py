"""gateway/config.yaml as LiteLLM 1.108.7 reads it: it loads, routes every alias, reads secrets from env."""

from __future__ import annotations

import importlib
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gateway import entrypoint, render
from gateway.perf import variants

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "environments" / "dev" / "config.yaml"
ENVIRONMENTS = sorted(p.parent.name for p in (ROOT / "environments").glob("*/config.yaml"))

# Run in a child process: load_config mutates LiteLLM's module globals (callbacks,
# cache), which must not leak into other tests of the same pytest run.
PROBE = r"""
import asyncio, json, sys
import litellm
from litellm.integrations.custom_guardrail import CustomGuardrail
from litellm.proxy.proxy_server import ProxyConfig

router, _, general = asyncio.run(ProxyConfig().load_config(router=None, config_file_path=sys.argv[1]))
callbacks = litellm.callbacks + litellm.success_callback
print(json.dumps({
    "deployments": [[d["model_name"], d["litellm_params"]["model"]] for d in router.model_list],
    "routing_strategy": router.routing_strategy,
    "num_retries": router.num_retries,
    "timeout": router.timeout,
    "stream_timeout": router.stream_timeout,
    "fallbacks": router.fallbacks,
    "cooldown_time": router.cooldown_time,
    "max_fallbacks": router.max_fallbacks,
    "fallback_on_unsupported_params": router.fallback_on_unsupported_params,
    "retry_policy": dict(router.retry_policy or {}),
    "deployment_policies": {
        d["model_name"]: (d.get("model_info") or {}).get("allowed_fails_policy") for d in router.model_list
    },
    "guardrail_timeouts": [g.timeout for g in litellm.callbacks if isinstance(g, CustomGuardrail)],
    "redis_socket_timeouts": {
        name: [pool.connection_kwargs.get(k) for k in ("socket_timeout", "socket_connect_timeout")]
        for name, client in (
            ("cache", litellm.cache and litellm.cache.cache),
            ("router", router.cache.redis_cache),
        )
        if client is not None
        for pool in [client.async_redis_conn_pool]
    },
    "group_picks": [
        router.get_available_deployment(model="chat", messages=[{"role": "user", "content": "hi"}])
        ["litellm_params"]["model"]
        for _ in range(20)
    ],
    "guardrails": [
        {"name": g.guardrail_name, "hooks": g.event_hook, "default_on": g.default_on,
         "class": type(g).__name__}
        for g in litellm.callbacks if isinstance(g, CustomGuardrail)
    ],
    "callbacks": sorted(c if isinstance(c, str) else type(c).__name__ for c in callbacks),
    "cache": type(litellm.cache.cache).__name__ if litellm.cache else None,
    "json_logs": litellm.json_logs,
    "master_key_from_env": general.get("master_key") == sys.argv[2],
}, default=str))
"""


def _probe_env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LITELLM_MASTER_KEY": "sk-" + secrets.token_urlsafe(24),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "AWS_REGION": "us-east-1",
        "GUARDRAIL_ID": "gr-probe",
        "GUARDRAIL_VERSION": "1",
        # Nothing listens there: loading the config must not need a connection.
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": "9",
        "REDIS_SSL": "false",
        "PHOENIX_COLLECTOR_ENDPOINT": "http://127.0.0.1:9/v1/traces",
        "PHOENIX_PROJECT_NAME": "probe",
        # The guardrail hook is imported by dotted path (gateway.hooks…), as in the image (PYTHONPATH=/app).
        "PYTHONPATH": str(ROOT),
    }


def _load_with_litellm(path: Path) -> dict:
    env = _probe_env()
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(path), env["LITELLM_MASTER_KEY"]],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> dict[str, dict]:
    """The dev catalogue rendered in both variants and loaded by LiteLLM (in parallel: ~10 s each)."""
    models = render.catalogue_from_env_file(DEV)
    folder = tmp_path_factory.mktemp("litellm")
    paths = {}
    for variant in variants.VARIANTS:
        config = variants.apply(render.render_config(models, database=False), variant)
        paths[variant] = folder / f"{variant}.yaml"
        paths[variant].write_text(render.dump(config))
    with ThreadPoolExecutor(len(paths)) as pool:
        return dict(zip(paths, pool.map(_load_with_litellm, paths.values()), strict=True))


def _walk(node, path=()) -> Iterator[tuple[tuple, object]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, index))
    else:
        yield path, node


# ---------------------------------------------------------------- through LiteLLM's loader
@pytest.mark.slow
def test_litellm_serves_every_catalogue_alias_from_its_bedrock_model(loaded):
    models = render.catalogue_from_env_file(DEV)
    expected = sorted([m.alias, f"bedrock/{m.model_id}"] for m in models)
    assert sorted(loaded["full"]["deployments"]) == expected


@pytest.mark.slow
def test_litellm_routes_by_catalogue_order_with_retries_timeout_and_catalogue_fallbacks(loaded):
    full = loaded["full"]
    assert full["routing_strategy"] == "simple-shuffle"
    assert full["num_retries"] == 1
    assert full["timeout"] == 60
    assert full["stream_timeout"] == 30
    assert {"nova-pro": ["nova-lite"]} in full["fallbacks"]


@pytest.mark.slow
def test_litellm_cools_down_deployments_with_a_fallback_and_never_retries_client_errors(loaded):
    full = loaded["full"]
    assert full["cooldown_time"] == 10
    assert full["max_fallbacks"] == 2
    assert full["fallback_on_unsupported_params"] is False
    policy = {name: value for name, value in full["retry_policy"].items() if value is not None}
    assert policy == {
        "BadRequestErrorRetries": 0,
        "AuthenticationErrorRetries": 0,
        "ContentPolicyViolationErrorRetries": 0,
        "NotFoundErrorRetries": 0,
        "TimeoutErrorRetries": 0,
        "InternalServerErrorRetries": 0,
        "ServiceUnavailableErrorRetries": 0,
    }
    assert full["deployment_policies"]["nova-pro"] == render.FAILOVER_ALLOWED_FAILS
    assert full["deployment_policies"]["nova-micro"] is None  # nowhere else to go: retried, never cooled
    assert full["guardrail_timeouts"] == [10]


@pytest.mark.slow
def test_litellm_gives_up_on_a_hung_redis_within_a_fifth_of_a_second(loaded):
    """LiteLLM's RedisCache defaults to 5 s per command, whatever REDIS_SOCKET_TIMEOUT says."""
    assert loaded["full"]["redis_socket_timeouts"] == {"cache": [0.2, 0.2], "router": [0.2, 0.2]}


@pytest.mark.slow
def test_litellm_serves_a_group_from_its_first_listed_deployment_every_time(loaded):
    assert set(loaded["full"]["group_picks"]) == {"bedrock/us.amazon.nova-micro-v1:0"}


@pytest.mark.slow
def test_litellm_runs_the_bedrock_guardrail_on_every_request_before_and_after_the_model(loaded):
    [guardrail] = loaded["full"]["guardrails"]
    assert guardrail["class"] == "GatewayBedrockGuardrail"
    assert guardrail["default_on"] is True
    assert set(guardrail["hooks"]) == {"pre_call", "post_call"}


@pytest.mark.slow
def test_litellm_caches_in_redis_traces_to_phoenix_and_logs_json(loaded):
    full = loaded["full"]
    assert full["cache"] == "RedisCache"
    assert "PhoenixTracing" in full["callbacks"]
    assert full["json_logs"] is True
    assert full["master_key_from_env"] is True


@pytest.mark.slow
def test_litellm_loads_the_bare_variant_without_guardrail_cache_or_tracing(loaded):
    bare = loaded["bare"]
    assert bare["deployments"] == loaded["full"]["deployments"]
    assert bare["guardrails"] == []
    assert bare["cache"] is None
    assert "PhoenixTracing" not in bare["callbacks"]


# ---------------------------------------------------------------- static properties
ENV_DERIVED = re.compile(
    r"(host|port|password|key|secret|token|url|region_name|guardrailIdentifier|guardrailVersion|ssl)$"
)


def test_every_environment_derived_setting_is_an_os_environ_reference():
    config = render.render_config(
        render.catalogue_from_env_file(ROOT / "environments" / "dev" / "config.yaml")
    )
    checked = []
    for path, value in _walk(config):
        if isinstance(path[-1], str) and ENV_DERIVED.search(path[-1]):
            checked.append(path)
            assert isinstance(value, str), f"{'.'.join(map(str, path))} is a literal {value!r}"
            assert value.startswith("os.environ/"), f"{'.'.join(map(str, path))} is a literal {value!r}"
    assert len(checked) >= 12  # the redis, database, guardrail, region and key settings


def test_every_referenced_variable_is_part_of_the_container_contract():
    config = render.render_config(
        render.catalogue_from_env_file(ROOT / "environments" / "dev" / "config.yaml")
    )
    referenced = {v.removeprefix("os.environ/") for _, v in _walk(config) if str(v).startswith("os.environ/")}
    contract = (ROOT / "docs" / "contracts.md").read_text()
    # DATABASE_URL is the one the entrypoint builds; the others are set by the infrastructure.
    assert {name for name in referenced - {"DATABASE_URL"} if f"`{name}`" not in contract} == set()
    assert "DATABASE_URL" in referenced


def test_no_literal_key_is_committed_in_the_config():
    text = (ROOT / "gateway" / "config.yaml").read_text()
    assert not re.search(r"sk-[A-Za-z0-9]{8,}", text)


def test_every_callback_the_config_names_is_known_to_litellm_or_imports():
    import litellm

    config = render.load_base()
    for name in config["litellm_settings"]["callbacks"]:
        if "." in name:
            module, _, attribute = name.rpartition(".")
            assert hasattr(importlib.import_module(module), attribute), name
        else:
            assert name in litellm._known_custom_logger_compatible_callbacks, name


@pytest.fixture(scope="module")
def prices() -> dict:
    """LiteLLM's bundled price map, the one the proxy reads (LITELLM_LOCAL_MODEL_COST_MAP=True)."""
    return json.loads(
        (
            Path(importlib.import_module("litellm").__file__).parent
            / "model_prices_and_context_window_backup.json"
        ).read_text()
    )


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_catalogue_model_is_priced_in_litellms_local_cost_map(environment, prices):
    """Spend tracking and budgets need a price for each Bedrock id."""
    models = render.catalogue_from_env_file(ROOT / "environments" / environment / "config.yaml")
    unpriced = [m.model_id for m in models if "input_cost_per_token" not in prices.get(m.model_id, {})]
    assert unpriced == []


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_catalogue_group_lists_its_cheapest_deployment_first(environment, prices):
    """The router serves a group in catalogue order; the catalogues promise cheapest first."""
    models = render.catalogue_from_env_file(ROOT / "environments" / environment / "config.yaml")
    groups: dict[str, list[float]] = {}
    for m in models:
        row = prices.get(m.model_id, {})
        groups.setdefault(m.alias, []).append(
            row.get("input_cost_per_token", 0.0) + row.get("output_cost_per_token", 0.0)
        )
    assert {alias: costs for alias, costs in groups.items() if costs != sorted(costs)} == {}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_catalogue_passes_the_entrypoint_validation(environment):
    models = render.catalogue_from_env_file(ROOT / "environments" / environment / "config.yaml")
    env = {
        **_probe_env(),
        "GATEWAY_MODELS": render.catalogue_to_json(models),
        "PHOENIX_API_KEY": "probe",
    }
    assert entrypoint.validate(env).models == models
