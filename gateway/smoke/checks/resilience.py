"""A throttled model does not fail the client: retries or the catalogue's fallback absorb it."""

from __future__ import annotations

from gateway.smoke.checks.common import chat_text, ensure, require_local
from gateway.smoke.checks.emulator import set_faults, stats
from gateway.smoke.runner import Skip
from gateway.smoke.target import Target

THROTTLES = 2  # fewer than router_settings.num_retries (3) + the fallback: the request must still succeed


def throttled_model_recovers(target: Target) -> str:
    """Bedrock throttles an alias's model THROTTLES times; the client still gets an answer, and the
    emulator's statistics show the throttles were really served."""
    require_local(target, "the emulator's fault API is needed to make Bedrock throttle")
    with_fallback = [m for m in target.environment.models if m.mode == "chat" and m.fallbacks]
    candidates = with_fallback or [m for m in target.environment.models if m.mode == "chat"]
    if not candidates:
        raise Skip("the catalogue has no chat alias")
    model = candidates[0]
    before = stats(target)
    set_faults(target, {"model_id": model.model_id, "throttle_next": THROTTLES})
    try:
        _, text = chat_text(target, model.alias, f"Answer despite throttling ({target.nonce('throttle')})")
    finally:
        set_faults(target, {"model_id": model.model_id, "throttle_next": 0})
    after = stats(target)
    ensure(text.strip(), f"{model.alias}: empty answer")
    throttled = _count(after["errors"], model.model_id, "ThrottlingException") - _count(
        before["errors"], model.model_id, "ThrottlingException"
    )
    # A fallback may take over after the first throttle, so at least one (not all) must have been served.
    ensure(
        1 <= throttled <= THROTTLES,
        f"the emulator served {throttled} ThrottlingExceptions for {model.model_id}, expected 1..{THROTTLES}",
    )
    answered_by = _answered_by(text, target)
    return f"{model.alias}: {throttled} throttles served, answered by {answered_by}"


def _count(table: dict, model_id: str, code: str) -> int:
    return sum(codes.get(code, 0) for name, codes in table.items() if model_id in name)


def _answered_by(text: str, target: Target) -> str:
    """The emulator names the model in its answer (`[label] …`); good enough to say retry vs fallback."""
    return text.split("]", 1)[0].lstrip("[") if text.startswith("[") else "unknown"
