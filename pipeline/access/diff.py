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

from pipeline.access.state import KEY_FIELDS, TEAM_FIELDS, Desired, Live, LiveKey, LiveTeam, same

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
    refusal = "" if allow_delete else "deletion needs --allow-delete"

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
    declared_teams = {team.alias for team in desired.teams}
    for team in desired.teams:
        current = teams_by_alias.get(team.alias)
        if current is None:
            changes.append(
                Change("create", "team", team.alias, tuple((f, None, team.settings[f]) for f in TEAM_FIELDS))
            )
            continue
        differ = tuple(
            (f, current.settings.get(f), team.settings[f])
            for f in TEAM_FIELDS
            if not same(f, current.settings.get(f), team.settings[f])
        )
        if differ or not current.managed:
            changes.append(
                Change(
                    "update",
                    "team",
                    team.alias,
                    differ,
                    "" if current.managed else "adopted: made outside access.yaml",
                    live_id=current.team_id,
                )
            )

    keys_by_alias: dict[str, LiveKey] = {}
    retiring: list[LiveKey] = []
    declared_keys = {key.alias for key in desired.keys}
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
            drift.append(
                Drift(
                    "key",
                    key.describe(),
                    f"team {live.team_alias(key.team_id) or 'none'}; a key without an alias",
                )
            )

    for key in desired.keys:
        current = keys_by_alias.get(key.alias)
        if current is None:
            changes.append(
                Change("create", "key", key.alias, tuple((f, None, key.settings[f]) for f in KEY_FIELDS))
            )
            continue
        differ = tuple(
            (f, current.settings.get(f), key.settings[f])
            for f in KEY_FIELDS
            if not same(f, current.settings.get(f), key.settings[f])
        )
        if differ or not current.managed:
            changes.append(
                Change(
                    "update",
                    "key",
                    key.alias,
                    differ,
                    "" if current.managed else "adopted: made outside access.yaml",
                    live_id=current.token,
                )
            )
        if current.issued is not None:
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

    for alias, key in keys_by_alias.items():
        if alias in declared_keys:
            continue
        if key.managed:
            changes.append(
                Change(
                    "delete",
                    "key",
                    alias,
                    reason="no longer in access.yaml",
                    refused=refusal,
                    live_id=key.token,
                )
            )
        else:
            drift.append(
                Drift(
                    "key",
                    key.describe(),
                    f"team {live.team_alias(key.team_id) or 'none'}; not in access.yaml",
                )
            )
    for alias, team in teams_by_alias.items():
        if alias in declared_teams:
            continue
        if team.managed:
            changes.append(
                Change(
                    "delete",
                    "team",
                    alias,
                    reason="no longer in access.yaml",
                    refused=refusal,
                    live_id=team.team_id,
                )
            )
        else:
            drift.append(Drift("team", alias, "not in access.yaml"))
    return Plan(desired.environment, tuple(changes), tuple(drift), tuple(retiring))


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
