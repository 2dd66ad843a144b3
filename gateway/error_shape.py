"""Every error the gateway answers has OpenAI's shape, and tells a client nothing internal.

`{"error": {"message", "type", "param", "code"}}` is what the official SDKs
parse: with any other body they raise an error whose message is only
"Error code: 405". LiteLLM 1.108.7 answers most errors that way, but not all:
FastAPI's own 404/405/422 are `{"detail": …}`, a stream refused before its
first chunk is a 400 sent as `text/event-stream` (`data: {…}`), and some
errors carry `"None"` strings. This ASGI send-wrapper rewrites the body of
every non-2xx answer into that shape, as JSON, and scrubs the message:
Bedrock model ids become the catalogue alias the client used, and file paths,
tracebacks, AWS endpoints and anything shaped like a key are removed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from http import HTTPStatus
from typing import Any

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

MAX_ERROR_BODY = 64 * 1024  # an error body larger than this is replaced, not buffered further
TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}
_TRACEBACK = re.compile(r"Traceback \(most recent call last\):.*", re.S)
_PATH = re.compile(r"(?:/[\w.@+-]+){2,}\.py\w*(?::\d+)?")
_KEY = re.compile(r"\b(?:sk|pk)-[A-Za-z0-9_\-]{6,}")
_AWS_URL = re.compile(r"https?://[\w.-]*amazonaws\.com\S*|https?://(?:127\.0\.0\.1|localhost)(?::\d+)?\S*")
_ARN = re.compile(r"arn:aws[\w-]*:[\w-]+:[\w-]*:\d*:[\w/:.-]+")
# LiteLLM's and the provider's own words around a message: which library and provider answered,
# how often it retried, where to file a bug.
_INTERNAL_PHRASES = re.compile(
    r"litellm\.\w+(?:Error|Exception):\s*|\b(?:Bedrock|AmazonBedrock)\w*Exception\s*-\s*|"
    r"\s*LiteLLM Retried: \d+ times?(?:, LiteLLM Max Retries: \d+)?|https?://github\.com/\S+|"
    r"\s*Received Model Group=\S+|\s*Available Model Group Fallbacks=\S+",
)


def scrub(text: str, aliases: Mapping[str, str]) -> str:
    """The message without internals; Bedrock ids (longest first) named by their alias."""
    text = _TRACEBACK.sub("", text)
    text = _INTERNAL_PHRASES.sub("", text)
    text = _ARN.sub("[resource]", text)
    text = _AWS_URL.sub("[endpoint]", text)
    text = _PATH.sub("[internal]", text)
    text = _KEY.sub("[key]", text)
    for model_id in sorted(aliases, key=len, reverse=True):
        text = text.replace(f"bedrock/{model_id}", aliases[model_id]).replace(model_id, aliases[model_id])
    return text.strip() or "The request failed."


def _null(value: Any) -> Any:
    return None if value in (None, "None", "none", "null", "") else value


def _from_detail(detail: Any) -> str:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):  # FastAPI's 422
        first = detail[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
    if isinstance(detail, dict):
        inner = detail.get("error", detail.get("message"))
        return inner if isinstance(inner, str) else json.dumps(detail)[:500]
    return json.dumps(detail)[:500]


def _parse(raw: bytes) -> Any:
    text = raw.decode("utf-8", "replace").strip()
    if text.startswith("data:"):  # a stream refused before its first chunk
        text = text.splitlines()[0].removeprefix("data:").strip()
    try:
        return json.loads(text)
    except ValueError:
        return text


def normalize(status: int, raw: bytes, request: str, aliases: Mapping[str, str]) -> bytes:
    """The OpenAI-shaped body for an error answer with this status and body."""
    parsed = _parse(raw)
    error: dict[str, Any] = {}
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        error = dict(parsed["error"])
    elif isinstance(parsed, dict) and "detail" in parsed:
        error = {"message": _from_detail(parsed["detail"])}
    elif isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        error = {"message": parsed["error"]}
    elif isinstance(parsed, str) and parsed:
        error = {"message": parsed}
    message = error.get("message")
    if not isinstance(message, str) or not message.strip():
        message = (
            json.dumps(message)
            if message
            else HTTPStatus(status).phrase
            if status in HTTPStatus._value2member_map_
            else "Error"
        )
    if status == 405:
        message = f"{message}: {request} is not served (see the allowed methods in the Allow header)"
    elif status == 404 and message in ("Not Found", "Not found"):
        message = f"Not found: {request}"
    kind = _null(error.get("type")) or TYPES.get(
        status, "api_error" if status >= 500 else "invalid_request_error"
    )
    code = _null(error.get("code"))
    # OpenAI's four fields only: LiteLLM's `provider_specific_fields` carried the guardrail's id,
    # version, mode and which policy matched, a map for whoever probes the content policy.
    shaped = {
        "message": scrub(message, aliases),
        "type": kind,
        "param": _null(error.get("param")),
        "code": str(code) if code is not None else str(status),
    }
    return json.dumps({"error": shaped}).encode()


class ErrorShapedSend:
    """Wraps one request's `send`: 2xx passes untouched; an error's body is collected and rewritten."""

    def __init__(self, send: Send, scope: Mapping[str, Any], aliases: Mapping[str, str]) -> None:
        self.send = send
        self.request = f"{scope.get('method', '')} {scope.get('path', '')}".strip()
        self.head = scope.get("method") == "HEAD"
        self.aliases = aliases
        self.start: Message | None = None
        self.chunks: list[bytes] = []
        self.size = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            if message["status"] < 400 or self.head:
                await self.send(message)
                return
            self.start = message
            return
        if self.start is None or message["type"] != "http.response.body":
            await self.send(message)
            return
        body = message.get("body", b"")
        self.size += len(body)
        if self.size <= MAX_ERROR_BODY:
            self.chunks.append(body)
        if message.get("more_body", False):
            return
        raw = b"".join(self.chunks) if self.size <= MAX_ERROR_BODY else b""
        shaped = normalize(self.start["status"], raw, self.request, self.aliases)
        headers = [
            (name, value)
            for name, value in self.start.get("headers", [])
            if name.lower() not in (b"content-type", b"content-length", b"transfer-encoding")
        ]
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(shaped)).encode())]
        await self.send({**self.start, "headers": headers})
        await self.send({"type": "http.response.body", "body": shaped, "more_body": False})
        self.start = None


def shaping(app: Any, aliases: Mapping[str, str]) -> Any:
    """ASGI wrapper: every HTTP answer of `app` goes out through an ErrorShapedSend."""

    async def shaped(scope: MutableMapping[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        await app(scope, receive, ErrorShapedSend(send, scope, aliases))

    return shaped


def aliases_by_model_id(models: Any) -> dict[str, str]:
    """Bedrock model id -> the alias naming it: of the aliases it serves, the one with fewest deployments."""
    counts: dict[str, int] = {}
    for model in models:
        counts[model.alias] = counts.get(model.alias, 0) + 1
    out: dict[str, str] = {}
    for model in models:
        known = out.get(model.model_id)
        if known is None or counts[model.alias] < counts[known]:
            out[model.model_id] = model.alias
    return out
