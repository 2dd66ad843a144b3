"""The response cache (Valkey in AWS, Redis locally): the same request twice costs one model call."""

from __future__ import annotations

from gateway.smoke.checks.common import ensure
from gateway.smoke.checks.emulator import model_calls
from gateway.smoke.runner import Skip
from gateway.smoke.target import Target

CACHE_KEY_HEADER = "x-litellm-cache-key"


def repeated_request_cached(target: Target) -> str:
    """The second identical request is a cache hit: LiteLLM names the cache key, the answer is identical,
    and (locally) the emulator saw no second model call."""
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
    calls_after_first = model_calls(target) if target.local else None
    second = raw.create(**request)
    calls_after_second = model_calls(target) if target.local else None
    ensure(
        CACHE_KEY_HEADER not in first.headers,
        f"the first request already reports a cache hit ({CACHE_KEY_HEADER}): the nonce is not unique",
    )
    ensure(
        CACHE_KEY_HEADER in second.headers,
        f"the second request has no {CACHE_KEY_HEADER} header: not served from the cache",
    )
    first_text = first.parse().choices[0].message.content
    second_text = second.parse().choices[0].message.content
    ensure(first_text == second_text, f"cached answer differs: {first_text!r} vs {second_text!r}")
    detail = f"{CACHE_KEY_HEADER}={second.headers[CACHE_KEY_HEADER][:16]}…"
    if target.local:
        ensure(
            calls_after_second == calls_after_first,
            f"the emulator was called again ({calls_after_first} -> {calls_after_second} model calls)",
        )
        detail += f"; emulator model calls unchanged ({calls_after_second})"
    return detail
