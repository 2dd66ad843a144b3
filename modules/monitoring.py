"""Operational monitoring: CloudWatch alarms on the gateway's golden signals, an SNS topic, a dashboard.

LLM-specific observability (traces, prompts, token counts) is Phoenix's job;
this covers what pages an operator: errors, latency, capacity and health of the
load balancer, the tasks, the database and the cache, and the security signals
(WAF blocks and rate-limit hits, 401/403 spikes, guardrail interventions, Bedrock
throttling, token spend out of its usual band). Every alarm notifies on both ALARM
and OK so an incident's end is visible in the same channel. The target 5xx and p95
latency alarms are also the ECS service's deployment alarms: a deployment during
which either fires is rolled back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard
from cdktf_cdktf_provider_aws.cloudwatch_log_metric_filter import (
    CloudwatchLogMetricFilter,
    CloudwatchLogMetricFilterMetricTransformation,
)
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import (
    CloudwatchMetricAlarm,
    CloudwatchMetricAlarmMetricQuery,
    CloudwatchMetricAlarmMetricQueryMetric,
)
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct

from modules.shared import EncryptionKey, KeyConfig, account_context

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class LogSignal:
    """A count taken from the gateway's JSON log lines by a metric filter.

    `terms` are ANDed; each names a JSON field and the values any of which it may have: an exact
    string, or a regular expression between `%` (CloudWatch's syntax). Kept as data so a test can
    hold them against the lines LiteLLM really writes.
    """

    metric: str
    terms: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def pattern(self) -> str:
        """The CloudWatch Logs filter pattern of the terms."""
        clauses = []
        for field, values in self.terms:
            alternatives = " || ".join(
                f"$.{field} = {value}" if is_regex(value) else f'$.{field} = "{value}"' for value in values
            )
            clauses.append(f"({alternatives})" if len(values) > 1 else alternatives)
        return "{ " + " && ".join(clauses) + " }"


def is_regex(value: str) -> bool:
    """A filter-pattern value written as a regular expression (`%…%`), not an exact string."""
    return len(value) > 1 and value.startswith("%") and value.endswith("%")


# uvicorn's access log (one JSON line per request, gateway/entrypoint.py) ends with the status code.
AUTH_FAILURES = LogSignal("AuthFailures", (("component", ("uvicorn.access",)), ("message", ("%40[13]$%",))))
# LiteLLM logs a blocked request's error detail, whose "error" the JSON formatter lifts to a field.
GUARDRAIL_INTERVENTIONS = LogSignal("GuardrailInterventions", (("error", ("Violated guardrail policy",)),))
LOG_SIGNALS = (AUTH_FAILURES, GUARDRAIL_INTERVENTIONS)


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
    # The web ACL's metric name (the WebACL dimension) and its rate-limit rule's (the Rule dimension).
    waf_metric_name: str = ""
    waf_rate_limit_metric_name: str = ""
    # The gateway's log group (JSON lines): the 401/403 and guardrail counts are filtered from it.
    gateway_log_group_name: str = ""
    # Bedrock model ids of the catalogue (the ModelId dimension): throttling and token spend per model.
    model_ids: tuple[str, ...] = ()
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
    # Requests the WAF blocked (any rule, or the default action) per 5 minutes.
    waf_blocked_per_5min: int = 500
    # Requests the per-IP rate limit blocked per 5 minutes (0: the first one alarms).
    waf_rate_limited_per_5min: int = 0
    # 401 and 403 answers per 5 minutes (a key being guessed, or a revoked key still in use).
    auth_failures_per_5min: int = 50
    # Requests the guardrail blocked per 5 minutes (someone probing the content policy).
    guardrail_interventions_per_5min: int = 20
    # Bedrock throttled calls per model per 5 minutes (the account's quota is too small).
    bedrock_throttles_per_5min: int = 10
    # Width, in standard deviations, of the band a model's hourly tokens may move in before alarming.
    token_anomaly_band: float = 3.0


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
    # More metrics of the same namespace and dimensions, added to `metric` before comparing.
    plus: tuple[str, ...] = ()
    # Alarm above CloudWatch's anomaly band this many standard deviations wide (`threshold` unused).
    band: float | None = None
    # The ECS service rolls a deployment back when this alarm fires during it.
    deployment: bool = False

    def queries(self) -> list[CloudwatchMetricAlarmMetricQuery]:
        """Metric math for a sum or an anomaly band (empty for a plain one-metric alarm)."""
        if not self.plus and self.band is None:
            return []
        summed = len(self.plus) > 0
        found = [
            CloudwatchMetricAlarmMetricQuery(
                id=f"m{index}",
                metric=CloudwatchMetricAlarmMetricQueryMetric(
                    namespace=self.namespace,
                    metric_name=metric,
                    dimensions=self.dimensions,
                    period=self.period,
                    stat=self.statistic,
                ),
                return_data=not summed,
            )
            for index, metric in enumerate((self.metric, *self.plus))
        ]
        value = "m0"
        if summed:
            value = "total"
            expression = " + ".join(f"FILL(m{i}, 0)" for i in range(len(found)))
            found.append(
                CloudwatchMetricAlarmMetricQuery(
                    id=value, expression=expression, label=self.suffix, return_data=True
                )
            )
        if self.band is not None:
            found.append(
                CloudwatchMetricAlarmMetricQuery(
                    id="band",
                    expression=f"ANOMALY_DETECTION_BAND({value}, {self.band:g})",
                    label="expected range",
                    return_data=True,
                )
            )
        return found


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

        if config.gateway_log_group_name:
            for signal in LOG_SIGNALS:
                CloudwatchLogMetricFilter(
                    self,
                    f"filter_{signal.metric}",
                    name=f"{config.name}-{signal.metric}",
                    log_group_name=config.gateway_log_group_name,
                    pattern=signal.pattern,
                    metric_transformation=CloudwatchLogMetricFilterMetricTransformation(
                        name=signal.metric, namespace=log_namespace(config), value="1", unit="Count"
                    ),
                )

        region = account_context(self).region
        self.alarm_arns: list[str] = []
        # Names of the alarms that roll a deployment back (references: the service waits for them).
        self.deployment_alarm_names: list[str] = []
        for alarm in alarms(config, region):
            queries = alarm.queries()
            single = {} if queries else {
                "namespace": alarm.namespace,
                "metric_name": alarm.metric,
                "dimensions": alarm.dimensions or None,
                "statistic": None if alarm.statistic.startswith("p") else alarm.statistic,
                "extended_statistic": alarm.statistic if alarm.statistic.startswith("p") else None,
                "period": alarm.period,
            }  # fmt: skip
            banded = alarm.band is not None
            resource = CloudwatchMetricAlarm(
                self,
                f"alarm_{alarm.suffix.replace('-', '_')}",
                alarm_name=f"{config.name}-{alarm.suffix}",
                alarm_description=alarm.description,
                metric_query=queries or None,
                threshold=None if banded else alarm.threshold,
                threshold_metric_id="band" if banded else None,
                comparison_operator="GreaterThanUpperThreshold" if banded else alarm.comparison,
                evaluation_periods=alarm.periods,
                datapoints_to_alarm=alarm.periods,
                treat_missing_data=alarm.missing,
                actions_enabled=True,
                alarm_actions=[topic.arn],
                ok_actions=[topic.arn],
                **single,
            )
            self.alarm_arns.append(resource.arn)
            if alarm.deployment:
                self.deployment_alarm_names.append(resource.alarm_name)

        dashboard = CloudwatchDashboard(
            self,
            "dashboard",
            dashboard_name=f"{config.name}-gateway",
            dashboard_body=json.dumps(dashboard_body(config, region, self.alarm_arns)),
        )
        self.topic_arn: str = topic.arn
        self.kms_key_arn: str = key.key_arn
        self.dashboard_name: str = dashboard.dashboard_name


def cache_node_ids(config: MonitoringConfig) -> list[str]:
    """Member cluster ids of a cluster-mode-disabled replication group (metrics are per node)."""
    return [f"{config.cache_replication_group_id}-{index:03d}" for index in range(1, config.cache_nodes + 1)]


def log_namespace(config: MonitoringConfig) -> str:
    """The CloudWatch namespace of the counts filtered from this gateway's logs."""
    return f"LLMGateway/{config.name}"


def model_suffix(model_id: str) -> str:
    """A model id as it reads in an alarm name: us.amazon.nova-pro-v1:0 -> us-amazon-nova-pro-v1-0."""
    return re.sub(r"[^a-z0-9]+", "-", model_id.lower()).strip("-")


def alarms(config: MonitoringConfig, region: str) -> list[_Alarm]:
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
            deployment=True,
        ),
        _Alarm(
            "p95-latency",
            "p95 time to the gateway's response headers is high.",
            elb,
            "TargetResponseTime",
            target,
            config.p95_latency_seconds,
            "p95",
            deployment=True,
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
    return found + security_alarms(config, region)


def security_alarms(config: MonitoringConfig, region: str) -> list[_Alarm]:
    """Detection: what an attack, a leaked key or a runaway client looks like from outside the gateway."""
    found: list[_Alarm] = []
    if config.waf_metric_name:
        waf = {"WebACL": config.waf_metric_name, "Region": region}
        found += [
            _Alarm(
                "waf-blocked",
                "The WAF blocks many requests (a scan, an attack, or an allow-list that misses a client).",
                "AWS/WAFV2",
                "BlockedRequests",
                {**waf, "Rule": "ALL"},
                config.waf_blocked_per_5min,
                "Sum",
                periods=1,
            ),
            _Alarm(
                "waf-rate-limited",
                "A client exceeded the per-IP rate limit and is being blocked.",
                "AWS/WAFV2",
                "BlockedRequests",
                {**waf, "Rule": config.waf_rate_limit_metric_name},
                config.waf_rate_limited_per_5min,
                "Sum",
                periods=1,
            ),
        ]
    if config.gateway_log_group_name:
        found += [
            _Alarm(
                "auth-failures",
                "Many 401/403 answers: keys being guessed, or a revoked key still in use.",
                log_namespace(config),
                AUTH_FAILURES.metric,
                {},
                config.auth_failures_per_5min,
                "Sum",
                periods=1,
            ),
            _Alarm(
                "guardrail-interventions",
                "The guardrail blocks many requests: someone is probing the content policy.",
                log_namespace(config),
                GUARDRAIL_INTERVENTIONS.metric,
                {},
                config.guardrail_interventions_per_5min,
                "Sum",
                periods=1,
            ),
        ]
    for model_id in config.model_ids:
        model = {"ModelId": model_id}
        found += [
            _Alarm(
                f"bedrock-throttles-{model_suffix(model_id)}",
                f"Bedrock throttles calls to {model_id}: its quota is too small for the traffic.",
                "AWS/Bedrock",
                "InvocationThrottles",
                model,
                config.bedrock_throttles_per_5min,
                "Sum",
                periods=1,
            ),
            # Tokens are what Bedrock bills: an hour far above the learned pattern is a spend anomaly.
            _Alarm(
                f"bedrock-tokens-{model_suffix(model_id)}",
                f"Tokens through {model_id} are far above their usual hourly band: a spend anomaly.",
                "AWS/Bedrock",
                "InputTokenCount",
                model,
                0,
                "Sum",
                period=3600,
                periods=1,
                plus=("OutputTokenCount",),
                band=config.token_anomaly_band,
            ),
        ]
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
    security = security_alarms(config, region)
    if security:
        widgets.append(
            widget(
                "Security and spend (sums per 5 minutes)",
                [
                    [a.namespace, metric, *[part for pair in a.dimensions.items() for part in pair]]
                    for a in security
                    for metric in (a.metric, *a.plus)
                ],
                stat="Sum",
            )
        )
    return {"widgets": widgets}


def _validate(config: MonitoringConfig) -> None:
    def fail(field: str, problem: str) -> None:
        raise ValueError(f"MonitoringConfig.{field}: {problem}")

    if config.alarm_email is not None and not _EMAIL.match(config.alarm_email):
        fail("alarm_email", f"{config.alarm_email!r} is not an email address")
    if bool(config.waf_metric_name) != bool(config.waf_rate_limit_metric_name):
        fail("waf_rate_limit_metric_name", "the web ACL's and its rate rule's metric names come together")
    if config.token_anomaly_band <= 0:
        fail("token_anomaly_band", f"{config.token_anomaly_band} is not a positive width")
    if not 1 <= config.cache_nodes <= 6:
        fail("cache_nodes", f"{config.cache_nodes} is outside 1-6")
    percentages = ("service_cpu_percent", "service_memory_percent", "database_acu_percent")
    for field in (*percentages, "cache_engine_cpu_percent", "cache_host_cpu_percent"):
        if not 0 < getattr(config, field) <= 100:
            fail(field, f"{getattr(config, field)} is not a percentage in (0, 100]")
