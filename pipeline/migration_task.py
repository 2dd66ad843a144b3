"""Run the applied stack's migration task on this machine, as ECS would run it.

The deploy runs `migration_task_definition_arn` (a stack output) once per release,
before the service update. Locally there is no ECS to run it, so this reads the
task definition back from the AWS API (the emulator's, in `nox -s integration`),
resolves its secrets from Secrets Manager as the ECS agent does (`valueFrom`
ARNs, JSON keys), and runs the image's ENTRYPOINT (gateway/Dockerfile) with the
task's command and the container's environment: the image's ENV, then the task's
variables and secrets. The substitutions: a database that really answers SQL, given
as `stand_in`, because an emulated Aurora cluster is only an API record; and the
image's own paths (its PATH, /tmp/gateway), which mean nothing outside it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "gateway" / "Dockerfile"
# The entrypoint's JSON log line once the schema is applied (gateway/entrypoint.py `migrate`).
SCHEMA_READY = "ready"
# What a second run must say: nothing to apply (gateway/migrations.py Outcome.summary).
NOTHING_TO_APPLY = "none to apply"
# The variables a stand-in database replaces; everything else comes from the task definition.
DATABASE_ENDPOINT = ("DATABASE_HOST", "DATABASE_PORT")
# Kept from the caller's environment: the process needs them, ECS sets its own.
PROCESS_VARIABLES = ("PATH", "LANG", "LC_ALL", "TMPDIR")
# The image's ENV variables naming its scratch folders: pointed at a local scratch folder instead.
SCRATCH_VARIABLES = ("HOME", "GATEWAY_SCRATCH_DIR")
_REFERENCE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


class MigrationTaskError(Exception):
    """The task definition cannot be run as written; the message says which part and why."""


@dataclass(frozen=True)
class TaskSpec:
    """The parts of a task definition's container that decide what the migration does."""

    family: str
    container: str
    command: tuple[str, ...]
    environment: dict[str, str]
    secrets: dict[str, str]  # variable -> valueFrom


@dataclass(frozen=True)
class StandIn:
    """A database that answers SQL in place of the task definition's endpoint."""

    host: str
    port: int
    sslmode: str = "disable"  # loopback only; the task definition's own default (require) applies in AWS


@dataclass
class MigrateRun:
    """One run of the migrate command: exit code, its JSON log records, anything else it printed."""

    returncode: int
    records: list[dict[str, Any]] = field(default_factory=list)
    other_lines: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def outcome(self) -> dict[str, Any] | None:
        """The record counting the applied migrations, if it was logged."""
        counted = [r for r in self.records if "applied" in r]
        return counted[-1] if counted else None

    @property
    def schema_ready(self) -> bool:
        return any(r.get("schema") == SCHEMA_READY for r in self.records)

    @property
    def applied(self) -> int | None:
        applied = (self.outcome or {}).get("applied")
        return applied if isinstance(applied, int) else None

    @property
    def message(self) -> str:
        outcome = self.outcome
        if outcome is not None:
            return str(outcome.get("message", ""))
        errors = [str(r.get("message", "")) for r in self.records if r.get("level") == "ERROR"]
        return (errors or self.other_lines or [f"exit {self.returncode}, nothing logged"])[-1]


def image_entrypoint(dockerfile: Path = DOCKERFILE) -> list[str]:
    """The image's ENTRYPOINT (exec form), read from the Dockerfile: the one place it is written."""
    entries = [line for line in dockerfile.read_text().splitlines() if line.startswith("ENTRYPOINT")]
    if len(entries) != 1:
        raise MigrationTaskError(f"{dockerfile}: expected one ENTRYPOINT line, found {len(entries)}")
    try:
        argv = json.loads(entries[0].removeprefix("ENTRYPOINT").strip())
    except ValueError:
        argv = None
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise MigrationTaskError(
            f"{dockerfile}: ENTRYPOINT must be the exec form (a JSON list): {entries[0]}"
        )
    return argv


def image_environment(dockerfile: Path = DOCKERFILE) -> dict[str, str]:
    """The ENV of the image's final stage (what every container starts with), `${VAR}` expanded from
    that stage's ARG defaults and earlier ENV; a reference to anything else is left out (e.g. PATH)."""
    lines = dockerfile.read_text().replace("\\\n", " ").splitlines()
    stages = [i for i, line in enumerate(lines) if line.upper().startswith("FROM ")]
    if not stages:
        raise MigrationTaskError(f"{dockerfile}: no FROM line")
    known: dict[str, str] = {}
    env: dict[str, str] = {}
    for line in lines[stages[-1] + 1 :]:
        keyword, _, rest = line.strip().partition(" ")
        if keyword.upper() not in ("ARG", "ENV"):
            continue
        for item in shlex.split(rest):
            name, has_value, value = item.partition("=")
            if keyword.upper() == "ARG":
                if has_value:
                    known.setdefault(name, value)
                continue
            if not has_value:
                raise MigrationTaskError(f"{dockerfile}: ENV {item!r} is not NAME=value")
            names = [a or b for a, b in _REFERENCE.findall(value)]
            if all(n in known for n in names):
                env[name] = known[name] = _REFERENCE.sub(lambda m: known[m.group(1) or m.group(2)], value)
    return env


def local_argv(entrypoint: list[str], command: tuple[str, ...]) -> list[str]:
    """The container's argv run here: its `python` is this interpreter (the same locked packages)."""
    head = [sys.executable] if entrypoint[0] in ("python", "python3") else [entrypoint[0]]
    return [*head, *entrypoint[1:], *command]


def task_spec(ecs: Any, task_definition_arn: str) -> TaskSpec:
    """The task definition's single container: command, plain environment, secret references."""
    definition = ecs.describe_task_definition(taskDefinition=task_definition_arn)["taskDefinition"]
    containers = definition.get("containerDefinitions") or []
    if len(containers) != 1:
        raise MigrationTaskError(
            f"{task_definition_arn}: expected one container, found {[c.get('name') for c in containers]}"
        )
    container = containers[0]
    command = tuple(container.get("command") or ())
    if not command:
        raise MigrationTaskError(
            f"{task_definition_arn}: the container has no command (the image would serve)"
        )
    return TaskSpec(
        family=definition.get("family", ""),
        container=container.get("name", ""),
        command=command,
        environment={e["name"]: e["value"] for e in container.get("environment") or []},
        secrets={s["name"]: s["valueFrom"] for s in container.get("secrets") or []},
    )


def split_value_from(value_from: str) -> tuple[str, str, str, str]:
    """A Secrets Manager `valueFrom`: (secret ARN, JSON key, version stage, version id); empty when absent.

    ECS's form is `arn:aws:secretsmanager:<region>:<account>:secret:<name>[:json-key[:stage[:id]]]`.
    """
    parts = value_from.split(":")
    if len(parts) < 7 or parts[:3] != ["arn", parts[1], "secretsmanager"] or parts[5] != "secret":
        raise MigrationTaskError(f"valueFrom {value_from!r} is not a Secrets Manager secret ARN")
    extra = [*parts[7:], "", "", ""][:3]
    if len(parts) > 10:
        raise MigrationTaskError(f"valueFrom {value_from!r} has more parts than ARN:key:stage:id")
    return (":".join(parts[:7]), *extra)  # type: ignore[return-value]


def resolve_secrets(secretsmanager: Any, refs: Mapping[str, str]) -> dict[str, str]:
    """Each variable's value as the ECS agent would inject it."""
    values = {}
    for name, value_from in refs.items():
        arn, json_key, stage, version = split_value_from(value_from)
        request = {"SecretId": arn, **({"VersionStage": stage} if stage else {})}
        if version:
            request["VersionId"] = version
        secret = secretsmanager.get_secret_value(**request).get("SecretString")
        if secret is None:
            raise MigrationTaskError(f"{name}: secret {arn} has no string value")
        if json_key:
            try:
                secret = json.loads(secret)[json_key]
            except (ValueError, KeyError, TypeError):
                raise MigrationTaskError(f"{name}: secret {arn} has no JSON key {json_key!r}") from None
        values[name] = str(secret)
    return values


def task_environment(
    spec: TaskSpec,
    secrets: Mapping[str, str],
    stand_in: StandIn,
    *,
    image: Mapping[str, str],
    scratch: Path,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The container's environment: the image's ENV (its scratch folders moved to `scratch`), the task's
    plain variables, then its secrets; the database endpoint the stand-in's."""
    missing = [name for name in DATABASE_ENDPOINT if name not in spec.environment]
    if missing:
        raise MigrationTaskError(f"{spec.family}: the task definition sets no {', '.join(missing)}")
    caller = os.environ if base is None else base
    env = {name: value for name, value in image.items() if not value.startswith("/")}
    env.update({name: str(scratch / name.lower()) for name in SCRATCH_VARIABLES if name in image})
    env.update({name: caller[name] for name in PROCESS_VARIABLES if name in caller})
    env.update(spec.environment)
    env.update(secrets)
    env.update(
        DATABASE_HOST=stand_in.host, DATABASE_PORT=str(stand_in.port), DATABASE_SSLMODE=stand_in.sslmode
    )
    return env


def run_migrate(
    argv: list[str], env: Mapping[str, str], *, cwd: Path = ROOT, timeout: float = 900,
    echo: Callable[[str], None] = print,
) -> MigrateRun:  # fmt: skip
    """Run the command to its end, echoing its output; JSON lines are kept as records."""
    began = time.monotonic()
    try:
        result = subprocess.run(
            argv, env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise MigrationTaskError(f"{' '.join(argv[-3:])} did not finish within {timeout:.0f} s") from None
    run = MigrateRun(result.returncode, seconds=time.monotonic() - began)
    for line in (result.stdout + result.stderr).splitlines():
        if not line.strip():
            continue
        echo(f"    {line}")
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            run.records.append(record)
        else:
            run.other_lines.append(line)
    return run


@contextmanager
def stand_in_database(
    *, username: str, password: str, database: str, log: Callable[[str], None] = print
) -> Iterator[StandIn]:
    """A throw-away local PostgreSQL (the local stack's, gateway/devstack/postgres.py) standing in for
    the Aurora cluster: `username` logs in with `password` and owns `database`, with the rights of
    Aurora's master user that migrating needs (CREATEROLE, CREATEDB; not a superuser). Stopped and
    deleted on exit."""
    from gateway.devstack import system
    from gateway.devstack.ports import free_port
    from gateway.devstack.postgres import start_postgres
    from gateway.devstack.supervisor import Supervisor

    # Its own folder under the temporary directory: the service user (PostgreSQL refuses root) must
    # traverse every parent, which a private scratch folder (mode 700) would not allow.
    folder = Path(tempfile.mkdtemp(prefix="stand-in-postgres-"))
    folder.chmod(0o711)
    try:
        with Supervisor(folder / "logs") as supervisor:
            server = start_postgres(
                supervisor, folder / "postgres", free_port(), user=system.service_user(log=log), log=log
            )
            _provision(server, username=username, password=password, database=database)
            yield StandIn(host=server.host, port=server.port)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _provision(server: Any, *, username: str, password: str, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=server.host, port=server.port, user=server.username, password=server.password,
        dbname="postgres", autocommit=True, connect_timeout=10,
    ) as conn:  # fmt: skip
        role, name = sql.Identifier(username), sql.Identifier(database)
        if username == server.username:
            raise MigrationTaskError(f"the master user {username!r} would be the stand-in's superuser")
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEROLE CREATEDB PASSWORD {}").format(
                role, sql.Literal(password)
            )
        )
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        statement = "ALTER DATABASE {} OWNER TO {}" if exists else "CREATE DATABASE {} OWNER {}"
        conn.execute(sql.SQL(statement).format(name, role))
