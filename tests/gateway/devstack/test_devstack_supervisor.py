"""The supervisor leaves no process behind: after a stop, an exception, SIGINT or a plain exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gateway.devstack.supervisor import Supervisor, live_members

REPO = Path(__file__).resolve().parents[3]
# A child that forks a grandchild into its own process group, then sleeps: stopping must reach both.
PARENT_AND_GRANDCHILD = textwrap.dedent(
    """
    import subprocess, sys, time
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    print(f"grandchild {grandchild.pid}", flush=True)
    time.sleep(300)
    """
)
IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('up', flush=True); time.sleep(300)"
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for_line(log: Path, prefix: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists():
            for line in log.read_text().splitlines():
                if line.startswith(prefix):
                    return line
        time.sleep(0.05)
    raise AssertionError(f"{prefix!r} never appeared in {log}")


def test_child_output_goes_to_its_log_file(tmp_path):
    with Supervisor(tmp_path) as sup:
        child = sup.start("echo", [sys.executable, "-c", "print('hello from the child')"])
        child.process.wait(timeout=10)
    assert "hello from the child" in (tmp_path / "echo.log").read_text()
    assert child.tail(1) == "hello from the child"


def test_stop_reaches_the_whole_process_group(tmp_path):
    sup = Supervisor(tmp_path)
    child = sup.start("family", [sys.executable, "-c", PARENT_AND_GRANDCHILD])
    grandchild = int(_wait_for_line(child.log_path, "grandchild").split()[1])
    assert _alive(grandchild)
    sup.close()
    assert not _alive(child.pid)
    assert not _alive(grandchild)
    assert sup.survivors() == []


def test_a_child_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path):
    sup = Supervisor(tmp_path, grace_seconds=0.5)
    child = sup.start("stubborn", [sys.executable, "-c", IGNORES_SIGTERM])
    _wait_for_line(child.log_path, "up")
    began = time.monotonic()
    sup.close()
    assert child.process.returncode == -signal.SIGKILL
    assert time.monotonic() - began < 5


def test_all_children_are_stopped_at_once_not_one_after_another(tmp_path):
    slow_exit = (
        "import signal, sys, time; "
        "signal.signal(signal.SIGTERM, lambda *a: (time.sleep(1), sys.exit(0))); "
        "print('up', flush=True); time.sleep(300)"
    )
    sup = Supervisor(tmp_path)
    children = [sup.start(f"slow{i}", [sys.executable, "-c", slow_exit]) for i in range(3)]
    for child in children:
        _wait_for_line(child.log_path, "up")
    began = time.monotonic()
    sup.close()
    assert time.monotonic() - began < 2.5  # one after another would take 3 s or more
    assert all(child.process.returncode == 0 for child in children)


def test_an_exception_inside_the_with_block_stops_every_child(tmp_path):
    pids = []
    with pytest.raises(RuntimeError, match="boom"), Supervisor(tmp_path) as sup:
        pids.append(sup.start("sleeper", [sys.executable, "-c", "import time; time.sleep(300)"]).pid)
        raise RuntimeError("boom")
    assert pids and not _alive(pids[0])
    assert live_members(set(pids)) == []


def _owner_script(tmp_path: Path, ending: str) -> str:
    """A separate process owning a supervisor with one sleeping child, ending as `ending` says."""
    return textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from gateway.devstack.supervisor import Supervisor
        sup = Supervisor(Path({str(tmp_path)!r}))
        child = sup.start("sleeper", [sys.executable, "-c", "import time; time.sleep(300)"])
        print(child.pid, flush=True)
        {ending}
        """
    )


def test_sigint_to_the_owner_stops_every_child(tmp_path):
    owner = subprocess.Popen(
        [sys.executable, "-c", _owner_script(tmp_path, "time.sleep(300)")], stdout=subprocess.PIPE, text=True
    )
    child_pid = int(owner.stdout.readline())
    assert _alive(child_pid)
    owner.send_signal(signal.SIGINT)
    owner.wait(timeout=20)
    assert owner.returncode != 0  # KeyboardInterrupt propagates after the cleanup
    assert not _alive(child_pid)


def test_sigterm_to_the_owner_stops_every_child(tmp_path):
    owner = subprocess.Popen(
        [sys.executable, "-c", _owner_script(tmp_path, "time.sleep(300)")], stdout=subprocess.PIPE, text=True
    )
    child_pid = int(owner.stdout.readline())
    owner.send_signal(signal.SIGTERM)
    owner.wait(timeout=20)
    assert owner.returncode == 128 + signal.SIGTERM
    assert not _alive(child_pid)


def test_an_owner_exiting_without_close_still_stops_its_children(tmp_path):
    owner = subprocess.run(
        [sys.executable, "-c", _owner_script(tmp_path, "sys.exit(3)")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert owner.returncode == 3
    assert not _alive(int(owner.stdout.split()[0]))


def test_an_owner_killed_with_sigkill_takes_its_direct_children_along(tmp_path):
    owner = subprocess.Popen(
        [sys.executable, "-c", _owner_script(tmp_path, "time.sleep(300)")], stdout=subprocess.PIPE, text=True
    )
    child_pid = int(owner.stdout.readline())
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child_pid)


def test_a_closed_supervisor_refuses_to_start_more(tmp_path):
    sup = Supervisor(tmp_path)
    sup.close()
    with pytest.raises(RuntimeError, match="closed"):
        sup.start("late", [sys.executable, "-c", "pass"])


def test_close_restores_the_previous_sigint_handler(tmp_path):
    before = signal.getsignal(signal.SIGINT)
    sup = Supervisor(tmp_path)
    assert signal.getsignal(signal.SIGINT) != before
    sup.close()
    assert signal.getsignal(signal.SIGINT) == before
