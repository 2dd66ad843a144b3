"""Fixtures: one in-process emulator per test session on a free port, reset before each test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from emulator_http import REGION, Reply, signed_post

from gateway.emulator.server import RunningEmulator, start_emulator
from gateway.emulator.sigv4 import Credentials


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
def emulator(running: RunningEmulator) -> RunningEmulator:
    running.backend.reset()
    return running


@pytest.fixture
def post(emulator: RunningEmulator, credentials: Credentials):
    """`post(path, payload)` signed with the emulator's credentials."""

    def _post(path: str, payload: object, **sign_kw) -> Reply:
        return signed_post(emulator, path, payload, credentials, **sign_kw)

    return _post
