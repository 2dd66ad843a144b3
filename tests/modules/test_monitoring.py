"""modules/monitoring.py: alarms on the golden signals to an encrypted topic, and a dashboard."""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import logging
import re
from pathlib import Path

import pytest

from modules import cdk
from modules.monitoring import (
    AUTH_FAILURES,
    GUARDRAIL_INTERVENTIONS,
    LOG_SIGNALS,
    LogSignal,
    Monitoring,
    MonitoringConfig,
    is_regex,
)

MODELS = ("us.amazon.nova-pro-v1:0", "amazon.titan-text-express-v1")

CONFIG = MonitoringConfig(
    name="gw-test",
    alarm_email="ops@example.com",
    alb_arn_suffix="app/gw-test/0123",
    target_group_arn_suffix="targetgroup/gw-test/4567",
    cluster_name="gw-test-cluster",
    service_name="gw-test-service",
    db_cluster_identifier="gw-test-db",
    cache_replication_group_id="gw-test-cache",
    cache_nodes=2,
    waf_metric_name="gw-test",
    waf_rate_limit_metric_name="rate-limit-per-ip",
    gateway_log_group_name="/gw-test/gateway",
    model_ids=MODELS,
)


def build_monitoring(config: MonitoringConfig):
    def build(stack):
        monitoring = Monitoring(stack, "monitoring", config=config)
        cdk.TerraformOutput(stack, "topic_arn", value=monitoring.topic_arn)
        cdk.TerraformOutput(stack, "dashboard_name", value=monitoring.dashboard_name)

    return build


def only(doc: dict, kind: str) -> tuple[str, dict]:
    ((name, item),) = doc["resource"][kind].items()
    return name, item


@pytest.fixture(scope="module")
def doc(synth_in_stack) -> dict:
    return synth_in_stack(build_monitoring(CONFIG))


@pytest.fixture(scope="module")
def alarms(doc) -> dict[str, dict]:
    return {
        a["alarm_name"].removeprefix("gw-test-"): a
        for a in doc["resource"]["aws_cloudwatch_metric_alarm"].values()
    }


@pytest.fixture(scope="module")
def dashboard(doc) -> dict:
    return json.loads(only(doc, "aws_cloudwatch_dashboard")[1]["dashboard_body"])


def test_topic_is_encrypted_with_a_rotating_key_cloudwatch_may_use(doc):
    key_name, key = only(doc, "aws_kms_key")
    _, topic = only(doc, "aws_sns_topic")
    services = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}["ServicesUseKeyForAccount"]

    assert topic["kms_master_key_id"] == f"${{aws_kms_key.{key_name}.arn}}"
    assert key["enable_key_rotation"] is True
    assert services["Principal"] == {"Service": ["cloudwatch.amazonaws.com"]}
    assert set(services["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_alarm_email_is_subscribed_to_the_topic(doc):
    topic_name, _ = only(doc, "aws_sns_topic")
    _, subscription = only(doc, "aws_sns_topic_subscription")

    assert subscription == {
        "topic_arn": f"${{aws_sns_topic.{topic_name}.arn}}",
        "protocol": "email",
        "endpoint": "ops@example.com",
    }


def test_without_an_email_there_is_no_subscription(synth_in_stack):
    doc = synth_in_stack(build_monitoring(dataclasses.replace(CONFIG, alarm_email=None)))

    assert "aws_sns_topic_subscription" not in doc["resource"]
    assert doc["resource"]["aws_cloudwatch_metric_alarm"]


def test_every_alarm_notifies_the_topic_on_alarm_and_on_recovery(doc, alarms):
    topic_name, _ = only(doc, "aws_sns_topic")
    topic = f"${{aws_sns_topic.{topic_name}.arn}}"

    for alarm in alarms.values():
        assert alarm["alarm_actions"] == [topic]
        assert alarm["ok_actions"] == [topic]
        assert alarm["actions_enabled"] is True


def test_load_balancer_and_gateway_5xx_are_alarmed_separately(alarms):
    elb, target = alarms["alb-5xx"], alarms["target-5xx"]

    assert (elb["metric_name"], elb["statistic"]) == ("HTTPCode_ELB_5XX_Count", "Sum")
    assert elb["dimensions"] == {"LoadBalancer": "app/gw-test/0123"}
    assert (target["metric_name"], target["statistic"]) == ("HTTPCode_Target_5XX_Count", "Sum")
    assert target["dimensions"] == {
        "LoadBalancer": "app/gw-test/0123",
        "TargetGroup": "targetgroup/gw-test/4567",
    }


def test_quiet_periods_do_not_raise_error_alarms(alarms):
    for name in ("alb-5xx", "target-5xx", "p95-latency"):
        assert alarms[name]["treat_missing_data"] == "notBreaching"


def test_latency_alarm_uses_the_p95_of_target_response_time(alarms):
    latency = alarms["p95-latency"]

    assert latency["metric_name"] == "TargetResponseTime"
    assert latency["extended_statistic"] == "p95"
    assert "statistic" not in latency
    assert latency["threshold"] == 30


def test_unhealthy_task_alarm_fires_on_the_first_unhealthy_host(alarms):
    unhealthy = alarms["unhealthy-targets"]

    assert unhealthy["metric_name"] == "UnHealthyHostCount"
    assert (unhealthy["comparison_operator"], unhealthy["threshold"]) == ("GreaterThanThreshold", 0)


def test_no_healthy_task_alarm_treats_silence_as_down(alarms):
    down = alarms["no-healthy-targets"]

    assert down["metric_name"] == "HealthyHostCount"
    assert (down["comparison_operator"], down["threshold"]) == ("LessThanThreshold", 1)
    assert down["treat_missing_data"] == "breaching"


def test_service_cpu_and_memory_are_alarmed_on_the_ecs_service(alarms):
    for name, metric in (("service-cpu", "CPUUtilization"), ("service-memory", "MemoryUtilization")):
        assert alarms[name]["namespace"] == "AWS/ECS"
        assert alarms[name]["metric_name"] == metric
        assert alarms[name]["dimensions"] == {
            "ClusterName": "gw-test-cluster",
            "ServiceName": "gw-test-service",
        }


def test_database_capacity_is_alarmed_on_acu_utilization(alarms):
    acu = alarms["database-acu"]

    assert (acu["namespace"], acu["metric_name"]) == ("AWS/RDS", "ACUUtilization")
    assert acu["dimensions"] == {"DBClusterIdentifier": "gw-test-db"}
    assert acu["threshold"] == 90


def test_each_cache_node_has_engine_and_host_cpu_alarms(alarms):
    cache = {name: a for name, a in alarms.items() if name.startswith("cache-")}

    assert set(cache) == {
        "cache-engine-cpu-001",
        "cache-host-cpu-001",
        "cache-engine-cpu-002",
        "cache-host-cpu-002",
    }
    assert cache["cache-engine-cpu-002"]["dimensions"] == {"CacheClusterId": "gw-test-cache-002"}
    assert cache["cache-engine-cpu-001"]["metric_name"] == "EngineCPUUtilization"
    assert cache["cache-host-cpu-001"]["metric_name"] == "CPUUtilization"


def test_dashboard_shows_every_alarm(doc, dashboard):
    (alarm_widget,) = [w for w in dashboard["widgets"] if w["type"] == "alarm"]
    alarm_refs = {
        f"${{aws_cloudwatch_metric_alarm.{name}.arn}}"
        for name in doc["resource"]["aws_cloudwatch_metric_alarm"]
    }

    assert set(alarm_widget["properties"]["alarms"]) == alarm_refs


def alarmed_metrics(alarm: dict) -> set[tuple[str, str]]:
    """(namespace, metric) of a plain alarm, or of every metric in its metric math."""
    if "metric_query" not in alarm:
        return {(alarm["namespace"], alarm["metric_name"])}
    return {
        (q["metric"]["namespace"], q["metric"]["metric_name"]) for q in alarm["metric_query"] if "metric" in q
    }


def test_dashboard_graphs_every_alarmed_metric(alarms, dashboard):
    graphed = {
        (m[0], m[1])
        for w in dashboard["widgets"]
        if w["type"] == "metric"
        for m in w["properties"]["metrics"]
    }

    assert set().union(*(alarmed_metrics(a) for a in alarms.values())) <= graphed


def test_dashboard_metrics_use_the_configured_resources(dashboard):
    metrics = [m for w in dashboard["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]]
    p95 = [
        m
        for m in metrics
        if m[1] == "TargetResponseTime" and isinstance(m[-1], dict) and m[-1]["stat"] == "p95"
    ]

    assert p95 == [
        [
            "AWS/ApplicationELB",
            "TargetResponseTime",
            "LoadBalancer",
            "app/gw-test/0123",
            "TargetGroup",
            "targetgroup/gw-test/4567",
            {"stat": "p95", "label": "p95"},
        ]
    ]


def test_dashboard_and_topic_are_exposed_by_name_and_arn(doc):
    topic_name, _ = only(doc, "aws_sns_topic")
    dashboard_name, dashboard = only(doc, "aws_cloudwatch_dashboard")

    assert dashboard["dashboard_name"] == "gw-test-gateway"
    assert doc["output"]["topic_arn"]["value"] == f"${{aws_sns_topic.{topic_name}.arn}}"
    assert (
        doc["output"]["dashboard_name"]["value"]
        == f"${{aws_cloudwatch_dashboard.{dashboard_name}.dashboard_name}}"
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"alarm_email": "not-an-address"}, "alarm_email"),
        ({"cache_nodes": 0}, "cache_nodes"),
        ({"service_cpu_percent": 120}, "service_cpu_percent"),
        ({"waf_rate_limit_metric_name": ""}, "waf_rate_limit_metric_name"),
        ({"token_anomaly_band": 0}, "token_anomaly_band"),
    ],
)
def test_invalid_monitoring_settings_are_refused(change, field):
    stack = cdk.TerraformStack(cdk.Testing.app(), "test")

    with pytest.raises(ValueError, match=rf"MonitoringConfig\.{field}"):
        Monitoring(stack, "monitoring", config=dataclasses.replace(CONFIG, **change))


# ---------------------------------------------------------------- rollback on bad deploys
def test_target_5xx_and_p95_latency_are_the_deployment_alarms(doc, alarms):
    names = {a["alarm_name"]: key for key, a in doc["resource"]["aws_cloudwatch_metric_alarm"].items()}
    monitoring_alarms = synth_deployment_alarm_names(CONFIG)

    assert monitoring_alarms == [
        f"${{aws_cloudwatch_metric_alarm.{names['gw-test-target-5xx']}.alarm_name}}",
        f"${{aws_cloudwatch_metric_alarm.{names['gw-test-p95-latency']}.alarm_name}}",
    ]


def synth_deployment_alarm_names(config: MonitoringConfig) -> list[str]:
    """The alarm names Monitoring hands the ECS service, as Terraform references (through an output)."""
    stack = cdk.TerraformStack(cdk.Testing.app(), "test")
    monitoring = Monitoring(stack, "monitoring", config=config)
    cdk.TerraformOutput(stack, "deployment_alarms", value=monitoring.deployment_alarm_names)
    return json.loads(cdk.Testing.synth(stack))["output"]["deployment_alarms"]["value"]


# ---------------------------------------------------------------- detection
def test_waf_blocks_and_rate_limit_hits_are_alarmed_on_the_web_acls_metrics(alarms):
    blocked, limited = alarms["waf-blocked"], alarms["waf-rate-limited"]
    region = "${data.aws_region.account_region.name}"

    assert (blocked["namespace"], blocked["metric_name"], blocked["statistic"]) == (
        "AWS/WAFV2",
        "BlockedRequests",
        "Sum",
    )
    assert blocked["dimensions"] == {"WebACL": "gw-test", "Region": region, "Rule": "ALL"}
    assert limited["metric_name"] == "BlockedRequests"
    assert limited["dimensions"] == {"WebACL": "gw-test", "Region": region, "Rule": "rate-limit-per-ip"}
    assert (limited["comparison_operator"], limited["threshold"]) == ("GreaterThanThreshold", 0)


def test_edge_names_the_waf_metrics_the_alarms_watch(synthesized):
    for name, doc in synthesized.items():
        (acl,) = doc["resource"]["aws_wafv2_web_acl"].values()
        by_name = {a["alarm_name"]: a for a in doc["resource"]["aws_cloudwatch_metric_alarm"].values()}
        rules = {r["visibility_config"]["metric_name"] for r in acl["rule"]}
        blocked = by_name[f"llm-gateway-{name}-waf-blocked"]["dimensions"]
        limited = by_name[f"llm-gateway-{name}-waf-rate-limited"]["dimensions"]
        assert blocked["WebACL"] == acl["visibility_config"]["metric_name"], name
        assert limited["Rule"] in rules and "rate_based_statement" in next(
            r["statement"] for r in acl["rule"] if r["visibility_config"]["metric_name"] == limited["Rule"]
        ), name


def test_log_signals_are_counted_from_the_gateway_log_group_and_alarmed(doc, alarms):
    filters = {
        f["metric_transformation"]["name"]: f
        for f in doc["resource"]["aws_cloudwatch_log_metric_filter"].values()
    }

    assert set(filters) == {s.metric for s in LOG_SIGNALS}
    for signal, alarm in (
        (AUTH_FAILURES, "auth-failures"),
        (GUARDRAIL_INTERVENTIONS, "guardrail-interventions"),
    ):
        found = filters[signal.metric]
        assert found["log_group_name"] == "/gw-test/gateway" and found["pattern"] == signal.pattern
        assert (
            found["metric_transformation"]["namespace"] == alarms[alarm]["namespace"] == "LLMGateway/gw-test"
        )
        assert alarms[alarm]["metric_name"] == signal.metric and alarms[alarm]["statistic"] == "Sum"


def test_filter_pattern_is_the_cloudwatch_syntax_of_the_terms():
    assert AUTH_FAILURES.pattern == '{ $.component = "uvicorn.access" && $.message = %40[13]$% }'
    assert LogSignal("X", (("a", ("b", "%c$%")),)).pattern == '{ ($.a = "b" || $.a = %c$%) }'
    assert GUARDRAIL_INTERVENTIONS.pattern == '{ $.error = "Violated guardrail policy" }'


def matches(signal: LogSignal, line: str) -> bool:
    """What CloudWatch does with the signal's pattern on one JSON log line (exact strings, `%regex%`)."""
    event = json.loads(line)

    def holds(field: str, value: str) -> bool:
        if field not in event:
            return False
        if is_regex(value):
            return re.search(value[1:-1], str(event[field])) is not None
        return str(event[field]) == value

    return all(any(holds(field, value) for value in values) for field, values in signal.terms)


def test_regex_values_use_only_what_cloudwatch_accepts_in_a_filter_pattern():
    r"""Alphanumerics, _#=@/;,- and the operators ^$?[]{}|\*+. ; no parentheses; at most 2 per pattern."""
    for signal in LOG_SIGNALS:
        regexes = [value[1:-1] for _, values in signal.terms for value in values if is_regex(value)]
        assert len(regexes) <= 2
        assert all(re.fullmatch(r"[A-Za-z0-9_#=@/;,\-^$?\[\]{}|\\*+.]+", regex) for regex in regexes)


def json_lines(logger: logging.Logger, emit) -> list[str]:
    """The lines `emit()` writes through `logger` with the formatter the gateway's image configures."""
    from gateway import entrypoint

    module, _, name = entrypoint.JSON_FORMATTER.rpartition(".")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(getattr(importlib.import_module(module), name)())
    logger.addHandler(handler)
    try:
        emit()
    finally:
        logger.removeHandler(handler)
    return stream.getvalue().splitlines()


def access_lines(statuses: tuple[int, ...]) -> list[str]:
    """uvicorn's access lines, with the format string read from uvicorn's own source."""
    import uvicorn.protocols.http.h11_impl as h11_impl

    from gateway import entrypoint

    # The access logger of the image's log configuration, at its level whatever LITELLM_LOG says.
    ((access, spec),) = [
        (name, spec)
        for name, spec in entrypoint.uvicorn_log_config("WARNING")["loggers"].items()
        if "access" in spec["handlers"]
    ]
    (fmt,) = set(re.findall(r"access_logger\.info\(\s*'([^']+)'", Path(h11_impl.__file__).read_text()))
    logger = logging.getLogger(access)
    level = logger.level
    logger.setLevel(spec["level"])
    try:
        return json_lines(
            logger,
            lambda: [
                logger.info(fmt, "10.0.0.1:5000", "POST", "/v1/chat/completions", "1.1", s) for s in statuses
            ],
        )
    finally:
        logger.setLevel(level)


def test_auth_failure_pattern_counts_uvicorns_401_and_403_lines_and_nothing_else():
    lines = access_lines((401, 403, 200, 404, 429, 400))

    assert [matches(AUTH_FAILURES, line) for line in lines] == [True, True, False, False, False, False]


def test_guardrail_pattern_counts_the_line_litellm_writes_when_the_guardrail_blocks():
    from litellm._logging import verbose_proxy_logger
    from litellm.proxy.common_request_processing import log_llm_api_exception

    from gateway.hooks.bedrock_guardrail import GatewayBedrockGuardrail

    hook = GatewayBedrockGuardrail(guardrailIdentifier="gid", guardrailVersion="1", guardrail_name="content")
    verdict = {"action": "GUARDRAIL_INTERVENED", "outputs": [{"text": "Blocked."}], "assessments": []}
    blocked = hook._get_http_exception_for_blocked_guardrail(verdict, request_data={})
    other = ValueError("Bedrock is unreachable")
    lines = json_lines(
        verbose_proxy_logger, lambda: [log_llm_api_exception(e, "call-1") for e in (blocked, other)]
    )

    assert [matches(GUARDRAIL_INTERVENTIONS, line) for line in lines] == [True, False]


def test_each_catalogue_model_has_a_throttling_alarm(alarms):
    throttles = {n: a for n, a in alarms.items() if n.startswith("bedrock-throttles-")}

    assert set(throttles) == {
        "bedrock-throttles-us-amazon-nova-pro-v1-0",
        "bedrock-throttles-amazon-titan-text-express-v1",
    }
    assert {a["dimensions"]["ModelId"] for a in throttles.values()} == set(MODELS)
    for alarm in throttles.values():
        assert (alarm["namespace"], alarm["metric_name"], alarm["statistic"]) == (
            "AWS/Bedrock",
            "InvocationThrottles",
            "Sum",
        )


def test_each_catalogue_models_tokens_alarm_above_their_anomaly_band(alarms):
    spend = {n: a for n, a in alarms.items() if n.startswith("bedrock-tokens-")}

    assert len(spend) == len(MODELS)
    for alarm in spend.values():
        queries = {q["id"]: q for q in alarm["metric_query"]}
        metrics = {q["metric"]["metric_name"] for q in queries.values() if "metric" in q}
        assert metrics == {"InputTokenCount", "OutputTokenCount"}
        assert {q["metric"]["dimensions"]["ModelId"] for q in queries.values() if "metric" in q} <= set(
            MODELS
        )
        assert queries["total"]["expression"] == "FILL(m0, 0) + FILL(m1, 0)"
        assert queries["band"]["expression"] == "ANOMALY_DETECTION_BAND(total, 3)"
        assert alarm["threshold_metric_id"] == "band"
        assert alarm["comparison_operator"] == "GreaterThanUpperThreshold" and "threshold" not in alarm


def test_every_environment_alarms_on_each_of_its_models(synthesized):
    from modules.config import load

    root = Path(__file__).resolve().parents[2] / "environments"
    for name, doc in synthesized.items():
        models = {m.model_id for m in load(root / name).models}
        alarms = list(doc["resource"]["aws_cloudwatch_metric_alarm"].values())
        throttled = {
            a["dimensions"]["ModelId"] for a in alarms if a.get("metric_name") == "InvocationThrottles"
        }
        assert throttled == models, name
