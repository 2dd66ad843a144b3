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


def test_the_full_config_runs_the_gateways_guardrail_hook_on_every_request():
    [guardrail] = render.render_config(render.catalogue_from_env_file(DEV))["guardrails"]
    params = guardrail["litellm_params"]
    assert params["guardrail"] == "gateway.hooks.bedrock_guardrail.GatewayBedrockGuardrail"
    assert params["default_on"] is True
    assert params["mode"] == ["pre_call", "post_call"]
    assert params["guardrailIdentifier"] == "os.environ/GUARDRAIL_ID"


def test_without_trace_content_litellm_redacts_messages_and_exception_texts():
    models = render.catalogue_from_env_file(DEV)
    withheld = render.render_config(models)["litellm_settings"]
    recorded = render.render_config(models, trace_content=True)["litellm_settings"]
    assert {key: withheld[key] for key in render.TRACE_CONTENT_OFF} == render.TRACE_CONTENT_OFF
    assert not set(render.TRACE_CONTENT_OFF) & set(recorded)


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
    render.render_config(render.catalogue_from_env_file(DEV), database=False, base=base)
    assert json.dumps(base, sort_keys=True) == snapshot


def test_cli_renders_an_environment_file_to_yaml(tmp_path):
    out = tmp_path / "litellm.yaml"
    assert render.main(["--models-from", str(DEV), "-o", str(out)]) == 0
    written = yaml.safe_load(out.read_text())
    assert {d["model_name"] for d in written["model_list"]} >= {"nova-pro", "titan-text", "titan-embed"}
    assert written["guardrails"]


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
