"""Bad requests get the right 4xx with an OpenAI-style error body, and the gateway keeps serving."""

from __future__ import annotations

import secrets

from gateway.smoke.checks.common import chat_text, ensure, openai_error
from gateway.smoke.runner import Skip
from gateway.smoke.target import Target

COMPLETIONS = "/v1/chat/completions"


def _alias(target: Target) -> str:
    aliases = target.environment.aliases("chat")
    if not aliases:
        raise Skip("the catalogue has no chat alias")
    return aliases[0]


def _body(target: Target) -> dict:
    return {"model": _alias(target), "messages": [{"role": "user", "content": "hello"}]}


def no_key_401(target: Target) -> str:
    response = target.http.post(COMPLETIONS, json=_body(target))
    error = openai_error(response, {401})
    return f"401: {error['message'][:80]}"


def wrong_key_401(target: Target) -> str:
    # Shaped like a real key, so the proxy must look it up rather than reject its format.
    wrong = "sk-" + secrets.token_urlsafe(24)
    response = target.http.post(COMPLETIONS, json=_body(target), headers=target.auth(wrong))
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
    body = {"model": _alias(target)}
    response = target.http.post(COMPLETIONS, json=body, headers=target.auth())
    error = openai_error(response, {400, 422})
    return f"{response.status_code}: {error['message'][:80]}"


def still_serving(target: Target) -> str:
    """After every bad request above, a good one still works."""
    alias = _alias(target)
    _, text = chat_text(target, alias, f"Are you still there? ({target.nonce('alive')})")
    ensure(text.strip(), f"{alias}: empty answer after the bad requests")
    return f"{alias} answered after the bad requests"
