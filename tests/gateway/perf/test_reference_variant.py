"""The benchmark's `reference` variant is the reference design's configuration (issue 19 part 3).

Expectations come from the post's config.yaml (reference_design_config.yaml beside this file), so a
variant drifting from what the design writes fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gateway import render
from gateway.perf import bench_variants, variants

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
DEV = ROOT / "environments" / "dev" / "config.yaml"
SEED = yaml.safe_load((HERE / "reference_design_config.yaml").read_text())


def _reference() -> dict:
    return variants.apply(render.render_config(render.catalogue_from_env_file(DEV)), "reference")


def test_reference_guardrail_is_the_designs_stock_bedrock_guardrail_during_the_call_on_every_request():
    (seed_guardrail,) = SEED["guardrails"]
    (guardrail,) = _reference()["guardrails"]
    params = guardrail["litellm_params"]
    assert guardrail["guardrail_name"] == seed_guardrail["guardrail_name"]
    for key, value in seed_guardrail["litellm_params"].items():
        assert params[key] == value, key
    assert params["default_on"] is True  # added: the design means it for every request (issue 19)


def test_reference_traces_with_the_designs_callback_only_and_has_no_cache_or_key_limits():
    settings = _reference()["litellm_settings"]
    assert settings["callbacks"] == SEED["litellm_settings"]["callbacks"]
    for key in ("cache", "cache_params", "default_key_generate_params", "upperbound_key_generate_params"):
        assert key not in settings


def test_reference_routes_as_the_design_writes_it():
    assert _reference()["router_settings"] == SEED["router_settings"]


def test_reference_serves_the_same_models_behind_the_same_master_key_as_full():
    full = render.render_config(render.catalogue_from_env_file(DEV))
    reference = _reference()
    assert reference["model_list"] == full["model_list"]
    assert reference["general_settings"] == full["general_settings"]


def test_reference_refuses_features_to_switch_off():
    with pytest.raises(ValueError, match="reference variant has no features"):
        variants.apply(render.render_config(render.catalogue_from_env_file(DEV)), "reference", ["cache"])


def test_reference_is_a_bench_variant_started_as_full_with_the_designs_configuration_in_place():
    spec = bench_variants.parse_variant("reference")
    assert (spec.variant, spec.disable, spec.database) == ("full", (variants.REFERENCE_DESIGN,), True)
    assert bench_variants.parse_variant("reference-database").database is False
    started = variants.apply(render.render_config(render.catalogue_from_env_file(DEV)), "full", spec.disable)
    assert started == _reference()
    with pytest.raises(ValueError, match="starts with one of full, bare, reference"):
        bench_variants.parse_variant("reference-cache")


def test_the_reference_design_combines_with_no_other_feature():
    with pytest.raises(ValueError, match="reference_design replaces the full configuration's"):
        variants.apply(
            render.render_config(render.catalogue_from_env_file(DEV)), "full", ["reference_design", "cache"]
        )
