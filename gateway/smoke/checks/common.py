"""Assertions the checks share: what an OpenAI-style answer and error look like."""

from __future__ import annotations

from collections.abc import Collection

import httpx

from gateway.smoke.runner import CheckFailed, Skip
from gateway.smoke.target import Target


def ensure(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def openai_error(response: httpx.Response, statuses: Collection[int]) -> dict:
    """Assert the status and the OpenAI error shape `{"error": {"message": …, "type"/"code": …}}`."""
    body_text = response.text[:300]
    ensure(
        response.status_code in statuses,
        f"expected HTTP {'/'.join(map(str, sorted(statuses)))}, got {response.status_code}: {body_text}",
    )
    try:
        body = response.json()
    except ValueError:
        raise CheckFailed(f"HTTP {response.status_code} body is not JSON: {body_text}") from None
    error = body.get("error") if isinstance(body, dict) else None
    ensure(isinstance(error, dict), f"no OpenAI-style `error` object in the body: {body_text}")
    ensure(
        isinstance(error.get("message"), str) and error["message"].strip(),
        f"the error has no message: {body_text}",
    )
    ensure("type" in error or "code" in error, f"the error has neither `type` nor `code`: {body_text}")
    return error


def first_alias(target: Target, mode: str = "chat") -> str:
    """The catalogue's first alias of `mode` (chat, embedding); a check that needs one skips without it."""
    aliases = target.environment.aliases(mode)
    if not aliases:
        raise Skip(f"the catalogue has no {mode} alias")
    return aliases[0]


def chat_text(target: Target, alias: str, prompt: str, *, max_tokens: int = 64):
    """One non-streamed chat completion through the SDK; returns (response, text)."""
    response = target.client().chat.completions.create(
        model=alias, messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens
    )
    ensure(response.choices, f"{alias}: no choices in the response")
    text = response.choices[0].message.content or ""
    return response, text


def require_admin(target: Target) -> httpx.Client:
    """The admin entry's client; a deployed gateway's public URL has none, so admin checks skip there."""
    admin = target.admin_http()
    if admin is None:
        raise Skip(
            "admin routes are not reachable through the public entry (policies/routes.yaml); in AWS they "
            "are called from a one-off ECS task inside the VPC (docs/gateway.md, Routes)"
        )
    return admin


def require_local(target: Target, why: str):
    if target.local is None:
        raise Skip(f"local stack only: {why}")
    return target.local
