"""Per-key rate limit and budget: a virtual key with a small RPM limit gets 429 past it.

Virtual keys, their limits and their spend live in LiteLLM's database. LiteLLM
1.108.7 has no database-free per-key limit (the master key carries none; the
end-user, team and tag limits are database rows too), so without a database
this check is skipped with that reason.
"""

from __future__ import annotations

import time

import httpx
import openai

from gateway.smoke.checks.common import ensure, require_admin
from gateway.smoke.runner import CheckFailed, Skip
from gateway.smoke.target import Target

RPM_LIMIT = 2
MAX_BUDGET = 1.0
# general_settings.proxy_batch_write_at is 60 s (+0-5 s jitter): spend reaches the database in batches,
# and a request's spend can miss one batch and ride the next (measured: 65-130 s after the request).
SPEND_TIMEOUT = 150.0
# LiteLLM drops a deleted key from its caches at once (and tells the other workers through Redis).
REVOKE_TIMEOUT = 10.0
# Spend is added to the key's cached record right after each answer: the next request sees it.
TINY_BUDGET = 1e-9
BUDGET_TIMEOUT = 10.0
NO_DATABASE = ("no connected db", "database not connected", "db not connected", "prisma")


def require_database(target: Target, what: str) -> None:
    if target.local is not None and not target.local.database_enabled:
        raise Skip(
            f"{what} need LiteLLM's database (virtual keys), skipped on this machine: "
            f"{target.local.database_skip_reason}"
        )


def key_rpm_limit(target: Target) -> str:
    require_database(target, "per-key RPM limits")
    aliases = target.environment.aliases("chat")
    if not aliases:
        raise Skip("the catalogue has no chat alias")
    alias = aliases[0]
    admin = require_admin(target)  # keys are made and read through the admin routes
    key = _generate_key(target, admin, alias)
    try:
        client = target.client(key)
        answered = 0
        for attempt in range(1, RPM_LIMIT + 2):
            try:
                client.chat.completions.create(
                    model=alias,
                    messages=[{"role": "user", "content": f"count {attempt} ({target.nonce('rpm')})"}],
                    max_tokens=16,
                )
                answered += 1
            except openai.RateLimitError as err:
                ensure(
                    attempt == RPM_LIMIT + 1,
                    f"429 on request {attempt}, before the limit of {RPM_LIMIT} was reached: {err}",
                )
                retry_after = err.response.headers.get("retry-after", "")
                ensure(
                    retry_after.isdigit() and int(retry_after) > 0,
                    f"the 429 has no Retry-After in seconds (got {retry_after!r})",
                )
                spend = _wait_for_spend(target, admin, key)
                return (
                    f"requests 1..{RPM_LIMIT} answered, request {attempt} got 429 with Retry-After "
                    f"{retry_after} s; key rpm_limit={RPM_LIMIT} max_budget={MAX_BUDGET}, spend in /key/info "
                    f"{spend:.6f} USD"
                )
        raise CheckFailed(f"all {answered} requests were answered: no 429 past rpm_limit={RPM_LIMIT}")
    finally:
        admin.post("/key/delete", json={"keys": [key]}, headers=target.auth())


def _generate_key(target: Target, admin: httpx.Client, alias: str) -> str:
    response = admin.post(
        "/key/generate",
        json={
            "rpm_limit": RPM_LIMIT,
            "max_budget": MAX_BUDGET,
            "models": [alias],
            "duration": "15m",
            "key_alias": f"smoke-{target.run_id}",
            "metadata": {"created_by": "gateway.smoke"},
        },
        headers=target.auth(),
    )
    if response.status_code >= 400 and any(marker in response.text.lower() for marker in NO_DATABASE):
        raise Skip(f"the gateway has no database, so no virtual keys: {response.text[:160]}")
    ensure(response.status_code == 200, f"/key/generate: HTTP {response.status_code}: {response.text[:200]}")
    body = response.json()
    ensure(
        body.get("rpm_limit") == RPM_LIMIT and body.get("max_budget") == MAX_BUDGET,
        f"/key/generate did not record the limits: {body}",
    )
    return body["key"]


def _wait_for_spend(target: Target, admin: httpx.Client, key: str) -> float:
    """The key's spend, once the proxy's batch writer has stored it (it must become > 0)."""
    deadline = time.monotonic() + SPEND_TIMEOUT
    spend = 0.0
    while time.monotonic() < deadline:
        response = admin.get("/key/info", params={"key": key}, headers=target.auth())
        ensure(response.status_code == 200, f"/key/info: HTTP {response.status_code}: {response.text[:200]}")
        info = response.json().get("info", {})
        ensure(info.get("max_budget") == MAX_BUDGET, f"/key/info lost the budget: {info.get('max_budget')}")
        spend = float(info.get("spend") or 0.0)
        if spend > 0:
            return spend
        time.sleep(3)
    raise CheckFailed(f"the key's spend stayed {spend} for {SPEND_TIMEOUT:.0f} s: spend is not recorded")


def _chat(target: Target, key: str, alias: str, label: str) -> None:
    target.client(key).chat.completions.create(
        model=alias, messages=[{"role": "user", "content": target.nonce(label)}], max_tokens=16
    )


def _new_key(target: Target, admin: httpx.Client, alias: str, **limits: object) -> str:
    body = {"models": [alias], "duration": "15m", "key_alias": f"smoke-{target.nonce('key')}", **limits}
    response = admin.post("/key/generate", json=body, headers=target.auth())
    ensure(response.status_code == 200, f"/key/generate: HTTP {response.status_code}: {response.text[:200]}")
    return response.json()["key"]


def revoked_key_401(target: Target) -> str:
    """A key that worked is refused with 401 once deleted (/key/delete), without restarting anything."""
    require_database(target, "revocable virtual keys")
    alias = _chat_alias(target)
    admin = require_admin(target)
    key = _new_key(target, admin, alias)
    _chat(target, key, alias, "before-revoke")
    deleted = admin.post("/key/delete", json={"keys": [key]}, headers=target.auth())
    ensure(deleted.status_code == 200, f"/key/delete: HTTP {deleted.status_code}: {deleted.text[:200]}")
    deadline = time.monotonic() + REVOKE_TIMEOUT
    while True:
        try:
            _chat(target, key, alias, "after-revoke")
        except openai.AuthenticationError as err:
            return f"answered before, 401 after /key/delete: {str(err)[:80]}"
        ensure(time.monotonic() < deadline, f"the deleted key still works {REVOKE_TIMEOUT:.0f} s later")
        time.sleep(0.5)


def key_budget_exhausted(target: Target) -> str:
    """A key whose max_budget its own traffic has spent gets LiteLLM's budget error, not an answer."""
    require_database(target, "per-key budgets")
    alias = _chat_alias(target)
    admin = require_admin(target)
    key = _new_key(target, admin, alias, max_budget=TINY_BUDGET)
    try:
        _chat(target, key, alias, "spend-the-budget")  # allowed: nothing is spent yet
        deadline = time.monotonic() + BUDGET_TIMEOUT
        while True:
            try:
                _chat(target, key, alias, "over-budget")
            except openai.APIStatusError as err:
                status = err.status_code
                # LiteLLM 1.108.7 answers 422 ("Budget has been exceeded!"); any refusal naming the budget.
                ensure(status in (400, 422, 429), f"expected the budget error, got {status}: {err}")
                ensure("budget" in str(err).lower(), f"the error does not name the budget: {err}")
                return f"max_budget={TINY_BUDGET} spent by one request; then {status}: {str(err)[:80]}"
            ensure(time.monotonic() < deadline, f"still answered {BUDGET_TIMEOUT:.0f} s after the budget")
            time.sleep(0.5)
    finally:
        admin.post("/key/delete", json={"keys": [key]}, headers=target.auth())


def _chat_alias(target: Target) -> str:
    aliases = target.environment.aliases("chat")
    if not aliases:
        raise Skip("the catalogue has no chat alias")
    return aliases[0]
