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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway import prisma_engine
from gateway.devstack.ports import LOOPBACK
from gateway.devstack.readiness import Pending
from gateway.devstack.supervisor import Child, Supervisor

REPO = Path(__file__).resolve().parents[2]
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
            # The cost map ships with LiteLLM; fetching it at start-up fails offline.
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        }
    )
    env.update(contract)
    if "DATABASE_HOST" in contract:
        # LiteLLM's Prisma client spawns the WebAssembly engine server (gateway/prisma_engine).
        env.update(prisma_engine.engine_environment())
    return env


def migrate(supervisor: Supervisor, env: Mapping[str, str], *, timeout: float = 300) -> None:
    """The one-off migration task, `python -m gateway.entrypoint migrate`, owned by the supervisor."""
    child = supervisor.start(
        "migrate", [sys.executable, "-m", "gateway.entrypoint", "migrate"], env=env, cwd=REPO
    )
    try:
        code = child.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        supervisor.stop(child)
    if code != 0:
        outcome = f"exit code {code}" if code is not None else f"no exit after {timeout:.0f} s"
        raise RuntimeError(f"`python -m gateway.entrypoint migrate` failed ({outcome}):\n{child.tail(30)}")


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
