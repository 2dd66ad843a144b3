"""A rotated database credential is fetched again when LiteLLM starts an engine (gateway/db_credentials.py).

The last two tests drive LiteLLM 1.108.7's own PrismaWrapper, with prisma-client-py spawning this
project's engine server (gateway/prisma_engine) against a real PostgreSQL, as the gateway runs it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from urllib.parse import urlsplit

import psycopg
import pytest

from gateway import db_credentials, migrations, prisma_engine
from gateway.devstack import app_role

# LiteLLM is imported below: its bundled cost map, not a fetch that fails offline after 8 s.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def test_a_new_password_replaces_the_old_one_and_keeps_user_host_database_and_parameters():
    url = "postgresql://litellm_app:old@db.internal:5432/litellm?sslmode=require&connection_limit=10"

    rebuilt = db_credentials.with_password(url, "n/w@:pass")

    parts = urlsplit(rebuilt)
    assert (parts.username, parts.password, parts.hostname, parts.port, parts.path) == (
        "litellm_app",
        "n%2Fw%40%3Apass",
        "db.internal",
        5432,
        "/litellm",
    )
    assert parts.query == "sslmode=require&connection_limit=10"


def test_the_writer_url_takes_the_password_file_s_current_content(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("rotated\n")
    env = {
        "DATABASE_PASSWORD_FILE": str(secret),
        "DATABASE_URL": "postgresql://app:old@h:5432/db?sslmode=disable",
    }

    assert (
        db_credentials.refreshed_writer_url(object(), env)
        == "postgresql://app:rotated@h:5432/db?sslmode=disable"
    )
    assert env["DATABASE_URL"].startswith("postgresql://app:rotated@")


def test_with_iam_authentication_the_writer_url_is_minted_by_litellm_s_own_wrapper():
    class Minting:  # the one method of LiteLLM's PrismaWrapper this calls
        def get_rds_iam_token(self):
            return "postgresql://app:token@h:5432/db"

    assert db_credentials.refreshed_writer_url(Minting(), {"IAM_TOKEN_DB_AUTH": "True"}) == (
        "postgresql://app:token@h:5432/db"
    )


def test_without_a_credential_source_the_url_is_left_as_it_is():
    env = {"DATABASE_URL": "postgresql://app:fixed@h:5432/db"}
    assert db_credentials.refreshed_writer_url(object(), env) is None
    assert env["DATABASE_URL"] == "postgresql://app:fixed@h:5432/db"


def test_the_credential_in_use_is_stale_once_the_password_file_holds_another_password(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("p@ss\n")
    env = {"DATABASE_PASSWORD_FILE": str(secret), "DATABASE_URL": "postgresql://app:p%40ss@h:5432/db"}

    assert db_credentials.credential_is_stale(object(), env) is False
    secret.write_text("rotated\n")
    assert db_credentials.credential_is_stale(object(), env) is True
    assert db_credentials.credential_is_stale(object(), {"DATABASE_URL": env["DATABASE_URL"]}) is False


def test_with_iam_the_credential_is_stale_when_litellm_would_refresh_the_token():
    class Writer:  # LiteLLM's own test of the token's runway (expiry minus its 3-minute buffer)
        def __init__(self, fresh):
            self.fresh = fresh

        def _token_refresh_not_needed(self, url):
            return self.fresh

    env = {"IAM_TOKEN_DB_AUTH": "True", "DATABASE_URL": "postgresql://app:token@h:5432/db"}
    assert db_credentials.credential_is_stale(Writer(fresh=True), env) is False
    assert db_credentials.credential_is_stale(Writer(fresh=False), env) is True


def test_once_installed_an_authentication_failure_is_a_transport_error_and_a_data_error_is_not():
    import prisma
    from litellm.proxy.db.exception_handler import PrismaDBExceptionHandler

    refused = prisma.errors.RawQueryError(
        {"user_facing_error": {"message": 'password authentication failed for user "a"', "meta": {}}}
    )
    unique = prisma.errors.UniqueViolationError(
        {"user_facing_error": {"message": "Unique constraint failed", "meta": {}}}
    )

    db_credentials.install()
    db_credentials.install()  # once per process, whoever calls it

    assert PrismaDBExceptionHandler.is_database_transport_error(refused) is True
    assert PrismaDBExceptionHandler.is_database_transport_error(unique) is False


def test_once_installed_a_session_the_server_ended_is_a_transport_error():
    """A rotation that ends the old sessions, or an Aurora restart: the next query on a pooled
    connection reads 57P01, and only a reconnect recovers (seen racing the rotation test below)."""
    import prisma
    from litellm.proxy.db.exception_handler import PrismaDBExceptionHandler

    ended = prisma.errors.RawQueryError(
        {
            "user_facing_error": {
                "message": "FATAL: terminating connection due to administrator command",
                "meta": {},
            }
        }
    )
    db_credentials.install()
    assert PrismaDBExceptionHandler.is_database_transport_error(ended) is True


def test_a_stale_credential_replaces_the_engine_even_while_an_old_session_still_answers(
    tmp_path, monkeypatch
):
    """LiteLLM's direct reconnect probes the writer first and keeps it when a pooled session answers:
    after a rotation that ends no session, only a forced recreate reads the new credential."""
    import asyncio

    seen = []

    async def litellms_reconnect(self, reason, force=False, **kwargs):
        seen.append((force, kwargs.get("force_recreate", False)))
        return True

    secret = tmp_path / "password"
    monkeypatch.setenv("DATABASE_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:old@127.0.0.1:5432/litellm")
    client = type("Client", (), {"writer_db": object()})()
    reconnect = db_credentials.reconnecting_when_stale(litellms_reconnect)

    secret.write_text("new")
    asyncio.run(reconnect(client, "password authentication failed"))
    secret.write_text("old")
    asyncio.run(reconnect(client, "a transport error"))

    assert seen == [(True, True), (False, False)]


# ------------------------------------------------ LiteLLM's wrapper, real engine, real PostgreSQL
@pytest.fixture
def app_database(new_database, monkeypatch, tmp_path):
    """A migrated database, its application role logged in through a password file, LiteLLM's env set."""
    reason = prisma_engine.missing()
    if reason:
        pytest.skip(reason)
    prisma_engine.generate()
    migrations.apply(
        lambda **kw: psycopg.connect(new_database, **kw),
        migrations.discover(migrations.migrations_dir()),
        log=print,
    )
    role = f"app_{uuid.uuid4().hex[:10]}"
    migrations.ensure_app_role(lambda **kw: psycopg.connect(new_database, **kw), role)
    secret = tmp_path / "password"
    password = app_role.new_password()
    app_role.write_secret(secret, password)
    app_role.set_password(new_database, role, password)
    info = psycopg.conninfo.conninfo_to_dict(new_database)
    for name, value in {
        **prisma_engine.engine_environment(),
        "DATABASE_URL": f"postgresql://{role}:{password}@{info['host']}:{info['port']}/{info['dbname']}",
        "DATABASE_PASSWORD_FILE": str(secret),
        "DATABASE_HOST": info["host"],
        "DATABASE_PORT": str(info["port"]),
        "DATABASE_USER": role,
        "DATABASE_NAME": info["dbname"],
    }.items():
        monkeypatch.setenv(name, value)
    return new_database, role, secret


def _rotate(admin_url: str, role: str, secret) -> None:
    app_role.rotate(admin_url, role, secret)
    assert app_role.terminate_sessions(admin_url, role) > 0


@pytest.mark.slow
def test_after_a_rotation_litellm_s_reconnect_starts_an_engine_with_the_password_read_again(app_database):
    from litellm.proxy.db.exception_handler import PrismaDBExceptionHandler
    from litellm.proxy.db.prisma_client import PrismaWrapper
    from prisma import Prisma

    admin_url, role, secret = app_database
    db_credentials.install()

    async def scenario():
        prisma_client = Prisma()
        await prisma_client.connect()
        wrapper = PrismaWrapper(original_prisma=prisma_client)
        assert await wrapper.query_raw("SELECT current_user AS who") == [{"who": role}]
        first_engine = wrapper._get_engine_pid()
        _rotate(admin_url, role, secret)

        with pytest.raises(Exception) as refused:  # the pool's new connection, with the old password
            await wrapper.query_raw("SELECT 1 AS one")
        assert PrismaDBExceptionHandler.is_database_transport_error(refused.value)

        # What LiteLLM's reconnect paths call, with the URL it holds (the old password).
        await wrapper.recreate_prisma_client(os.environ["DATABASE_URL"])
        try:
            assert await wrapper.query_raw("SELECT current_user AS who") == [{"who": role}]
            assert wrapper._get_engine_pid() != first_engine
            assert urlsplit(os.environ["DATABASE_URL"]).password == secret.read_text().strip()
        finally:
            await wrapper._original_prisma.disconnect()
            await _settle()

    asyncio.run(scenario())


@pytest.mark.slow
def test_litellm_s_token_refresh_starts_a_new_engine_with_the_new_token_and_retires_the_old_one(app_database):
    """LiteLLM's IAM refresh path (the one AWS uses), its token source injected where LiteLLM allows it."""
    from litellm.proxy.db.prisma_client import PrismaWrapper
    from litellm.proxy.db.token_auth import AzureEntraTokenAuth
    from prisma import Prisma

    admin_url, role, secret = app_database

    async def scenario():
        prisma_client = Prisma()
        await prisma_client.connect()
        wrapper = PrismaWrapper(
            original_prisma=prisma_client,
            token_auth=AzureEntraTokenAuth(token_provider=lambda: secret.read_text().strip()),
        )
        assert await wrapper.query_raw("SELECT current_user AS who") == [{"who": role}]
        old_engine = wrapper._get_engine_pid()
        _rotate(admin_url, role, secret)

        await wrapper._safe_refresh_token()
        try:
            assert await wrapper.query_raw("SELECT current_user AS who") == [{"who": role}]
            assert wrapper._get_engine_pid() != old_engine
            # Retired once drained: SIGTERM, then SIGKILL half a second later.
            await asyncio.wait_for(asyncio.gather(*wrapper._retirement_tasks), timeout=10)
            assert not _alive(old_engine), "the old engine was not retired"
        finally:
            await wrapper._original_prisma.disconnect()
            await _settle()

    asyncio.run(scenario())


async def _settle() -> None:
    """Let LiteLLM's background retirements finish before the loop closes (no task left pending)."""
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    await asyncio.wait_for(asyncio.gather(*others, return_exceptions=True), timeout=10)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
