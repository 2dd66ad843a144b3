"""Request limits checked once the body is parsed, before the guardrail or any model is called.

A LiteLLM callback, installed by gateway/asgi.py at start-up, whose `async_pre_call_hook` refuses, with
HTTP 400 and an OpenAI-style error naming the parameter:
- an embeddings request with more inputs than GATEWAY_MAX_EMBEDDING_INPUTS (`param: "input"`):
  Titan embeddings take one text per call, so each input is one model call;
- `max_tokens` or `max_completion_tokens` above GATEWAY_MAX_TOKENS (`param` names which).

The proxy runs pre-call hooks before routing, so a refused request reaches neither the router
(nothing to retry or fall back from) nor a model; `install` puts this hook ahead of the
guardrail in LiteLLM's callback list, so a refused request costs no guardrail call either.
It also drops a caller-supplied `cache_key`, with which LiteLLM would read whatever cache entry
it names, and re-installs the tenant-scoped cache should LiteLLM have replaced it since start-up
(gateway/hooks/response_cache.py scopes the keys LiteLLM derives itself).
"""

from __future__ import annotations

from typing import Any

import litellm
from litellm.integrations.custom_logger import CustomLogger
from litellm.proxy._types import ProxyException

from gateway.hooks import response_cache
from gateway.limits import RequestLimits

EMBEDDING_CALL_TYPES = frozenset({"aembedding", "embedding"})  # the proxy's route type: aembedding
TOKEN_PARAMS = ("max_tokens", "max_completion_tokens")


def input_count(value: Any) -> int:
    """How many inputs an OpenAI embeddings `input` holds: a string or one token list is one."""
    if isinstance(value, list):
        if value and all(isinstance(item, int) and not isinstance(item, bool) for item in value):
            return 1  # a single text given as token ids
        return len(value)
    return 1


def _refuse(message: str, param: str) -> ProxyException:
    """HTTP 400; LiteLLM writes it as {"error": {"message", "type", "param", "code": "400"}}."""
    return ProxyException(message=message, type="invalid_request_error", param=param, code=400)


def check(data: dict, call_type: str, limits: RequestLimits) -> None:
    """Raise the 400 for the first limit `data` breaks; return quietly otherwise."""
    if call_type in EMBEDDING_CALL_TYPES:
        count = input_count(data.get("input"))
        if count > limits.max_embedding_inputs:
            raise _refuse(
                f"Too many inputs: {count} in one embeddings request; the gateway accepts at most "
                f"{limits.max_embedding_inputs}. Send them in batches.",
                "input",
            )
    for param in TOKEN_PARAMS:
        value = data.get(param)
        if isinstance(value, int) and not isinstance(value, bool) and value > limits.max_tokens:
            raise _refuse(
                f"{param} is {value}; the gateway accepts at most {limits.max_tokens}.",
                param,
            )


class RequestLimitsHook(CustomLogger):
    """The pre-call half of the gateway's request limits (module docstring)."""

    def __init__(self, limits: RequestLimits) -> None:
        super().__init__()
        self.limits = limits

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict, call_type: str
    ) -> dict:
        check(data, call_type, self.limits)
        data.pop("cache_key", None)
        # LiteLLM rebuilds its cache when cache settings change at run time (from the database):
        # scope the new one before this request reads or writes it (an isinstance when unchanged).
        if litellm.cache is not None and not isinstance(litellm.cache, response_cache.GatewayCache):
            response_cache.install(self.limits)
        return data


def install(limits: RequestLimits) -> RequestLimitsHook:
    """Put the hook first in `litellm.callbacks`, ahead of the guardrail, once LiteLLM has loaded its config.

    gateway/asgi.py calls it at start-up in every worker, so no configuration can leave it out
    or order it after the guardrail.
    """
    hook = RequestLimitsHook(limits)
    litellm.callbacks[:] = [hook, *(cb for cb in litellm.callbacks if not isinstance(cb, RequestLimitsHook))]
    return hook
