"""The OUTPUT check of a streamed chat answer, in windows, so the answer streams while it is checked.

LiteLLM 1.108.7's Bedrock guardrail (and this gateway's hook before issue 19) collected a
whole stream, checked it once and only then released it: the client's time to first token
was the whole generation plus a check. Here the growing answer is checked in windows:

- the head: chunks are released unchecked while the released text stays within
  `UNCHECKED_HEAD_CHARS` (in practice the first delta, a few words), so the first token
  costs no OUTPUT round trip;
- after it, text is released only once an ApplyGuardrail verdict covers it: each window of
  at least `WINDOW_CHARS` unreleased characters is checked while the model keeps generating
  (one check in flight), and released when its verdict is clean or masked;
- the last chunks of a clean window, up to `CARRY_CHARS` of text, are held back and checked
  again at the start of the next window, so a phrase or PII value split by a window edge is
  seen whole (when shorter than the carry);
- a masked verdict (PII anonymized) releases the window as one chunk of masked text;
- a blocked verdict ends the stream: with the usual 400 if nothing was sent yet, else with an
  OpenAI-style error event (`data: {"error": {...}}`), so the client has seen at most the
  head and the windows checked clean before (docs/gateway.md, "Streamed answers").

Windows see less context than a check of the whole answer; docs/gateway.md says so.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import HTTPException
from litellm.types.guardrails import GuardrailEventHooks
from litellm.types.utils import Choices, Delta, Message, ModelResponse, ModelResponseStream, StreamingChoices

UNCHECKED_HEAD_CHARS = 24
WINDOW_CHARS = 256
CARRY_CHARS = 64
BLOCKED_STATUS = 400


class StreamBlocked(Exception):
    """A block after the stream started: LiteLLM's stream writer sends it as an error event.

    `message`, `type` and `code` are what LiteLLM's ProxyException copies into the event
    (proxy_server.py `async_data_generator`); an HTTPException would tear the stream instead.
    """

    def __init__(self, detail: Any, released_chars: int) -> None:
        detail = detail if isinstance(detail, dict) else {"error": str(detail)}
        reason = detail.get("bedrock_guardrail_response") or ""
        self.message = f"{detail.get('error', 'Violated guardrail policy')}: {reason}".rstrip(": ")
        self.type = "guardrail_blocked"
        self.param = None
        self.code = BLOCKED_STATUS
        self.status_code = BLOCKED_STATUS
        self.released_chars = released_chars
        super().__init__(self.message)


def chunk_text(chunk: ModelResponseStream) -> str:
    return "".join((getattr(c.delta, "content", None) or "") for c in chunk.choices or [])


def text_chunk(like: ModelResponseStream, text: str) -> ModelResponseStream:
    """A chunk carrying `text`, with the id, model and creation time of `like`."""
    return ModelResponseStream(
        id=like.id,
        created=like.created,
        model=like.model,
        choices=[StreamingChoices(index=0, delta=Delta(role="assistant", content=text))],
    )


def _strip_text(chunk: ModelResponseStream) -> ModelResponseStream | None:
    """The chunk without its text (finish reason, usage kept), or None when nothing else is in it."""
    for choice in chunk.choices or []:
        choice.delta.content = None
    keeps = getattr(chunk, "usage", None) is not None or any(c.finish_reason for c in chunk.choices or [])
    return chunk if keeps else None


class _Window:
    """Unreleased chunks and their text."""

    def __init__(self) -> None:
        self.chunks: list[ModelResponseStream] = []

    def add(self, chunk: ModelResponseStream) -> None:
        self.chunks.append(chunk)

    @property
    def text(self) -> str:
        return "".join(chunk_text(c) for c in self.chunks)


async def windowed_output_check(
    guardrail: Any, first: ModelResponseStream, rest: AsyncIterator[Any], request_data: dict
) -> AsyncIterator[ModelResponseStream]:
    """Yield the stream's chunks as their OUTPUT verdicts allow (module docstring)."""
    pending = _Window()  # received, not yet released nor being checked
    released_chars = 0
    yielded = False
    in_flight: tuple[asyncio.Task, list[ModelResponseStream]] | None = None

    async def check(text: str) -> ModelResponse:
        answer = ModelResponse(choices=[Choices(index=0, message=Message(role="assistant", content=text))])
        verdict = await guardrail.make_bedrock_api_request(
            source="OUTPUT", response=answer, request_data=request_data,
            logging_event_type=GuardrailEventHooks.post_call,
        )  # fmt: skip
        guardrail._apply_masking_to_response(response=answer, bedrock_guardrail_response=verdict)
        return answer

    def start(chunks: list[ModelResponseStream]) -> tuple[asyncio.Task, list[ModelResponseStream]]:
        return asyncio.create_task(check("".join(chunk_text(c) for c in chunks))), chunks

    def settle(task: asyncio.Task, chunks: list[ModelResponseStream], *, last: bool):
        """The chunks to release for a finished check, and the ones carried into the next window."""
        try:
            answer = task.result()
        except HTTPException as error:
            if error.status_code == BLOCKED_STATUS and yielded:
                raise StreamBlocked(error.detail, released_chars) from error
            raise
        text = "".join(chunk_text(c) for c in chunks)
        masked = answer.choices[0].message.content or ""
        if masked != text:  # anonymized: one chunk of masked text, then what else the chunks carried
            rest_of = [kept for c in chunks if (kept := _strip_text(c)) is not None]
            return [text_chunk(chunks[0], masked), *rest_of], []
        if last:
            return chunks, []
        carry: list[ModelResponseStream] = []
        carried = 0
        for chunk in reversed(chunks[1:]):
            carried += len(chunk_text(chunk))
            if carried > CARRY_CHARS:
                break
            carry.insert(0, chunk)
        return chunks[: len(chunks) - len(carry)], carry

    async def released(chunks: list[ModelResponseStream]):
        nonlocal released_chars, yielded
        for chunk in chunks:
            released_chars += len(chunk_text(chunk))
            yielded = True
            yield chunk

    upstream = _prepend(first, rest)
    head_open = True
    try:
        async for chunk in upstream:
            text = chunk_text(chunk) if isinstance(chunk, ModelResponseStream) else ""
            if head_open and not pending.chunks and released_chars + len(text) <= UNCHECKED_HEAD_CHARS:
                async for out in released([chunk]):
                    yield out
                continue
            head_open = False
            pending.add(chunk)
            if in_flight is not None and in_flight[0].done():
                out_chunks, carry = settle(*in_flight, last=False)
                in_flight = None
                pending.chunks[:0] = carry
                async for out in released(out_chunks):
                    yield out
            if in_flight is None and len(pending.text) >= WINDOW_CHARS:
                in_flight, pending = start(pending.chunks), _Window()
        if in_flight is not None:
            await asyncio.wait([in_flight[0]])
            out_chunks, carry = settle(*in_flight, last=False)
            in_flight = None
            pending.chunks[:0] = carry
            async for out in released(out_chunks):
                yield out
        if pending.chunks:
            if pending.text:
                task, chunks = start(pending.chunks)
                await asyncio.wait([task])
                out_chunks, _ = settle(task, chunks, last=True)
            else:
                out_chunks = pending.chunks
            async for out in released(out_chunks):
                yield out
    finally:
        if in_flight is not None and not in_flight[0].done():
            in_flight[0].cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await in_flight[0]


async def _prepend(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    yield first
    async for chunk in rest:
        yield chunk
