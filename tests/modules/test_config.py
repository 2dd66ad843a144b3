"""modules/config: environment files load into typed settings; every mistake gives ONE clear error."""

from __future__ import annotations

import copy
import datetime
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

import main
from modules.config import ConfigError, EnvironmentConfig, load, load_all

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ROOT / "environments"
DEV = yaml.safe_load((ENVIRONMENTS / "dev" / "config.yaml").read_text())


def write(root: Path, name: str, data: Any) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    (folder / "config.yaml").write_text(text)
    return folder


def edit(path: str, value: Any, *, delete: bool = False) -> dict:
    """dev's settings with one dotted path (list indexes allowed) changed or deleted."""
    data = copy.deepcopy(DEV)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if delete:
        del node[key]
    else:
        node[key] = value
    return data


def error(tmp_path: Path, data: Any, name: str = "dev") -> ConfigError:
    folder = write(tmp_path, name, data)
    with pytest.raises(ConfigError) as caught:
        load(folder)
    assert str(caught.value).startswith(str(folder / "config.yaml")), "the message names the file"
    return caught.value


# ---------------------------------------------------------------- the shipped files
def test_shipped_environments_load_with_the_folder_name_as_environment() -> None:
    configs = {c.name: c for c in load_all(ENVIRONMENTS)}
    assert set(configs) == {p.name for p in ENVIRONMENTS.iterdir() if p.is_dir()} >= {"dev", "prod"}
    assert configs["dev"].stack_id == "llm-gateway-dev" and configs["prod"].stack_id == "llm-gateway-prod"


def test_fields_are_the_yaml_keys_with_their_types() -> None:
    dev = load(ENVIRONMENTS / "dev")
    assert dev.database.min_acu == 0.5 and isinstance(dev.database.max_acu, float)
    assert dev.models[0].alias == "nova-pro" and dev.models[0].fallbacks == ("nova-lite",)
    assert dev.edge.allow_plaintext is None and dev.network.nat_gateways == "single"
    assert dev.tags["team"] == "platform"


def test_prod_is_stricter_than_dev_where_a_platform_team_would_want() -> None:
    dev, prod = load(ENVIRONMENTS / "dev"), load(ENVIRONMENTS / "prod")
    assert prod.network.nat_gateways == "per_az" and dev.network.nat_gateways == "single"
    assert prod.database.deletion_protection and not prod.database.skip_final_snapshot
    assert prod.edge.deletion_protection and prod.cache.multi_az and prod.database.instances > 1
    assert prod.observability.log_retention_days > dev.observability.log_retention_days
    assert prod.compute.min_count > dev.compute.min_count


def test_settings_are_frozen() -> None:
    dev = load(ENVIRONMENTS / "dev")
    with pytest.raises(AttributeError):
        dev.database.min_acu = 4  # type: ignore[misc]


def test_a_new_environment_folder_is_all_it_takes(tmp_path: Path) -> None:
    for name in ("dev", "prod"):
        shutil.copytree(ENVIRONMENTS / name, tmp_path / name)
    write(tmp_path, "staging", edit("state.key", "llm-gateway/staging/terraform.tfstate"))
    assert [c.stack_id for c in load_all(tmp_path)] == [
        "llm-gateway-dev",
        "llm-gateway-prod",
        "llm-gateway-staging",
    ]


def test_load_all_returns_only_the_named_environments_in_order() -> None:
    assert [c.name for c in load_all(ENVIRONMENTS, ["prod", "dev"])] == ["prod", "dev"]


# ---------------------------------------------------------------- one test per mistake
def test_unknown_key_is_named_with_a_suggestion(tmp_path: Path) -> None:
    data = edit("database.min_acus", 1)
    err = error(tmp_path, data)
    assert err.field == "database.min_acus"
    assert "did you mean 'min_acu'" in err.message and "allowed keys: min_acu, max_acu" in err.message


def test_an_environment_named_local_is_refused_because_local_runs_may_switch_protection_off(
    tmp_path: Path,
) -> None:
    err = error(
        tmp_path, {**DEV, "state": {**DEV["state"], "key": "llm-gateway/local/terraform.tfstate"}}, "local"
    )
    assert "'local' is reserved" in err.message and "GATEWAY_ENVIRONMENT=local" in err.message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    err = error(tmp_path, {**DEV, "environment": "dev"})
    assert err.field == "environment" and "unknown key" in err.message


DELETED = object()  # the edit removes the key


def mistake(name: str, path: str, value: Any, expected: str, *, field: str | None = None) -> Any:
    """One table row: dev's file with `path` set to `value` (or DELETED) fails at `field` (default: path)."""
    return pytest.param(path, value, field or path, expected, id=name)


# One wrong value, one error: the field it names and a part of its message (checked, with the
# request limits and the AWS services' limits below, by the last test of this file).
MISTAKES = [
    mistake("wrong_type", "compute.cpu", "1024", "got a string '1024'; allowed: an integer"),
    mistake("boolean_is_not_accepted_as_a_number", "network.az_count", True, "allowed: an integer"),
    mistake("missing_section", "cache", DELETED, "is missing"),
    mistake("invalid_vpc_cidr", "network.vpc_cidr", "10.20.0.300/16", "is not a valid CIDR"),
    mistake("vpc_cidr_with_host_bits_is_refused", "network.vpc_cidr", "10.20.1.0/16", "host bits set"),
    mistake(
        "invalid_client_cidr_names_the_list_index",
        "edge.allowed_client_cidrs",
        ["203.0.113.0/24", "not-a-cidr"],
        "not a valid CIDR",
        field="edge.allowed_client_cidrs[1]",
    ),
    mistake(
        "client_cidr_for_the_whole_internet_is_refused",
        "edge.allowed_client_cidrs",
        ["0.0.0.0/0"],
        "whole internet",
        field="edge.allowed_client_cidrs[0]",
    ),
    mistake("acu_above_aurora_maximum", "database.max_acu", 300, "allowed: 1 to 256 in steps of 0.5"),
    mistake("acu_not_a_half_step", "database.min_acu", 0.7, "not a multiple of 0.5"),
    mistake("max_acu_below_one_is_refused", "database.max_acu", 0.5, "allowed: 1 to 256"),
    mistake("min_acu_greater_than_max_acu", "database.min_acu", 4, "greater than max_acu 2.0"),
    mistake("min_count_greater_than_max_count", "compute.min_count", 5, "allowed: min_count <= max_count"),
    mistake("desired_count_outside_min_and_max", "compute.desired_count", 7, "allowed: 1 to 3"),
    mistake(
        "memory_must_suit_the_fargate_cpu", "compute.memory", 1024, "allowed: 2048 to 8192 in steps of 1024"
    ),
    mistake("bad_enum", "network.nat_gateways", "two", "allowed: single | per_az"),
    mistake(
        "availability_zone_of_another_region",
        "network.availability_zones",
        ["us-east-1a", "eu-west-1b"],
        "zone names of us-east-1",
        field="network.availability_zones[1]",
    ),
    mistake(
        "availability_zones_must_match_az_count",
        "network.availability_zones",
        ["us-east-1a", "us-east-1b", "us-east-1c"],
        "exactly az_count zones",
    ),
    mistake("account_id_must_be_twelve_digits", "aws.account_id", "11111111111", "exactly 12 digits"),
    mistake("unquoted_account_id_asks_for_quotes", "aws.account_id", 111111111111, "(quote it)"),
    mistake("bad_region", "aws.region", "us-east", "an AWS region"),
    mistake(
        "fallback_to_an_unknown_alias",
        "models.0.fallbacks",
        ["nova-max"],
        "unknown alias 'nova-max'",
        field="models[0].fallbacks[0]",
    ),
    mistake(
        "duplicate_fallback",
        "models.0.fallbacks",
        ["nova-lite", "nova-lite"],
        "listed twice",
        field="models[0].fallbacks[1]",
    ),
    mistake(
        "fallback_to_itself",
        "models.0.fallbacks",
        ["nova-pro"],
        "falls back to itself",
        field="models[0].fallbacks[0]",
    ),
    mistake(
        "fallback_to_a_model_of_another_mode",
        "models.0.fallbacks",
        ["titan-embed"],
        "a model of mode embedding",
        field="models[0].fallbacks[0]",
    ),
    mistake(
        "alias_group_listing_a_model_twice",
        "models.6.model_id",
        "us.amazon.nova-micro-v1:0",
        "lists 'us.amazon.nova-micro-v1:0' twice",
        field="models[6].model_id",
    ),
    mistake("bad_model_mode", "models.1.mode", "image", "allowed: chat | embedding", field="models[1].mode"),
    mistake("empty_catalogue", "models", [], "at least one model"),
    mistake(
        "log_retention_must_be_a_cloudwatch_value",
        "observability.log_retention_days",
        45,
        "allowed: 1 | 3 | 5",
    ),
    mistake("multi_az_cache_needs_a_replica", "cache.multi_az", True, "nodes >= 2"),
    mistake(
        "master_key_version_starts_at_one",
        "secrets",
        {"master_key_version": 0},
        "allowed: an integer from 1 to 10000",
        field="secrets.master_key_version",
    ),
    mistake(
        "phoenix_cloud_needs_an_api_key_secret",
        "observability.phoenix.api_key_secret_arn",
        None,
        "needs an API key",
    ),
    mistake(
        "pull_account_must_be_twelve_digits",
        "compute.image_pull_account_ids",
        ["22222222222"],
        "exactly 12 digits",
        field="compute.image_pull_account_ids[0]",
    ),
    mistake(
        "pull_account_listed_twice",
        "compute.image_pull_account_ids",
        ["222222222222", "222222222222"],
        "each account once",
        field="compute.image_pull_account_ids[1]",
    ),
    mistake(
        "pull_account_cannot_be_the_environments_own",
        "compute.image_pull_account_ids",
        ["222222222222", "111111111111"],
        "other accounts only",
        field="compute.image_pull_account_ids[1]",
    ),
    mistake(
        "state_key_must_name_the_environment",
        "state.key",
        "llm-gateway/terraform.tfstate",
        "llm-gateway/dev/terraform.tfstate",
    ),
    mistake("reserved_tag", "tags.environment", "production", "set by the stack itself"),
    mistake(
        "a_date_where_a_string_belongs_is_named_as_a_date_with_the_quoting_hint",
        "project",
        datetime.date(2024, 1, 1),
        "got a date 2024-01-01; allowed: a string (quote it)",
    ),
    mistake(
        "an_unknown_api_key_is_refused_with_a_suggestion", "api.max_token", 100, "did you mean 'max_tokens'"
    ),
]


def test_missing_required_field(tmp_path: Path) -> None:
    err = error(tmp_path, edit("database.max_acu", None, delete=True))
    assert err.field == "database.max_acu"
    assert err.message.startswith("is missing; required: highest Aurora capacity (ACU)")


def test_vpc_cidr_must_be_private_and_sized(tmp_path: Path) -> None:
    assert "not a private range" in error(tmp_path, edit("network.vpc_cidr", "8.8.0.0/16")).message
    assert "allowed: /16 to /24" in error(tmp_path, edit("network.vpc_cidr", "10.0.0.0/8")).message


def test_min_acu_zero_is_aurora_auto_pause_and_allowed(tmp_path: Path) -> None:
    assert load(write(tmp_path, "dev", edit("database.min_acu", 0))).database.min_acu == 0.0


def test_availability_zones_default_to_the_regions_first_zones() -> None:
    dev = load(ENVIRONMENTS / "dev")
    assert dev.network.zone_names(dev.aws.region) == ("us-east-1a", "us-east-1b")


def test_availability_zones_can_be_pinned_by_name(tmp_path: Path) -> None:
    config = load(write(tmp_path, "dev", edit("network.availability_zones", ["us-east-1c", "us-east-1d"])))
    assert config.network.zone_names("us-east-1") == ("us-east-1c", "us-east-1d")


def test_certificate_from_another_region(tmp_path: Path) -> None:
    arn = "arn:aws:acm:eu-west-1:111111111111:certificate/5f1c0a52-6d7e-4c1b-9a35-0e8f2f7d9c11"
    err = error(tmp_path, edit("edge.certificate_arn", arn))
    assert err.field == "edge.certificate_arn" and "a certificate in us-east-1" in err.message


def test_phoenix_secret_needs_its_full_arn(tmp_path: Path) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:111111111111:secret:llm-gateway/dev/phoenix-api-key"
    err = error(tmp_path, edit("observability.phoenix.api_key_secret_arn", arn))
    assert "6-character suffix" in err.message


def with_phoenix(**settings: Any) -> dict:
    """dev's settings with observability.phoenix fields replaced (None deletes one)."""
    data = copy.deepcopy(DEV)
    phoenix = data["observability"]["phoenix"]
    for key, value in settings.items():
        if value is None:
            phoenix.pop(key, None)
        else:
            phoenix[key] = value
    return data


SELF_HOSTED = "https://phoenix.llm-gateway.internal/v1/traces"


def test_shipped_environments_trace_to_phoenix_cloud_without_content() -> None:
    for config in load_all(ENVIRONMENTS):
        assert config.observability.phoenix.captures_content is False, config.name


def test_trace_content_to_phoenix_cloud_is_refused_naming_the_host(tmp_path: Path) -> None:
    err = error(tmp_path, with_phoenix(content_capture=True))
    assert err.field == "observability.phoenix.content_capture"
    assert "'app.phoenix.arize.com', outside the private network" in err.message
    assert "allowed: false or null" in err.message


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://phoenix.example.com/v1/traces",
        "https://10.20.3.4.nip.io/v1/traces",
        "https://52.1.2.3/v1/traces",
    ],
)
def test_trace_content_to_any_public_host_is_refused(tmp_path: Path, endpoint: str) -> None:
    err = error(tmp_path, with_phoenix(collector_endpoint=endpoint, content_capture=True))
    assert err.field == "observability.phoenix.content_capture"


def test_trace_content_defaults_off_for_an_external_collector(tmp_path: Path) -> None:
    config = load(write(tmp_path, "dev", with_phoenix(content_capture=None)))
    assert config.observability.phoenix.content_capture is None
    assert config.observability.phoenix.captures_content is False


@pytest.mark.parametrize("endpoint", [SELF_HOSTED, "https://10.20.8.9:6006/v1/traces"])
def test_trace_content_defaults_on_for_a_collector_inside_the_network(tmp_path: Path, endpoint: str) -> None:
    data = with_phoenix(collector_endpoint=endpoint, api_key_secret_arn=None, content_capture=None)
    assert load(write(tmp_path, "dev", data)).observability.phoenix.captures_content is True


def test_trace_content_can_be_turned_off_for_a_collector_inside_the_network(tmp_path: Path) -> None:
    data = with_phoenix(collector_endpoint=SELF_HOSTED, api_key_secret_arn=None, content_capture=False)
    assert load(write(tmp_path, "dev", data)).observability.phoenix.captures_content is False


def test_trace_content_must_be_a_boolean(tmp_path: Path) -> None:
    err = error(tmp_path, with_phoenix(content_capture="off"))
    assert err.field == "observability.phoenix.content_capture" and "true or false or null" in err.message


# ---------------------------------------------------------------- image source across accounts
DEV_REPOSITORY = "arn:aws:ecr:us-east-1:111111111111:repository/llm-gateway-dev"


def pulling_from(repository: str, *, account: str = "222222222222") -> dict:
    """dev's settings turned into an environment of `account` that runs images from `repository`."""
    data = edit("compute.image_repository", repository)
    del data["compute"]["image_pull_account_ids"]
    data["aws"]["account_id"] = account
    # A state bucket and role variables belong to one account (delivery, docs/gitops.md).
    data["state"]["bucket"] = f"acme-llm-gateway-tfstate-{account}"
    data["delivery"].update(plan_role_variable=f"PLAN_{account}", apply_role_variable=f"APPLY_{account}")
    # So is an ALB's certificate (modules/config checks the account).
    certificate = data["edge"]["certificate_arn"]
    data["edge"]["certificate_arn"] = certificate.replace(DEV["aws"]["account_id"], account)
    return data


def test_shipped_prod_runs_the_images_of_dev_which_grants_it_pull() -> None:
    dev, prod = load(ENVIRONMENTS / "dev"), load(ENVIRONMENTS / "prod")
    assert prod.compute.image_repository == (
        f"arn:aws:ecr:{dev.aws.region}:{dev.aws.account_id}:repository/{dev.stack_id}"
    )
    assert prod.aws.account_id in dev.compute.image_pull_account_ids
    assert dev.compute.image_repository is None and prod.compute.image_pull_account_ids == ()


def test_image_settings_default_to_the_stacks_own_unshared_repository(tmp_path: Path) -> None:
    data = copy.deepcopy(DEV)
    del data["compute"]["image_pull_account_ids"]
    config = load(write(tmp_path, "dev", data))
    assert config.compute.image_repository is None and config.compute.image_pull_account_ids == ()


def test_image_repository_must_be_an_ecr_repository_arn(tmp_path: Path) -> None:
    url = "111111111111.dkr.ecr.us-east-1.amazonaws.com/llm-gateway-dev"
    err = error(tmp_path, pulling_from(url))
    assert err.field == "compute.image_repository" and "an ECR repository ARN" in err.message


def test_image_repository_in_the_environments_own_account_is_refused(tmp_path: Path) -> None:
    err = error(tmp_path, pulling_from(DEV_REPOSITORY, account="111111111111"))
    assert err.field == "compute.image_repository" and "another account's repository" in err.message


def test_image_repository_of_another_region_is_refused(tmp_path: Path) -> None:
    err = error(tmp_path, pulling_from(DEV_REPOSITORY.replace("us-east-1", "eu-west-1")))
    assert err.field == "compute.image_repository" and "a repository in us-east-1" in err.message


def test_an_environment_pulling_elsewhere_cannot_share_a_repository(tmp_path: Path) -> None:
    data = pulling_from(DEV_REPOSITORY)
    data["compute"]["image_pull_account_ids"] = ["333333333333"]
    err = error(tmp_path, data)
    assert err.field == "compute.image_pull_account_ids" and "empty list when image_repository" in err.message


def test_pulling_from_an_environment_that_does_not_grant_it_is_refused(tmp_path: Path) -> None:
    source = edit("compute.image_pull_account_ids", ["333333333333"])
    write(tmp_path, "dev", source)
    prod = pulling_from(DEV_REPOSITORY)
    prod["state"]["key"] = "llm-gateway/prod/terraform.tfstate"
    write(tmp_path, "prod", prod)
    with pytest.raises(ConfigError) as caught:
        load_all(tmp_path)
    assert caught.value.file.endswith("dev/config.yaml")
    assert caught.value.field == "compute.image_pull_account_ids"
    assert (
        "'prod' (account 222222222222)" in caught.value.message and "'222222222222'" in caught.value.message
    )


def test_pulling_from_an_environment_that_grants_it_loads(tmp_path: Path) -> None:
    write(tmp_path, "dev", DEV)
    prod = pulling_from(DEV_REPOSITORY)
    prod["state"]["key"] = "llm-gateway/prod/terraform.tfstate"
    write(tmp_path, "prod", prod)
    assert [c.name for c in load_all(tmp_path)] == ["dev", "prod"]


def test_two_environments_sharing_a_state_key(tmp_path: Path) -> None:
    # Each key names its own environment ("dev" folder, "qa" file), yet both are the same object.
    shared = "llm-gateway/dev/qa.tfstate"
    write(tmp_path, "dev", edit("state.key", shared))
    write(tmp_path, "qa", edit("state.key", shared))
    with pytest.raises(ConfigError) as caught:
        load_all(tmp_path)
    assert caught.value.field == "state.key" and "is also the state of 'dev'" in caught.value.message
    assert caught.value.file.endswith("qa/config.yaml")


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = (ENVIRONMENTS / "dev" / "config.yaml").read_text() + "\nproject: other\n"
    err = error(tmp_path, text)
    assert err.field == "project" and "duplicate key 'project' at line" in err.message


def test_empty_file_lists_the_keys_a_file_needs(tmp_path: Path) -> None:
    message = error(tmp_path, "# nothing here yet\n").message
    assert "the file is empty" in message and "project, aws, network" in message
    assert "EnvironmentConfig" not in message


def test_broken_yaml_is_one_line_with_where_it_breaks(tmp_path: Path) -> None:
    text = (ENVIRONMENTS / "dev" / "config.yaml").read_text().replace("  cpu: 1024", "  cpu: [1024", 1)
    message = error(tmp_path, text).message
    assert "\n" not in message
    assert message.startswith("line ") and "not valid YAML" in message


def test_a_tab_for_indentation_says_to_use_spaces(tmp_path: Path) -> None:
    text = (ENVIRONMENTS / "dev" / "config.yaml").read_text().replace("\n  vpc_cidr", "\n\tvpc_cidr", 1)
    assert "allowed: spaces for indentation, never tabs" in error(tmp_path, text).message


def test_a_file_that_is_not_utf8_is_refused_without_a_traceback(tmp_path: Path) -> None:
    folder = write(tmp_path, "dev", "")
    (folder / "config.yaml").write_bytes(b"# D\xe9veloppement\nproject: x\n")
    with pytest.raises(ConfigError, match=r"not UTF-8 \(byte 0xe9 at offset 3\); allowed: UTF-8 text"):
        load(folder)


def test_a_config_path_that_cannot_be_read_is_refused_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "dev" / "config.yaml").mkdir(parents=True)
    with pytest.raises(ConfigError, match="cannot be read"):
        load(tmp_path / "dev")


def test_folder_without_config_file(tmp_path: Path) -> None:
    (tmp_path / "qa").mkdir()
    with pytest.raises(ConfigError, match="file not found"):
        load_all(tmp_path)


def test_unknown_environment_requested() -> None:
    with pytest.raises(ConfigError, match="unknown environment 'nowhere'; allowed: dev, prod"):
        load_all(ENVIRONMENTS, ["nowhere"])


def test_stack_id_too_long_for_aws_names(tmp_path: Path) -> None:
    data = edit("project", "a-very-long-project-name")
    err = error(tmp_path, data)
    assert err.field == "project" and "at most 24" in err.message


def test_main_prints_the_error_without_traceback_and_fails(tmp_path: Path, capsys) -> None:
    write(tmp_path, "dev", edit("database.min_acu", 300))
    code = main.main(["--environments-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and "database.min_acu: 300.0 is out of" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_environment_config_is_built_only_by_the_loader() -> None:
    with pytest.raises(TypeError):
        EnvironmentConfig("dev")  # type: ignore[misc]  # keyword-only


# ---------------------------------------------------------------- api: request limits
def test_the_api_section_is_optional_and_defaults_to_the_images_limits(tmp_path: Path) -> None:
    from gateway.limits import DEFAULTS

    config = load(write(tmp_path, "dev", edit("api", None, delete=True)))
    assert config.api.limits() == DEFAULTS


def test_shipped_environments_keep_internal_headers_private() -> None:
    for config in load_all(ENVIRONMENTS):
        assert config.api.expose_internal_headers is False, config.name


# ---------------------------------------------------------------- limits: the API's, and the AWS services'
# A bad request limit names the field and what is allowed; a value the AWS service would refuse
# is refused before any construct.
LIMITS = [
    ("api.max_request_body_mb", 0, "allowed: an integer from 1 to 64"),
    ("api.max_embedding_inputs", 5000, "allowed: an integer from 1 to 2048"),
    ("api.max_tokens", 0, "allowed: an integer from 1 to 200000"),
    ("api.max_cached_answer_kb", 20_000, "allowed: an integer from 1 to 16384"),
    ("api.max_tokens", "10k", "allowed: an integer"),
    ("api.expose_internal_headers", "yes", "allowed: true or false"),
    ("edge.idle_timeout", 0, "allowed: an integer from 1 to 4000"),
    ("edge.idle_timeout", 4001, "allowed: an integer from 1 to 4000"),
    ("cache.nodes", 0, "allowed: an integer from 1 to 6"),
    ("cache.nodes", 7, "allowed: an integer from 1 to 6"),
    ("cache.node_type", "t4g.small", "allowed: e.g. cache.t4g.small"),
    ("database.instances", 0, "allowed: an integer from 1 to 16"),
    ("database.backup_retention_days", 0, "allowed: an integer from 1 to 35"),
    ("database.max_acu", 2.3, "not a multiple of 0.5"),
]


def test_the_alb_idle_timeout_is_optional_and_defaults_to_five_minutes(tmp_path: Path) -> None:
    assert load(ENVIRONMENTS / "dev").edge.idle_timeout == 300
    assert load(write(tmp_path, "dev", edit("edge.idle_timeout", 900))).edge.idle_timeout == 900


OUT_OF_LIMITS = [
    mistake(f"out_of_its_limits:{path}={value!r}", path, value, allowed) for path, value, allowed in LIMITS
]


@pytest.mark.parametrize(("path", "value", "field", "expected"), MISTAKES + OUT_OF_LIMITS)
def test_a_wrong_value_is_one_error_naming_its_field_and_what_is_allowed(
    tmp_path: Path, path: str, value: Any, field: str, expected: str
) -> None:
    err = error(tmp_path, edit(path, value, delete=value is DELETED))
    assert err.field == field and expected in err.message
