"""The Prisma engine server (gateway/prisma_engine) against a real, migrated PostgreSQL.

Driven two ways: by prisma-client-py itself (the client LiteLLM uses, generated for LiteLLM's schema),
which spawns the server as its query engine; and over HTTP with the GraphQL requests LiteLLM 1.108.7
sent during a smoke run (queries.jsonl, captured with PRISMA_ENGINE_CAPTURE).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from gateway import migrations, prisma_engine

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
CAPTURED = HERE / "queries.jsonl"
# LiteLLM probes for its views with `SELECT 1 FROM "<view>"` and creates the missing ones; on a
# freshly migrated database these probes fail with 42P01 (undefined table), as they do against
# Prisma's native engine.
VIEW_PROBE_PREFIX = 'SELECT 1 FROM \\"'  # as written inside the GraphQL string


@pytest.fixture(scope="module")
def runnable():
    reason = prisma_engine.missing()
    if reason:
        pytest.skip(reason)
    prisma_engine.generate()


@pytest.fixture(scope="module")
def database(postgres_cluster, runnable):
    """One database for the module, migrated as `migrate` does."""
    url = postgres_cluster.url.rsplit("/", 1)[0] + "/engine_tests"
    with psycopg.connect(postgres_cluster.url, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "engine_tests"')
        conn.execute('CREATE DATABASE "engine_tests"')
    found = migrations.discover(migrations.migrations_dir())
    migrations.apply(lambda **kw: psycopg.connect(url, **kw), found, log=lambda _: None)
    return url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(database: str, **env: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    process = subprocess.Popen(
        [str(prisma_engine.LAUNCHER), "-p", str(port), "--enable-metrics", "--enable-raw-queries"],
        env={
            "PATH": os.environ["PATH"],
            "PRISMA_DML_PATH": str(prisma_engine.schema_path()),
            "DATABASE_URL": database,
            **env,
        },
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/status").json() == {"status": "ok"}:
                return process, url
        except httpx.TransportError:
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the engine server did not answer /status in 30 s")


@pytest.fixture(scope="module")
def engine(database):
    process, url = _start(database)
    yield url
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0


def _graphql(url: str, query: str, **extra) -> dict:
    return httpx.post(f"{url}/", json={"query": query, "variables": {}, **extra}, timeout=30).json()


def _with_client(database: str, work):
    """Run `work(db)` with prisma-client-py connected through the engine server, as LiteLLM runs it."""
    os.environ.update(prisma_engine.engine_environment())
    from prisma import Prisma

    async def run():
        db = Prisma(datasource={"url": database})
        await db.connect()
        try:
            return await work(db)
        finally:
            await db.disconnect()

    return asyncio.run(run())


# ---------------------------------------------------------------- the binary's interface
def test_version_names_the_engine_build_as_the_native_binary_does():
    out = subprocess.run(
        [str(prisma_engine.LAUNCHER), "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"query-engine {prisma_engine.ENGINE_COMMIT}"


def test_an_unknown_argument_exits_2_naming_it_and_what_is_allowed():
    out = subprocess.run([str(prisma_engine.LAUNCHER), "-p", "1", "--fast"], capture_output=True, text=True)
    assert out.returncode == 2
    assert '"--fast"' in out.stderr and "-p PORT" in out.stderr


def test_after_sigterm_it_serves_until_its_parent_is_gone_and_then_exits_on_its_own(database):
    # SIGTERM reaches the engine with its parent when a process group is stopped; the parent (LiteLLM)
    # may still flush spend through it. Once the parent is gone (here: killed), the server must go too.
    port = _free_port()
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; p = subprocess.Popen(sys.argv[1:]); print(p.pid, flush=True); "
            "time.sleep(600)",
            str(prisma_engine.LAUNCHER),
            "-p",
            str(port),
        ],
        env={
            "PATH": os.environ["PATH"],
            "PRISMA_DML_PATH": str(prisma_engine.schema_path()),
            "DATABASE_URL": database,
        },
        stdout=subprocess.PIPE,
        text=True,
    )
    child = int(parent.stdout.readline())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/status")
            break
        except httpx.TransportError:
            time.sleep(0.1)
    os.kill(child, signal.SIGTERM)
    time.sleep(1)
    assert httpx.get(f"http://127.0.0.1:{port}/status").json() == {"status": "ok"}
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{child}").exists():
        status = (
            Path(f"/proc/{child}/stat").read_text().split()[2]
            if Path(f"/proc/{child}/stat").exists()
            else "X"
        )
        if status == "Z":
            break
        time.sleep(0.2)
    alive = Path(f"/proc/{child}/stat").exists() and Path(f"/proc/{child}/stat").read_text().split()[2] != "Z"
    assert not alive, "the engine server outlived its parent"


# ---------------------------------------------------------------- what LiteLLM sends
def test_every_query_shape_litellm_sent_during_the_smoke_is_translated_and_answered(engine):
    shapes = [json.loads(line) for line in CAPTURED.read_text().splitlines()]
    assert len(shapes) > 50
    failures = []
    for body in shapes:
        answer = httpx.post(f"{engine}/", json=body, timeout=30).json()
        for error in answer.get("errors", []):
            query = body.get("query", "")
            is_view_probe = "queryRaw" in query and VIEW_PROBE_PREFIX in query and "42P01" in error["error"]
            if not is_view_probe:
                failures.append((query or json.dumps(body)[:300], error["error"][:300]))
        results = answer.get("batchResult", [answer])
        assert all("data" in r or "errors" in r for r in results)
    assert failures == []


# ---------------------------------------------------------------- through prisma-client-py
def test_json_fields_round_trip_as_json_values_including_in_nested_writes(database):
    limits = {"nova-lite": {"budget_limit": 1.5, "time_period": "1d"}}

    async def work(db):
        key = await db.litellm_verificationtoken.create(
            data={
                "token": "json-round-trip",
                "metadata": json.dumps({"team": "a", "tags": ["x", "y"]}),
                "litellm_budget_table": {
                    "create": {
                        "max_budget": 2.0,
                        "created_by": "test",
                        "updated_by": "test",
                        "model_max_budget": json.dumps(limits),
                    }
                },
            },
            include={"litellm_budget_table": True},
        )
        return key

    key = _with_client(database, work)

    assert key.metadata == {"team": "a", "tags": ["x", "y"]}
    assert key.litellm_budget_table.model_max_budget == limits
    with psycopg.connect(database) as conn:  # stored as JSON objects, not as JSON strings holding JSON
        kinds = conn.execute(
            "SELECT jsonb_typeof(t.metadata), jsonb_typeof(b.model_max_budget) "
            'FROM "LiteLLM_VerificationToken" t JOIN "LiteLLM_BudgetTable" b ON b.budget_id = t.budget_id '
            "WHERE t.token = %s",
            ("json-round-trip",),
        ).fetchone()
    assert kinds == ("object", "object")


def test_a_transaction_commits_as_a_whole_or_rolls_back_as_a_whole(database):
    async def work(db):
        await db.litellm_verificationtoken.create(data={"token": "tx", "spend": 0.0})
        async with db.tx() as tx:
            await tx.litellm_verificationtoken.update(
                where={"token": "tx"}, data={"spend": {"increment": 1.0}}
            )
        with pytest.raises(RuntimeError):
            async with db.tx() as tx:
                await tx.litellm_verificationtoken.update(
                    where={"token": "tx"}, data={"spend": {"increment": 10.0}}
                )
                raise RuntimeError("abort")
        batch = db.batch_()
        batch.litellm_verificationtoken.update(where={"token": "tx"}, data={"spend": {"increment": 0.5}})
        await batch.commit()
        return (await db.litellm_verificationtoken.find_unique(where={"token": "tx"})).spend

    assert _with_client(database, work) == 1.5


def test_raw_queries_answer_every_column_type_litellm_reads_including_those_the_pg_adapter_refuses(database):
    sql = (
        "SELECT 1::int AS i, 2::bigint AS b, 1.25::numeric AS n, 'x'::name AS nm, "
        "ARRAY['a','b']::name[] AS names, "
        "'y'::char AS c, interval '1 hour' AS iv, '\"LiteLLM_SpendLogs\"'::regclass AS rc, "
        "'{\"k\": [1]}'::jsonb AS j, NULL::text AS missing, ARRAY[1,2] AS ints, true AS flag"
    )

    async def work(db):
        return await db.query_raw(sql)

    [row] = _with_client(database, work)
    assert row == {
        "i": 1,
        "b": 2,
        "n": 1.25,
        "nm": "x",
        "names": ["a", "b"],
        "c": "y",
        "iv": "01:00:00",
        "rc": '"LiteLLM_SpendLogs"',
        "j": {"k": [1]},
        "missing": None,
        "ints": [1, 2],
        "flag": True,
    }


def test_a_unique_violation_is_prisma_client_pys_unique_violation_error(database):
    from prisma import errors

    async def work(db):
        await db.litellm_verificationtoken.create(data={"token": "dup"})
        with pytest.raises(errors.UniqueViolationError, match="token"):
            await db.litellm_verificationtoken.create(data={"token": "dup"})
        return await db.litellm_verificationtoken.count(where={"token": "dup"})

    assert _with_client(database, work) == 1


# ---------------------------------------------------------------- what it refuses
@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("query { result: findManyNoSuchModel { id } }", "unknown operation"),
        ("query { ...on X { id } }", "unexpected character"),
        (
            'query { result: findManyLiteLLM_VerificationToken(where: {metadata: "x"}) { token } }',
            "Json field",
        ),
        (
            'mutation { result: createOneLiteLLM_BudgetTable(data: {model_max_budget: "{oops"}) { x } }',
            "not JSON",
        ),
        ("query { result: findManyLiteLLM_VerificationToken { t: token } }", "aliases"),
    ],
)
def test_a_query_it_cannot_translate_is_an_error_saying_why_never_a_guess(engine, query, why):
    answer = _graphql(engine, query)
    [error] = answer["errors"]
    assert error["error"].startswith("gateway prisma engine cannot translate this query")
    assert why in error["error"]


def test_variables_are_refused_since_prisma_client_py_never_sends_any(engine):
    answer = _graphql(
        engine, "query { result: findManyLiteLLM_VerificationToken { token } }", variables={"a": 1}
    )
    assert "variables are not supported" in answer["errors"][0]["error"]


def test_raw_rows_come_in_the_format_the_spawning_client_parses(database, engine):
    query = 'mutation { result: queryRaw(query: "SELECT 1 AS one, NULL::int AS none", parameters: "[]") }'
    cells = _graphql(engine, query)["data"]["result"]  # prisma-client-py 0.11 (this lock) parses cells
    assert cells == [
        {
            "one": {"prisma__type": "int", "prisma__value": 1},
            "none": {"prisma__type": "null", "prisma__value": None},
        }
    ]

    process, url = _start(database, PRISMA_ENGINE_RAW_FORMAT="columns")  # prisma-client-py >= 0.15
    try:
        columns = _graphql(url, query)["data"]["result"]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    assert columns == {"columns": ["one", "none"], "types": ["int", "int"], "rows": [[1, None]]}
