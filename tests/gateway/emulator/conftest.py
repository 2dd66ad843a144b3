"""Fixtures: the shared in-process emulator (tests/gateway/conftest.py), reset before each test."""

from __future__ import annotations

import pytest
from emulator_http import Reply, signed_post

from gateway.emulator.server import RunningEmulator
from gateway.emulator.sigv4 import Credentials


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
