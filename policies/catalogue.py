"""The gateway's own policies as the gate knows them: id, severity, one-line reason, source file.

Read from policies/checks/ without importing checkov (which lives in another
venv): YAML policies from their `metadata`, Python ones from their literal
`POLICY` dict. The gate uses it to label results and to prove every custom
policy actually evaluated something in every stack (a check that failed to load,
or whose resource vanished from the stack, would otherwise pass in silence).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import yaml

CHECKS_DIR = Path(__file__).resolve().parent / "checks"
SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")


@dataclass(frozen=True)
class Policy:
    id: str
    severity: str
    reason: str
    source: Path


class CatalogueError(Exception):
    """A custom policy file lacks its id, severity or reason, or repeats an id."""


def _from_yaml(path: Path) -> Policy:
    meta = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("metadata") or {}
    return Policy(str(meta.get("id", "")), str(meta.get("severity", "")), str(meta.get("name", "")), path)


def _from_python(path: Path) -> Policy | None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "POLICY" for t in node.targets
        ):
            data = ast.literal_eval(node.value)
            return Policy(
                str(data.get("id", "")), str(data.get("severity", "")), str(data.get("reason", "")), path
            )
    return None  # a helper module, not a check


def load(checks_dir: Path = CHECKS_DIR) -> dict[str, Policy]:
    """Every custom policy by id; raises CatalogueError on an incomplete or duplicate declaration."""
    policies: dict[str, Policy] = {}
    for path in sorted(checks_dir.iterdir()):
        if path.name.startswith((".", "_")):
            continue
        if path.suffix in (".yaml", ".yml"):
            policy = _from_yaml(path)
        elif path.suffix == ".py":
            policy = _from_python(path)
        else:
            continue
        if policy is None:
            continue
        if not policy.id.startswith("CKV_LLMGW_"):
            raise CatalogueError(f"{path.name}: id {policy.id!r} must look like CKV_LLMGW_<n>")
        if policy.severity not in SEVERITIES:
            raise CatalogueError(
                f"{path.name}: severity {policy.severity!r}; allowed: {', '.join(SEVERITIES)}"
            )
        if not policy.reason.strip():
            raise CatalogueError(f"{path.name}: a one-line reason is required")
        if policy.id in policies:
            raise CatalogueError(
                f"{path.name}: {policy.id} is already declared by {policies[policy.id].source.name}"
            )
        policies[policy.id] = policy
    return policies
