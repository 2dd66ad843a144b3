"""CKV_LLMGW_6: the cache requires TLS and authenticates clients.

The cache holds prompts and answers (response caching) and rate-limit counters.
`transit_encryption_mode = preferred` accepts plain-text clients, so only
`required` (or unset, which means required once encryption is on) passes.
"""

from __future__ import annotations

from llmgw_base import gateway_check
from llmgw_common import truthy, value

POLICY = {
    "id": "CKV_LLMGW_6",
    "severity": "HIGH",
    "reason": "Cache requires in-transit encryption and an AUTH token (or RBAC user group)",
    "category": "ENCRYPTION",
    "resources": ["aws_elasticache_replication_group"],
}


@gateway_check(POLICY)
def plain_or_open_cache(conf: dict) -> list[str]:
    problems = []
    if not truthy(value(conf, "transit_encryption_enabled")):
        problems.append("transit_encryption_enabled is not true")
    if value(conf, "transit_encryption_mode") not in (None, "required"):
        problems.append("transit_encryption_mode is not 'required'")
    has_token = bool(value(conf, "auth_token")) or bool(value(conf, "auth_token_wo"))
    has_users = bool(value(conf, "user_group_ids"))
    if not (has_token or has_users):
        problems.append("no auth_token and no user_group_ids")
    return problems
