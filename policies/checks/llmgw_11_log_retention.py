"""CKV_LLMGW_11: log groups keep logs at least as long as the environment requires.

Requirements per environment live in policies/environment_rules.yaml (prod keeps
a year for incident investigation and audit). Retention 0 or unset means
"never expire", which satisfies any minimum.
"""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories, CheckResult
from llmgw_base import GatewayCheck
from llmgw_common import environment, rules, value

POLICY = {
    "id": "CKV_LLMGW_11",
    "severity": "MEDIUM",
    "reason": "Log groups keep logs at least as long as the environment requires",
}


class LogRetentionMeetsEnvironment(GatewayCheck):
    policy = POLICY
    category = CheckCategories.LOGGING
    resources = ("aws_cloudwatch_log_group",)

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        env = environment(conf)
        minimum = int(rules(env)["min_log_retention_days"])
        raw = value(conf, "retention_in_days")
        if raw in (None, 0, "0"):
            return CheckResult.PASSED
        try:
            days = int(raw)
        except (TypeError, ValueError):
            self.details.append(f"retention_in_days {raw!r} is not a literal number")
            return CheckResult.FAILED
        if days < minimum:
            self.details.append(f"{days} days < {minimum} required in {env or '(unknown environment)'}")
            return CheckResult.FAILED
        return CheckResult.PASSED


check = LogRetentionMeetsEnvironment()
