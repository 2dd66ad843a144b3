"""One in-process Bedrock emulator per test session, shared by the emulator's and the hooks' tests."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from gateway.emulator.server import RunningEmulator, start_emulator
from gateway.emulator.sigv4 import Credentials

EMULATOR_REGION = "us-east-1"


@pytest.fixture(scope="session")
def credentials() -> Credentials:
    """Generated per run: nothing shaped like a real key is committed."""
    return Credentials("AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))


@pytest.fixture(scope="session")
def running(credentials: Credentials) -> Iterator[RunningEmulator]:
    emulator = start_emulator(credentials, region=EMULATOR_REGION)
    try:
        yield emulator
    finally:
        emulator.stop()
