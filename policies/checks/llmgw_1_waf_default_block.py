"""CKV_LLMGW_1: the WAF admits only the configured client networks; everything else is blocked.

Python rather than YAML because the two inputs disagree on an unset block:
CDKTF JSON omits `allow`, a plan shows it as an empty list, and a YAML
`not_exists` cannot tell an empty block from a set one.
"""

from __future__ import annotations

from llmgw_base import gateway_check
from llmgw_common import blocks

POLICY = {
    "id": "CKV_LLMGW_1",
    "severity": "HIGH",
    "reason": "WAF web ACL default action is block: only allow-listed clients reach the gateway",
    "category": "NETWORKING",
    "resources": ["aws_wafv2_web_acl"],
}


@gateway_check(POLICY)
def default_action_admits(conf: dict) -> list[str]:
    actions = blocks(conf, "default_action")
    blocks_all = any(blocks(a, "block") for a in actions)
    allows_all = any(blocks(a, "allow") for a in actions)
    return [] if blocks_all and not allows_all else ["the default action does not block (or also allows)"]
