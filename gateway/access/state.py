"""The two sides a plan compares: what access.yaml declares and what the gateway holds.

Both are reduced to the same comparable settings (LiteLLM's field names), so the diff is
a plain comparison and the same code serves a plan against any gateway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from modules.config.access import AccessConfig

# Written into the metadata of every team and key the reconciler makes: what is marked is the
# file's to change or delete; anything else the gateway holds is drift, never touched.
MANAGED_BY = ("managed_by", "access.yaml")
# The deploy smoke's keys (gateway/admin.py smoke-key) carry this mark instead: short-lived (2 h), replaced
# every deploy, and the admin task's to delete, so they are neither the file's objects nor drift.
SMOKE_KEY_MARK = ("managed_by", "admin smoke-key")
SMOKE_KEY_ALIAS_PREFIX = "deploy-smoke-"
SMOKE_KEY_LIFETIME = timedelta(hours=2)
ISSUED_AT, RETIRE_AT = "issued_at", "retire_at"  # metadata the reconciler writes on keys (ISO 8601, UTC)
# A rotated key keeps working under this alias until its grace period ends (LiteLLM expires it).
RETIRING = "--retiring"
TEAM_FIELDS = ("models", "max_budget", "budget_duration", "tpm_limit", "rpm_limit", "owner", "cost_centre")
KEY_FIELDS = ("team", "models", "max_budget", "budget_duration", "tpm_limit", "rpm_limit")
METADATA_FIELDS = ("owner", "cost_centre")


@dataclass(frozen=True)
class DesiredTeam:
    alias: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class DesiredKey:
    alias: str
    settings: dict[str, Any]  # KEY_FIELDS; `team` is the team's alias
    rotate_after_days: int
    grace_hours: int


@dataclass(frozen=True)
class Desired:
    environment: str
    teams: tuple[DesiredTeam, ...]
    keys: tuple[DesiredKey, ...]


@dataclass(frozen=True)
class LiveTeam:
    team_id: str
    alias: str | None
    settings: dict[str, Any]
    managed: bool
    spend: float = 0.0


@dataclass(frozen=True)
class LiveKey:
    token: str  # LiteLLM's hash of the key, never the key itself
    alias: str | None
    team_id: str | None
    settings: dict[str, Any]  # KEY_FIELDS; `team` is the team's alias (or its id if it has none)
    managed: bool
    created_at: datetime | None = None
    expires: datetime | None = None
    key_name: str = ""  # LiteLLM's abbreviation, e.g. sk-...MqWg
    # Set by the reconciler (metadata), on its own clock: when the value was issued, and for a rotated
    # key when its grace ends. The ages and the grace are measured with these, not LiteLLM's timestamps.
    issued_at: datetime | None = None
    retire_at: datetime | None = None

    @property
    def issued(self) -> datetime | None:
        return self.issued_at or self.created_at

    @property
    def grace_ends(self) -> datetime | None:
        return self.retire_at or self.expires

    @property
    def retiring_of(self) -> str | None:
        """The declared alias this key was rotated away from, if it is a rotated key in its grace period."""
        if self.alias and self.managed and RETIRING in self.alias:
            return self.alias.split(RETIRING, 1)[0]
        return None

    def describe(self) -> str:
        return self.alias or f"{self.key_name or self.token[:12]} (no alias)"


@dataclass(frozen=True)
class Live:
    teams: tuple[LiveTeam, ...]
    keys: tuple[LiveKey, ...] = field(default_factory=tuple)

    def team_alias(self, team_id: str | None) -> str | None:
        for team in self.teams:
            if team.team_id == team_id:
                return team.alias or team.team_id
        return team_id


def desired(access: AccessConfig) -> Desired:
    """The declaration with the file's defaults filled in: every setting a LiteLLM object will carry."""
    teams = tuple(
        DesiredTeam(
            alias=team.alias,
            settings={
                "models": tuple(team.models),
                "max_budget": team.max_budget,
                "budget_duration": team.budget_duration,
                "tpm_limit": team.tpm_limit,
                "rpm_limit": team.rpm_limit,
                "owner": team.metadata.owner,
                "cost_centre": team.metadata.cost_centre,
            },
        )
        for team in access.teams
    )
    defaults = access.defaults
    keys = tuple(
        DesiredKey(
            alias=key.alias,
            settings={
                "team": key.team,
                "models": tuple(key.models),
                "max_budget": key.max_budget if key.max_budget is not None else defaults.max_budget,
                "budget_duration": key.budget_duration or defaults.budget_duration,
                "tpm_limit": key.tpm_limit or defaults.tpm_limit,
                "rpm_limit": key.rpm_limit or defaults.rpm_limit,
            },
            rotate_after_days=key.rotate_after_days or defaults.rotate_after_days,
            grace_hours=defaults.rotation_grace_hours,
        )
        for key in access.service_keys
    )
    return Desired(environment=access.environment, teams=teams, keys=keys)


def same(field_name: str, old: Any, new: Any) -> bool:
    """Equal as LiteLLM means them: model lists are sets, budgets are numbers."""
    if field_name == "models":
        return sorted(old or ()) == sorted(new or ())
    if isinstance(old, int | float) and isinstance(new, int | float) and not isinstance(old, bool):
        return float(old) == float(new)
    return old == new
