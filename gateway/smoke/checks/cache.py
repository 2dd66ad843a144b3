"""The response cache (Valkey in AWS, Redis locally): the same request twice costs one model call."""

from __future__ import annotations

import time

from gateway.smoke.checks.common import ensure, require_admin
from gateway.smoke.checks.emulator import model_calls
from gateway.smoke.checks.limits import require_database
from gateway.smoke.runner import Skip
from gateway.smoke.target import Target

CACHE_KEY_HEADER = "x-litellm-cache-key"
# LiteLLM writes the cache in a background task after answering, so a repeat sent at once can
# (rarely, on a busy machine) arrive before the write: it is asked again, a little later, this often.
REPEATS = 5
REPEAT_PAUSE = 0.3


def repeated_request_cached(target: Target) -> str:
    """A repeated identical request is a cache hit: LiteLLM names the cache key, the answer is identical,
    and (locally) the hit made no model call."""
    aliases = target.environment.aliases("chat")
    if not aliases:
        raise Skip("the catalogue has no chat alias")
    alias = aliases[0]
    request = {
        "model": alias,
        "messages": [{"role": "user", "content": f"Say something cacheable ({target.nonce('cache')})"}],
        "max_tokens": 32,
    }
    raw = target.client().chat.completions.with_raw_response
    first = raw.create(**request)
    ensure(
        CACHE_KEY_HEADER not in first.headers,
        f"the first request already reports a cache hit ({CACHE_KEY_HEADER}): the nonce is not unique",
    )
    attempt = 0
    while attempt < REPEATS:
        attempt += 1
        calls_before = model_calls(target) if target.local else None
        second = raw.create(**request)
        calls_after = model_calls(target) if target.local else None
        if CACHE_KEY_HEADER in second.headers or attempt == REPEATS:
            break
        time.sleep(REPEAT_PAUSE)
    ensure(
        CACHE_KEY_HEADER in second.headers,
        f"{REPEATS} repeats {REPEAT_PAUSE} s apart had no {CACHE_KEY_HEADER} header: "
        "not served from the cache",
    )
    first_text = first.parse().choices[0].message.content
    second_text = second.parse().choices[0].message.content
    ensure(first_text == second_text, f"cached answer differs: {first_text!r} vs {second_text!r}")
    detail = f"{CACHE_KEY_HEADER}={second.headers[CACHE_KEY_HEADER][:16]}…"
    if attempt > 1:
        detail += f" (hit on repeat {attempt}: the write landed after the first repeat)"
    if target.local:
        ensure(
            calls_after == calls_before,
            f"the cache hit called the emulator anyway ({calls_before} -> {calls_after} model calls)",
        )
        detail += f"; emulator model calls unchanged by the hit ({calls_after})"
    return detail


def no_hit_across_teams(target: Target) -> str:
    """Two teams sending the same prompt: the second is not answered from the first's cache entry.

    The cache key carries the caller's team (gateway/hooks/response_cache.py); a hit across
    teams would hand one team another's answer and tell it what the other asked.
    """
    require_database(target, "team keys")
    aliases = target.environment.aliases("chat")
    if not aliases:
        raise Skip("the catalogue has no chat alias")
    alias, admin = aliases[0], require_admin(target)
    teams, keys = [], []
    try:
        for side in ("a", "b"):
            team = admin.post(
                "/team/new", json={"team_alias": f"smoke-{side}-{target.run_id}", "models": [alias]},
                headers=target.auth(),
            )  # fmt: skip
            ensure(team.status_code == 200, f"/team/new: HTTP {team.status_code}: {team.text[:200]}")
            teams.append(team.json()["team_id"])
            key = admin.post(
                "/key/generate", json={"team_id": teams[-1], "models": [alias], "duration": "15m"},
                headers=target.auth(),
            )  # fmt: skip
            ensure(key.status_code == 200, f"/key/generate: HTTP {key.status_code}: {key.text[:200]}")
            keys.append(key.json()["key"])
        request = {
            "model": alias,
            "messages": [{"role": "user", "content": f"Say something cacheable ({target.nonce('teams')})"}],
            "max_tokens": 32,
        }
        first = target.client(keys[0]).chat.completions.with_raw_response
        first.create(**request)
        for _ in range(REPEATS):  # until team A's entry is written (LiteLLM writes it after answering)
            if CACHE_KEY_HEADER in first.create(**request).headers:
                break
            time.sleep(REPEAT_PAUSE)
        else:
            raise Skip("team A's repeat never hit the cache, so there is nothing to leak across teams")
        calls_before = model_calls(target) if target.local else None
        other = target.client(keys[1]).chat.completions.with_raw_response.create(**request)
        ensure(CACHE_KEY_HEADER not in other.headers, "team B was answered from team A's cache entry")
        if calls_before is not None:
            ensure(model_calls(target) - calls_before == 1, "team B's request did not reach the model")
        return "team A hits its own entry; team B's identical request is a miss and reaches the model"
    finally:
        if keys:
            admin.post("/key/delete", json={"keys": keys}, headers=target.auth())
        if teams:
            admin.post("/team/delete", json={"team_ids": teams}, headers=target.auth())
