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
NO_DATABASE = ("no connected db", "database not connected", "db not connected", "prisma")


def key_rpm_limit(target: Target) -> str:
    if target.local is not None and not target.local.database_enabled:
        raise Skip(
            "per-key RPM limits need LiteLLM's database (virtual keys), skipped on this machine: "
            f"{target.local.database_skip_reason}"
        )
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
                spend = _wait_for_spend(target, admin, key)
                return (
                    f"requests 1..{RPM_LIMIT} answered, request {attempt} got 429; key rpm_limit={RPM_LIMIT} "
                    f"max_budget={MAX_BUDGET}, spend recorded {spend:.6f} USD"
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
