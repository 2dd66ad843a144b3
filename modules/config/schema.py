"""What an environment file (`environments/<name>/config.yaml`) may say: the schema people read.

One pydantic model per YAML section; field names are the YAML keys, each field's
description is the one line an error quotes when it is missing, and its `Check`
names the rule in checks.py a value must pass. `rules` lists a section's cross-field
rules. Constructs take these sections as they are (frozen), so a new setting is
written here and where it is used, nowhere else.
"""

from __future__ import annotations

import datetime
import difflib
import typing
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationInfo, model_validator

from gateway import limits as request_limits
from gateway import trace_content
from modules.config import checks
from modules.config.checks import Invalid


def Check(rule: Callable[[Any], Any]) -> AfterValidator:
    """A value rule from checks.py, run after the type is right."""
    return AfterValidator(rule)


def Range(low: int, high: int) -> AfterValidator:
    return AfterValidator(checks.int_range(low, high))


def OneOf(*choices: Any) -> AfterValidator:
    return AfterValidator(checks.one_of(*choices))


def Pattern(regex: str, allowed: str) -> AfterValidator:
    return AfterValidator(checks.pattern(regex, allowed))


# A YAML list is read into a tuple (settings are immutable); its items stay strictly typed.
FROM_LIST = Strict(False)

AccountId = Annotated[str, Pattern(r"\d{12}", "exactly 12 digits, quoted")]
Region = Annotated[str, Pattern(checks.REGION, "an AWS region such as us-east-1")]
GithubVariable = Annotated[str, Pattern(checks.GITHUB_VARIABLE, checks.GITHUB_VARIABLE_ALLOWED)]


def doc(description: str, **kw: Any) -> Any:
    """A field: its one-line description (quoted by the "is missing" error) and, if optional, its default."""
    return Field(description=description, **kw)


class Section(BaseModel):
    """A YAML mapping: exact keys (unknown ones get a did-you-mean), strict types, frozen once loaded."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")
    # Cross-field rules of the section (checks.py), run once its fields are valid.
    rules: ClassVar[tuple[Callable[[Any], None], ...]] = ()
    # Fields filled by the loader, never written in the file.
    not_in_file: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _exact_keys(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise Invalid(f"got {yaml_type(data)}; allowed: a mapping")
        keys = [name for name in cls.model_fields if name not in cls.not_in_file]
        for key in data:
            if key not in keys:
                close = difflib.get_close_matches(str(key), keys, n=1)
                suggestion = f" (did you mean {close[0]!r}?)" if close else ""
                raise Invalid(f"unknown key{suggestion}; allowed keys: {', '.join(keys)}", str(key))
        for name in keys:
            field = cls.model_fields[name]
            if name not in data and field.is_required():
                raise Invalid(
                    f"is missing; required: {field.description} ({describe(field.annotation)})", name
                )
        if cls.not_in_file and info.context:
            data = {**data, **{name: info.context[name] for name in cls.not_in_file}}
        return data

    @model_validator(mode="after")
    def _cross_field(self) -> Section:
        for rule in self.rules:
            rule(self)
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"{type(self).__name__}.{name} is read-only: settings come from the environment file"
        )


# ---------------------------------------------------------------- the sections
class AwsSettings(Section):
    """Where the environment is deployed."""

    account_id: AccountId = doc("AWS account id (12 digits, quoted)")
    region: Region = doc("AWS region of every resource")


class NetworkSettings(Section):
    """The VPC layout."""

    vpc_cidr: Annotated[str, Check(checks.vpc_cidr)] = doc("VPC IPv4 range")
    az_count: Annotated[int, Range(2, 6)] = doc("availability zones used (the ALB needs two)")
    nat_gateways: Annotated[str, OneOf("single", "per_az")] = doc("one NAT gateway in total, or one per AZ")
    availability_zones: Annotated[tuple[str, ...], FROM_LIST] = doc(
        "AZ names, one per az_count; default: the region's zones a, b, c, ... (pinned, never looked up)",
        default=(),
    )

    def zone_names(self, region: str) -> tuple[str, ...]:
        """The AZs used, fixed by name: a lookup could shift when AWS adds or withdraws a zone."""
        return self.availability_zones or tuple(f"{region}{chr(ord('a') + i)}" for i in range(self.az_count))


class EdgeSettings(Section):
    """The load balancer and the WAF in front of it."""

    rules = (checks.tls_or_a_reason,)

    allowed_client_cidrs: Annotated[tuple[str, ...], FROM_LIST, Check(checks.client_cidrs)] = doc(
        "client networks the WAF lets through"
    )
    certificate_arn: Annotated[str, Pattern(checks.ACM_CERTIFICATE_ARN, "an ACM certificate ARN")] | None = (
        doc("ACM certificate for HTTPS (plain HTTP only redirects); null needs allow_plaintext", default=None)
    )
    allow_plaintext: Annotated[str, Pattern(r"\S.{9,499}", "a reason of 10 to 500 characters")] | None = doc(
        "why this environment may serve plain HTTP without a certificate (API keys cross the network "
        "readable); null: HTTPS only",
        default=None,
    )
    waf_rate_limit: Annotated[int, Range(10, 2_000_000_000)] = doc(
        "requests per client IP per 5 minutes before the WAF blocks"
    )
    deletion_protection: bool = doc("protect the ALB from deletion")
    # LLM answers stream for minutes: AWS's default of 60 s would cut a long answer between two chunks.
    idle_timeout: Annotated[int, Range(1, 4000)] = doc(
        "seconds the ALB keeps a connection with no bytes flowing before closing it", default=300
    )


class ComputeSettings(Section):
    """The Fargate service running LiteLLM."""

    rules = (checks.compute_sizes,)

    cpu: Annotated[int, OneOf(*checks.FARGATE_SIZES)] = doc("task CPU units")
    memory: Annotated[int, Range(512, 122880)] = doc("task memory (MiB); must suit cpu")
    desired_count: Annotated[int, Range(1, 1000)] = doc("tasks at deploy time")
    min_count: Annotated[int, Range(1, 1000)] = doc("fewest tasks autoscaling keeps")
    max_count: Annotated[int, Range(1, 1000)] = doc("most tasks autoscaling starts")
    target_requests_per_task: Annotated[int, Range(1, 100_000)] = doc(
        "ALB requests per task autoscaling aims at"
    )
    target_cpu_percent: Annotated[int, Range(10, 90)] = doc("average CPU autoscaling aims at")
    image_pull_account_ids: Annotated[tuple[str, ...], FROM_LIST, Check(checks.account_ids)] = doc(
        "other AWS accounts allowed to pull (never push) from this environment's image repository", default=()
    )
    image_repository: (
        Annotated[
            str,
            Pattern(
                checks.ECR_REPOSITORY_ARN,
                "an ECR repository ARN such as arn:aws:ecr:us-east-1:111111111111:repository/llm-gateway-dev",
            ),
        ]
        | None
    ) = doc(
        "ARN of another account's ECR repository to run images from (the build registry), so a promoted "
        "digest is the one tested; null: the stack creates and uses its own repository",
        default=None,
    )


class DatabaseSettings(Section):
    """Aurora PostgreSQL Serverless v2."""

    rules = (checks.acu_order,)

    min_acu: Annotated[float, Check(checks.min_acu)] = doc("lowest Aurora capacity (ACU)")
    max_acu: Annotated[float, Check(checks.max_acu)] = doc("highest Aurora capacity (ACU)")
    instances: Annotated[int, Range(1, 16)] = doc("cluster instances (writer + readers)")
    backup_retention_days: Annotated[int, Range(1, 35)] = doc("automated backup retention")
    deletion_protection: bool = doc("protect the cluster from deletion")
    skip_final_snapshot: bool = doc("delete without a final snapshot")


class CacheSettings(Section):
    """ElastiCache (Valkey) replication group."""

    rules = (checks.cache_failover,)

    node_type: Annotated[str, Pattern(r"cache\.[a-z0-9]+\.[a-z0-9]+", "e.g. cache.t4g.small")] = doc(
        "cache node type"
    )
    nodes: Annotated[int, Range(1, 6)] = doc("nodes in the group: primary + replicas")
    multi_az: bool = doc("replicas in other AZs with automatic failover")


class PhoenixSettings(Section):
    """Where the gateway sends its traces."""

    rules = (checks.phoenix_target,)

    collector_endpoint: Annotated[str, Check(checks.https_url)] = doc("OTLP HTTP traces endpoint")
    api_key_secret_arn: (
        Annotated[
            str,
            Pattern(
                checks.SECRET_ARN, "the full ARN of a Secrets Manager secret, with its 6-character suffix"
            ),
        ]
        | None
    ) = doc("Secrets Manager secret holding the Phoenix API key; null sends without a key", default=None)
    project_name: Annotated[str, Pattern(r"\S.{0,127}", "1-128 characters")] = doc(
        "Phoenix project the traces land in"
    )
    content_capture: bool | None = doc(
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


class ObservabilitySettings(Section):
    """Logs, alarms and tracing."""

    log_retention_days: Annotated[int, OneOf(*checks.LOG_RETENTION_DAYS)] = doc("CloudWatch log retention")
    alarm_email: Annotated[str, Pattern(checks.EMAIL, "an e-mail address")] | None = doc(
        "address subscribed to alarms; null: none", default=None
    )
    phoenix: PhoenixSettings = doc("tracing target")


_API_DEFAULTS = request_limits.DEFAULTS


class ApiSettings(Section):
    """What one request may ask of the gateway and what its answers tell (docs/gateway.md, "Request limits").

    Every key is optional; the defaults are the image's (gateway/limits.py), and the task definition
    always carries all five values.
    """

    max_request_body_mb: Annotated[int, Check(checks.request_limit("max_request_body_mb"))] = doc(
        "largest request body in MiB, refused with 413 before it is parsed",
        default=_API_DEFAULTS.max_request_body_mb,
    )
    max_embedding_inputs: Annotated[int, Check(checks.request_limit("max_embedding_inputs"))] = doc(
        "most inputs in one embeddings request (each is one model call)",
        default=_API_DEFAULTS.max_embedding_inputs,
    )
    max_tokens: Annotated[int, Check(checks.request_limit("max_tokens"))] = doc(
        "largest max_tokens / max_completion_tokens a request may ask for", default=_API_DEFAULTS.max_tokens
    )
    max_cached_answer_kb: Annotated[int, Check(checks.request_limit("max_cached_answer_kb"))] = doc(
        "largest answer (KiB) written to the response cache", default=_API_DEFAULTS.max_cached_answer_kb
    )
    expose_internal_headers: bool = doc(
        "send LiteLLM's internal response headers (model id, version, API base, costs) to clients",
        default=_API_DEFAULTS.expose_internal_headers,
    )

    def limits(self) -> request_limits.RequestLimits:
        return request_limits.RequestLimits(**self.model_dump())


class ModelSettings(Section):
    """One catalogue entry: a public alias served by a Bedrock model."""

    alias: Annotated[
        str, Pattern(r"[a-z0-9][a-z0-9._-]{0,63}", "lower-case letters, digits, '.', '_', '-'")
    ] = doc("public model name clients ask for")
    model_id: Annotated[
        str,
        Pattern(
            checks.BEDROCK_MODEL_ID,
            "a Bedrock model id such as amazon.titan-text-express-v1 or us.amazon.nova-pro-v1:0",
        ),
    ] = doc("Bedrock model id or inference profile id")
    mode: Annotated[str, OneOf("chat", "embedding")] = doc("what the model does")
    fallbacks: Annotated[tuple[str, ...], FROM_LIST] = doc(
        "aliases tried, in order, when this one fails", default=()
    )


class StateSettings(Section):
    """The S3 backend holding this environment's Terraform state."""

    bucket: Annotated[str, Pattern(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "an S3 bucket name")] = doc(
        "S3 bucket"
    )
    key: Annotated[str, Pattern(r"[^/\s][^\s]*\.tfstate", "a relative key ending in .tfstate")] = doc(
        "object key; contains the environment name as a path segment"
    )
    region: Region = doc("region of the bucket")
    use_lockfile: bool = doc("S3-native state locking (Terraform >= 1.10)")


class DeliverySettings(Section):
    """How the workflows reach this environment (pipeline.environments turns it into their matrix)."""

    rules = (checks.plan_role_is_no_privileged_role,)

    order: Annotated[int, Range(1, 99)] = doc(
        "position in the deploy chain: the lowest deploys first, each next one after the one before passed "
        "its smoke test (equal positions deploy in name order)"
    )
    plan_role_variable: GithubVariable = doc(
        "GitHub repository variable holding the ARN of the read-only plan role (pull-request, deploy and "
        "drift plans)"
    )
    apply_role_variable: GithubVariable = doc(
        "GitHub repository variable holding the ARN of the apply role (trusted only for the GitHub "
        "environment of this name)"
    )
    access_role_variable: GithubVariable = doc(
        "GitHub repository variable holding the ARN of the access role: runs the admin task's `access plan` "
        "for drift (docs/iam/admin-runner.json; trusted only for workflows on main)"
    )
    approval: bool = doc(
        "a reviewer other than the author approves the plan before it is applied (the GitHub environment's "
        "required reviewers, checked before apply)"
    )


class SecretsSettings(Section):
    """The LiteLLM keys' secrets: Terraform creates them empty, pipeline.seed_secrets writes the values."""

    master_key_version: Annotated[int, Range(1, 10_000)] = doc(
        "generation of the master key: raising it makes the deploy's seed step write a new master key "
        "(reviewed in the plan as the master secret's llm-gateway:generation tag); it may only increase",
        default=1,
    )


class EnvironmentConfig(Section):
    """One environment: its folder name plus the contents of its config.yaml."""

    not_in_file = ("name",)
    rules = (
        checks.stack_id_length,
        checks.zones_in_region,
        checks.image_source,
        checks.certificate_region,
        checks.state_key_names_environment,
        checks.catalogue,
    )

    name: str = doc("environment name: the folder name (not a YAML key)")
    project: Annotated[str, Pattern(checks.NAME, "lower-case letters, digits and '-'")] = doc(
        "project name, prefix of every resource name"
    )
    aws: AwsSettings = doc("account and region")
    network: NetworkSettings = doc("VPC")
    edge: EdgeSettings = doc("ALB and WAF")
    compute: ComputeSettings = doc("Fargate service")
    database: DatabaseSettings = doc("Aurora")
    cache: CacheSettings = doc("Valkey")
    observability: ObservabilitySettings = doc("logs, alarms, tracing")
    models: Annotated[tuple[ModelSettings, ...], FROM_LIST] = doc("the model catalogue")
    api: ApiSettings = doc("request limits and response headers", default_factory=ApiSettings)
    state: StateSettings = doc("Terraform state backend")
    delivery: DeliverySettings = doc("stage order, role variables and approval of the deploy workflow")
    secrets: SecretsSettings = doc("the LiteLLM keys' secrets", default_factory=SecretsSettings)
    tags: Annotated[Mapping[str, str], Check(checks.tags), AfterValidator(MappingProxyType)] = doc(
        "tags on every resource", default_factory=dict
    )

    @property
    def stack_id(self) -> str:
        """`<project>-<environment>`: the stack id and the prefix of resource names."""
        return f"{self.project}-{self.name}"


# ---------------------------------------------------------------- how types read in messages
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def describe(kind: Any) -> str:
    """A field's type as the file's author reads it: 'an integer', 'a list of strings', 'a string or null'."""
    if typing.get_origin(kind) is Annotated:
        return describe(typing.get_args(kind)[0])
    if kind in _TYPE_NAMES:
        return _TYPE_NAMES[kind]
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return "a mapping"
    origin = typing.get_origin(kind)
    if origin is tuple:
        return f"a list of {describe(typing.get_args(kind)[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin in (dict, Mapping):
        return "a mapping of strings to strings"
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    return f"{describe(args[0])} or null"


def yaml_type(value: Any) -> str:
    """What YAML read, in the file author's words."""
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
