"""The route allow-list as a client meets it: one row per route sample, derived from policies/routes.yaml.

Through the public entry (locally the front, in AWS the load balancer): every
closed and admin family, each unauthenticated route LiteLLM answers without a
key, and the pass-through calls a careless client would try, get the 404 with
the OpenAI-style body, even with the master key; every served path answers.
Through the admin entry (local only): an admin route answers, a closed one does not.
"""

from __future__ import annotations

from gateway.smoke.checks.common import ensure, require_admin
from gateway.smoke.runner import Check
from gateway.smoke.target import Target
from policies import routes

# Calls of the provider pass-through that answered without any guardrail check before the allow-list.
PASS_THROUGH_SAMPLES = (
    "/bedrock/model/nova-pro/converse",
    "/bedrock/model/titan-text/invoke",
    "/openai/v1/chat/completions",
    "/anthropic/v1/messages",
    "/vertex_ai/v1/projects/p/models/m:generateContent",
    "/gemini/v1beta/models/m:generateContent",
    "/azure/openai/deployments/d/chat/completions",
    "/v1/messages",
    "/engines/nova-pro/chat/completions",
    "/v1/models/nova-pro",
)
# Admin calls the pipeline and operators make, beside one sample per admin family.
ADMIN_SAMPLES = ("/key/generate", "/key/list", "/health/readiness", "/openapi.json", "/ui/", "/spend/logs")


def _sample(pattern: str) -> str:
    """`/a/*` -> `/a`; an exact path as it is."""
    return (pattern[:-2] or "/") if pattern.endswith("/*") else pattern


def family_samples(klass: str) -> dict[str, str]:
    """One concrete path per family of `klass`: its first pattern that is a path of that class."""
    table = routes.load()
    samples = {}
    for family in table.of_class(klass):
        paths = [_sample(p) for p in family.patterns if "{" not in p]
        samples[family.name] = next(p for p in paths if table.classify(p) == klass)
    return samples


def _not_found(target: Target, method: str, path: str) -> str:
    response = target.http.request(method, path, headers=target.auth(), json={} if method == "POST" else None)
    ensure(
        response.status_code == routes.NOT_FOUND_STATUS,
        f"HTTP {response.status_code} (want 404): {response.text[:160]}",
    )
    ensure(
        response.headers.get("content-type", "").startswith(routes.NOT_FOUND_CONTENT_TYPE),
        f"content type {response.headers.get('content-type')!r}",
    )
    ensure(response.text == routes.NOT_FOUND_BODY, f"not the load balancer's 404 body: {response.text[:160]}")
    return "404 not_found"


def _served_get(target: Target, path: str) -> str:
    response = target.http.get(path, headers=target.auth())
    ensure(response.status_code == 200, f"HTTP {response.status_code}: {response.text[:160]}")
    return "200"


def _served_post(target: Target, path: str) -> str:
    env = target.environment
    if path.endswith("embeddings"):
        body = {"model": env.aliases("embedding")[0], "input": "ping", "encoding_format": "float"}
    elif path.endswith("chat/completions"):
        body = {
            "model": env.aliases("chat")[0],
            "messages": [{"role": "user", "content": "ping"}],
            "max_tokens": 8,
        }
    else:
        body = {"model": env.aliases("chat")[0], "prompt": "ping", "max_tokens": 8}
    response = target.http.post(path, json=body, headers=target.auth())
    ensure(response.status_code == 200, f"HTTP {response.status_code}: {response.text[:160]}")
    return "200"


def _admin_reachable(target: Target, path: str) -> str:
    response = require_admin(target).get(path, headers=target.auth())
    ensure(
        response.status_code == 200, f"admin entry {path}: HTTP {response.status_code}: {response.text[:160]}"
    )
    return "200 through the admin entry"


def _admin_entry_closed(target: Target, path: str) -> str:
    response = require_admin(target).post(path, headers=target.auth(), json={})
    ensure(
        response.status_code == 404 and response.text == routes.NOT_FOUND_BODY,
        f"admin entry {path}: HTTP {response.status_code} (want the 404): {response.text[:160]}",
    )
    return "404 through the admin entry too"


def _row(name: str, run, *args) -> Check:
    return Check(name=f"route {name}", run=lambda target: run(target, *args))


def rows() -> list[Check]:
    """The table: one check per row, in the order served, closed, unauthenticated, admin, admin entry."""
    table = routes.load()
    checks: list[Check] = []
    for path in table.served:
        if path in {"/v1/models", "/models", "/health/liveliness"}:
            checks.append(_row(f"served GET {path}", _served_get, path))
        else:
            checks.append(_row(f"served POST {path}", _served_post, path))
    closed = {path: "POST" for path in PASS_THROUGH_SAMPLES}
    closed.update({path: "GET" for path in family_samples(routes.CLOSED).values()})
    for path, method in closed.items():
        checks.append(_row(f"closed {method} {path}", _not_found, method, path))
    for path in table.unauthenticated:
        checks.append(_row(f"unauthenticated GET {path}", _not_found, "GET", path))
    admin = {path: f"admin GET {path}" for path in ADMIN_SAMPLES}
    for family, path in family_samples(routes.ADMIN).items():
        admin.setdefault(path, f"admin GET {path} ({family})")
    for path, name in admin.items():
        if path not in table.unauthenticated:
            checks.append(_row(name, _not_found, "GET", path))
    checks.append(_row("admin entry GET /model/info", _admin_reachable, "/model/info"))
    checks.append(_row("admin entry POST /bedrock/…/converse", _admin_entry_closed, PASS_THROUGH_SAMPLES[0]))
    return checks
