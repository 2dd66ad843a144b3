"""A throttled model does not fail the client: retries or the catalogue's fallback absorb it."""

from __future__ import annotations

from gateway.smoke.checks.common import chat_text, ensure, require_local
from gateway.smoke.checks.emulator import set_faults, stats
from gateway.smoke.runner import Skip
from gateway.smoke.target import Target

# The first throttle cools the model down (render.FAILOVER_ALLOWED_FAILS) and its fallback answers;
# the request must succeed either way.
THROTTLES = 2
PERSISTENT_THROTTLES = 50  # more than any retry budget: only the fallback can answer


def throttled_model_recovers(target: Target) -> str:
    """Bedrock throttles an alias's model THROTTLES times; the client still gets an answer, and the
    emulator's statistics show the throttles were really served."""
    require_local(target, "the emulator's fault API is needed to make Bedrock throttle")
    with_fallback = [m for m in target.environment.models if m.mode == "chat" and m.fallbacks]
    candidates = with_fallback or [m for m in target.environment.models if m.mode == "chat"]
    if not candidates:
        raise Skip("the catalogue has no chat alias")
    model = candidates[0]
    text, throttled, _, _ = _chat_while_throttled(
        target, model, THROTTLES, f"Answer despite throttling ({target.nonce('throttle')})"
    )
    # A fallback may take over after the first throttle, so at least one (not all) must have been served.
    ensure(
        1 <= throttled <= THROTTLES,
        f"the emulator served {throttled} ThrottlingExceptions for {model.model_id}, expected 1..{THROTTLES}",
    )
    answered_by = _answered_by(text, target)
    waited = _await_recovery(target, model.alias)
    return f"{model.alias}: {throttled} throttles served, answered by {answered_by}; {waited}"


def _chat_while_throttled(target: Target, model, throttles: int, prompt: str) -> tuple[str, int, dict, dict]:
    """Ask `model`'s alias while the emulator throttles its next `throttles` calls (cleared afterwards).

    Returns the answer, the ThrottlingExceptions served meanwhile, and the statistics before and after.
    """
    before = stats(target)
    set_faults(target, {"model_id": model.model_id, "throttle_next": throttles})
    try:
        _, text = chat_text(target, model.alias, prompt)
    finally:
        set_faults(target, {"model_id": model.model_id, "throttle_next": 0})
    after = stats(target)
    ensure(text.strip(), f"{model.alias}: empty answer")
    throttled = _count(after["errors"], model.model_id, "ThrottlingException") - _count(
        before["errors"], model.model_id, "ThrottlingException"
    )
    return text, throttled, before, after


def _count(table: dict, model_id: str, code: str) -> int:
    return sum(codes.get(code, 0) for name, codes in table.items() if model_id in name)


def _answered_by(text: str, target: Target) -> str:
    """The emulator names the model in its answer (`[label] …`); good enough to say retry vs fallback."""
    return text.split("]", 1)[0].lstrip("[") if text.startswith("[") else "unknown"


def throttled_model_falls_back(target: Target) -> str:
    """Bedrock keeps throttling an alias's model; the catalogue's fallback alias answers instead, and
    the emulator's statistics show both the throttles and the fallback model's call."""
    require_local(target, "the emulator's fault API is needed to make Bedrock throttle")
    model = next((m for m in target.environment.models if m.mode == "chat" and m.fallbacks), None)
    if model is None:
        raise Skip("no chat alias in the catalogue has a fallback")
    fallback_alias = model.fallbacks[0]
    fallback_ids = {m.model_id for m in target.environment.models if m.alias == fallback_alias}
    # More throttles than the router's retries, so only the fallback can answer.
    text, throttled, before, after = _chat_while_throttled(
        target, model, PERSISTENT_THROTTLES, f"Answer through the fallback ({target.nonce('fallback')})"
    )
    fallback_calls = sum(_calls(after, i) - _calls(before, i) for i in fallback_ids)
    fallback_errors = sum(
        _count(after["errors"], i, code) - _count(before["errors"], i, code)
        for i in fallback_ids
        for code in {c for codes in after["errors"].values() for c in codes}
    )
    ensure(throttled >= 1, f"the emulator served no ThrottlingException for {model.model_id}")
    ensure(
        fallback_calls - fallback_errors >= 1,
        f"the fallback {fallback_alias} ({', '.join(sorted(fallback_ids))}) answered no call",
    )
    waited = _await_recovery(target, model.alias)
    return (
        f"{model.alias}: {throttled} throttles served, then {fallback_alias} answered "
        f"(emulator: {fallback_calls} call(s) on {', '.join(sorted(fallback_ids))}); "
        f"answer from {_answered_by(text, target)}; {waited}"
    )


def _await_recovery(target: Target, alias: str) -> str:
    """A throttle cools the alias's model down: wait until it answers again, so later checks find it."""
    from gateway.smoke.checks.degradation import COOLDOWN_S, _await_answer_from

    seconds = _await_answer_from(target, alias, deadline_s=COOLDOWN_S * 3 + 10)
    return f"{alias} answered again after {seconds:.1f} s (cooldown {COOLDOWN_S:g} s)"


def _calls(snapshot: dict, model_id: str) -> int:
    return sum(sum(ops.values()) for name, ops in snapshot["calls"].items() if model_id in name)
