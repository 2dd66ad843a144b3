"""CKV_LLMGW_5: the Bedrock guardrail anonymizes (or blocks) e-mail addresses and phone numbers.

Contact details are the PII users paste most; the gateway promises they never
reach a model or a log in clear.
"""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories, CheckResult
from llmgw_base import GatewayCheck
from llmgw_common import blocks, truthy, value

POLICY = {
    "id": "CKV_LLMGW_5",
    "severity": "HIGH",
    "reason": "Bedrock guardrail anonymizes EMAIL and PHONE (or blocks them)",
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


class GuardrailProtectsContactDetails(GatewayCheck):
    policy = POLICY
    category = CheckCategories.GENERAL_SECURITY
    resources = ("aws_bedrock_guardrail",)

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        missing = [e for e in REQUIRED_ENTITIES if e not in protected_entities(conf)]
        if missing:
            self.details.append("not anonymized: " + ", ".join(missing))
            return CheckResult.FAILED
        return CheckResult.PASSED


check = GuardrailProtectsContactDetails()
