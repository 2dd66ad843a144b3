"""Operational monitoring: CloudWatch alarms on the gateway's golden signals, an SNS topic, a dashboard.

LLM-specific observability (traces, prompts, token counts) is Phoenix's job;
this covers what pages an operator: errors, latency, capacity and health of the
load balancer, the tasks, the database and the cache. Every alarm notifies on
both ALARM and OK so an incident's end is visible in the same channel.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct

from modules.shared import EncryptionKey, KeyConfig, account_context

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, kw_only=True)
class MonitoringConfig:
    # Name prefix of the topic, the alarms and the dashboard.
    name: str
    # Address subscribed to the alarm topic (None: topic only; subscribe out of band).
    alarm_email: str | None
    # ALB ARN suffix (app/<name>/<id>), the LoadBalancer dimension.
    alb_arn_suffix: str
    # Target group ARN suffix (targetgroup/<name>/<id>), the TargetGroup dimension.
    target_group_arn_suffix: str
    # ECS cluster name.
    cluster_name: str
    # ECS service name.
    service_name: str
    # Aurora cluster identifier.
    db_cluster_identifier: str
    # ElastiCache replication group id; its nodes are <id>-001, <id>-002, ...
    cache_replication_group_id: str
    # Nodes in the replication group (one CPU alarm pair per node).
    cache_nodes: int = 1
    # Load-balancer-generated 5xx responses per 5 minutes before alarming.
    elb_5xx_per_5min: int = 10
    # Gateway (target) 5xx responses per 5 minutes before alarming.
    target_5xx_per_5min: int = 10
    # p95 of TargetResponseTime, in seconds (LLM answers are slow: time to the response headers).
    p95_latency_seconds: float = 30.0
    # ECS service average CPU utilization, percent.
    service_cpu_percent: float = 80.0
    # ECS service average memory utilization, percent.
    service_memory_percent: float = 80.0
    # Aurora ACUUtilization (share of max_acu in use), percent.
    database_acu_percent: float = 90.0
    # Valkey engine-thread CPU, percent.
    cache_engine_cpu_percent: float = 80.0
    # Cache host CPU, percent.
    cache_host_cpu_percent: float = 90.0


@dataclass(frozen=True)
class _Alarm:
    """One alarm's metric and rule (kept as data so the dashboard can show the same metrics)."""

    suffix: str
    description: str
    namespace: str
    metric: str
    dimensions: dict[str, str]
    threshold: float
    statistic: str = "Average"  # or a percentile such as p95
    period: int = 300
    periods: int = 3
    comparison: str = "GreaterThanThreshold"
    missing: str = "notBreaching"


class Monitoring(Construct):
    """Alarms to an encrypted SNS topic, and a dashboard of the same metrics."""

    def __init__(self, scope: Construct, id: str, *, config: MonitoringConfig) -> None:
        super().__init__(scope, id)
        _validate(config)
        key = EncryptionKey(
            self,
            "kms",
            config=KeyConfig(
                name=f"{config.name}-alarms",
                via_services=("sns",),
                # CloudWatch encrypts the alarm notifications it publishes to the topic.
                service_principals=("cloudwatch.amazonaws.com",),
            ),
        )
        topic = SnsTopic(self, "topic", name=f"{config.name}-alarms", kms_master_key_id=key.key_arn)
        if config.alarm_email:
            SnsTopicSubscription(
                self, "email", topic_arn=topic.arn, protocol="email", endpoint=config.alarm_email
            )

        self.alarm_arns: list[str] = []
        for alarm in alarms(config):
            resource = CloudwatchMetricAlarm(
                self,
                f"alarm_{alarm.suffix.replace('-', '_')}",
                alarm_name=f"{config.name}-{alarm.suffix}",
                alarm_description=alarm.description,
                namespace=alarm.namespace,
                metric_name=alarm.metric,
                dimensions=alarm.dimensions,
                statistic=None if alarm.statistic.startswith("p") else alarm.statistic,
                extended_statistic=alarm.statistic if alarm.statistic.startswith("p") else None,
                period=alarm.period,
                evaluation_periods=alarm.periods,
                datapoints_to_alarm=alarm.periods,
                threshold=alarm.threshold,
                comparison_operator=alarm.comparison,
                treat_missing_data=alarm.missing,
                actions_enabled=True,
                alarm_actions=[topic.arn],
                ok_actions=[topic.arn],
            )
            self.alarm_arns.append(resource.arn)

        dashboard = CloudwatchDashboard(
            self,
            "dashboard",
            dashboard_name=f"{config.name}-gateway",
            dashboard_body=json.dumps(dashboard_body(config, account_context(self).region, self.alarm_arns)),
        )
        self.topic_arn: str = topic.arn
        self.kms_key_arn: str = key.key_arn
        self.dashboard_name: str = dashboard.dashboard_name


def cache_node_ids(config: MonitoringConfig) -> list[str]:
    """Member cluster ids of a cluster-mode-disabled replication group (metrics are per node)."""
    return [f"{config.cache_replication_group_id}-{index:03d}" for index in range(1, config.cache_nodes + 1)]


def alarms(config: MonitoringConfig) -> list[_Alarm]:
    """Every alarm of the gateway, as data."""
    alb = {"LoadBalancer": config.alb_arn_suffix}
    target = {"LoadBalancer": config.alb_arn_suffix, "TargetGroup": config.target_group_arn_suffix}
    service = {"ClusterName": config.cluster_name, "ServiceName": config.service_name}
    database = {"DBClusterIdentifier": config.db_cluster_identifier}
    elb, ecs, rds, cache = "AWS/ApplicationELB", "AWS/ECS", "AWS/RDS", "AWS/ElastiCache"
    found = [
        # No traffic means no datapoints: that is not an error (notBreaching).
        _Alarm(
            "alb-5xx",
            "The load balancer itself answered 5xx (no healthy target, timeouts).",
            elb,
            "HTTPCode_ELB_5XX_Count",
            alb,
            config.elb_5xx_per_5min,
            "Sum",
            periods=1,
        ),
        _Alarm(
            "target-5xx",
            "The gateway answered 5xx (Bedrock, database or cache failures).",
            elb,
            "HTTPCode_Target_5XX_Count",
            target,
            config.target_5xx_per_5min,
            "Sum",
            periods=1,
        ),
        _Alarm(
            "p95-latency",
            "p95 time to the gateway's response headers is high.",
            elb,
            "TargetResponseTime",
            target,
            config.p95_latency_seconds,
            "p95",
        ),
        _Alarm(
            "unhealthy-targets",
            "At least one gateway task fails its health check.",
            elb,
            "UnHealthyHostCount",
            target,
            0,
            "Maximum",
            period=60,
            periods=3,
        ),
        # No datapoint at all means the target group stopped reporting: treat as down.
        _Alarm(
            "no-healthy-targets",
            "No gateway task is healthy: the service is down.",
            elb,
            "HealthyHostCount",
            target,
            1,
            "Minimum",
            period=60,
            periods=2,
            comparison="LessThanThreshold",
            missing="breaching",
        ),
        _Alarm(
            "service-cpu",
            "Gateway tasks are CPU-bound (autoscaling is not keeping up).",
            ecs,
            "CPUUtilization",
            service,
            config.service_cpu_percent,
        ),
        _Alarm(
            "service-memory",
            "Gateway tasks are close to their memory limit.",
            ecs,
            "MemoryUtilization",
            service,
            config.service_memory_percent,
        ),
        # Paused (0 ACU) clusters report nothing: not an alarm.
        _Alarm(
            "database-acu",
            "Aurora is near its maximum capacity (raise max_acu).",
            rds,
            "ACUUtilization",
            database,
            config.database_acu_percent,
        ),
    ]
    for node in cache_node_ids(config):
        node_dimension = {"CacheClusterId": node}
        found.append(
            _Alarm(
                f"cache-engine-cpu-{node[-3:]}",
                f"Valkey engine thread of {node} is saturated.",
                cache,
                "EngineCPUUtilization",
                node_dimension,
                config.cache_engine_cpu_percent,
            )
        )
        found.append(
            _Alarm(
                f"cache-host-cpu-{node[-3:]}",
                f"Host CPU of cache node {node} is high.",
                cache,
                "CPUUtilization",
                node_dimension,
                config.cache_host_cpu_percent,
            )
        )
    return found


def dashboard_body(config: MonitoringConfig, region: str, alarm_arns: list[str]) -> dict:
    """CloudWatch dashboard JSON: alarm states, then one row per component."""
    alb = ["LoadBalancer", config.alb_arn_suffix]
    target = [*alb, "TargetGroup", config.target_group_arn_suffix]
    service = ["ClusterName", config.cluster_name, "ServiceName", config.service_name]
    database = ["DBClusterIdentifier", config.db_cluster_identifier]
    elb, ecs, rds, cache = "AWS/ApplicationELB", "AWS/ECS", "AWS/RDS", "AWS/ElastiCache"
    nodes = cache_node_ids(config)

    def widget(title: str, metrics: list[list], stat: str = "Average", period: int = 300) -> dict:
        return {
            "type": "metric",
            "width": 8,
            "height": 6,
            "properties": {
                "title": title,
                "region": region,
                "stat": stat,
                "period": period,
                "view": "timeSeries",
                "metrics": metrics,
            },
        }

    widgets = [
        {"type": "alarm", "width": 24, "height": 3, "properties": {"title": "Alarms", "alarms": alarm_arns}},
        widget("Requests and errors (per minute)", [
            [elb, "RequestCount", *alb],
            [elb, "HTTPCode_ELB_5XX_Count", *alb],
            [elb, "HTTPCode_Target_5XX_Count", *target],
            [elb, "HTTPCode_Target_4XX_Count", *target],
        ], stat="Sum", period=60),
        widget("Response time (s)", [
            [elb, "TargetResponseTime", *target, {"stat": "p50", "label": "p50"}],
            [elb, "TargetResponseTime", *target, {"stat": "p95", "label": "p95"}],
            [elb, "TargetResponseTime", *target, {"stat": "p99", "label": "p99"}],
        ]),
        widget("Gateway tasks", [
            [elb, "HealthyHostCount", *target, {"stat": "Minimum"}],
            [elb, "UnHealthyHostCount", *target, {"stat": "Maximum"}],
        ], period=60),
        widget("Service CPU and memory (%)", [
            [ecs, "CPUUtilization", *service],
            [ecs, "MemoryUtilization", *service],
        ]),
        widget("Aurora capacity", [
            [rds, "ACUUtilization", *database, {"label": "ACU utilization (%)"}],
            [rds, "ServerlessDatabaseCapacity", *database, {"label": "ACUs", "yAxis": "right"}],
            [rds, "DatabaseConnections", *database, {"yAxis": "right"}],
        ]),
        widget("Cache CPU and memory (%)", [
            *[[cache, "EngineCPUUtilization", "CacheClusterId", node] for node in nodes],
            *[[cache, "CPUUtilization", "CacheClusterId", node] for node in nodes],
            *[[cache, "DatabaseMemoryUsagePercentage", "CacheClusterId", node] for node in nodes],
        ]),
    ]  # fmt: skip
    return {"widgets": widgets}


def _validate(config: MonitoringConfig) -> None:
    def fail(field: str, problem: str) -> None:
        raise ValueError(f"MonitoringConfig.{field}: {problem}")

    if config.alarm_email is not None and not _EMAIL.match(config.alarm_email):
        fail("alarm_email", f"{config.alarm_email!r} is not an email address")
    if not 1 <= config.cache_nodes <= 6:
        fail("cache_nodes", f"{config.cache_nodes} is outside 1-6")
    percentages = ("service_cpu_percent", "service_memory_percent", "database_acu_percent")
    for field in (*percentages, "cache_engine_cpu_percent", "cache_host_cpu_percent"):
        if not 0 < getattr(config, field) <= 100:
            fail(field, f"{getattr(config, field)} is not a percentage in (0, 100]")
