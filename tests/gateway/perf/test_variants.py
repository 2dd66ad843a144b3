"""gateway/perf/variants.py: the benchmark's weakened configurations, derived from the full one."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import render
from gateway.perf import variants

ROOT = Path(__file__).resolve().parents[3]
DEV = ROOT / "environments" / "dev" / "config.yaml"
EMBEDDING_CALLBACK = "gateway.hooks.embedding_encoding.embedding_encoding"
FALLBACK_CALLBACK = "gateway.hooks.fallback_answers.fallback_answers"


def test_the_image_carries_no_benchmark_variant():
    """The renderer ships; the variants do not (gateway/build.py IMAGE_INPUTS lists what ships)."""
    from gateway import build

    assert "gateway/perf" not in " ".join(build.IMAGE_INPUTS)
    assert not hasattr(render, "FEATURES") and "variant" not in render.render_config.__doc__.split("\n")[0]


def test_bare_variant_keeps_models_and_routing_but_drops_every_measured_feature():
    models = render.catalogue_from_env_file(DEV)
    full = render.render_config(models)
    bare = variants.apply(render.render_config(models), "bare")
    assert bare["model_list"] == full["model_list"]
    assert bare["router_settings"]["routing_strategy"] == full["router_settings"]["routing_strategy"]
    assert bare["router_settings"]["fallbacks"] == full["router_settings"]["fallbacks"]
    assert "guardrails" not in bare
    for key in (
        "callbacks",
        "cache",
        "cache_params",
        "default_key_generate_params",
        "upperbound_key_generate_params",
    ):
        assert key in full["litellm_settings"]
        assert key not in bare["litellm_settings"]
    assert not {k for k in bare["router_settings"] if k.startswith("redis_")}
    assert bare["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"


def _full_without(*features: str) -> dict:
    return variants.apply(render.render_config(render.catalogue_from_env_file(DEV)), "full", features)


def test_disabling_the_guardrail_drops_only_the_guardrail():
    full, config = _full_without(), _full_without("guardrail")
    assert "guardrails" not in config
    assert {k: v for k, v in full.items() if k != "guardrails"} == config


def test_disabling_the_guardrail_hook_keeps_the_same_guardrail_on_litellms_stock_hook():
    [full] = _full_without()["guardrails"]
    [stock] = _full_without("guardrail_hook")["guardrails"]
    assert stock["litellm_params"]["guardrail"] == "bedrock"
    assert {**stock["litellm_params"], "guardrail": None} == {**full["litellm_params"], "guardrail": None}


def test_disabling_tracing_drops_the_phoenix_callback_only():
    config = _full_without("tracing")
    assert config["litellm_settings"]["callbacks"] == [EMBEDDING_CALLBACK, FALLBACK_CALLBACK]
    assert config["litellm_settings"]["cache"] is True
    assert config["guardrails"]


def test_disabling_the_tracing_hook_traces_through_litellms_own_phoenix_callback():
    full, stock = _full_without(), _full_without("tracing_hook")
    assert full["litellm_settings"]["callbacks"] == [
        render.TRACING_CALLBACK,
        EMBEDDING_CALLBACK,
        FALLBACK_CALLBACK,
    ]
    assert stock["litellm_settings"]["callbacks"] == ["arize_phoenix", EMBEDDING_CALLBACK, FALLBACK_CALLBACK]
    assert {**stock["litellm_settings"], "callbacks": None} == {**full["litellm_settings"], "callbacks": None}


def test_disabling_the_cache_keeps_the_redis_client_but_caches_no_call_type():
    params = _full_without("cache")["litellm_settings"]["cache_params"]
    assert params["supported_call_types"] == []
    assert params["host"] == "os.environ/REDIS_HOST"


def test_disabling_limits_drops_only_the_key_limit_defaults():
    config = _full_without("limits")
    assert not set(variants.KEY_LIMIT_SETTINGS) & set(config["litellm_settings"])
    assert config["router_settings"]["redis_host"] == "os.environ/REDIS_HOST"


def test_disabling_router_redis_keeps_the_cache_and_its_redis():
    config = _full_without("router_redis")
    assert not {k for k in config["router_settings"] if k.startswith("redis_")}
    assert config["litellm_settings"]["cache_params"]["host"] == "os.environ/REDIS_HOST"
    assert set(variants.KEY_LIMIT_SETTINGS) <= set(config["litellm_settings"])


def test_disabling_the_output_guardrail_keeps_the_prompt_check_only():
    [guardrail] = _full_without("output_guardrail")["guardrails"]
    assert guardrail["litellm_params"]["mode"] == ["pre_call"]
    assert guardrail["litellm_params"]["default_on"] is True


def test_disabling_message_logging_keeps_tracing_without_prompts_and_answers():
    models = render.catalogue_from_env_file(DEV)
    rendered = render.render_config(models, trace_content=True)
    settings = variants.apply(rendered, "full", ("message_logging",))["litellm_settings"]
    assert settings["turn_off_message_logging"] is True
    assert render.TRACING_CALLBACK in settings["callbacks"]


def test_the_bare_variant_records_no_trace_content_settings():
    bare = variants.apply(render.render_config(render.catalogue_from_env_file(DEV)), "bare")
    assert not set(render.TRACE_CONTENT_OFF) & set(bare["litellm_settings"])


def test_disabling_cache_by_default_caches_only_requests_that_ask():
    params = _full_without("cache_by_default")["litellm_settings"]["cache_params"]
    assert params["mode"] == "default_off"
    assert "supported_call_types" not in params


@pytest.mark.parametrize(
    ("text", "expected"),
    [(None, ()), ("", ()), ("cache", ("cache",)), (" tracing , cache,tracing", ("tracing", "cache"))],
)
def test_feature_lists_are_parsed_in_order_without_duplicates(text, expected):
    assert variants.parse_features(text) == expected


def test_an_unknown_feature_is_refused_by_name():
    with pytest.raises(ValueError, match="'firewall'"):
        variants.parse_features("cache,firewall")


def test_an_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="variant"):
        variants.apply(render.render_config(render.catalogue_from_env_file(DEV)), "lean")
