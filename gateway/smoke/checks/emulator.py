"""The Bedrock emulator's control API (gateway/emulator/README.md), for the local-only checks."""

from __future__ import annotations

import httpx

from gateway.smoke.target import Target

GUARDRAIL_TARGET = "guardrail"


def stats(target: Target) -> dict:
    assert target.local is not None
    response = httpx.get(f"{target.local.emulator_url}/_emulator/stats", timeout=10, trust_env=False)
    response.raise_for_status()
    return response.json()


def set_faults(target: Target, plan: dict) -> dict:
    assert target.local is not None
    response = httpx.post(
        f"{target.local.emulator_url}/_emulator/faults", json=plan, timeout=10, trust_env=False
    )
    response.raise_for_status()
    return response.json()


def model_calls(target: Target) -> int:
    """Model invocations so far (guardrail calls excluded): what a cache hit must not increase."""
    calls = stats(target).get("calls", {})
    return sum(sum(ops.values()) for name, ops in calls.items() if name != GUARDRAIL_TARGET)
