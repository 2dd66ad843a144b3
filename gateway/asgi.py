"""The gateway's request layer: LiteLLM's FastAPI app inside a plain ASGI wrapper.

    uvicorn gateway.asgi:app      (what gateway/serve.py points LiteLLM's own CLI at)

It does what must happen before LiteLLM parses a body or after it has written its headers:
- refuses a request body larger than GATEWAY_MAX_REQUEST_BODY_MB with 413 and an OpenAI-style
  error, from Content-Length before reading a byte, or, for a chunked body, as soon as the bytes
  received pass the limit, and only then reads and drops the rest of the upload (the WAF
  inspects only the first 8 KB; LiteLLM's own `max_request_size_mb` is an enterprise feature
  in 1.108.7);
- drops LiteLLM's internal response headers (model ids and names, version, API base, costs,
  timings, key spend, provider headers) from every answer, streamed and error ones included,
  unless GATEWAY_EXPOSE_INTERNAL_HEADERS is true. The headers clients keep are `KEPT_HEADERS`;
- once LiteLLM's start-up has loaded its config (the lifespan's `startup.complete`), installs the
  gateway's response-cache policy and puts the request-limit hook before the guardrail
  (gateway/hooks/request_limits.py, gateway/hooks/response_cache.py).

An ASGI wrapper, not Starlette middleware: LiteLLM's app has started before any hook could add
middleware, and adding middleware to a started app fails.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from gateway import limits as limits_module
from gateway.limits import RequestLimits

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Header families that carry the gateway's internals: LiteLLM's own (`x-litellm-model-name` is the
# Bedrock model id, `-model-api-base`, `-version`, `-response-cost`, `-key-spend`, timings, retries,
# fallbacks) and the model provider's, which LiteLLM forwards as `llm_provider-<name>`.
INTERNAL_PREFIXES = (b"x-litellm-", b"llm_provider-")
# Of those, what a client keeps: the request id (quoted to support, the same id as the trace), and
# the cache key, which says an answer came from the cache. The cache is scoped per team (or key)
# (gateway/hooks/response_cache.py), so a hit tells a caller only what its own team asked before.
# Everything outside those families passes: content type and length, `x-ratelimit-*`,
# `retry-after`, CORS and the security headers.
KEPT_HEADERS = frozenset({b"x-litellm-call-id", b"x-litellm-cache-key"})

# What the inner app calls once its start-up is done; set by _install (tests pass their own).
StartupHook = Callable[[RequestLimits], None]


def is_internal(name: bytes) -> bool:
    """True for a response header the client must not see (name in lower case, as ASGI has it)."""
    return name.startswith(INTERNAL_PREFIXES) and name not in KEPT_HEADERS


def filter_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, value in headers if not is_internal(name.lower())]


def too_large_body(limit_bytes: int) -> bytes:
    """The 413 answer: OpenAI's error shape, so SDKs raise their usual error with this message."""
    mib = limit_bytes / limits_module.MIB
    return json.dumps(
        {
            "error": {
                "message": (
                    f"Request body too large: the gateway accepts at most {mib:g} MiB ({limit_bytes} bytes). "
                    "Send less context or split the request."
                ),
                "type": "invalid_request_error",
                "param": None,
                "code": "request_too_large",
            }
        }
    ).encode()


def _error_body(message: str, code: str) -> bytes:
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    return json.dumps({"error": error}).encode()


def framing_refusal(headers: dict[bytes, bytes]) -> tuple[int, bytes] | None:
    """A body the limit could not be trusted on: framed two ways, or compressed.

    With both Content-Length and Transfer-Encoding the server reads the chunked body while the
    length says little (a 20 MiB body passed as `Content-Length: 10`); RFC 9112 says to treat
    such a message as an error.
    """
    if b"content-length" in headers and b"transfer-encoding" in headers:
        return 400, _error_body(
            "The request has both Content-Length and Transfer-Encoding: send one.", "invalid_framing"
        )
    return encoding_refusal(headers)


def encoding_refusal(headers: dict[bytes, bytes]) -> tuple[int, bytes] | None:
    """415 for a compressed body: its size says nothing about what it inflates to, and LiteLLM
    would not read it anyway. This gateway takes identity bodies only."""
    encoding = headers.get(b"content-encoding", b"identity").strip().lower()
    if encoding in (b"", b"identity"):
        return None
    return 415, _error_body(
        f"Content-Encoding {encoding.decode('latin-1')!r} is not accepted: send the body uncompressed.",
        "unsupported_content_encoding",
    )


class _BodyTooLarge(Exception):
    pass


# After a 413, how much of the rest of an upload is read (and dropped) before the connection is
# closed anyway: enough for any honest client to finish sending, too little to hold a worker.
DRAIN_BYTES = 64 * limits_module.MIB
DRAIN_SECONDS = 10.0


async def _drain(receive: Receive) -> int:
    """Read and drop request body messages until the body ends, the client leaves, or a bound is hit."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_SECONDS
    dropped = 0
    while dropped <= DRAIN_BYTES:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            message = await asyncio.wait_for(receive(), remaining)
        except TimeoutError:
            break
        if message["type"] != "http.request":
            break
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return dropped


class GatewayASGI:
    """Body limit, header filter and start-up install around an inner ASGI app (LiteLLM's)."""

    def __init__(
        self, inner: ASGIApp, limits: RequestLimits, *, on_startup: StartupHook | None = None
    ) -> None:
        self.inner = inner
        self.limits = limits
        self.on_startup = on_startup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.inner(scope, receive, self._lifespan_send(send))
            return
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        if not self.limits.expose_internal_headers:
            send = self._filtered(send)
        limit = self.limits.max_request_body_bytes
        headers = dict(scope.get("headers") or ())
        declared = headers.get(b"content-length")
        refusal = framing_refusal(headers)
        if refusal is not None:
            await self._refuse(send, receive, limit, answer=refusal)
            return
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1  # the server refuses a malformed length before the app sees it
            if length > limit:
                await self._refuse(send, receive, limit)
                return
            # The server holds the body to the declared length: nothing more can arrive.
            await self.inner(scope, receive, send)
            return
        if headers.get(b"transfer-encoding") is None:
            await self.inner(scope, receive, send)  # no body at all
            return
        try:
            buffered = await self._read_chunked(receive, limit)
        except _BodyTooLarge:
            await self._refuse(send, receive, limit)
            return
        await self.inner(scope, self._replay(buffered, receive), send)

    @staticmethod
    async def _read_chunked(receive: Receive, limit: int) -> list[Message]:
        """A chunked body, message by message, until it ends or passes the limit (then reading stops)."""
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages  # the client went away; the app sees the disconnect
            received += len(message.get("body", b""))
            if received > limit:
                raise _BodyTooLarge
            if not message.get("more_body", False):
                return messages

    @staticmethod
    def _replay(messages: list[Message], receive: Receive) -> Receive:
        pending = list(messages)

        async def replay() -> Message:
            if pending:
                return pending.pop(0)
            return await receive()

        return replay

    @staticmethod
    async def _refuse(
        send: Send, receive: Receive, limit: int, *, answer: tuple[int, bytes] | None = None
    ) -> None:
        """413 at once, then the rest of the body read and dropped, then the connection closed.

        The whole answer (status, headers, the JSON with its length) is written before anything
        more is read, so a client that reads while it uploads has it in milliseconds. The
        response is only marked complete after the upload has been drained (bounded by
        DRAIN_BYTES and DRAIN_SECONDS): closing a socket with unread bytes sends a TCP reset,
        which can destroy the 413 before the client or a proxy in front (the load balancer)
        reads it; a proxy then reports 502 instead.
        """
        status, body = answer or (413, too_large_body(limit))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": True})
        await _drain(receive)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    def _filtered(send: Send) -> Send:
        async def filtered(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": filter_headers(message.get("headers") or ())}
            await send(message)

        return filtered

    def _lifespan_send(self, send: Send) -> Send:
        async def lifespan_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete" and self.on_startup is not None:
                try:
                    self.on_startup(self.limits)
                except Exception as error:  # reported to the server, which stops
                    await send({"type": "lifespan.startup.failed", "message": f"gateway start-up: {error}"})
                    return
            await send(message)

        return lifespan_send


def install_policies(limits: RequestLimits) -> None:
    """After LiteLLM loaded its config: the response-cache policy, and the limit hook before the guardrail."""
    from gateway.hooks import request_limits, response_cache

    response_cache.install(limits)
    request_limits.install(limits)


def build(env: MutableMapping[str, str] | None = None) -> GatewayASGI:
    """LiteLLM's proxy app inside the gateway's layer, with the limits of the environment."""
    from litellm.proxy.proxy_server import app as litellm_app

    from gateway import db_credentials, error_shape, render, request_validation

    db_credentials.install()  # a rotated database credential is fetched again, not fatal

    environ = os.environ if env is None else env
    limits = limits_module.from_env(environ)
    # Without GATEWAY_MODELS (a test), errors keep Bedrock's ids and any model passes validation.
    models = render.catalogue_from_env(environ)
    aliases = error_shape.aliases_by_model_id(models)
    # Outermost first: limits and header filter, then every error shaped, then model requests validated.
    served = frozenset(model.alias for model in models)
    inner = error_shape.shaping(request_validation.validating(litellm_app, served), aliases)
    return GatewayASGI(inner, limits, on_startup=install_policies)


def __getattr__(name: str) -> Any:
    # `app` is built on first access (uvicorn's import string), so tests can import this module
    # without importing LiteLLM's proxy.
    if name == "app":
        built = build()
        globals()["app"] = built
        return built
    raise AttributeError(name)
