"""gateway/hooks/request_limits.py: too many embedding inputs and too large max_tokens refused with 400.

Through the real proxy (status, body, no guardrail or model call, plain and streamed) these are
the smoke rows of gateway/smoke/checks/request_limits.py; here, the rule itself and its place
in LiteLLM's callback list.
"""

from __future__ import annotations

import asyncio

import litellm
import pytest
from litellm.integrations.custom_guardrail import CustomGuardrail
from litellm.proxy._types import ProxyException

from gateway.hooks import request_limits
from gateway.hooks.request_limits import RequestLimitsHook, check, input_count
from gateway.limits import RequestLimits

LIMITS = RequestLimits(max_embedding_inputs=3, max_tokens=100)


def _refusal(data: dict, call_type: str) -> ProxyException:
    with pytest.raises(ProxyException) as caught:
        check(data, call_type, LIMITS)
    assert caught.value.code == "400"
    assert caught.value.type == "invalid_request_error"
    return caught.value


@pytest.mark.parametrize(
    ("value", "count"),
    [("one text", 1), (["a", "b"], 2), ([1, 2, 3, 4], 1), ([[1, 2], [3]], 2), ([], 0)],
)
def test_inputs_are_counted_as_openai_defines_them(value, count):
    """A string or one list of token ids is one input; a list of either is one input per item."""
    assert input_count(value) == count


def test_more_embedding_inputs_than_allowed_are_refused_naming_input():
    error = _refusal({"model": "titan-embed", "input": ["x"] * 4}, "aembedding")
    assert error.param == "input"
    assert "4" in error.message and "3" in error.message


def test_the_allowed_number_of_inputs_passes():
    check({"model": "titan-embed", "input": ["x"] * 3}, "aembedding", LIMITS)
    check({"model": "titan-embed", "input": list(range(500))}, "aembedding", LIMITS)  # one tokenized text


@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("call_type", ["acompletion", "atext_completion"])
def test_a_token_cap_above_the_limit_is_refused_naming_the_parameter(param, call_type):
    error = _refusal({"model": "nova-pro", param: 101, "stream": True}, call_type)
    assert error.param == param


def test_token_caps_at_the_limit_or_absent_pass_and_odd_types_are_left_to_litellm():
    for data in (
        {"max_tokens": 100},
        {"max_completion_tokens": 1},
        {},
        {"max_tokens": "lots"},
        {"max_tokens": True},
    ):
        check({"model": "nova-pro", **data}, "acompletion", LIMITS)


def test_the_hook_drops_a_caller_supplied_cache_key():
    data = {"model": "nova-pro", "messages": [], "cache_key": "litellm.cache:team-x:abc"}
    out = asyncio.run(RequestLimitsHook(LIMITS).async_pre_call_hook(None, None, data, "acompletion"))
    assert "cache_key" not in out


def test_a_cache_litellm_rebuilt_after_start_up_is_scoped_again_before_the_request(monkeypatch):
    from litellm.caching.caching import Cache

    from gateway.hooks.response_cache import GatewayCache

    monkeypatch.setattr(litellm, "cache", Cache(type="local"))  # what /cache/settings or the DB would do
    asyncio.run(RequestLimitsHook(LIMITS).async_pre_call_hook(None, None, {"model": "m"}, "acompletion"))
    assert isinstance(litellm.cache, GatewayCache)


def test_the_hook_overrides_litellms_pre_call_hook_in_its_own_class():
    """LiteLLM calls a callback's pre-call hook only if the leaf class defines it (proxy/utils.py)."""
    assert "async_pre_call_hook" in vars(RequestLimitsHook)


def test_install_puts_the_hook_ahead_of_the_guardrail_once(monkeypatch):
    guardrail = CustomGuardrail(guardrail_name="g", default_on=True)
    monkeypatch.setattr(litellm, "callbacks", ["x", guardrail, RequestLimitsHook(RequestLimits())])
    hook = request_limits.install(LIMITS)
    assert litellm.callbacks == [hook, "x", guardrail]
    assert hook.limits == LIMITS
