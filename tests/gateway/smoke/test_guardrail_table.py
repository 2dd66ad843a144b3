"""The guardrail table covers every served model route, with the rows each route admits."""

from __future__ import annotations

from gateway.request_validation import MODEL_ROUTES
from gateway.smoke.checks.guardrail_table import CASES, ROUTES, rows
from policies.routes import SERVED, classify, served_paths

NOT_MODEL_ROUTES = {"/v1/models", "/models", "/health/liveliness"}


def test_every_served_model_route_is_validated_and_guarded():
    served = set(served_paths()) - NOT_MODEL_ROUTES
    guarded_kinds = {MODEL_ROUTES[route.path] for route in ROUTES}

    assert served == set(MODEL_ROUTES), "request validation and the served classification disagree"
    assert {MODEL_ROUTES[path] for path in served} == guarded_kinds


def test_every_guarded_route_is_served():
    assert all(classify(route.path) == SERVED for route in ROUTES)


def test_streaming_routes_get_every_case_plain_and_streamed():
    names = [check.name for check in rows()]

    for case in CASES:
        assert f"guard[chat stream {case.name}]" in names
        assert f"guard[completions stream {case.name}]" in names


def test_embeddings_get_the_input_cases_only():
    names = {check.name for check in rows() if check.name.startswith("guard[embeddings")}

    assert names == {f"guard[embeddings plain {case.name}]" for case in CASES if not case.answers_only}
