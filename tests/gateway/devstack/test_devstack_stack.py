"""A service that fails to start fails the whole stack clearly, and takes nothing down with it but itself."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from gateway.devstack import LocalStack, StackError
from gateway.devstack.supervisor import live_members

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]


def test_a_service_that_dies_at_start_fails_the_stack_with_its_log_and_stops_the_rest(tmp_path, monkeypatch):
    for binary in ("initdb", "redis-server"):
        if not (shutil.which(binary) or Path("/usr/lib/postgresql/15/bin", binary).exists()):
            pytest.skip(f"{binary} is not installed (the stack installs it with apt-get when run as root)")
    broken = tmp_path / "bin"
    broken.mkdir()
    (broken / "phoenix").write_text(
        "#!/bin/sh\necho 'phoenix: cannot open the database: disk on fire' >&2\nexit 1\n"
    )
    (broken / "phoenix").chmod(0o755)
    monkeypatch.setenv("NOX_PHOENIX_BIN", str(broken))
    monkeypatch.setenv("DEVSTACK_DATABASE", "off")
    work = REPO / ".work" / "tests" / f"stack-{os.getpid()}"
    lines: list[str] = []
    stack = LocalStack(work_dir=work, log=lines.append)
    try:
        with pytest.raises(StackError) as err:
            stack.start()
        message = str(err.value)
        assert message.startswith("phoenix exited before it was ready")
        assert "disk on fire" in message  # the last lines of its log
        assert any("none left running" in line for line in lines)
        started = [stack.postgres, stack.redis, stack.emulator]  # they had started, and were stopped
        assert all(service is not None for service in started)
        assert live_members({service.child.pid for service in started}) == []
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)
