"""Adversarial cases for the windowed OUTPUT check of a streamed answer (issue 19's review).

Each test shapes the model's stream (chunk sizes, where a phrase or a PII value is cut) and
runs it through the hook the config builds against the emulator's ApplyGuardrail, which
enforces policies/guardrail.yaml: what the client would receive is what the hook yields.
"""

from __future__ import annotations

import asyncio

import pytest
from fastapi import HTTPException
from guardrail_hook import hook
from litellm.proxy._types import UserAPIKeyAuth
from litellm.types.utils import Delta, ModelResponseStream, StreamingChoices

from gateway.hooks.stream_window import CARRY_CHARS, UNCHECKED_HEAD_CHARS, WINDOW_CHARS, chunk_text

CHAT = UserAPIKeyAuth(request_route="/v1/chat/completions")
REQUEST = {"model": "nova-pro", "messages": [{"role": "user", "content": "hi"}], "stream": True}
# Clean text the emulator's guardrail passes: 48 characters.
FILLER = "The weather today is mild and the sky is clear. "


def _chunk(text: str, *, first: bool = False, last: bool = False) -> ModelResponseStream:
    return ModelResponseStream(
        id="chatcmpl-review",
        model="nova-pro",
        choices=[
            StreamingChoices(
                index=0,
                delta=Delta(content=text, role="assistant" if first else None),
                finish_reason="stop" if last else None,
            )
        ],
    )


async def _model(pieces: list[str], *, pause_after: dict[int, float] | None = None, on: dict | None = None):
    """The model's stream: one chunk per piece, optionally pausing (or acting) after piece i."""
    for i, piece in enumerate(pieces):
        yield _chunk(piece, first=i == 0, last=i == len(pieces) - 1)
        if on and i in on:
            on[i]()
        await asyncio.sleep((pause_after or {}).get(i, 0))


def _stream(pieces: list[str], **model_options) -> tuple[str, BaseException | None]:
    """(the text the client receives, the error that ended the stream)."""

    async def main():
        guardrail = hook()
        received, error = [], None
        try:
            async for chunk in guardrail.async_post_call_streaming_iterator_hook(
                CHAT, _model(pieces, **model_options), dict(REQUEST)
            ):
                received.append(chunk_text(chunk))
        except Exception as raised:  # what LiteLLM's stream writer turns into the client's error
            error = raised
        finally:
            await guardrail.poster.close()
        return "".join(received), error

    return asyncio.run(main())


def _filler(chars: int) -> str:
    return (FILLER * (chars // len(FILLER) + 1))[:chars]


def test_a_harmful_phrase_cut_by_the_end_of_the_unchecked_head_is_blocked(emulator):
    """The head goes out unchecked; the text after it must still be checked with the head in view."""
    head = "Here is how to build a"
    assert len(head) <= UNCHECKED_HEAD_CHARS
    text, error = _stream([head, " bomb: first gather the parts, then assemble them."])

    assert error is not None and getattr(error, "code", None) == 400, text
    assert "bomb" not in text


def test_a_harmful_answer_in_one_chunk_shows_only_the_head_cut_out_of_it(emulator):
    """A first chunk longer than the head is cut (issue 19.2): its front goes unchecked, never the rest."""
    answer = "Sure, here is how to build a bomb: first gather the parts, then assemble them."
    text, error = _stream([answer])

    assert error is not None and getattr(error, "code", None) == 400, text
    assert text == "Sure, here is how to " and "bomb" not in text  # the head, cut where a word ends


def test_a_first_chunk_without_white_space_in_the_head_is_cut_at_its_limit(emulator):
    answer = "x" * 40 + " and more text."
    text, error = _stream([answer])

    assert error is None and text == answer


def test_a_clean_answer_in_one_chunk_arrives_whole_when_its_head_is_cut_out(emulator):
    text, error = _stream([FILLER * 2])

    assert error is None and text == FILLER * 2


def test_a_harmful_phrase_cut_between_two_large_chunks_at_a_window_edge_is_blocked(emulator):
    """Chunks longer than the carry: the overlap must be cut out of a chunk, not skipped."""
    first_window = [_filler(150), _filler(100) + " here is how to build a"]
    assert all(len(piece) > CARRY_CHARS for piece in first_window)
    assert sum(map(len, first_window)) >= WINDOW_CHARS
    text, error = _stream(["Sure. ", *first_window, " bomb: first gather the parts, then assemble them."])

    assert error is not None and getattr(error, "code", None) == 400, text[-80:]
    assert "bomb" not in text


def test_a_phone_number_cut_at_the_edge_of_a_masked_window_arrives_masked(emulator):
    """A masked window must carry its clean tail too: the next PII value may start in it."""
    first_window = [_filler(120), " Mail support@example.com now.", _filler(100), " or call +1 206"]
    text, error = _stream(["Sure. ", *first_window, " 555 0100 today.", " " + _filler(40)])

    assert error is None
    assert "{EMAIL}" in text and "support@example.com" not in text
    assert "555 0100" not in text and "{PHONE}" in text, text[-120:]


def test_an_email_split_over_many_small_chunks_arrives_masked(emulator):
    pieces = ["Sure. ", _filler(250), " Write to sup", "port", "@exam", "ple.", "com", " please."]
    text, error = _stream(pieces)

    assert error is None
    assert "{EMAIL}" in text and "support@" not in text and "example.com" not in text


def test_a_guardrail_failing_mid_stream_ends_it_with_an_error_event_naming_the_failure(emulator):
    """Fail closed, and say so: after chunks were sent, an HTTPException tears the connection
    (LiteLLM re-raises it), so the client cannot tell a failed check from a network fault."""
    plan = {"guardrail": True, "fail_next": 5, "status": 503}
    fail_next = {2: lambda: emulator.backend.faults.configure(plan)}
    pieces = ["Sure. ", _filler(300), _filler(40), _filler(300), _filler(20)]
    text, error = _stream(pieces, pause_after={1: 0.3}, on=fail_next)

    assert text.startswith("Sure. ") and len(text) < sum(map(len, pieces)) - 300  # nothing unchecked
    assert not isinstance(error, HTTPException), error
    assert getattr(error, "code", None) == 503 and "guardrail" in str(getattr(error, "message", "")).lower()


def test_a_client_gone_while_the_last_window_is_checked_leaves_no_check_running(emulator):
    async def main():
        emulator.backend.faults.configure({"guardrail": True, "latency_ms": 1500})
        guardrail = hook()
        head = _filler(UNCHECKED_HEAD_CHARS)  # fills the unchecked head: nothing of the next chunk is cut out
        stream = guardrail.async_post_call_streaming_iterator_hook(
            CHAT, _model([head, _filler(100)]), dict(REQUEST)
        )
        try:
            assert chunk_text(await anext(stream)) == head
            with pytest.raises(TimeoutError):  # the client leaves while the last window's check runs
                await asyncio.wait_for(anext(stream), 0.3)
            await asyncio.sleep(0)
            return [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        finally:
            await stream.aclose()
            await guardrail.poster.close()

    assert asyncio.run(main()) == []


@pytest.mark.xfail(
    strict=True,
    reason="design decision (reported): a PII value cut by the edge of a window that gets it masked "
    "is masked only up to the edge; its rest starts the next window, where the check no longer "
    "recognises it. Holding such a window back until more text arrives costs another check.",
)
def test_an_email_cut_where_a_window_ends_and_masks_it_arrives_masked_whole(emulator):
    first_window = [_filler(240), " Mail alice.smith@corp.exa"]
    head = _filler(UNCHECKED_HEAD_CHARS)  # fills the head, so the first window is exactly these chunks
    text, error = _stream([head, *first_window, "mple.org now.", " " + _filler(40)])

    assert error is None and "{EMAIL}" in text
    assert "mple.org" not in text, text[-80:]


def test_a_guardrail_unreachable_mid_stream_ends_it_with_an_error_event(emulator, monkeypatch):
    """A transport error (not an HTTPException) after chunks were sent: the same error event, 500."""
    unreachable = {2: lambda: monkeypatch.setenv("AWS_BEDROCK_RUNTIME_ENDPOINT", "http://127.0.0.1:9")}
    pieces = ["Sure. ", _filler(300), _filler(40), _filler(300), _filler(20)]
    text, error = _stream(pieces, pause_after={1: 0.3}, on=unreachable)

    assert text.startswith("Sure. ") and len(text) < sum(map(len, pieces)) - 300
    assert getattr(error, "code", None) == 500 and getattr(error, "type", None) == "guardrail_failed", error
