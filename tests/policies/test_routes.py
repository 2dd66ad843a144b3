"""policies/routes.yaml classifies every route the pinned LiteLLM serves; docs/gateway.md shows the same.

The route list comes from LiteLLM's own app (every lazily registered feature
router loaded, mounted sub-apps walked), so an upgrade that adds a route fails
here, naming it, until routes.yaml gives it a class.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from policies import routes

ROOT = Path(__file__).resolve().parents[2]
SERVED = {
    "/v1/chat/completions",
    "/chat/completions",
    "/v1/completions",
    "/completions",
    "/v1/embeddings",
    "/embeddings",
    "/v1/models",
    "/models",
    "/health/liveliness",
}
UNAUTHENTICATED = {
    "/routes",
    "/sso/key/generate",
    "/.well-known/litellm-ui-config",
    "/public/providers",
    "/public/model_hub",
    "/fallback/login",
    "/get_image",
}


def _walk(route_list, prefix: str = "") -> set[str]:
    from fastapi.routing import iter_route_contexts
    from starlette.routing import Mount

    found: set[str] = set()
    for context in iter_route_contexts(route_list):
        route = context.original_route
        if isinstance(route, Mount):
            found.add(prefix + route.path)  # a static or ASGI mount answers below its path
            found |= _walk(getattr(route.app, "routes", None) or [], prefix + route.path)
        else:
            found.add(prefix + str(context.path))
    return found


@pytest.fixture(scope="module")
def litellm_app():
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no cost-map download on import
    pytest.importorskip("litellm.proxy.proxy_server")  # the dev venv has it; a slow import (~10 s)
    from litellm.proxy import _lazy_features
    from litellm.proxy.proxy_server import app

    # What LITELLM_DISABLE_LAZY_ROUTES does at start-up: every on-first-request feature registered now.
    _lazy_features.register_all_features(app)
    return app


@pytest.fixture(scope="module")
def litellm_paths(litellm_app) -> set[str]:
    paths = _walk(litellm_app.routes)
    assert len(paths) > 500, f"only {len(paths)} routes found: the walk missed LiteLLM's routers"
    return paths


def _unclassified(table: routes.Routes, paths: set[str]) -> list[str]:
    return sorted(p for p in paths if table.match(p) is None)


def test_every_litellm_route_matches_an_explicit_entry(litellm_paths):
    unclassified = _unclassified(routes.load(), litellm_paths)
    assert not unclassified, (
        f"{len(unclassified)} LiteLLM routes match no entry of policies/routes.yaml; give each a class "
        f"(served, admin or closed) and a reason: {unclassified}"
    )


def test_a_family_missing_from_the_file_leaves_its_routes_unclassified(litellm_paths):
    data = _data()
    data["closed"] = [f for f in data["closed"] if f["family"] != "MCP and OAuth"]
    unclassified = _unclassified(routes.parse(data), litellm_paths)
    assert "/mcp/sse" in unclassified and "/v1/mcp/server" in unclassified
    assert routes.parse(data).classify("/mcp/sse") == routes.CLOSED  # still closed at run time


def test_every_served_path_is_a_litellm_route(litellm_paths):
    stale = sorted(set(routes.served_paths()) - litellm_paths)
    assert not stale, f"served paths LiteLLM does not serve (stale entries in policies/routes.yaml): {stale}"


def test_served_is_exactly_the_openai_routes_and_liveliness():
    assert set(routes.served_paths()) == SERVED


def test_every_lazy_pass_through_prefix_of_litellm_is_closed(litellm_app):
    from litellm.proxy._lazy_features import LAZY_FEATURES

    (feature,) = [f for f in LAZY_FEATURES if f.name == "llm_passthrough"]
    sample = {prefix.rstrip("/") + "/any/thing" for prefix in feature.path_prefixes}
    assert sample and {p: routes.classify(p) for p in sample} == dict.fromkeys(sample, routes.CLOSED)


def test_each_unauthenticated_route_is_kept_off_the_public_entry_with_a_reason():
    table = routes.load()
    assert set(table.unauthenticated) == UNAUTHENTICATED
    for path, reason in table.unauthenticated.items():
        assert table.classify(path) in {routes.ADMIN, routes.CLOSED} and len(reason) > 30, path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/chat/completions", routes.SERVED),
        ("/V1/chat/completions", routes.CLOSED),  # case-sensitive, as ALB path patterns are
        ("/v1/chat/completions/", routes.CLOSED),
        ("/v1/models/nova-pro", routes.CLOSED),
        ("/models/nova-pro:generateContent", routes.CLOSED),
        ("/bedrock/model/nova-pro/converse", routes.CLOSED),
        ("/openai/deployments/x/chat/completions", routes.CLOSED),
        ("/not/a/litellm/route", routes.CLOSED),
        ("/key/generate", routes.ADMIN),
        ("/health/readiness", routes.ADMIN),
        ("/health", routes.ADMIN),
        ("/ui/", routes.ADMIN),
        ("/fallback/login", routes.ADMIN),  # the longer admin entry beats the closed /fallback/*
        ("/fallback/nova-pro", routes.CLOSED),
    ],
)
def test_classify(path, expected):
    assert routes.classify(path) == expected


def test_alb_rules_hold_at_most_five_paths_each_and_cover_served():
    groups = routes.alb_path_groups()
    assert all(0 < len(g) <= routes.ALB_MAX_VALUES_PER_RULE for g in groups)
    assert [p for g in groups for p in g] == list(routes.served_paths())


def test_not_found_body_is_an_openai_error():
    import json

    error = json.loads(routes.NOT_FOUND_BODY)["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "not_found"
    assert error["param"] is None and error["message"]


def _data() -> dict:
    return yaml.safe_load(routes.ROUTES_FILE.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["served"]["paths"].append("/v1/*"), "served.paths[9]: '/v1/*' has a wildcard"),
        (lambda d: d["admin"][0]["patterns"].append("key/*"), "admin[0].patterns[2]: 'key/*' is not a path"),
        (lambda d: d["closed"][0]["patterns"].append("/key/*"), "closed[0]: /key/* is listed twice"),
        (lambda d: d["admin"][0].pop("reason"), "admin[0]: "),
        (lambda d: d.update(servd={}), "servd: unknown key"),
        (lambda d: d["unauthenticated"].append({"path": "/models", "reason": "x"}), "/models is served"),
    ],
)
def test_malformed_file_names_file_field_and_what_is_allowed(change, message, tmp_path):
    data = _data()
    change(data)
    with pytest.raises(routes.RoutesError) as err:
        routes.parse(data, tmp_path / "routes.yaml")
    assert str(err.value).startswith(str(tmp_path / "routes.yaml")) and message in str(err.value)
    assert "allowed:" in str(err.value)


def test_docs_show_the_classification_as_routes_yaml_has_it():
    docs = (ROOT / "docs" / "gateway.md").read_text(encoding="utf-8")
    assert routes.markdown() in docs, (
        "docs/gateway.md's Routes tables differ from policies/routes.yaml: "
        "paste the output of `python -m policies.routes`"
    )
