"""Model requests checked against OpenAI's own request types before LiteLLM's router sees them.

LiteLLM 1.108.7 lets a malformed request reach its router, which fails on it,
retries it three times with back-off and walks the fallback chain: `content:
12345` took 27 s to become a 500, and a body that is a JSON array was a 500
at once. Here the body is parsed once and validated with the `openai`
package's request TypedDicts (strict: `"10"` is not an integer), plus the
numeric ranges OpenAI documents; a failure is a 400 naming the parameter, in
well under a millisecond, and the request never reaches the router. A valid
body is handed to LiteLLM already parsed (its `parsed_body` scope cache), so
it is not parsed twice.

LiteLLM's own extensions (`metadata` with any values, `guardrails`, `cache`,
…) are left to LiteLLM: unknown keys pass, and `metadata` is not checked
against OpenAI's string-only form.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openai.types.chat.completion_create_params import (
    CompletionCreateParamsNonStreaming as ChatParams,
)
from openai.types.chat.completion_create_params import (
    CompletionCreateParamsStreaming as StreamedChatParams,
)
from openai.types.completion_create_params import CompletionCreateParamsNonStreaming as TextParams
from openai.types.completion_create_params import CompletionCreateParamsStreaming as StreamedTextParams
from openai.types.embedding_create_params import EmbeddingCreateParams
from pydantic import TypeAdapter, ValidationError

# (request type, streamed) -> OpenAI's request type; `stream` selects the streaming variant.
ADAPTERS: dict[tuple[str, bool], TypeAdapter] = {
    ("chat", False): TypeAdapter(ChatParams),
    ("chat", True): TypeAdapter(StreamedChatParams),
    ("completion", False): TypeAdapter(TextParams),
    ("completion", True): TypeAdapter(StreamedTextParams),
    ("embedding", False): TypeAdapter(EmbeddingCreateParams),
}
# The model routes the gateway serves (policies/routes.yaml's served class), by request type.
MODEL_ROUTES = {
    "/v1/chat/completions": "chat",
    "/chat/completions": "chat",
    "/v1/completions": "completion",
    "/completions": "completion",
    "/v1/embeddings": "embedding",
    "/embeddings": "embedding",
}
# LiteLLM extensions whose values OpenAI's types would refuse.
NOT_CHECKED = ("metadata",)
# Ranges OpenAI documents for these parameters (inclusive); the TypedDicts carry types only.
RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "presence_penalty": (-2, 2),
    "frequency_penalty": (-2, 2),
    "n": (1, 1),  # Bedrock's models answer one choice; LiteLLM would drop n silently
    "max_tokens": (1, math.inf),
    "max_completion_tokens": (1, math.inf),
    "top_logprobs": (0, 20),
    "best_of": (1, 20),
    "dimensions": (1, math.inf),
}
# JSON shapes of the parameters OpenAI types as Iterable[...] (pydantic would iterate an object's keys).
SHAPES: dict[str, tuple[tuple[type, ...], str]] = {
    "messages": ((list,), "a non-empty list of messages"),
    "input": ((str, list), "a string or a list"),
    "prompt": ((str, list, type(None)), "a string or a list"),
}
# Text parameters OpenAI also accepts as token ids. Bedrock's models take text, and LiteLLM 1.108.7
# either fails on token ids after retries and fallbacks (completions: a 500 after 7 s) or decodes
# them with a tokenizer Bedrock never used (embeddings: 12 s of a stalled proxy for 40,000 ids):
# this gateway accepts a string or a list of strings. Checked here, not by pydantic, whose lazy
# union would take [[1, 2]] as Iterable[int].
TEXT_OR_TOKENS = ("input", "prompt")
# LiteLLM reads these from a request body and lets a caller steer its router with them: retries
# (`num_retries: 6` held one request for 101 s), fallback chains, timeouts, upstream endpoints,
# mock answers. They are the gateway's to set (gateway/config.yaml), never a caller's.
ROUTER_CONTROLS = frozenset(
    {
        "num_retries", "max_retries", "retry_policy", "fallbacks", "context_window_fallbacks",
        "content_policy_fallbacks", "max_fallbacks", "timeout", "request_timeout", "stream_timeout",
        "cooldown_time", "api_base", "base_url", "api_version", "api_key", "model_list",
        "mock_response", "mock_timeout", "mock_testing_fallbacks", "mock_testing_rate_limit_error",
        "mock_testing_content_policy_fallbacks", "mock_testing_context_fallbacks",
    }
)  # fmt: skip
# JSON nested deeper than this is refused before anything recurses into it (a 100,000-deep
# array was a 500 from the parser's recursion limit). Tool schemas rarely pass 10 levels.
MAX_DEPTH = 64
# pydantic error types, as a client developer would say them.
WANTED = {
    "string_type": "a string",
    "iterable_type": "a list",
    "list_type": "a list",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean",
    "dict_type": "an object",
    "model_type": "an object",
}
_TAG = re.compile(r"^(?:[A-Z]\w*|\w+\[.*\]|str|int|float|bool|list|dict|function-\w+)$")
DISCRIMINATORS = ("role", "type")


@dataclass(frozen=True)
class Refusal:
    """A 400 the client gets: OpenAI's error fields."""

    message: str
    param: str | None
    code: str = "invalid_request_error"
    status: int = 400

    def body(self) -> bytes:
        error = {
            "message": self.message,
            "type": "invalid_request_error",
            "param": self.param,
            "code": self.code,
        }
        return json.dumps({"error": error}).encode()


def check_body(
    kind: str, raw: bytes, models: frozenset[str] = frozenset()
) -> tuple[dict | None, Refusal | None]:
    """(the parsed body, None) when it is a valid `kind` request, else (None, the refusal).

    `models`: the catalogue's aliases; when given, any other `model` is refused (404), so a
    raw Bedrock id (`bedrock/us.amazon.nova-pro-v1:0`) cannot bypass the catalogue's fallbacks.
    """
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError) as error:
        return None, Refusal(f"The request body is not valid JSON: {error}", None, "invalid_json")
    except RecursionError:
        return None, Refusal(f"The request body nests deeper than {MAX_DEPTH} levels.", None, "invalid_body")
    if not isinstance(body, dict):
        got = "nothing" if body is None else _describe(body)
        return None, Refusal(f"The request body must be a JSON object; got {got}.", None, "invalid_body")
    if depth(body) > MAX_DEPTH:
        return None, Refusal(f"The request body nests deeper than {MAX_DEPTH} levels.", None, "invalid_body")
    refusal = check_params(kind, body, models)
    return (None, refusal) if refusal else (body, None)


def check_params(kind: str, body: Mapping[str, Any], models: frozenset[str] = frozenset()) -> Refusal | None:
    """The first problem with a parsed request body, or None."""
    if "stream" in body and not isinstance(body["stream"], bool):
        return Refusal(f"stream must be a boolean; got {_describe(body['stream'])}.", "stream")
    for name, (types, wanted) in SHAPES.items():
        if name in body and (not isinstance(body[name], types) or (name == "messages" and not body[name])):
            return Refusal(f"{name} must be {wanted}; got {_describe(body[name])}.", name)
    controls = sorted(ROUTER_CONTROLS & body.keys())
    if controls:
        return Refusal(
            f"{controls[0]} is set by the gateway, not by a request: remove it.",
            controls[0],
            "unsupported_parameter",
        )
    for name in TEXT_OR_TOKENS:
        value = body.get(name)
        if isinstance(value, list) and not (value and all(isinstance(item, str) for item in value)):
            return Refusal(
                f"{name} must be a string or a non-empty list of strings (this gateway's models take text, "
                f"not token ids); got {_describe(value)}.",
                name,
            )
    checked = {key: value for key, value in body.items() if key not in NOT_CHECKED}
    for name in TEXT_OR_TOKENS:
        if isinstance(checked.get(name), list):
            checked[name] = "checked above"
    adapter = ADAPTERS.get((kind, body.get("stream") is True), ADAPTERS[(kind, False)])
    try:
        validated = adapter.validate_python(checked, strict=True)
        _materialize(validated, ())
    except _LazyError as lazy:
        return _refusal(lazy.errors, lazy.loc)
    except ValidationError as error:
        return _refusal(error.errors(), ())
    refusal = _range_refusal(body)
    if refusal is None and models and body.get("model") not in models:
        refusal = Refusal(
            # Not echoed: the error layer would name a Bedrock id by its alias, a confusing answer.
            f"The model asked for does not exist on this gateway: use one of {', '.join(sorted(models))}.",
            "model",
            "model_not_found",
            status=404,
        )
    return refusal


def depth(value: Any) -> int:
    """How deeply `value` nests arrays and objects, found without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            stack.extend((child, level + 1) for child in item)
    return deepest


class _LazyError(Exception):
    def __init__(self, errors: list[dict], loc: tuple) -> None:
        super().__init__(loc)
        self.errors, self.loc = errors, loc


def _materialize(value: Any, loc: tuple) -> Any:
    """Consume pydantic's lazy validators (OpenAI types use Iterable[...]), so every item is checked."""
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = _materialize(item, (*loc, key))
        return value
    if isinstance(value, (list, tuple)):
        return [_materialize(item, (*loc, index)) for index, item in enumerate(value)]
    if type(value).__name__ == "ValidatorIterator":
        items, iterator = [], iter(value)
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                return items
            except ValidationError as error:
                raise _LazyError(error.errors(), loc) from None
            items.append(_materialize(item, (*loc, len(items))))
    return value


def _split(loc: tuple) -> tuple[tuple, tuple]:
    """(the request path, the union members pydantic tried) of an error location."""
    path = tuple(part for part in loc if not (isinstance(part, str) and _TAG.match(part)))
    tags = tuple(part for part in loc if isinstance(part, str) and _TAG.match(part))
    return path, tags


def _param(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _refusal(errors: list[dict], base: tuple) -> Refusal:
    """One readable error: for a union (a message's role, a content part's type), the member that matched."""
    members: dict[tuple, list[dict]] = {}
    for error in errors:
        members.setdefault(_split(error["loc"])[1][:1], []).append(error)
    discriminator_misses = [
        e
        for e in errors
        if e["type"] == "literal_error" and _split(e["loc"])[0][-1:] in [(d,) for d in DISCRIMINATORS]
    ]
    missed = {_split(e["loc"])[1][:1] for e in discriminator_misses}
    matching = [errs for tag, errs in members.items() if tag not in missed]
    if not matching and discriminator_misses:
        path = (*base, *_split(discriminator_misses[0]["loc"])[0])
        allowed = ", ".join(sorted({str(e.get("ctx", {}).get("expected", "")) for e in discriminator_misses}))
        return Refusal(f"{_param(path)}: must be one of {allowed}.", _param(path))
    chosen = min(matching, key=len) if matching else errors
    path = (*base, *_split(chosen[0]["loc"])[0])
    same_place = [e for e in chosen if _split(e["loc"])[0] == _split(chosen[0]["loc"])[0]]
    if chosen[0]["type"] == "missing":
        return Refusal(f"{_param(path)}: a required parameter is missing.", _param(path), "missing_parameter")
    wanted = [WANTED.get(e["type"]) for e in same_place]
    if all(wanted):
        reasons = f"must be {' or '.join(dict.fromkeys(wanted))}; got {_describe(chosen[0].get('input'))}"
    else:
        reasons = "; or ".join(dict.fromkeys(e["msg"] for e in same_place))
    return Refusal(f"{_param(path) or 'the body'}: {reasons}.", _param(path) or None)


def _describe(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, (bytes, set)) else repr(value)
    kind = {dict: "object", list: "list", str: "string", bool: "boolean", int: "integer", float: "number"}
    name = kind.get(type(value), "null" if value is None else type(value).__name__)
    return f"{text[:40]}{'…' if len(text) > 40 else ''} ({name})"


def _range_refusal(body: Mapping[str, Any]) -> Refusal | None:
    for name, (low, high) in RANGES.items():
        value = body.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not low <= value <= high:
            bounds = f"at least {low:g}" if high == math.inf else f"between {low:g} and {high:g}"
            bounds = f"{low:g}" if low == high else bounds
            return Refusal(f"{name} is {value!r}; it must be {bounds}.", name)
    return None


def validating(app: Any, models: frozenset[str] = frozenset()) -> Any:
    """ASGI wrapper: POSTs to a model route are parsed and validated before `app` (LiteLLM) sees them.

    The body is read whole (the outer layer has already bounded its size), refused with the
    400 on a problem, else replayed to `app` with the parsed body in LiteLLM's
    `parsed_body` scope cache, which LiteLLM reads instead of parsing again.
    """

    async def checked(scope: dict, receive: Any, send: Any) -> None:
        kind = MODEL_ROUTES.get(scope.get("path", "")) if scope["type"] == "http" else None
        if kind is None or scope.get("method") != "POST":
            await app(scope, receive, send)
            return
        messages, chunks = [], []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                await app(scope, _replay(messages, receive), send)  # the client left: LiteLLM handles it
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body, refusal = check_body(kind, b"".join(chunks), models)
        if refusal is not None:
            payload = refusal.body()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ]
            await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
            await send({"type": "http.response.body", "body": payload, "more_body": False})
            return
        scope["parsed_body"] = (tuple(body), body)
        await app(scope, _replay(messages, receive), send)

    return checked


def _replay(messages: list, receive: Any) -> Any:
    pending = list(messages)

    async def replay() -> Any:
        return pending.pop(0) if pending else await receive()

    return replay
