"""What a client sees when the router fell back or ran out of models: aliases, never Bedrock's internals.

LiteLLM 1.108.7 stamps the alias the client asked for on a normal answer
(`_override_openai_response_model`), and on a streamed fallback answer the alias
that answered (`_restamp_streaming_chunk_model`); but a plain (non-streamed)
fallback answer keeps the Bedrock id (`"model": "us.amazon.nova-lite-v1:0"`),
because that override steps aside once a fallback happened. This hook runs
before that override and stamps the alias that answered (the router's model
group), so both kinds of answer name an alias.

When every model of an alias and its fallback chain is failing (throttled,
5xx, timed out) or cooling down, LiteLLM answers with the last upstream error:
Bedrock's message, the fallback wiring, deployment ids, and no `Retry-After`
(or a 429 "No deployments available" listing the cooldowns). This hook turns
those into one answer: 503, a message naming the alias the client asked for,
and `Retry-After` with the seconds until a cooled-down model is tried again
(the router's `cooldown_time`, or Bedrock's own `Retry-After` when longer).
Client errors (4xx other than throttling), guardrail refusals and the proxy's
own rate limits (HTTPExceptions) are left as they are.
"""

from __future__ import annotations

import math
from typing import Any

import litellm
from fastapi import HTTPException
from litellm.integrations.custom_logger import CustomLogger
from litellm.types.router import RouterRateLimitError

# Upstream failures that mean "no model could answer now", not "the request is wrong".
UNAVAILABLE = (
    litellm.RateLimitError,
    litellm.ServiceUnavailableError,
    litellm.InternalServerError,
    litellm.BadGatewayError,
    litellm.Timeout,
    RouterRateLimitError,
)
UNAVAILABLE_STATUS = 503
# Used when neither the router nor Bedrock says when to come back (LiteLLM's own default cooldown).
DEFAULT_RETRY_AFTER_S = 5
ATTEMPTED_FALLBACKS = "x-litellm-attempted-fallbacks"
MODEL_GROUP = "x-litellm-model-group"


def answering_alias(response: Any) -> str | None:
    """The alias that answered, when a fallback did (the router's model group of the final call)."""
    hidden = getattr(response, "_hidden_params", None)
    headers = (hidden or {}).get("additional_headers") or {} if isinstance(hidden, dict) else {}
    attempted = headers.get(ATTEMPTED_FALLBACKS)
    group = headers.get(MODEL_GROUP)
    if isinstance(attempted, int) and attempted > 0 and isinstance(group, str) and group:
        return group
    return None


def _router_cooldown_s() -> float | None:
    try:
        from litellm.proxy.proxy_server import llm_router
    except ImportError:  # pragma: no cover - the proxy is always installed in the image
        return None
    cooldown = getattr(llm_router, "cooldown_time", None)
    return float(cooldown) if isinstance(cooldown, (int, float)) and cooldown > 0 else None


def _upstream_retry_after_s(error: Exception) -> float | None:
    headers = getattr(error, "litellm_response_headers", None)
    if headers is None:
        response = getattr(error, "response", None)
        headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        seconds = litellm.utils._get_retry_after_from_exception_header(headers)
    except Exception:  # a malformed header must not hide the real answer
        return None
    return float(seconds) if isinstance(seconds, (int, float)) and seconds > 0 else None


def retry_after_s(error: Exception, router_cooldown_s: float | None) -> int:
    """Seconds until a model of the chain is tried again: the longest of what the router and Bedrock say."""
    candidates = [router_cooldown_s, _upstream_retry_after_s(error)]
    if isinstance(error, RouterRateLimitError) and error.cooldown_time > 0:
        candidates.append(error.cooldown_time)
    known = [c for c in candidates if c]
    return math.ceil(max(known)) if known else DEFAULT_RETRY_AFTER_S


def unavailable_answer(alias: str, error: Exception, router_cooldown_s: float | None) -> HTTPException | None:
    """The 503 for an upstream-availability failure of `alias`; None for anything else."""
    if isinstance(error, HTTPException) or not isinstance(error, UNAVAILABLE):
        return None
    seconds = retry_after_s(error, router_cooldown_s)
    message = (
        f"The model '{alias}' and its fallbacks are temporarily unavailable (throttled or failing "
        f"upstream). Retry after {seconds} s."
        if alias
        else f"No model is available right now. Retry after {seconds} s."
    )
    return HTTPException(
        status_code=UNAVAILABLE_STATUS,
        detail=message,
        headers={"retry-after": str(seconds)},
    )


class FallbackAnswers(CustomLogger):
    """Names aliases in fallback answers, and answers 'all models unavailable' as 503 + Retry-After."""

    async def async_post_call_success_hook(self, data: dict, user_api_key_dict: Any, response: Any) -> Any:
        alias = answering_alias(response)
        if alias is not None and isinstance(getattr(response, "model", None), str):
            response.model = alias
        return response

    async def async_post_call_failure_hook(
        self,
        request_data: dict,
        original_exception: Exception,
        user_api_key_dict: Any,
        traceback_str: str | None = None,
    ) -> HTTPException | None:
        alias = request_data.get("model") if isinstance(request_data, dict) else None
        return unavailable_answer(
            alias if isinstance(alias, str) else "", original_exception, _router_cooldown_s()
        )


fallback_answers = FallbackAnswers()
