"""Request limits and what answers tell, through the real proxy and the official SDK.

The limits are the environment file's `api:` section (gateway/limits.py holds the defaults):
- a body over the limit gets 413 with an OpenAI-style error, answered before the body is read
  (figures in the detail; the check fails only past OVERSIZE_DEADLINE, a clear margin);
- more embedding inputs than allowed, or `max_tokens` / `max_completion_tokens` over the cap, get
  400 naming the parameter, on chat, text completions and embeddings, plain and streamed, before
  any guardrail or model call (counted on the local emulator);
- LiteLLM's internal headers are absent from a chat answer, a streamed one and an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import openai

from gateway.asgi import KEPT_HEADERS, is_internal
from gateway.limits import MIB
from gateway.smoke.checks.common import ensure, openai_error
from gateway.smoke.checks.emulator import stats
from gateway.smoke.runner import CheckFailed, Skip
from gateway.smoke.target import Target

# A 413 decided from the headers takes milliseconds; only a clear regression (reading the body,
# parsing it, calling a model) should fail the check on a busy machine.
OVERSIZE_DEADLINE = 2.0
CHUNK = 256 * 1024
# What a leak would look like: LiteLLM's internal headers for a chat answer.
LEAK_EXAMPLES = (
    "x-litellm-model-name",
    "x-litellm-version",
    "x-litellm-model-api-base",
    "x-litellm-model-id",
)


def _calls(target: Target) -> int | None:
    """Every emulator call so far (models and guardrail), locally; None against a deployed gateway."""
    if target.local is None:
        return None
    return int(stats(target).get("total", 0))


def _untouched(target: Target, before: int | None, what: str) -> str:
    after = _calls(target)
    if before is None or after is None:
        return ""
    ensure(after == before, f"{what}: {after - before} guardrail/model call(s) were made before refusing")
    return "; no guardrail or model call"


def _first_alias(target: Target, mode: str) -> str:
    aliases = target.environment.aliases(mode)
    if not aliases:
        raise Skip(f"the catalogue has no {mode} alias")
    return aliases[0]


def _too_large_error(response: httpx.Response) -> dict:
    error = openai_error(response, {413})
    ensure(
        {"message", "type", "param", "code"} <= set(error),
        f"the 413 error lacks OpenAI's fields (message, type, param, code): {error}",
    )
    return error


def oversize_body_413(target: Target) -> str:
    """A chat request 1 MiB over the limit, through the SDK: 413, OpenAI-style, under OVERSIZE_DEADLINE."""
    limits = target.environment.request_limits
    alias = _first_alias(target, "chat")
    content = "x" * (limits.max_request_body_bytes + MIB)
    before = _calls(target)
    began = time.monotonic()
    try:
        target.client().chat.completions.with_raw_response.create(
            model=alias, messages=[{"role": "user", "content": content}], max_tokens=8
        )
    except openai.APIStatusError as err:
        elapsed = time.monotonic() - began
        error = _too_large_error(err.response)
    else:
        raise CheckFailed(
            f"a {len(content) / MIB:.1f} MiB body was accepted (limit {limits.max_request_body_mb} MiB)"
        )
    ensure(elapsed < OVERSIZE_DEADLINE, f"413 took {elapsed:.2f} s (allowed under {OVERSIZE_DEADLINE} s)")
    detail = f"{len(content) / MIB:.1f} MiB body -> 413 in {elapsed * 1000:.0f} ms, code {error['code']!r}"
    return detail + _untouched(target, before, "oversize body")


def oversize_chunked_body_413(target: Target) -> str:
    """The same without Content-Length (chunked upload): 413 once the received bytes pass the limit."""
    limits = target.environment.request_limits
    alias = _first_alias(target, "chat")
    total = limits.max_request_body_bytes + MIB
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        head = f'{{"model": "{alias}", "max_tokens": 8, "messages": [{{"role": "user", "content": "'.encode()
        sent += len(head)
        yield head
        while sent < total:
            sent += CHUNK
            yield b"x" * CHUNK
        yield b'"}]}'

    before = _calls(target)
    began = time.monotonic()
    response = target.http.post(
        "/v1/chat/completions",
        content=body(),
        headers={**target.auth(), "Content-Type": "application/json"},
    )
    elapsed = time.monotonic() - began
    ensure("content-length" not in response.request.headers, "the request was not chunked")
    _too_large_error(response)
    ensure(elapsed < OVERSIZE_DEADLINE, f"413 took {elapsed:.2f} s (allowed under {OVERSIZE_DEADLINE} s)")
    detail = (
        f"chunked upload of {total / MIB:.1f} MiB -> 413 in {elapsed * 1000:.0f} ms "
        f"after {sent / MIB:.1f} MiB written"
    )
    return detail + _untouched(target, before, "oversize chunked body")


def too_many_embedding_inputs_400(target: Target) -> str:
    """One input more than allowed: 400 naming `input`, and not one model call (today: one call per input)."""
    limits = target.environment.request_limits
    alias = _first_alias(target, "embedding")
    inputs = [f"text {i} ({target.nonce('inputs')})" for i in range(limits.max_embedding_inputs + 1)]
    before = _calls(target)
    try:
        target.client().embeddings.create(model=alias, input=inputs, encoding_format="float")
    except openai.BadRequestError as err:
        error = openai_error(err.response, {400})
    else:
        raise CheckFailed(f"{len(inputs)} inputs were embedded (limit {limits.max_embedding_inputs})")
    ensure(
        error.get("param") == "input", f"the error names param {error.get('param')!r}, not 'input': {error}"
    )
    detail = f"{len(inputs)} inputs -> 400 param=input: {error['message'][:60]!r}"
    return detail + _untouched(target, before, "too many inputs")


def _max_tokens_row(endpoint: str, param: str, stream: bool) -> Callable[[Target], str]:
    """`param` one over the cap on `endpoint` (chat|completions), plain or streamed: 400 naming it."""

    def check(target: Target) -> str:
        limits = target.environment.request_limits
        alias = _first_alias(target, "chat")
        client = target.client()
        value = limits.max_tokens + 1
        before = _calls(target)
        try:
            if endpoint == "chat":
                result = client.chat.completions.create(
                    model=alias,
                    messages=[{"role": "user", "content": f"Hi ({target.nonce('cap')})"}],
                    stream=stream,
                    **{param: value},
                )
            else:
                result = client.completions.create(
                    model=alias, prompt=f"Hi ({target.nonce('cap')})", stream=stream, **{param: value}
                )
            if stream:
                for _ in result:
                    pass
        except openai.BadRequestError as err:
            error = openai_error(err.response, {400})
        else:
            raise CheckFailed(f"{param}={value} was served (cap {limits.max_tokens})")
        ensure(error.get("param") == param, f"the error names param {error.get('param')!r}, not {param!r}")
        detail = f"{param}={value} -> 400 param={param}"
        return detail + _untouched(target, before, f"{param} over the cap")

    mode = "streamed" if stream else "plain"
    check.__name__ = f"max_tokens_over_cap_400[{endpoint},{param},{mode}]"
    return check


def max_tokens_rows() -> list[Callable[[Target], str]]:
    rows = [
        _max_tokens_row(endpoint, "max_tokens", stream)
        for endpoint in ("chat", "completions")
        for stream in (False, True)
    ]
    rows.append(_max_tokens_row("chat", "max_completion_tokens", False))
    return rows


def _leaks(headers: httpx.Headers) -> list[str]:
    return sorted(name for name in headers if is_internal(name.lower().encode()))


def _headers_row(kind: str) -> Callable[[Target], str]:
    """Internal headers absent from a `kind` answer (chat, streamed chat, an error); kept ones may stay."""

    def check(target: Target) -> str:
        if target.environment.request_limits.expose_internal_headers:
            raise Skip("this environment sets api.expose_internal_headers: true")
        alias = _first_alias(target, "chat")
        messages = [{"role": "user", "content": f"Hello ({target.nonce('headers')})"}]
        raw = target.client().chat.completions.with_raw_response
        if kind == "chat":
            headers = raw.create(model=alias, messages=messages, max_tokens=16).headers
        elif kind == "streamed chat":
            with target.client().chat.completions.with_streaming_response.create(
                model=alias, messages=messages, max_tokens=16, stream=True
            ) as response:
                headers = response.headers
                for _ in response.iter_lines():
                    pass
        else:
            try:
                raw.create(model="no-such-model", messages=messages)
            except openai.APIStatusError as err:
                headers = err.response.headers
            else:
                raise CheckFailed("an unknown model was served")
        leaks = _leaks(headers)
        ensure(not leaks, f"internal headers reach the client on a {kind} answer: {leaks}")
        kept = sorted(name for name in headers if name.lower().encode() in KEPT_HEADERS)
        return f"{kind}: none of {', '.join(LEAK_EXAMPLES[:2])}, … ; kept {kept or 'nothing internal'}"

    check.__name__ = f"internal_headers_absent[{kind}]"
    return check


def rows() -> list[Callable[[Target], str]]:
    """Every row of this module, in the order they run."""
    return [
        oversize_body_413,
        oversize_chunked_body_413,
        too_many_embedding_inputs_400,
        *max_tokens_rows(),
        *(_headers_row(kind) for kind in ("chat", "streamed chat", "error")),
    ]
