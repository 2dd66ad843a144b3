"""One in-process moto server (with the project's extensions) shared by these tests, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.aws_emulator import EmulatorServer


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    server = EmulatorServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> EmulatorServer:
    emulator_server.reset()
    return emulator_server
