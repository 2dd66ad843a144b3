"""modules/monitoring.py: alarms on the golden signals to an encrypted topic, and a dashboard."""

from __future__ import annotations

import dataclasses
import json

import pytest

from modules import cdk
from modules.monitoring import Monitoring, MonitoringConfig

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


def test_dashboard_graphs_every_alarmed_metric(alarms, dashboard):
    graphed = {
        (m[0], m[1])
        for w in dashboard["widgets"]
        if w["type"] == "metric"
        for m in w["properties"]["metrics"]
    }

    assert {(a["namespace"], a["metric_name"]) for a in alarms.values()} <= graphed


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
    ],
)
def test_invalid_monitoring_settings_are_refused(change, field):
    stack = cdk.TerraformStack(cdk.Testing.app(), "test")

    with pytest.raises(ValueError, match=rf"MonitoringConfig\.{field}"):
        Monitoring(stack, "monitoring", config=dataclasses.replace(CONFIG, **change))
