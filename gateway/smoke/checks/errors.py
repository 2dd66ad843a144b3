"""Bad requests get the right 4xx with an OpenAI-style error body, and the gateway keeps serving."""

from __future__ import annotations

import secrets

from gateway.smoke.checks.common import chat_text, ensure, first_alias, openai_error
from gateway.smoke.runner import Skip
from gateway.smoke.target import Target

COMPLETIONS = "/v1/chat/completions"


def _body(target: Target) -> dict:
    return {"model": first_alias(target), "messages": [{"role": "user", "content": "hello"}]}


def no_key_401(target: Target) -> str:
    response = target.http.post(COMPLETIONS, json=_body(target))
    error = openai_error(response, {401})
    return f"401: {error['message'][:80]}"


def wrong_key_401(target: Target) -> str:
    """A key shaped like a real one (so it must be looked up) is refused with 401.

    Without its database LiteLLM 1.108.7 cannot look a key up and answers 400 `no_db_connection`:
    the request is still refused, but the 401 itself can only be proven where the database runs.
    """
    wrong = "sk-" + secrets.token_urlsafe(24)
    response = target.http.post(COMPLETIONS, json=_body(target), headers=target.auth(wrong))
    if response.status_code == 400 and target.local is not None and not target.local.database_enabled:
        error = openai_error(response, {400})
        ensure(error.get("type") == "no_db_connection", f"unexpected 400 for a wrong key: {error}")
        raise Skip(
            "refused, but with 400 no_db_connection: without its database LiteLLM answers every "
            f"non-master key so; the 401 needs the database ({target.local.database_skip_reason})"
        )
    error = openai_error(response, {401})
    return f"401: {error['message'][:80]}"


def malformed_json_400(target: Target) -> str:
    response = target.http.post(
        COMPLETIONS,
        content=b'{"model": "x", "messages": [',
        headers={**target.auth(), "Content-Type": "application/json"},
    )
    error = openai_error(response, {400})
    return f"400: {error['message'][:80]}"


def unknown_model_4xx(target: Target) -> str:
    """OpenAI answers 404 model_not_found; LiteLLM answers 400 invalid model name. Both tell the client."""
    body = {**_body(target), "model": f"no-such-model-{target.run_id}"}
    response = target.http.post(COMPLETIONS, json=body, headers=target.auth())
    error = openai_error(response, {400, 404})
    return f"{response.status_code}: {error['message'][:80]}"


def missing_messages_4xx(target: Target) -> str:
    body = {"model": first_alias(target)}
    response = target.http.post(COMPLETIONS, json=body, headers=target.auth())
    error = openai_error(response, {400, 422})
    return f"{response.status_code}: {error['message'][:80]}"


def still_serving(target: Target) -> str:
    """After every bad request above, a good one still works."""
    alias = first_alias(target)
    _, text = chat_text(target, alias, f"Are you still there? ({target.nonce('alive')})")
    ensure(text.strip(), f"{alias}: empty answer after the bad requests")
    return f"{alias} answered after the bad requests"
