"""CKV_LLMGW_8: the database cannot be deleted by accident where the environment requires it.

Whether an environment requires it is policy, not configuration: it comes from
policies/environment_rules.yaml, so an environment file that turns protection
off in prod fails here instead of being trusted.
"""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories, CheckResult
from llmgw_base import GatewayCheck
from llmgw_common import environment, rules, truthy, value

POLICY = {
    "id": "CKV_LLMGW_8",
    "severity": "HIGH",
    "reason": "Database cluster has deletion protection wherever the environment requires it (prod)",
}


class DatabaseDeletionProtection(GatewayCheck):
    policy = POLICY
    category = CheckCategories.BACKUP_AND_RECOVERY
    resources = ("aws_rds_cluster",)

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        env = environment(conf)
        if not rules(env)["database_deletion_protection"]:
            return CheckResult.PASSED
        if truthy(value(conf, "deletion_protection")):
            return CheckResult.PASSED
        self.details.append(f"environment {env or '(unknown)'} requires deletion_protection = true")
        return CheckResult.FAILED


check = DatabaseDeletionProtection()
