"""The realistic latency profile: streams really stream, calls take the model's time, triggers are long.

Wall-clock assertions here are lower bounds only (a sleep is never shorter than asked, however
busy the machine), plus orderings and counts; never an upper bound.
"""

from __future__ import annotations

import http.client
import json
import time

import pytest
from botocore.eventstream import EventStreamBuffer
from emulator_http import converse_body, sign, signed_post

from gateway.emulator import answers
from gateway.emulator.latency import TEXT_MODELS, LatencyModel
from gateway.emulator.server import start_emulator
from gateway.emulator.tokens import count_tokens

PRO = "us.amazon.nova-pro-v1:0"
PRO_STREAM = "/model/us.amazon.nova-pro-v1%3A0/converse-stream"
PRO_CONVERSE = "/model/us.amazon.nova-pro-v1%3A0/converse"
ANSWER_TOKENS = 70  # about 0.5 s at nova-pro's median rate: long enough to see, short enough to wait


@pytest.fixture(scope="module")
def realistic(credentials):
    """An emulator on the realistic profile without jitter: every wait is the model's median."""
    with start_emulator(credentials, latency=LatencyModel("realistic", jitter=False)) as emulator:
        yield emulator


def _stream_arrivals(emulator, credentials, path: str, payload: dict) -> tuple[list[tuple[float, dict]], int]:
    """(arrival time, event) for each frame as the socket delivered it, and how many reads carried frames."""
    body = json.dumps(payload).encode()
    connection = http.client.HTTPConnection(emulator.host, emulator.port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers=sign(emulator.url + path, body, credentials))
        response = connection.getresponse()
        assert response.status == 200
        buffer, arrivals, reads = EventStreamBuffer(), [], 0
        while data := response.read1(65536):
            arrived = time.monotonic()
            buffer.add_data(data)
            frames = [(arrived, json.loads(message.payload)) for message in buffer]
            reads += bool(frames)
            arrivals += frames
        return arrivals, reads
    finally:
        connection.close()


def _text_of(event: dict) -> str:
    return event.get("delta", {}).get("text", "")


def test_a_realistic_stream_arrives_frame_by_frame_spaced_by_the_token_rate(realistic, credentials):
    began = time.monotonic()
    arrivals, reads = _stream_arrivals(
        realistic, credentials, PRO_STREAM,
        converse_body("a long answer, please", inferenceConfig={"maxTokens": ANSWER_TOKENS}),
    )  # fmt: skip
    deltas = [(at, event) for at, event in arrivals if _text_of(event)]
    pro = TEXT_MODELS["nova-pro"]

    assert len(deltas) > 2 and reads >= len(deltas)  # one read per chunk: nothing was batched
    first_at, last_at = deltas[0][0], deltas[-1][0]
    assert first_at - began >= pro.ttft_s * 0.9  # nothing before the time to first token
    later_tokens = sum(count_tokens(_text_of(event)) for _, event in deltas[1:])
    # The first chunk reached the client while the rest was still being generated.
    assert last_at - first_at >= later_tokens / pro.tokens_per_s * 0.9
    assert sum(count_tokens(_text_of(e)) for _, e in deltas) == ANSWER_TOKENS


def test_an_instant_stream_carries_the_same_events_without_waiting(post):
    reply = post(PRO_STREAM, converse_body("a long answer, please", inferenceConfig={"maxTokens": 40}))

    buffer = EventStreamBuffer()
    buffer.add_data(reply.body)
    texts = [_text_of(json.loads(m.payload)) for m in buffer]
    assert sum(count_tokens(t) for t in texts) == 40


def test_a_realistic_plain_call_answers_after_the_whole_generation(realistic, credentials):
    began = time.monotonic()
    reply = signed_post(
        realistic, PRO_CONVERSE, converse_body("a long answer", inferenceConfig={"maxTokens": ANSWER_TOKENS}),
        credentials,
    )  # fmt: skip
    elapsed = time.monotonic() - began

    pro = TEXT_MODELS["nova-pro"]
    planned = pro.ttft_s + ANSWER_TOKENS / pro.tokens_per_s
    assert elapsed >= planned * 0.9
    assert reply.json()["metrics"]["latencyMs"] >= planned * 900


def test_a_long_answer_prompt_gets_max_tokens_tokens_or_a_thousand_without_a_limit(post):
    capped = post(PRO_CONVERSE, converse_body("Write a LONG ANSWER", inferenceConfig={"maxTokens": 300}))
    unlimited = post(PRO_CONVERSE, converse_body("write a long answer"))

    assert capped.json()["usage"]["outputTokens"] == 300
    assert unlimited.json()["usage"]["outputTokens"] == 1000


def test_a_long_harmful_answer_is_clean_until_its_last_sentence_which_the_output_check_blocks(post):
    reply = post(PRO_CONVERSE, converse_body("a long answer that is a harmful answer"))
    text = reply.json()["output"]["message"]["content"][0]["text"]
    clean = text.removesuffix(answers.HARMFUL_TEXT)

    assert text.endswith(answers.HARMFUL_TEXT) and len(clean) > 1000
    verdicts = [
        post("/guardrail/g/version/DRAFT/apply", {"source": "OUTPUT", "content": [{"text": {"text": t}}]})
        for t in (clean, text)
    ]
    assert [v.json()["action"] for v in verdicts] == ["NONE", "GUARDRAIL_INTERVENED"]


def test_guardrail_and_embedding_times_grow_with_their_input():
    model = LatencyModel("realistic", jitter=False)

    assert model.guardrail(100).first_s < model.guardrail(5000).first_s
    assert model.guardrail(100).first_s == model.guardrail(900).first_s  # billed per 1,000-character unit
    assert model.embedding(10).first_s < model.embedding(2000).first_s


def test_the_instant_profile_never_waits():
    model = LatencyModel("instant")

    assert model.text("nova-pro").total_s(500) == 0
    assert model.guardrail(10_000).first_s == model.embedding(1000).first_s == 0
    assert model.chunk_gap(5, 1.0) == 0


def test_every_catalogue_text_model_has_a_latency_figure():
    from gateway.emulator.catalog import MODELS, TITAN_EMBED

    assert {s.label for s in MODELS.values() if s.family != TITAN_EMBED} == set(TEXT_MODELS)


def test_an_unknown_profile_is_refused_naming_the_allowed_ones():
    with pytest.raises(ValueError, match="realistic, instant"):
        LatencyModel("fast")


def test_health_names_the_profile(realistic, emulator):
    from emulator_http import control

    assert control(realistic, "GET", "health").json()["latency"] == "realistic"
    assert control(emulator, "GET", "health").json()["latency"] == "instant"
