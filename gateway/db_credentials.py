"""Database credentials that survive rotation: fetched again whenever LiteLLM starts a query engine.

LiteLLM's Prisma client hands the connection URL to its query engine once, when it spawns it; the
engine's pool then opens every new connection with that URL. So after a credential changes (an IAM
token expires, a password is rotated), the engine's next new connection is refused, and LiteLLM
1.108.7 keeps refusing: it counts "Authentication failed" as a permanent error (no reconnect), and
its reconnect re-uses the same URL anyway. Two small changes to LiteLLM, installed in every worker
by gateway/asgi.py:

- an authentication failure is a transport error, so LiteLLM's own reconnect paths run (the key
  lookup's reconnect-and-retry, `call_with_db_reconnect_retry`, the health watchdog); so is a session
  the server ended (SQLSTATE 57P01, "terminating connection due to administrator command": a
  rotation that ends the old sessions, an Aurora restart or failover), which LiteLLM treats as a
  permanent query error;
- before LiteLLM builds a new writer client (`_recreate_prisma_client_locked`), the URL is rebuilt
  from the current credential: with IAM_TOKEN_DB_AUTH a freshly minted token (LiteLLM's own
  `get_rds_iam_token`), with DATABASE_PASSWORD_FILE the file read again;
- a reconnect asked for while the credential in use is stale (the file holds another password, or
  the token is due) is not skipped by LiteLLM's reconnect cooldown (15 s), which exists to spare a
  database that is down, not one that merely changed its password.

LiteLLM's proactive IAM refresh (a new engine before the token expires) is untouched; this adds the
recovery it lacks when a credential changed anyway. docs/gateway.md, "Database credentials and
rotation".
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

PASSWORD_FILE_VARIABLE = "DATABASE_PASSWORD_FILE"  # noqa: S105  # a variable name
IAM_AUTH_VARIABLE = "IAM_TOKEN_DB_AUTH"
WRITER_URL_VARIABLE = "DATABASE_URL"
# How PostgreSQL's refusal reaches prisma-client-py from Prisma's engines (native and WebAssembly):
# "ConnectionError(Authentication failed for user …)", or P1000 "Authentication failed against …".
AUTHENTICATION_FAILED = "authentication failed"
SESSION_TERMINATED = "terminating connection due to administrator command"  # PostgreSQL 57P01
_INSTALLED = "_gateway_db_credentials"


class InstallError(RuntimeError):
    """LiteLLM no longer has what this patches: update gateway/db_credentials.py for its version."""


def with_password(url: str, password: str) -> str:
    """`url` with its password replaced (percent-encoded); user, host, database and parameters kept."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None or parts.hostname is None:
        raise ValueError("the database URL has no user or host to put a password with")
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
    netloc = f"{user}:{urllib.parse.quote(password, safe='')}@{host}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def is_authentication_failure(error: BaseException) -> bool:
    import prisma

    return isinstance(error, prisma.errors.PrismaError) and AUTHENTICATION_FAILED in str(error).lower()


def is_session_terminated(error: BaseException) -> bool:
    import prisma

    return isinstance(error, prisma.errors.PrismaError) and SESSION_TERMINATED in str(error).lower()


def refreshed_writer_url(wrapper: Any, env: Any = os.environ) -> str | None:
    """Put the current credential into DATABASE_URL and return it; None when there is none to fetch."""
    if (env.get(IAM_AUTH_VARIABLE) or "").strip().lower() in ("1", "true", "yes", "on"):
        return wrapper.get_rds_iam_token()  # LiteLLM's own minting; it sets DATABASE_URL
    path = (env.get(PASSWORD_FILE_VARIABLE) or "").strip()
    current = env.get(WRITER_URL_VARIABLE)
    if not path or not current:
        return None
    with open(path, encoding="utf-8") as handle:
        password = handle.read().strip()
    env[WRITER_URL_VARIABLE] = with_password(current, password)
    return env[WRITER_URL_VARIABLE]


def credential_is_stale(writer: Any, env: Any = os.environ) -> bool:
    """Whether the URL in use no longer holds the current credential (a reconnect would fix it)."""
    current = env.get(WRITER_URL_VARIABLE)
    if not current:
        return False
    if (env.get(IAM_AUTH_VARIABLE) or "").strip().lower() in ("1", "true", "yes", "on"):
        return not writer._token_refresh_not_needed(current)
    path = (env.get(PASSWORD_FILE_VARIABLE) or "").strip()
    if not path:
        return False
    try:
        with open(path, encoding="utf-8") as handle:
            password = handle.read().strip()
    except OSError:
        return False
    return urllib.parse.unquote(urllib.parse.urlsplit(current).password or "") != password


def reconnecting_when_stale(reconnect: Any) -> Any:
    """LiteLLM's PrismaClient.attempt_db_reconnect, forced to a new engine while the credential is stale."""

    async def reconnect_past_cooldown_when_stale(
        self: Any, reason: str, force: bool = False, **kwargs: Any
    ) -> bool:
        if credential_is_stale(self.writer_db):
            # Past the cooldown, and past LiteLLM's liveness probe: a pooled session opened with the old
            # credential still answers it (rotation ends no session), and the probe would then keep the
            # stale credential for every new connection. A new engine reads the current one.
            force = True
            kwargs["force_recreate"] = True
        return await reconnect(self, reason, force=force, **kwargs)

    return reconnect_past_cooldown_when_stale


def install() -> None:
    """Patch LiteLLM (once per process); InstallError when the patched names are gone."""
    from litellm.proxy.db.exception_handler import PrismaDBExceptionHandler
    from litellm.proxy.db.prisma_client import PrismaWrapper
    from litellm.proxy.utils import PrismaClient

    for owner, name in (
        (PrismaDBExceptionHandler, "is_database_transport_error"),
        (PrismaWrapper, "_recreate_prisma_client_locked"),
        (PrismaWrapper, "get_rds_iam_token"),
        (PrismaWrapper, "_token_refresh_not_needed"),
        (PrismaClient, "attempt_db_reconnect"),
    ):
        if not callable(getattr(owner, name, None)):
            raise InstallError(
                f"LiteLLM's {owner.__name__}.{name} is gone: gateway/db_credentials.py must be updated"
            )
    if getattr(PrismaWrapper, _INSTALLED, False):
        return

    is_transport = PrismaDBExceptionHandler.is_database_transport_error
    recreate = PrismaWrapper._recreate_prisma_client_locked
    reconnect = PrismaClient.attempt_db_reconnect

    def is_database_transport_error(e: Exception) -> bool:
        return is_transport(e) or is_authentication_failure(e) or is_session_terminated(e)

    async def recreate_with_current_credential(self: Any, new_db_url: str, *args: Any, **kwargs: Any) -> bool:
        if getattr(self, "_db_url_env_var", WRITER_URL_VARIABLE) == WRITER_URL_VARIABLE:
            new_db_url = refreshed_writer_url(self) or new_db_url
        return await recreate(self, new_db_url, *args, **kwargs)

    PrismaDBExceptionHandler.is_database_transport_error = staticmethod(is_database_transport_error)
    PrismaWrapper._recreate_prisma_client_locked = recreate_with_current_credential
    PrismaClient.attempt_db_reconnect = reconnecting_when_stale(reconnect)
    setattr(PrismaWrapper, _INSTALLED, True)
