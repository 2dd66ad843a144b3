"""CKV_LLMGW_4: the Bedrock guardrail stops prompt attacks on input at HIGH strength.

There are no built-in checks for aws_bedrock_guardrail, and the filter list is
a list of blocks a YAML policy cannot correlate (type with strength).
"""

from __future__ import annotations

from llmgw_base import gateway_check
from llmgw_common import blocks, truthy, value

POLICY = {
    "id": "CKV_LLMGW_4",
    "severity": "HIGH",
    "reason": "Bedrock guardrail filters PROMPT_ATTACK on input at HIGH strength",
    "category": "GENERAL_SECURITY",
    "resources": ["aws_bedrock_guardrail"],
}


def prompt_attack_filtered(conf: dict) -> bool:
    for policy in blocks(conf, "content_policy_config"):
        for entry in blocks(policy, "filters_config"):
            if value(entry, "type") != "PROMPT_ATTACK":
                continue
            disabled = "input_enabled" in entry and not truthy(value(entry, "input_enabled"))
            detect_only = value(entry, "input_action") == "NONE"
            if value(entry, "input_strength") == "HIGH" and not disabled and not detect_only:
                return True
    return False


@gateway_check(POLICY)
def prompt_attacks_pass(conf: dict) -> list[str]:
    return [] if prompt_attack_filtered(conf) else ["no PROMPT_ATTACK filter acts on input at HIGH strength"]
