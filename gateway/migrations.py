"""LiteLLM's database migrations without Prisma's schema engine (`python -m gateway.entrypoint migrate`).

litellm-proxy-extras ships LiteLLM's schema as Prisma migration folders
(`<timestamp>_<name>/migration.sql`). Prisma's `migrate deploy` needs its native
schema engine, which cannot be downloaded everywhere this gateway runs; the SQL
itself needs only PostgreSQL. So this applies them the way `migrate deploy` does:

- in folder-name order, every folder (names may hold spaces: they are listed, never
  word-split), each recorded in `_prisma_migrations` as Prisma records it (sha256 of
  `migration.sql`), so Prisma tools agree about what is applied;
- each migration in its own transaction, so a failed one leaves the database as it
  was before it; a migration using CONCURRENTLY cannot run in a transaction, must
  then be a single statement (as Prisma requires), and on failure the invalid index
  it may leave is dropped;
- under Prisma's advisory lock, so two migrate tasks never interleave;
- idempotent: applied migrations are skipped, and a run with nothing to do says so.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Prisma Migrate's own lock key (schema-engine's ADVISORY_LOCK_ID): held by it and by us.
PRISMA_ADVISORY_LOCK = 72707369
MIGRATIONS_TABLE = "_prisma_migrations"
# In the JSON line `migrate` logs once the schema is applied (before LiteLLM's indexes are built):
# what the local stack waits for before it starts the gateway (gateway/devstack/proxy.py).
SCHEMA_READY_FIELD = '"schema": "ready"'
CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS "{MIGRATIONS_TABLE}" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)
"""
SELECT_RECORDED = (
    'SELECT migration_name, checksum, finished_at IS NOT NULL FROM "_prisma_migrations" '
    "WHERE rolled_back_at IS NULL"
)
RECORD = (
    'INSERT INTO "_prisma_migrations" '
    "(id, checksum, finished_at, migration_name, applied_steps_count, started_at) "
    "VALUES (%s, %s, clock_timestamp(), %s, 1, %s)"
)
_LINE_COMMENT = re.compile(r"--[^\n]*")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_CONCURRENT_INDEX = re.compile(
    r'CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?("(?:[^"]|"")+"|\w+)',
    re.IGNORECASE,
)


class MigrationError(Exception):
    """A migration could not be applied; the message names it and the database's error."""


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str
    checksum: str

    @property
    def concurrent(self) -> bool:
        """Whether it uses CONCURRENTLY (outside comments), so it cannot run in a transaction."""
        return "CONCURRENTLY" in _code(self.sql).upper()


@dataclass
class Outcome:
    applied: list[str] = field(default_factory=list)
    already: int = 0
    seconds: float = 0.0
    changed_checksums: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not self.applied:
            return f"database schema up to date: all {self.already} migrations already applied, none to apply"
        return (
            f"applied {len(self.applied)} migration(s) in {self.seconds:.1f} s "
            f"({self.already} already applied); last: {self.applied[-1]}"
        )


def _code(sql: str) -> str:
    return _LINE_COMMENT.sub("", _BLOCK_COMMENT.sub("", sql))


def migrations_dir() -> Path:
    """The migrations of the installed litellm-proxy-extras (the version the lock pins)."""
    import litellm_proxy_extras

    return Path(litellm_proxy_extras.__file__).parent / "migrations"


def discover(folder: Path) -> list[Migration]:
    """Every `<folder>/*/migration.sql`, in name order; a folder without one is an error."""
    if not folder.is_dir():
        raise MigrationError(f"no migrations folder at {folder}")
    found = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        script = sub / "migration.sql"
        if not script.is_file():
            raise MigrationError(f"{sub}: a migration folder without migration.sql")
        data = script.read_bytes()
        found.append(Migration(sub.name, data.decode("utf-8"), hashlib.sha256(data).hexdigest()))
    if not found:
        raise MigrationError(f"no migrations in {folder}")
    return found


def apply(
    connect: Callable[..., Any],
    migrations: Sequence[Migration],
    *,
    log: Callable[[str], None] = print,
) -> Outcome:
    """Apply what is not yet applied; `connect(autocommit=True)` returns a psycopg connection."""
    began = time.monotonic()
    outcome = Outcome()
    with connect(autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (PRISMA_ADVISORY_LOCK,))
        try:
            conn.execute(CREATE_TABLE)
            rows = conn.execute(SELECT_RECORDED).fetchall()
            done = {name: checksum for name, checksum, finished in rows if finished}
            failed = sorted(name for name, _, finished in rows if not finished)
            if failed:
                raise MigrationError(
                    f"{MIGRATIONS_TABLE} records failed migration(s) never rolled back: {', '.join(failed)}; "
                    "fix the database by hand and mark them rolled back (rolled_back_at), then migrate again"
                )
            for migration in migrations:
                if migration.name in done:
                    outcome.already += 1
                    if done[migration.name] != migration.checksum:
                        outcome.changed_checksums.append(migration.name)
                    continue
                _apply_one(conn, migration)
                outcome.applied.append(migration.name)
            unknown = sorted(set(done) - {m.name for m in migrations})
            if unknown:
                log(f"the database records {len(unknown)} migration(s) this LiteLLM lacks: {unknown[:3]}")
            if outcome.changed_checksums:
                log(f"applied migrations whose file changed since: {outcome.changed_checksums[:3]}")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (PRISMA_ADVISORY_LOCK,))
    outcome.seconds = time.monotonic() - began
    return outcome


def _apply_one(conn: Any, migration: Migration) -> None:
    started = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    row = (str(uuid.uuid4()), migration.checksum, migration.name, started)
    if not migration.concurrent:
        try:
            with conn.transaction():
                conn.execute(migration.sql)
                conn.execute(RECORD, row)
        except Exception as error:
            raise MigrationError(f"migration {migration.name} failed and was rolled back: {error}") from error
        return
    statements = [s for s in _code(migration.sql).split(";") if s.strip()]
    if len(statements) != 1:
        raise MigrationError(
            f"migration {migration.name} uses CONCURRENTLY, which cannot run in a transaction, and has "
            f"{len(statements)} statements; such a migration must be a single statement (as Prisma requires)"
        )
    try:
        conn.execute(statements[0])
    except Exception as error:
        dropped = _drop_invalid_index(conn, statements[0])
        raise MigrationError(
            f"migration {migration.name} failed (CONCURRENTLY, outside a transaction){dropped}: {error}"
        ) from error
    conn.execute(RECORD, row)


def _drop_invalid_index(conn: Any, statement: str) -> str:
    """A failed CREATE INDEX CONCURRENTLY may leave an INVALID index that IF NOT EXISTS would then skip."""
    match = _CONCURRENT_INDEX.search(statement)
    if not match:
        return ""
    name = match.group(1)
    bare = name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()
    invalid = conn.execute(
        "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = %s AND NOT i.indisvalid",
        (bare,),
    ).fetchone()
    if not invalid:
        return ""
    conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    return f"; the invalid index {name} it left was dropped"


def ensure_request_log_indexes(url: str, schema: str = "public") -> bool:
    """LiteLLM's spend-log indexes, which its migration job builds after the migrations (CONCURRENTLY)."""
    from litellm_proxy_extras.request_log_indexes import ensure_request_log_indexes as build

    return build(url, schema)
