"""Bedrock guardrail control plane for moto (CreateGuardrail … DeleteGuardrail, versions, tags)."""

from __future__ import annotations

from typing import Any

from moto.bedrock.models import BedrockBackend
from moto.bedrock.responses import BedrockResponse

from ..patching import Patches, are_put, put
from .models import guardrail_backends
from .responses import HANDLERS

_ORIGINAL_LIST_ARNS = BedrockBackend._list_arns


def _list_arns_with_guardrails(self: BedrockBackend) -> list[str]:
    """moto's Bedrock tagger only accepts ARNs it knows: teach it the guardrails."""
    guardrails = guardrail_backends[self.account_id][self.region_name].guardrail_arns()
    return _ORIGINAL_LIST_ARNS(self) + guardrails


# The guardrail handlers on moto's Bedrock responses, and the tagger taught their ARNs.
PATCHES: Patches = ((BedrockResponse, HANDLERS), (BedrockBackend, {"_list_arns": _list_arns_with_guardrails}))


def install() -> None:
    put(PATCHES)


def installed() -> bool:
    return are_put(PATCHES)


__all__: list[Any] = ["guardrail_backends", "install", "installed"]
