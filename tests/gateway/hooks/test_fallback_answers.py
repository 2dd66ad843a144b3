"""gateway/hooks/fallback_answers.py: fallback answers name aliases; no model left is 503 + Retry-After."""

from __future__ import annotations

import asyncio
import time

import httpx
import litellm
import pytest
from fastapi import HTTPException
from litellm.proxy._types import UserAPIKeyAuth
from litellm.types.router import RouterRateLimitError

from gateway import render
from gateway.hooks.bedrock_guardrail import TIMEOUT_STATUS, GatewayBedrockGuardrail
from gateway.hooks.fallback_answers import (
    DEFAULT_RETRY_AFTER_S,
    FallbackAnswers,
    answering_alias,
    unavailable_answer,
)

BEDROCK_ID = "us.amazon.nova-lite-v1:0"


def _answer(**headers) -> litellm.ModelResponse:
    response = litellm.ModelResponse(
        model=BEDROCK_ID,
        choices=[{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
    )
    response._hidden_params["additional_headers"] = headers
    return response


def _success(response):
    return asyncio.run(FallbackAnswers().async_post_call_success_hook({"model": "nova-pro"}, None, response))


def _failure(error: Exception, alias: str = "nova-pro"):
    return asyncio.run(
        FallbackAnswers().async_post_call_failure_hook({"model": alias}, error, UserAPIKeyAuth())
    )


def _bedrock_error(cls, status: int, headers: dict | None = None):
    response = httpx.Response(
        status, headers=headers or {}, request=httpx.Request("POST", "http://b/converse")
    )
    return cls(
        message=f'BedrockException - {{"message": "{BEDROCK_ID} arn:aws:bedrock:… failed"}}',
        llm_provider="bedrock",
        model=BEDROCK_ID,
        response=response,
    )


def test_a_fallback_answer_names_the_alias_that_answered_not_the_bedrock_id():
    answer = _success(_answer(**{"x-litellm-attempted-fallbacks": 1, "x-litellm-model-group": "nova-lite"}))
    assert answer.model == "nova-lite"


def test_an_answer_without_a_fallback_is_left_to_litellm_which_names_the_alias_asked_for():
    answer = _success(_answer(**{"x-litellm-attempted-fallbacks": 0, "x-litellm-model-group": "nova-pro"}))
    assert answer.model == BEDROCK_ID
    assert answering_alias(_answer()) is None


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (litellm.ServiceUnavailableError, 503),
        (litellm.RateLimitError, 429),
        (litellm.InternalServerError, 500),
        (litellm.BadGatewayError, 502),
    ],
)
def test_an_upstream_failure_after_the_whole_chain_is_a_503_naming_the_alias_only(cls, status):
    answer = _failure(_bedrock_error(cls, status))
    assert answer.status_code == 503
    assert "nova-pro" in answer.detail
    for internal in (BEDROCK_ID, "arn:", "Bedrock", "litellm"):
        assert internal not in answer.detail
    assert int(answer.headers["retry-after"]) > 0


def test_retry_after_is_the_longest_of_the_routers_cooldown_and_bedrocks_own():
    longer = _bedrock_error(litellm.RateLimitError, 429, {"retry-after": "30"})
    assert unavailable_answer("nova-pro", longer, 10.0).headers["retry-after"] == "30"
    shorter = _bedrock_error(litellm.RateLimitError, 429, {"retry-after": "2"})
    assert unavailable_answer("nova-pro", shorter, 10.0).headers["retry-after"] == "10"
    assert unavailable_answer("nova-pro", _bedrock_error(litellm.RateLimitError, 429), None).headers[
        "retry-after"
    ] == str(DEFAULT_RETRY_AFTER_S)


def test_every_deployment_cooling_down_is_the_same_503_with_the_cooldown_left():
    cooling = RouterRateLimitError(
        model="nova-pro", cooldown_time=7.2, enable_pre_call_checks=False, cooldown_list=["d1"]
    )
    answer = unavailable_answer("nova-pro", cooling, None)
    assert (answer.status_code, answer.headers["retry-after"]) == (503, "8")
    assert "d1" not in answer.detail


@pytest.mark.parametrize(
    "error",
    [
        litellm.BadRequestError(message="bad", llm_provider="bedrock", model=BEDROCK_ID),
        litellm.AuthenticationError(message="no", llm_provider="bedrock", model=BEDROCK_ID),
        HTTPException(status_code=429, detail="key rpm limit"),  # the proxy's own rate limit
        HTTPException(status_code=504, detail="The content check (guardrail) timed out"),
    ],
    ids=["bad-request", "auth", "proxy-rate-limit", "guardrail-timeout"],
)
def test_client_errors_guardrail_answers_and_the_proxys_own_limits_are_left_alone(error):
    assert _failure(error) is None


def test_the_config_registers_the_hook_where_litellm_loads_callbacks():
    callbacks = render.load_base()["litellm_settings"]["callbacks"]
    assert "gateway.hooks.fallback_answers.fallback_answers" in callbacks


def test_a_guardrail_slower_than_its_timeout_fails_closed_with_a_504_saying_so(emulator):
    """The content check's own timeout is a 504 'timed out', not a 500 with an empty message."""
    [entry] = render.load_base()["guardrails"]
    params = {
        k: v for k, v in entry["litellm_params"].items() if k not in ("guardrail", "mode", "default_on")
    }
    params.update(guardrailIdentifier="local-guardrail", guardrailVersion="1", aws_region_name="us-east-1")
    hook = GatewayBedrockGuardrail(
        guardrail_name="g", event_hook="pre_call", default_on=True, **{**params, "timeout": 0.3}
    )
    emulator.backend.faults.configure({"guardrail": True, "latency_ms": 2000})
    request = {"model": "nova-pro", "messages": [{"role": "user", "content": "hello"}], "metadata": {}}

    async def call():
        try:
            return await hook.async_pre_call_hook(UserAPIKeyAuth(), None, request, "completion")
        finally:
            await hook.poster.close()

    began = time.monotonic()
    with pytest.raises(HTTPException) as failed:
        asyncio.run(call())
    assert failed.value.status_code == TIMEOUT_STATUS == 504
    assert "content check" in failed.value.detail and "timed out" in failed.value.detail
    assert time.monotonic() - began < 1.5
