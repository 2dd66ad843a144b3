"""The database decision: on only where Prisma's engines answer, otherwise off with a reason."""

from __future__ import annotations

import sys

from gateway.devstack import database_mode
from gateway.devstack.supervisor import Supervisor


def _probe_with(tmp_path, code: str, timeout: float = 10):
    with Supervisor(tmp_path) as sup:
        probe = sup.start("prisma-probe", [sys.executable, "-c", code])
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


def test_on_when_the_probe_succeeds(tmp_path):
    mode = _probe_with(tmp_path, "print('prisma : 5.17.0')")
    assert mode.enabled


def test_off_naming_the_unreachable_host_when_the_download_fails(tmp_path):
    failing = (
        "import sys; print('Error: request to https://binaries.prisma.sh/all_commits/x/query-engine.gz "
        "failed, reason: getaddrinfo ENOTFOUND binaries.prisma.sh'); sys.exit(1)"
    )
    mode = _probe_with(tmp_path, failing)
    assert not mode.enabled
    assert "cannot download them from binaries.prisma.sh" in mode.reason


def test_off_when_the_probe_hangs_and_the_probe_is_stopped(tmp_path):
    with Supervisor(tmp_path) as sup:
        probe = sup.start("prisma-probe", [sys.executable, "-c", "import time; time.sleep(300)"])
        mode = database_mode.finish_probe(sup, probe, timeout=0.5)
        assert not probe.alive()
    assert not mode.enabled and "did not finish in" in mode.reason
