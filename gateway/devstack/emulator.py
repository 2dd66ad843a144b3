"""The Bedrock emulator (gateway/emulator) as a service of the stack, with fresh fake AWS keys."""

from __future__ import annotations

import os
import secrets
import string
import sys
from dataclasses import dataclass

from gateway.devstack.ports import LOOPBACK
from gateway.devstack.readiness import http_ok, wait_until
from gateway.devstack.supervisor import Child, Supervisor
from gateway.devstack.system import REPO


@dataclass(frozen=True)
class Emulator:
    """Its endpoint (AWS_BEDROCK_RUNTIME_ENDPOINT) and the only keys whose signatures it accepts."""

    url: str
    access_key: str
    secret_key: str
    child: Child


def fake_aws_keys() -> tuple[str, str]:
    """Keys shaped like AWS's (AKIA + 16, 40 chars), random per run, useless anywhere else."""
    alphabet = string.ascii_uppercase + string.digits
    access = "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
    secret = secrets.token_urlsafe(30)[:40]
    return access, secret


def start_emulator(
    supervisor: Supervisor, port: int, *, region: str, latency: str = "instant", timeout: float = 60
) -> Emulator:
    """`latency`: the emulator's profile (gateway/emulator/latency.py: realistic or instant)."""
    access, secret = fake_aws_keys()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": str(REPO),
        # Through the environment rather than --access-key/--secret-key: argv is visible to every user.
        "AWS_ACCESS_KEY_ID": access,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_REGION": region,  # the signing region it verifies
    }
    argv = [sys.executable, "-m", "gateway.emulator", "--host", LOOPBACK, "--port", str(port)]
    child = supervisor.start(
        "emulator",
        [*argv, "--latency", latency],
        env=env,
        cwd=REPO,
    )
    url = f"http://{LOOPBACK}:{port}"
    wait_until(http_ok(f"{url}/_emulator/health"), timeout=timeout, what="emulator", alive=child.alive)
    return Emulator(url=url, access_key=access, secret_key=secret, child=child)
