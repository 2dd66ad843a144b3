"""The model ids the emulator knows, as Bedrock knows many more than one catalogue uses.

Bedrock accepts a foundation-model id (`amazon.nova-pro-v1:0`), a cross-region
inference profile (`us.amazon.nova-pro-v1:0`) or either one's ARN. Everything
else is ResourceNotFoundException, so a typo in an environment's model catalogue
fails locally exactly as it would in AWS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.emulator.exceptions import ResourceNotFoundException

NOVA = "nova"
TITAN_TEXT = "titan-text"
TITAN_EMBED = "titan-embed"


@dataclass(frozen=True)
class ModelSpec:
    """One foundation model: its family (which operations it supports) and answer quality tier."""

    base_id: str
    family: str
    label: str  # what answers call the model: "[nova-pro] ..."
    tier: str  # extractive-answer quality: premier | pro | lite | micro | basic
    embedding_dimensions: tuple[int, ...] = ()


_FOUNDATION_MODELS = (
    ModelSpec("amazon.nova-premier-v1:0", NOVA, "nova-premier", "premier"),
    ModelSpec("amazon.nova-pro-v1:0", NOVA, "nova-pro", "pro"),
    ModelSpec("amazon.nova-lite-v1:0", NOVA, "nova-lite", "lite"),
    ModelSpec("amazon.nova-micro-v1:0", NOVA, "nova-micro", "micro"),
    ModelSpec("amazon.titan-text-premier-v1:0", TITAN_TEXT, "titan-text-premier", "lite"),
    ModelSpec("amazon.titan-text-express-v1", TITAN_TEXT, "titan-text-express", "basic"),
    ModelSpec("amazon.titan-text-lite-v1", TITAN_TEXT, "titan-text-lite", "basic"),
    ModelSpec("amazon.titan-embed-text-v2:0", TITAN_EMBED, "titan-embed-v2", "basic", (1024, 512, 256)),
    ModelSpec("amazon.titan-embed-text-v1", TITAN_EMBED, "titan-embed-v1", "basic", (1536,)),
)
MODELS = {spec.base_id: spec for spec in _FOUNDATION_MODELS}

# Geographic cross-region inference profiles exist for the text models, not for embeddings.
PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.")

_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:bedrock:[a-z0-9-]*:\d{0,12}:(?:foundation-model|inference-profile)/(?P<id>[^/]+)$"
)


def base_model_id(model_id: str) -> str:
    """The foundation-model id behind an id, profile or ARN (unchecked)."""
    match = _ARN.match(model_id)
    if match:
        model_id = match.group("id")
    for prefix in PROFILE_PREFIXES:
        if model_id.startswith(prefix):
            return model_id[len(prefix) :]
    return model_id


def resolve(model_id: str) -> ModelSpec:
    """Look a requested id up; unknown ids and profiles of embedding models are not found."""
    base = base_model_id(model_id)
    spec = MODELS.get(base)
    via_profile = base != model_id and not _ARN.match(model_id)
    if spec is None or (via_profile and spec.family == TITAN_EMBED):
        raise ResourceNotFoundException()
    return spec
