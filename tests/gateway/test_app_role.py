"""The application role `migrate` creates: LiteLLM's data and nothing else, idempotent (real PostgreSQL)."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

from gateway import entrypoint, migrations

pytestmark = pytest.mark.slow

TABLE = '"LiteLLM_VerificationToken"'


def _connect(url):
    return lambda **kwargs: psycopg.connect(url, **kwargs)


def _as(url: str, role: str, password: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    return psycopg.conninfo.make_conninfo(url, user=role, password=password, dbname=info["dbname"])


def _role() -> str:
    return f"app_{uuid.uuid4().hex[:10]}"  # roles are cluster-wide: one per test


def _migrated(url: str) -> None:
    migrations.apply(_connect(url), migrations.discover(migrations.migrations_dir()), log=lambda _: None)


def _login(url: str, role: str) -> str:
    password = uuid.uuid4().hex
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"ALTER ROLE \"{role}\" PASSWORD '{password}'")
    return _as(url, role, password)


def test_the_role_reads_and_writes_litellms_tables_and_sequences_and_may_not_change_the_schema(new_database):
    _migrated(new_database)
    role = _role()

    assert migrations.ensure_app_role(_connect(new_database), role) is True

    app = _login(new_database, role)
    with psycopg.connect(app, autocommit=True) as conn:
        conn.execute("""INSERT INTO "LiteLLM_VerificationToken" (token) VALUES ('hashed-1')""")
        conn.execute("""UPDATE "LiteLLM_VerificationToken" SET spend = 1 WHERE token = 'hashed-1'""")
        assert conn.execute('SELECT spend FROM "LiteLLM_VerificationToken"').fetchall() == [(1.0,)]
        conn.execute("""DELETE FROM "LiteLLM_VerificationToken" WHERE token = 'hashed-1'""")
        with conn.cursor() as cur:  # a sequence-backed table (serial id)
            sequences = cur.execute(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
            ).fetchall()
        for (sequence,) in sequences[:3]:
            conn.execute(f"SELECT nextval('\"{sequence}\"')")
        for ddl in (
            "CREATE TABLE intruder (id int)",
            f"DROP TABLE {TABLE}",
            f"ALTER TABLE {TABLE} ADD COLUMN x int",
            f"TRUNCATE {TABLE}",
            "CREATE ROLE another",
            "CREATE DATABASE another",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(ddl)
        attributes = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
            "FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert attributes == (True, False, False, False, False, False)


def test_a_second_run_changes_nothing_and_says_so(new_database):
    _migrated(new_database)
    role = _role()
    assert migrations.ensure_app_role(_connect(new_database), role) is True
    assert migrations.ensure_app_role(_connect(new_database), role) is False


def test_tables_of_a_later_migration_are_granted_by_the_next_run(new_database):
    _migrated(new_database)
    role = _role()
    migrations.ensure_app_role(_connect(new_database), role)
    with psycopg.connect(new_database, autocommit=True) as conn:
        conn.execute('CREATE TABLE "LiteLLM_Later" (id serial PRIMARY KEY, note text)')

    assert migrations.ensure_app_role(_connect(new_database), role) is False  # default privileges covered it
    with psycopg.connect(_login(new_database, role), autocommit=True) as conn:
        conn.execute("""INSERT INTO "LiteLLM_Later" (note) VALUES ('x')""")


def test_a_role_that_may_do_more_is_refused_not_used(new_database):
    role = _role()
    with psycopg.connect(new_database, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN CREATEROLE')

    with pytest.raises(migrations.MigrationError, match=rf"{role}.*already exists with CREATEROLE"):
        migrations.ensure_app_role(_connect(new_database), role)


def test_the_role_may_neither_edit_the_migration_record_nor_set_a_sequence(new_database):
    _migrated(new_database)
    role = _role()
    migrations.ensure_app_role(_connect(new_database), role)

    with psycopg.connect(_login(new_database, role), autocommit=True) as conn:
        for statement in (
            'SELECT count(*) FROM "_prisma_migrations"',
            """DELETE FROM "_prisma_migrations" WHERE migration_name = 'x'""",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        (sequence,) = conn.execute(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' LIMIT 1"
        ).fetchone()
        conn.execute(f"SELECT nextval('\"{sequence}\"')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"SELECT setval('\"{sequence}\"', 1)")


@pytest.mark.parametrize(
    ("grant", "named"),
    [
        ("GRANT {owner} TO {role}", "member of {owner}"),
        ("GRANT CREATE ON SCHEMA public TO {role}", "CREATE on schema public"),
        ("GRANT CREATE ON DATABASE {database} TO {role}", "CREATE on database"),
    ],
)
def test_a_role_that_inherits_or_holds_more_rights_is_refused_and_nothing_is_granted(
    new_database, grant, named
):
    """Attributes are not the only way to more: a DBA's membership or CREATE grant is refused too."""
    _migrated(new_database)
    role = _role()
    info = psycopg.conninfo.conninfo_to_dict(new_database)
    with psycopg.connect(new_database, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(
            grant.format(owner=f'"{info["user"]}"', role=f'"{role}"', database=f'"{info["dbname"]}"')
        )

    with pytest.raises(migrations.MigrationError, match=named.format(owner=info["user"])):
        migrations.ensure_app_role(_connect(new_database), role)
    with psycopg.connect(new_database, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = %s", (role,)
        ).fetchone()
    assert tables == (0,)  # the grants of the refused run were rolled back


def test_the_migrating_user_itself_is_refused_as_the_application_role(new_database):
    owner = psycopg.conninfo.conninfo_to_dict(new_database)["user"]
    with pytest.raises(migrations.MigrationError, match="the migrating user itself"):
        migrations.ensure_app_role(_connect(new_database), owner)


@pytest.mark.parametrize("name", ["App", "a-b", "1app", 'x"; DROP TABLE y; --', "a" * 64])
def test_a_role_name_outside_lowercase_identifiers_is_refused_naming_what_is_allowed(new_database, name):
    with pytest.raises(migrations.MigrationError, match="lowercase letters, digits and underscores"):
        migrations.ensure_app_role(_connect(new_database), name)


def test_on_rds_the_role_is_granted_rds_iam_and_elsewhere_not():
    on_rds = migrations.app_role_statements("app", database="litellm", rds_iam=True)
    elsewhere = migrations.app_role_statements("app", database="litellm", rds_iam=False)

    assert on_rds[-1] == 'GRANT rds_iam TO "app"'
    assert not any("rds_iam" in statement for statement in elsewhere)
    assert not any(word in " ".join(elsewhere) for word in ("CREATE ON", "ALL PRIVILEGES", "TRUNCATE"))


def test_where_the_rds_iam_role_exists_the_application_role_becomes_its_member(new_database):
    role = _role()
    with psycopg.connect(new_database, autocommit=True) as conn:
        created = not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam'").fetchone()
        if created:
            conn.execute("CREATE ROLE rds_iam NOLOGIN")
    try:
        migrations.ensure_app_role(_connect(new_database), role)
        with psycopg.connect(new_database) as conn:
            assert conn.execute("SELECT pg_has_role(%s, 'rds_iam', 'MEMBER')", (role,)).fetchone() == (True,)
    finally:
        if created:
            with psycopg.connect(new_database, autocommit=True) as conn:
                conn.execute("DROP ROLE rds_iam")


def test_migrate_creates_the_role_then_a_rerun_says_nothing_changed_and_the_views_are_readable_by_it(
    new_database, migrate_env, capsys
):
    role = _role()
    env = {**migrate_env, "DATABASE_APP_USERNAME": role}

    assert entrypoint.main(["migrate"], env) == 0
    assert entrypoint.main(["migrate"], env) == 0

    records = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    roles = [r.get("role") for r in records if "role" in r]
    assert roles == ["changed", "unchanged"]
    assert any("nothing changed" in r["message"] for r in records)
    with psycopg.connect(_login(new_database, role)) as conn:
        assert conn.execute('SELECT count(*) FROM "LiteLLM_VerificationTokenView"').fetchone() == (0,)


def test_an_owner_that_is_no_superuser_as_on_aurora_creates_and_grants_the_role(postgres_cluster):
    """Aurora's master user has CREATEROLE and CREATEDB but is no superuser; so is this owner."""
    owner, role, name = _role(), _role(), f"t_{uuid.uuid4().hex[:12]}"
    admin = postgres_cluster.url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE \"{owner}\" LOGIN CREATEROLE CREATEDB PASSWORD 'owner-pass'")
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    url = _as(postgres_cluster.url.rsplit("/", 1)[0] + f"/{name}", owner, "owner-pass")
    _migrated(url)  # PostgreSQL 15: the database's owner may create in its public schema

    assert migrations.ensure_app_role(_connect(url), role) is True
    assert migrations.ensure_app_role(_connect(url), role) is False
    with psycopg.connect(_login(url, role), autocommit=True) as conn:
        conn.execute("""INSERT INTO "LiteLLM_VerificationToken" (token) VALUES ('hashed-2')""")
