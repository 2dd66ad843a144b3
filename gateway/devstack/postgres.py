"""PostgreSQL 15 for LiteLLM's keys and spend: a throw-away cluster in the work folder."""

from __future__ import annotations

import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gateway.devstack import system
from gateway.devstack.ports import LOOPBACK
from gateway.devstack.readiness import wait_until
from gateway.devstack.supervisor import Child, Supervisor

PG_BIN_DIRS = (Path("/usr/lib/postgresql/15/bin"),)
DATABASE = "litellm"
USERNAME = "litellm"


@dataclass(frozen=True)
class Postgres:
    """How to reach the running cluster (the contract's DATABASE_* values)."""

    host: str
    port: int
    database: str
    username: str
    password: str
    child: Child

    @property
    def url(self) -> str:
        return f"postgresql://{self.username}:{self.password}@{self.host}:{self.port}/{self.database}"


def start_postgres(
    supervisor: Supervisor, folder: Path, port: int, *, user: str | None, log=print, timeout: float = 60
) -> Postgres:
    """initdb (as `user`), start the server on 127.0.0.1:`port`, create the database."""
    initdb = system.ensure_binary("initdb", package="postgresql-15", search=PG_BIN_DIRS, log=log)
    bin_dir = initdb.parent
    system.check_traversable(folder, user)
    password = secrets.token_urlsafe(24)
    data, sockets = folder / "data", folder / "sockets"
    system.give_to(folder, user)
    for sub in (data, sockets):
        sub.mkdir(mode=0o700)
    pwfile = folder / "pwfile"
    pwfile.write_text(password + "\n", encoding="utf-8")
    pwfile.chmod(0o600)
    system.give_to(folder, user)
    try:
        result = subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                USERNAME,
                "--pwfile",
                str(pwfile),
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            user=user,
            group=_group(user),
            extra_groups=[] if user else None,
            capture_output=True,
            text=True,
            timeout=180,
            cwd=folder,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"initdb failed ({result.returncode}):\n{result.stdout[-1500:]}{result.stderr[-1500:]}"
        )
    child = supervisor.start(
        "postgres",
        [
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-c",
            f"listen_addresses={LOOPBACK}",
            "-c",
            f"unix_socket_directories={sockets}",
            # A disposable cluster: durability costs time and buys nothing here.
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ],
        env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"},
        cwd=folder,
        user=user,
    )
    info = Postgres(
        host=LOOPBACK, port=port, database=DATABASE, username=USERNAME, password=password, child=child
    )
    wait_until(lambda: _create_database(info), timeout=timeout, what="postgres", alive=child.alive)
    return info


def _create_database(info: Postgres) -> bool:
    """Log in with the generated password and create the database (the readiness probe)."""
    import psycopg

    with psycopg.connect(
        host=info.host,
        port=info.port,
        user=info.username,
        password=info.password,
        dbname="postgres",
        autocommit=True,
        connect_timeout=2,
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (info.database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{info.database}"')
    return True


def _group(user: str | None) -> int | None:
    if user is None:
        return None
    import pwd

    return pwd.getpwnam(user).pw_gid
