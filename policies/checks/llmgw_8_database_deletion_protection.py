"""CKV_LLMGW_8: the database cannot be deleted by accident where the environment requires it.

Whether an environment requires it is policy, not configuration: it comes from
policies/environment_rules.yaml, so an environment file that turns protection
off in prod fails here instead of being trusted.
"""

from __future__ import annotations

from llmgw_base import gateway_check
from llmgw_common import requirement, truthy, value

POLICY = {
    "id": "CKV_LLMGW_8",
    "severity": "HIGH",
    "reason": "Database cluster has deletion protection wherever the environment requires it (prod)",
    "category": "BACKUP_AND_RECOVERY",
    "resources": ["aws_rds_cluster"],
}


@gateway_check(POLICY)
def deletable_where_protection_required(conf: dict) -> list[str]:
    env, required = requirement(conf, "database_deletion_protection")
    if not required or truthy(value(conf, "deletion_protection")):
        return []
    return [f"environment {env or '(unknown)'} requires deletion_protection = true"]
