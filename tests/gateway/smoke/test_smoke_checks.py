"""Checks judge a gateway's answers correctly: tested against a fake gateway (httpx MockTransport)."""

from __future__ import annotations

import dataclasses
import json

import httpx
import openai
import pytest

from gateway.devstack.catalogue import load_environment
from gateway.smoke.checks import all_checks, cache, database, errors, limits, resilience, service, tracing
from gateway.smoke.checks.common import openai_error
from gateway.smoke.runner import CheckFailed, Skip
from gateway.smoke.target import LocalExtras, Target

NO_DB = "no_db_connection"


def _target(handler, *, local: LocalExtras | None = None) -> Target:
    target = Target(
        url="http://gateway.test", key="sk-test", environment=load_environment("dev"), local=local
    )
    target.http = httpx.Client(base_url=target.url, transport=httpx.MockTransport(handler))
    if local is not None:  # the admin entry answers from the same fake
        target._admin = httpx.Client(base_url=local.admin_url, transport=httpx.MockTransport(handler))
    return target


def _local(database: bool) -> LocalExtras:
    return LocalExtras(
        emulator_url="http://emulator.test",
        phoenix_url="http://phoenix.test",
        phoenix_project="p",
        database_enabled=database,
        database_skip_reason="" if database else "no prisma engines",
        admin_url="http://admin.test",
    )


def _error(status: int, message: str, kind: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"message": message, "type": kind, "code": str(status)}})


def test_an_openai_style_error_body_is_accepted():
    error = openai_error(_error(401, "Authentication Error", "auth_error"), {401})
    assert error["message"] == "Authentication Error"


@pytest.mark.parametrize(
    ("response", "complaint"),
    [
        (httpx.Response(500, text="Internal Server Error"), "expected HTTP 401, got 500"),
        (httpx.Response(401, text="denied"), "not JSON"),
        (httpx.Response(401, json={"detail": "denied"}), "no OpenAI-style `error` object"),
        (httpx.Response(401, json={"error": {"message": " ", "type": "x"}}), "has no message"),
    ],
)
def test_anything_else_is_a_failure(response, complaint):
    with pytest.raises(CheckFailed, match=complaint):
        openai_error(response, {401})


def test_no_key_passes_only_on_401():
    assert errors.no_key_401(
        _target(lambda r: _error(401, "No api key passed in.", "auth_error"))
    ).startswith("401")
    with pytest.raises(CheckFailed, match="got 500"):
        errors.no_key_401(_target(lambda r: httpx.Response(500, text="Internal Server Error")))


def test_the_no_key_request_carries_no_authorization_header():
    seen = {}

    def handler(request):
        seen["auth"] = request.headers.get("authorization")
        return _error(401, "No api key passed in.", "auth_error")

    errors.no_key_401(_target(handler))
    assert seen["auth"] is None


def test_a_wrong_key_refused_for_lack_of_a_database_is_a_skip_only_locally_without_one():
    no_db = lambda r: _error(400, "No connected db.", NO_DB)  # noqa: E731
    with pytest.raises(Skip, match="needs the database"):
        errors.wrong_key_401(_target(no_db, local=_local(database=False)))
    with pytest.raises(CheckFailed, match="got 400"):
        errors.wrong_key_401(_target(no_db, local=_local(database=True)))
    with pytest.raises(CheckFailed, match="got 400"):
        errors.wrong_key_401(_target(no_db))  # a deployed gateway must have its database


def test_a_wrong_key_that_is_accepted_fails_even_without_a_database():
    answered = lambda r: httpx.Response(200, json={"choices": []})  # noqa: E731
    with pytest.raises(CheckFailed, match="got 200"):
        errors.wrong_key_401(_target(answered, local=_local(database=False)))


def test_unknown_model_accepts_litellms_400_and_openais_404_but_not_a_500():
    assert errors.unknown_model_4xx(
        _target(lambda r: _error(404, "model_not_found", "invalid_request_error"))
    )
    assert errors.unknown_model_4xx(
        _target(lambda r: _error(400, "Invalid model name", "invalid_request_error"))
    )
    with pytest.raises(CheckFailed):
        errors.unknown_model_4xx(_target(lambda r: _error(500, "boom", "internal")))


def test_malformed_json_is_sent_as_broken_json():
    seen = {}

    def handler(request):
        seen["body"] = request.content
        return _error(400, "Invalid JSON payload", "invalid_request_error")

    errors.malformed_json_400(_target(handler))
    with pytest.raises(json.JSONDecodeError):
        json.loads(seen["body"])


def test_readiness_must_say_healthy_through_the_admin_entry():
    seen = []

    def healthy(request):
        seen.append(str(request.url))
        return httpx.Response(200, json={"status": "healthy", "db": "Not connected"})

    assert "status=healthy" in service.health_readiness(_target(healthy, local=_local(database=True)))
    assert seen == ["http://admin.test/health/readiness"]
    starting = lambda r: httpx.Response(200, json={"status": "unhealthy"})  # noqa: E731
    with pytest.raises(CheckFailed, match="unhealthy"):
        service.health_readiness(_target(starting, local=_local(database=True)))


def test_admin_route_checks_skip_against_a_deployed_gateway_with_the_reason():
    deployed = _target(lambda r: httpx.Response(200, json={"status": "healthy"}))
    with pytest.raises(Skip, match="not reachable through the public entry"):
        service.health_readiness(deployed)
    with pytest.raises(Skip, match="not reachable through the public entry"):
        limits.key_rpm_limit(deployed)


def test_local_only_checks_skip_against_a_deployed_gateway_with_the_reason():
    deployed = _target(lambda r: httpx.Response(500))
    with pytest.raises(Skip, match="local stack only"):
        resilience.throttled_model_recovers(deployed)
    with pytest.raises(Skip, match="local stack only"):
        tracing.trace_in_phoenix(deployed)


def test_the_rate_limit_check_skips_with_the_database_reason_locally_without_one():
    with pytest.raises(Skip, match="no prisma engines"):
        limits.key_rpm_limit(_target(lambda r: httpx.Response(500), local=_local(database=False)))


@pytest.mark.parametrize(
    "check",
    [limits.revoked_key_401, limits.key_budget_exhausted, database.database_outage_fails_closed_and_recovers],
)
def test_the_database_checks_skip_with_the_database_reason_locally_without_one(check):
    with pytest.raises(Skip, match="no prisma engines"):
        check(_target(lambda r: httpx.Response(500), local=_local(database=False)))


def test_the_database_outage_check_runs_only_against_the_local_stack():
    with pytest.raises(Skip, match="local stack only"):
        database.database_outage_fails_closed_and_recovers(_target(lambda r: httpx.Response(500)))


def test_a_gateway_whose_key_generation_has_no_database_skips_the_rate_limit_check_with_its_answer():
    no_db = lambda r: _error(500, "No connected db.", NO_DB)  # noqa: E731
    with pytest.raises(Skip, match="No connected db"):
        limits.key_rpm_limit(_target(no_db, local=_local(database=True)))


def test_phoenix_attributes_are_compared_dotted_whether_nested_or_flat():
    nested = {"llm": {"token_count": {"prompt": 3, "completion": 4}}, "input.value": "x"}
    assert tracing._flatten(nested) == {
        "llm.token_count.prompt": 3,
        "llm.token_count.completion": 4,
        "input.value": "x",
    }


def test_every_chat_alias_gets_its_own_check():
    names = [check.name for check in all_checks(_target(lambda r: httpx.Response(500)))]
    for alias in load_environment("dev").aliases("chat"):
        assert f"chat[{alias}]" in names
    assert len(names) == len(set(names))


def _chat_gateway(hits_from: int | None):
    """A fake gateway answering the same chat; from request number `hits_from` on, as a cache hit."""
    seen = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["n"] += 1
        body = {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": "nova-pro",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "same"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14},
        }
        hit = hits_from is not None and seen["n"] >= hits_from
        return httpx.Response(200, json=body, headers={cache.CACHE_KEY_HEADER: "k" * 40} if hit else {})

    return handler


def _fake_gateway_target(monkeypatch, handler, model_calls: list[int]) -> Target:
    target = _target(handler, local=_local(database=False))
    client = openai.OpenAI(
        base_url=f"{target.url}/v1",
        api_key="sk-test",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    monkeypatch.setattr(target, "client", lambda key=None: client)
    counts = iter(model_calls)
    monkeypatch.setattr(cache, "model_calls", lambda _target: next(counts))
    monkeypatch.setattr(cache, "REPEAT_PAUSE", 0)
    return target


def test_a_repeat_served_from_the_cache_without_a_model_call_passes(monkeypatch):
    target = _fake_gateway_target(monkeypatch, _chat_gateway(hits_from=2), model_calls=[7, 7])
    assert "model calls unchanged by the hit (7)" in cache.repeated_request_cached(target)


def test_a_cache_write_that_lands_after_the_first_repeat_is_found_on_a_later_one(monkeypatch):
    target = _fake_gateway_target(monkeypatch, _chat_gateway(hits_from=3), model_calls=[7, 8, 8, 8])
    assert "hit on repeat 2" in cache.repeated_request_cached(target)


def test_repeats_that_are_never_cache_hits_fail(monkeypatch):
    target = _fake_gateway_target(monkeypatch, _chat_gateway(hits_from=None), model_calls=list(range(20)))
    with pytest.raises(CheckFailed, match="not served from the cache"):
        cache.repeated_request_cached(target)


def test_a_cache_hit_that_still_called_the_model_fails(monkeypatch):
    target = _fake_gateway_target(monkeypatch, _chat_gateway(hits_from=2), model_calls=[7, 8])
    with pytest.raises(CheckFailed, match="called the emulator anyway"):
        cache.repeated_request_cached(target)


def test_a_first_request_that_is_already_a_hit_fails_as_a_non_unique_nonce(monkeypatch):
    target = _fake_gateway_target(monkeypatch, _chat_gateway(hits_from=1), model_calls=[7, 7])
    with pytest.raises(CheckFailed, match="nonce is not unique"):
        cache.repeated_request_cached(target)


def _phoenix_spans(spans: list[dict]):
    """Phoenix's span listing, with its trace_id filter; one page."""

    def get(url, params=None, **_kwargs):
        wanted = (params or {}).get("trace_id")
        data = [span for span in spans if wanted is None or span["context"]["trace_id"] == wanted]
        return httpx.Response(
            200, json={"data": data, "next_cursor": None}, request=httpx.Request("GET", url)
        )

    return get


def _span(name: str, kind: str, trace: str = "t1", **attributes) -> dict:
    return {"name": name, "span_kind": kind, "context": {"trace_id": trace}, "attributes": attributes}


def _model_call(trace: str = "t1") -> dict:
    tokens = {"token_count": {"prompt": 5, "completion": 9}}
    return _span("acompletion nova-pro", "LLM", trace, input={"value": "trace-marker"}, llm=tokens)


def _trace_target(monkeypatch, spans: list[dict]) -> Target:
    target = _fake_gateway_target(monkeypatch, _chat_gateway(hits_from=None), model_calls=[])
    monkeypatch.setattr(target, "nonce", lambda label: "trace-marker")
    monkeypatch.setattr(tracing.httpx, "get", _phoenix_spans(spans))
    monkeypatch.setattr(tracing, "TRACE_TIMEOUT", 0.05)
    monkeypatch.setattr(tracing, "_traceparent", lambda: ("t1", {"traceparent": "00-t1-s1-01"}))
    return target


def test_a_trace_without_token_counts_fails_naming_the_spans_that_carried_the_request(monkeypatch):
    guardrail_only = _span("guardrail pre_call", "GUARDRAIL", input={"value": "trace-marker"})
    target = _trace_target(monkeypatch, [guardrail_only])
    marked = "missing: the model call .*in the request's trace t1: 'guardrail pre_call'; newest: 'guardrail"
    with pytest.raises(CheckFailed, match=marked):
        tracing.trace_in_phoenix(target)


def test_a_whole_trace_with_the_model_calls_token_counts_passes(monkeypatch):
    spans = [
        _span("request nova-pro", "CHAIN"),
        _span("guardrail bedrock-guardrail pre_call", "GUARDRAIL"),
        _span("guardrail bedrock-guardrail post_call", "GUARDRAIL"),
        _model_call(),
    ]
    detail = tracing.trace_in_phoenix(_trace_target(monkeypatch, spans))
    assert "1 request, 2 guardrail and 1 model-call span(s)" in detail
    assert "5 prompt + 9 completion tokens" in detail


def test_a_model_call_without_its_guardrail_runs_fails(monkeypatch):
    target = _trace_target(monkeypatch, [_span("request nova-pro", "CHAIN"), _model_call()])
    with pytest.raises(CheckFailed, match="missing: GUARDRAIL"):
        tracing.trace_in_phoenix(target)


def test_guardrail_runs_of_another_trace_do_not_count(monkeypatch):
    spans = [_span("request nova-pro", "CHAIN"), _span("guardrail", "GUARDRAIL", "t2"), _model_call()]
    with pytest.raises(CheckFailed, match="missing: GUARDRAIL"):
        tracing.trace_in_phoenix(_trace_target(monkeypatch, spans))


# ---------------------------------------------------------------- trace content withheld
def _withheld_target(monkeypatch, spans: list[dict], *, trace_content: bool = False) -> Target:
    """A fake gateway (refusing the prompt attack with 400) and Phoenix; trace ids t1, t2, t3 in order."""

    def handler(request: httpx.Request) -> httpx.Response:
        prompt = json.loads(request.content)["messages"][0]["content"]
        if "Ignore all previous instructions" in prompt:
            return _error(400, "Violated guardrail policy", "invalid_request_error")
        return _chat_gateway(hits_from=None)(request)

    target = _fake_gateway_target(monkeypatch, handler, model_calls=[])
    target.local = dataclasses.replace(target.local, trace_content=trace_content)
    monkeypatch.setattr(target, "nonce", lambda label: "withheld-marker")
    monkeypatch.setattr(tracing.httpx, "get", _phoenix_spans(spans))
    monkeypatch.setattr(tracing, "TRACE_TIMEOUT", 0.05)
    ids = iter(["t1", "t2", "t3"])
    monkeypatch.setattr(
        tracing, "_traceparent", lambda: (trace := next(ids), {"traceparent": f"00-{trace}-s-01"})
    )
    return target


def _withheld_traces(**leaks) -> list[dict]:
    """Request and model-call spans for the three requests; `leaks` adds attributes to trace t<n>'s call."""
    spans = []
    for trace in ("t1", "t2", "t3"):
        spans += [_span("request nova-pro", "CHAIN", trace), _model_call(trace)]
        spans[-1]["attributes"].pop("input")
        spans[-1]["attributes"].update(leaks.get(trace, {}))
    return spans


def test_traces_without_the_prompts_marker_pass(monkeypatch):
    detail = tracing.trace_content_withheld(_withheld_target(monkeypatch, _withheld_traces()))
    assert "marker in none of the 6 spans" in detail and "5+9 tokens" in detail


@pytest.mark.parametrize(
    "leak",
    [{"input": {"value": "Repeat after me: withheld-marker"}}, {"exception": "BadRequest withheld-marker"}],
)
def test_a_marker_anywhere_in_a_span_fails_naming_the_span(monkeypatch, leak):
    target = _withheld_target(monkeypatch, _withheld_traces(t3=leak))
    with pytest.raises(
        CheckFailed, match=r"'withheld-marker' is in 1 span.*'acompletion nova-pro' \(trace t3\)"
    ):
        tracing.trace_content_withheld(target)


def test_a_request_missing_from_phoenix_fails(monkeypatch):
    spans = [span for span in _withheld_traces() if span["context"]["trace_id"] != "t2"]
    with pytest.raises(CheckFailed, match="masked: 0 span"):
        tracing.trace_content_withheld(_withheld_target(monkeypatch, spans))


def test_an_answered_prompt_attack_fails(monkeypatch):
    target = _withheld_target(monkeypatch, _withheld_traces())
    monkeypatch.setattr(tracing, "PROMPT_ATTACK", "harmless")
    with pytest.raises(CheckFailed, match="prompt attack was answered"):
        tracing.trace_content_withheld(target)


def test_a_stack_that_records_content_skips_with_the_reason(monkeypatch):
    target = _withheld_target(monkeypatch, _withheld_traces(), trace_content=True)
    with pytest.raises(Skip, match="GATEWAY_TRACE_CONTENT=true"):
        tracing.trace_content_withheld(target)
