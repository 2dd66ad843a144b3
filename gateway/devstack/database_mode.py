"""Does LiteLLM get its database in the local stack? Yes, unless something it needs is missing.

LiteLLM talks to PostgreSQL through prisma-client-py, which spawns Prisma's native
query engine, downloaded at run time from a host this kind of machine cannot reach.
The stack runs Prisma's own engine compiled to WebAssembly instead, behind a server
that speaks the native binary's interface (gateway/prisma_engine). It needs Node.js,
the server's npm packages (`npm ci`, the README's set-up) and a prisma client
generated for LiteLLM's schema: generated once per environment, in the background
while Phoenix boots. Anything missing turns the database off with the reason.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from dataclasses import dataclass

from gateway import prisma_engine
from gateway.devstack.supervisor import Child, Supervisor
from gateway.devstack.system import REPO

PROBE_TIMEOUT_SECONDS = prisma_engine.GENERATE_TIMEOUT_SECONDS + 10


@dataclass(frozen=True)
class DatabaseMode:
    enabled: bool
    reason: str


def precheck() -> DatabaseMode | None:
    """A decision that needs no probe (switched off, or something missing), else None."""
    if os.environ.get("DEVSTACK_DATABASE", "").lower() in {"0", "off", "false", "no"}:
        return DatabaseMode(False, "DEVSTACK_DATABASE=off")
    if importlib.util.find_spec("prisma") is None:
        return DatabaseMode(
            False, f"the `prisma` package (LiteLLM's only database client) is not installed in {sys.prefix}"
        )
    reason = prisma_engine.missing()
    if reason:
        return DatabaseMode(False, reason)
    return None


def start_probe(supervisor: Supervisor) -> Child:
    """Generate the Prisma client unless it already is (then this exits at once); the supervisor owns it."""
    command = [sys.executable, "-m", "gateway.prisma_engine", "generate"]
    return supervisor.start("prisma-generate", command, cwd=REPO)


def finish_probe(
    supervisor: Supervisor, probe: Child, *, timeout: float = PROBE_TIMEOUT_SECONDS
) -> DatabaseMode:
    """Wait for the generation (counting from its start) and turn its outcome into a decision."""
    deadline = probe.started_at + timeout
    while probe.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    timed_out = probe.alive()
    supervisor.stop(probe)
    if timed_out:
        return DatabaseMode(False, f"generating the Prisma client did not finish in {timeout:.0f} s")
    if probe.process.returncode != 0:
        lines = probe.tail(5).strip().splitlines() or ["no output"]
        return DatabaseMode(False, f"the Prisma client could not be generated: {lines[-1][:200]}")
    return DatabaseMode(True, "LiteLLM's Prisma client on Prisma's WebAssembly engine: gateway/prisma_engine")
