"""gateway/hooks/response_cache.py: cache keys scoped per tenant, oversize answers never stored.

The keys are derived by LiteLLM's own `Cache.get_cache_key` (a GatewayCache is that class with two
steps replaced), from request kwargs whose metadata the proxy's own
`add_user_api_key_auth_to_request_metadata` filled from an authenticated key, as it does for every
request. The end-to-end proof with two real teams' keys needs LiteLLM's database (virtual keys and
teams), which the local stack cannot run yet: it belongs to the database issue's smoke table.
"""

from __future__ import annotations

import asyncio
import copy

import litellm
import pytest
from litellm.caching.caching import Cache
from litellm.proxy._types import UserAPIKeyAuth
from litellm.proxy.litellm_pre_call_utils import LiteLLMProxyRequestSetup

from gateway.hooks import response_cache
from gateway.hooks.response_cache import GatewayCache
from gateway.limits import KIB, RequestLimits

NAMESPACE = "litellm.cache"
PROMPT = [{"role": "user", "content": "What is our refund policy?"}]


def _request(*, team: str | None, key: str, client_metadata: dict | None = None, **extra) -> dict:
    """Chat kwargs as the proxy hands them to LiteLLM: the caller's metadata, then the key's identity."""
    data = {"model": "nova-pro", "messages": copy.deepcopy(PROMPT), "metadata": dict(client_metadata or {})}
    auth = UserAPIKeyAuth(api_key=key, team_id=team)
    LiteLLMProxyRequestSetup.add_user_api_key_auth_to_request_metadata(data, auth, "metadata")
    data["metadata"]["model_group"] = "nova-pro"
    return {**data, "litellm_params": {}, **extra}


@pytest.fixture
def cache() -> GatewayCache:
    return GatewayCache(type="local", namespace=NAMESPACE)


def test_two_teams_sending_the_same_prompt_get_two_keys(cache):
    team_a = cache.get_cache_key(**_request(team="team-a", key="hash-1"))
    team_b = cache.get_cache_key(**_request(team="team-b", key="hash-2"))
    assert team_a != team_b
    assert team_a.startswith(f"{NAMESPACE}:team-") and team_b.startswith(f"{NAMESPACE}:team-")


def test_keys_of_one_team_share_the_teams_entry(cache):
    first = cache.get_cache_key(**_request(team="team-a", key="hash-1"))
    second = cache.get_cache_key(**_request(team="team-a", key="hash-2"))
    assert first == second


def test_without_a_team_the_key_hash_scopes_the_entry(cache):
    own = cache.get_cache_key(**_request(team=None, key="hash-1"))
    again = cache.get_cache_key(**_request(team=None, key="hash-1"))
    other = cache.get_cache_key(**_request(team=None, key="hash-2"))
    assert own == again != other
    assert own.startswith(f"{NAMESPACE}:key-")
    assert "hash-1" not in own  # the key's hash is hashed again: the header never shows it


def test_the_tenant_is_the_only_difference_litellm_s_own_key_material_is_kept(cache):
    plain = Cache(type="local", namespace=NAMESPACE).get_cache_key(**_request(team="team-a", key="h"))
    scoped = cache.get_cache_key(**_request(team="team-a", key="h"))
    assert plain.split(":")[-1] == scoped.split(":")[-1]  # LiteLLM's hash of the request itself
    assert plain != scoped  # today's unscoped key: shared by every team


def test_a_caller_cannot_choose_another_tenant_or_namespace(cache):
    victim = cache.get_cache_key(**_request(team="team-a", key="hash-1"))
    spoofed = cache.get_cache_key(
        **_request(
            team="team-b",
            key="hash-2",
            client_metadata={"user_api_key_team_id": "team-a", "redis_namespace": "elsewhere"},
            cache={"namespace": "elsewhere"},
        )
    )
    assert spoofed != victim
    assert spoofed.startswith(f"{NAMESPACE}:team-")


def test_embedding_inputs_are_keyed_per_input_within_the_tenant(cache):
    base = {"model": "titan-embed", "metadata": {}}
    for team in ("team-a", "team-b"):
        LiteLLMProxyRequestSetup.add_user_api_key_auth_to_request_metadata(
            base, UserAPIKeyAuth(api_key="h", team_id=team), "metadata"
        )
        keys = {cache.get_cache_key(**{**base, "input": text}) for text in ("one", "two")}
        assert len(keys) == 2
        assert all(key.startswith(f"{NAMESPACE}:team-") for key in keys)
    key_a = cache.get_cache_key(**{**base, "input": "one"})
    base["metadata"]["user_api_key_team_id"] = "team-a"
    assert cache.get_cache_key(**{**base, "input": "one"}) != key_a


def test_a_call_without_any_identity_never_shares_an_entry(cache):
    request = {"model": "nova-pro", "messages": PROMPT}
    assert cache.get_cache_key(**request) != cache.get_cache_key(**request)


# ---------------------------------------------------------------- size cap
def _stored(cache: GatewayCache, text: str, team: str) -> object:
    response = litellm.ModelResponse(choices=[{"message": {"role": "assistant", "content": text}}])
    kwargs = _request(team=team, key="h")
    asyncio.run(cache.async_add_cache(response.model_dump_json(), **kwargs))
    return cache.get_cache(**_request(team=team, key="h"))


def test_an_answer_over_the_cap_is_not_stored_and_one_under_it_is(cache, caplog):
    cache.max_answer_bytes = 64 * KIB
    assert _stored(cache, "small answer", "team-small") is not None
    with caplog.at_level("INFO", logger="gateway.response_cache"):
        assert _stored(cache, "x" * (65 * KIB), "team-big") is None
    assert "not cached" in caplog.text
    assert "exception in add_cache" not in caplog.text  # refused quietly, not logged as a failure


# ---------------------------------------------------------------- install
def test_install_turns_the_proxys_cache_into_a_gateway_cache_with_the_environments_cap(monkeypatch):
    monkeypatch.setattr(litellm, "cache", Cache(type="local", namespace=NAMESPACE))
    installed = response_cache.install(RequestLimits(max_cached_answer_kb=32))
    assert installed is litellm.cache and isinstance(litellm.cache, GatewayCache)
    assert litellm.cache.max_answer_bytes == 32 * KIB
    assert litellm.cache.namespace == NAMESPACE


def test_install_refuses_a_cache_it_cannot_scope(monkeypatch):
    class OtherCache(Cache):
        pass

    monkeypatch.setattr(litellm, "cache", OtherCache(type="local"))
    with pytest.raises(RuntimeError, match="cannot be scoped"):
        response_cache.install(RequestLimits())


def test_install_with_caching_off_does_nothing(monkeypatch):
    monkeypatch.setattr(litellm, "cache", None)
    assert response_cache.install(RequestLimits()) is None
