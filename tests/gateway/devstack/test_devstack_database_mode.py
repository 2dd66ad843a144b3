"""The database decision: on where the Prisma engine server can run and the client is generated,
otherwise off with a reason that says what to do."""

from __future__ import annotations

import sys

from gateway import prisma_engine
from gateway.devstack import database_mode
from gateway.devstack.supervisor import Supervisor


def _probe_with(tmp_path, code: str, timeout: float = 10):
    with Supervisor(tmp_path) as sup:
        probe = sup.start("prisma-generate", [sys.executable, "-c", code])
        return database_mode.finish_probe(sup, probe, timeout=timeout)


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("DEVSTACK_DATABASE", "off")
    mode = database_mode.precheck()
    assert mode is not None and not mode.enabled and "DEVSTACK_DATABASE" in mode.reason


def test_off_without_the_prisma_package(monkeypatch):
    monkeypatch.delenv("DEVSTACK_DATABASE", raising=False)
    monkeypatch.setattr(database_mode.importlib.util, "find_spec", lambda name: None)
    mode = database_mode.precheck()
    assert mode is not None and not mode.enabled and "`prisma` package" in mode.reason


def test_off_without_node_saying_what_the_engine_server_needs(monkeypatch):
    monkeypatch.delenv("DEVSTACK_DATABASE", raising=False)
    monkeypatch.setattr(prisma_engine.shutil, "which", lambda name: None)
    mode = database_mode.precheck()
    assert mode is not None and not mode.enabled and "Node.js 20+ is not on PATH" in mode.reason


def test_off_without_the_engine_servers_npm_packages_naming_the_install_command(monkeypatch, tmp_path):
    monkeypatch.delenv("DEVSTACK_DATABASE", raising=False)
    monkeypatch.setattr(prisma_engine, "ROOT", tmp_path)
    mode = database_mode.precheck()
    assert mode is not None and not mode.enabled
    assert prisma_engine.INSTALL_COMMAND in mode.reason


def test_on_when_the_client_is_generated(tmp_path):
    mode = _probe_with(tmp_path, "print('Prisma client already generated for this schema and engine')")
    assert mode.enabled and "WebAssembly" in mode.reason


def test_off_with_generates_last_words_when_generation_fails(tmp_path):
    failing = (
        "import sys; print('prisma generate failed (1):', file=sys.stderr); print('Error: boom'); sys.exit(1)"
    )
    mode = _probe_with(tmp_path, failing)
    assert not mode.enabled
    assert mode.reason.startswith("the Prisma client could not be generated") and "boom" in mode.reason


def test_off_when_generation_hangs_and_the_generator_is_stopped(tmp_path):
    with Supervisor(tmp_path) as sup:
        probe = sup.start("prisma-generate", [sys.executable, "-c", "import time; time.sleep(300)"])
        mode = database_mode.finish_probe(sup, probe, timeout=0.5)
        assert not probe.alive()
    assert not mode.enabled and "did not finish in" in mode.reason
