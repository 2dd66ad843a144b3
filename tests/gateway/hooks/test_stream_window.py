"""A streamed answer's OUTPUT check in windows (issue 19): it streams, and a block still stops it.

The upstream is LiteLLM's own Bedrock stream from the emulator, the hook the config builds,
and the emulator's ApplyGuardrail: only the proxy around them is left out (the smoke's
guardrail table covers that part with the official SDK).
"""

from __future__ import annotations

import asyncio

import litellm
import pytest
from guardrail_hook import hook
from litellm.proxy._types import UserAPIKeyAuth

from gateway.emulator.answers import HARMFUL_TEXT
from gateway.hooks.stream_window import UNCHECKED_HEAD_CHARS, StreamBlocked, chunk_text

MODEL = "bedrock/us.amazon.nova-pro-v1:0"


def _stream(prompt: str, max_tokens: int):
    """(texts received with how many upstream chunks had been produced by then, the error, upstream count)."""

    async def main():
        guardrail = hook()
        upstream = await litellm.acompletion(
            model=MODEL, messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens, stream=True
        )
        produced = 0

        async def counted():
            nonlocal produced
            async for chunk in upstream:
                produced += 1
                yield chunk

        request = {"model": "nova-pro", "messages": [{"role": "user", "content": prompt}], "stream": True}
        received, error = [], None
        try:
            async for chunk in guardrail.async_post_call_streaming_iterator_hook(
                UserAPIKeyAuth(request_route="/v1/chat/completions"), counted(), request
            ):
                received.append((chunk_text(chunk), produced))
                await asyncio.sleep(0)
        except StreamBlocked as blocked:
            error = blocked
        finally:
            await guardrail.poster.close()
        return received, error, produced

    return asyncio.run(main())


def test_a_clean_long_answer_reaches_the_client_before_the_model_has_finished(emulator):
    received, error, produced = _stream("Please give a long answer.", 300)

    assert error is None
    text = "".join(t for t, _ in received)
    assert text.startswith("[nova-pro] Sentence 1 of a long emulated answer")
    assert litellm.token_counter(text=text) > 200  # the whole answer came through
    first_text_at = next(at for t, at in received if t)
    assert first_text_at < produced  # released while the upstream was still producing
    assert sum(1 for t, _ in received if t) > 3  # in pieces, not one block at the end


def test_a_long_harmful_answer_is_cut_off_before_its_harmful_sentence(emulator):
    received, error, _ = _stream("A long answer, then a harmful answer.", 300)

    assert isinstance(error, StreamBlocked)
    assert error.code == 400 and error.message.startswith("Violated guardrail policy")
    seen = "".join(t for t, _ in received)
    assert error.released_chars == len(seen)
    assert "bomb" not in seen and "assemble" not in seen
    # More than the unchecked head arrived (windows checked clean were released), never the end.
    answer_chars = len(seen) + len(HARMFUL_TEXT)
    assert UNCHECKED_HEAD_CHARS < len(seen) < answer_chars


def test_a_short_answer_whose_first_delta_outgrows_the_head_starts_before_the_model_has_finished(emulator):
    """Issue 19.2: the emulator's first delta here ("[nova-pro] Emulated answer ", 27 characters) is longer
    than the head, and the answer is shorter than a window. It was held whole until the model had finished
    and one OUTPUT check had run; now the head is cut out of that delta and sent at once."""
    assert len("[nova-pro] Emulated answer ") > UNCHECKED_HEAD_CHARS  # what makes this case
    received, error, produced = _stream("What is Amazon Bedrock?", 64)

    assert error is None
    texts = [(t, at) for t, at in received if t]
    first_text, first_text_at = texts[0]
    assert first_text_at < produced  # released while the upstream was still producing
    assert first_text == "[nova-pro] Emulated "  # the head, cut where a word ends
    assert "".join(t for t, _ in texts).startswith('[nova-pro] Emulated answer to: "What is Amazon Bedrock?"')


def test_a_short_harmful_answer_shows_at_most_the_unchecked_head(emulator):
    received, error, _ = _stream("Write a harmful answer.", 100)

    seen = "".join(t for t, _ in received)
    assert isinstance(error, StreamBlocked)
    assert len(seen) <= UNCHECKED_HEAD_CHARS and "bomb" not in seen


def test_contact_details_in_a_streamed_answer_arrive_masked(emulator):
    received, error, _ = _stream("What are the contact details?", 100)

    text = "".join(t for t, _ in received)
    assert error is None
    assert "{EMAIL}" in text and "support@example.com" not in text


@pytest.mark.parametrize("tools", [True, False])
def test_a_stream_offered_tools_keeps_the_whole_answer_check(emulator, tools):
    """With tools the answer may hold tool calls, which only the assembled answer shows: buffered."""
    from gateway.hooks.bedrock_guardrail import GatewayBedrockGuardrail

    assert GatewayBedrockGuardrail.windowed_applies({"tools": [{}]} if tools else {}) is (not tools)
