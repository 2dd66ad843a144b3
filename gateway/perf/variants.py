"""The benchmark's weakened configurations, derived from the full one the image serves.

Not shipped: the image has only gateway/render.py's full configuration, so a deployed
gateway cannot be started without its guardrail, cache, tracing or limits. A local run
asks for a variant with GATEWAY_VARIANT / GATEWAY_DISABLE, which the entrypoint accepts
only with GATEWAY_ENVIRONMENT=local and only where this module exists (a checkout).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from gateway.render import TRACE_CONTENT_OFF, TRACING_CALLBACK

Variant = Literal["full", "bare"]
VARIANTS: tuple[Variant, ...] = ("full", "bare")
# The bench's `reference` variant is the full configuration with this "feature" applied: the reference
# design's guardrail, callback and routing in place of ours (a proxy starts as GATEWAY_VARIANT=full,
# GATEWAY_DISABLE=reference_design). Not a VARIANT: LiteLLM's sync router API, which config probes
# use, cannot pick a deployment under cost-based-routing.
REFERENCE = "reference"
REFERENCE_DESIGN = "reference_design"
# Removed by the bare variant so the benchmark can price each feature.
BARE_LITELLM_SETTINGS = (
    "callbacks",
    "cache",
    "cache_params",
    "default_key_generate_params",
    "upperbound_key_generate_params",
)
BARE_ROUTER_SETTINGS = ("redis_host", "redis_port", "redis_password")
# Features of the full configuration that a local run may switch off one by one, so the
# benchmark prices each in the same run (GATEWAY_DISABLE; the entrypoint allows it only
# with GATEWAY_ENVIRONMENT=local).
FEATURES = (
    "guardrail",
    "guardrail_hook",
    "tracing",
    "tracing_hook",
    "cache",
    "limits",
    "router_redis",
    # Product levers, priced so a platform team can weigh them (docs/performance.md, "Product levers"):
    "output_guardrail",  # check prompts only (mode [pre_call]); answers go unchecked
    "message_logging",  # turn_off_message_logging: prompts and answers out of the traces
    "cache_by_default",  # cache_params.mode default_off: cache only requests that ask for it
    REFERENCE_DESIGN,  # alone only: the reference design's configuration (_reference)
)
# "guardrail_hook" keeps the guardrail but on LiteLLM's stock hook instead of gateway/hooks' (same
# decisions, dearer transport): the benchmark's before/after for the hook.
STOCK_GUARDRAIL = "bedrock"
# "tracing_hook" likewise keeps tracing but on LiteLLM's own Phoenix callback (the before of gateway/hooks').
STOCK_TRACING_CALLBACK = "arize_phoenix"
KEY_LIMIT_SETTINGS = ("default_key_generate_params", "upperbound_key_generate_params")


# The reference design's settings (the blog post's config.yaml, /work/shared/seeds/000_*.txt, issue 19
# part 3): LiteLLM's stock guardrail run during the model call, LiteLLM's own Phoenix callback, cost-based
# routing and three retries; default_on added, since the design means the guardrail for every request.
REFERENCE_GUARDRAIL_PARAMS = {"guardrail": STOCK_GUARDRAIL, "mode": "during_call", "default_on": True}
REFERENCE_CALLBACKS = [STOCK_TRACING_CALLBACK]
REFERENCE_ROUTER_SETTINGS = {"routing_strategy": "cost-based-routing", "num_retries": 3, "timeout": 60}
# Kept from the full configuration though the post does not write them: how the proxy reaches the
# local services and logs (not features the comparison prices).
REFERENCE_KEPT_LITELLM_SETTINGS = ("json_logs", "drop_params")
REFERENCE_KEPT_GUARDRAIL_PARAMS = ("guardrailIdentifier", "guardrailVersion", "aws_region_name")


def parse_features(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """`guardrail,cache` -> ("guardrail", "cache"); unknown names raise ValueError naming them."""
    if text is None:
        return ()
    names = text.split(",") if isinstance(text, str) else list(text)
    features = tuple(dict.fromkeys(n.strip() for n in names if n.strip()))
    unknown = [f for f in features if f not in FEATURES]
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}: choose from {', '.join(FEATURES)}")
    return features


def _disable(config: dict[str, Any], features: Sequence[str]) -> None:
    litellm_settings = config.setdefault("litellm_settings", {})
    router = config.setdefault("router_settings", {})
    if "guardrail" in features:
        config.pop("guardrails", None)
    if "guardrail_hook" in features:
        for guardrail in config.get("guardrails", []):
            guardrail["litellm_params"]["guardrail"] = STOCK_GUARDRAIL
    if "tracing" in features:
        callbacks = [c for c in litellm_settings.get("callbacks", []) if c != TRACING_CALLBACK]
        if callbacks:
            litellm_settings["callbacks"] = callbacks
        else:
            litellm_settings.pop("callbacks", None)
    elif "tracing_hook" in features:
        litellm_settings["callbacks"] = [
            STOCK_TRACING_CALLBACK if c == TRACING_CALLBACK else c
            for c in litellm_settings.get("callbacks", [])
        ]
    if "cache" in features and "cache_params" in litellm_settings:
        # The Redis client stays (usage counters need it); only responses are no longer cached.
        litellm_settings["cache_params"] = {**litellm_settings["cache_params"], "supported_call_types": []}
    if "output_guardrail" in features:
        for guardrail in config.get("guardrails", []):
            guardrail["litellm_params"]["mode"] = ["pre_call"]
    if "message_logging" in features:
        litellm_settings["turn_off_message_logging"] = True
    if "cache_by_default" in features and "cache_params" in litellm_settings:
        litellm_settings["cache_params"] = {**litellm_settings["cache_params"], "mode": "default_off"}
    if "limits" in features:
        for key in KEY_LIMIT_SETTINGS:
            litellm_settings.pop(key, None)
    if "router_redis" in features:
        for key in BARE_ROUTER_SETTINGS:
            router.pop(key, None)


def _reference(config: dict[str, Any]) -> None:
    """The reference design's configuration on the full one's models, database and master key: its
    guardrail, callback and router settings replace ours; no cache, key limits or fallbacks."""
    guardrails = config.get("guardrails") or []
    if not guardrails:
        raise ValueError("the reference variant needs the full configuration's guardrail (its id and region)")
    ours = guardrails[0]["litellm_params"]
    params = {**REFERENCE_GUARDRAIL_PARAMS}
    params.update({k: ours[k] for k in REFERENCE_KEPT_GUARDRAIL_PARAMS if k in ours})
    config["guardrails"] = [{"guardrail_name": "bedrock-content-filter", "litellm_params": params}]
    settings = config.get("litellm_settings", {})
    config["litellm_settings"] = {
        **{k: settings[k] for k in REFERENCE_KEPT_LITELLM_SETTINGS if k in settings},
        "callbacks": list(REFERENCE_CALLBACKS),
    }
    config["router_settings"] = dict(REFERENCE_ROUTER_SETTINGS)


def apply(config: dict[str, Any], variant: str, disable: Iterable[str] = ()) -> dict[str, Any]:
    """Weaken a rendered full configuration in place: `bare` keeps the same models and routing but
    drops the guardrail, the cache, the callbacks and the rate limits; `reference` is the reference
    design's configuration (_reference); `disable` switches off single FEATURES of `full` so the
    benchmark prices each in the same run."""
    features = parse_features(disable)
    if variant == REFERENCE:
        if features:
            raise ValueError(f"the reference variant has no features to switch off, got {list(features)}")
        variant, features = "full", (REFERENCE_DESIGN,)
    elif variant not in VARIANTS:
        raise ValueError(f"variant must be one of {(*VARIANTS, REFERENCE)}, got {variant!r}")
    if REFERENCE_DESIGN in features:
        if variant != "full" or len(features) > 1:
            raise ValueError(
                f"{REFERENCE_DESIGN} replaces the full configuration's: it combines with nothing"
            )
        _reference(config)
        return config
    if variant == "bare":
        litellm_settings = config.setdefault("litellm_settings", {})
        router = config.setdefault("router_settings", {})
        config.pop("guardrails", None)
        for key in (*BARE_LITELLM_SETTINGS, *TRACE_CONTENT_OFF):
            litellm_settings.pop(key, None)
        for key in BARE_ROUTER_SETTINGS:
            router.pop(key, None)
    _disable(config, features)
    return config
