"""One in-process Bedrock emulator per test session, shared by the emulator's and the hooks' tests."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from gateway.emulator.server import RunningEmulator, start_emulator
from gateway.emulator.sigv4 import Credentials

EMULATOR_REGION = "us-east-1"


@pytest.fixture(scope="session")
def credentials() -> Credentials:
    """Generated per run: nothing shaped like a real key is committed."""
    return Credentials("AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))


@pytest.fixture(scope="session")
def running(credentials: Credentials) -> Iterator[RunningEmulator]:
    emulator = start_emulator(credentials, region=EMULATOR_REGION)
    try:
        yield emulator
    finally:
        emulator.stop()


# ---------------------------------------------------------------- PostgreSQL
# One throw-away cluster per test session, started as the stack starts it (as an unprivileged
# user: initdb refuses root), shared by the migration and Prisma engine tests; each test that
# needs a database gets a fresh one (`new_database`).
@pytest.fixture(scope="session")
def postgres_cluster():
    import os
    import shutil
    from pathlib import Path

    from gateway.devstack import system
    from gateway.devstack.ports import PortAllocator
    from gateway.devstack.postgres import PG_BIN_DIRS, start_postgres
    from gateway.devstack.supervisor import Supervisor

    if not (shutil.which("initdb") or any((d / "initdb").exists() for d in PG_BIN_DIRS)):
        pytest.skip("PostgreSQL 15 is not installed (README set-up: apt-get install postgresql)")
    # Not pytest's tmp_path: the service user cannot enter /tmp/pytest-of-root (mode 700).
    folder = Path(__file__).resolve().parents[2] / ".work" / "tests" / f"postgres-{os.getpid()}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor(folder / "logs")
    try:
        yield start_postgres(supervisor, folder / "cluster", PortAllocator()(), user=system.service_user())
    finally:
        supervisor.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def new_database(postgres_cluster):
    """A fresh, empty database on the session's cluster; its URL."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin_url = postgres_cluster.url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres_cluster.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def migrate_env(new_database, tmp_path):
    """What the migration task gives `python -m gateway.entrypoint migrate`, on a fresh database."""
    import json

    import psycopg

    info = psycopg.conninfo.conninfo_to_dict(new_database)
    return {
        "GATEWAY_MODELS": json.dumps(
            [{"alias": "nova-lite", "model_id": "amazon.nova-lite-v1:0", "mode": "chat", "fallbacks": []}]
        ),
        "AWS_REGION": "us-east-1",
        "LITELLM_MASTER_KEY": "sk-" + "m" * 30,
        "LITELLM_SALT_KEY": "sk-" + "s" * 30,
        "DATABASE_HOST": info["host"],
        "DATABASE_PORT": info["port"],
        "DATABASE_NAME": info["dbname"],
        "DATABASE_USERNAME": info["user"],
        "DATABASE_PASSWORD": info["password"],
        "DATABASE_SSLMODE": "disable",
        "GATEWAY_SCRATCH_DIR": str(tmp_path / "scratch"),
    }
