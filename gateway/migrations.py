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


# ---------------------------------------------------------------- the application role
# What serving tasks connect as (never the master user): LOGIN, no password of its own in AWS
# (IAM database authentication: `rds_iam`), and only LiteLLM's data: DML on its tables and views
# and the use of its sequences, in its schema. No DDL (no CREATE on the schema, owns nothing), no
# SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS. Tables of later migrations are covered
# by the GRANT ... ON ALL TABLES that every migrate run repeats (and by the default privileges).
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Attributes the role must not have; an existing role that has one is refused, not altered (on RDS
# only a superuser may change them, and the master user is none).
FORBIDDEN_ATTRIBUTES = ("rolsuper", "rolcreatedb", "rolcreaterole", "rolreplication", "rolbypassrls")
TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
# USAGE covers nextval (what Prisma's defaults call); UPDATE would also allow setval (key collisions).
SEQUENCE_PRIVILEGES = "USAGE, SELECT"
# Prisma's record of applied migrations: the role must not edit it (a forged row makes `migrate` skip).
MIGRATIONS_TABLE = "_prisma_migrations"
# What an existing role may not hold besides its attributes: membership of another role (it would
# inherit that role's rights: the owner's, rds_superuser's), CREATE on the schema or the database
# (DDL; PostgreSQL 14 and older grant CREATE on `public` to PUBLIC), or ownership of any relation.
_EXTRA_RIGHTS = """
SELECT 'member of ' || m.rolname FROM pg_roles m
 WHERE pg_has_role(%(role)s, m.oid, 'MEMBER') AND m.rolname NOT IN (%(role)s, %(rds_iam)s)
UNION ALL
SELECT 'CREATE on schema ' || %(schema)s WHERE has_schema_privilege(%(role)s, %(schema)s, 'CREATE')
UNION ALL
SELECT 'CREATE on database ' || current_database()
 WHERE has_database_privilege(%(role)s, current_database(), 'CREATE')
UNION ALL
SELECT 'owner of ' || c.relname FROM pg_class c
 WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = %(role)s)
"""
RDS_IAM_ROLE = "rds_iam"  # exists only on RDS/Aurora; membership lets the role log in with IAM tokens
# Everything the role is allowed, read back from the catalogue: compared before and after a run
# to say whether it changed anything.
_SNAPSHOT = """
SELECT 'attr', concat_ws(',', r.rolcanlogin, r.rolsuper, r.rolcreatedb, r.rolcreaterole,
                         r.rolreplication, r.rolbypassrls), ''
  FROM pg_roles r WHERE r.rolname = %(role)s
UNION ALL
SELECT 'member', m.rolname, '' FROM pg_auth_members a
  JOIN pg_roles m ON m.oid = a.roleid JOIN pg_roles r ON r.oid = a.member WHERE r.rolname = %(role)s
UNION ALL
SELECT 'relation', c.relname, x.privilege_type
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) x
 WHERE n.nspname = %(schema)s AND x.grantee = (SELECT oid FROM pg_roles WHERE rolname = %(role)s)
UNION ALL
SELECT 'default', d.defaclobjtype::text, x.privilege_type
  FROM pg_default_acl d, aclexplode(d.defaclacl) x
 WHERE x.grantee = (SELECT oid FROM pg_roles WHERE rolname = %(role)s)
UNION ALL
SELECT 'schema', n.nspname, x.privilege_type
  FROM pg_namespace n, aclexplode(n.nspacl) x
 WHERE n.nspname = %(schema)s AND x.grantee = (SELECT oid FROM pg_roles WHERE rolname = %(role)s)
UNION ALL
SELECT 'database', d.datname, x.privilege_type
  FROM pg_database d, aclexplode(d.datacl) x
 WHERE d.datname = current_database() AND x.grantee = (SELECT oid FROM pg_roles WHERE rolname = %(role)s)
"""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def app_role_statements(role: str, *, schema: str = "public", database: str, rds_iam: bool) -> list[str]:
    """The GRANTs that give `role` LiteLLM's data and nothing else (each idempotent in PostgreSQL)."""
    r, s = _ident(role), _ident(schema)
    statements = [
        f"GRANT CONNECT ON DATABASE {_ident(database)} TO {r}",
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"GRANT {TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA {s} TO {r}",
        f"GRANT {SEQUENCE_PRIVILEGES} ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
        # Objects the migrating user creates later (a migration run by hand, or by a newer LiteLLM).
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT {TABLE_PRIVILEGES} ON TABLES TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT {SEQUENCE_PRIVILEGES} ON SEQUENCES TO {r}",
        # A role granted UPDATE on sequences by an earlier release keeps only what it needs.
        f"REVOKE UPDATE ON ALL SEQUENCES IN SCHEMA {s} FROM {r}",
    ]
    if rds_iam:
        statements.append(f"GRANT {RDS_IAM_ROLE} TO {r}")
    return statements


def _snapshot(conn: Any, role: str, schema: str) -> set[tuple]:
    return set(conn.execute(_SNAPSHOT, {"role": role, "schema": schema}).fetchall())


def ensure_app_role(connect: Callable[..., Any], role: str, *, schema: str = "public") -> bool:
    """Create `role` if missing and grant it LiteLLM's data; True when anything changed.

    Runs as the migrating (owner) user after the migrations. Refuses a role that may do more
    than LiteLLM needs, and a role name that is the migrating user itself.
    """
    if not ROLE_NAME.match(role):
        raise MigrationError(
            f"application role {role!r}: must be lowercase letters, digits and underscores, "
            "starting with a letter or underscore (at most 63)"
        )
    with connect(autocommit=True) as conn:
        me, database = conn.execute("SELECT current_user, current_database()").fetchone()
        if role == me:
            raise MigrationError(
                f"application role {role!r} is the migrating user itself: serving tasks must not connect "
                "as the owner of the schema; choose another name"
            )
        before = _snapshot(conn, role, schema)
        with conn.transaction():
            attributes = conn.execute(
                f"SELECT {', '.join(FORBIDDEN_ATTRIBUTES)} FROM pg_roles WHERE rolname = %s",  # noqa: S608  # constants
                (role,),
            ).fetchone()
            if attributes is None:
                conn.execute(f"CREATE ROLE {_ident(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
            else:
                pairs = zip(FORBIDDEN_ATTRIBUTES, attributes, strict=True)
                held = [name[3:].upper() for name, on in pairs if on]
                if held:
                    raise MigrationError(
                        f"application role {role!r} already exists with {', '.join(held)}: it must hold "
                        "LiteLLM's data only; remove those attributes (as a superuser) and migrate again"
                    )
                conn.execute(f"ALTER ROLE {_ident(role)} LOGIN")
            rds_iam = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (RDS_IAM_ROLE,)).fetchone()
            grants = app_role_statements(role, schema=schema, database=database, rds_iam=bool(rds_iam))
            for statement in grants:
                conn.execute(statement)
            # The grants reach every table, Prisma's migration record too: take that one back.
            record = f"{_ident(schema)}.{_ident(MIGRATIONS_TABLE)}"
            if conn.execute("SELECT to_regclass(%s)", (record,)).fetchone()[0] is not None:
                conn.execute(f"REVOKE ALL ON TABLE {record} FROM {_ident(role)}")
            _refuse_extra_rights(conn, role, schema)
        return _snapshot(conn, role, schema) != before


def _refuse_extra_rights(conn: Any, role: str, schema: str) -> None:
    """After the grants (inside their transaction): anything more than LiteLLM's data rolls them back."""
    params = {"role": role, "schema": schema, "rds_iam": RDS_IAM_ROLE}
    extra = [row[0] for row in conn.execute(_EXTRA_RIGHTS, params).fetchall()]
    if extra:
        raise MigrationError(
            f"application role {role!r} may do more than LiteLLM needs: {', '.join(extra)}; revoke that "
            "(on PostgreSQL 14 and older: REVOKE CREATE ON SCHEMA public FROM PUBLIC) and migrate again"
        )


def ensure_views(connect: Callable[..., Any]) -> None:
    """LiteLLM's views (key + team lookups, spend reports), created as the owner.

    LiteLLM creates them itself at start-up when they are missing; the application role may not
    (no DDL), so the migrate step does, with LiteLLM's own definitions, before it grants.
    """
    import asyncio

    from litellm.proxy.db.create_views import create_missing_views

    class _Raw:
        """The two calls create_missing_views makes, on a psycopg connection."""

        def __init__(self, conn: Any) -> None:
            self.conn = conn

        async def query_raw(self, query: str, *args: object) -> list[dict]:
            cursor = self.conn.execute(query, args or None)
            names = [column.name for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

        async def execute_raw(self, query: str, *args: object) -> int:
            return self.conn.execute(query, args or None).rowcount

    with connect(autocommit=True) as conn:
        asyncio.run(create_missing_views(_Raw(conn)))
