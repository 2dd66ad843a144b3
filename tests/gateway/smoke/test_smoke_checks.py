"""Checks judge a gateway's answers correctly: tested against a fake gateway (httpx MockTransport)."""

from __future__ import annotations

import json

import httpx
import pytest

from gateway.devstack.catalogue import load_environment
from gateway.smoke.checks import all_checks, errors, limits, resilience, service, tracing
from gateway.smoke.checks.common import openai_error
from gateway.smoke.runner import CheckFailed, Skip
from gateway.smoke.target import LocalExtras, Target

NO_DB = "no_db_connection"


def _target(handler, *, local: LocalExtras | None = None) -> Target:
    target = Target(
        url="http://gateway.test", key="sk-test", environment=load_environment("dev"), local=local
    )
    target.http = httpx.Client(base_url=target.url, transport=httpx.MockTransport(handler))
    return target


def _local(database: bool) -> LocalExtras:
    return LocalExtras(
        emulator_url="http://emulator.test",
        phoenix_url="http://phoenix.test",
        phoenix_project="p",
        database_enabled=database,
        database_skip_reason="" if database else "no prisma engines",
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


def test_readiness_must_say_healthy():
    healthy = lambda r: httpx.Response(200, json={"status": "healthy", "db": "Not connected"})  # noqa: E731
    assert "status=healthy" in service.health_readiness(_target(healthy))
    starting = lambda r: httpx.Response(200, json={"status": "unhealthy"})  # noqa: E731
    with pytest.raises(CheckFailed, match="unhealthy"):
        service.health_readiness(_target(starting))


def test_local_only_checks_skip_against_a_deployed_gateway_with_the_reason():
    deployed = _target(lambda r: httpx.Response(500))
    with pytest.raises(Skip, match="local stack only"):
        resilience.throttled_model_recovers(deployed)
    with pytest.raises(Skip, match="local stack only"):
        tracing.trace_in_phoenix(deployed)


def test_the_rate_limit_check_skips_with_the_database_reason_locally_without_one():
    with pytest.raises(Skip, match="no prisma engines"):
        limits.key_rpm_limit(_target(lambda r: httpx.Response(500), local=_local(database=False)))


def test_a_deployed_gateway_without_a_database_skips_the_rate_limit_check_with_its_answer():
    no_db = lambda r: _error(500, "No connected db.", NO_DB)  # noqa: E731
    with pytest.raises(Skip, match="No connected db"):
        limits.key_rpm_limit(_target(no_db))


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
