"""The wire protocol over raw HTTP: status codes, AWS error shapes, streaming framing, knobs."""

from __future__ import annotations

import base64
import http.client
import json
import time

from emulator_http import control, converse_body, send, sign

from gateway.emulator.eventstream import decode_messages
from gateway.emulator.sigv4 import Credentials
from policies.guardrail import load_guardrail

NOVA_PRO = "/model/us.amazon.nova-pro-v1%3A0"
TITAN = "/model/amazon.titan-text-express-v1"
EMBED = "/model/amazon.titan-embed-text-v2%3A0/invoke"


def test_converse_answers_with_message_usage_and_metrics(post):
    reply = post(f"{NOVA_PRO}/converse", converse_body("What is Amazon Bedrock?"))

    assert reply.status == 200
    body = reply.json()
    assert body["output"]["message"]["content"][0]["text"].startswith("[nova-pro] ")
    assert body["stopReason"] == "end_turn"
    assert body["usage"]["totalTokens"] == body["usage"]["inputTokens"] + body["usage"]["outputTokens"]
    assert body["usage"]["inputTokens"] == 5  # What, is, Amazon, Bedrock, ?
    assert isinstance(body["metrics"]["latencyMs"], int)
    assert reply.headers["x-amzn-requestid"]


def test_an_unsigned_request_is_403_missing_authentication_token_in_the_aws_shape(emulator):
    reply = send(emulator, "POST", f"{NOVA_PRO}/converse", json.dumps(converse_body("hi")).encode())

    assert reply.status == 403
    assert reply.error_type == "MissingAuthenticationTokenException"
    assert reply.json() == {"message": "Missing Authentication Token"}
    assert reply.headers["content-type"] == "application/json"


def test_a_request_signed_with_the_wrong_secret_is_403_invalid_signature(emulator, credentials):
    path = f"{NOVA_PRO}/converse"
    body = json.dumps(converse_body("hi")).encode()
    headers = sign(emulator.url + path, body, Credentials(credentials.access_key, "wrong-secret"))

    reply = send(emulator, "POST", path, body, headers)

    assert reply.status == 403
    assert reply.error_type == "InvalidSignatureException"
    assert "signature we calculated does not match" in reply.json()["message"]


def test_a_body_changed_after_signing_is_403(emulator, credentials):
    path = f"{NOVA_PRO}/converse"
    headers = sign(emulator.url + path, json.dumps(converse_body("hi")).encode(), credentials)
    tampered = json.dumps(converse_body("bye")).encode()

    reply = send(emulator, "POST", path, tampered, {**headers, "Content-Length": str(len(tampered))})

    assert (reply.status, reply.error_type) == (403, "InvalidSignatureException")


def test_an_unknown_model_is_404_resource_not_found(post):
    reply = post("/model/amazon.nova-ultra-v9%3A0/converse", converse_body("hi"))

    assert (reply.status, reply.error_type) == (404, "ResourceNotFoundException")
    assert "message" in reply.json()


def test_a_body_that_is_not_json_is_400_validation(post):
    reply = post(f"{NOVA_PRO}/converse", b"{not json")

    assert (reply.status, reply.error_type) == (400, "ValidationException")
    assert reply.json()["message"].startswith("Malformed input request")


def test_a_conversation_without_messages_is_400_validation(post):
    reply = post(f"{NOVA_PRO}/converse", {"system": [{"text": "be brief"}]})

    assert (reply.status, reply.error_type) == (400, "ValidationException")


def test_an_extraneous_key_in_a_titan_body_is_400_as_aws_validates_model_payloads(post):
    reply = post(f"{TITAN}/invoke", {"inputText": "hi", "prompt": "hi"})

    assert (reply.status, reply.error_type) == (400, "ValidationException")
    assert "extraneous key [prompt]" in reply.json()["message"]


def test_converse_on_an_embedding_model_is_400_validation(post):
    reply = post("/model/amazon.titan-embed-text-v2%3A0/converse", converse_body("hi"))

    assert (reply.status, reply.error_type) == (400, "ValidationException")


def test_an_unknown_path_is_404_unknown_operation(post):
    reply = post("/model/us.amazon.nova-pro-v1%3A0/summarize", {})

    assert (reply.status, reply.error_type) == (404, "UnknownOperationException")


def test_converse_stream_sends_the_bedrock_event_sequence_in_event_stream_frames(post):
    reply = post(f"{NOVA_PRO}/converse-stream", converse_body("What is Amazon Bedrock?"))

    assert reply.status == 200
    assert reply.headers["content-type"] == "application/vnd.amazon.eventstream"
    events = list(decode_messages(reply.body))
    kinds = [e.headers[":event-type"] for e in events]
    assert kinds[0] == "messageStart" and kinds[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    assert set(kinds[1:-3]) == {"contentBlockDelta"}
    text = "".join(
        e.json()["delta"]["text"] for e in events if e.headers[":event-type"] == "contentBlockDelta"
    )
    whole = post(f"{NOVA_PRO}/converse", converse_body("What is Amazon Bedrock?")).json()
    assert text == whole["output"]["message"]["content"][0]["text"]
    assert events[-1].json()["usage"] == whole["usage"]


def test_titan_invoke_returns_results_with_token_counts(post):
    reply = post(
        f"{TITAN}/invoke", {"inputText": "Hello there", "textGenerationConfig": {"maxTokenCount": 50}}
    )

    body = reply.json()
    assert reply.status == 200
    assert body["inputTextTokenCount"] == 2
    (result,) = body["results"]
    assert result["completionReason"] == "FINISH"
    assert result["outputText"].startswith("[titan-text-express] ")
    assert reply.headers["x-amzn-bedrock-output-token-count"] == str(result["tokenCount"])


def test_titan_max_token_count_truncates_honestly_with_reason_length(post):
    body = post(
        f"{TITAN}/invoke", {"inputText": "Hello", "textGenerationConfig": {"maxTokenCount": 3}}
    ).json()

    assert body["results"][0]["tokenCount"] == 3
    assert body["results"][0]["completionReason"] == "LENGTH"


def test_titan_stream_wraps_each_json_chunk_base64_in_a_bytes_field(post):
    reply = post(f"{TITAN}/invoke-with-response-stream", {"inputText": "Hello there"})

    chunks = [json.loads(base64.b64decode(e.json()["bytes"])) for e in decode_messages(reply.body)]
    assert all(e.headers[":event-type"] == "chunk" for e in decode_messages(reply.body))
    assert chunks[-1]["completionReason"] == "FINISH"
    assert (
        chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"]
        == chunks[-1]["totalOutputTextTokenCount"]
    )
    assert "".join(c["outputText"] for c in chunks).startswith("[titan-text-express] ")


def test_titan_embedding_is_deterministic_normalized_and_sized_as_asked(post):
    first = post(EMBED, {"inputText": "The quick brown fox", "dimensions": 256}).json()
    second = post(EMBED, {"inputText": "The quick brown fox", "dimensions": 256}).json()

    assert first == second
    assert len(first["embedding"]) == 256
    assert abs(sum(v * v for v in first["embedding"]) - 1) < 1e-3
    assert first["inputTextTokenCount"] == 4


def test_an_unsupported_embedding_size_is_400(post):
    reply = post(EMBED, {"inputText": "x", "dimensions": 300})

    assert (reply.status, reply.error_type) == (400, "ValidationException")


def test_throttle_next_throttles_exactly_that_many_calls_of_that_model(post, emulator):
    assert (
        control(
            emulator, "POST", "faults", {"model_id": "us.amazon.nova-pro-v1:0", "throttle_next": 2}
        ).status
        == 200
    )

    statuses = [post(f"{NOVA_PRO}/converse", converse_body("hi")).status for _ in range(3)]
    other = post("/model/us.amazon.nova-lite-v1%3A0/converse", converse_body("hi"))

    assert statuses == [429, 429, 200]
    assert other.status == 200


def test_a_throttled_call_has_the_aws_throttling_shape(post, emulator):
    control(emulator, "POST", "faults", {"model_id": "us.amazon.nova-pro-v1:0", "throttle_next": 1})

    reply = post(f"{NOVA_PRO}/converse", converse_body("hi"))

    assert reply.error_type == "ThrottlingException"
    assert reply.json() == {"message": "Too many requests, please wait before trying again."}


def test_a_plan_on_the_foundation_model_covers_its_inference_profiles(post, emulator):
    control(emulator, "POST", "faults", {"model_id": "amazon.nova-pro-v1:0", "fail_next": 1, "status": 500})

    reply = post(f"{NOVA_PRO}/converse", converse_body("hi"))

    assert (reply.status, reply.error_type) == (500, "InternalServerException")


def test_error_rate_is_reproducible_for_the_same_seed(post, emulator):
    def run() -> list[int]:
        control(emulator, "POST", "reset")
        plan = {"model_id": "us.amazon.nova-pro-v1:0", "error_rate": 0.5, "status": 503, "seed": 7}
        control(emulator, "POST", "faults", plan)
        return [post(f"{NOVA_PRO}/converse", converse_body("hi")).status for _ in range(12)]

    first, second = run(), run()

    assert first == second
    assert set(first) == {200, 503}


def test_latency_knob_delays_model_calls_and_shows_in_metrics(post, emulator):
    control(emulator, "POST", "faults", {"latency_ms": 120})

    started = time.monotonic()
    reply = post(f"{NOVA_PRO}/converse", converse_body("hi"))

    assert time.monotonic() - started >= 0.12
    assert reply.json()["metrics"]["latencyMs"] >= 120


def test_stats_count_calls_per_model_and_operation_and_list_recent_ones(post, emulator):
    post(f"{NOVA_PRO}/converse", converse_body("hi"))
    post(f"{TITAN}/invoke", {"inputText": "hi"})
    post("/guardrail/gr123/version/1/apply", {"source": "INPUT", "content": [{"text": {"text": "hi"}}]})

    stats = control(emulator, "GET", "stats").json()

    assert stats["calls"]["us.amazon.nova-pro-v1:0"] == {"Converse": 1}
    assert stats["calls"]["amazon.titan-text-express-v1"] == {"InvokeModel": 1}
    assert stats["guardrail"]["calls"] == {"INPUT": 1}
    assert [r["model_id"] for r in stats["recent"]] == [
        "us.amazon.nova-pro-v1:0",
        "amazon.titan-text-express-v1",
        "guardrail",
    ]


def test_each_recent_call_says_when_it_arrived_and_when_its_answer_started(post, emulator):
    control(emulator, "POST", "faults", {"latency_ms": 150})
    post(f"{NOVA_PRO}/converse", converse_body("hi"))

    (call,) = control(emulator, "GET", "stats").json()["recent"]

    assert call["time"] - call["received"] >= 0.15


def test_reset_clears_statistics_and_fault_plans(post, emulator):
    control(emulator, "POST", "faults", {"model_id": "us.amazon.nova-pro-v1:0", "throttle_next": 5})
    post(f"{NOVA_PRO}/converse", converse_body("hi"))

    control(emulator, "POST", "reset")

    assert control(emulator, "GET", "stats").json()["total"] == 0
    assert post(f"{NOVA_PRO}/converse", converse_body("hi")).status == 200


def test_a_bad_fault_plan_is_refused_with_the_reason(emulator):
    reply = control(emulator, "POST", "faults", {"model_id": "x", "error_rate": 2})

    assert reply.status == 400
    assert "error_rate" in reply.json()["error"]


def test_health_names_the_guardrail_definition_it_enforces(emulator):
    health = control(emulator, "GET", "health").json()

    assert health["status"] == "ok"
    assert health["guardrail_digest"] == load_guardrail().digest()


def test_one_keep_alive_connection_serves_many_requests(emulator, credentials):
    connection = http.client.HTTPConnection(emulator.host, emulator.port, timeout=10)
    path = f"{NOVA_PRO}/converse"
    body = json.dumps(converse_body("hi")).encode()
    try:
        for _ in range(3):
            connection.request("POST", path, body=body, headers=sign(emulator.url + path, body, credentials))
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            assert response.getheader("Connection") != "close"
    finally:
        connection.close()


def test_nova_invoke_model_reads_the_native_schema_including_max_new_tokens(post):
    native = {
        "schemaVersion": "messages-v1",
        **converse_body("Hi"),
        "inferenceConfig": {"max_new_tokens": 9},
    }

    reply = post(f"{NOVA_PRO}/invoke", native)

    assert reply.status == 200
    body = reply.json()
    assert body["output"]["message"]["content"][0]["text"] == "[nova-pro] Emulated answer to:"
    assert body["stopReason"] == "max_tokens"
    assert body["usage"] == {"inputTokens": 1, "outputTokens": 9, "totalTokens": 10}


def test_nova_invoke_stream_wraps_converse_events_in_chunks(post):
    reply = post(f"{NOVA_PRO}/invoke-with-response-stream", converse_body("Hi"))

    chunks = [json.loads(base64.b64decode(e.json()["bytes"])) for e in decode_messages(reply.body)]
    assert [next(iter(c)) for c in chunks][:1] == ["messageStart"]
    assert (
        chunks[-1]["metadata"]["usage"]["outputTokens"]
        == chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"]
    )
