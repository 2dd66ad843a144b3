"""The shared emulator (tests/gateway/conftest.py), reset, and the environment LiteLLM's guardrail reads."""

from __future__ import annotations

import pytest

from gateway.emulator.server import RunningEmulator
from gateway.emulator.sigv4 import Credentials

REGION = "us-east-1"


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
