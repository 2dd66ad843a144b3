"""The gateway's guardrail hook as the config builds it, and a runner that closes its pooled session."""

from __future__ import annotations

import asyncio

from gateway import render
from gateway.hooks.bedrock_guardrail import GatewayBedrockGuardrail

GUARDRAIL_ID, GUARDRAIL_VERSION = "local-guardrail", "1"


def params() -> dict:
    """The config's guardrail parameters, with the os.environ references resolved as LiteLLM would."""
    [entry] = render.load_base()["guardrails"]
    litellm_params = dict(entry["litellm_params"])
    litellm_params.update(
        guardrailIdentifier=GUARDRAIL_ID, guardrailVersion=GUARDRAIL_VERSION, aws_region_name="us-east-1"
    )
    return {
        "guardrail_name": entry["guardrail_name"],
        "event_hook": litellm_params.pop("mode"),
        "default_on": litellm_params.pop("default_on"),
        **{k: v for k, v in litellm_params.items() if k != "guardrail"},
    }


def hook(cls=GatewayBedrockGuardrail):
    return cls(**params())


def run(guardrail, call):
    """Run one hook call in its own loop and close the hook's pooled session in that loop."""

    async def main():
        try:
            return await call
        finally:
            if isinstance(guardrail, GatewayBedrockGuardrail):
                await guardrail.poster.close()

    return asyncio.run(main())
