"""CKV_LLMGW_9: IAM grants Bedrock actions on named models and guardrails only.

A wildcard resource would let a compromised task call every model in the
account, including ones nobody reviewed or budgeted. A wildcard REGION is
allowed (cross-region inference profiles route to foundation models in several
regions); the part naming the model or guardrail must not contain `*`.
IAM documents are JSON strings in the resources, or `aws_iam_policy_document`
data sources: both are checked.
"""

from __future__ import annotations

from llmgw_base import NotEvaluable, gateway_check
from llmgw_common import blocks, documents, json_document, value

POLICY = {
    "id": "CKV_LLMGW_9",
    "severity": "HIGH",
    "reason": "IAM policies grant Bedrock actions only on named resources (no '*')",
    "category": "IAM",
    "resources": ["aws_iam_role_policy", "aws_iam_policy", "aws_iam_role"],
    "data": ["aws_iam_policy_document"],
}


def _as_list(raw) -> list:
    if raw is None:
        return []
    if isinstance(raw, list):
        return [x for item in raw for x in (item if isinstance(item, list) else [item])]
    return [raw]


def grants_bedrock(actions: list) -> bool:
    return any(isinstance(a, str) and (a == "*" or a.lower().startswith("bedrock:")) for a in actions)


def unnamed_resources(resources: list) -> list[str]:
    """Resources that do not name one thing: `*`, or an ARN whose resource part has a wildcard."""
    bad = []
    for resource in resources:
        text = str(resource)
        resource_part = text.split(":", 5)[5] if text.startswith("arn:") and text.count(":") >= 5 else text
        if "*" in resource_part:
            bad.append(text)
    return bad


def statement_problems(statements: list[tuple[str, list, list, bool]]) -> list[str]:
    """(effect, actions, resources, uses NotResource/NotAction) per statement -> problems."""
    problems = []
    for effect, actions, resources, negated in statements:
        if effect.lower() != "allow" or not grants_bedrock(actions):
            continue
        if negated:
            problems.append("Bedrock granted through NotResource/NotAction")
        bad = unnamed_resources(resources)
        if bad or not resources:
            problems.append(f"Bedrock actions {sorted(map(str, actions))} on {bad or 'no resource'}")
    return problems


def json_statements(document: dict) -> list[tuple[str, list, list, bool]]:
    raw = document.get("Statement") or []
    out = []
    for statement in raw if isinstance(raw, list) else [raw]:
        if isinstance(statement, dict):
            negated = "NotResource" in statement or "NotAction" in statement
            actions = _as_list(statement.get("Action")) + _as_list(statement.get("NotAction"))
            out.append(
                (str(statement.get("Effect", "")), actions, _as_list(statement.get("Resource")), negated)
            )
    return out


def data_statements(conf: dict) -> list[tuple[str, list, list, bool]]:
    out = []
    for statement in blocks(conf, "statement"):
        negated = bool(statement.get("not_resources") or statement.get("not_actions"))
        actions = _as_list(statement.get("actions")) + _as_list(statement.get("not_actions"))
        effect = value(statement, "effect") or "Allow"
        out.append((str(effect), actions, _as_list(statement.get("resources")), negated))
    return out


@gateway_check(POLICY)
def unscoped_in_policies(conf: dict) -> list[str]:
    inline = [d for b in blocks(conf, "inline_policy") for d in documents(b, "policy")]
    literal = [d for d in map(json_document, documents(conf, "policy") + inline) if isinstance(d, dict)]
    if not literal:
        # Only references (e.g. a policy document data source, checked below): nothing literal here.
        raise NotEvaluable
    return [p for d in literal for p in statement_problems(json_statements(d))]


@gateway_check(POLICY, data=True)
def unscoped_in_policy_documents(conf: dict) -> list[str]:
    return statement_problems(data_statements(conf))
