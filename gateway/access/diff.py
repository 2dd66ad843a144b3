"""The plan: what apply would do to make the gateway hold what access.yaml declares, and what it leaves.

Pure: two states in, a list of changes and a list of drift out. Objects are matched by
alias. A marked object (state.MANAGED_BY) the file no longer declares is a deletion,
refused unless deletions are allowed; an unmarked one the file does not declare is
drift: reported, never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from gateway.access.state import KEY_FIELDS, TEAM_FIELDS, Desired, Live, LiveKey, LiveTeam, same

Action = Literal["create", "update", "rotate", "delete"]
SYMBOLS = {"create": "+", "update": "~", "rotate": "±", "delete": "-"}


@dataclass(frozen=True)
class Change:
    action: Action
    kind: Literal["team", "key"]
    alias: str
    # (field, old, new): every setting for a create, the differing ones for an update
    fields: tuple[tuple[str, Any, Any], ...] = ()
    reason: str = ""
    refused: str = ""  # why it will not be carried out (a deletion without --allow-delete)
    live_id: str = ""  # team_id or key hash of the live object it changes


@dataclass(frozen=True)
class Drift:
    kind: Literal["team", "key"]
    name: str
    detail: str


@dataclass(frozen=True)
class Plan:
    environment: str
    changes: tuple[Change, ...]
    drift: tuple[Drift, ...]
    retiring: tuple[LiveKey, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing to do and nothing unexplained: `plan` exits 0."""
        return not self.changes and not self.drift

    def count(self, action: Action, *, refused: bool = False) -> int:
        return sum(1 for c in self.changes if c.action == action and bool(c.refused) == refused)


def plan(desired: Desired, live: Live, *, allow_delete: bool = False, now: datetime | None = None) -> Plan:
    now = now or datetime.now(UTC)
    changes: list[Change] = []
    drift: list[Drift] = []

    teams_by_alias: dict[str, LiveTeam] = {}
    for team in live.teams:
        if team.alias and team.alias not in teams_by_alias:
            teams_by_alias[team.alias] = team
        else:
            drift.append(
                Drift(
                    "team",
                    team.alias or team.team_id,
                    "a second team with this alias" if team.alias else "a team without an alias",
                )
            )
    for team in desired.teams:
        current = teams_by_alias.get(team.alias)
        live_id = current.team_id if current else ""
        changes += _declared("team", team.alias, team.settings, TEAM_FIELDS, current, live_id)

    keys_by_alias: dict[str, LiveKey] = {}
    retiring: list[LiveKey] = []
    for key in live.keys:
        if key.retiring_of is not None:
            if key.grace_ends is not None and key.grace_ends <= now:
                changes.append(
                    Change(
                        "delete",
                        "key",
                        key.alias or "",
                        reason=f"rotation of {key.retiring_of}: grace ended",
                        live_id=key.token,
                    )
                )
            else:
                retiring.append(key)
        elif key.alias and key.alias not in keys_by_alias:
            keys_by_alias[key.alias] = key
        else:
            drift.append(_key_drift(key, live, "a key without an alias"))

    for key in desired.keys:
        current = keys_by_alias.get(key.alias)
        live_id = current.token if current else ""
        changes += _declared("key", key.alias, key.settings, KEY_FIELDS, current, live_id)
        if current is not None and current.issued is not None:
            age = now - current.issued
            if age >= timedelta(days=key.rotate_after_days):
                changes.append(
                    Change(
                        "rotate",
                        "key",
                        key.alias,
                        reason=f"{age.days} days old, rotate_after_days {key.rotate_after_days}; the old key "
                        f"keeps working for {key.grace_hours} h",
                        live_id=current.token,
                    )
                )

    # What the file no longer declares: a deletion if the reconciler made it, drift if not.
    refusal = "" if allow_delete else "deletion needs --allow-delete"
    undeclared = (
        ("key", keys_by_alias, {k.alias for k in desired.keys}),
        ("team", teams_by_alias, {t.alias for t in desired.teams}),
    )
    for kind, by_alias, declared in undeclared:
        for alias, obj in by_alias.items():
            if alias in declared:
                continue
            if obj.managed:
                live_id = obj.token if isinstance(obj, LiveKey) else obj.team_id
                reason = "no longer in access.yaml"
                changes.append(Change("delete", kind, alias, reason=reason, refused=refusal, live_id=live_id))
            elif isinstance(obj, LiveKey):
                drift.append(_key_drift(obj, live, "not in access.yaml"))
            else:
                drift.append(Drift("team", alias, "not in access.yaml"))
    return Plan(desired.environment, tuple(changes), tuple(drift), tuple(retiring))


def _declared(
    kind: Literal["team", "key"],
    alias: str,
    declared: dict[str, Any],
    fields: tuple[str, ...],
    current: LiveTeam | LiveKey | None,
    live_id: str,
) -> list[Change]:
    """What makes the live object hold the declared settings: a create, an update, or nothing.

    An unmarked object with the declared alias is adopted: updated (even with nothing to change)
    so that it carries the mark from then on.
    """
    if current is None:
        return [Change("create", kind, alias, tuple((f, None, declared[f]) for f in fields))]
    differ = tuple(
        (f, current.settings.get(f), declared[f])
        for f in fields
        if not same(f, current.settings.get(f), declared[f])
    )
    if not differ and current.managed:
        return []
    reason = "" if current.managed else "adopted: made outside access.yaml"
    return [Change("update", kind, alias, differ, reason, live_id=live_id)]


def _key_drift(key: LiveKey, live: Live, why: str) -> Drift:
    return Drift("key", key.describe(), f"team {live.team_alias(key.team_id) or 'none'}; {why}")


# ---------------------------------------------------------------- how a plan reads
def _value(value: Any, name: str = "") -> str:
    if name == "models" and not value:
        return "(all of the team's)"
    if value is None:
        return "(none)"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def render(plan: Plan, *, target: str = "") -> str:
    """Terraform-style text: one block per change, then drift, then one summary line."""
    lines = [f"access plan for {plan.environment}" + (f" against {target}" if target else "")]
    if plan.empty:
        lines.append("\nNo changes. The gateway holds exactly what access.yaml declares.")
        lines += _retiring_lines(plan)
        return "\n".join(lines)
    for change in plan.changes:
        head = f"{SYMBOLS[change.action]} {change.kind} {change.alias}"
        if change.action == "update":
            head += ": update"
        elif change.action == "rotate":
            head += f": rotate ({change.reason})"
        elif change.action == "delete":
            head += f": delete ({change.reason})"
        if change.reason and change.action == "update":
            head += f" ({change.reason})"
        if change.refused:
            head += f"  REFUSED: {change.refused}"
        lines.append("")
        lines.append("  " + head)
        width = max((len(name) for name, _, _ in change.fields), default=0)
        for name, old, new in change.fields:
            if change.action == "create":
                lines.append(f"      {name:<{width}} = {_value(new, name)}")
            else:
                lines.append(f"      {name:<{width}} = {_value(old, name)} -> {_value(new, name)}")
    if plan.drift:
        lines.append(
            "\nDrift: in the gateway, not in access.yaml (apply never changes these; declare or remove them):"
        )
        lines += [f"  ! {d.kind} {d.name}: {d.detail}" for d in plan.drift]
    lines += _retiring_lines(plan)
    refused = sum(1 for c in plan.changes if c.refused)
    lines.append(
        f"\nPlan: {plan.count('create')} to create, {plan.count('update')} to update, "
        f"{plan.count('rotate')} to rotate, {plan.count('delete')} to delete"
        + (f", {refused} refused" if refused else "")
        + f"; {len(plan.drift)} drift."
    )
    return "\n".join(lines)


def _retiring_lines(plan: Plan) -> list[str]:
    return [
        f"  (rotated key {key.retiring_of} keeps its old value until {key.grace_ends:%Y-%m-%d %H:%M} UTC)"
        if key.grace_ends
        else f"  (rotated key {key.retiring_of}: old value still valid)"
        for key in plan.retiring
    ]
