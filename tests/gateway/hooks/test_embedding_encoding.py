"""Embeddings come back in the client's encoding, computed from floats: never Titan's sign bits."""

from __future__ import annotations

import asyncio
import base64
import struct

import pytest
from litellm.proxy._types import ProxyException
from litellm.types.utils import EmbeddingResponse

from gateway.hooks.embedding_encoding import (
    METADATA_KEY,
    EmbeddingEncoding,
    allowed_dimensions,
    encode_base64,
)

MODELS = {"titan-embed": "amazon.titan-embed-text-v2:0", "titan-v1": "amazon.titan-embed-text-v1"}
VECTOR = [0.125, -0.5, 0.333333, 1e-7]


def _pre(data: dict, call_type: str = "aembedding") -> dict:
    return asyncio.run(EmbeddingEncoding(MODELS).async_pre_call_hook(None, None, data, call_type))


def _post(data: dict, response: EmbeddingResponse):
    return asyncio.run(EmbeddingEncoding(MODELS).async_post_call_success_hook(data, None, response))


def _response() -> EmbeddingResponse:
    return EmbeddingResponse(
        model="titan-embed", data=[{"object": "embedding", "index": 0, "embedding": list(VECTOR)}]
    )


def test_base64_is_little_endian_float32_as_the_openai_sdk_decodes_it():
    decoded = struct.unpack("<4f", base64.b64decode(encode_base64(VECTOR)))

    assert decoded == pytest.approx(VECTOR, rel=1e-6)


@pytest.mark.parametrize("requested", ["base64", "float", None])
def test_bedrock_is_always_asked_for_floats_and_the_clients_choice_is_remembered(requested):
    data = _pre({"model": "titan-embed", "input": ["hi"], "encoding_format": requested, "metadata": {}})

    assert data["encoding_format"] == "float"
    assert data["metadata"][METADATA_KEY] == (requested or "float")


def test_a_base64_request_gets_base64_of_the_float_vector_and_the_original_stays_floats():
    original = _response()

    encoded = _post({"metadata": {METADATA_KEY: "base64"}}, original)

    value = encoded.data[0]["embedding"]
    assert struct.unpack("<4f", base64.b64decode(value)) == pytest.approx(VECTOR, rel=1e-6)
    assert original.data[0]["embedding"] == VECTOR  # a cached answer is never turned into a string


def test_a_float_request_is_answered_as_it_came():
    assert _post({"metadata": {METADATA_KEY: "float"}}, _response()) is None


def test_an_unknown_encoding_is_a_400_naming_the_parameter():
    with pytest.raises(ProxyException) as refused:
        _pre({"model": "titan-embed", "input": "hi", "encoding_format": "binary"})

    assert (refused.value.code, refused.value.param) == ("400", "encoding_format")


@pytest.mark.parametrize("size", [256, 512, 1024])
def test_titan_v2_dimensions_pass_through(size):
    assert _pre({"model": "titan-embed", "input": "hi", "dimensions": size})["dimensions"] == size


@pytest.mark.parametrize(("alias", "size"), [("titan-embed", 300), ("titan-embed", "512"), ("titan-v1", 256)])
def test_a_dimensions_the_model_does_not_support_is_a_400_naming_the_parameter(alias, size):
    with pytest.raises(ProxyException) as refused:
        _pre({"model": alias, "input": "hi", "dimensions": size})

    assert (refused.value.code, refused.value.param) == ("400", "dimensions")


def test_chat_requests_are_left_alone():
    data = {"model": "nova-pro", "messages": [], "encoding_format": "weird"}

    assert _pre(dict(data), "acompletion") == data


def test_cross_region_profiles_have_the_foundation_models_sizes():
    assert allowed_dimensions("us.amazon.titan-embed-text-v2:0") == (256, 512, 1024)
