"""The local stack's application role: the PostgreSQL role the gateway connects as, and its password.

`migrate` (run as the cluster's owner) creates the role and grants it LiteLLM's data; the stack
then gives it a random password, kept in a file only this user can read, which the gateway reads
through DATABASE_PASSWORD_FILE (gateway/db_credentials.py re-reads it when PostgreSQL refuses the
password it holds). `rotate` is what a rotation job does: a new password, in the file and in the
database.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

# Not the owner ("litellm", who migrates): serving never connects as the schema's owner.
APP_ROLE = "litellm_app"


def new_password() -> str:
    return secrets.token_urlsafe(24)


def write_secret(path: Path, password: str) -> None:
    """Replace the file atomically (a reader never sees half a password), readable by this user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".new")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(password + "\n")
    os.replace(partial, path)


def set_password(admin_url: str, role: str, password: str) -> None:
    """ALTER ROLE … PASSWORD as the owner (the stack's master connection)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))


def rotate(admin_url: str, role: str, secret_file: Path) -> str:
    """A new password in the secret file, then in the database (as a rotation job does); returns it."""
    password = new_password()
    write_secret(secret_file, password)
    set_password(admin_url, role, password)
    return password


def terminate_sessions(admin_url: str, role: str) -> int:
    """End every session of `role` (its pool must open new connections, with the current password)."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
            "FROM pg_stat_activity WHERE usename = %s",
            (role,),
        ).fetchone()
    return int(row[0])
