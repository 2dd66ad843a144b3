"""One owner for every child process of the local stack.

Each service runs in its own process group, so stopping it also stops the
workers it forked (Postgres backends, uvicorn workers). Stopping is SIGTERM to
the group, then SIGKILL after a grace period. The supervisor stops everything
from `atexit` and from SIGINT/SIGTERM handlers too, so a failure, an exception
or Ctrl-C never leaves an orphan behind.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask the kernel to SIGTERM the child if the supervisor itself is SIGKILLed (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    """A started service: its process (the group leader) and its log file."""

    name: str
    process: subprocess.Popen
    log_path: Path
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        """The last lines of the service's log, to show why it failed."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Supervisor:
    """Starts children in their own process groups and guarantees they are stopped."""

    def __init__(self, log_dir: Path, *, grace_seconds: float = 10.0) -> None:
        self.log_dir = Path(log_dir)
        self.grace_seconds = grace_seconds
        self.children: list[Child] = []
        self.started: list[Child] = []  # every child ever started, for the final no-survivor check
        self.stop_seconds = 0.0  # time spent stopping, whoever triggered it (close, a signal, atexit)
        self._lock = threading.RLock()  # re-entrant: a signal may arrive while start() holds it
        self._previous_handlers: dict[int, object] = {}
        self._closed = False
        atexit.register(self.stop_all)
        self._install_signal_handlers()

    # ------------------------------------------------------------ starting
    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        user: str | None = None,
    ) -> Child:
        """Start `argv` as a new process group, output appended to `<log_dir>/<name>.log`."""
        if self._closed:
            raise RuntimeError("the supervisor is closed; create a new one")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                list(argv),
                env=dict(env) if env is not None else None,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
                user=user,
                group=_primary_group(user) if user else None,
                extra_groups=[] if user else None,
                preexec_fn=_die_with_parent,
            )
        child = Child(name=name, process=process, log_path=log_path)
        with self._lock:
            self.children.append(child)
            self.started.append(child)
        return child

    # ------------------------------------------------------------ stopping
    def stop(self, child: Child) -> None:
        """SIGTERM the child's process group, SIGKILL it after the grace period."""
        self._stop_together([child])

    def stop_all(self) -> None:
        """Stop every child at once: SIGTERM to all groups, then SIGKILL whatever outlives the grace period.

        All at once rather than one after another because whoever stops us may not wait long
        (nox sends SIGTERM 0.3 s after Ctrl-C and SIGKILL 0.2 s later).
        """
        while True:
            with self._lock:
                children = list(reversed(self.children))
            if not children:
                break
            self._stop_together(children)

    def _stop_together(self, children: list[Child]) -> None:
        began = time.monotonic()
        for child in children:
            _signal_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        pending = list(children)
        while pending and time.monotonic() < deadline:
            pending = [child for child in pending if not _finished(child)]
            if pending:
                time.sleep(0.05)
        for child in pending:
            _signal_group(child.pid, signal.SIGKILL)
        for child in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=self.grace_seconds)
            if live_members({child.pid}):  # members that outlived their leader
                _signal_group(child.pid, signal.SIGKILL)
            with self._lock, contextlib.suppress(ValueError):
                self.children.remove(child)
        self.stop_seconds += time.monotonic() - began

    def survivors(self) -> list[int]:
        """Live (non-zombie) processes left in any group this supervisor started; after close(): none."""
        return live_members({child.pid for child in self.started})

    def close(self) -> None:
        """Stop everything and give back the signal handlers and the atexit slot."""
        self.stop_all()
        self._closed = True
        atexit.unregister(self.stop_all)
        self._restore_signal_handlers()

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ signals
    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may set handlers; atexit still covers normal exits
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous_handlers[signum] = signal.signal(signum, self._on_signal)

    def _restore_signal_handlers(self) -> None:
        for signum, handler in self._previous_handlers.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous_handlers.clear()

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stop_all()
        previous = self._previous_handlers.get(signum)
        if callable(previous):
            previous(signum, frame)
        elif signum == signal.SIGINT:
            raise KeyboardInterrupt
        else:
            raise SystemExit(128 + signum)


def _primary_group(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def live_members(pgids: set[int]) -> list[int]:
    """Pids of live processes in the given process groups (zombies awaiting a reaper do not count)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces) start with the state, ppid, pgrp.
        fields = stat.rsplit(")", 1)[1].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp in pgids and state != "Z":
            found.append(int(entry))
    return found


def _finished(child: Child) -> bool:
    """The leader exited (and is reaped) and no live process is left in its group."""
    return child.process.poll() is not None and not live_members({child.pid})
