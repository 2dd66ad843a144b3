"""gateway/render.py: catalogue + shared settings -> the LiteLLM config the container runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gateway import render

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "environments" / "dev" / "config.yaml"

EMBEDDING_CALLBACK = "gateway.hooks.embedding_encoding.embedding_encoding"
FALLBACK_CALLBACK = "gateway.hooks.fallback_answers.fallback_answers"


def _catalogue(*entries: dict) -> tuple[render.CatalogueModel, ...]:
    return render.parse_catalogue(list(entries))


NOVA_PRO = {
    "alias": "nova-pro",
    "model_id": "us.amazon.nova-pro-v1:0",
    "mode": "chat",
    "fallbacks": ["nova-lite"],
}
NOVA_LITE = {"alias": "nova-lite", "model_id": "us.amazon.nova-lite-v1:0", "mode": "chat"}
EMBED = {"alias": "titan-embed", "model_id": "amazon.titan-embed-text-v2:0", "mode": "embedding"}


def test_each_catalogue_entry_becomes_one_bedrock_deployment_under_its_public_alias():
    config = render.render_config(_catalogue(NOVA_PRO, NOVA_LITE, EMBED))
    assert config["model_list"] == [
        {
            "model_name": "nova-pro",
            "litellm_params": {
                "model": "bedrock/us.amazon.nova-pro-v1:0",
                "aws_region_name": "os.environ/AWS_REGION",
            },
            # nova-pro has a fallback: it cools down at its first failure (FAILOVER_ALLOWED_FAILS).
            "model_info": {"mode": "chat", "allowed_fails_policy": render.FAILOVER_ALLOWED_FAILS},
        },
        {
            "model_name": "nova-lite",
            "litellm_params": {
                "model": "bedrock/us.amazon.nova-lite-v1:0",
                "aws_region_name": "os.environ/AWS_REGION",
            },
            "model_info": {"mode": "chat"},
        },
        {
            "model_name": "titan-embed",
            "litellm_params": {
                "model": "bedrock/amazon.titan-embed-text-v2:0",
                "aws_region_name": "os.environ/AWS_REGION",
            },
            "model_info": {"mode": "embedding"},
        },
    ]


def test_only_deployments_with_somewhere_else_to_go_cool_down_at_their_first_failure():
    """A fallback or a second deployment takes over while one cools down; a lone deployment never cools."""
    chat = {"alias": "chat", "model_id": "us.amazon.nova-micro-v1:0", "mode": "chat"}
    models = _catalogue(NOVA_PRO, NOVA_LITE, chat, {**chat, "model_id": "us.amazon.nova-lite-v1:0"})
    policies = [d["model_info"].get("allowed_fails_policy") for d in render.model_list(models)]
    failover = render.FAILOVER_ALLOWED_FAILS
    assert policies == [failover, None, failover, failover]
    assert render.FAILOVER_ALLOWED_FAILS["RateLimitErrorAllowedFails"] == 0


def test_router_fallbacks_come_from_the_catalogue():
    config = render.render_config(_catalogue(NOVA_PRO, NOVA_LITE))
    assert config["router_settings"]["fallbacks"] == [{"nova-pro": ["nova-lite"]}]


def test_fallbacks_of_an_alias_listed_twice_are_merged_without_duplicates():
    models = _catalogue(
        {**NOVA_PRO, "fallbacks": ["nova-lite"]},
        {**NOVA_PRO, "model_id": "amazon.nova-pro-v1:0", "fallbacks": ["nova-lite", "nova-micro"]},
        NOVA_LITE,
        {"alias": "nova-micro", "model_id": "us.amazon.nova-micro-v1:0", "mode": "chat"},
    )
    assert render.fallbacks(models) == [{"nova-pro": ["nova-lite", "nova-micro"]}]


def test_the_dev_catalogue_has_the_reference_aliases_and_cheaper_tiers():
    aliases = {m.alias: m.model_id for m in render.catalogue_from_env_file(DEV)}
    assert aliases["titan-text"] == "amazon.titan-text-express-v1"
    assert aliases["nova-pro"] == "us.amazon.nova-pro-v1:0"
    assert {"nova-lite", "nova-micro", "titan-embed"} <= set(aliases)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{**NOVA_PRO, "fallbacks": ["nova-ultra"]}], "unknown alias 'nova-ultra'"),
        ([{**NOVA_LITE, "fallbacks": ["nova-lite"]}], "falls back to itself"),
        (
            [{**NOVA_LITE, "fallbacks": ["titan-embed"]}, EMBED],
            "(chat) falls back to 'titan-embed' (embedding)",
        ),
        ([{**NOVA_LITE, "mode": "completion"}], "is not one of"),
        ([{**NOVA_LITE, "modelid": "x"}], "unknown field(s) ['modelid']"),
        ([{"alias": "x", "mode": "chat"}], "models[0].model_id"),
        ([NOVA_LITE, {**NOVA_LITE, "mode": "embedding"}], "mixes modes"),
        ([], "non-empty list"),
    ],
)
def test_a_malformed_catalogue_is_refused_with_the_faulty_entry_named(entries, message):
    with pytest.raises(render.CatalogueError) as error:
        render.parse_catalogue(entries)
    assert message in str(error.value)


def test_deployments_of_one_alias_are_ordered_as_the_catalogue_lists_them():
    models = render.parse_catalogue(
        [
            {"alias": "chat", "model_id": "us.amazon.nova-micro-v1:0", "mode": "chat"},
            {"alias": "nova-pro", "model_id": "us.amazon.nova-pro-v1:0", "mode": "chat"},
            {"alias": "chat", "model_id": "us.amazon.nova-lite-v1:0", "mode": "chat"},
        ]
    )
    orders = [(d["model_name"], d["litellm_params"].get("order")) for d in render.model_list(models)]
    assert orders == [("chat", 1), ("nova-pro", None), ("chat", 2)]


def test_the_catalogue_survives_the_trip_through_GATEWAY_MODELS():
    models = render.catalogue_from_env_file(DEV)
    assert render.catalogue_from_json(render.catalogue_to_json(models)) == models


def test_invalid_GATEWAY_MODELS_json_is_reported_by_name():
    with pytest.raises(render.CatalogueError, match="GATEWAY_MODELS is not valid JSON"):
        render.catalogue_from_json("[{alias: nova}")


def test_bare_variant_keeps_models_and_routing_but_drops_every_measured_feature():
    models = render.catalogue_from_env_file(DEV)
    full = render.render_config(models, variant="full")
    bare = render.render_config(models, variant="bare")
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
    return render.render_config(render.catalogue_from_env_file(DEV), disable=features)


def test_the_full_config_runs_the_gateways_guardrail_hook_on_every_request():
    [guardrail] = _full_without()["guardrails"]
    params = guardrail["litellm_params"]
    assert params["guardrail"] == "gateway.hooks.bedrock_guardrail.GatewayBedrockGuardrail"
    assert params["default_on"] is True
    assert params["mode"] == ["pre_call", "post_call"]
    assert params["guardrailIdentifier"] == "os.environ/GUARDRAIL_ID"


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
    assert not set(render.KEY_LIMIT_SETTINGS) & set(config["litellm_settings"])
    assert config["router_settings"]["redis_host"] == "os.environ/REDIS_HOST"


def test_disabling_router_redis_keeps_the_cache_and_its_redis():
    config = _full_without("router_redis")
    assert not {k for k in config["router_settings"] if k.startswith("redis_")}
    assert config["litellm_settings"]["cache_params"]["host"] == "os.environ/REDIS_HOST"
    assert set(render.KEY_LIMIT_SETTINGS) <= set(config["litellm_settings"])


def test_disabling_the_output_guardrail_keeps_the_prompt_check_only():
    [guardrail] = _full_without("output_guardrail")["guardrails"]
    assert guardrail["litellm_params"]["mode"] == ["pre_call"]
    assert guardrail["litellm_params"]["default_on"] is True


def test_disabling_message_logging_keeps_tracing_without_prompts_and_answers():
    models = render.catalogue_from_env_file(DEV)
    settings = render.render_config(models, disable=("message_logging",), trace_content=True)[
        "litellm_settings"
    ]
    assert settings["turn_off_message_logging"] is True
    assert render.TRACING_CALLBACK in settings["callbacks"]


def test_without_trace_content_litellm_redacts_messages_and_exception_texts():
    models = render.catalogue_from_env_file(DEV)
    withheld = render.render_config(models)["litellm_settings"]
    recorded = render.render_config(models, trace_content=True)["litellm_settings"]
    assert {key: withheld[key] for key in render.TRACE_CONTENT_OFF} == render.TRACE_CONTENT_OFF
    assert not set(render.TRACE_CONTENT_OFF) & set(recorded)
    assert "turn_off_message_logging" not in render.render_config(models, variant="bare")["litellm_settings"]


def test_disabling_cache_by_default_caches_only_requests_that_ask():
    params = _full_without("cache_by_default")["litellm_settings"]["cache_params"]
    assert params["mode"] == "default_off"
    assert "supported_call_types" not in params


@pytest.mark.parametrize(
    ("text", "expected"),
    [(None, ()), ("", ()), ("cache", ("cache",)), (" tracing , cache,tracing", ("tracing", "cache"))],
)
def test_feature_lists_are_parsed_in_order_without_duplicates(text, expected):
    assert render.parse_features(text) == expected


def test_an_unknown_feature_is_refused_by_name():
    with pytest.raises(ValueError, match="'firewall'"):
        render.parse_features("cache,firewall")


def test_without_a_database_no_database_setting_is_rendered():
    config = render.render_config(render.catalogue_from_env_file(DEV), database=False)
    assert not set(render.DATABASE_SETTINGS) & set(config["general_settings"])
    assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"


def test_with_a_database_serving_tasks_never_migrate_the_schema():
    general = render.render_config(render.catalogue_from_env_file(DEV))["general_settings"]
    assert general["database_url"] == "os.environ/DATABASE_URL"
    assert general["disable_prisma_schema_update"] is True


def test_rendering_leaves_the_shared_base_untouched():
    base = render.load_base()
    snapshot = json.dumps(base, sort_keys=True)
    render.render_config(render.catalogue_from_env_file(DEV), variant="bare", database=False, base=base)
    assert json.dumps(base, sort_keys=True) == snapshot


def test_an_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="variant"):
        render.render_config(render.catalogue_from_env_file(DEV), variant="lean")  # type: ignore[arg-type]


def test_cli_renders_an_environment_file_to_yaml(tmp_path):
    out = tmp_path / "litellm.yaml"
    assert render.main(["--models-from", str(DEV), "--variant", "bare", "-o", str(out)]) == 0
    written = yaml.safe_load(out.read_text())
    assert {d["model_name"] for d in written["model_list"]} >= {"nova-pro", "titan-text", "titan-embed"}
    assert "guardrails" not in written


def test_cli_reads_GATEWAY_MODELS_when_no_file_is_given(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GATEWAY_MODELS", json.dumps([NOVA_LITE]))
    assert render.main(["--no-database"]) == 0
    written = yaml.safe_load(capsys.readouterr().out)
    assert [d["model_name"] for d in written["model_list"]] == ["nova-lite"]
    assert "database_url" not in written["general_settings"]


def test_cli_exits_2_on_a_bad_catalogue(monkeypatch, capsys):
    monkeypatch.setenv("GATEWAY_MODELS", "[]")
    assert render.main([]) == 2
    assert "non-empty list" in capsys.readouterr().err


def test_the_running_proxys_catalogue_is_read_from_gateway_models_and_empty_when_unset():
    models = render.catalogue_from_env_file(DEV)

    assert render.catalogue_from_env({"GATEWAY_MODELS": render.catalogue_to_json(models)}) == models
    assert render.catalogue_from_env({}) == ()
