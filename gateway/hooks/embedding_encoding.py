"""Embeddings in the encoding the client asked for, computed from Bedrock's float vectors.

The official `openai` SDKs send `encoding_format: "base64"` by default and
decode it as little-endian float32, as OpenAI defines it. LiteLLM 1.108.7 maps
`base64` to Titan v2's `embeddingTypes: ["binary"]`, which returns sign bits:
with the SDKs' defaults a client got 1,024 zeros and ones (Python) or 256
denormal floats (Node). This hook asks Bedrock for floats on every request and,
when the client asked for base64, encodes those floats itself.

It also refuses, with an OpenAI-style 400 naming the parameter, an encoding
other than `float`/`base64` and a `dimensions` the alias's model does not
support (Titan v2: 256, 512, 1024; Titan v1: none), before any model call.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from typing import Any

from litellm.integrations.custom_logger import CustomLogger
from litellm.proxy._types import ProxyException
from litellm.types.utils import EmbeddingResponse

from gateway import render

EMBEDDING_CALL_TYPES = frozenset({"aembedding", "embedding"})
ENCODINGS = ("float", "base64")
# Output sizes a Bedrock embedding model accepts in `dimensions`, by model id prefix.
DIMENSIONS = {"amazon.titan-embed-text-v2": (256, 512, 1024)}
METADATA_KEY = "gateway_encoding_format"


def encode_base64(vector: list[float]) -> str:
    """OpenAI's base64 embedding: the vector as little-endian float32, base64-encoded."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def allowed_dimensions(model_id: str) -> tuple[int, ...]:
    bare = model_id.split(".", 1)[1] if model_id.startswith(("us.", "eu.", "apac.")) else model_id
    return next((sizes for prefix, sizes in DIMENSIONS.items() if bare.startswith(prefix)), ())


def _refuse(message: str, param: str) -> ProxyException:
    return ProxyException(message=message, type="invalid_request_error", param=param, code=400)


class EmbeddingEncoding(CustomLogger):
    """Pre-call: validate and ask for floats; post-call: encode as the client asked."""

    def __init__(self, model_ids: Mapping[str, str] | None = None) -> None:
        super().__init__()
        catalogue = {m.alias: m.model_id for m in render.catalogue_from_env()}
        self.model_ids = dict(catalogue if model_ids is None else model_ids)

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict, call_type: str
    ) -> dict:
        if call_type not in EMBEDDING_CALL_TYPES:
            return data
        requested = data.get("encoding_format") or "float"
        if requested not in ENCODINGS:
            raise _refuse(
                f"encoding_format {requested!r} is not supported; use one of: {', '.join(ENCODINGS)}",
                "encoding_format",
            )
        dimensions = data.get("dimensions")
        if dimensions is not None:
            sizes = allowed_dimensions(self.model_ids.get(str(data.get("model")), ""))
            if dimensions not in sizes:
                allowed = ", ".join(map(str, sizes)) if sizes else "none (this model has a fixed size)"
                raise _refuse(
                    f"dimensions {dimensions!r} is not supported by {data.get('model')}; allowed: {allowed}",
                    "dimensions",
                )
        data["encoding_format"] = "float"
        metadata = data.get("metadata")
        if not isinstance(metadata, dict):
            metadata = data["metadata"] = {}
        metadata[METADATA_KEY] = requested
        return data

    async def async_post_call_success_hook(self, data: dict, user_api_key_dict: Any, response: Any) -> Any:
        metadata = data.get("metadata") or {}
        if metadata.get(METADATA_KEY) != "base64" or not isinstance(response, EmbeddingResponse):
            return None
        encoded = EmbeddingResponse(**response.model_dump())  # a copy: the cached answer stays floats
        for item in encoded.data or []:
            vector = item["embedding"] if isinstance(item, dict) else item.embedding
            if isinstance(vector, list):
                value = encode_base64(vector)
                if isinstance(item, dict):
                    item["embedding"] = value
                else:
                    item.embedding = value
        return encoded


embedding_encoding = EmbeddingEncoding()
