"""The gateway's response-cache policy: keys scoped per tenant, oversize answers never stored.

LiteLLM 1.108.7 keys a cached answer by the request alone (model group and parameters, hashed),
so two teams sending the same prompt share one entry, and the cache-key header of a hit tells one
team that another asked the same. `GatewayCache` is LiteLLM's `Cache` with two of its steps
replaced, nothing else:

- `_add_namespace_to_cache_key`, the last step of every key (chat, text completion, each input of
  an embeddings request, read and write alike), puts the caller's tenant between the configured
  namespace and LiteLLM's hash: `<namespace>:team-<h>:<hash>` for a key of a team,
  `<namespace>:key-<h>:<hash>` for a key without one (h: a hash of the team id, or of the key's
  hash, which the proxy puts in the request metadata after authentication, so a caller cannot
  choose it). A per-request namespace (`cache: {"namespace": …}` or `metadata.redis_namespace`,
  both caller-controlled) is ignored. A call without either identity (none comes through the
  proxy's authenticated routes) gets a key of its own, so it never shares an entry;
- `_add_cache_logic`, the step every write goes through, refuses an answer larger than
  GATEWAY_MAX_CACHED_ANSWER_KB (an embeddings request is stored per input, each checked alone).

The proxy builds its `Cache` from `litellm_settings.cache_params` at start-up; `install` turns
that instance into a `GatewayCache` (gateway/asgi.py calls it once LiteLLM's start-up is done).
gateway/hooks/request_limits.py drops a caller-supplied `cache_key`, with which LiteLLM would read
any entry it names.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import litellm
from litellm.caching.caching import Cache

from gateway.limits import DEFAULTS, RequestLimits

logger = logging.getLogger("gateway.response_cache")

TEAM_FIELD = "user_api_key_team_id"
KEY_HASH_FIELDS = ("user_api_key_hash", "user_api_key")  # the proxy sets both to the key's hash


class AnswerTooLarge(Exception):
    """Raised inside LiteLLM's write path: the answer is not stored (logged at INFO, not as a failure)."""


def _metadata_sources(kwargs: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Where the proxy puts the caller's identity: `metadata` (chat, embeddings) or `litellm_metadata`."""
    params = kwargs.get("litellm_params") or {}
    sources = []
    for holder in (kwargs, params):
        if not isinstance(holder, Mapping):
            continue
        for name in ("metadata", "litellm_metadata"):
            value = holder.get(name)
            if isinstance(value, Mapping):
                sources.append(value)
    return sources


def tenant_scope(kwargs: Mapping[str, Any]) -> str | None:
    """`team-<h>` or `key-<h>` for the caller of this request; None when it carries no identity."""
    sources = _metadata_sources(kwargs)
    for kind, fields in (("team", (TEAM_FIELD,)), ("key", KEY_HASH_FIELDS)):
        for field in fields:
            for source in sources:
                value = source.get(field)
                if isinstance(value, str) and value:
                    digest = hashlib.sha256(f"{kind}\0{value}".encode()).hexdigest()[:32]
                    return f"{kind}-{digest}"
    return None


def _stored_size(response: Any) -> int:
    if isinstance(response, bytes):
        return len(response)
    if isinstance(response, str):
        return len(response.encode())
    return len(json.dumps(response, default=str).encode())


class GatewayCache(Cache):
    """LiteLLM's Cache with tenant-scoped keys and a size cap on stored answers (module docstring)."""

    max_answer_bytes: int = DEFAULTS.max_cached_answer_bytes

    def _add_namespace_to_cache_key(self, hash_hex: str, **kwargs: Any) -> str:
        scope = tenant_scope(kwargs)
        if scope is None:
            scope = f"unscoped-{uuid.uuid4().hex}"  # never shared, never hit
        return f"{self.namespace}:{scope}:{hash_hex}" if self.namespace else f"{scope}:{hash_hex}"

    def _add_cache_logic(self, result: Any, **kwargs: Any) -> Any:
        cache_key, cached_data, kwargs = super()._add_cache_logic(result, **kwargs)
        size = _stored_size(cached_data["response"])
        if size > self.max_answer_bytes:
            raise AnswerTooLarge(
                f"answer of {size} bytes not cached: the limit is {self.max_answer_bytes} bytes "
                "(GATEWAY_MAX_CACHED_ANSWER_KB)"
            )
        return cache_key, cached_data, kwargs

    def _log_add_cache_failure(self, exc: Exception) -> None:
        if isinstance(exc, AnswerTooLarge):
            logger.info("%s", exc)
            return
        super()._log_add_cache_failure(exc)


def install(limits: RequestLimits) -> GatewayCache | None:
    """Make the proxy's response cache (`litellm.cache`) a GatewayCache; None when caching is off.

    Refuses (raises) a cache that is not exactly LiteLLM's `Cache`, e.g. a semantic cache or a
    class a LiteLLM upgrade introduced: its keys would not be scoped, so the gateway must not start.
    """
    cache = litellm.cache
    if cache is None:
        return None
    if type(cache) is not Cache and not isinstance(cache, GatewayCache):
        raise RuntimeError(
            f"litellm.cache is a {type(cache).__name__}, not LiteLLM's Cache: "
            "its keys cannot be scoped per tenant"
        )
    cache.__class__ = GatewayCache
    cache.max_answer_bytes = limits.max_cached_answer_bytes
    return cache
