"""Every alias answers the way the OpenAI SDK expects: chat, streamed chat, embeddings."""

from __future__ import annotations

from collections.abc import Callable

from gateway.smoke.checks import emulator
from gateway.smoke.checks.common import chat_text, ensure
from gateway.smoke.runner import Skip
from gateway.smoke.target import Target


def chat_on(alias: str) -> Callable[[Target], str]:
    """A check for one chat alias: an answer with text and honest token usage."""

    def check(target: Target) -> str:
        response, text = chat_text(
            target, alias, f"In one sentence, what is an API gateway? ({target.nonce('chat')})"
        )
        ensure(text.strip(), f"{alias}: empty answer")
        usage = response.usage
        ensure(
            usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0,
            f"{alias}: token usage missing or zero: {usage}",
        )
        ensure(
            response.choices[0].finish_reason in {"stop", "length"},
            f"{alias}: finish_reason {response.choices[0].finish_reason!r}",
        )
        return f"{usage.prompt_tokens}+{usage.completion_tokens} tokens: {text.strip()[:50]!r}"

    check.__name__ = f"chat[{alias}]"
    return check


def chat_streamed(target: Target) -> str:
    """Server-sent events through the SDK: content, a finish reason and usage, then the end of the stream.

    The output guardrail checks the answer in windows while it streams (docs/gateway.md,
    "Streamed answers"): a short answer comes as its first chunk, then the rest once checked.
    Locally the emulator proves the model itself was called with ConverseStream.
    """
    aliases = target.environment.aliases("chat")
    if not aliases:
        raise Skip("the catalogue has no chat alias")
    alias = aliases[0]
    streams_before = _stream_calls(target)
    stream = target.client().chat.completions.create(
        model=alias,
        messages=[{"role": "user", "content": f"Describe streaming in a few words ({target.nonce('sse')})"}],
        stream=True,
        stream_options={"include_usage": True},
        max_tokens=64,
    )
    pieces, finish, usage, usage_choices = [], None, None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage, usage_choices = chunk.usage, chunk.choices
        for choice in chunk.choices:
            if choice.delta and choice.delta.content:
                pieces.append(choice.delta.content)
            finish = choice.finish_reason or finish
    text = "".join(pieces)
    ensure(text.strip(), f"{alias}: the streamed answer is empty")
    ensure(finish in {"stop", "length"}, f"{alias}: no finish_reason in the stream (got {finish!r})")
    ensure(usage is not None and usage.completion_tokens > 0, f"{alias}: no usage chunk in the stream")
    ensure(usage_choices == [], f"{alias}: the usage chunk has choices {usage_choices}; OpenAI sends []")
    detail = f"{alias}: {len(pieces)} content chunk(s), {usage.completion_tokens} completion tokens"
    if target.local is not None:
        streams = _stream_calls(target) - streams_before
        ensure(streams == 1, f"the emulator saw {streams} streaming model calls, expected 1")
        detail += "; the model was called with ConverseStream"
    return detail


def _stream_calls(target: Target) -> int:
    if target.local is None:
        return 0
    calls = emulator.stats(target).get("calls", {})
    return sum(
        ops.get("ConverseStream", 0) + ops.get("InvokeModelWithResponseStream", 0) for ops in calls.values()
    )


def embedding(target: Target) -> str:
    """The embedding alias returns one vector per input, all of the same dimension, with token usage."""
    alias = _embedding_alias(target)
    response = target.client().embeddings.create(model=alias, input=["the gateway", "embeds text"])
    vectors = [item.embedding for item in response.data]
    ensure(len(vectors) == 2, f"{alias}: expected 2 vectors, got {len(vectors)}")
    ensure(vectors[0] and len(vectors[0]) == len(vectors[1]), f"{alias}: vectors of different or zero size")
    ensure(vectors[0] != vectors[1], f"{alias}: different inputs gave the same vector")
    ensure(response.usage.prompt_tokens > 0, f"{alias}: no token usage")
    return f"{alias}: 2 vectors of {len(vectors[0])} dimensions, {response.usage.prompt_tokens} tokens"


def embedding_encodings_agree(target: Target) -> str:
    """The SDK's default (base64) and `float` give the same vector; locally, the emulator's known one.

    The SDKs send `encoding_format: "base64"` unless told otherwise; a gateway that passed that
    through to Titan returned sign bits (all 0.0 or 1.0), which only a comparison of values catches.
    """
    alias = _embedding_alias(target)
    text = f"the gateway embeds text {target.nonce('embed')}"
    default = target.client().embeddings.create(model=alias, input=text).data[0].embedding
    floats = (
        target.client().embeddings.create(model=alias, input=text, encoding_format="float").data[0].embedding
    )
    ensure(len(default) == len(floats), f"{alias}: {len(default)} values by default, {len(floats)} as float")
    worst = max(abs(a - b) for a, b in zip(default, floats, strict=True))
    ensure(worst < 1e-5, f"{alias}: the default encoding differs from float by up to {worst:g}")
    ensure(
        len(set(default)) > 2,
        f"{alias}: the default encoding returned {sorted(set(default))[:3]}: sign bits?",
    )
    detail = f"{alias}: base64 (SDK default) = float over {len(default)} values (max diff {worst:.1g})"
    if target.local is not None:
        from gateway.emulator.models import embed

        known = embed(text, len(floats))
        off = max(abs(a - b) for a, b in zip(floats, known, strict=True))
        ensure(off < 1e-5, f"{alias}: the vector differs from the emulator's by up to {off:g}")
        detail += "; equals the emulator's vector"
    return detail


def _embedding_alias(target: Target) -> str:
    aliases = target.environment.aliases("embedding")
    if not aliases:
        raise Skip("the catalogue has no embedding alias")
    return aliases[0]
