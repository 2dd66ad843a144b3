"""Real PostgreSQL and Redis through the stack's own launchers: reachable with their generated
passwords, on loopback only, and gone after the supervisor closes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psycopg
import pytest
import redis

from gateway.devstack import system
from gateway.devstack.ports import PortAllocator
from gateway.devstack.postgres import PG_BIN_DIRS, start_postgres
from gateway.devstack.redis_server import start_redis
from gateway.devstack.supervisor import Supervisor

pytestmark = pytest.mark.slow


def _require(binary: str, search: tuple[Path, ...] = ()) -> None:
    if not (shutil.which(binary) or any((d / binary).exists() for d in search)):
        pytest.skip(f"{binary} is not installed (the stack installs it with apt-get when run as root)")


@pytest.fixture
def stack_dir():
    # Not pytest's tmp_path: the service user cannot enter /tmp/pytest-of-root (mode 700).
    root = Path(__file__).resolve().parents[3] / ".work" / "tests"
    root.mkdir(parents=True, exist_ok=True)
    folder = root / f"services-{os.getpid()}"
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_postgres_and_redis_start_answer_and_stop(stack_dir):
    _require("initdb", PG_BIN_DIRS)
    _require("redis-server")
    ports = PortAllocator()
    sup = Supervisor(stack_dir / "logs")
    try:
        user = system.service_user()
        pg = start_postgres(sup, stack_dir / "postgres", ports(), user=user)
        cache = start_redis(sup, stack_dir / "redis", ports(), user=user)

        with psycopg.connect(pg.url, connect_timeout=5) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == "litellm"
            assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(pg.url.replace(pg.password, "wrong-password"), connect_timeout=5)

        client = redis.Redis(host=cache.host, port=cache.port, password=cache.password)
        assert client.ping()
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host=cache.host, port=cache.port).set("k", "v")
        client.close()
    finally:
        sup.close()
    assert sup.survivors() == []
