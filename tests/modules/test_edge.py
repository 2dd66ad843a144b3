"""modules/edge.py: hardened ALB, private TLS-only log bucket, WAF blocking by default, rate limiting all."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import yaml
from constructs import Construct
from terraform_json import one, sg_id

from modules.config import ConfigError, EdgeSettings, load
from modules.edge import TLS_POLICY, Edge, EdgeWiring
from modules.shared import LogDestination
from policies import routes

ROOT = Path(__file__).resolve().parents[2]
PLAINTEXT_REASON = "an isolated lab network that holds no production keys or data"

CERT = "arn:aws:acm:us-east-1:111111111111:certificate/5f1c0a52-6d7e-4c1b-9a35-0e8f2f7d9c11"
KEY = "arn:aws:kms:us-east-1:111111111111:key/test"


WIRING = EdgeWiring(
    name="gw-test",
    account_id="111111111111",
    vpc_id="vpc-1",
    public_subnet_ids=["subnet-a", "subnet-b"],
    container_port=4000,
    logs=LogDestination(kms_key_arn=KEY, retention_days=30),
)


def settings(**changes) -> EdgeSettings:
    """The edge section of an environment file (validated like one)."""
    base = dict(allowed_client_cidrs=["203.0.113.0/24"], waf_rate_limit=2000, deletion_protection=False)
    return EdgeSettings(**{**base, **changes})


@pytest.fixture(scope="module")
def plain(synth_in_stack) -> dict:
    """An edge without a certificate: only possible with a stated reason for plain HTTP."""
    return synth_in_stack(
        lambda stack: Edge(stack, "edge", settings=settings(allow_plaintext=PLAINTEXT_REASON), wiring=WIRING)
    )


@pytest.fixture(scope="module")
def tls(synth_in_stack) -> dict:
    return synth_in_stack(
        lambda stack: Edge(
            stack, "edge", settings=settings(certificate_arn=CERT, deletion_protection=True), wiring=WIRING
        )
    )


def ingress(doc: dict) -> list[dict]:
    return list(doc["resource"]["aws_vpc_security_group_ingress_rule"].values())


def test_alb_sits_in_its_own_group(plain) -> None:
    assert one(plain, "aws_lb")["security_groups"] == [sg_id(plain, "gw-test-alb")]


def test_alb_accepts_only_the_allowed_clients_on_http_without_a_certificate(plain) -> None:
    rules = ingress(plain)
    assert {r["security_group_id"] for r in rules} == {sg_id(plain, "gw-test-alb")}
    assert {(r["cidr_ipv4"], r["from_port"], r["to_port"]) for r in rules} == {("203.0.113.0/24", 80, 80)}


def test_alb_opens_https_when_a_certificate_is_configured(tls) -> None:
    assert {r["from_port"] for r in ingress(tls)} == {80, 443}


def test_alb_egress_is_left_to_the_stack_once_the_tasks_group_exists(plain) -> None:
    assert "aws_vpc_security_group_egress_rule" not in plain["resource"]


def test_alb_group_keeps_the_address_of_the_scope_it_is_given(synth_in_stack) -> None:
    def build(stack):
        network = Construct(stack, "network")
        wiring = dataclasses.replace(WIRING, security_group_scope=network)
        Edge(stack, "edge", settings=settings(certificate_arn=CERT), wiring=wiring)

    doc = synth_in_stack(build)
    assert [k.rsplit("_", 1)[0] for k in doc["resource"]["aws_security_group"]] == ["network_alb-sg"]


def test_alb_is_internet_facing_and_drops_invalid_headers(plain) -> None:
    alb = one(plain, "aws_lb")
    assert alb["internal"] is False and alb["load_balancer_type"] == "application"
    assert alb["drop_invalid_header_fields"] is True
    assert alb["access_logs"]["enabled"] is True


def test_idle_timeout_follows_the_setting_and_defaults_to_longer_than_a_streamed_answer(
    plain, synth_in_stack
) -> None:
    assert one(plain, "aws_lb")["idle_timeout"] == 300
    short = synth_in_stack(
        lambda stack: Edge(
            stack, "edge", settings=settings(idle_timeout=45, certificate_arn=CERT), wiring=WIRING
        )
    )
    assert one(short, "aws_lb")["idle_timeout"] == 45


def test_deletion_protection_follows_the_config(plain, tls) -> None:
    assert one(plain, "aws_lb")["enable_deletion_protection"] is False
    assert one(tls, "aws_lb")["enable_deletion_protection"] is True
    assert one(tls, "aws_s3_bucket")["force_destroy"] is False


def _rules_of(doc: dict, listener_name: str) -> list[dict]:
    return [
        rule
        for rule in doc["resource"]["aws_lb_listener_rule"].values()
        if rule["listener_arn"] == f"${{aws_lb_listener.{listener_name}.arn}}"
    ]


def _listeners(doc: dict) -> dict[str, tuple[str, dict]]:
    return {x["protocol"]: (name, x) for name, x in doc["resource"]["aws_lb_listener"].items()}


def _assert_default_is_the_openai_404(listener: dict) -> None:
    (action,) = listener["default_action"]
    response = action["fixed_response"]
    assert action["type"] == "fixed-response" and response["status_code"] == "404"
    assert response["content_type"] == "application/json"
    body = json.loads(response["message_body"])
    assert body["error"]["type"] == "invalid_request_error" and body["error"]["code"] == "not_found"
    assert body["error"]["param"] is None and len(response["message_body"]) <= 1024  # ALB limit


def test_without_a_certificate_plain_http_forwards_only_served_paths(plain) -> None:
    ((name, listener),) = _listeners(plain).values()
    assert (listener["port"], listener["protocol"]) == (80, "HTTP")
    _assert_default_is_the_openai_404(listener)
    rules = _rules_of(plain, name)
    assert all(r["action"][0]["type"] == "forward" for r in rules)
    paths = [p for r in rules for p in r["condition"][0]["path_pattern"]["values"]]
    assert paths == list(routes.served_paths())


def test_with_a_certificate_https_forwards_only_served_paths_and_http_redirects_to_it(tls) -> None:
    listeners = _listeners(tls)
    assert set(listeners) == {"HTTP", "HTTPS"}
    https_name, https = listeners["HTTPS"]
    assert https["ssl_policy"] == TLS_POLICY == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["certificate_arn"] == CERT
    _assert_default_is_the_openai_404(https)
    forwarded = _rules_of(tls, https_name)
    assert {r["action"][0]["type"] for r in forwarded} == {"forward"}
    paths = [p for r in forwarded for p in r["condition"][0]["path_pattern"]["values"]]
    assert paths == list(routes.served_paths())
    # Plain HTTP reaches no target: everything is redirected to the HTTPS listener above.
    http_name, http = listeners["HTTP"]
    (redirect,) = http["default_action"]
    assert redirect["type"] == "redirect" and redirect["redirect"]["protocol"] == "HTTPS"
    assert _rules_of(tls, http_name) == []


def test_listener_rules_hold_at_most_five_exact_paths_and_no_admin_route(plain, tls) -> None:
    for doc in (plain, tls):
        for rule in doc["resource"]["aws_lb_listener_rule"].values():
            (condition,) = rule["condition"]
            values = condition["path_pattern"]["values"]
            assert 0 < len(values) <= 5 and not any("*" in v or "?" in v for v in values)
            assert {routes.classify(v) for v in values} == {routes.SERVED}
        rules = doc["resource"]["aws_lb_listener_rule"].values()
        assert len({(r["listener_arn"], r["priority"]) for r in rules}) == len(rules)  # unique per listener


def test_target_group_checks_litellm_liveliness_on_the_container_port(plain) -> None:
    group = one(plain, "aws_lb_target_group")
    assert (group["target_type"], group["port"], group["protocol"]) == ("ip", 4000, "HTTP")
    assert group["health_check"]["path"] == "/health/liveliness"


def test_log_bucket_is_private_versioned_encrypted_and_expiring(plain) -> None:
    block = one(plain, "aws_s3_bucket_public_access_block")
    assert all(
        block[k]
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    assert one(plain, "aws_s3_bucket_versioning")["versioning_configuration"]["status"] == "Enabled"
    sse = one(plain, "aws_s3_bucket_server_side_encryption_configuration")["rule"][0]
    assert sse["apply_server_side_encryption_by_default"]["sse_algorithm"] == "AES256"
    assert one(plain, "aws_s3_bucket_lifecycle_configuration")["rule"][0]["expiration"][0]["days"] == 30


def test_log_bucket_policy_admits_elb_delivery_and_refuses_plain_http(plain) -> None:
    statements = {s["Sid"]: s for s in json.loads(one(plain, "aws_s3_bucket_policy")["policy"])["Statement"]}
    assert statements["ElbLogDeliveryService"]["Principal"] == {
        "Service": "logdelivery.elasticloadbalancing.amazonaws.com"
    }
    assert statements["ElbLogDeliveryAccount"]["Action"] == "s3:PutObject"
    assert statements["ElbLogDeliveryAccount"]["Resource"].endswith("/alb/AWSLogs/111111111111/*")
    deny = statements["TlsOnly"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_waf_blocks_by_default(plain) -> None:
    acl = one(plain, "aws_wafv2_web_acl")
    assert acl["default_action"] == {"block": {}} and acl["scope"] == "REGIONAL"


def test_rate_limit_runs_first_and_the_allow_list_last(plain) -> None:
    ordered = sorted(one(plain, "aws_wafv2_web_acl")["rule"], key=lambda r: r["priority"])
    assert ordered[0]["name"] == "rate-limit-per-ip" and ordered[0]["action"] == {"block": {}}
    assert ordered[0]["statement"]["rate_based_statement"] == {"limit": 2000, "aggregate_key_type": "IP"}
    assert ordered[-1]["action"] == {"allow": {}}
    assert "ip_set_reference_statement" in ordered[-1]["statement"]
    assert [r for r in ordered if "allow" in r.get("action", {})] == [ordered[-1]]


def test_aws_managed_rule_groups_are_enforced(plain) -> None:
    groups = {
        r["statement"]["managed_rule_group_statement"]["name"]: r
        for r in one(plain, "aws_wafv2_web_acl")["rule"]
        if "managed_rule_group_statement" in r["statement"]
    }
    assert set(groups) == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesSQLiRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
        "AWSManagedRulesAnonymousIpList",
    }
    assert all(r["override_action"] == {"none": {}} for r in groups.values())


def test_anonymizers_are_blocked_but_cloud_hosted_callers_only_counted(plain) -> None:
    (anonymous,) = [
        r for r in one(plain, "aws_wafv2_web_acl")["rule"] if r["name"] == "AWSManagedRulesAnonymousIpList"
    ]
    overrides = anonymous["statement"]["managed_rule_group_statement"]["rule_action_override"]
    assert overrides == [{"name": "HostingProviderIPList", "action_to_use": {"count": {}}}]


def test_body_size_rule_only_counts_because_prompts_exceed_8kb(plain) -> None:
    (common,) = [
        r for r in one(plain, "aws_wafv2_web_acl")["rule"] if r["name"] == "AWSManagedRulesCommonRuleSet"
    ]
    overrides = common["statement"]["managed_rule_group_statement"]["rule_action_override"]
    assert overrides == [{"name": "SizeRestrictions_BODY", "action_to_use": {"count": {}}}]


def test_allow_list_holds_exactly_the_configured_clients(plain) -> None:
    ip_set = one(plain, "aws_wafv2_ip_set")
    assert ip_set["addresses"] == ["203.0.113.0/24"] and ip_set["ip_address_version"] == "IPV4"


def test_waf_is_attached_to_the_alb(plain) -> None:
    association = one(plain, "aws_wafv2_web_acl_association")
    assert (
        association["resource_arn"].startswith("${aws_lb.")
        and "aws_wafv2_web_acl." in association["web_acl_arn"]
    )


def litellm_key_headers() -> set[str]:
    """Every header LiteLLM 1.108.7 accepts a key in, read from LiteLLM and the gateway's config."""
    from litellm.types.proxy.auth.special_headers import SpecialHeaders

    config = yaml.safe_load((ROOT / "gateway" / "config.yaml").read_text())
    custom = (config.get("general_settings") or {}).get("litellm_key_header_name")
    return set(SpecialHeaders.litellm_credential_header_names()) | ({custom.lower()} if custom else set())


def test_waf_logs_to_an_encrypted_group_without_any_api_key(plain) -> None:
    group = one(plain, "aws_cloudwatch_log_group")
    assert group["name"] == "aws-waf-logs-gw-test" and group["kms_key_id"] == KEY
    redacted = one(plain, "aws_wafv2_web_acl_logging_configuration")["redacted_fields"]
    headers = {field["single_header"]["name"] for field in redacted if "single_header" in field}
    assert {"authorization", "x-litellm-api-key", "api-key", "x-api-key"} <= litellm_key_headers()
    assert litellm_key_headers() <= headers
    # LiteLLM also reads a `key` query argument (Google routes); WAF redacts only the whole query string.
    assert {"query_string": {}} in redacted


# ---------------------------------------------------------------- TLS everywhere
def test_every_environment_serves_https_and_plain_http_only_redirects(synthesized) -> None:
    for name, doc in synthesized.items():
        config = load(ROOT / "environments" / name)
        listeners = _listeners(doc)
        if config.edge.allow_plaintext is not None:
            continue  # a stated exception, refused unless written (the tests below)
        assert listeners["HTTPS"][1]["certificate_arn"] == config.edge.certificate_arn, name
        (action,) = listeners["HTTP"][1]["default_action"]
        assert action["type"] == "redirect" and action["redirect"]["protocol"] == "HTTPS", name
        assert _rules_of(doc, listeners["HTTP"][0]) == [], name


def _edited_dev(tmp_path: Path, **edge: object) -> Path:
    folder = tmp_path / "dev"
    shutil.copytree(ROOT / "environments" / "dev", folder)
    data = yaml.safe_load((folder / "config.yaml").read_text())
    data["edge"].update(edge)
    (folder / "config.yaml").write_text(yaml.safe_dump(data))
    return folder


def test_an_environment_without_a_certificate_or_a_reason_is_refused_naming_file_field_and_choices(
    tmp_path,
) -> None:
    folder = _edited_dev(tmp_path, certificate_arn=None)
    with pytest.raises(ConfigError) as caught:
        load(folder)
    assert caught.value.file == str(folder / "config.yaml")
    assert caught.value.field == "edge.certificate_arn"
    assert (
        "allowed: an ACM certificate ARN" in caught.value.message
        and "allow_plaintext" in caught.value.message
    )


def test_plain_http_is_accepted_only_with_a_written_reason(tmp_path) -> None:
    assert load(
        _edited_dev(tmp_path, certificate_arn=None, allow_plaintext=PLAINTEXT_REASON)
    ).edge.allow_plaintext
    with pytest.raises(ConfigError) as caught:
        load(_edited_dev(tmp_path / "short", certificate_arn=None, allow_plaintext="because"))
    assert caught.value.field == "edge.allow_plaintext" and "allowed: a reason of 10" in caught.value.message


def test_a_plaintext_reason_beside_a_certificate_is_refused(tmp_path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(_edited_dev(tmp_path, allow_plaintext=PLAINTEXT_REASON))
    assert caught.value.field == "edge.allow_plaintext" and "allowed: null" in caught.value.message


def test_a_certificate_of_another_account_is_refused(tmp_path) -> None:
    other = "arn:aws:acm:us-east-1:999999999999:certificate/2b7e4f0c-91d3-4a6e-8c52-7f0d1e3a9b64"
    with pytest.raises(ConfigError) as caught:
        load(_edited_dev(tmp_path, certificate_arn=other))
    assert (
        caught.value.field == "edge.certificate_arn"
        and "allowed: a certificate of this" in caught.value.message
    )
