"""When a streamed answer's first text reaches the client (issue 19.2, gateway/hooks/stream_window.py)."""

from __future__ import annotations

import time

from gateway.smoke.checks import emulator
from gateway.smoke.checks.common import ensure, first_alias
from gateway.smoke.runner import Skip
from gateway.smoke.target import Target

# Each ApplyGuardrail call slowed by this much, so an answer held for its OUTPUT check shows.
SLOW_GUARDRAIL_MS = 800


def short_stream_first_token_before_its_output_check(target: Target) -> str:
    """A short streamed answer's first text arrives before its OUTPUT check has run, not with the rest.

    The emulator's first delta here ("[<model>] Emulated answer ") is longer than the unchecked
    head, and the answer is shorter than one window. Held back, the whole answer came in one
    burst after the model had finished and the OUTPUT check had run (issue 19.2: +537 ms over a
    direct call with the realistic profile). The reference is the same stream's own end: with
    every guardrail call slowed by 0.8 s, the first text must lead it by at least half of that,
    however slow the machine (a held answer leads it by a few ms).
    """
    if target.local is None:
        raise Skip("local stack only: needs the emulator's latency fault")
    emulator.set_faults(target, {"guardrail": True, "latency_ms": SLOW_GUARDRAIL_MS})
    try:
        began = time.perf_counter()
        stream = target.client().chat.completions.create(
            model=first_alias(target),
            messages=[{"role": "user", "content": f"What is Amazon Bedrock? ({target.nonce('ttft')})"}],
            max_tokens=64,
            stream=True,
        )
        first = None
        pieces = []
        for chunk in stream:
            text = (chunk.choices[0].delta.content or "") if chunk.choices else ""
            if text and first is None:
                first = time.perf_counter()
            pieces.append(text)
        end = time.perf_counter()
    finally:
        emulator.set_faults(target, {"guardrail": True, "latency_ms": 0})
    ensure(first is not None, "the stream carried no text")
    ttft_ms, total_ms = (first - began) * 1000, (end - began) * 1000
    lead_ms = total_ms - ttft_ms
    ensure(
        lead_ms >= SLOW_GUARDRAIL_MS / 2,
        f"the first text came {ttft_ms:.0f} ms after the request, only {lead_ms:.0f} ms before the "
        f"stream's end at {total_ms:.0f} ms: the answer was held back for its OUTPUT check "
        f"({SLOW_GUARDRAIL_MS} ms)",
    )
    return (
        f"first text at {ttft_ms:.0f} ms, {lead_ms:.0f} ms before the end (OUTPUT check slowed to "
        f"{SLOW_GUARDRAIL_MS} ms): {''.join(pieces)[:40]!r}"
    )
