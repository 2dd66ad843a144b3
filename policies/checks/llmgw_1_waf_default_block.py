"""CKV_LLMGW_1: the WAF admits only the configured client networks; everything else is blocked.

Python rather than YAML because the two inputs disagree on an unset block:
CDKTF JSON omits `allow`, a plan shows it as an empty list, and a YAML
`not_exists` cannot tell an empty block from a set one.
"""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories, CheckResult
from llmgw_base import GatewayCheck
from llmgw_common import blocks

POLICY = {
    "id": "CKV_LLMGW_1",
    "severity": "HIGH",
    "reason": "WAF web ACL default action is block: only allow-listed clients reach the gateway",
}


class WafDefaultActionBlocks(GatewayCheck):
    policy = POLICY
    category = CheckCategories.NETWORKING
    resources = ("aws_wafv2_web_acl",)

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        actions = blocks(conf, "default_action")
        blocks_all = any(blocks(a, "block") for a in actions)
        allows_all = any(blocks(a, "allow") for a in actions)
        return CheckResult.PASSED if blocks_all and not allows_all else CheckResult.FAILED


check = WafDefaultActionBlocks()
