"""Can LiteLLM use the database here? Only where Prisma and its engine binaries are available.

LiteLLM talks to Postgres through prisma-client-py, whose CLI downloads the
query engine on first use. Offline that download hangs or fails and the proxy
exits, so the stack decides up front (with a short timeout) and says why.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
from dataclasses import dataclass

PROBE_TIMEOUT_SECONDS = 20


@dataclass(frozen=True)
class DatabaseMode:
    enabled: bool
    reason: str


def detect(python: str = sys.executable, *, timeout: float = PROBE_TIMEOUT_SECONDS) -> DatabaseMode:
    """Enabled when the proxy's Python has `prisma` and `prisma version` finds its engines in time."""
    override = os.environ.get("DEVSTACK_DATABASE", "").lower()
    if override in {"0", "off", "false", "no"}:
        return DatabaseMode(False, "DEVSTACK_DATABASE=off")
    if python == sys.executable:
        has_prisma = importlib.util.find_spec("prisma") is not None
    else:
        has_prisma = subprocess.run([python, "-c", "import prisma"], capture_output=True).returncode == 0
    if not has_prisma:
        return DatabaseMode(
            False,
            "the `prisma` package (LiteLLM's only database client) is not installed in "
            f"{os.path.dirname(os.path.dirname(python))}",
        )
    # Own process group: on timeout the CLI's node/download children die with it.
    probe = subprocess.Popen(
        [python, "-m", "prisma", "version"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        process_group=0,
        env={**os.environ, "PRISMA_HIDE_UPDATE_MESSAGE": "1"},
    )
    try:
        output, _ = probe.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(probe.pid, signal.SIGKILL)
        probe.communicate()
        return DatabaseMode(
            False,
            f"`prisma version` did not finish in {timeout:.0f} s: its engine binaries are "
            "not cached and cannot be downloaded here",
        )
    if probe.returncode != 0:
        last = output.strip().splitlines()[-1:] or ["no output"]
        return DatabaseMode(
            False, f"`prisma version` failed: the engine binaries are missing ({last[0][:160]})"
        )
    return DatabaseMode(True, "prisma and its engine binaries are available")
