"""CKV_LLMGW_11: log groups keep logs at least as long as the environment requires.

Requirements per environment live in policies/environment_rules.yaml (prod keeps
a year for incident investigation and audit). Retention 0 or unset means
"never expire", which satisfies any minimum.
"""

from __future__ import annotations

from llmgw_base import gateway_check
from llmgw_common import requirement, value

POLICY = {
    "id": "CKV_LLMGW_11",
    "severity": "MEDIUM",
    "reason": "Log groups keep logs at least as long as the environment requires",
    "category": "LOGGING",
    "resources": ["aws_cloudwatch_log_group"],
}


@gateway_check(POLICY)
def retention_below_minimum(conf: dict) -> list[str]:
    env, minimum_days = requirement(conf, "min_log_retention_days")
    minimum = int(minimum_days)
    raw = value(conf, "retention_in_days")
    if raw in (None, 0, "0"):
        return []
    try:
        days = int(raw)
    except (TypeError, ValueError):
        return [f"retention_in_days {raw!r} is not a literal number"]
    if days < minimum:
        return [f"{days} days < {minimum} required in {env or '(unknown environment)'}"]
    return []
