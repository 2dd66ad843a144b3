"""`migrate` against a real PostgreSQL: LiteLLM's migrations in order, recorded as Prisma records them,
idempotent, and a failed migration leaves the database as it was before it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import psycopg
import pytest

from gateway import entrypoint, migrations

pytestmark = pytest.mark.slow


def _connect(url):
    return lambda **kwargs: psycopg.connect(url, **kwargs)


def _tables(url) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {name for (name,) in rows}


def _recorded(url) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            'SELECT migration_name, checksum FROM "_prisma_migrations" '
            "WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL AND applied_steps_count = 1"
        ).fetchall()
    return dict(rows)


def _write(folder: Path, name: str, sql: str) -> None:
    (folder / name).mkdir(parents=True)
    (folder / name / "migration.sql").write_text(sql)


def test_litellm_migrations_apply_in_name_order_each_recorded_with_its_checksum_including_names_with_spaces(
    new_database,
):
    found = migrations.discover(migrations.migrations_dir())
    assert [m.name for m in found] == sorted(m.name for m in found)
    spaced = [m.name for m in found if " " in m.name]
    assert spaced, "litellm-proxy-extras no longer ships a folder name with spaces: drop this assertion"

    outcome = migrations.apply(_connect(new_database), found)

    assert outcome.applied == [m.name for m in found]
    recorded = _recorded(new_database)
    assert recorded == {m.name: m.checksum for m in found}
    script = migrations.migrations_dir() / spaced[0] / "migration.sql"
    assert recorded[spaced[0]] == hashlib.sha256(script.read_bytes()).hexdigest()
    with psycopg.connect(new_database) as conn:  # the spaced folder's column, which spend logging needs
        assert conn.execute(
            "SELECT 1 FROM information_schema.columns "
            "WHERE table_name = 'LiteLLM_SpendLogs' AND column_name = 'organization_id'"
        ).fetchone()


def test_a_second_run_applies_nothing_and_says_so(new_database):
    found = migrations.discover(migrations.migrations_dir())
    migrations.apply(_connect(new_database), found)

    again = migrations.apply(_connect(new_database), found)

    assert again.applied == [] and again.already == len(found)
    assert "none to apply" in again.summary()


def test_a_failed_migration_is_rolled_back_whole_and_not_recorded_and_a_fixed_rerun_applies_only_it(
    new_database, tmp_path
):
    _write(tmp_path, "20250101000000_first", 'CREATE TABLE "first" (id int);')
    _write(tmp_path, "20250102000000_second", 'CREATE TABLE "second" (id int);\nSELECT 1/0;')

    with pytest.raises(
        migrations.MigrationError, match=r"20250102000000_second.*rolled back.*division by zero"
    ):
        migrations.apply(_connect(new_database), migrations.discover(tmp_path))

    assert {"first", "second"} & _tables(new_database) == {"first"}
    assert set(_recorded(new_database)) == {"20250101000000_first"}

    (tmp_path / "20250102000000_second" / "migration.sql").write_text('CREATE TABLE "second" (id int);')
    outcome = migrations.apply(_connect(new_database), migrations.discover(tmp_path))
    assert outcome.applied == ["20250102000000_second"] and outcome.already == 1


def test_a_concurrently_migration_runs_outside_a_transaction_and_a_failed_one_leaves_no_invalid_index(
    new_database, tmp_path
):
    _write(
        tmp_path,
        "20250101000000_table",
        'CREATE TABLE "t" (id int, v int);\nINSERT INTO "t" VALUES (1, 1), (2, 1);',
    )
    _write(
        tmp_path,
        "20250102000000_index",
        '-- CreateIndex\nCREATE INDEX CONCURRENTLY "t_id_idx" ON "t" ("id");',
    )
    _write(
        tmp_path,
        "20250103000000_unique",
        'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "t_v_key" ON "t" ("v");',
    )

    with pytest.raises(migrations.MigrationError, match=r"20250103000000_unique.*invalid index.*dropped"):
        migrations.apply(_connect(new_database), migrations.discover(tmp_path))

    with psycopg.connect(new_database) as conn:
        indexes = {name for (name,) in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 't'")}
    assert indexes == {"t_id_idx"}  # built outside a transaction; the failed unique index is gone
    assert set(_recorded(new_database)) == {"20250101000000_table", "20250102000000_index"}


def test_a_concurrently_migration_of_several_statements_is_refused_before_it_runs(new_database, tmp_path):
    _write(
        tmp_path,
        "20250101000000_two",
        'CREATE TABLE "t" (id int);\nCREATE INDEX CONCURRENTLY "i" ON "t" (id);',
    )

    with pytest.raises(migrations.MigrationError, match="must be a single statement"):
        migrations.apply(_connect(new_database), migrations.discover(tmp_path))

    assert "t" not in _tables(new_database)


def test_a_migration_folder_without_its_script_is_an_error_naming_it(tmp_path):
    (tmp_path / "20250101000000_empty").mkdir()
    with pytest.raises(migrations.MigrationError, match=r"20250101000000_empty.*without migration\.sql"):
        migrations.discover(tmp_path)


def test_the_entrypoint_migrate_command_migrates_builds_litellms_indexes_and_reruns_as_a_no_op(
    new_database, migrate_env, capsys
):
    env = migrate_env

    assert entrypoint.main(["migrate"], env) == 0
    assert entrypoint.main(["migrate"], env) == 0

    messages = [
        json.loads(line)["message"] for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    assert any(m.startswith("applied 2") for m in messages) and any("none to apply" in m for m in messages)
    with psycopg.connect(new_database) as conn:
        indexes = {name for (name,) in conn.execute("SELECT indexname FROM pg_indexes")}
    assert {"LiteLLM_SpendLogs_api_key_startTime_idx", "LiteLLM_SpendLogs_litellm_call_id_idx"} <= indexes
