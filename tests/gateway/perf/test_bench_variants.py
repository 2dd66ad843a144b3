"""gateway/perf/bench_variants.py: variant names, round-robin order, medians and per-feature prices."""

import pytest

from gateway.perf.bench_variants import (
    VariantSpec,
    database_pairs,
    feature_prices,
    median_cpu,
    parse_variant,
    parse_variants,
    rotated,
)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("full", VariantSpec("full", "full", ())),
        ("bare", VariantSpec("bare", "bare", ())),
        ("full-guardrail", VariantSpec("full-guardrail", "full", ("guardrail",))),
        ("full-tracing+cache", VariantSpec("full-tracing+cache", "full", ("tracing", "cache"))),
        ("full-guardrail_hook", VariantSpec("full-guardrail_hook", "full", ("guardrail_hook",))),
    ],
)
def test_a_variant_name_is_a_base_variant_and_the_features_it_switches_off(label, expected):
    assert parse_variant(label) == expected


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("lean", "starts with one of"),
        ("bare-cache", "only the full variant"),
        ("full-", "name the features"),
        ("full-firewall", "firewall"),
    ],
)
def test_a_malformed_variant_name_is_refused_with_the_reason(label, message):
    with pytest.raises(ValueError, match=message):
        parse_variant(label)


def test_a_variant_may_set_the_log_level_and_batch_span_processor_variables():
    spec = parse_variant("full-cache:LITELLM_LOG=WARNING:OTEL_BSP_SCHEDULE_DELAY=10000")
    assert (spec.variant, spec.disable) == ("full", ("cache",))
    assert spec.env == (("LITELLM_LOG", "WARNING"), ("OTEL_BSP_SCHEDULE_DELAY", "10000"))


def test_a_variant_may_switch_litellm_to_its_second_opentelemetry_implementation():
    assert parse_variant("full:LITELLM_OTEL_V2=true").env == (("LITELLM_OTEL_V2", "true"),)


@pytest.mark.parametrize(
    "tuning", ["GATEWAY_DISABLE=guardrail", "AWS_BEDROCK_RUNTIME_ENDPOINT=http://x", "LITELLM_LOG"]
)
def test_a_variant_cannot_set_any_other_variable(tuning):
    with pytest.raises(ValueError, match="is not LITELLM_LOG"):
        parse_variant(f"full:{tuning}")


def test_a_variant_list_keeps_its_order_and_refuses_duplicates():
    assert [s.label for s in parse_variants("full, bare,full-cache")] == ["full", "bare", "full-cache"]
    with pytest.raises(ValueError, match="twice"):
        parse_variants("full,full")


def test_each_gateway_takes_every_position_over_as_many_rounds():
    names = ["a", "b", "c"]
    orders = [rotated(names, r) for r in range(3)]
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    assert rotated(names, 3) == names
    assert rotated([], 1) == []


def test_the_median_over_rounds_ignores_one_disturbed_round():
    assert median_cpu({"gateway-full": {5: [20.0, 21.0, 60.0]}}) == {"gateway-full": {5: 21.0}}


def test_feature_prices_are_each_variants_cpu_minus_the_full_configurations_per_level():
    medians = {
        "gateway-full": {5: 20.0, 20: 19.0},
        "gateway-full-guardrail": {5: 16.5, 20: 15.0},
        "gateway-bare": {5: 12.0},
    }
    assert feature_prices(medians) == {
        "gateway-full-guardrail": {5: -3.5, 20: -4.0},
        "gateway-bare": {5: -8.0},
    }


@pytest.mark.parametrize(
    ("label", "variant", "disable", "database"),
    [
        ("full", "full", (), True),
        ("full-database", "full", (), False),
        ("bare-database", "bare", (), False),
        ("full-cache+database", "full", ("cache",), False),
    ],
)
def test_the_database_suffix_starts_a_proxy_without_the_database_on_either_base(
    label, variant, disable, database
):
    spec = parse_variant(label)
    assert (spec.variant, spec.disable, spec.database) == (variant, disable, database)


def test_bare_takes_no_feature_but_the_database():
    with pytest.raises(ValueError, match="only the full variant"):
        parse_variant("bare-cache+database")


def test_database_pairs_match_each_variant_with_its_twin_without_the_database():
    specs = parse_variants(
        "full,full-database,bare,full-cache,full-cache+database:LITELLM_LOG=WARNING,bare-database"
    )
    assert database_pairs(specs) == [("full", "full-database"), ("bare", "bare-database")]
    assert database_pairs(parse_variants("full,bare")) == []
