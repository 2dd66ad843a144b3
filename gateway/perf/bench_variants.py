"""Benchmark variant names: `full`, `bare`, or `full-<feature>[+<feature>…]` (full with features off).

    full-guardrail            the full configuration without the guardrail
    full-tracing+cache        … without Phoenix tracing and the response cache
    full-guardrail_hook       the guardrail on LiteLLM's stock hook instead of gateway/hooks'
    full-tracing_hook         tracing on LiteLLM's own Phoenix callback instead of gateway/hooks'
    reference                 the reference design's configuration (variants.py REFERENCE_DESIGN)
    full-database             the full configuration without its database (no DATABASE_*: master key
                              only, no key lookups, spend or batch writes); `bare-database` likewise
    full:LITELLM_LOG=WARNING  the full configuration with one tuning variable set

Features are gateway/perf/variants.py's FEATURES; the stack passes them as GATEWAY_DISABLE. `database`
is the bench's own: that proxy starts without the contract's DATABASE_* variables.
Tuning variables (`:NAME=VALUE`, repeatable) are limited to the log level, LiteLLM's
second OpenTelemetry implementation (LITELLM_OTEL_V2) and the OpenTelemetry batch span
processor's OTEL_BSP_* settings.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.perf import variants

TUNING_VARIABLE = re.compile(r"^(LITELLM_LOG|LITELLM_OTEL_V2|OTEL_BSP_[A-Z_]+)$")
DATABASE = "database"


@dataclass(frozen=True)
class VariantSpec:
    label: str
    variant: str
    disable: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    database: bool = True  # False: started without DATABASE_* (the `-database` suffix)


def _tuning(parts: list[str], label: str) -> tuple[tuple[str, str], ...]:
    env = []
    for part in parts:
        name, equals, value = part.partition("=")
        if not equals or not TUNING_VARIABLE.match(name) or not value:
            raise ValueError(
                f"variant {label!r}: {part!r} is not LITELLM_LOG=…, LITELLM_OTEL_V2=… or OTEL_BSP_…=…"
            )
        env.append((name, value))
    return tuple(env)


def parse_variant(label: str) -> VariantSpec:
    """`full-cache+tracing` -> VariantSpec("full-cache+tracing", "full", ("cache", "tracing"))."""
    head, *tuning = label.strip().split(":")
    base, dash, features = head.partition("-")
    if base == variants.REFERENCE and features in ("", DATABASE):
        # The reference design's configuration: started as full with it in place of ours (variants.py).
        return VariantSpec(
            label=label.strip(), variant="full", disable=(variants.REFERENCE_DESIGN,),
            env=_tuning(tuning, label), database=not features,
        )  # fmt: skip
    if base not in variants.VARIANTS:
        raise ValueError(
            f"variant {label!r}: starts with one of {', '.join((*variants.VARIANTS, variants.REFERENCE))}"
        )
    if dash and not features:
        raise ValueError(f"variant {label!r}: name the features after the dash")
    names = [name.strip() for name in features.split("+")] if features else []
    database = DATABASE not in names
    names = [name for name in names if name != DATABASE]
    if names and base != "full":
        raise ValueError(
            f"variant {label!r}: only the full variant has features to switch off (any variant: -{DATABASE})"
        )
    disable = variants.parse_features(",".join(names)) if names else ()
    return VariantSpec(
        label=label.strip(), variant=base, disable=disable, env=_tuning(tuning, label), database=database
    )


def parse_variants(text: str) -> list[VariantSpec]:
    specs = [parse_variant(part) for part in text.split(",") if part.strip()]
    if not specs:
        raise ValueError("no variant given")
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"variant listed twice in {text!r}")
    return specs


def rotated(names: Sequence[str], round_no: int) -> list[str]:
    """The gateways' order in round `round_no`: each takes every position, so drift hits all alike."""
    if not names:
        return []
    shift = round_no % len(names)
    return [*names[shift:], *names[:shift]]


def median_cpu(per_round: Mapping[str, Mapping[int, Sequence[float]]]) -> dict[str, dict[int, float]]:
    """Median over rounds of CPU ms per request, per target and level."""
    return {
        target: {level: round(statistics.median(values), 2) for level, values in levels.items() if values}
        for target, levels in per_round.items()
    }


def feature_prices(
    medians: Mapping[str, Mapping[int, float]], reference: str = "gateway-full"
) -> dict[str, dict[int, float]]:
    """Each target's median CPU ms per request minus the reference's, per level (negative: cheaper)."""
    base = medians.get(reference, {})
    return {
        target: {level: round(value - base[level], 2) for level, value in levels.items() if level in base}
        for target, levels in medians.items()
        if target != reference
    }


def database_pairs(specs: Sequence[VariantSpec]) -> list[tuple[str, str]]:
    """(with the database, without) label pairs: same variant, features and tuning, database on and off."""
    pairs = []
    for on in specs:
        if not on.database:
            continue
        for off in specs:
            if not off.database and (off.variant, off.disable, off.env) == (on.variant, on.disable, on.env):
                pairs.append((on.label, off.label))
    return pairs
