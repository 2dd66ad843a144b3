"""pipeline.migration_task: the applied migration task definition, run here as ECS would run it."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from pipeline import integration, migration_task
from pipeline.aws_emulator import running

REGION = "us-east-1"
ACCOUNT = "123456789012"


# ---------------------------------------------------------------- the image's entrypoint
def test_the_entrypoint_is_read_from_the_dockerfile():
    assert migration_task.image_entrypoint() == ["python", "-m", "gateway.entrypoint"]


def test_a_shell_form_entrypoint_is_refused_naming_the_file(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch\nENTRYPOINT python -m gateway.entrypoint\n")
    with pytest.raises(
        migration_task.MigrationTaskError, match="Dockerfile: ENTRYPOINT must be the exec form"
    ):
        migration_task.image_entrypoint(dockerfile)


def test_the_container_python_is_this_interpreter_and_the_command_follows():
    argv = migration_task.local_argv(["python", "-m", "gateway.entrypoint"], ("migrate",))
    assert argv == [sys.executable, "-m", "gateway.entrypoint", "migrate"]


# ---------------------------------------------------------------- valueFrom
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!cluster-abc-AbCdEf"


@pytest.mark.parametrize(
    ("value_from", "expected"),
    [
        (SECRET, (SECRET, "", "", "")),
        (f"{SECRET}:password::", (SECRET, "password", "", "")),
        (f"{SECRET}:username:AWSCURRENT:", (SECRET, "username", "AWSCURRENT", "")),
        (f"{SECRET}::AWSPREVIOUS:v-1", (SECRET, "", "AWSPREVIOUS", "v-1")),
    ],
)
def test_value_from_splits_into_arn_json_key_stage_and_version(value_from, expected):
    assert migration_task.split_value_from(value_from) == expected


@pytest.mark.parametrize(
    "value_from",
    ["arn:aws:ssm:us-east-1:1:parameter/x", "plain-name", f"{SECRET}:k:s:v:extra"],
)
def test_anything_but_a_secrets_manager_arn_is_refused(value_from):
    with pytest.raises(migration_task.MigrationTaskError, match="valueFrom"):
        migration_task.split_value_from(value_from)


# ---------------------------------------------------------------- against the AWS emulator
@pytest.fixture(scope="module")
def aws():
    with running(account_id=ACCOUNT) as server:
        yield lambda service: server.client(service, REGION)


def _task_definition(aws, *, command, secrets, environment=None) -> str:
    container = {
        "name": "migrate",
        "image": "example/gateway:1",
        "essential": True,
        "memory": 512,
        "command": command,
        "environment": [
            {"name": k, "value": v}
            for k, v in (
                environment or {"DATABASE_HOST": "db.cluster-x.rds.amazonaws.com", "DATABASE_PORT": "5432"}
            ).items()
        ],
        "secrets": [{"name": k, "valueFrom": v} for k, v in secrets.items()],
    }
    made = aws("ecs").register_task_definition(family="gw-migrate", containerDefinitions=[container])
    return made["taskDefinition"]["taskDefinitionArn"]


def test_the_task_definition_and_its_secrets_are_read_back_as_ecs_injects_them(aws):
    sm = aws("secretsmanager")
    master = sm.create_secret(
        Name="master", SecretString=json.dumps({"username": "admin", "password": "p@ss"})
    )
    salt = sm.create_secret(Name="salt", SecretString=json.dumps({"LITELLM_SALT_KEY": "sk-salt"}))
    plain = sm.create_secret(Name="plain", SecretString="just-a-string")
    arn = _task_definition(
        aws,
        command=["migrate"],
        secrets={
            "DATABASE_USERNAME": f"{master['ARN']}:username::",
            "DATABASE_PASSWORD": f"{master['ARN']}:password::",
            "LITELLM_SALT_KEY": f"{salt['ARN']}:LITELLM_SALT_KEY::",
            "TOKEN": plain["ARN"],
        },
    )
    spec = migration_task.task_spec(aws("ecs"), arn)
    assert (spec.family, spec.container, spec.command) == ("gw-migrate", "migrate", ("migrate",))
    assert spec.environment["DATABASE_HOST"] == "db.cluster-x.rds.amazonaws.com"
    assert migration_task.resolve_secrets(sm, spec.secrets) == {
        "DATABASE_USERNAME": "admin",
        "DATABASE_PASSWORD": "p@ss",
        "LITELLM_SALT_KEY": "sk-salt",
        "TOKEN": "just-a-string",
    }


def test_a_missing_json_key_is_an_error_naming_the_variable(aws):
    secret = aws("secretsmanager").create_secret(Name="nokey", SecretString=json.dumps({"a": 1}))
    with pytest.raises(
        migration_task.MigrationTaskError, match=r"DATABASE_PASSWORD: .* no JSON key 'password'"
    ):
        migration_task.resolve_secrets(
            aws("secretsmanager"), {"DATABASE_PASSWORD": f"{secret['ARN']}:password::"}
        )


def test_a_task_without_a_command_is_refused_because_the_image_would_serve(aws):
    arn = _task_definition(aws, command=[], secrets={})
    with pytest.raises(migration_task.MigrationTaskError, match="no command"):
        migration_task.task_spec(aws("ecs"), arn)


# ---------------------------------------------------------------- the environment
def _spec(**environment: str) -> migration_task.TaskSpec:
    return migration_task.TaskSpec(
        family="gw-migrate",
        container="migrate",
        command=("migrate",),
        environment=environment,
        secrets={},
    )


def test_the_image_env_of_the_final_stage_is_read_with_its_arg_defaults_expanded(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM base AS builder\nENV BUILD_ONLY=1\n"
        "FROM base AS runtime\nARG ENGINE=native\n"
        "ENV PATH=/opt/venv/bin:${PATH} \\\n    JSON_LOGS=true \\\n    GATEWAY_PRISMA_ENGINE=${ENGINE} \\\n"
        '    HOME=/tmp/gateway/home\nENTRYPOINT ["python"]\n'
    )
    assert migration_task.image_environment(dockerfile) == {
        "JSON_LOGS": "true",
        "GATEWAY_PRISMA_ENGINE": "native",
        "HOME": "/tmp/gateway/home",
    }


def test_the_real_image_leaves_the_cost_map_default_to_the_entrypoint():
    """The entrypoint sets it for migrate too (tests/gateway/test_entrypoint.py); an image ENV would be
    a second source that a task variable could not tell apart from the entrypoint's own."""
    assert "LITELLM_LOCAL_MODEL_COST_MAP" not in migration_task.image_environment()
    assert migration_task.image_environment()["PYTHONPATH"] == "/app"


def test_the_container_environment_is_image_then_task_then_secrets_with_the_stand_in_endpoint(tmp_path):
    spec = _spec(DATABASE_HOST="db.aws", DATABASE_PORT="5432", DATABASE_NAME="litellm", JSON_LOGS="false")
    env = migration_task.task_environment(
        spec,
        {"DATABASE_PASSWORD": "secret"},
        migration_task.StandIn(host="127.0.0.1", port=6543),
        image={"JSON_LOGS": "true", "PYTHONPATH": "/app", "HOME": "/tmp/gateway/home", "COST_MAP": "local"},
        scratch=tmp_path,
        base={"PATH": "/bin", "AWS_PROFILE": "developer", "HOME": "/root"},
    )
    assert env == {
        "PATH": "/bin",
        "HOME": str(tmp_path / "home"),
        "COST_MAP": "local",
        "JSON_LOGS": "false",
        "DATABASE_HOST": "127.0.0.1",
        "DATABASE_PORT": "6543",
        "DATABASE_SSLMODE": "disable",
        "DATABASE_NAME": "litellm",
        "DATABASE_PASSWORD": "secret",
    }


def test_a_task_without_a_database_endpoint_is_refused():
    with pytest.raises(migration_task.MigrationTaskError, match="sets no DATABASE_HOST"):
        migration_task.task_environment(
            _spec(DATABASE_PORT="5432"),
            {},
            migration_task.StandIn(host="127.0.0.1", port=1),
            image={},
            scratch=Path("/nonexistent"),
        )


# ---------------------------------------------------------------- running it, and the verdicts
def _fake_migrate(tmp_path: Path, lines: list[str], code: int = 0) -> list[str]:
    script = tmp_path / "fake_migrate.py"
    script.write_text(
        "import sys\n"
        + "".join(f"print({line!r}, file=sys.stderr)\n" for line in lines)
        + f"sys.exit({code})\n"
    )
    return [sys.executable, str(script)]


def _record(message: str, applied: int, already: int) -> str:
    return json.dumps(
        {"message": message, "level": "INFO", "applied": applied, "already": already, "schema": "ready"}
    )


def test_a_run_keeps_the_json_records_and_reads_the_outcome(tmp_path):
    argv = _fake_migrate(tmp_path, ["not json", _record("applied 3 migration(s) in 1.0 s", 3, 0)])
    run = migration_task.run_migrate(argv, {"PATH": "/usr/bin"}, cwd=tmp_path, echo=lambda _: None)
    assert (run.returncode, run.applied, run.message) == (0, 3, "applied 3 migration(s) in 1.0 s")
    assert run.other_lines == ["not json"]


def test_the_count_and_the_schema_ready_may_come_in_separate_records(tmp_path):
    counted = json.dumps(
        {"message": "database schema up to date: none to apply", "applied": 0, "already": 220}
    )
    ready = json.dumps({"message": "schema ready", "level": "INFO", "schema": "ready"})
    run = migration_task.run_migrate(_fake_migrate(tmp_path, [counted, ready]), {}, cwd=tmp_path, echo=print)
    assert (run.applied, run.schema_ready, run.message) == (
        0,
        True,
        "database schema up to date: none to apply",
    )


def test_a_failed_run_reports_its_error_line(tmp_path):
    error = json.dumps({"message": "migrate failed: boom", "level": "ERROR"})
    run = migration_task.run_migrate(
        _fake_migrate(tmp_path, [error], 1), {}, cwd=tmp_path, echo=lambda _: None
    )
    assert (run.returncode, run.applied, run.message) == (1, None, "migrate failed: boom")


def _run(applied: int | None, message: str, code: int = 0) -> migration_task.MigrateRun:
    records = [] if applied is None else [json.loads(_record(message, applied, 220 - applied))]
    return migration_task.MigrateRun(code, records=records)


def test_the_verdicts_pass_when_the_second_run_applies_nothing_and_says_so():
    first = _run(220, "applied 220 migration(s) in 40.0 s (0 already applied)")
    second = _run(0, "database schema up to date: all 220 migrations already applied, none to apply")
    assert all(check.ok for check in integration.migrate_verdicts(first, second))


@pytest.mark.parametrize(
    "second",
    [
        _run(1, "applied 1 migration(s) in 0.1 s (219 already applied)"),
        _run(0, "done"),  # silent about having nothing to apply
        _run(None, "", code=1),
    ],
)
def test_a_second_run_that_applies_something_or_says_nothing_fails(second):
    first = _run(220, "applied 220 migration(s)")
    verdicts = integration.migrate_verdicts(first, second)
    assert [check.ok for check in verdicts] == [True, False]


def test_a_first_run_that_applies_nothing_fails():
    nothing = _run(0, "database schema up to date: none to apply")
    assert not integration.migrate_verdicts(nothing, nothing)[0].ok


# ---------------------------------------------------------------- the stand-in database
@pytest.mark.skipif(
    not (shutil.which("initdb") or Path("/usr/lib/postgresql/15/bin/initdb").exists()),
    reason="PostgreSQL 15 is not installed (README set-up: apt-get install postgresql)",
)
def test_the_stand_in_lets_the_master_user_in_owning_the_database_without_superuser():
    import psycopg

    with (
        migration_task.stand_in_database(
            username="gateway_admin", password="p'w d", database="litellm", log=lambda _: None
        ) as stand_in,
        psycopg.connect(
            host=stand_in.host, port=stand_in.port, user="gateway_admin", password="p'w d", dbname="litellm"
        ) as conn,
    ):
        owner, superuser, createrole = conn.execute(
            "SELECT pg_get_userbyid(d.datdba), r.rolsuper, r.rolcreaterole "
            "FROM pg_database d, pg_roles r "
            "WHERE d.datname = current_database() AND r.rolname = current_user"
        ).fetchone()
    assert (owner, superuser, createrole) == ("gateway_admin", False, True)
    with pytest.raises(psycopg.OperationalError):  # stopped on exit
        psycopg.connect(host=stand_in.host, port=stand_in.port, user="gateway_admin", connect_timeout=2)
