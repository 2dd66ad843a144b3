"""Typed, validated environment configuration (`environments/<name>/config.yaml`).

Every setting that differs between environments lives in one YAML file per
environment folder. schema.py says what the file may hold (read it first),
checks.py the rules beyond types, loader.py turns a file into frozen settings or
ONE `ConfigError` naming the file, the field path and what is allowed.
Constructs take these sections as they are.
"""

from modules.config.checks import (
    CONFIG_FILE,
    FARGATE_SIZES,
    LOG_RETENTION_DAYS,
    MAX_STACK_ID,
    RESERVED_TAGS,
    ConfigError,
)
from modules.config.loader import environment_dirs, load, load_all
from modules.config.schema import (
    ApiSettings,
    AwsSettings,
    CacheSettings,
    ComputeSettings,
    DatabaseSettings,
    DeliverySettings,
    EdgeSettings,
    EnvironmentConfig,
    ModelSettings,
    NetworkSettings,
    ObservabilitySettings,
    PhoenixSettings,
    SecretsSettings,
    StateSettings,
)

__all__ = [
    "CONFIG_FILE",
    "FARGATE_SIZES",
    "LOG_RETENTION_DAYS",
    "MAX_STACK_ID",
    "RESERVED_TAGS",
    "ApiSettings",
    "AwsSettings",
    "CacheSettings",
    "ComputeSettings",
    "ConfigError",
    "DatabaseSettings",
    "DeliverySettings",
    "EdgeSettings",
    "EnvironmentConfig",
    "ModelSettings",
    "NetworkSettings",
    "ObservabilitySettings",
    "PhoenixSettings",
    "SecretsSettings",
    "StateSettings",
    "environment_dirs",
    "load",
    "load_all",
]
