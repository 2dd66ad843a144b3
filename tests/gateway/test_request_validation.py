"""Malformed model requests are refused with a 400 naming the parameter, before LiteLLM's router."""

from __future__ import annotations

import asyncio
import json

import pytest

from gateway.request_validation import MODEL_ROUTES, check_body, validating


def _refusal(kind: str, body: object):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    parsed, refusal = check_body(kind, raw)
    assert parsed is None, f"{body!r} was accepted"
    return refusal


def _chat(**fields) -> dict:
    return {"model": "nova-pro", "messages": [{"role": "user", "content": "hi"}], **fields}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (_chat(messages=[{"role": "user", "content": 12345}]), "messages[0].content"),
        (_chat(messages=[{"role": "wizard", "content": "hi"}]), "messages[0].role"),
        (
            _chat(messages=[{"role": "user", "content": [{"type": "text", "text": 5}]}]),
            "messages[0].content[0].text",
        ),
        (_chat(messages="hello"), "messages"),
        (_chat(messages=[]), "messages"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        (_chat(max_tokens="10"), "max_tokens"),
        (_chat(temperature=3), "temperature"),
        (_chat(top_p=-0.1), "top_p"),
        (_chat(n=0), "n"),
        (_chat(stream="yes"), "stream"),
    ],
)
def test_a_malformed_chat_request_names_the_parameter(body, param):
    assert _refusal("chat", body).param == param


@pytest.mark.parametrize(
    ("body", "param"), [({"model": "t", "input": {"a": 1}}, "input"), ({"input": "x"}, "model")]
)
def test_a_malformed_embeddings_request_names_the_parameter(body, param):
    assert _refusal("embedding", body).param == param


def test_a_text_completion_without_a_prompt_names_it():
    assert _refusal("completion", {"model": "nova-pro"}).param == "prompt"


@pytest.mark.parametrize("raw", [b"[]", b"42", b'"text"', b"null", b""])
def test_a_body_that_is_not_a_json_object_is_refused_as_such(raw):
    assert "must be a JSON object" in _refusal("chat", raw).message


def test_invalid_json_is_refused_as_such():
    assert _refusal("chat", b"{not json").code == "invalid_json"


def test_the_refusal_is_an_openai_style_error_body():
    body = json.loads(_refusal("chat", _chat(messages=[{"role": "user", "content": 12345}])).body())

    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == "invalid_request_error"
    assert "12345" in body["error"]["message"]


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("chat", _chat(metadata={"tags": ["a"], "n": 1}, guardrails=["x"], stream=True, temperature=1)),
        (
            "chat",
            _chat(
                messages=[
                    {"role": "system", "content": "s"},
                    {"role": "user", "content": [{"type": "text", "text": "t"}]},
                ]
            ),
        ),
        (
            "chat",
            _chat(tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]),
        ),
        ("completion", {"model": "nova-pro", "prompt": "Say hi", "max_tokens": 5}),
        (
            "embedding",
            {"model": "titan-embed", "input": ["a", "b"], "encoding_format": "base64", "dimensions": 256},
        ),
    ],
)
def test_valid_requests_pass_and_come_back_parsed(kind, body):
    parsed, refusal = check_body(kind, json.dumps(body).encode())

    assert refusal is None
    assert parsed == body


def test_every_model_route_has_a_request_type():
    assert set(MODEL_ROUTES.values()) == {"chat", "completion", "embedding"}


def _through(path: str, body: bytes, method: str = "POST") -> tuple[list[dict], dict | None]:
    seen: dict = {}
    sent: list[dict] = []

    async def inner(scope, receive, send):
        seen["scope"] = scope
        seen["body"] = (await receive())["body"]
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(validating(inner)({"type": "http", "method": method, "path": path}, receive, send))
    return sent, seen or None


def test_the_wrapper_refuses_a_malformed_model_request_before_the_app_sees_it():
    sent, seen = _through("/v1/chat/completions", b"[]")

    assert seen is None
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["error"]["code"] == "invalid_body"


def test_the_wrapper_hands_litellm_the_parsed_body_and_the_same_bytes():
    raw = json.dumps(_chat()).encode()

    _, seen = _through("/v1/chat/completions", raw)

    assert seen["body"] == raw
    keys, parsed = seen["scope"]["parsed_body"]
    assert parsed == _chat() and keys == tuple(_chat())


@pytest.mark.parametrize(
    ("path", "method"), [("/v1/models", "GET"), ("/key/generate", "POST"), ("/v1/embeddings", "GET")]
)
def test_the_wrapper_leaves_other_routes_and_methods_to_the_app(path, method):
    _, seen = _through(path, b"[]", method)

    assert seen is not None and "parsed_body" not in seen["scope"]


def test_a_text_completion_of_token_ids_is_refused_as_bedrock_takes_text():
    assert _refusal("completion", {"model": "nova-pro", "prompt": [1, 2, 3]}).param == "prompt"


@pytest.mark.parametrize("control", ["num_retries", "fallbacks", "timeout", "api_base", "mock_response"])
def test_a_request_cannot_steer_the_router(control):
    refusal = _refusal("chat", _chat(**{control: 6}))

    assert (refusal.param, refusal.code) == (control, "unsupported_parameter")


def test_more_than_one_choice_is_refused_rather_than_silently_dropped():
    assert _refusal("chat", _chat(n=2)).param == "n"


@pytest.mark.parametrize(
    "raw",
    [b"[" * 100_000 + b"]" * 100_000, json.dumps(_chat(metadata=json.loads("[" * 100 + "]" * 100))).encode()],
    ids=["deep-array", "deep-metadata"],
)
def test_json_nested_too_deeply_is_a_400_not_a_500(raw):
    assert "nests deeper" in _refusal("chat", raw).message


def test_a_model_outside_the_catalogue_is_404_model_not_found():
    parsed, refusal = check_body(
        "chat", json.dumps(_chat(model="bedrock/us.amazon.nova-pro-v1:0")).encode(), frozenset({"nova-pro"})
    )

    assert parsed is None
    assert (refusal.status, refusal.param, refusal.code) == (404, "model", "model_not_found")


def test_a_catalogue_alias_passes_the_model_check():
    parsed, refusal = check_body("chat", json.dumps(_chat()).encode(), frozenset({"nova-pro"}))

    assert refusal is None and parsed["model"] == "nova-pro"
