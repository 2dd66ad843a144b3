"""The OUTPUT check of a streamed chat answer, in windows, so the answer streams while it is checked.

LiteLLM 1.108.7's Bedrock guardrail (and this gateway's hook before issue 19) collected a
whole stream, checked it once and only then released it: the client's time to first token
was the whole generation plus a check. Here the growing answer is checked in windows:

- the head: the answer's first `UNCHECKED_HEAD_CHARS` characters at most are released
  unchecked as they arrive; a delta that outgrows the head is cut after its last white space
  within it (no word is cut in two; a hard cut when there is none) and its rest waits for
  the first window. So the first token costs no OUTPUT round trip whatever the model's
  chunk sizes. The first window is checked with the head in front of it, so a phrase the
  head's end cuts is still seen whole (the head itself cannot be recalled). Before issue
  19.2 a first delta longer than the head was held whole, and a short answer (under one
  window) reached the client only after the model had finished and one OUTPUT check;
- after it, text is released only once an ApplyGuardrail verdict covers it: each window of
  at least `WINDOW_CHARS` unreleased characters is checked while the model keeps generating
  (one check in flight), and released when its verdict is clean or masked;
- the last `CARRY_CHARS` characters of a window (cut out of a chunk if need be; after a
  masked verdict, as much of that tail as masking left unchanged) are held back and checked
  again at the start of the next window, so a phrase or PII value split by a window edge is
  seen whole (when shorter than the carry);
- a masked verdict (PII anonymized) releases the window as one chunk of masked text;
- a blocked verdict ends the stream: with the usual 400 if nothing was sent yet, else with an
  OpenAI-style error event (`data: {"error": {...}}`), so the client has seen at most the
  head and the windows checked clean before (docs/gateway.md, "Streamed answers"); a check
  that fails (timeout, 5xx) after chunks were sent ends it the same way, with its status,
  instead of tearing the connection.

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
    """A block or a failed check after the stream started: LiteLLM's writer sends it as an error event.

    `message`, `type` and `code` are what LiteLLM's ProxyException copies into the event
    (proxy_server.py `async_data_generator`); an HTTPException would tear the stream instead,
    and the client could not tell a refused answer from a network fault.
    """

    def __init__(self, detail: Any, released_chars: int, status_code: int = BLOCKED_STATUS) -> None:
        if status_code == BLOCKED_STATUS:
            detail = detail if isinstance(detail, dict) else {"error": str(detail)}
            reason = detail.get("bedrock_guardrail_response") or ""
            self.message = f"{detail.get('error', 'Violated guardrail policy')}: {reason}".rstrip(": ")
            self.type = "guardrail_blocked"
        else:  # the check itself failed (timeout, 5xx): fail closed, saying so
            self.message = (
                f"The content check (guardrail) failed ({status_code}), so the rest of the answer "
                f"was withheld: {detail}"
            )
            self.type = "guardrail_failed"
        self.param = None
        self.code = status_code
        self.status_code = status_code
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


def _split(chunks: list[ModelResponseStream], at: int):
    """The chunks holding the first `at` characters, and the rest; a chunk cut by `at` is split in two."""
    front: list[ModelResponseStream] = []
    back: list[ModelResponseStream] = []
    seen = 0
    for chunk in chunks:
        text = chunk_text(chunk)
        if back or seen + len(text) <= at:
            (back if back else front).append(chunk)
            seen += len(text)
            continue
        cut = at - seen
        if cut > 0:
            front.append(text_chunk(chunk, text[:cut]))
            chunk.choices[0].delta.content = text[cut:]  # one choice: windows apply only then
        back.append(chunk)
        seen += len(text)
    return front, back


def _head_cut(text: str, room: int) -> int:
    """Where the unchecked head ends in a chunk that outgrows it: after the last white space within
    `room` characters (half a word, such as half an e-mail address, is never sent unchecked), else
    at `room`."""
    spaces = [i for i, char in enumerate(text[:room]) if char.isspace()]
    return spaces[-1] + 1 if spaces else room


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _common_suffix(a: str, b: str) -> int:
    return _common_prefix(a[::-1], b[::-1])


async def windowed_output_check(
    guardrail: Any, first: ModelResponseStream, rest: AsyncIterator[Any], request_data: dict
) -> AsyncIterator[ModelResponseStream]:
    """Yield the stream's chunks as their OUTPUT verdicts allow (module docstring)."""
    pending: list[ModelResponseStream] = []  # received, not yet released nor being checked
    pending_chars = 0  # kept as it grows: a long answer piling up behind a slow check is not re-joined
    head = ""  # the unchecked head: the first window is checked with it in front, so a cut phrase is whole
    released_chars = 0
    yielded = False
    in_flight: tuple[asyncio.Task, list[ModelResponseStream], str] | None = None

    async def check(text: str) -> ModelResponse:
        answer = ModelResponse(choices=[Choices(index=0, message=Message(role="assistant", content=text))])
        verdict = await guardrail.make_bedrock_api_request(
            source="OUTPUT", response=answer, request_data=request_data,
            logging_event_type=GuardrailEventHooks.post_call,
        )  # fmt: skip
        guardrail._apply_masking_to_response(response=answer, bedrock_guardrail_response=verdict)
        return answer

    def start(chunks: list[ModelResponseStream], context: str):
        text = "".join(chunk_text(c) for c in chunks)
        return asyncio.create_task(check(context + text)), chunks, context

    def settle(task: asyncio.Task, chunks: list[ModelResponseStream], context: str, *, last: bool):
        """The chunks to release for a finished check, and the ones carried into the next window.

        The carry is the window's last `CARRY_CHARS` characters (cut out of a chunk if need be),
        after a masked verdict too (as much of that tail as masking left unchanged).
        """
        try:
            answer = task.result()
        except Exception as error:  # a block, or the check failed: either way nothing more is sent
            if yielded:
                http = isinstance(error, HTTPException)
                status = error.status_code if http else 500
                detail = error.detail if http else (str(error) or type(error).__name__)
                raise StreamBlocked(detail, released_chars, status) from error
            raise
        text = "".join(chunk_text(c) for c in chunks)
        verdict = answer.choices[0].message.content or ""
        if verdict == context + text or verdict.endswith(text):  # clean (or only the sent head masked)
            out = text
        elif verdict.startswith(context):
            out = verdict[len(context) :]
        else:  # masking reached into the head already sent: send the masked rest, nothing of the value
            out = verdict[_common_prefix(verdict, context) :]
        keep = 0 if last else min(CARRY_CHARS, _common_suffix(out, text), len(text))
        front, carry = _split(chunks, len(text) - keep)
        if out == text:
            return front, carry
        # anonymized: one chunk of masked text, then what else the chunks carried
        masked = [text_chunk(chunks[0], out[: len(out) - keep])] if len(out) > keep else []
        return [*masked, *(kept for c in front if (kept := _strip_text(c)) is not None)], carry

    async def released(chunks: list[ModelResponseStream]):
        nonlocal released_chars, yielded
        for chunk in chunks:
            released_chars += len(chunk_text(chunk))
            yielded = True
            yield chunk

    def take_carry(carry: list[ModelResponseStream]) -> None:
        nonlocal pending_chars
        pending[:0] = carry
        pending_chars += sum(len(chunk_text(c)) for c in carry)

    upstream = _prepend(first, rest)
    head_open = True
    try:
        async for chunk in upstream:
            text = chunk_text(chunk) if isinstance(chunk, ModelResponseStream) else ""
            if head_open and not pending:
                room = UNCHECKED_HEAD_CHARS - released_chars
                if len(text) <= room:
                    head += text
                    async for out in released([chunk]):
                        yield out
                    continue
                if room > 0:  # the head ends inside this chunk: its front goes now, the rest is checked
                    cut = _head_cut(text, room)
                    front, (chunk,) = _split([chunk], cut)
                    head += text[:cut]
                    text = text[cut:]
                    async for out in released(front):
                        yield out
            head_open = False
            pending.append(chunk)
            pending_chars += len(text)
            if in_flight is not None and in_flight[0].done():
                out_chunks, carry = settle(*in_flight, last=False)
                in_flight = None
                take_carry(carry)
                async for out in released(out_chunks):
                    yield out
            if in_flight is None and pending_chars >= WINDOW_CHARS:
                in_flight, head = start(pending, head), ""
                pending, pending_chars = [], 0
        if in_flight is not None:
            await asyncio.wait([in_flight[0]])
            out_chunks, carry = settle(*in_flight, last=False)
            in_flight = None
            take_carry(carry)
            async for out in released(out_chunks):
                yield out
        if pending:
            if pending_chars:
                in_flight = start(pending, head)  # tracked, so a client leaving now cancels it
                await asyncio.wait([in_flight[0]])
                out_chunks, _ = settle(*in_flight, last=True)
                in_flight = None
            else:
                out_chunks = pending
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
