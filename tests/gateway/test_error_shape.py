"""Every error answer is OpenAI-shaped JSON whose message names no internals."""

from __future__ import annotations

import asyncio
import json

import pytest

from gateway.error_shape import ErrorShapedSend, aliases_by_model_id, normalize, shaping

ALIASES = {"us.amazon.nova-pro-v1:0": "nova-pro", "amazon.titan-embed-text-v2:0": "titan-embed"}


def _error(status: int, raw: bytes) -> dict:
    body = json.loads(normalize(status, raw, "GET /v1/chat/completions", ALIASES))
    assert set(body) == {"error"} and {"message", "type", "param", "code"} <= set(body["error"])
    return body["error"]


def test_fastapis_405_becomes_an_openai_error_naming_the_request():
    error = _error(405, b'{"detail": "Method Not Allowed"}')

    assert error["message"].startswith("Method Not Allowed: GET /v1/chat/completions")
    assert (error["type"], error["code"]) == ("invalid_request_error", "405")


def test_fastapis_422_names_the_field():
    assert _error(422, b'{"detail": [{"loc": ["body", "model"], "msg": "field required"}]}')["message"] == (
        "model: field required"
    )


def test_a_stream_refused_before_its_first_chunk_becomes_a_json_error():
    raw = b'data: {"error": {"message": "Violated guardrail policy", "code": "400"}}\n\n'

    assert _error(400, raw)["message"] == "Violated guardrail policy"


def test_none_strings_become_nulls():
    error = _error(500, b'{"error": {"message": "boom", "type": "None", "param": "None", "code": "500"}}')

    assert (error["type"], error["param"]) == ("api_error", None)


@pytest.mark.parametrize(
    ("leak", "kept"),
    [
        ("BedrockException - model us.amazon.nova-pro-v1:0 is throttled", "nova-pro is throttled"),
        ("bedrock/amazon.titan-embed-text-v2:0 failed", "titan-embed failed"),
        (
            "call to https://bedrock-runtime.us-east-1.amazonaws.com/model/x/converse failed",
            "[endpoint] failed",
        ),
        ("Invalid key sk-abcdef0123456789 passed", "Invalid key [key] passed"),
        ("error in /opt/venv/lib/python3.11/site-packages/litellm/router.py:123", "error in [internal]"),
        (
            "guardrail arn:aws:bedrock:us-east-1:123456789012:guardrail/abc missing",
            "guardrail [resource] missing",
        ),
        ("boom Traceback (most recent call last):\n  File x", "boom"),
    ],
)
def test_the_message_names_no_internals(leak, kept):
    raw = json.dumps({"error": {"message": leak, "type": "api_error", "param": None, "code": "500"}}).encode()

    assert kept in _error(500, raw)["message"]


def test_an_empty_error_body_gets_the_status_phrase():
    assert _error(502, b"")["message"] == "Bad Gateway"


def _through(
    status: int, chunks: list[bytes], content_type: bytes = b"application/json"
) -> tuple[dict, bytes]:
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def run():
        wrapped = ErrorShapedSend(send, {"method": "POST", "path": "/v1/chat/completions"}, ALIASES)
        await wrapped(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", content_type)]}
        )
        for i, chunk in enumerate(chunks):
            await wrapped({"type": "http.response.body", "body": chunk, "more_body": i < len(chunks) - 1})

    asyncio.run(run())
    return sent[0], b"".join(m.get("body", b"") for m in sent[1:])


def test_a_success_passes_untouched_chunk_by_chunk():
    start, body = _through(200, [b"data: 1\n\n", b"data: 2\n\n"], b"text/event-stream")

    assert dict(start["headers"])[b"content-type"] == b"text/event-stream"
    assert body == b"data: 1\n\ndata: 2\n\n"


def test_an_error_sent_in_pieces_is_reassembled_and_sent_as_json_with_its_length():
    start, body = _through(
        400, [b'data: {"error": {"message": "Violated', b' guardrail policy"}}\n\n'], b"text/event-stream"
    )
    headers = dict(start["headers"])

    assert headers[b"content-type"] == b"application/json"
    assert int(headers[b"content-length"]) == len(body)
    assert json.loads(body)["error"]["message"] == "Violated guardrail policy"


def test_a_bedrock_id_is_named_by_its_own_alias_rather_than_a_group_it_also_serves():
    from gateway.render import CatalogueModel

    models = [
        CatalogueModel(alias="nova-micro", model_id="us.amazon.nova-micro-v1:0", mode="chat"),
        CatalogueModel(alias="chat", model_id="us.amazon.nova-micro-v1:0", mode="chat"),
        CatalogueModel(alias="chat", model_id="us.amazon.nova-lite-v1:0", mode="chat"),
    ]

    assert aliases_by_model_id(models) == {
        "us.amazon.nova-micro-v1:0": "nova-micro",
        "us.amazon.nova-lite-v1:0": "chat",
    }


def test_the_shaping_wrapper_rewrites_an_inner_apps_fastapi_error():
    async def inner(scope, receive, send):
        await send(
            {
                "type": "http.response.start",
                "status": 405,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"detail": "Method Not Allowed"}'})

    sent = []

    async def send(message):
        sent.append(message)

    asyncio.run(shaping(inner, {})({"type": "http", "method": "GET", "path": "/v1/embeddings"}, None, send))

    assert json.loads(sent[1]["body"])["error"]["message"].startswith(
        "Method Not Allowed: GET /v1/embeddings"
    )


def test_only_openais_four_fields_leave_the_guardrails_details_stay_inside():
    raw = json.dumps(
        {
            "error": {
                "message": "Violated guardrail policy",
                "type": "invalid_request_error",
                "param": None,
                "code": "400",
                "provider_specific_fields": {
                    "guardrailIdentifier": "gr-123",
                    "assessments": [{"policy": "pii"}],
                },
            }
        }
    ).encode()

    body = json.loads(normalize(400, raw, "POST /v1/chat/completions", ALIASES))

    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert "gr-123" not in json.dumps(body)


def test_litellms_own_wording_is_taken_out_of_the_message():
    message = (
        "litellm.BadRequestError: BedrockException - Malformed input request. Received Model Group=nova-pro\n"
        "Available Model Group Fallbacks=None LiteLLM Retried: 1 times, LiteLLM Max Retries: 1 "
        "see https://github.com/BerriAI/litellm/issues"
    )
    raw = json.dumps({"error": {"message": message, "code": "400"}}).encode()

    assert _error(400, raw)["message"] == "Malformed input request. see"
