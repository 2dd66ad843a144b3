"""CKV_LLMGW_13: the load balancer passes on only the served routes; everything else gets a fixed 404.

A listener's default action must be a fixed response, or a redirect to HTTPS (plain
HTTP in front of the HTTPS listener: it reaches no target); a default that forwards
exposes every admin and pass-through route. A listener
rule that forwards or redirects must be limited by path patterns, all of them
served paths of policies/routes.yaml, loaded here by path (checkov's venv has no
repository on its path) so the policy and modules/edge.py read the same list.
"""

from __future__ import annotations

from pathlib import Path

from llmgw_base import gateway_check
from llmgw_common import blocks, load_by_path, value

POLICY = {
    "id": "CKV_LLMGW_13",
    "severity": "HIGH",
    "reason": "Load balancer listeners pass on only the served routes; everything else gets a fixed 404",
    "category": "NETWORKING",
    "resources": ["aws_lb_listener", "aws_alb_listener", "aws_lb_listener_rule", "aws_alb_listener_rule"],
}

ROUTES_MODULE = Path(__file__).resolve().parents[1] / "routes.py"


def _served() -> frozenset[str]:
    return frozenset(load_by_path("llmgw_routes", ROUTES_MODULE).served_paths())


def _strings(raw) -> list:
    """Every scalar under `raw`, however checkov nested the list."""
    if isinstance(raw, list):
        return [s for item in raw for s in _strings(item)]
    return [raw] if raw is not None else []


def _fixed(action: dict) -> bool:
    return value(action, "type") == "fixed-response"


def _to_https(action: dict) -> bool:
    return value(action, "type") == "redirect" and any(
        value(r, "protocol") == "HTTPS" for r in blocks(action, "redirect")
    )


def _listener(conf: dict) -> list[str]:
    actions = blocks(conf, "default_action")
    if actions and all(_fixed(a) or _to_https(a) for a in actions):
        return []
    kinds = [value(a, "type") for a in actions]
    return [f"default action {kinds or 'missing'}: must be a fixed response or a redirect to HTTPS"]


def _rule(conf: dict) -> list[str]:
    kinds = [value(action, "type") for action in blocks(conf, "action")]
    if kinds and all(kind == "fixed-response" for kind in kinds):
        return []
    paths: list = []
    for condition in blocks(conf, "condition"):
        for pattern in blocks(condition, "path_pattern"):
            paths += _strings(pattern.get("values"))
    outside = sorted(str(p) for p in paths if p not in _served())
    if not paths or outside:
        return [
            f"a {kinds} rule must match only served paths (policies/routes.yaml); "
            f"{'it has no path pattern' if not paths else f'outside: {outside}'}"
        ]
    return []


@gateway_check(POLICY)
def passes_unserved_routes(conf: dict) -> list[str]:
    is_listener = "default_action" in conf or "load_balancer_arn" in conf
    return _listener(conf) if is_listener else _rule(conf)
