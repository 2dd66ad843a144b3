"""The response cache (Valkey in AWS, Redis locally): the same request twice costs one model call."""

from __future__ import annotations

import time

from gateway.smoke.checks.common import ensure
from gateway.smoke.checks.emulator import model_calls
from gateway.smoke.runner import Skip
from gateway.smoke.target import Target

CACHE_KEY_HEADER = "x-litellm-cache-key"
# LiteLLM writes the cache in a background task after answering, so a repeat sent at once can
# (rarely, on a busy machine) arrive before the write: it is asked again, a little later, this often.
REPEATS = 5
REPEAT_PAUSE = 0.3


def repeated_request_cached(target: Target) -> str:
    """A repeated identical request is a cache hit: LiteLLM names the cache key, the answer is identical,
    and (locally) the hit made no model call."""
    aliases = target.environment.aliases("chat")
    if not aliases:
        raise Skip("the catalogue has no chat alias")
    alias = aliases[0]
    request = {
        "model": alias,
        "messages": [{"role": "user", "content": f"Say something cacheable ({target.nonce('cache')})"}],
        "max_tokens": 32,
    }
    raw = target.client().chat.completions.with_raw_response
    first = raw.create(**request)
    ensure(
        CACHE_KEY_HEADER not in first.headers,
        f"the first request already reports a cache hit ({CACHE_KEY_HEADER}): the nonce is not unique",
    )
    attempt = 0
    while attempt < REPEATS:
        attempt += 1
        calls_before = model_calls(target) if target.local else None
        second = raw.create(**request)
        calls_after = model_calls(target) if target.local else None
        if CACHE_KEY_HEADER in second.headers or attempt == REPEATS:
            break
        time.sleep(REPEAT_PAUSE)
    ensure(
        CACHE_KEY_HEADER in second.headers,
        f"{REPEATS} repeats {REPEAT_PAUSE} s apart had no {CACHE_KEY_HEADER} header: "
        "not served from the cache",
    )
    first_text = first.parse().choices[0].message.content
    second_text = second.parse().choices[0].message.content
    ensure(first_text == second_text, f"cached answer differs: {first_text!r} vs {second_text!r}")
    detail = f"{CACHE_KEY_HEADER}={second.headers[CACHE_KEY_HEADER][:16]}…"
    if attempt > 1:
        detail += f" (hit on repeat {attempt}: the write landed after the first repeat)"
    if target.local:
        ensure(
            calls_after == calls_before,
            f"the cache hit called the emulator anyway ({calls_before} -> {calls_after} model calls)",
        )
        detail += f"; emulator model calls unchanged by the hit ({calls_after})"
    return detail
