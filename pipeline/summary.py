"""Turn `terraform show -json` output into the Markdown a reviewer reads on a pull request.

Destroys and replacements go first because they are what loses data or
causes downtime; the full plan text is kept, collapsed, and cut so the whole
comment fits GitHub's size limit.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

# GitHub rejects issue comments longer than this many characters.
GITHUB_COMMENT_LIMIT = 65_536
# Room kept back for the hidden marker pipeline.github prepends, and for slack.
RESERVED = 512

# Column order of the per-type table.
ACTIONS = ("add", "change", "replace", "destroy")


@dataclass(frozen=True)
class PolicyResult:
    """Outcome of the policy gate over a plan, as the summary shows it."""

    passed: bool
    failures: tuple[str, ...] = ()
    report: str | None = None  # where the full report lives (path or artifact name)
    note: str = ""


@dataclass(frozen=True)
class Change:
    """One resource instance's planned action."""

    address: str
    type: str
    action: str  # add | change | replace | destroy | forget
    reasons: tuple[str, ...] = ()  # attributes that force a replacement
    moved_from: str | None = None


@dataclass(frozen=True)
class PlanDigest:
    """What a plan does, reduced to what the summary shows."""

    changes: tuple[Change, ...]
    outputs_changed: tuple[str, ...] = ()
    drifted: tuple[str, ...] = ()  # changed outside Terraform since the last apply
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes or self.outputs_changed)


def classify(actions: list[str]) -> str | None:
    """Map Terraform's action list to one summary action; None when nothing happens."""
    key = tuple(actions)
    if key in (("delete", "create"), ("create", "delete")):
        return "replace"
    return {
        ("create",): "add",
        ("update",): "change",
        ("delete",): "destroy",
        ("forget",): "forget",
    }.get(key)


def _path_text(path: list) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path))


def digest(plan_json: dict) -> PlanDigest:
    """Reduce a plan's `resource_changes`, `output_changes` and `resource_drift`."""
    changes: list[Change] = []
    for rc in plan_json.get("resource_changes", []):
        if rc.get("mode") == "data":
            continue
        action = classify(rc["change"]["actions"])
        if action is None:
            continue
        reasons = tuple(_path_text(p) for p in rc["change"].get("replace_paths", []) or [])
        changes.append(Change(rc["address"], rc["type"], action, reasons, rc.get("previous_address")))
    outputs = tuple(
        name
        for name, oc in sorted((plan_json.get("output_changes") or {}).items())
        if oc.get("actions") not in (["no-op"], None)
    )
    drifted = tuple(
        d["address"] for d in plan_json.get("resource_drift", []) or [] if d["change"]["actions"] != ["no-op"]
    )
    return PlanDigest(tuple(changes), outputs, drifted, Counter(c.action for c in changes))


def _headline(d: PlanDigest) -> str:
    if not d.has_changes:
        return "**No changes.** The infrastructure matches the configuration."
    parts = [f"{d.counts[a]} to {a}" for a in ACTIONS if d.counts[a]]
    if d.counts["forget"]:
        parts.append(f"{d.counts['forget']} to forget")
    if d.outputs_changed:
        parts.append(f"{len(d.outputs_changed)} output(s) changed")
    return "**Plan:** " + ", ".join(parts) + "."


def _dangerous(d: PlanDigest) -> list[str]:
    risky = [c for c in d.changes if c.action in ("destroy", "replace")]
    if not risky:
        return []
    lines = [
        "> [!CAUTION]",
        f"> This plan **destroys or replaces {len(risky)} resource(s)**. Check each one:",
        ">",
    ]
    for c in sorted(risky, key=lambda c: (c.action, c.address)):
        why = f" (forced by {', '.join(f'`{r}`' for r in c.reasons)})" if c.reasons else ""
        lines.append(f"> - **{c.action}** `{c.address}`{why}")
    return [*lines, ""]


def _table(d: PlanDigest) -> list[str]:
    per_type: dict[str, Counter[str]] = {}
    for c in d.changes:
        per_type.setdefault(c.type, Counter())[c.action] += 1
    if not per_type:
        return []
    lines = ["| resource type | " + " | ".join(ACTIONS) + " |", "|---|" + "---:|" * len(ACTIONS)]
    for rtype in sorted(per_type):
        cells = [str(per_type[rtype][a] or "") for a in ACTIONS]
        lines.append(f"| `{rtype}` | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _policy(policy: PolicyResult | None) -> list[str]:
    if policy is None:
        return ["**Policy gate:** not run.", ""]
    where = f" Report: `{policy.report}`." if policy.report else ""
    if policy.passed:
        lines = [f"**Policy gate:** ✅ passed.{where}"]
    else:
        lines = [f"**Policy gate:** ❌ failed ({len(policy.failures)} finding(s)).{where}"]
        lines += [f"- {f}" for f in policy.failures[:50]]
        if len(policy.failures) > 50:
            lines.append(f"- … and {len(policy.failures) - 50} more in the report")
    if policy.note:
        lines.append(policy.note)
    return [*lines, ""]


def _fence(text: str) -> str:
    """A backtick fence longer than any run of backticks inside the text."""
    longest, run = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def comment_length(text: str) -> int:
    """Length as GitHub counts it (UTF-16 code units), so non-BMP characters do not overflow."""
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, budget: int) -> str:
    """The longest prefix of whole lines within `budget` UTF-16 units."""
    out, used = [], 0
    for line in text.splitlines(keepends=True):
        size = comment_length(line)
        if used + size > budget:
            break
        out.append(line)
        used += size
    return "".join(out)


def _details(plan_text: str, budget: int, artifact_hint: str) -> list[str]:
    fence = _fence(plan_text)
    body = plan_text.strip("\n")
    opening = f"<details><summary>Full plan output</summary>\n\n{fence}text\n"
    closing = f"\n{fence}\n\n</details>"
    room = budget - comment_length(opening + closing)
    if comment_length(body) <= room:
        return [opening + body + closing]
    total = comment_length(body)
    note_template = (
        "\n\n> [!NOTE]\n> The plan output was cut to fit GitHub's comment limit: "
        "showing the first {shown:,} of {total:,} characters. {hint}"
    )
    note_room = comment_length(note_template.format(shown=total, total=total, hint=artifact_hint))
    shown = _cut(body, max(room - note_room, 0)).rstrip("\n")
    note = note_template.format(shown=len(shown), total=total, hint=artifact_hint)
    return [opening + shown + closing + note]


def render_summary(
    plan_json: dict,
    *,
    environment: str,
    policy: PolicyResult | None,
    plan_text: str | None = None,
    limit: int = GITHUB_COMMENT_LIMIT,
    artifact_hint: str = "The whole plan is in the run's artifacts.",
) -> str:
    """The Markdown summary of one environment's plan, never longer than `limit` - RESERVED."""
    d = digest(plan_json)
    lines = [f"### Terraform plan: `{environment}`", "", _headline(d), ""]
    lines += _dangerous(d)
    lines += _table(d)
    if d.outputs_changed:
        lines += ["Outputs changing: " + ", ".join(f"`{o}`" for o in d.outputs_changed), ""]
    if d.drifted:
        lines += [f"**Changed outside Terraform** since the last apply: {len(d.drifted)} resource(s)."]
        lines += [f"- `{address}`" for address in d.drifted[:20]]
        if len(d.drifted) > 20:
            lines.append(f"- … and {len(d.drifted) - 20} more")
        lines.append("")
    lines += _policy(policy)
    version = plan_json.get("terraform_version")
    if version:
        lines += [f"<sub>Terraform {version}</sub>", ""]
    head = "\n".join(lines)
    if plan_text is None:
        return head
    budget = limit - RESERVED - comment_length(head) - 1
    return head + "\n" + "\n".join(_details(plan_text, budget, artifact_hint)) + "\n"


# ---------------------------------------------------------------- redaction of plan artifacts
REDACTED = "(sensitive value)"  # what `terraform show` prints in place of one


def _redact(values: object, mask: object) -> object:
    """`values` with every leaf Terraform's sensitivity mask marks replaced by REDACTED."""
    if mask is True:
        return REDACTED if values is not None else None
    if isinstance(mask, dict) and isinstance(values, dict):
        return {k: _redact(v, mask.get(k)) for k, v in values.items()}
    if isinstance(mask, list) and isinstance(values, list):
        return [_redact(v, mask[i] if i < len(mask) else None) for i, v in enumerate(values)]
    return values


def _redact_module(module: dict) -> None:
    for resource in module.get("resources", []) or []:
        if "values" in resource:
            resource["values"] = _redact(resource["values"], resource.get("sensitive_values"))
    for child in module.get("child_modules", []) or []:
        _redact_module(child)


def _redact_values(block: dict | None) -> None:
    """A `planned_values` / `prior_state.values` block: resources by their masks, sensitive outputs whole."""
    if not block:
        return
    _redact_module(block.get("root_module") or {})
    for output in (block.get("outputs") or {}).values():
        if output.get("sensitive") and "value" in output:
            output["value"] = REDACTED


def _redact_change(change: dict) -> None:
    for side in ("before", "after"):
        if side in change:
            change[side] = _redact(change[side], change.get(f"{side}_sensitive"))


def redact_plan(plan_json: dict) -> dict:
    """A copy of `terraform show -json` of a plan (or of state) with every sensitive value replaced.

    Terraform's own text rendering hides them; its JSON does not. The copy keeps the
    sensitivity masks, so the summary and the policy gate read the same structure.
    """
    import copy

    plan = copy.deepcopy(plan_json)
    declared = ((plan.get("configuration") or {}).get("root_module") or {}).get("variables", {})
    sensitive_vars = {name for name, var in declared.items() if var.get("sensitive")}
    for name in sensitive_vars:
        if name in (plan.get("variables") or {}):
            plan["variables"][name]["value"] = REDACTED
        plan["configuration"]["root_module"]["variables"][name].pop("default", None)
    _redact_values(plan.get("planned_values"))
    _redact_values(plan.get("values"))  # `terraform show -json` of state
    _redact_values((plan.get("prior_state") or {}).get("values"))
    for key in ("resource_changes", "resource_drift"):
        for rc in plan.get(key) or []:
            _redact_change(rc.get("change") or {})
    for oc in (plan.get("output_changes") or {}).values():
        _redact_change(oc)
    # Terraform does not always carry a mark to values computed from a sensitive one (terraform_data's
    # `output` from its `input`): any string holding a value redacted above goes too.
    found = {v for v in _strings(plan_json, plan) if v}
    return _scrub(plan, found) if found else plan


def _strings(original: object, redacted: object) -> set[str]:
    """The strings of `original` that `redacted` replaced."""
    if isinstance(original, dict) and isinstance(redacted, dict):
        return {s for k, v in original.items() for s in _strings(v, redacted.get(k))}
    if isinstance(original, list) and isinstance(redacted, list):
        return {s for o, r in zip(original, redacted, strict=False) for s in _strings(o, r)}
    if isinstance(original, str) and redacted == REDACTED and original != REDACTED:
        return {original}
    return set()


# A redacted value this long is also looked for inside other strings (shorter ones only as whole
# strings, so that a short sensitive value such as a user name does not blank unrelated text).
EMBEDDED_MIN_LENGTH = 12


def _scrub(value: object, secrets: set[str]) -> object:
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    if isinstance(value, str) and (
        value in secrets or any(len(s) >= EMBEDDED_MIN_LENGTH and s in value for s in secrets)
    ):
        return REDACTED
    return value


def redacted_plan_text(shown: str) -> str:
    """`terraform show -json` output, redacted, as the text to save in the plan artifact."""
    return json.dumps(redact_plan(json.loads(shown)))
