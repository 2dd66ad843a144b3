"""Malformed requests, as a careless or hostile client sends them: the right 4xx, OpenAI-shaped, at once.

One row per request. Each states the status and the `param` the error must name,
and reports how long the answer took; a row fails on time only beyond twice its
target (the machine may be busy). On the local stack a row also proves the
request never reached a model (so it was neither retried nor sent down the
fallback chain).
"""

from __future__ import annotations

import gzip
import statistics
import time
from dataclasses import dataclass

from gateway.smoke.checks import emulator
from gateway.smoke.checks.common import ensure, openai_error
from gateway.smoke.runner import Check, Skip
from gateway.smoke.target import Target

TARGET_SECONDS = 0.1
# Each row is sent this many times and judged on the median: a process's first request on a
# route pays one-off start-up work (about 0.8 s for LiteLLM's first 405), reported, not judged.
ATTEMPTS = 3


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    path: str
    body: object  # JSON, or bytes sent as they are
    status: int
    param: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


def _chat(**fields: object) -> dict:
    return {"model": "{chat}", "messages": [{"role": "user", "content": "hello"}], **fields}


ROWS = (
    Row("body-is-array", "POST", "/v1/chat/completions", [], 400),
    Row("body-is-string", "POST", "/v1/embeddings", "text", 400),
    Row(
        "content-is-number",
        "POST",
        "/v1/chat/completions",
        _chat(messages=[{"role": "user", "content": 12345}]),
        400,
        "messages[0].content",
    ),
    Row(
        "unknown-role",
        "POST",
        "/v1/chat/completions",
        _chat(messages=[{"role": "wizard", "content": "hi"}]),
        400,
        "messages[0].role",
    ),
    Row("empty-messages", "POST", "/v1/chat/completions", _chat(messages=[]), 400, "messages"),
    Row("max-tokens-as-string", "POST", "/v1/chat/completions", _chat(max_tokens="10"), 400, "max_tokens"),
    Row("temperature-out-of-range", "POST", "/v1/chat/completions", _chat(temperature=5), 400, "temperature"),
    Row("stream-not-boolean", "POST", "/v1/chat/completions", _chat(stream="yes"), 400, "stream"),
    Row(
        "embedding-input-object",
        "POST",
        "/v1/embeddings",
        {"model": "{embedding}", "input": {"a": 1}},
        400,
        "input",
    ),
    Row("completion-without-prompt", "POST", "/v1/completions", {"model": "{chat}"}, 400, "prompt"),
    Row("get-on-a-post-route", "GET", "/v1/chat/completions", None, 405),
    Row("router-control-in-body", "POST", "/v1/chat/completions", _chat(num_retries=6), 400, "num_retries"),
    Row(
        "token-id-prompt", "POST", "/v1/completions", {"model": "{chat}", "prompt": [1, 2, 3]}, 400, "prompt"
    ),
    Row(
        "token-id-embedding",
        "POST",
        "/v1/embeddings",
        {"model": "{embedding}", "input": list(range(500))},
        400,
        "input",
    ),
    Row("more-than-one-choice", "POST", "/v1/chat/completions", _chat(n=2), 400, "n"),
    Row(
        "raw-bedrock-model",
        "POST",
        "/v1/chat/completions",
        _chat(model="bedrock/us.amazon.nova-pro-v1:0"),
        404,
        "model",
    ),
    Row("deeply-nested-json", "POST", "/v1/chat/completions", b"[" * 100_000 + b"]" * 100_000, 400),
    Row(
        "gzip-body",
        "POST",
        "/v1/chat/completions",
        gzip.compress(b'{"model": "x"}'),
        415,
        headers=(("Content-Encoding", "gzip"), ("Content-Type", "application/json")),
    ),
)


def _resolve(body: object, target: Target) -> object:
    """Put the catalogue's first alias of each mode where a row says {chat} or {embedding}."""
    if isinstance(body, dict):
        return {key: _resolve(value, target) for key, value in body.items()}
    if isinstance(body, str) and body in ("{chat}", "{embedding}"):
        aliases = target.environment.aliases(body.strip("{}"))
        if not aliases:
            raise Skip(f"the catalogue has no {body.strip('{}')} alias")
        return aliases[0]
    return body


def row(spec: Row) -> Check:
    def check(target: Target) -> str:
        before = emulator.model_calls(target) if target.local else None
        if isinstance(spec.body, bytes):
            kwargs = {"content": spec.body}
        else:
            kwargs = {} if spec.body is None else {"json": _resolve(spec.body, target)}
        took = []
        for _ in range(ATTEMPTS):
            began = time.monotonic()
            headers = {**target.auth(), **dict(spec.headers)}
            response = target.http.request(spec.method, spec.path, headers=headers, **kwargs)
            took.append(time.monotonic() - began)
            error = openai_error(response, {spec.status})
            if spec.param is not None:
                ensure(
                    error.get("param") == spec.param,
                    f"param {error.get('param')!r}, not {spec.param!r}: {error}",
                )
        median = statistics.median(took)
        figures = "/".join(f"{t * 1000:.0f}" for t in took)
        ensure(
            median < 2 * TARGET_SECONDS,
            f"median {median * 1000:.0f} ms (target {TARGET_SECONDS * 1000:.0f} ms): {figures} ms",
        )
        if before is not None:
            calls = emulator.model_calls(target) - before
            ensure(calls == 0, f"the bad request reached a model {calls} time(s)")
        param = error.get("param")
        return f"{response.status_code} in {figures} ms, param={param}: {error['message'][:60]}"

    check.__name__ = f"bad[{spec.name}]"
    return Check(name=check.__name__, run=check)


def rows() -> list[Check]:
    return [row(spec) for spec in ROWS]
