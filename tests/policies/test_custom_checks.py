"""Every gateway policy (CKV_LLMGW_*) fires on the mistake it exists for, and only then.

Invariants the constructs hard-code (WAF default block, TLS on the cache, ...)
cannot be broken from an environment file, so they are broken by mutating a
stack's JSON: once on a small hand-written stack and once on the real
synthesized prod stack. Each mutated stack must fail with exactly the expected
policy id and no other custom one. Invariants an environment file CAN break
(deletion protection, log retention) are broken there and synthesized.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from policy_helpers import Mutation, failed_custom, mutated, scan_stacks, stack_of, write_stacks


# ---------------------------------------------------------------- mutations
def _resources(stack: dict, type_: str) -> list[dict]:
    found = list((stack.get("resource") or {}).get(type_, {}).values())
    assert found, f"the stack has no {type_} to break"
    return found


def _items(raw) -> list[dict]:
    return [raw] if isinstance(raw, dict) else list(raw or [])


def _set_variables(container: dict, **values: str | None) -> None:
    """Set (or, with None, remove) plain environment variables of one container definition."""
    kept = [e for e in container.get("environment", []) if e.get("name") not in values]
    container["environment"] = kept + [{"name": k, "value": v} for k, v in values.items() if v is not None]


def plain_variables(**values: str | None) -> Mutation:
    """Set (or, with None, remove) plain environment variables of every task's first container."""

    def mutation(stack: dict) -> None:
        for task in _resources(stack, "aws_ecs_task_definition"):
            definitions = json.loads(task["container_definitions"])
            _set_variables(definitions[0], **values)
            task["container_definitions"] = json.dumps(definitions)

    return mutation


def waf_allows_by_default(stack: dict) -> None:
    for acl in _resources(stack, "aws_wafv2_web_acl"):
        acl["default_action"] = {"allow": {}}


def alb_without_web_acl(stack: dict) -> None:
    assert stack["resource"].pop("aws_wafv2_web_acl_association", None), "no web ACL association to remove"


def prompt_attack_at_medium(stack: dict) -> None:
    changed = 0
    for guardrail in _resources(stack, "aws_bedrock_guardrail"):
        for policy in _items(guardrail.get("content_policy_config")):
            for entry in _items(policy.get("filters_config")):
                if entry.get("type") == "PROMPT_ATTACK":
                    entry["input_strength"] = "MEDIUM"
                    changed += 1
    assert changed, "no PROMPT_ATTACK filter to weaken"


def phone_numbers_in_clear(stack: dict) -> None:
    for guardrail in _resources(stack, "aws_bedrock_guardrail"):
        for policy in _items(guardrail.get("sensitive_information_policy_config")):
            policy["pii_entities_config"] = [
                e for e in _items(policy.get("pii_entities_config")) if e.get("type") != "PHONE"
            ]


def cache_without_tls(stack: dict) -> None:
    for group in _resources(stack, "aws_elasticache_replication_group"):
        group["transit_encryption_enabled"] = False


def cache_without_auth(stack: dict) -> None:
    for group in _resources(stack, "aws_elasticache_replication_group"):
        for key in ("auth_token", "auth_token_wo", "user_group_ids"):
            group.pop(key, None)


def database_unencrypted(stack: dict) -> None:
    for cluster in _resources(stack, "aws_rds_cluster"):
        cluster["storage_encrypted"] = False


def database_deletable(stack: dict) -> None:
    for cluster in _resources(stack, "aws_rds_cluster"):
        cluster["deletion_protection"] = False


def bedrock_on_any_resource(stack: dict) -> None:
    """Widen every Bedrock grant to `*`, wherever the stack writes its IAM documents."""
    changed = 0
    for type_ in ("aws_iam_role_policy", "aws_iam_policy"):
        for policy in (stack.get("resource") or {}).get(type_, {}).values():
            try:
                document = json.loads(policy["policy"])
            except (KeyError, ValueError):
                continue
            for statement in _items(document.get("Statement")):
                actions = statement.get("Action")
                if any(str(a).startswith("bedrock:") for a in _items_str(actions)):
                    statement["Resource"] = "*"
                    changed += 1
            policy["policy"] = json.dumps(document)
    for document in (stack.get("data") or {}).get("aws_iam_policy_document", {}).values():
        for statement in _items(document.get("statement")):
            if any(str(a).startswith("bedrock:") for a in statement.get("actions") or []):
                statement["resources"] = ["*"]
                changed += 1
    assert changed, "no Bedrock grant found to widen"


def _items_str(raw) -> list:
    return raw if isinstance(raw, list) else [raw]


def task_with_public_ip(stack: dict) -> None:
    for service in _resources(stack, "aws_ecs_service"):
        for network in _items(service.get("network_configuration")):
            network["assign_public_ip"] = True


def one_day_logs(stack: dict) -> None:
    for group in _resources(stack, "aws_cloudwatch_log_group"):
        group["retention_in_days"] = 1


def cache_tls_only_preferred(stack: dict) -> None:
    for group in _resources(stack, "aws_elasticache_replication_group"):
        group["transit_encryption_mode"] = "preferred"  # accepts plain-text clients too


def prompt_attack_detect_only(stack: dict) -> None:
    for guardrail in _resources(stack, "aws_bedrock_guardrail"):
        for policy in _items(guardrail.get("content_policy_config")):
            for entry in _items(policy.get("filters_config")):
                if entry.get("type") == "PROMPT_ATTACK":
                    entry["input_action"] = "NONE"


def listener_forwards_by_default(stack: dict) -> None:
    """What the listeners did before the allow-list: every path to the tasks."""
    group = next(iter(stack["resource"]["aws_lb_target_group"]))
    forward = {"type": "forward", "target_group_arn": f"${{aws_lb_target_group.{group}.arn}}"}
    for listener in _resources(stack, "aws_lb_listener"):
        listener["default_action"] = [dict(forward)]


def rule_forwards_an_admin_route(stack: dict) -> None:
    changed = 0
    for rule in _resources(stack, "aws_lb_listener_rule"):
        if _items(rule["action"])[0]["type"] == "forward":
            _items(rule["condition"])[0]["path_pattern"]["values"].append("/key/generate")
            changed += 1
    assert changed, "no forwarding rule to widen"


PHOENIX_CLOUD = "https://app.phoenix.arize.com/v1/traces"


def bedrock_in_any_region(stack: dict) -> None:
    for type_ in ("aws_iam_role_policy", "aws_iam_policy"):
        for policy in (stack.get("resource") or {}).get(type_, {}).values():
            policy["policy"] = policy["policy"].replace("arn:aws:bedrock:us-east-1:", "arn:aws:bedrock:*:")


MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "waf_allows_by_default": (waf_allows_by_default, "CKV_LLMGW_1"),
    "alb_without_web_acl": (alb_without_web_acl, "CKV_LLMGW_2"),
    "secret_named_plain_variable": (plain_variables(REDIS_PASSWORD="plain-text-password"), "CKV_LLMGW_3"),
    # IAM_TOKEN_DB_AUTH passes as a switch (true/false); any other value under the name is a secret.
    "token_named_variable_that_is_not_a_switch": (
        plain_variables(IAM_TOKEN_DB_AUTH="v2.eyJyZWdpb24iOiJ1cy1lYXN0LTEifQ"),
        "CKV_LLMGW_3",
    ),
    "admin_key_as_plain_variable": (plain_variables(LITELLM_MASTER_KEY="${var.master_key}"), "CKV_LLMGW_3"),
    # Generated here, never committed: `sk-` + 24 characters.
    "key_shaped_plain_value": (plain_variables(UPSTREAM="sk-" + secrets.token_hex(12)), "CKV_LLMGW_3"),
    "prompt_attack_at_medium": (prompt_attack_at_medium, "CKV_LLMGW_4"),
    "prompt_attack_detect_only": (prompt_attack_detect_only, "CKV_LLMGW_4"),
    "phone_numbers_in_clear": (phone_numbers_in_clear, "CKV_LLMGW_5"),
    "cache_without_tls": (cache_without_tls, "CKV_LLMGW_6"),
    "cache_without_auth": (cache_without_auth, "CKV_LLMGW_6"),
    "cache_tls_only_preferred": (cache_tls_only_preferred, "CKV_LLMGW_6"),
    "database_unencrypted": (database_unencrypted, "CKV_LLMGW_7"),
    "database_deletable": (database_deletable, "CKV_LLMGW_8"),
    "bedrock_on_any_resource": (bedrock_on_any_resource, "CKV_LLMGW_9"),
    "task_with_public_ip": (task_with_public_ip, "CKV_LLMGW_10"),
    "one_day_logs": (one_day_logs, "CKV_LLMGW_11"),
    "trace_content_to_phoenix_cloud": (
        plain_variables(PHOENIX_COLLECTOR_ENDPOINT=PHOENIX_CLOUD, GATEWAY_TRACE_CONTENT="true"),
        "CKV_LLMGW_12",
    ),
    # An endpoint only known after apply cannot be proven inside the network.
    "trace_content_to_a_referenced_collector": (
        plain_variables(
            PHOENIX_COLLECTOR_ENDPOINT="https://${aws_lb.phoenix.dns_name}/v1/traces",
            GATEWAY_TRACE_CONTENT="true",
        ),
        "CKV_LLMGW_12",
    ),
    "listener_forwards_by_default": (listener_forwards_by_default, "CKV_LLMGW_13"),
    "rule_forwards_an_admin_route": (rule_forwards_an_admin_route, "CKV_LLMGW_13"),
}


# Look-alikes that must NOT fire: names that merely resemble secrets, a region wildcard, content
# traced inside the network, and the entrypoint's default (off) for an external collector.
LOOKALIKE_NAMES = (
    "MAX_TOKENS",
    "TOKENIZERS_PARALLELISM",
    "KEYCLOAK_URL",
    "PHOENIX_API_KEY_SECRET_ARN",
    "CACHE_KEY_ID",
    "GATEWAY_ACCESS_SECRET_PREFIX",
)
HARMLESS: dict[str, Mutation] = {
    "lookalike_variable_names": plain_variables(**dict.fromkeys(LOOKALIKE_NAMES, "x")),
    "bedrock_in_any_region": bedrock_in_any_region,
    "trace_content_to_a_collector_in_the_vpc": plain_variables(
        PHOENIX_COLLECTOR_ENDPOINT="https://phoenix.llm-gateway.internal/v1/traces",
        GATEWAY_TRACE_CONTENT="true",
    ),
    "cloud_trace_content_by_default": plain_variables(
        PHOENIX_COLLECTOR_ENDPOINT=PHOENIX_CLOUD, GATEWAY_TRACE_CONTENT=None
    ),
}


def _scan_mutations(base: dict, root: Path) -> dict:
    stacks = {"unchanged": base, **{name: mutated(base, m) for name, (m, _) in MUTATIONS.items()}}
    stacks.update({name: mutated(base, m) for name, m in HARMLESS.items()})
    return scan_stacks(write_stacks(root, stacks), "prod")


@pytest.fixture(scope="module")
def fixture_results(checkov, tmp_path_factory) -> dict:
    from policy_helpers import SECURE_STACK

    return _scan_mutations(
        json.loads(SECURE_STACK.read_text(encoding="utf-8")), tmp_path_factory.mktemp("mut-fx")
    )


@pytest.fixture(scope="module")
def synthesized_results(checkov, real_stacks, tmp_path_factory) -> dict:
    return _scan_mutations(stack_of(real_stacks, "prod"), tmp_path_factory.mktemp("mut-real"))


@pytest.fixture(params=["fixture", "synthesized"])
def results(request) -> dict:
    return request.getfixturevalue(f"{request.param}_results")


# ---------------------------------------------------------------- tests
def test_unchanged_stack_passes_every_custom_policy(results):
    assert failed_custom(results["unchanged"]) == set()


def test_every_custom_policy_evaluates_the_unchanged_stack(results):
    from policies import catalogue

    evaluated = {f.check_id for f in results["unchanged"] if f.check_id.startswith("CKV_LLMGW_")}
    assert evaluated == set(catalogue.load())


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_breaking_an_invariant_fails_exactly_its_policy(results, mutation):
    assert failed_custom(results[mutation]) == {MUTATIONS[mutation][1]}


@pytest.mark.parametrize("change", list(HARMLESS))
def test_harmless_lookalike_fails_no_custom_policy(results, change):
    assert failed_custom(results[change]) == set()


def test_every_custom_policy_has_a_negative_test():
    from policies import catalogue

    assert {expected for _, expected in MUTATIONS.values()} == set(catalogue.load())


# ---------------------------------------------------------------- real environments
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_real_stack_passes_every_custom_policy(checkov, real_stacks, tmp_path, env):
    findings = scan_stacks(write_stacks(tmp_path, {env: stack_of(real_stacks, env)}), env)[env]
    assert failed_custom(findings) == set()


def test_dev_stack_judged_by_prod_rules_fails_retention_and_deletion_protection(
    checkov, real_stacks, tmp_path
):
    findings = scan_stacks(write_stacks(tmp_path, {"dev": stack_of(real_stacks, "dev")}), "prod")["dev"]
    assert failed_custom(findings) == {"CKV_LLMGW_8", "CKV_LLMGW_11"}


def test_prod_config_without_deletion_protection_fails_ckv_llmgw_8(checkov, broken_prod_stacks, tmp_path):
    findings = scan_stacks(write_stacks(tmp_path, {"prod": stack_of(broken_prod_stacks, "prod")}), "prod")[
        "prod"
    ]
    failing = {f.resource for f in findings if f.check_id == "CKV_LLMGW_8" and not f.passed}
    assert failing and all(r.startswith("aws_rds_cluster.") for r in failing)


def test_prod_config_with_one_day_logs_fails_ckv_llmgw_11(checkov, broken_prod_stacks, tmp_path):
    findings = scan_stacks(write_stacks(tmp_path, {"prod": stack_of(broken_prod_stacks, "prod")}), "prod")[
        "prod"
    ]
    failing = {f.resource for f in findings if f.check_id == "CKV_LLMGW_11" and not f.passed}
    assert failing and all(r.startswith("aws_cloudwatch_log_group.") for r in failing)
