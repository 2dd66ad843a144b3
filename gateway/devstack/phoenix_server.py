"""The Phoenix tracing server, from its own venv (importing it beside LiteLLM is slow)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gateway.devstack.ports import LOOPBACK
from gateway.devstack.readiness import Pending
from gateway.devstack.supervisor import Child, Supervisor
from gateway.devstack.system import REPO, MissingRequirement


@dataclass(frozen=True)
class Phoenix:
    """The UI/REST address and the OTLP HTTP traces endpoint LiteLLM exports to."""

    url: str
    grpc_port: int
    child: Child

    @property
    def collector_endpoint(self) -> str:
        return f"{self.url}/v1/traces"


def phoenix_binary() -> Path:
    """`$NOX_PHOENIX_BIN/phoenix` (set by nox), else the repository's phoenix venv."""
    nox_bin = os.environ.get("NOX_PHOENIX_BIN")
    candidates = [Path(nox_bin).absolute() / "phoenix"] if nox_bin else []
    candidates.append(REPO / ".nox" / "_envs" / "phoenix" / "bin" / "phoenix")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise MissingRequirement(
        "the Phoenix server is not installed: run through nox (`nox -s smoke` creates the 'phoenix' venv) "
        "or set NOX_PHOENIX_BIN to a folder holding the `phoenix` command"
    )


def launch_phoenix(
    supervisor: Supervisor, folder: Path, port: int, grpc_port: int, *, timeout: float = 300
) -> Pending[Phoenix]:
    """Start `phoenix serve` with its data in `folder`, telemetry and external resources off; don't wait.

    The timeout is generous on purpose: 22 s on a quiet 2-core machine became 111 s on a busy one.
    """
    binary = phoenix_binary()
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": f"{binary.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(folder),
        "PHOENIX_HOST": LOOPBACK,
        "PHOENIX_PORT": str(port),
        # Phoenix binds its OTLP gRPC receiver on every interface (not configurable in 20.x):
        # a free, random port limits the exposure to this run.
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_WORKING_DIR": str(folder),
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
        "PHOENIX_DISABLE_AGENT_ASSISTANT": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name in ("SSL_CERT_FILE", "LANG", "LC_ALL", "TZ"):
        if name in os.environ:
            env[name] = os.environ[name]
    child = supervisor.start("phoenix", [str(binary), "serve"], env=env, cwd=folder)
    phoenix = Phoenix(url=f"http://{LOOPBACK}:{port}", grpc_port=grpc_port, child=child)
    # Phoenix takes ~12 s to boot on a quiet machine.
    return Pending(phoenix, "phoenix", f"{phoenix.url}/healthz", child.alive, timeout)
