"""Typed, validated environment configuration (`environments/<name>/config.yaml`).

Every setting that differs between environments lives in one YAML file per
environment folder. It is loaded into frozen dataclasses whose field names are
the YAML keys, so constructs read `config.database.min_acu` and a typo in the
file can never be silently ignored. Any problem stops synth with ONE
`ConfigError` naming the file, the field path and what is allowed.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import ipaddress
import re
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from gateway import limits as request_limits
from gateway import trace_content

CONFIG_FILE = "config.yaml"


class ConfigError(Exception):
    """A configuration file is wrong; the message says where and what is allowed."""

    def __init__(self, file: Path | str, field: str, message: str) -> None:
        self.file = str(file)
        self.field = field
        self.message = message
        where = f"{self.file}: {field}: " if field else f"{self.file}: "
        super().__init__(where + message)


class _Invalid(Exception):
    """A value is wrong; raised with a path relative to the value being checked."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def _join(*parts: str) -> str:
    out = ""
    for part in parts:
        if not part:
            continue
        out = part if not out else (f"{out}{part}" if part.startswith("[") else f"{out}.{part}")
    return out


# ---------------------------------------------------------------- value checks
Check = Callable[[Any], None]


def _about(doc: str, check: Check | None = None) -> dict[str, Any]:
    """Field metadata: a one-line description (used in messages) and an optional value check."""
    return {"doc": doc, "check": check}


def _setting(doc: str, check: Check | None = None, **kw: Any) -> Any:
    """A config field with its description and check."""
    return dataclasses.field(metadata=_about(doc, check), **kw)


def _pattern(regex: str, allowed: str) -> Check:
    compiled = re.compile(regex)

    def check(value: str) -> None:
        if not compiled.fullmatch(value):
            raise _Invalid(f"{value!r} is not valid; allowed: {allowed}")

    return check


def _int_range(low: int, high: int) -> Check:
    def check(value: int) -> None:
        if not low <= value <= high:
            raise _Invalid(f"{value} is out of range; allowed: an integer from {low} to {high}")

    return check


def _one_of(*choices: Any) -> Check:
    def check(value: Any) -> None:
        if value not in choices:
            raise _Invalid(f"{value!r} is not allowed; allowed: {' | '.join(map(str, choices))}")

    return check


_RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def _ipv4_cidr(value: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as err:
        raise _Invalid(
            f"{value!r} is not a valid CIDR ({err}); allowed: an IPv4 network like 10.20.0.0/16"
        ) from None
    if not isinstance(net, ipaddress.IPv4Network) or "/" not in value:
        raise _Invalid(
            f"{value!r} is not an IPv4 CIDR; allowed: an IPv4 network with a prefix, like 10.20.0.0/16"
        )
    return net


def _vpc_cidr(value: str) -> None:
    net = _ipv4_cidr(value)
    if not 16 <= net.prefixlen <= 24:
        raise _Invalid(
            f"{value!r} has prefix /{net.prefixlen}; allowed: /16 to /24 (AWS allows /16 at most and "
            "the subnets are carved as /(prefix+4))"
        )
    if not any(net.subnet_of(block) for block in _RFC1918):
        raise _Invalid(
            f"{value!r} is not a private range; allowed: inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"
        )


def _client_cidrs(values: tuple[str, ...]) -> None:
    if not values:
        raise _Invalid("is empty; allowed: at least one IPv4 CIDR (the WAF blocks everything else)")
    seen: set[ipaddress.IPv4Network] = set()
    for index, value in enumerate(values):
        try:
            net = _ipv4_cidr(value)
        except _Invalid as err:
            raise _Invalid(err.message, f"[{index}]") from None
        if net.prefixlen == 0:
            raise _Invalid(
                f"{value!r} allows the whole internet; allowed: /1 to /32 (AWS WAF refuses /0)", f"[{index}]"
            )
        if net in seen:
            raise _Invalid(f"{value!r} is listed twice; allowed: each network once", f"[{index}]")
        seen.add(net)


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


def _acu_step(value: float) -> None:
    if value * 2 != int(value * 2):
        raise _Invalid(
            f"{value} is not a multiple of 0.5; allowed: 0, 0.5, 1, 1.5, ... 256 (steps of 0.5 ACU)"
        )


def _min_acu(value: float) -> None:
    if not 0 <= value <= ACU_MAX:
        raise _Invalid(
            f"{value} is out of Aurora Serverless v2's range; allowed: 0 (auto-pause) or 0.5 to 256 "
            "in steps of 0.5"
        )
    _acu_step(value)


def _max_acu(value: float) -> None:
    if not 1 <= value <= ACU_MAX:
        raise _Invalid(f"{value} is out of Aurora Serverless v2's range; allowed: 1 to 256 in steps of 0.5")
    _acu_step(value)


_REGION = r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d"
_ARN_PARTITION = r"arn:aws(-[a-z]+)*"
_EMAIL = r"[^@\s]+@[^@\s]+\.[a-z]{2,}"


def _https_url(value: str) -> None:
    if not re.fullmatch(r"https://[A-Za-z0-9.-]+(:\d+)?(/\S*)?", value):
        raise _Invalid(
            f"{value!r} is not an https URL; allowed: https://host[:port]/path (traces carry prompts)"
        )


def _tags(values: Mapping[str, str]) -> None:
    for key, value in values.items():
        if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            raise _Invalid(
                f"tag key {key!r} is not allowed; allowed: 1-128 characters, not starting with 'aws:'", key
            )
        if key in RESERVED_TAGS:
            raise _Invalid(f"tag {key!r} is set by the stack itself; allowed: any other key", key)
        if len(value) > 256:
            raise _Invalid("tag value is too long; allowed: up to 256 characters", key)


def _account_ids(values: tuple[str, ...]) -> None:
    for index, value in enumerate(values):
        if not re.fullmatch(r"\d{12}", value):
            raise _Invalid(f"{value!r} is not valid; allowed: exactly 12 digits, quoted", f"[{index}]")
        if value in values[:index]:
            raise _Invalid(f"{value!r} is listed twice; allowed: each account once", f"[{index}]")


# An ECR repository ARN; the name part follows ECR's own naming rule.
_ECR_NAME = r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
_ECR_REPOSITORY_ARN = rf"{_ARN_PARTITION}:ecr:{_REGION}:\d{{12}}:repository/{_ECR_NAME}"

RESERVED_TAGS = ("project", "environment")
PHOENIX_CLOUD_HOST = "app.phoenix.arize.com"


# ---------------------------------------------------------------- the schema
@dataclasses.dataclass(frozen=True, kw_only=True)
class AwsSettings:
    """Where the environment is deployed."""

    account_id: str = _setting(
        "AWS account id (12 digits, quoted)", _pattern(r"\d{12}", "exactly 12 digits, quoted")
    )
    region: str = _setting(
        "AWS region of every resource", _pattern(_REGION, "an AWS region such as us-east-1")
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetworkSettings:
    """The VPC layout."""

    vpc_cidr: str = _setting("VPC IPv4 range", _vpc_cidr)
    az_count: int = _setting("availability zones used (the ALB needs two)", _int_range(2, 6))
    nat_gateways: str = _setting("one NAT gateway in total, or one per AZ", _one_of("single", "per_az"))
    availability_zones: tuple[str, ...] = _setting(
        "AZ names, one per az_count; default: the region's zones a, b, c, ... (pinned, never looked up)",
        default=(),
    )

    def zone_names(self, region: str) -> tuple[str, ...]:
        """The AZs used, fixed by name: a lookup could shift when AWS adds or withdraws a zone."""
        return self.availability_zones or tuple(f"{region}{chr(ord('a') + i)}" for i in range(self.az_count))


@dataclasses.dataclass(frozen=True, kw_only=True)
class EdgeSettings:
    """The load balancer and the WAF in front of it."""

    allowed_client_cidrs: tuple[str, ...] = _setting("client networks the WAF lets through", _client_cidrs)
    certificate_arn: str | None = _setting(
        "ACM certificate for HTTPS; null serves plain HTTP",
        _pattern(
            rf"{_ARN_PARTITION}:acm:{_REGION}:\d{{12}}:certificate/[A-Za-z0-9-]+", "an ACM certificate ARN"
        ),
        default=None,
    )
    waf_rate_limit: int = _setting(
        "requests per client IP per 5 minutes before the WAF blocks", _int_range(10, 2_000_000_000)
    )
    deletion_protection: bool = _setting("protect the ALB from deletion")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ComputeSettings:
    """The Fargate service running LiteLLM."""

    cpu: int = _setting("task CPU units", _one_of(*FARGATE_SIZES))
    memory: int = _setting("task memory (MiB); must suit cpu", _int_range(512, 122880))
    desired_count: int = _setting("tasks at deploy time", _int_range(1, 1000))
    min_count: int = _setting("fewest tasks autoscaling keeps", _int_range(1, 1000))
    max_count: int = _setting("most tasks autoscaling starts", _int_range(1, 1000))
    target_requests_per_task: int = _setting(
        "ALB requests per task autoscaling aims at", _int_range(1, 100_000)
    )
    target_cpu_percent: int = _setting("average CPU autoscaling aims at", _int_range(10, 90))
    image_pull_account_ids: tuple[str, ...] = _setting(
        "other AWS accounts allowed to pull (never push) from this environment's image repository",
        _account_ids,
        default=(),
    )
    image_repository: str | None = _setting(
        "ARN of another account's ECR repository to run images from (the build registry), so a promoted "
        "digest is the one tested; null: the stack creates and uses its own repository",
        _pattern(
            _ECR_REPOSITORY_ARN,
            "an ECR repository ARN such as arn:aws:ecr:us-east-1:111111111111:repository/llm-gateway-dev",
        ),
        default=None,
    )

    def _validate(self) -> None:
        if self.image_repository is not None and self.image_pull_account_ids:
            raise _Invalid(
                "an environment running another account's repository has no repository of its own to "
                "share; allowed: an empty list when image_repository is set",
                "image_pull_account_ids",
            )
        if self.memory not in FARGATE_SIZES[self.cpu]:
            sizes = FARGATE_SIZES[self.cpu]
            raise _Invalid(
                f"{self.memory} MiB does not fit cpu {self.cpu}; allowed: {sizes.start} to "
                f"{sizes.stop - 1} in steps of {sizes.step}",
                "memory",
            )
        if self.min_count > self.max_count:
            raise _Invalid(
                f"min_count {self.min_count} is greater than max_count {self.max_count}; "
                "allowed: min_count <= max_count",
                "min_count",
            )
        if not self.min_count <= self.desired_count <= self.max_count:
            raise _Invalid(
                f"{self.desired_count} is outside min_count..max_count; allowed: "
                f"{self.min_count} to {self.max_count}",
                "desired_count",
            )


@dataclasses.dataclass(frozen=True, kw_only=True)
class DatabaseSettings:
    """Aurora PostgreSQL Serverless v2."""

    min_acu: float = _setting("lowest Aurora capacity (ACU)", _min_acu)
    max_acu: float = _setting("highest Aurora capacity (ACU)", _max_acu)
    instances: int = _setting("cluster instances (writer + readers)", _int_range(1, 16))
    backup_retention_days: int = _setting("automated backup retention", _int_range(1, 35))
    deletion_protection: bool = _setting("protect the cluster from deletion")
    skip_final_snapshot: bool = _setting("delete without a final snapshot")

    def _validate(self) -> None:
        if self.min_acu > self.max_acu:
            raise _Invalid(
                f"min_acu {self.min_acu} is greater than max_acu {self.max_acu}; allowed: min_acu <= max_acu",
                "min_acu",
            )


@dataclasses.dataclass(frozen=True, kw_only=True)
class CacheSettings:
    """ElastiCache (Valkey) replication group."""

    node_type: str = _setting(
        "cache node type", _pattern(r"cache\.[a-z0-9]+\.[a-z0-9]+", "e.g. cache.t4g.small")
    )
    nodes: int = _setting("nodes in the group: primary + replicas", _int_range(1, 6))
    multi_az: bool = _setting("replicas in other AZs with automatic failover")

    def _validate(self) -> None:
        if self.multi_az and self.nodes < 2:
            raise _Invalid(
                "multi_az needs a replica to fail over to; allowed: multi_az false, or nodes >= 2", "multi_az"
            )


@dataclasses.dataclass(frozen=True, kw_only=True)
class PhoenixSettings:
    """Where the gateway sends its traces."""

    collector_endpoint: str = _setting("OTLP HTTP traces endpoint", _https_url)
    api_key_secret_arn: str | None = _setting(
        "Secrets Manager secret holding the Phoenix API key; null sends without a key",
        _pattern(
            rf"{_ARN_PARTITION}:secretsmanager:{_REGION}:\d{{12}}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{{6}}",
            "the full ARN of a Secrets Manager secret, with its 6-character suffix",
        ),
        default=None,
    )
    project_name: str = _setting(
        "Phoenix project the traces land in", _pattern(r"\S.{0,127}", "1-128 characters")
    )
    content_capture: bool | None = _setting(
        "record prompt, answer and guardrail text in traces; null: on for a collector inside the private "
        "network, off outside it (gateway/trace_content.py)",
        default=None,
    )

    @property
    def captures_content(self) -> bool:
        """GATEWAY_TRACE_CONTENT: the setting, or the image's own default for this collector."""
        if self.content_capture is not None:
            return self.content_capture
        return trace_content.default_capture(self.collector_endpoint)

    def _validate(self) -> None:
        # Refused, not acknowledged: what leaves the company is not a per-environment exception.
        if self.content_capture and trace_content.collector_is_external(self.collector_endpoint):
            host = trace_content.collector_host(self.collector_endpoint)
            raise _Invalid(
                f"true would send prompts and answers to {host!r}, "
                f"outside the private network; allowed: false or null, or true with a collector_endpoint on "
                f"{trace_content.INSIDE}",
                "content_capture",
            )
        # The image refuses to start without a key when tracing to Phoenix Cloud (gateway/entrypoint.py).
        if PHOENIX_CLOUD_HOST in self.collector_endpoint and self.api_key_secret_arn is None:
            raise _Invalid(
                f"Phoenix Cloud ({PHOENIX_CLOUD_HOST}) needs an API key; allowed: the ARN of a secret "
                "holding it, or a self-hosted collector_endpoint",
                "api_key_secret_arn",
            )


@dataclasses.dataclass(frozen=True, kw_only=True)
class ObservabilitySettings:
    """Logs, alarms and tracing."""

    log_retention_days: int = _setting("CloudWatch log retention", _one_of(*LOG_RETENTION_DAYS))
    alarm_email: str | None = _setting(
        "address subscribed to alarms; null: none", _pattern(_EMAIL, "an e-mail address"), default=None
    )
    phoenix: PhoenixSettings = dataclasses.field(metadata=_about("tracing target"))


def _limit(field: str) -> Check:
    """The bounds gateway/limits.py (the image) accepts, so a value synth passes never stops a task."""
    return _int_range(*request_limits.bounds(field))


_API_DEFAULTS = request_limits.DEFAULTS


@dataclasses.dataclass(frozen=True, kw_only=True)
class ApiSettings:
    """What one request may ask of the gateway and what its answers tell (docs/gateway.md, "Request limits").

    Every key is optional; the defaults are the image's (gateway/limits.py), and the task definition
    always carries all five values.
    """

    max_request_body_mb: int = _setting(
        "largest request body in MiB, refused with 413 before it is parsed",
        _limit("max_request_body_mb"),
        default=_API_DEFAULTS.max_request_body_mb,
    )
    max_embedding_inputs: int = _setting(
        "most inputs in one embeddings request (each is one model call)",
        _limit("max_embedding_inputs"),
        default=_API_DEFAULTS.max_embedding_inputs,
    )
    max_tokens: int = _setting(
        "largest max_tokens / max_completion_tokens a request may ask for",
        _limit("max_tokens"),
        default=_API_DEFAULTS.max_tokens,
    )
    max_cached_answer_kb: int = _setting(
        "largest answer (KiB) written to the response cache",
        _limit("max_cached_answer_kb"),
        default=_API_DEFAULTS.max_cached_answer_kb,
    )
    expose_internal_headers: bool = _setting(
        "send LiteLLM's internal response headers (model id, version, API base, costs) to clients",
        default=_API_DEFAULTS.expose_internal_headers,
    )

    def limits(self) -> request_limits.RequestLimits:
        return request_limits.RequestLimits(**dataclasses.asdict(self))


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelSettings:
    """One catalogue entry: a public alias served by a Bedrock model."""

    alias: str = _setting(
        "public model name clients ask for",
        _pattern(r"[a-z0-9][a-z0-9._-]{0,63}", "lower-case letters, digits, '.', '_', '-'"),
    )
    model_id: str = _setting(
        "Bedrock model id or inference profile id",
        _pattern(
            r"((us|eu|apac|us-gov|global)\.)?[a-z0-9-]+\.[a-z0-9._-]+(:[0-9a-z:]+)?",
            "a Bedrock model id such as amazon.titan-text-express-v1 or us.amazon.nova-pro-v1:0",
        ),
    )
    mode: str = _setting("what the model does", _one_of("chat", "embedding"))
    fallbacks: tuple[str, ...] = _setting("aliases tried, in order, when this one fails", default=())


@dataclasses.dataclass(frozen=True, kw_only=True)
class StateSettings:
    """The S3 backend holding this environment's Terraform state."""

    bucket: str = _setting("S3 bucket", _pattern(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "an S3 bucket name"))
    key: str = _setting(
        "object key; contains the environment name as a path segment",
        _pattern(r"[^/\s][^\s]*\.tfstate", "a relative key ending in .tfstate"),
    )
    region: str = _setting("region of the bucket", _pattern(_REGION, "an AWS region such as us-east-1"))
    use_lockfile: bool = _setting("S3-native state locking (Terraform >= 1.10)")


_NAME = r"[a-z][a-z0-9-]*[a-z0-9]"
# ALB and target group names are limited to 32 characters; keep room for suffixes.
MAX_STACK_ID = 24


@dataclasses.dataclass(frozen=True, kw_only=True)
class EnvironmentConfig:
    """One environment: its folder name plus the contents of its config.yaml."""

    name: str = _setting("environment name: the folder name (not a YAML key)")
    project: str = _setting(
        "project name, prefix of every resource name", _pattern(_NAME, "lower-case letters, digits and '-'")
    )
    aws: AwsSettings = dataclasses.field(metadata=_about("account and region"))
    network: NetworkSettings = dataclasses.field(metadata=_about("VPC"))
    edge: EdgeSettings = dataclasses.field(metadata=_about("ALB and WAF"))
    compute: ComputeSettings = dataclasses.field(metadata=_about("Fargate service"))
    database: DatabaseSettings = dataclasses.field(metadata=_about("Aurora"))
    cache: CacheSettings = dataclasses.field(metadata=_about("Valkey"))
    observability: ObservabilitySettings = dataclasses.field(metadata=_about("logs, alarms, tracing"))
    models: tuple[ModelSettings, ...] = dataclasses.field(metadata=_about("the model catalogue"))
    api: ApiSettings = dataclasses.field(
        metadata=_about("request limits and response headers"), default_factory=ApiSettings
    )
    state: StateSettings = dataclasses.field(metadata=_about("Terraform state backend"))
    tags: Mapping[str, str] = _setting("tags on every resource", _tags, default_factory=dict)

    @property
    def stack_id(self) -> str:
        """`<project>-<environment>`: the stack id and the prefix of resource names."""
        return f"{self.project}-{self.name}"

    def _validate(self) -> None:
        if len(self.stack_id) > MAX_STACK_ID:
            raise _Invalid(
                f"{self.stack_id!r} is {len(self.stack_id)} characters; allowed: project and "
                f"environment name together at most {MAX_STACK_ID} (AWS name limits)",
                "project",
            )
        zones = self.network.availability_zones
        if zones:
            region = self.aws.region
            for index, zone in enumerate(zones):
                if not re.fullmatch(rf"{re.escape(region)}[a-z]", zone) or zone in zones[:index]:
                    raise _Invalid(
                        f"{zone!r} is not allowed; allowed: distinct zone names of {region}, e.g. {region}a",
                        f"network.availability_zones[{index}]",
                    )
            if len(zones) != self.network.az_count:
                raise _Invalid(
                    f"{len(zones)} zones, az_count {self.network.az_count}; allowed: exactly az_count zones",
                    "network.availability_zones",
                )
        self._validate_image_source()
        cert = self.edge.certificate_arn
        if cert is not None and cert.split(":")[3] != self.aws.region:
            raise _Invalid(
                f"the certificate is in {cert.split(':')[3]}; allowed: a certificate in "
                f"{self.aws.region} (an ALB uses certificates of its own region)",
                "edge.certificate_arn",
            )
        *folders, file_name = self.state.key.split("/")
        if self.name not in folders and self.name not in file_name.removesuffix(".tfstate").split("."):
            raise _Invalid(
                f"{self.state.key!r} does not name the environment; allowed: a key with {self.name!r} "
                f"as a path segment, e.g. {self.project}/{self.name}/terraform.tfstate",
                "state.key",
            )
        _validate_models(self.models)

    def _validate_image_source(self) -> None:
        """Cross-account image settings must actually cross accounts, within the stack's region."""
        own = self.aws.account_id
        for index, account in enumerate(self.compute.image_pull_account_ids):
            if account == own:
                raise _Invalid(
                    f"{account!r} is this environment's own account, which needs no grant; allowed: "
                    "other accounts only",
                    f"compute.image_pull_account_ids[{index}]",
                )
        source = self.compute.image_repository
        if source is None:
            return
        _, _, _, region, account, _ = source.split(":", 5)
        if account == own:
            raise _Invalid(
                f"the repository is in this environment's own account {own}; allowed: another account's "
                "repository, or null for the stack's own",
                "compute.image_repository",
            )
        if region != self.aws.region:
            raise _Invalid(
                f"the repository is in {region}; allowed: a repository in {self.aws.region} (tasks pull "
                "through the region's ECR VPC endpoints)",
                "compute.image_repository",
            )


def _validate_models(models: tuple[ModelSettings, ...]) -> None:
    if not models:
        raise _Invalid("is empty; allowed: at least one model", "models")
    by_alias: dict[str, list[tuple[int, ModelSettings]]] = {}
    for index, model in enumerate(models):
        by_alias.setdefault(model.alias, []).append((index, model))
    for alias, entries in by_alias.items():
        first_index, first = entries[0]
        seen_ids = {first.model_id}
        for index, model in entries[1:]:
            if model.model_id in seen_ids:
                raise _Invalid(
                    f"alias {alias!r} lists {model.model_id!r} twice; allowed: each model once per alias",
                    f"models[{index}].model_id",
                )
            seen_ids.add(model.model_id)
            if model.mode != first.mode:
                raise _Invalid(
                    f"alias {alias!r} mixes modes; allowed: the mode of models[{first_index}] ({first.mode})",
                    f"models[{index}].mode",
                )
            if model.fallbacks != first.fallbacks:
                raise _Invalid(
                    f"alias {alias!r} has different fallbacks in models[{first_index}]; allowed: the "
                    "same fallbacks on every entry of an alias",
                    f"models[{index}].fallbacks",
                )
    for index, model in enumerate(models):
        seen: set[str] = set()
        for position, fallback in enumerate(model.fallbacks):
            where = f"models[{index}].fallbacks[{position}]"
            if fallback not in by_alias:
                raise _Invalid(f"unknown alias {fallback!r}; allowed: {', '.join(sorted(by_alias))}", where)
            if fallback == model.alias:
                raise _Invalid(f"{fallback!r} falls back to itself; allowed: another alias", where)
            if fallback in seen:
                raise _Invalid(f"{fallback!r} is listed twice; allowed: each alias once", where)
            if by_alias[fallback][0][1].mode != model.mode:
                raise _Invalid(
                    f"{fallback!r} is a model of mode {by_alias[fallback][0][1].mode}; allowed: an alias of "
                    f"mode {model.mode}",
                    where,
                )
            seen.add(fallback)


# ---------------------------------------------------------------- building
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _describe(kind: Any) -> str:
    if kind in _TYPE_NAMES:
        return _TYPE_NAMES[kind]
    if dataclasses.is_dataclass(kind):
        return "a mapping"
    origin = typing.get_origin(kind)
    if origin is tuple:
        return f"a list of {_describe(typing.get_args(kind)[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is Mapping:
        return "a mapping of strings to strings"
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    return f"{_describe(args[0])} or null"


def _convert(kind: Any, value: Any) -> Any:
    """Convert one YAML value to `kind`, raising _Invalid (path relative to the value)."""
    if dataclasses.is_dataclass(kind):
        return _build(kind, value)
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        inner = next(a for a in typing.get_args(kind) if a is not type(None))
        try:
            return _convert(inner, value)
        except _Invalid as err:
            if err.path:
                raise
            raise _Invalid(err.message.replace(_describe(inner), _describe(kind))) from None
    if origin is tuple:
        if not isinstance(value, list):
            raise _Invalid(f"got {_yaml_type(value)}; allowed: {_describe(kind)}")
        item_kind = typing.get_args(kind)[0]
        items = []
        for index, item in enumerate(value):
            try:
                items.append(_convert(item_kind, item))
            except _Invalid as err:
                raise _Invalid(err.message, _join(f"[{index}]", err.path)) from None
        return tuple(items)
    if origin is Mapping:
        if not isinstance(value, dict):
            raise _Invalid(f"got {_yaml_type(value)}; allowed: {_describe(kind)}")
        for key, item in value.items():
            if not isinstance(key, str) or not isinstance(item, str):
                raise _Invalid(
                    f"{key!r}: {item!r} is not a string pair; allowed: {_describe(kind)} (quote numbers "
                    "and booleans)",
                    str(key),
                )
        return types.MappingProxyType(dict(value))
    ok = (
        isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is not float
        else isinstance(value, int | float) and not isinstance(value, bool)
    )
    if not ok:
        quotable = isinstance(value, int | float | datetime.date)  # YAML read a number, boolean or date
        hint = " (quote it)" if kind is str and quotable else ""
        shown = value.isoformat() if isinstance(value, datetime.date) else repr(value)
        raise _Invalid(f"got {_yaml_type(value)} {shown}; allowed: {_describe(kind)}{hint}")
    return float(value) if kind is float else value


def _yaml_type(value: Any) -> str:
    return {
        type(None): "null",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
        datetime.date: "a date",
        datetime.datetime: "a date and time",
    }.get(type(value), type(value).__name__)


def _build(cls: type, data: Any, *, extra: Mapping[str, Any] | None = None) -> Any:
    """Build dataclass `cls` from a YAML mapping: exact keys, checked types and values."""
    if not isinstance(data, dict):
        raise _Invalid(f"got {_yaml_type(data)}; allowed: a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not extra or f.name not in extra}
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            suggestion = f" (did you mean {close[0]!r}?)" if close else ""
            raise _Invalid(f"unknown key{suggestion}; allowed keys: {', '.join(fields)}", str(key))
    values: dict[str, Any] = dict(extra or {})
    for name, field in fields.items():
        if name not in data:
            has_default = (
                field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
            )
            if has_default:
                continue
            raise _Invalid(f"is missing; required: {field.metadata['doc']} ({_describe(hints[name])})", name)
        try:
            value = _convert(hints[name], data[name])
            check = field.metadata.get("check")
            if check is not None and value is not None:
                check(value)
        except _Invalid as err:
            raise _Invalid(err.message, _join(name, err.path)) from None
        values[name] = value
    instance = cls(**values)
    validate = getattr(instance, "_validate", None)
    if validate is not None:
        validate()
    return instance


def _yaml_problem(err: yaml.YAMLError) -> str:
    """One line: where the YAML breaks and why (PyYAML's own message spans several lines)."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    tab = "'\\t'" in problem  # PyYAML quotes the character it stopped at
    hint = "; allowed: spaces for indentation, never tabs" if tab else ""
    return f"{where}not valid YAML: {' '.join(problem.split())}{hint}"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(
                loader.name,
                str(key),
                f"duplicate key {key!r} at line {key_node.start_mark.line + 1}; allowed: each key once "
                "per mapping",
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


# ---------------------------------------------------------------- public API
def load(path: Path | str) -> EnvironmentConfig:
    """Load one environment from its folder (or its config.yaml); the folder name is the environment name."""
    path = Path(path)
    file = path / CONFIG_FILE if path.is_dir() else path
    name = file.parent.name
    if not re.fullmatch(_NAME, name) or len(name) > 16:
        raise ConfigError(
            file,
            "",
            f"environment folder name {name!r} is not allowed; allowed: lower-case "
            "letters, digits and '-', starting with a letter, at most 16 characters",
        )
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(file, "", "file not found; every environment folder needs a config.yaml") from None
    except UnicodeDecodeError as err:
        where = f"byte 0x{err.object[err.start]:02x} at offset {err.start}"
        raise ConfigError(file, "", f"not UTF-8 ({where}); allowed: UTF-8 text") from None
    except OSError as err:
        reason = f"cannot be read ({err.strerror})"
        raise ConfigError(file, "", f"{reason}; allowed: a readable YAML file") from None
    try:
        loader = _StrictLoader(text)
        loader.name = str(file)
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        raise ConfigError(file, "", _yaml_problem(err)) from None
    if data is None:
        keys = ", ".join(f.name for f in dataclasses.fields(EnvironmentConfig) if f.name != "name")
        raise ConfigError(file, "", f"the file is empty; allowed: a mapping with the keys {keys}")
    try:
        return _build(EnvironmentConfig, data, extra={"name": name})
    except _Invalid as err:
        raise ConfigError(file, err.path, err.message) from None


def environment_dirs(environments_dir: Path | str) -> list[Path]:
    """Every environment folder, sorted: one stack each (folders starting with '.' or '_' are skipped)."""
    root = Path(environments_dir)
    if not root.is_dir():
        raise ConfigError(root, "", "environments directory not found")
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def load_all(environments_dir: Path | str, names: list[str] | None = None) -> list[EnvironmentConfig]:
    """Load every environment (or the named ones) and check what must differ between them.

    State keys are checked across ALL environments even when only some are
    requested: two environments sharing a state object would overwrite each other.
    """
    dirs = environment_dirs(environments_dir)
    if not dirs:
        raise ConfigError(
            environments_dir,
            "",
            "no environment folders; allowed: one folder per environment, each with a config.yaml",
        )
    configs = [load(d) for d in dirs]
    owners: dict[tuple[str, str], EnvironmentConfig] = {}
    for config in configs:
        location = (config.state.bucket, config.state.key)
        if location in owners:
            other = owners[location]
            raise ConfigError(
                Path(environments_dir) / config.name / CONFIG_FILE,
                "state.key",
                f"s3://{location[0]}/{location[1]} is also the state of {other.name!r}; allowed: "
                "a state key no other environment uses",
            )
        owners[location] = config
    _check_image_sources(Path(environments_dir), configs)
    if names is None:
        return configs
    by_name = {c.name: c for c in configs}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ConfigError(
            environments_dir, "", f"unknown environment {unknown[0]!r}; allowed: {', '.join(sorted(by_name))}"
        )
    return [by_name[n] for n in dict.fromkeys(names)]


def _check_image_sources(environments_dir: Path, configs: list[EnvironmentConfig]) -> None:
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
