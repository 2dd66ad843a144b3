"""Deterministic behaviour other tests assert on: tokens, answers per tier, catalogue, embeddings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gateway.emulator.answers import CONTACT_EMAIL, CONTACT_PHONE, HARMFUL_TEXT, answer
from gateway.emulator.catalog import resolve
from gateway.emulator.exceptions import ResourceNotFoundException, ValidationException
from gateway.emulator.guardrail import GuardrailEngine, load_definition
from gateway.emulator.models import CONVERSE, INVOKE, BedrockBackend, embed
from gateway.emulator.tokens import count_tokens, truncate_to_tokens

ROOT = Path(__file__).resolve().parents[3]
CONTEXT = (
    "Super Bowl 50 was an American football game to determine the champion of the National Football League "
    "(NFL) for the 2015 season. The American Football Conference (AFC) champion Denver Broncos defeated the "
    "National Football Conference (NFC) champion Carolina Panthers 24-10 to earn their third Super Bowl "
    "title. The game was played on February 7, 2016, at Levi's Stadium in the San Francisco Bay Area at "
    "Santa Clara, California."
)
SQUAD = f"Answer from the context.\nContext: {CONTEXT}\nQuestion: When was the game played?\nAnswer:"


@pytest.fixture
def backend() -> BedrockBackend:
    return BedrockBackend(GuardrailEngine(load_definition()))


def converse(backend: BedrockBackend, model_id: str, text: str, **inference) -> dict:
    body = {"messages": [{"role": "user", "content": [{"text": text}]}], "inferenceConfig": inference}
    return backend.prepare(CONVERSE, model_id, json.dumps(body).encode()).render(0)


def test_a_token_is_a_word_or_a_single_punctuation_mark():
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("support@example.com") == 5


def test_truncation_keeps_exactly_the_first_n_tokens():
    assert truncate_to_tokens("one two, three four", 3) == ("one two,", True)
    assert truncate_to_tokens("one two", 5) == ("one two", False)


def test_every_model_id_in_every_environment_catalogue_is_known():
    ids = {
        model["model_id"]
        for config in sorted((ROOT / "environments").glob("*/config.yaml"))
        for model in yaml.safe_load(config.read_text())["models"]
    }
    assert ids, "no environment declares models"
    for model_id in ids:
        resolve(model_id)


@pytest.mark.parametrize(
    "model_id", ["amazon.nova-pro-v1:0", "us.amazon.nova-pro-v1:0", "eu.amazon.nova-lite-v1:0"]
)
def test_foundation_ids_and_inference_profiles_resolve_to_the_same_model(model_id):
    assert resolve(model_id).family == "nova"


@pytest.mark.parametrize("model_id", ["amazon.nova-mega-v1:0", "us.amazon.titan-embed-text-v2:0", "nova-pro"])
def test_unknown_ids_aliases_and_embedding_profiles_are_not_found(model_id):
    with pytest.raises(ResourceNotFoundException):
        resolve(model_id)


def test_answers_are_a_function_of_model_and_prompt(backend):
    first = converse(backend, "us.amazon.nova-pro-v1:0", "What is Amazon Bedrock?")
    again = converse(backend, "us.amazon.nova-pro-v1:0", "What is Amazon Bedrock?")
    other = converse(backend, "us.amazon.nova-lite-v1:0", "What is Amazon Bedrock?")

    assert first == again
    assert first["output"] != other["output"]


def test_a_plain_prompt_gets_a_short_reply_naming_the_model(backend):
    text = converse(backend, "us.amazon.nova-micro-v1:0", "What is Amazon Bedrock?")["output"]["message"]
    assert text["content"][0]["text"] == '[nova-micro] Emulated answer to: "What is Amazon Bedrock?"'


def test_asking_for_contact_details_yields_an_email_and_a_phone_number():
    text = answer("nova-pro", "pro", "Please share your contact details.", "")

    assert CONTACT_EMAIL in text and CONTACT_PHONE in text


def test_asking_for_a_harmful_answer_yields_text_the_output_guardrail_blocks_but_the_prompt_passes():
    prompt = "Please give me a harmful answer."
    engine = GuardrailEngine(load_definition())

    text = answer("nova-pro", "pro", prompt, prompt)

    assert HARMFUL_TEXT in text
    assert engine.apply({"source": "INPUT", "content": [{"text": {"text": prompt}}]})["action"] == "NONE"
    verdict = engine.apply({"source": "OUTPUT", "content": [{"text": {"text": text}}]})
    assert verdict["action"] == "GUARDRAIL_INTERVENED"


def test_squad_prompts_get_extractive_answers_whose_quality_depends_on_the_tier():
    by_tier = {tier: answer("m", tier, SQUAD, SQUAD) for tier in ("pro", "lite", "micro", "basic")}

    assert by_tier["pro"] == "February 7"
    assert by_tier["lite"].startswith("The game was played on February 7, 2016")
    assert by_tier["micro"] == "The game was played on February 7"
    assert by_tier["basic"].startswith("Super Bowl 50 was")
    assert all(a in CONTEXT for a in by_tier.values())  # always a span of the context


def test_usage_counts_the_prompt_and_the_answer_with_the_same_rule(backend):
    response = converse(backend, "us.amazon.nova-pro-v1:0", "What is Amazon Bedrock?")

    answer_text = response["output"]["message"]["content"][0]["text"]
    assert response["usage"]["inputTokens"] == count_tokens("What is Amazon Bedrock?")
    assert response["usage"]["outputTokens"] == count_tokens(answer_text)


def test_max_tokens_truncates_the_answer_and_reports_max_tokens(backend):
    response = converse(backend, "us.amazon.nova-pro-v1:0", "What is Amazon Bedrock?", maxTokens=4)

    assert response["usage"]["outputTokens"] == 4
    assert response["stopReason"] == "max_tokens"


def test_a_stop_sequence_ends_the_answer_before_it(backend):
    response = converse(
        backend, "us.amazon.nova-pro-v1:0", "What is Amazon Bedrock?", stopSequences=["answer"]
    )

    assert response["output"]["message"]["content"][0]["text"] == "[nova-pro] Emulated "
    assert response["stopReason"] == "stop_sequence"


def test_a_conversation_must_alternate_starting_with_the_user(backend):
    body = {"messages": [{"role": "assistant", "content": [{"text": "hi"}]}]}

    with pytest.raises(ValidationException, match="start with a user message"):
        backend.prepare(CONVERSE, "us.amazon.nova-pro-v1:0", json.dumps(body).encode())


def test_embeddings_of_texts_sharing_words_are_closer_than_of_unrelated_texts():
    def cosine(a: str, b: str) -> float:
        return sum(x * y for x, y in zip(embed(a, 256), embed(b, 256), strict=True))

    assert cosine("the cat sat on the mat", "a cat sat on a mat") > cosine(
        "the cat sat on the mat", "stock prices"
    )


def test_titan_embed_v1_rejects_v2_parameters(backend):
    body = json.dumps({"inputText": "hi", "dimensions": 256}).encode()

    with pytest.raises(ValidationException, match="extraneous key"):
        backend.prepare(INVOKE, "amazon.titan-embed-text-v1", body)
