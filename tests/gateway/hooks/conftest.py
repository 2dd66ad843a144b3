"""An in-process Bedrock emulator per session and the environment LiteLLM's guardrail reads."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from gateway.emulator.server import RunningEmulator, start_emulator
from gateway.emulator.sigv4 import Credentials

REGION = "us-east-1"


@pytest.fixture(scope="session")
def credentials() -> Credentials:
    """Generated per run: nothing shaped like a real key is committed."""
    return Credentials("AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))


@pytest.fixture(scope="session")
def running(credentials: Credentials) -> Iterator[RunningEmulator]:
    emulator = start_emulator(credentials, region=REGION)
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def emulator(running: RunningEmulator, credentials: Credentials, monkeypatch) -> RunningEmulator:
    """The emulator, reset, with the variables the local stack sets (AWS_BEDROCK_RUNTIME_ENDPOINT…)."""
    running.backend.reset()
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ROLE_NAME", "AWS_BEARER_TOKEN_BEDROCK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_BEDROCK_RUNTIME_ENDPOINT", running.url)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    return running
