"""CKV_LLMGW_3: no secret travels as a plain container environment variable.

Plain `environment` values are readable by anyone who can describe the task
definition and they land in Terraform state; secrets must come through ECS
`secrets` (Secrets Manager). `container_definitions` is a JSON string, which a
YAML policy cannot look inside.
"""

from __future__ import annotations

from llmgw_base import gateway_check, over_containers
from llmgw_common import secret_looking_variable

POLICY = {
    "id": "CKV_LLMGW_3",
    "severity": "CRITICAL",
    "reason": "Secrets reach containers through ECS secrets, never as plain environment values",
    "category": "SECRETS",
    "resources": ["aws_ecs_task_definition"],
}


@gateway_check(POLICY)
@over_containers
def secret_looking_plain_variables(container: dict) -> list[str]:
    """Plain environment entries that look like secrets, named `container/NAME` in one line."""
    found = [
        f"{container.get('name', '?')}/{entry.get('name', '')}"
        for entry in container.get("environment") or []
        if secret_looking_variable(str(entry.get("name", "")), str(entry.get("value", "")))
    ]
    return ["secret-looking plain environment variables: " + ", ".join(found)] if found else []
