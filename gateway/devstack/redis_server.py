"""Redis 7 with a password: the local stand-in for ElastiCache Valkey."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gateway.devstack import system
from gateway.devstack.ports import LOOPBACK
from gateway.devstack.readiness import wait_until
from gateway.devstack.supervisor import Child, Supervisor

MIN_MAJOR = 7


@dataclass(frozen=True)
class Redis:
    """How to reach the running server (the contract's REDIS_* values)."""

    host: str
    port: int
    password: str
    child: Child


def redis_version(binary: Path) -> tuple[int, ...]:
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
    if not match:
        raise system.MissingRequirement(f"cannot read the version of {binary}: {out.strip()!r}")
    return tuple(int(part) for part in match.groups())


def start_redis(
    supervisor: Supervisor, folder: Path, port: int, *, user: str | None, log=print, timeout: float = 30
) -> Redis:
    """Write a private config (loopback, password, no persistence) and start redis-server with it."""
    binary = system.ensure_binary("redis-server", package="redis-server", log=log)
    version = redis_version(binary)
    if version[0] < MIN_MAJOR:
        raise system.MissingRequirement(
            f"{binary} is Redis {'.'.join(map(str, version))}; Valkey 7 needs >= 7"
        )
    password = secrets.token_urlsafe(24)
    system.give_to(folder, user)
    config = folder / "redis.conf"
    config.write_text(
        "\n".join(
            [
                f"bind {LOOPBACK}",
                f"port {port}",
                "protected-mode yes",
                f'requirepass "{password}"',
                f'dir "{folder}"',
                "daemonize no",
                'save ""',
                "appendonly no",
                'logfile ""',
                "",
            ]
        ),
        encoding="utf-8",
    )
    config.chmod(0o600)
    system.give_to(folder, user)
    child = supervisor.start(
        "redis", [str(binary), str(config)], env={"PATH": os.environ.get("PATH", "")}, cwd=folder, user=user
    )
    info = Redis(host=LOOPBACK, port=port, password=password, child=child)
    wait_until(lambda: ping(info), timeout=timeout, what="redis", alive=child.alive)
    return info


def ping(info: Redis) -> bool:
    """AUTH with the generated password, then PING (the readiness probe)."""
    import redis

    client = redis.Redis(host=info.host, port=info.port, password=info.password, socket_timeout=2)
    try:
        return bool(client.ping())
    finally:
        client.close()
