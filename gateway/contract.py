"""What crosses the line between the infrastructure and the image, written once.

`modules/` (the task definition, the load balancer), the entrypoint, the renderer, the
local stack and the image build all read these names from here, so the two sides cannot
drift. It ships in the image and needs only the standard library.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

# Where the container listens and what the load balancer and the image's HEALTHCHECK ask.
PORT = 4000
HEALTH_PATH = "/health/liveliness"
READINESS_PATH = "/health/readiness"

MODES = ("chat", "embedding")
COMMANDS = ("serve", "migrate", "render", "admin")
CATALOGUE_FIELDS = ("alias", "model_id", "mode", "fallbacks")
# The admin task's entry point: the image's, with Python ignoring every PYTHON* variable (-E). ECS lets
# whoever may run a task override its containers' environment, and no IAM condition limits that; a
# PYTHONWARNINGS naming an importable module runs code before the entrypoint starts. -u and -B stand
# in for the image's PYTHONUNBUFFERED and PYTHONDONTWRITEBYTECODE, which -E also ignores; the
# entrypoint then keeps only the variables the admin command takes (gateway/admin.py).
ADMIN_ENTRY_POINT = ("python", "-E", "-u", "-B", "-m", "gateway.entrypoint")


def default_workers(cpus: float) -> int:
    """One proxy worker per two CPUs, at least one: the rule the task definition and the entrypoint share.

    A uvicorn worker is an asyncio loop that already keeps one core busy; on 2 cores a second
    worker gained no throughput (docs/environment.md) and cost about 415 MB more. Fargate tasks
    may see more CPUs than they were granted, so the task definition passes the rule's answer
    for its own `cpu` as GATEWAY_WORKERS instead of leaving the container to guess.
    """
    return max(1, int(cpus) // 2)


class CatalogueError(ValueError):
    """The model catalogue is malformed; the message names the entry and field."""


@dataclass(frozen=True, kw_only=True)
class CatalogueModel:
    """One catalogue entry: a public alias backed by one Bedrock model."""

    alias: str
    model_id: str
    mode: str = "chat"
    fallbacks: tuple[str, ...] = ()


def parse_catalogue(entries: object) -> tuple[CatalogueModel, ...]:
    """Validate the catalogue's shape and cross-references (fallbacks name known aliases)."""
    if not isinstance(entries, list) or not entries:
        raise CatalogueError(
            "the model catalogue must be a non-empty list of {alias, model_id, mode, fallbacks}"
        )
    models = []
    for index, entry in enumerate(entries):
        where = f"models[{index}]"
        if not isinstance(entry, Mapping):
            raise CatalogueError(f"{where}: expected a mapping, got {type(entry).__name__}")
        unknown = set(entry) - set(CATALOGUE_FIELDS)
        if unknown:
            raise CatalogueError(f"{where}: unknown field(s) {sorted(unknown)}")
        for field in ("alias", "model_id"):
            if not isinstance(entry.get(field), str) or not entry[field].strip():
                raise CatalogueError(f"{where}.{field}: a non-empty string is required")
        mode = entry.get("mode", "chat")
        if mode not in MODES:
            raise CatalogueError(f"{where}.mode: {mode!r} is not one of {list(MODES)}")
        fallbacks = entry.get("fallbacks") or []
        if not isinstance(fallbacks, list) or not all(isinstance(f, str) for f in fallbacks):
            raise CatalogueError(f"{where}.fallbacks: a list of aliases is required")
        models.append(
            CatalogueModel(
                alias=entry["alias"], model_id=entry["model_id"], mode=mode, fallbacks=tuple(fallbacks)
            )
        )
    _check_cross_references(models)
    return tuple(models)


def _check_cross_references(models: Sequence[CatalogueModel]) -> None:
    modes: dict[str, str] = {}
    for model in models:
        if modes.setdefault(model.alias, model.mode) != model.mode:
            raise CatalogueError(
                f"alias {model.alias!r} mixes modes {modes[model.alias]!r} and {model.mode!r}"
            )
    for model in models:
        for target in model.fallbacks:
            if target not in modes:
                raise CatalogueError(f"alias {model.alias!r} falls back to unknown alias {target!r}")
            if target == model.alias:
                raise CatalogueError(f"alias {model.alias!r} falls back to itself")
            if modes[target] != model.mode:
                raise CatalogueError(
                    f"alias {model.alias!r} ({model.mode}) falls back to {target!r} ({modes[target]})"
                )


def catalogue_from_json(text: str) -> tuple[CatalogueModel, ...]:
    """The GATEWAY_MODELS value the infrastructure sets."""
    try:
        return parse_catalogue(json.loads(text))
    except json.JSONDecodeError as error:
        raise CatalogueError(f"GATEWAY_MODELS is not valid JSON: {error}") from error


def catalogue_to_json(models: Iterable[object]) -> str:
    """GATEWAY_MODELS: the catalogue as the image reads it (a list in config order, compact).

    Takes any entries with the four fields (the environment file's model settings too), so
    there is one writer whoever holds the catalogue.
    """
    return json.dumps(
        [
            {
                "alias": m.alias,
                "model_id": m.model_id,
                "mode": m.mode,
                "fallbacks": list(m.fallbacks),
            }
            for m in models
        ],
        separators=(",", ":"),
    )


# ---------------------------------------------------------------- the container's variables
Source = Literal["environment", "secret", "local"]
When = Literal["always", "full", "database", "optional"]


@dataclass(frozen=True)
class Variable:
    """One variable of the runtime contract (docs/contracts.md is checked against these rows).

    `source`: how the task definition passes it (ECS `environment` or `secrets`), or `local` for knobs
    only local runs and tests set. `commands`: which entrypoint commands take it. `required`: always;
    `full`, when serving the full configuration; `database`, whenever DATABASE_HOST is set; or optional.
    """

    name: str
    source: Source
    commands: tuple[str, ...]
    required: When
    meaning: str


SERVE, MIGRATE, BOTH = ("serve",), ("migrate",), ("serve", "migrate")
# `admin` (gateway/admin.py) starts LiteLLM on its own loopback to make management calls: it takes what
# serve takes for the catalogue, the database (as the serving role) and the keys, nothing for traffic.
ADMIN = ("admin",)
EVERY = (*BOTH, *ADMIN)
SERVE_ADMIN = (*SERVE, *ADMIN)
VARIABLES: tuple[Variable, ...] = (
    Variable(
        "GATEWAY_ENVIRONMENT", "environment", EVERY, "optional", "dev, prod, ... (logs, tracing project)"
    ),
    Variable("GATEWAY_MODELS", "environment", EVERY, "always", "the model catalogue as JSON"),
    Variable("AWS_REGION", "environment", EVERY, "always", "the Bedrock region"),
    Variable("GUARDRAIL_ID", "environment", SERVE, "full", "the deployed Bedrock guardrail"),
    Variable("GUARDRAIL_VERSION", "environment", SERVE, "full", "the deployed Bedrock guardrail's version"),
    Variable("REDIS_HOST", "environment", SERVE, "full", "the cache and rate-limit store"),
    Variable("REDIS_PORT", "environment", SERVE, "full", "the cache and rate-limit store"),
    Variable("REDIS_SSL", "environment", SERVE, "optional", "true in AWS (default false)"),
    Variable("REDIS_AWS_IAM_AUTH", "environment", SERVE, "optional", "true: sign in to Valkey with IAM"),
    Variable("REDIS_AWS_IAM_USER_NAME", "environment", SERVE, "optional", "the Valkey user IAM signs in as"),
    Variable("REDIS_AWS_IAM_CACHE_NAME", "environment", SERVE, "optional", "the replication group id"),
    Variable(
        "DATABASE_HOST", "environment", EVERY, "optional", "the Aurora writer endpoint; unset: no database"
    ),
    Variable("DATABASE_PORT", "environment", EVERY, "optional", "the database port (default 5432)"),
    Variable("DATABASE_NAME", "environment", EVERY, "database", "the database name"),
    Variable(
        "DATABASE_USERNAME",
        "environment",
        SERVE_ADMIN,
        "database",
        "the application role serving tasks log in as",
    ),
    Variable(
        "IAM_TOKEN_DB_AUTH", "environment", SERVE_ADMIN, "optional", "true: log in with a refreshed IAM token"
    ),
    Variable(
        "DATABASE_APP_USERNAME", "environment", MIGRATE, "optional", "the application role migrate creates"
    ),
    Variable("PHOENIX_COLLECTOR_ENDPOINT", "environment", SERVE, "full", "the tracing target"),
    Variable("PHOENIX_PROJECT_NAME", "environment", SERVE, "full", "the tracing project"),
    Variable("GATEWAY_TRACE_CONTENT", "environment", SERVE, "optional", "prompt and answer text in traces"),
    Variable("GATEWAY_WORKERS", "environment", SERVE, "optional", "proxy workers (default_workers' rule)"),
    Variable("GATEWAY_MAX_REQUEST_BODY_MB", "environment", SERVE, "optional", "largest request body"),
    Variable(
        "GATEWAY_MAX_EMBEDDING_INPUTS", "environment", SERVE, "optional", "most inputs per embeddings call"
    ),
    Variable("GATEWAY_MAX_TOKENS", "environment", SERVE, "optional", "largest max_tokens"),
    Variable("GATEWAY_MAX_CACHED_ANSWER_KB", "environment", SERVE, "optional", "largest cached answer"),
    Variable(
        "GATEWAY_EXPOSE_INTERNAL_HEADERS", "environment", SERVE, "optional", "LiteLLM's internal headers"
    ),
    Variable("LITELLM_MASTER_KEY", "secret", EVERY, "always", "the proxy's admin key"),
    Variable(
        "LITELLM_SALT_KEY",
        "secret",
        EVERY,
        "database",
        "the key that encrypts credentials stored in the database",
    ),
    Variable("DATABASE_USERNAME", "secret", MIGRATE, "database", "the master user migrate logs in as"),
    Variable("DATABASE_PASSWORD", "secret", MIGRATE, "optional", "the master user's password"),
    Variable("REDIS_PASSWORD", "secret", SERVE, "optional", "a cache AUTH token (none in AWS: IAM)"),
    Variable("PHOENIX_API_KEY", "secret", SERVE, "optional", "the Phoenix key (required for Phoenix Cloud)"),
    Variable(
        "GATEWAY_SMOKE_KEY_SECRET_ID",
        "environment",
        ADMIN,
        "optional",
        "admin smoke-key: the secret it writes",
    ),
    Variable(
        "GATEWAY_ACCESS_SECRET_PREFIX",
        "environment",
        ADMIN,
        "optional",
        "admin access: <prefix>/access/<alias>",
    ),
    Variable(
        "GATEWAY_ACCESS_KMS_KEY_ID",
        "environment",
        ADMIN,
        "optional",
        "admin access: the KMS key new access secrets are created with",
    ),
    Variable("GATEWAY_VARIANT", "local", SERVE, "optional", "full (default) or bare, local runs only"),
    Variable("GATEWAY_DISABLE", "local", SERVE, "optional", "features switched off, local runs only"),
    Variable("LITELLM_LOG", "local", EVERY, "optional", "log level (default WARNING; DEBUG refused)"),
    Variable("HOST", "local", SERVE, "optional", "listen address (default 0.0.0.0)"),
    Variable("PORT", "local", SERVE, "optional", "listen port (default 4000)"),
    Variable("DATABASE_SSLMODE", "local", EVERY, "optional", "disable, prefer or require (default)"),
    Variable(
        "DATABASE_PASSWORD_FILE",
        "local",
        EVERY,
        "optional",
        "a file holding the password, re-read on refusal",
    ),
    Variable("PRISMA_AUTH_RECONNECT_TIMEOUT_SECONDS", "local", SERVE, "optional", "LiteLLM's; 5 when unset"),
    Variable(
        "GATEWAY_SCRATCH_DIR", "local", EVERY, "optional", "the one writable mount (default /tmp/gateway)"
    ),
    Variable(
        "DATABASE_PASSWORD",
        "local",
        SERVE_ADMIN,
        "optional",
        "a fixed password (tests; deployed tasks use IAM)",
    ),
    Variable(
        "AWS_RDS_REGION", "local", SERVE_ADMIN, "optional", "the IAM token's region (default AWS_REGION)"
    ),
    Variable("GATEWAY_PRISMA_ENGINE", "local", EVERY, "optional", "set by the image: native or wasm engine"),
)


def required(when: When, command: str = "serve") -> dict[str, str]:
    """name -> meaning of the variables `command` requires `when`: what a missing-variable error quotes."""
    return {v.name: v.meaning for v in VARIABLES if v.required == when and command in v.commands}


def passed_by_task(command: str, source: Source) -> frozenset[str]:
    """The names a task definition may pass to `command` through `source` (environment or secrets)."""
    return frozenset(v.name for v in VARIABLES if v.source == source and command in v.commands)
