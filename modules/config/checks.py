"""The rules an environment file must follow beyond its types, each written once.

Value checks (one field), cross-field rules (one section or one environment) and
cross-environment rules (all folders). Each raises `Invalid` with a message ending in
"allowed: …" and a path relative to what it checks; the loader turns that into one
`ConfigError` line. Constructs re-check nothing of this.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway import limits as request_limits
from gateway import trace_content

if TYPE_CHECKING:
    from modules.config.schema import (
        CacheSettings,
        ComputeSettings,
        DatabaseSettings,
        DeliverySettings,
        EdgeSettings,
        EnvironmentConfig,
        ModelSettings,
        PhoenixSettings,
    )

CONFIG_FILE = "config.yaml"


class ConfigError(Exception):
    """A configuration file is wrong; the message says where and what is allowed."""

    def __init__(self, file: Path | str, field: str, message: str) -> None:
        self.file = str(file)
        self.field = field
        self.message = message
        where = f"{self.file}: {field}: " if field else f"{self.file}: "
        super().__init__(where + message)


class Invalid(ValueError):
    """A value is wrong; `path` is relative to the value or section being checked."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


Check = Callable[[Any], Any]

# ---------------------------------------------------------------- what AWS accepts
# AWS Fargate task sizes: cpu units -> allowed memory (MiB).
FARGATE_SIZES: dict[int, range] = {
    256: range(512, 2048 + 1, 512),
    512: range(1024, 4096 + 1, 1024),
    1024: range(2048, 8192 + 1, 1024),
    2048: range(4096, 16384 + 1, 1024),
    4096: range(8192, 30720 + 1, 1024),
    8192: range(16384, 61440 + 1, 4096),
    16384: range(32768, 122880 + 1, 8192),
}
# CloudWatch Logs accepts only these retention periods (0 = never expire is refused: logs must age out).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
# Aurora Serverless v2 capacity: 0.5-ACU steps up to 256 ACU; min 0 means auto-pause
# (Aurora PostgreSQL 13.15+, 14.12+, 15.7+, 16.3+); max must be at least 1 ACU.
ACU_MAX = 256.0
# ALB and target group names are limited to 32 characters; keep room for suffixes.
MAX_STACK_ID = 24
RESERVED_TAGS = ("project", "environment")
PHOENIX_CLOUD_HOST = "app.phoenix.arize.com"

NAME = r"[a-z][a-z0-9-]*[a-z0-9]"
REGION = r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d"
ARN_PARTITION = r"arn:aws(-[a-z]+)*"
EMAIL = r"[^@\s]+@[^@\s]+\.[a-z]{2,}"
# An ECR repository ARN; the name part follows ECR's own naming rule.
_ECR_NAME = r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
ECR_REPOSITORY_ARN = rf"{ARN_PARTITION}:ecr:{REGION}:\d{{12}}:repository/{_ECR_NAME}"
ACM_CERTIFICATE_ARN = rf"{ARN_PARTITION}:acm:{REGION}:\d{{12}}:certificate/[A-Za-z0-9-]+"
SECRET_ARN = rf"{ARN_PARTITION}:secretsmanager:{REGION}:\d{{12}}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{{6}}"
# GitHub variable names: letters, digits and '_', not starting with a digit or GITHUB_ (GitHub's rules);
# upper case by this project's convention, so a name reads the same in YAML, workflows and docs.
GITHUB_VARIABLE = r"(?!GITHUB_)[A-Z_][A-Z0-9_]*"
GITHUB_VARIABLE_ALLOWED = "a GitHub variable name: upper-case letters, digits, '_', not starting with GITHUB_"
BEDROCK_MODEL_ID = r"((us|eu|apac|us-gov|global)\.)?[a-z0-9-]+\.[a-z0-9._-]+(:[0-9a-z:]+)?"


# ---------------------------------------------------------------- value checks
def pattern(regex: str, allowed: str) -> Check:
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise Invalid(f"{value!r} is not valid; allowed: {allowed}")
        return value

    return check


def int_range(low: int, high: int) -> Check:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise Invalid(f"{value} is out of range; allowed: an integer from {low} to {high}")
        return value

    return check


def one_of(*choices: Any) -> Check:
    def check(value: Any) -> Any:
        if value not in choices:
            raise Invalid(f"{value!r} is not allowed; allowed: {' | '.join(map(str, choices))}")
        return value

    return check


def request_limit(field: str) -> Check:
    """The bounds gateway/limits.py (the image) accepts, so a value synth passes never stops a task."""
    return int_range(*request_limits.bounds(field))


_RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def _ipv4_cidr(value: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as err:
        raise Invalid(
            f"{value!r} is not a valid CIDR ({err}); allowed: an IPv4 network like 10.20.0.0/16"
        ) from None
    if not isinstance(net, ipaddress.IPv4Network) or "/" not in value:
        raise Invalid(
            f"{value!r} is not an IPv4 CIDR; allowed: an IPv4 network with a prefix, like 10.20.0.0/16"
        )
    return net


def vpc_cidr(value: str) -> str:
    net = _ipv4_cidr(value)
    if not 16 <= net.prefixlen <= 24:
        raise Invalid(
            f"{value!r} has prefix /{net.prefixlen}; allowed: /16 to /24 (AWS allows /16 at most and "
            "the subnets are carved as /(prefix+4))"
        )
    if not any(net.subnet_of(block) for block in _RFC1918):
        raise Invalid(
            f"{value!r} is not a private range; allowed: inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"
        )
    return value


def client_cidrs(values: tuple[str, ...]) -> tuple[str, ...]:
    if not values:
        raise Invalid("is empty; allowed: at least one IPv4 CIDR (the WAF blocks everything else)")
    seen: set[ipaddress.IPv4Network] = set()
    for index, value in enumerate(values):
        try:
            net = _ipv4_cidr(value)
        except Invalid as err:
            raise Invalid(err.message, f"[{index}]") from None
        if net.prefixlen == 0:
            raise Invalid(
                f"{value!r} allows the whole internet; allowed: /1 to /32 (AWS WAF refuses /0)", f"[{index}]"
            )
        if net in seen:
            raise Invalid(f"{value!r} is listed twice; allowed: each network once", f"[{index}]")
        seen.add(net)
    return values


def _acu_step(value: float) -> None:
    if value * 2 != int(value * 2):
        raise Invalid(
            f"{value} is not a multiple of 0.5; allowed: 0, 0.5, 1, 1.5, ... 256 (steps of 0.5 ACU)"
        )


def min_acu(value: float) -> float:
    if not 0 <= value <= ACU_MAX:
        raise Invalid(
            f"{value} is out of Aurora Serverless v2's range; allowed: 0 (auto-pause) or 0.5 to 256 "
            "in steps of 0.5"
        )
    _acu_step(value)
    return value


def max_acu(value: float) -> float:
    if not 1 <= value <= ACU_MAX:
        raise Invalid(f"{value} is out of Aurora Serverless v2's range; allowed: 1 to 256 in steps of 0.5")
    _acu_step(value)
    return value


def https_url(value: str) -> str:
    if not re.fullmatch(r"https://[A-Za-z0-9.-]+(:\d+)?(/\S*)?", value):
        raise Invalid(
            f"{value!r} is not an https URL; allowed: https://host[:port]/path (traces carry prompts)"
        )
    return value


def tags(values: Mapping[str, str]) -> Mapping[str, str]:
    for key, value in values.items():
        if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            raise Invalid(
                f"tag key {key!r} is not allowed; allowed: 1-128 characters, not starting with 'aws:'", key
            )
        if key in RESERVED_TAGS:
            raise Invalid(f"tag {key!r} is set by the stack itself; allowed: any other key", key)
        if len(value) > 256:
            raise Invalid("tag value is too long; allowed: up to 256 characters", key)
    return values


def account_ids(values: tuple[str, ...]) -> tuple[str, ...]:
    for index, value in enumerate(values):
        if not re.fullmatch(r"\d{12}", value):
            raise Invalid(f"{value!r} is not valid; allowed: exactly 12 digits, quoted", f"[{index}]")
        if value in values[:index]:
            raise Invalid(f"{value!r} is listed twice; allowed: each account once", f"[{index}]")
    return values


# ---------------------------------------------------------------- cross-field rules (one section)
def compute_sizes(compute: ComputeSettings) -> None:
    """Memory suits the Fargate cpu; min <= desired <= max; a borrowed repository is not shared on."""
    if compute.image_repository is not None and compute.image_pull_account_ids:
        raise Invalid(
            "an environment running another account's repository has no repository of its own to "
            "share; allowed: an empty list when image_repository is set",
            "image_pull_account_ids",
        )
    if compute.memory not in FARGATE_SIZES[compute.cpu]:
        sizes = FARGATE_SIZES[compute.cpu]
        raise Invalid(
            f"{compute.memory} MiB does not fit cpu {compute.cpu}; allowed: {sizes.start} to "
            f"{sizes.stop - 1} in steps of {sizes.step}",
            "memory",
        )
    if compute.min_count > compute.max_count:
        raise Invalid(
            f"min_count {compute.min_count} is greater than max_count {compute.max_count}; "
            "allowed: min_count <= max_count",
            "min_count",
        )
    if not compute.min_count <= compute.desired_count <= compute.max_count:
        raise Invalid(
            f"{compute.desired_count} is outside min_count..max_count; allowed: "
            f"{compute.min_count} to {compute.max_count}",
            "desired_count",
        )


def acu_order(database: DatabaseSettings) -> None:
    if database.min_acu > database.max_acu:
        raise Invalid(
            f"min_acu {database.min_acu} is greater than max_acu {database.max_acu}; "
            "allowed: min_acu <= max_acu",
            "min_acu",
        )


def cache_failover(cache: CacheSettings) -> None:
    if cache.multi_az and cache.nodes < 2:
        raise Invalid(
            "multi_az needs a replica to fail over to; allowed: multi_az false, or nodes >= 2", "multi_az"
        )


def phoenix_target(phoenix: PhoenixSettings) -> None:
    """Content stays inside the private network; Phoenix Cloud needs a key (the image refuses otherwise)."""
    # Refused, not acknowledged: what leaves the company is not a per-environment exception.
    if phoenix.content_capture and trace_content.collector_is_external(phoenix.collector_endpoint):
        host = trace_content.collector_host(phoenix.collector_endpoint)
        raise Invalid(
            f"true would send prompts and answers to {host!r}, "
            f"outside the private network; allowed: false or null, or true with a collector_endpoint on "
            f"{trace_content.INSIDE}",
            "content_capture",
        )
    # The image refuses to start without a key when tracing to Phoenix Cloud (gateway/entrypoint.py).
    if PHOENIX_CLOUD_HOST in phoenix.collector_endpoint and phoenix.api_key_secret_arn is None:
        raise Invalid(
            f"Phoenix Cloud ({PHOENIX_CLOUD_HOST}) needs an API key; allowed: the ARN of a secret "
            "holding it, or a self-hosted collector_endpoint",
            "api_key_secret_arn",
        )


# The role variables pull-request code (it runs with the plan role) must never be handed: what each allows.
PRIVILEGED_ROLE_VARIABLES = {
    "apply_role_variable": "reach the apply role",
    "access_role_variable": "run the admin task",
}


def plan_role_is_no_privileged_role(delivery: DeliverySettings) -> None:
    """Pull-request code runs with the plan role: it must never be handed a role that changes things."""
    for field, allows in PRIVILEGED_ROLE_VARIABLES.items():
        variable = getattr(delivery, field)
        if variable == delivery.plan_role_variable:
            raise Invalid(
                f"{variable!r} is also the plan role's variable; allowed: a variable of its own "
                f"(pull requests run with the plan role and must never {allows})",
                field,
            )


# ---------------------------------------------------------------- cross-field rules (one environment)
def stack_id_length(config: EnvironmentConfig) -> None:
    if len(config.stack_id) > MAX_STACK_ID:
        raise Invalid(
            f"{config.stack_id!r} is {len(config.stack_id)} characters; allowed: project and "
            f"environment name together at most {MAX_STACK_ID} (AWS name limits)",
            "project",
        )


def zones_in_region(config: EnvironmentConfig) -> None:
    zones = config.network.availability_zones
    if not zones:
        return
    region = config.aws.region
    for index, zone in enumerate(zones):
        if not re.fullmatch(rf"{re.escape(region)}[a-z]", zone) or zone in zones[:index]:
            raise Invalid(
                f"{zone!r} is not allowed; allowed: distinct zone names of {region}, e.g. {region}a",
                f"network.availability_zones[{index}]",
            )
    if len(zones) != config.network.az_count:
        raise Invalid(
            f"{len(zones)} zones, az_count {config.network.az_count}; allowed: exactly az_count zones",
            "network.availability_zones",
        )


def image_source(config: EnvironmentConfig) -> None:
    """Cross-account image settings must actually cross accounts, within the stack's region."""
    own = config.aws.account_id
    for index, account in enumerate(config.compute.image_pull_account_ids):
        if account == own:
            raise Invalid(
                f"{account!r} is this environment's own account, which needs no grant; allowed: "
                "other accounts only",
                f"compute.image_pull_account_ids[{index}]",
            )
    source = config.compute.image_repository
    if source is None:
        return
    _, _, _, region, account, _ = source.split(":", 5)
    if account == own:
        raise Invalid(
            f"the repository is in this environment's own account {own}; allowed: another account's "
            "repository, or null for the stack's own",
            "compute.image_repository",
        )
    if region != config.aws.region:
        raise Invalid(
            f"the repository is in {region}; allowed: a repository in {config.aws.region} (tasks pull "
            "through the region's ECR VPC endpoints)",
            "compute.image_repository",
        )


def tls_or_a_reason(edge: EdgeSettings) -> None:
    """Plain HTTP carries API keys readable: only with a certificate absent AND a stated reason."""
    if edge.certificate_arn is None and edge.allow_plaintext is None:
        raise Invalid(
            "is null and no allow_plaintext reason is given; allowed: an ACM certificate ARN (HTTPS), or "
            "allow_plaintext: '<why this environment may serve plain HTTP>' with certificate_arn null",
            "certificate_arn",
        )
    if edge.certificate_arn is not None and edge.allow_plaintext is not None:
        raise Invalid(
            "is set together with certificate_arn, whose listener redirects plain HTTP to HTTPS; "
            "allowed: null when a certificate is configured",
            "allow_plaintext",
        )


def certificate_region(config: EnvironmentConfig) -> None:
    """An ALB can use only ACM certificates of its own account and region."""
    cert = config.edge.certificate_arn
    if cert is None:
        return
    _, _, _, region, account, _ = cert.split(":", 5)
    if region != config.aws.region:
        raise Invalid(
            f"the certificate is in {region}; allowed: a certificate in "
            f"{config.aws.region} (an ALB uses certificates of its own region)",
            "edge.certificate_arn",
        )
    if account != config.aws.account_id:
        raise Invalid(
            f"the certificate belongs to account {account}; allowed: a certificate of this environment's "
            f"account {config.aws.account_id} (an ALB uses certificates of its own account)",
            "edge.certificate_arn",
        )


def state_key_names_environment(config: EnvironmentConfig) -> None:
    *folders, file_name = config.state.key.split("/")
    if config.name not in folders and config.name not in file_name.removesuffix(".tfstate").split("."):
        raise Invalid(
            f"{config.state.key!r} does not name the environment; allowed: a key with {config.name!r} "
            f"as a path segment, e.g. {config.project}/{config.name}/terraform.tfstate",
            "state.key",
        )


def catalogue(config: EnvironmentConfig) -> None:
    """Aliases group models of one mode with one fallback list; fallbacks name other aliases of that mode."""
    models: tuple[ModelSettings, ...] = config.models
    if not models:
        raise Invalid("is empty; allowed: at least one model", "models")
    by_alias: dict[str, list[tuple[int, ModelSettings]]] = {}
    for index, model in enumerate(models):
        by_alias.setdefault(model.alias, []).append((index, model))
    for alias, entries in by_alias.items():
        first_index, first = entries[0]
        seen_ids = {first.model_id}
        for index, model in entries[1:]:
            if model.model_id in seen_ids:
                raise Invalid(
                    f"alias {alias!r} lists {model.model_id!r} twice; allowed: each model once per alias",
                    f"models[{index}].model_id",
                )
            seen_ids.add(model.model_id)
            if model.mode != first.mode:
                raise Invalid(
                    f"alias {alias!r} mixes modes; allowed: the mode of models[{first_index}] ({first.mode})",
                    f"models[{index}].mode",
                )
            if model.fallbacks != first.fallbacks:
                raise Invalid(
                    f"alias {alias!r} has different fallbacks in models[{first_index}]; allowed: the "
                    "same fallbacks on every entry of an alias",
                    f"models[{index}].fallbacks",
                )
    for index, model in enumerate(models):
        seen: set[str] = set()
        for position, fallback in enumerate(model.fallbacks):
            where = f"models[{index}].fallbacks[{position}]"
            if fallback not in by_alias:
                raise Invalid(f"unknown alias {fallback!r}; allowed: {', '.join(sorted(by_alias))}", where)
            if fallback == model.alias:
                raise Invalid(f"{fallback!r} falls back to itself; allowed: another alias", where)
            if fallback in seen:
                raise Invalid(f"{fallback!r} is listed twice; allowed: each alias once", where)
            if by_alias[fallback][0][1].mode != model.mode:
                raise Invalid(
                    f"{fallback!r} is a model of mode {by_alias[fallback][0][1].mode}; allowed: an alias of "
                    f"mode {model.mode}",
                    where,
                )
            seen.add(fallback)


# ---------------------------------------------------------------- cross-environment rules
def across_environments(environments_dir: Path, configs: list[EnvironmentConfig]) -> None:
    """What must hold between environments: checked over ALL folders, even when only some are synthesized."""
    _state_keys_unique(environments_dir, configs)
    _image_sources_granted(environments_dir, configs)
    _one_account_per_bucket_and_role(environments_dir, configs)


def _state_keys_unique(environments_dir: Path, configs: list[EnvironmentConfig]) -> None:
    """Two environments sharing a state object would overwrite each other."""
    owners: dict[tuple[str, str], EnvironmentConfig] = {}
    for config in configs:
        location = (config.state.bucket, config.state.key)
        if location in owners:
            other = owners[location]
            raise ConfigError(
                environments_dir / config.name / CONFIG_FILE,
                "state.key",
                f"s3://{location[0]}/{location[1]} is also the state of {other.name!r}; allowed: "
                "a state key no other environment uses",
            )
        owners[location] = config


def _image_sources_granted(environments_dir: Path, configs: list[EnvironmentConfig]) -> None:
    """An environment pulling from another environment's repository must be granted pull by it.

    Caught here rather than at deploy time, where prod would fail to start with an access error.
    """
    for config in configs:
        source = config.compute.image_repository
        if source is None:
            continue
        _, _, _, region, account, resource = source.split(":", 5)
        for owner in configs:
            owns = (owner.aws.account_id, owner.aws.region, f"repository/{owner.stack_id}")
            if owns != (account, region, resource):
                continue
            if config.aws.account_id not in owner.compute.image_pull_account_ids:
                raise ConfigError(
                    environments_dir / owner.name / CONFIG_FILE,
                    "compute.image_pull_account_ids",
                    f"{config.name!r} (account {config.aws.account_id}) runs images from this environment's "
                    f"repository but may not pull them; allowed: a list including {config.aws.account_id!r}",
                )


def _one_account_per_bucket_and_role(environments_dir: Path, configs: list[EnvironmentConfig]) -> None:
    """A state bucket and a role live in one account: environments of two accounts never share either.

    One state bucket per account keeps an account's state readable only by that account's roles; a role
    variable holds one role's ARN, which cannot be assumed for another account's environment.
    """
    settings = (
        ("state.bucket", lambda c: c.state.bucket, "a bucket of this environment's account (one each)"),
        (
            "delivery.plan_role_variable",
            lambda c: c.delivery.plan_role_variable,
            "a variable naming a role of this environment's account",
        ),
        (
            "delivery.apply_role_variable",
            lambda c: c.delivery.apply_role_variable,
            "a variable naming a role of this environment's account",
        ),
    )
    for field, read, allowed in settings:
        owners: dict[str, EnvironmentConfig] = {}
        for config in configs:
            other = owners.setdefault(read(config), config)
            if other.aws.account_id != config.aws.account_id:
                raise ConfigError(
                    environments_dir / config.name / CONFIG_FILE,
                    field,
                    f"{read(config)!r} is also used by {other.name!r} (account {other.aws.account_id}), and "
                    f"this environment is in account {config.aws.account_id}; allowed: {allowed}",
                )
