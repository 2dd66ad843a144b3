"""CKV_LLMGW_12: traces sent outside the private network carry no prompt or answer text.

A container that traces to an external collector (Phoenix Cloud, any public
host) must not record content: GATEWAY_TRACE_CONTENT is `false` or unset (the
entrypoint's default is off for such a collector). The environment file check
refuses this already; the policy holds the artifact to it, whatever wrote it.
"Outside" is the rule of gateway/trace_content.py, loaded here by path so the
policy, the image and synth can never disagree. An endpoint that is not a
literal (a Terraform reference) cannot be proven inside, so it counts as outside.
"""

from __future__ import annotations

from pathlib import Path

from llmgw_base import gateway_check, over_containers
from llmgw_common import is_expression, load_by_path

POLICY = {
    "id": "CKV_LLMGW_12",
    "severity": "HIGH",
    "reason": "Traces sent to a collector outside the private network carry no prompt or answer text",
    "category": "GENERAL_SECURITY",
    "resources": ["aws_ecs_task_definition"],
}

ENDPOINT_VARIABLE = "PHOENIX_COLLECTOR_ENDPOINT"
RULE_FILE = Path(__file__).resolve().parents[2] / "gateway" / "trace_content.py"


# gateway/trace_content.py: standard library only, the rule synth and the entrypoint apply.
rule = load_by_path("llmgw_trace_content_rule", RULE_FILE)


@gateway_check(POLICY)
@over_containers
def content_leak(container: dict) -> list[str]:
    """`container: why`, if the container would send content to an external collector."""
    env = {
        str(entry.get("name")): entry.get("value")
        for entry in container.get("environment") or []
        if isinstance(entry, dict)
    }
    endpoint = env.get(ENDPOINT_VARIABLE)
    if endpoint is None:
        return []  # no tracing target (the migration task)
    literal = isinstance(endpoint, str) and not is_expression(endpoint) and "${" not in endpoint
    external = not literal or rule.collector_is_external(endpoint)
    raw = env.get(rule.VARIABLE)
    name = container.get("name", "?")
    if raw is not None and not isinstance(raw, str):
        return [f"{name}: {rule.VARIABLE} is not a literal true or false"]
    try:
        chosen = rule.parse(raw)
    except ValueError:
        return [f"{name}: {rule.VARIABLE}={raw!r} is not true or false"]
    # Unset: the entrypoint applies the same rule to the endpoint it is given (off outside).
    captures = chosen if chosen is not None else literal and rule.default_capture(endpoint)
    if external and captures:
        return [
            f"{name}: {rule.VARIABLE} records prompts and answers, and {ENDPOINT_VARIABLE} "
            f"{endpoint!r} is outside the private network (inside: {rule.INSIDE})"
        ]
    return []
