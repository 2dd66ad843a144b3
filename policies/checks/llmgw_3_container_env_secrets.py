"""CKV_LLMGW_3: no secret travels as a plain container environment variable.

Plain `environment` values are readable by anyone who can describe the task
definition and they land in Terraform state; secrets must come through ECS
`secrets` (Secrets Manager). `container_definitions` is a JSON string, which a
YAML policy cannot look inside.
"""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories, CheckResult
from llmgw_base import GatewayCheck
from llmgw_common import container_definitions, secret_looking_variable

POLICY = {
    "id": "CKV_LLMGW_3",
    "severity": "CRITICAL",
    "reason": "Secrets reach containers through ECS secrets, never as plain environment values",
}


def offending_variables(definitions: list) -> list[str]:
    """Names of plain environment entries that look like secrets, as `container/NAME`."""
    found = []
    for container in definitions:
        if not isinstance(container, dict):
            continue
        for entry in container.get("environment") or []:
            name = str(entry.get("name", ""))
            text = str(entry.get("value", ""))
            if secret_looking_variable(name, text):
                found.append(f"{container.get('name', '?')}/{name}")
    return found


class NoSecretInContainerEnvironment(GatewayCheck):
    policy = POLICY
    category = CheckCategories.SECRETS
    resources = ("aws_ecs_task_definition",)

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        definitions = container_definitions(conf, self.details)
        if isinstance(definitions, str):
            return CheckResult[definitions]
        offenders = offending_variables(definitions)
        if offenders:
            self.details.append("secret-looking plain environment variables: " + ", ".join(offenders))
            return CheckResult.FAILED
        return CheckResult.PASSED


check = NoSecretInContainerEnvironment()
