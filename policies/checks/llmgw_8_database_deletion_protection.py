"""CKV_LLMGW_8: the database cannot be deleted by accident where the environment requires it.

Whether an environment requires it is policy, not configuration: it comes from
policies/environment_rules.yaml, so an environment file that turns protection
off in prod fails here instead of being trusted.
"""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from llmgw_common import environment, rules, truthy, value

POLICY = {
    "id": "CKV_LLMGW_8",
    "severity": "HIGH",
    "reason": "Database cluster has deletion protection wherever the environment requires it (prod)",
}


class DatabaseDeletionProtection(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=POLICY["reason"],
            id=POLICY["id"],
            categories=[CheckCategories.BACKUP_AND_RECOVERY],
            supported_resources=["aws_rds_cluster"],
        )

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        env = environment(conf)
        if not rules(env)["database_deletion_protection"]:
            return CheckResult.PASSED
        if truthy(value(conf, "deletion_protection")):
            return CheckResult.PASSED
        self.details.append(f"environment {env or '(unknown)'} requires deletion_protection = true")
        return CheckResult.FAILED


check = DatabaseDeletionProtection()
