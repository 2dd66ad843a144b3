"""The LiteLLM proxy, started exactly as the image starts it: `python -m gateway.entrypoint`.

The container runtime contract (docs/contracts.md) is the only interface: the
stack sets the same variables the ECS task definition sets, pointing at the
local services, so the entrypoint, gateway/config.yaml and gateway/render.py
run unchanged.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway import migrations, prisma_engine
from gateway.devstack.ports import LOOPBACK
from gateway.devstack.readiness import Pending
from gateway.devstack.supervisor import Child, Supervisor
from gateway.devstack.system import REPO

# Variables of the environment that the proxy may inherit: nothing AWS-related
# (a developer's real credentials or profile must never reach the emulator run).
INHERITED = ("PATH", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "TMPDIR")
# Development knobs of the Prisma engine server (gateway/prisma_engine/README.md), passed through.
INHERITED_PRISMA_ENGINE = ("PRISMA_ENGINE_CAPTURE",)
# gateway/entrypoint.py's knobs beyond the contract: where to listen (the image: 0.0.0.0:4000),
# which config variant, how many workers, and where to write at run time (the image: /tmp/gateway).
HOST_VARIABLE, PORT_VARIABLE = "HOST", "PORT"
VARIANT_VARIABLE = "GATEWAY_VARIANT"
DISABLE_VARIABLE = "GATEWAY_DISABLE"
WORKERS_VARIABLE = "GATEWAY_WORKERS"
SCRATCH_VARIABLE = "GATEWAY_SCRATCH_DIR"


@dataclass(frozen=True)
class Gateway:
    url: str
    master_key: str
    child: Child


def generated_key() -> str:
    """A LiteLLM-style key (`sk-` prefix), random per run; never the documentation's sk-1234."""
    return "sk-" + secrets.token_urlsafe(32)


def proxy_environment(contract: Mapping[str, str], *, home: Path) -> dict[str, str]:
    """The proxy's whole environment: a few inherited basics plus the contract's variables."""
    env = {name: os.environ[name] for name in INHERITED + INHERITED_PRISMA_ENGINE if name in os.environ}
    env.update(
        {
            "HOME": str(home),
            # Per stack, so two stacks (or a stack and a container test) never share a rendered config.
            SCRATCH_VARIABLE: str(home / "scratch"),
            # One uvicorn worker: what a 1-vCPU Fargate task runs, and half the memory of two.
            WORKERS_VARIABLE: "1",
            "PYTHONPATH": str(REPO),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(contract)
    if "DATABASE_HOST" in contract:
        # LiteLLM's Prisma client spawns the WebAssembly engine server (gateway/prisma_engine).
        env.update(prisma_engine.engine_environment())
    return env


@dataclass(frozen=True)
class Migration:
    """A running `python -m gateway.entrypoint migrate`.

    It applies the schema first (about a second) and then builds LiteLLM's request-log indexes
    (about 13 s, mostly importing LiteLLM); those are built CONCURRENTLY, which LiteLLM itself does
    while it serves. So the stack starts the gateway once the schema is in (`wait_for_schema`) and
    collects the outcome before it calls itself ready (`finish`).
    """

    supervisor: Supervisor
    child: Child

    def wait_for_schema(self, *, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.child.alive() and time.monotonic() < deadline:
            if migrations.SCHEMA_READY_FIELD in self.child.tail(200):
                return
            time.sleep(0.1)
        if self.child.alive() or self.child.process.returncode != 0:
            self.finish(timeout=0)

    def finish(self, *, timeout: float = 300) -> None:
        try:
            code = self.child.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            self.supervisor.stop(self.child)
        if code != 0:
            outcome = f"exit code {code}" if code is not None else f"no exit after {timeout:.0f} s"
            raise RuntimeError(
                f"`python -m gateway.entrypoint migrate` failed ({outcome}):\n{self.child.tail(30)}"
            )


def start_migration(supervisor: Supervisor, env: Mapping[str, str]) -> Migration:
    """Start the migration task; see Migration."""
    child = supervisor.start(
        "migrate", [sys.executable, "-m", "gateway.entrypoint", "migrate"], env=env, cwd=REPO
    )
    return Migration(supervisor, child)


def launch_gateway(
    supervisor: Supervisor,
    port: int,
    contract: Mapping[str, str],
    *,
    home: Path,
    variant: str = "full",
    disable: tuple[str, ...] = (),
    extra_env: Mapping[str, str] | None = None,
    name: str = "gateway",
    timeout: float = 300,
) -> Pending[Gateway]:
    """Start the proxy on 127.0.0.1:`port`; `.wait()` for /health/readiness (16 s quiet, 96 s busy).

    `disable` becomes GATEWAY_DISABLE (features of the full configuration switched off; the
    entrypoint accepts it only because the stack's GATEWAY_ENVIRONMENT is `local`); `extra_env`
    sets tuning variables the benchmark compares (e.g. LITELLM_LOG).
    """
    home.mkdir(parents=True, exist_ok=True)
    knobs = {HOST_VARIABLE: LOOPBACK, PORT_VARIABLE: str(port), VARIANT_VARIABLE: variant}
    if disable:
        knobs[DISABLE_VARIABLE] = ",".join(disable)
    env = proxy_environment({**contract, **(extra_env or {}), **knobs}, home=home)
    child = supervisor.start(name, [sys.executable, "-m", "gateway.entrypoint", "serve"], env=env, cwd=REPO)
    gateway = Gateway(url=f"http://{LOOPBACK}:{port}", master_key=contract["LITELLM_MASTER_KEY"], child=child)
    # LiteLLM's import alone takes 15-45 s on a busy machine.
    return Pending(gateway, "gateway", f"{gateway.url}/health/readiness", child.alive, timeout)
