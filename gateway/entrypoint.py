"""Container entrypoint: validate the runtime contract, render the config, exec the proxy.

    python -m gateway.entrypoint [serve|migrate|render|admin …]

`serve` (default) runs the proxy; `migrate` applies LiteLLM's database schema
(gateway/migrations.py) and exits (the one-off migration task); `render` prints
the config it would run; `admin smoke-key|access …` makes management calls through a
LiteLLM of its own on 127.0.0.1 and exits (the one-off admin task, gateway/admin.py).
The variables are those of docs/contracts.md ("Container runtime
contract"). A missing or malformed one stops the container with exit code 2
and one line naming it, before LiteLLM can fail later and less clearly.

Everything written at run time goes under GATEWAY_SCRATCH_DIR (default
/tmp/gateway), so the image runs with a read-only root filesystem.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from gateway import contract, limits, render, trace_content

COMMANDS = contract.COMMANDS  # serve, migrate, render, admin
EXIT_CONFIG_ERROR = 2

# name -> why it is needed (shown when it is missing): gateway/contract.py's table, the one both sides read.
ALWAYS_REQUIRED = contract.required("always")
FULL_REQUIRED = contract.required("full")
DATABASE_REQUIRED = contract.required("database")
SSL_MODES = ("disable", "prefer", "require")
# How a serving process proves who it is to PostgreSQL (docs/gateway.md, "Database credentials and
# rotation"): IAM database authentication (LiteLLM's own IAM_TOKEN_DB_AUTH: a token minted at start,
# refreshed before it expires and whenever the database refuses it), a password file re-read whenever
# the database refuses the password it holds, or a fixed password (migrate: the master user).
IAM_AUTH_VARIABLE = "IAM_TOKEN_DB_AUTH"
PASSWORD_FILE_VARIABLE = "DATABASE_PASSWORD_FILE"  # noqa: S105  # a variable name
APP_ROLE_VARIABLE = "DATABASE_APP_USERNAME"
AUTH_MODES = ("password", "password_file", "iam")
AUTH_RECONNECT_VARIABLE, AUTH_RECONNECT_SECONDS = "PRISMA_AUTH_RECONNECT_TIMEOUT_SECONDS", "5"
# DEBUG logs request and response bodies: never in a running gateway.
LOG_LEVELS = ("INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_LOG_LEVEL = "WARNING"
ACCESS_LOG_LEVEL = "INFO"  # one JSON line per request, whatever LITELLM_LOG says
JSON_FORMATTER = "litellm._logging.JsonFormatter"
NO_DATABASE_MESSAGE = (
    "no database: DATABASE_HOST is not set, so the proxy runs without virtual keys, budgets or "
    "spend tracking and only the master key authenticates"
)
# Phoenix Cloud refuses unauthenticated spans and LiteLLM raises at start-up without a key.
PHOENIX_CLOUD_HOST = "app.phoenix.arize.com"
# Only a local run may weaken the configuration (the benchmark's bare variant and
# GATEWAY_DISABLE): a deployed gateway without its guardrail must be impossible by accident.
LOCAL_ENVIRONMENT = "local"


class ContractError(Exception):
    """The environment breaks the runtime contract; the message names the variable."""


@dataclass(frozen=True, kw_only=True)
class Database:
    host: str
    port: int
    name: str
    username: str
    password: str  # "" with IAM authentication; the file's content when read from a file
    sslmode: str
    auth: str = "password"  # one of AUTH_MODES
    password_file: Path | None = None
    # migrate: the role serving tasks connect as, created and granted LiteLLM's data (None: none managed).
    app_role: str | None = None

    def url(self) -> str:
        """postgresql:// URL with user, password and name percent-encoded (any character is allowed)."""
        user = quote(self.username, safe="")
        password = quote(self.password, safe="")
        name = quote(self.name, safe="")
        return f"postgresql://{user}:{password}@{self.host}:{self.port}/{name}?sslmode={self.sslmode}"


def read_password_file(path: Path) -> str:
    """The password in `path` (one line; surrounding white space dropped); ContractError when unusable."""
    try:
        password = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ContractError(f"{PASSWORD_FILE_VARIABLE}={path}: cannot be read ({error.strerror})") from None
    if not password:
        raise ContractError(f"{PASSWORD_FILE_VARIABLE}={path}: the file is empty")
    return password


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (_value(env, name) or "false").lower()
    if raw not in ("true", "false"):
        raise ContractError(f"{name} must be true or false, got {env[name]!r}")
    return raw == "true"


@dataclass(frozen=True, kw_only=True)
class Settings:
    command: str
    variant: str  # full, or a local run's benchmark variant (gateway/perf/variants.py)
    disabled: tuple[str, ...]
    models: tuple[render.CatalogueModel, ...]
    database: Database | None
    host: str
    port: int
    workers: int
    scratch: Path
    # GATEWAY_MAX_* and GATEWAY_EXPOSE_INTERNAL_HEADERS resolved, defaults included (gateway/limits.py).
    limits: limits.RequestLimits = limits.DEFAULTS
    # GATEWAY_TRACE_CONTENT resolved: prompt and answer text in traces (gateway/trace_content.py).
    trace_content: bool = False


def _value(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _require(env: Mapping[str, str], names: Mapping[str, str]) -> None:
    missing = [name for name in names if _value(env, name) is None]
    if missing:
        details = "; ".join(f"{name} ({names[name]})" for name in missing)
        raise ContractError(f"missing required environment variable(s): {details}")


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = _value(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ContractError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ContractError(f"{name} must be at least {minimum}, got {value}")
    return value


def available_cpus(cgroup_root: Path = Path("/sys/fs/cgroup")) -> float:
    """CPUs this container may use: the cgroup quota when there is one, else the visible CPUs."""
    visible = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota: float | None = None
    try:  # cgroup v2
        limit, period = (cgroup_root / "cpu.max").read_text().split()[:2]
        if limit != "max":
            quota = int(limit) / int(period)
    except (OSError, ValueError):
        try:  # cgroup v1
            limit_us = int((cgroup_root / "cpu" / "cpu.cfs_quota_us").read_text())
            period_us = int((cgroup_root / "cpu" / "cpu.cfs_period_us").read_text())
            if limit_us > 0:
                quota = limit_us / period_us
        except (OSError, ValueError):
            pass
    return min(visible, quota) if quota else float(visible)


default_workers = contract.default_workers  # the rule the task definition applies to its `cpu` too


def _database(env: Mapping[str, str], command: str = "serve") -> Database | None:
    host = _value(env, "DATABASE_HOST")
    if host is None:
        return None
    _require(env, DATABASE_REQUIRED)
    sslmode = _value(env, "DATABASE_SSLMODE") or "require"
    if sslmode not in SSL_MODES:
        raise ContractError(f"DATABASE_SSLMODE must be one of {', '.join(SSL_MODES)}, got {sslmode!r}")
    given = [n for n in ("DATABASE_PASSWORD", PASSWORD_FILE_VARIABLE) if _value(env, n) is not None]
    iam = _flag(env, IAM_AUTH_VARIABLE)
    if iam and command == "migrate":
        raise ContractError(
            f"{IAM_AUTH_VARIABLE}=true: migrate connects as the schema's owner with its password "
            "(DATABASE_USERNAME/DATABASE_PASSWORD of the master secret), not with IAM"
        )
    if iam and given:
        raise ContractError(f"{IAM_AUTH_VARIABLE}=true takes no password: unset {' and '.join(given)}")
    if len(given) > 1:
        raise ContractError(f"set one of DATABASE_PASSWORD and {PASSWORD_FILE_VARIABLE}, not both")
    if not iam and not given:
        raise ContractError(
            "missing required environment variable(s): DATABASE_PASSWORD (the database password), "
            f"or {PASSWORD_FILE_VARIABLE} (a file holding it), or {IAM_AUTH_VARIABLE}=true"
        )
    password_file = Path(env[PASSWORD_FILE_VARIABLE].strip()) if PASSWORD_FILE_VARIABLE in given else None
    username = env["DATABASE_USERNAME"].strip()
    app_role = _value(env, APP_ROLE_VARIABLE)
    if app_role is not None and command != "migrate":
        raise ContractError(
            f"{APP_ROLE_VARIABLE} is for migrate only; a serving task connects as DATABASE_USERNAME"
        )
    if app_role is not None and app_role == username:
        raise ContractError(
            f"{APP_ROLE_VARIABLE}={app_role!r} is DATABASE_USERNAME, the user migrate connects as: "
            "serving tasks must connect as a role other than the schema's owner"
        )
    return Database(
        host=host,
        port=_int(env, "DATABASE_PORT", 5432),
        name=env["DATABASE_NAME"].strip(),
        username=username,
        password=read_password_file(password_file) if password_file else env.get("DATABASE_PASSWORD", ""),
        sslmode=sslmode,
        auth="iam" if iam else "password_file" if password_file else "password",
        password_file=password_file,
        app_role=app_role,
    )


def _check_master_key(key: str) -> None:
    # LiteLLM refuses these too, but only after a slow start and less clearly.
    if not key.startswith("sk-") or key == "sk-1234" or len(key) < 16:
        raise ContractError("LITELLM_MASTER_KEY must be a random key starting with 'sk-' (16+ characters)")


def _local_variant(env: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    """GATEWAY_VARIANT and GATEWAY_DISABLE: the benchmark's weakened configurations.

    Refused outside GATEWAY_ENVIRONMENT=local, and they exist only where gateway/perf does (a
    repository checkout): the image carries no code that switches protection off.
    """
    variant = _value(env, "GATEWAY_VARIANT") or "full"
    raw = _value(env, "GATEWAY_DISABLE")
    if variant == "full" and raw is None:
        return variant, ()
    environment = _value(env, "GATEWAY_ENVIRONMENT")
    if environment != LOCAL_ENVIRONMENT:
        what = f"GATEWAY_DISABLE={raw}" if raw else f"GATEWAY_VARIANT={variant}"
        raise ContractError(
            f"{what} switches protection off and is only allowed with "
            f"GATEWAY_ENVIRONMENT={LOCAL_ENVIRONMENT} (got {environment!r})"
        )
    variants = _bench_variants()
    if variant not in variants.VARIANTS:
        raise ContractError(f"GATEWAY_VARIANT must be one of {', '.join(variants.VARIANTS)}, got {variant!r}")
    try:
        return variant, variants.parse_features(raw)
    except ValueError as error:
        raise ContractError(f"GATEWAY_DISABLE: {error}") from None


def _bench_variants():
    try:
        from gateway.perf import variants
    except ImportError:
        raise ContractError(
            "GATEWAY_VARIANT/GATEWAY_DISABLE need gateway/perf/variants.py, which only a repository "
            "checkout has; the image serves the full configuration only"
        ) from None
    return variants


def _trace_content(env: Mapping[str, str]) -> bool:
    """GATEWAY_TRACE_CONTENT, defaulting by where the collector is: on inside the network, off outside.

    `true` with a collector outside is refused, as the environment file check and CKV_LLMGW_12 refuse it:
    a container started by hand must not be the one way prompts leave the company.
    """
    endpoint = env["PHOENIX_COLLECTOR_ENDPOINT"]
    try:
        chosen = trace_content.parse(env.get(trace_content.VARIABLE))
    except ValueError as error:
        raise ContractError(str(error)) from None
    if chosen is None:
        return trace_content.default_capture(endpoint)
    if chosen and trace_content.collector_is_external(endpoint):
        raise ContractError(
            f"{trace_content.VARIABLE}=true would send prompts and answers to "
            f"{trace_content.collector_host(endpoint)!r}, outside the private network; allowed: false, "
            f"or a PHOENIX_COLLECTOR_ENDPOINT on {trace_content.INSIDE}"
        )
    return chosen


def validate(env: Mapping[str, str], command: str = "serve") -> Settings:
    """Check the environment against the runtime contract; raise ContractError naming what is wrong."""
    if command not in COMMANDS:
        raise ContractError(f"unknown command {command!r}: use one of {', '.join(COMMANDS)}")
    variant, disabled = _local_variant(env)
    _require(env, ALWAYS_REQUIRED)
    level = (_value(env, "LITELLM_LOG") or DEFAULT_LOG_LEVEL).upper()
    if level not in LOG_LEVELS:
        raise ContractError(f"LITELLM_LOG must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    _check_master_key(env["LITELLM_MASTER_KEY"].strip())
    try:
        models = render.catalogue_from_json(env["GATEWAY_MODELS"])
    except render.CatalogueError as error:
        raise ContractError(f"GATEWAY_MODELS: {error}") from None
    database = _database(env, command)
    records_content = False
    if command in ("migrate", "admin"):
        if database is None:
            raise ContractError(f"{command} needs a database: DATABASE_HOST is not set")
    elif variant == "full":
        _require(env, FULL_REQUIRED)
        _int(env, "REDIS_PORT", 6379)
        redis_ssl = (_value(env, "REDIS_SSL") or "false").lower()
        if redis_ssl not in ("true", "false"):
            raise ContractError(f"REDIS_SSL must be true or false, got {env['REDIS_SSL']!r}")
        if PHOENIX_CLOUD_HOST in env["PHOENIX_COLLECTOR_ENDPOINT"] and _value(env, "PHOENIX_API_KEY") is None:
            raise ContractError(
                f"PHOENIX_API_KEY is required when PHOENIX_COLLECTOR_ENDPOINT is {PHOENIX_CLOUD_HOST}"
            )
        records_content = _trace_content(env)
    workers = _int(env, "GATEWAY_WORKERS", default_workers(available_cpus()))
    try:
        request_limits = limits.from_env(env)
    except limits.LimitsError as error:
        raise ContractError(str(error)) from None
    return Settings(
        command=command,
        variant=variant,
        disabled=disabled,
        models=models,
        database=database,
        host=_value(env, "HOST") or "0.0.0.0",  # noqa: S104  # a container listens on its task ENI
        port=_int(env, "PORT", contract.PORT),
        workers=workers,
        scratch=Path(_value(env, "GATEWAY_SCRATCH_DIR") or "/tmp/gateway"),  # noqa: S108  # the one writable mount
        limits=request_limits,
        trace_content=records_content,
    )


# What every command's import of LiteLLM needs (`migrate` imports it in this process, `serve` in the
# proxy's): the entrypoint, not the Dockerfile, owns these, so the image and the local stack agree.
COMMAND_DEFAULTS = {
    # LiteLLM's own default level is DEBUG, which logs prompts. WARNING, not INFO: LiteLLM's
    # per-request INFO lines cost 0.9-1.5 ms of CPU a request (docs/performance.md, "Log level")
    # and say nothing the access log (kept at INFO by uvicorn_log_config) and the traces lack.
    "LITELLM_LOG": DEFAULT_LOG_LEVEL,
    "JSON_LOGS": "true",
    # Read the bundled cost map instead of fetching one when litellm is imported.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "true",
}


def with_command_defaults(env: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment with COMMAND_DEFAULTS filled in where a name is unset or empty."""
    out = dict(env)
    for name, value in COMMAND_DEFAULTS.items():
        if not _value(out, name):
            out[name] = value
    return out


def proxy_environment(settings: Settings, env: Mapping[str, str]) -> dict[str, str]:
    """The environment the proxy runs with: the caller's, plus hygiene and scratch paths."""
    out = with_command_defaults(env)
    scratch = settings.scratch
    defaults = {
        # Load-balancer and container health probes would otherwise fill the log.
        "LITELLM_DISABLE_ACCESS_LOG_PATHS": f"{contract.HEALTH_PATH},{contract.READINESS_PATH}",
        # Below ECS's default 30 s stopTimeout, so draining ends before SIGKILL.
        "GRACEFUL_SHUTDOWN_TIMEOUT": "25",
        "REDIS_SSL": "false",
        # LiteLLM's Redis breaker (one per Redis client: cache and limiter, router), read from the
        # environment only: open after 5 timeouts spanning at least 1 s (LiteLLM: 5 s), skip Redis
        # for 10 s (LiteLLM: 60 s), then probe. With gateway/config.yaml's 0.2 s socket timeouts a
        # hung Redis costs a request well under 1 s (docs/gateway.md, "Retries, cooldowns and timeouts").
        "REDIS_CIRCUIT_BREAKER_FAILURE_THRESHOLD": "5",
        "REDIS_CIRCUIT_BREAKER_TIMEOUT_MIN_DURATION": "1",
        "REDIS_CIRCUIT_BREAKER_RECOVERY_TIMEOUT": "10",
        # Writable copies for a read-only root filesystem (LiteLLM's documented variables).
        "LITELLM_UI_PATH": str(scratch / "ui"),
        "LITELLM_ASSETS_PATH": str(scratch / "assets"),
        "LITELLM_MIGRATION_DIR": str(scratch / "migrations"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name, value in defaults.items():
        if not _value(out, name):
            out[name] = value
    out["NUM_WORKERS"] = str(settings.workers)
    # The request layer (gateway/asgi.py) reads the limits validated here, defaults written out.
    out.update(settings.limits.to_env())
    # Resolved, so the tracing hook reads the entrypoint's decision, default included.
    out[trace_content.VARIABLE] = "true" if settings.trace_content else "false"
    if settings.database is None:
        # Nothing must let LiteLLM build a URL on its own and try Prisma.
        for name in ("DATABASE_URL", "DIRECT_URL", "DATABASE_HOST"):
            out.pop(name, None)
    else:
        database = settings.database
        # LiteLLM's token refresh rebuilds the URL from DATABASE_HOST/PORT/USER/NAME (not DATABASE_USERNAME).
        out["DATABASE_USER"] = database.username
        out.pop("DATABASE_PASSWORD", None)  # in DATABASE_URL (or re-read from the file), never twice
        if database.auth == "iam":
            # LiteLLM mints the URL (a token as the password) and refreshes it (gateway/db_credentials.py).
            out.pop("DATABASE_URL", None)
            out[IAM_AUTH_VARIABLE] = "true"
            out.setdefault("AWS_RDS_REGION", env.get("AWS_REGION", ""))
            out["DATABASE_SSLMODE"] = database.sslmode  # LiteLLM puts it in the URL it builds
        else:
            out["DATABASE_URL"] = database.url()
        # Serving processes never migrate: the `migrate` task does (LiteLLM reads this at start-up).
        out["DISABLE_SCHEMA_UPDATE"] = "true"
        # How long a key lookup that met a refused credential waits for LiteLLM's reconnect (a new
        # query engine with the credential fetched again) before it answers 503. LiteLLM's 2 s is
        # shorter than an engine start on a busy host; 5 s keeps an outage's 503 within 20 s.
        if not _value(out, AUTH_RECONNECT_VARIABLE):
            out[AUTH_RECONNECT_VARIABLE] = AUTH_RECONNECT_SECONDS
        if out.get("GATEWAY_PRISMA_ENGINE") == "wasm":  # an image built with the wasm engine (Dockerfile)
            from gateway import prisma_engine

            out.update(prisma_engine.engine_environment())
    return out


def rendered_config(settings: Settings) -> dict:
    """The config for this command (`migrate` renders one too, though it starts no proxy)."""
    config = render.render_config(
        settings.models, database=settings.database is not None, trace_content=settings.trace_content
    )
    if settings.variant != "full" or settings.disabled:
        _bench_variants().apply(config, settings.variant, settings.disabled)
    return config


def uvicorn_log_config(level: str) -> dict:
    """LiteLLM's JSON log config for uvicorn, but with the access log at INFO whatever `level` is.

    With json_logs LiteLLM derives uvicorn's levels from LITELLM_LOG, so WARNING would also
    silence the access log; this keeps one JSON line per request at any level.
    """
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {name: {"()": JSON_FORMATTER} for name in ("json", "access")},
        "handlers": {
            "default": {**handler, "formatter": "json"},
            "access": {**handler, "formatter": "access"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": ["access"], "level": ACCESS_LOG_LEVEL, "propagate": False},
        },
    }


# `serve` runs LiteLLM's CLI through gateway/serve.py, which serves LiteLLM's app inside the
# gateway's request layer (gateway/asgi.py: body limit, header filter); `migrate` serves nothing.
SERVE_MODULE = "gateway.serve"


def proxy_command(settings: Settings, config_path: Path, log_config_path: Path | None = None) -> list[str]:
    """The LiteLLM CLI invocation that serves."""
    argv = [
        sys.executable, "-m", SERVE_MODULE,
        "--config", str(config_path),
        "--host", settings.host,
        "--port", str(settings.port),
        "--num_workers", str(settings.workers),
    ]  # fmt: skip
    if log_config_path is not None:
        argv += ["--log_config", str(log_config_path)]
    return argv


def migrate(database: Database) -> int:
    """Apply litellm-proxy-extras' migrations (gateway/migrations.py); 0 when the schema is up to date."""
    import psycopg

    from gateway import migrations

    def connect(**kwargs):
        return psycopg.connect(
            host=database.host,
            port=database.port,
            dbname=database.name,
            user=database.username,
            password=database.password,
            sslmode=database.sslmode,
            connect_timeout=10,
            **kwargs,
        )

    try:
        found = migrations.discover(migrations.migrations_dir())
        outcome = migrations.apply(connect, found, log=lambda message: log(message, level="WARNING"))
        log(outcome.summary(), applied=len(outcome.applied), already=outcome.already)
        # Before "schema ready": the serving tasks log in as this role.
        if database.app_role is None:
            log(f"no application role managed ({APP_ROLE_VARIABLE} unset)", level="WARNING")
        elif migrations.ensure_app_role(connect, database.app_role):
            log(f"application role {database.app_role!r} created or its grants changed", role="changed")
        else:
            log(f"application role {database.app_role!r} up to date: nothing changed", role="unchanged")
    except (migrations.MigrationError, psycopg.Error) as error:
        log(f"migrate failed: {error}", level="ERROR")
        return 1
    log("schema ready", schema="ready")
    # Both need LiteLLM's import (~10 s, more on a busy machine), so they come after "schema ready":
    # LiteLLM's views, which a serving process may not create as the application role (it retries
    # until they exist; the role's default privileges cover them), and, as LiteLLM's own migration
    # job does after the migrations, its spend-log indexes (never in a migration).
    try:
        migrations.ensure_views(connect)
    except psycopg.Error as error:
        log(f"migrate failed: LiteLLM's views could not be created: {error}", level="ERROR")
        return 1
    if not migrations.ensure_request_log_indexes(database.url()):
        log("migrate failed: LiteLLM's request-log indexes are not all in place (see above)", level="ERROR")
        return 1
    return 0


def log(message: str, level: str = "INFO", **fields: object) -> None:
    """One JSON line on stderr, shaped like LiteLLM's own json_logs."""
    record = {
        "message": message,
        "level": level,
        "timestamp": datetime.now(UTC).isoformat(),
        "component": "gateway.entrypoint",
        **fields,
    }
    print(json.dumps(record), file=sys.stderr, flush=True)


def prepare_scratch(settings: Settings, config: Mapping) -> Path:
    """Create the scratch tree and write the config readable by this user only."""
    for sub in ("ui", "assets", "migrations", "home"):  # home: the image sets HOME there
        (settings.scratch / sub).mkdir(parents=True, exist_ok=True)
    path = settings.scratch / "litellm.yaml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(render.dump(config))
    return path


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else "serve"
    environ = dict(os.environ if env is None else env)
    try:
        settings = validate(environ, command)
    except ContractError as error:
        log(str(error), level="ERROR")
        if command == "admin":  # its 2 means "changes" (access plan): a bad configuration is an error
            from gateway.admin import EXIT_ERROR

            return EXIT_ERROR
        return EXIT_CONFIG_ERROR
    config = rendered_config(settings)
    if command == "render":
        sys.stdout.write(render.dump(config))
        return 0
    if command == "admin":
        from gateway import admin

        # Only the variables the admin command takes, before any client reads the environment.
        kept, dropped = admin.kept_environment(environ, COMMAND_DEFAULTS)
        if dropped:
            log("admin: variables the admin task does not take were dropped", dropped=dropped)
        if env is None:
            os.environ.clear()
            os.environ.update(kept)
            # The admin programs import boto3 and httpx here: defaults first, as for migrate.
            os.environ.update(with_command_defaults(os.environ))
        return admin.main(args[1:], settings, with_command_defaults(kept), log=log)
    if command == "migrate":
        assert settings.database is not None  # validate() refuses migrate without one
        # migrate imports litellm here, in this process: the defaults must be in place first.
        os.environ.update(with_command_defaults(os.environ))
        return migrate(settings.database)
    if settings.database is None:
        log(NO_DATABASE_MESSAGE, level="WARNING")
    if settings.disabled:
        log(f"local run with features disabled: {', '.join(settings.disabled)}", level="WARNING")
    path = prepare_scratch(settings, config)
    proxy_env = proxy_environment(settings, environ)
    log_config_path = settings.scratch / "log_config.json"
    log_config_path.write_text(json.dumps(uvicorn_log_config(proxy_env["LITELLM_LOG"].upper())))
    proxy_argv = proxy_command(settings, path, log_config_path)
    log(
        f"starting litellm ({command})",
        variant=settings.variant,
        disabled=list(settings.disabled),
        deployments=len(settings.models),
        workers=settings.workers,
        database=settings.database is not None,
        trace_content=settings.trace_content,
        config=str(path),
    )
    # exec: the proxy becomes this process, so ECS's SIGTERM reaches uvicorn directly.
    os.execve(proxy_argv[0], proxy_argv, proxy_env)  # noqa: S606  # argv, no shell
    return 0  # pragma: no cover - execve does not return


if __name__ == "__main__":
    raise SystemExit(main())
