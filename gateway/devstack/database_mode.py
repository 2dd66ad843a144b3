"""Can LiteLLM use the database here? Only where Prisma and its engine binaries are available.

LiteLLM talks to Postgres through prisma-client-py, whose CLI downloads the
query engine on first use. Offline the download fails (or hangs) and the proxy
exits, so the stack asks `prisma version` up front, in the background while
Phoenix boots, with a timeout, and says why the database is skipped.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import time
from dataclasses import dataclass

from gateway.devstack.supervisor import Child, Supervisor

PROBE_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class DatabaseMode:
    enabled: bool
    reason: str


def precheck() -> DatabaseMode | None:
    """A decision that needs no probe (switched off, or no prisma package), else None."""
    if os.environ.get("DEVSTACK_DATABASE", "").lower() in {"0", "off", "false", "no"}:
        return DatabaseMode(False, "DEVSTACK_DATABASE=off")
    if importlib.util.find_spec("prisma") is None:
        return DatabaseMode(
            False, f"the `prisma` package (LiteLLM's only database client) is not installed in {sys.prefix}"
        )
    return None


def start_probe(supervisor: Supervisor) -> Child:
    """`prisma version` resolves (and, online, downloads) the engines; the supervisor owns it."""
    env = {**os.environ, "PRISMA_HIDE_UPDATE_MESSAGE": "1"}
    return supervisor.start("prisma-probe", [sys.executable, "-m", "prisma", "version"], env=env)


def finish_probe(
    supervisor: Supervisor, probe: Child, *, timeout: float = PROBE_TIMEOUT_SECONDS
) -> DatabaseMode:
    """Wait for the probe (counting from its start) and turn its outcome into a decision."""
    deadline = probe.started_at + timeout
    while probe.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    timed_out = probe.alive()
    supervisor.stop(probe)
    if timed_out:
        return DatabaseMode(
            False,
            f"`prisma version` did not finish in {timeout:.0f} s: the Prisma engines are not cached and "
            "cannot be downloaded here",
        )
    if probe.process.returncode != 0:
        return DatabaseMode(False, f"the Prisma engine binaries are not available ({_why(probe.tail(5))})")
    return DatabaseMode(True, "prisma and its engine binaries are available")


def _why(output: str) -> str:
    """The gist of a failed `prisma version`: usually an unreachable download host."""
    host = re.search(r"https?://([^/\s]+)", output)
    if host and re.search(r"ENOTFOUND|ECONNREFUSED|ETIMEDOUT|failed", output):
        return f"`prisma version` cannot download them from {host.group(1)}"
    last = output.strip().splitlines()[-1:] or ["no output"]
    return f"`prisma version`: {last[0][:120]}"
