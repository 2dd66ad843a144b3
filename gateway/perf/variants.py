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
    # Product levers, priced so a platform team can weigh them (docs/performance.md):
    "output_guardrail",  # check prompts only (mode [pre_call]); answers go unchecked
    "message_logging",  # turn_off_message_logging: prompts and answers out of the traces
    "cache_by_default",  # cache_params.mode default_off: cache only requests that ask for it
)
# "guardrail_hook" keeps the guardrail but on LiteLLM's stock hook instead of gateway/hooks' (same
# decisions, dearer transport): the benchmark's before/after for the hook.
STOCK_GUARDRAIL = "bedrock"
# "tracing_hook" likewise keeps tracing but on LiteLLM's own Phoenix callback (the before of gateway/hooks').
STOCK_TRACING_CALLBACK = "arize_phoenix"
KEY_LIMIT_SETTINGS = ("default_key_generate_params", "upperbound_key_generate_params")


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


def apply(config: dict[str, Any], variant: str, disable: Iterable[str] = ()) -> dict[str, Any]:
    """Weaken a rendered full configuration in place: `bare` keeps the same models and routing but
    drops the guardrail, the cache, the callbacks and the rate limits; `disable` switches off single
    FEATURES so the benchmark prices each in the same run."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    features = parse_features(disable)
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
