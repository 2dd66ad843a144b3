"""The container runtime contract (docs/contracts.md) as the stack fills it: `GatewayRuntime`.

Written in ONE place: the stack fills it from the other constructs' outputs, and the
service turns it into task definitions. Every secret reaches the container through
the task definition's `secrets` (Secrets Manager ARNs), never as a plain
environment value. Kept apart from modules/service.py because it changes with the
contract (gateway/contract.py), while the service changes with ECS.
"""

from __future__ import annotations

import dataclasses

from gateway import contract
from gateway.limits import DEFAULTS as DEFAULT_REQUEST_LIMITS
from gateway.limits import RequestLimits

# The admin command's own variables (gateway/admin.py reads them; docs/contracts.md).
ADMIN_SMOKE_KEY_VARIABLE = "GATEWAY_SMOKE_KEY_SECRET_ID"
ADMIN_ACCESS_PREFIX_VARIABLE = "GATEWAY_ACCESS_SECRET_PREFIX"
ADMIN_ACCESS_KMS_VARIABLE = "GATEWAY_ACCESS_KMS_KEY_ID"


@dataclasses.dataclass(frozen=True, kw_only=True)
class SecretRef:
    """One secret handed to the container: `env` is set from `secret_arn` (or one JSON key of it)."""

    env: str  # environment variable name inside the container
    secret_arn: str  # Secrets Manager secret
    json_key: str | None = None  # JSON key to select; None passes the whole secret string

    @property
    def value_from(self) -> str:
        return f"{self.secret_arn}:{self.json_key}::" if self.json_key else self.secret_arn


@dataclasses.dataclass(frozen=True, kw_only=True)
class GatewayRuntime:
    """The container runtime contract of docs/contracts.md, filled from the other constructs."""

    environment: str  # GATEWAY_ENVIRONMENT
    models_json: str  # GATEWAY_MODELS: JSON list of {alias, model_id, mode, fallbacks}
    region: str  # AWS_REGION
    guardrail_id: str
    guardrail_version: str
    redis_host: str
    redis_port: str
    database_host: str
    database_port: str
    database_name: str
    # The role serving tasks log in as (IAM database authentication, no password) and the one
    # `rds-db:connect` resource their task role gets (modules/database.py).
    database_username: str
    database_connect_arn: str
    phoenix_collector_endpoint: str
    phoenix_project_name: str
    master_key_secret_arn: str  # JSON key LITELLM_MASTER_KEY
    salt_key_secret_arn: str  # JSON key LITELLM_SALT_KEY
    database_secret_arn: str  # Aurora's managed master secret (username/password): the migration task only
    # The cache's IAM sign-in (modules/cache.py): LiteLLM signs a token as this Valkey user for this group.
    redis_iam_user: str | None = None
    redis_cache_name: str | None = None  # the replication group id
    redis_secret_arn: str | None = None  # an AUTH token secret (plain string), for a cache without IAM
    phoenix_api_key_secret_arn: str | None = None  # optional, plain string
    trace_content: bool = False  # GATEWAY_TRACE_CONTENT: prompt and answer text in traces
    workers: int = 1  # GATEWAY_WORKERS: Fargate may report more CPUs than the task is granted
    # GATEWAY_MAX_* and GATEWAY_EXPOSE_INTERNAL_HEADERS: the environment file's `api:` section.
    request_limits: RequestLimits = DEFAULT_REQUEST_LIMITS
    # The admin task only (modules/admin_task.py): where `admin smoke-key` writes the deploy smoke's key,
    # the prefix of the access tooling's key secrets (`<prefix>/access/<alias>`) and the KMS key they use.
    smoke_key_secret_arn: str | None = None
    access_secret_prefix: str | None = None
    access_kms_key_arn: str | None = None

    def environment_vars(self) -> dict[str, str]:
        return {
            "GATEWAY_ENVIRONMENT": self.environment,
            "GATEWAY_MODELS": self.models_json,
            "AWS_REGION": self.region,
            "GUARDRAIL_ID": self.guardrail_id,
            "GUARDRAIL_VERSION": self.guardrail_version,
            "REDIS_HOST": self.redis_host,
            "REDIS_PORT": self.redis_port,
            "REDIS_SSL": "true",
            **self._redis_iam_vars(),
            "DATABASE_HOST": self.database_host,
            "DATABASE_PORT": self.database_port,
            "DATABASE_NAME": self.database_name,
            "DATABASE_USERNAME": self.database_username,
            # LiteLLM mints an IAM token as the password and refreshes it (gateway/db_credentials.py).
            "IAM_TOKEN_DB_AUTH": "true",
            "PHOENIX_COLLECTOR_ENDPOINT": self.phoenix_collector_endpoint,
            "PHOENIX_PROJECT_NAME": self.phoenix_project_name,
            # Always explicit, so the task definition says what leaves in traces (CKV_LLMGW_12).
            "GATEWAY_TRACE_CONTENT": "true" if self.trace_content else "false",
            "GATEWAY_WORKERS": str(self.workers),
            # Always explicit, so the task definition says which limits it runs with.
            **self.request_limits.to_env(),
        }

    def _redis_iam_vars(self) -> dict[str, str]:
        """LiteLLM's own settings for ElastiCache IAM authentication (read from REDIS_AWS_IAM_*)."""
        if not self.redis_iam_user:
            return {}
        if not self.redis_cache_name:
            raise ValueError("GatewayRuntime.redis_cache_name: required with redis_iam_user")
        return {
            "REDIS_AWS_IAM_AUTH": "true",
            "REDIS_AWS_IAM_USER_NAME": self.redis_iam_user,
            "REDIS_AWS_IAM_CACHE_NAME": self.redis_cache_name,
        }

    def migration_environment_vars(self) -> dict[str, str]:
        """What `migrate` needs: the catalogue and region (validated first), the database endpoint, and the
        application role it creates; it logs in as the master user (migration_secrets), not with IAM."""
        keep = ("GATEWAY_ENVIRONMENT", "GATEWAY_MODELS", "AWS_REGION")
        keep += ("DATABASE_HOST", "DATABASE_PORT", "DATABASE_NAME")
        env = {k: v for k, v in self.environment_vars().items() if k in keep}
        return {**env, "DATABASE_APP_USERNAME": self.database_username}

    def migration_secrets(self) -> list[SecretRef]:
        """The database credentials, the master key (required for every command) and the salt key.

        The entrypoint requires the salt key wherever a database is configured: LiteLLM encrypts
        stored credentials with it, so the migrating process must hold the same one as the servers.
        """
        return [self._master_key(), self._salt_key(), *self._database()]

    def _master_key(self) -> SecretRef:
        return SecretRef(
            env="LITELLM_MASTER_KEY", secret_arn=self.master_key_secret_arn, json_key="LITELLM_MASTER_KEY"
        )

    def _salt_key(self) -> SecretRef:
        return SecretRef(
            env="LITELLM_SALT_KEY", secret_arn=self.salt_key_secret_arn, json_key="LITELLM_SALT_KEY"
        )

    def _database(self) -> list[SecretRef]:
        return [
            SecretRef(env="DATABASE_USERNAME", secret_arn=self.database_secret_arn, json_key="username"),
            SecretRef(env="DATABASE_PASSWORD", secret_arn=self.database_secret_arn, json_key="password"),
        ]

    def admin_environment_vars(self) -> dict[str, str]:
        """The serving values of the variables the contract gives `admin` (catalogue, region, database as
        the serving role), plus where its output goes; nothing for traffic (cache, guardrail, traces)."""
        allowed = contract.passed_by_task("admin", "environment")
        serving = {name: value for name, value in self.environment_vars().items() if name in allowed}
        admin = {
            ADMIN_SMOKE_KEY_VARIABLE: self.smoke_key_secret_arn,
            ADMIN_ACCESS_PREFIX_VARIABLE: self.access_secret_prefix,
            ADMIN_ACCESS_KMS_VARIABLE: self.access_kms_key_arn,
        }
        unset = [name for name, value in admin.items() if not value]
        if unset:
            raise ValueError(
                f"GatewayRuntime: the admin task needs {', '.join(unset)} "
                "(fields smoke_key_secret_arn, access_secret_prefix, access_kms_key_arn)"
            )
        return {**serving, **admin}  # type: ignore[dict-item]

    def admin_secrets(self) -> list[SecretRef]:
        """The master key (it calls the management API) and the salt key (LiteLLM encrypts what it stores
        with it); never the database master user, nothing for traffic."""
        return [self._master_key(), self._salt_key()]

    def secrets(self) -> list[SecretRef]:
        # No database secret: serving tasks log in with IAM, never as the master user.
        refs = [self._master_key(), self._salt_key()]
        if self.redis_secret_arn:
            refs.append(SecretRef(env="REDIS_PASSWORD", secret_arn=self.redis_secret_arn))
        if self.phoenix_api_key_secret_arn:
            refs.append(SecretRef(env="PHOENIX_API_KEY", secret_arn=self.phoenix_api_key_secret_arn))
        return refs


def models_json(models: tuple) -> str:
    """GATEWAY_MODELS: the catalogue as the image expects it (a list, in config order)."""
    return contract.catalogue_to_json(models)
