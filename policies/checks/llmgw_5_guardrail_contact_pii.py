"""CKV_LLMGW_5: the Bedrock guardrail anonymizes (or blocks) e-mail addresses and phone numbers.

Contact details are the PII users paste most; the gateway promises they never
reach a model or a log in clear.
"""

from __future__ import annotations

from llmgw_base import gateway_check
from llmgw_common import blocks, truthy, value

POLICY = {
    "id": "CKV_LLMGW_5",
    "severity": "HIGH",
    "reason": "Bedrock guardrail anonymizes EMAIL and PHONE (or blocks them)",
    "category": "GENERAL_SECURITY",
    "resources": ["aws_bedrock_guardrail"],
}
REQUIRED_ENTITIES = ("EMAIL", "PHONE")
PROTECTING_ACTIONS = ("ANONYMIZE", "BLOCK")


def protected_entities(conf: dict) -> set[str]:
    found = set()
    for policy in blocks(conf, "sensitive_information_policy_config"):
        for entry in blocks(policy, "pii_entities_config"):
            switched_off = any(
                key in entry and not truthy(value(entry, key)) for key in ("input_enabled", "output_enabled")
            )
            detect_only = "NONE" in (value(entry, "input_action"), value(entry, "output_action"))
            if value(entry, "action") in PROTECTING_ACTIONS and not switched_off and not detect_only:
                found.add(value(entry, "type"))
    return found


@gateway_check(POLICY)
def contact_details_in_clear(conf: dict) -> list[str]:
    missing = [e for e in REQUIRED_ENTITIES if e not in protected_entities(conf)]
    return ["not anonymized: " + ", ".join(missing)] if missing else []
