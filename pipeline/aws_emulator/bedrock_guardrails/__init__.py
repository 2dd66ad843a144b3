"""Bedrock guardrail control plane for moto (CreateGuardrail … DeleteGuardrail, versions, tags)."""

from __future__ import annotations

from typing import Any

from moto.bedrock.models import BedrockBackend
from moto.bedrock.responses import BedrockResponse

from .models import guardrail_backends
from .responses import HANDLERS

_ORIGINAL_LIST_ARNS = BedrockBackend._list_arns


def _list_arns_with_guardrails(self: BedrockBackend) -> list[str]:
    """moto's Bedrock tagger only accepts ARNs it knows: teach it the guardrails."""
    guardrails = guardrail_backends[self.account_id][self.region_name].guardrail_arns()
    return _ORIGINAL_LIST_ARNS(self) + guardrails


def install() -> None:
    """Add the guardrail handlers to moto's Bedrock responses (idempotent)."""
    for name, handler in HANDLERS.items():
        setattr(BedrockResponse, name, handler)
    BedrockBackend._list_arns = _list_arns_with_guardrails  # type: ignore[method-assign]


def installed() -> bool:
    return all(getattr(BedrockResponse, name, None) is handler for name, handler in HANDLERS.items())


__all__: list[Any] = ["guardrail_backends", "install", "installed"]
