"""Is the gateway up, and does it offer the catalogue?"""

from __future__ import annotations

from gateway.smoke.checks.common import ensure, require_admin
from gateway.smoke.target import Target


def health_liveliness(target: Target) -> str:
    """The load balancer's health check: unauthenticated, 200."""
    response = target.http.get("/health/liveliness")
    ensure(response.status_code == 200, f"HTTP {response.status_code}: {response.text[:200]}")
    return response.text.strip()[:60]


def health_readiness(target: Target) -> str:
    """Ready means the proxy loaded its config and can reach its cache (and database, when it has one).

    An admin route (it reveals LiteLLM's version, callbacks and database state): the admin entry.
    """
    response = require_admin(target).get("/health/readiness")
    ensure(response.status_code == 200, f"HTTP {response.status_code}: {response.text[:200]}")
    body = response.json()
    ensure(body.get("status") in {"healthy", "connected"}, f"status is {body.get('status')!r}: {body}")
    return f"status={body.get('status')} db={body.get('db')} cache={body.get('cache')}"


def models_listed(target: Target) -> str:
    """/v1/models through the SDK lists every public alias of the catalogue, and no Bedrock id."""
    listed = {model.id for model in target.client().models.list()}
    expected = set(target.environment.aliases())
    missing = expected - listed
    ensure(not missing, f"aliases missing from /v1/models: {sorted(missing)} (listed: {sorted(listed)})")
    leaked = {m.model_id for m in target.environment.models} & listed
    ensure(not leaked, f"Bedrock model ids exposed as public models: {sorted(leaked)}")
    return f"{len(expected)} aliases: {', '.join(sorted(expected))}"
