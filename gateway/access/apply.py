"""Carry a plan out: teams first (keys name them), then keys, then the deletions that are allowed.

Each step is one management call, said in one line; a new key's value goes from
/key/generate straight to the secret store and is named in the output only by where
it is kept. A refused change is skipped and said. Running apply again right after
finds nothing to do (the plan is computed from the gateway each time).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.access.diff import Change, Plan
from gateway.access.gateway import AccessError, GatewayAdmin
from gateway.access.secrets import SecretStore
from gateway.access.state import (
    ISSUED_AT,
    MANAGED_BY,
    RETIRE_AT,
    RETIRING,
    Desired,
    DesiredKey,
    DesiredTeam,
    Live,
)


def team_body(team: DesiredTeam) -> dict[str, Any]:
    settings = team.settings
    metadata = {MANAGED_BY[0]: MANAGED_BY[1]}
    metadata.update({name: settings[name] for name in ("owner", "cost_centre") if settings[name] is not None})
    return {**_limits(settings), "metadata": metadata}


def key_body(key: DesiredKey, team_ids: dict[str, str], issued: datetime | None) -> dict[str, Any]:
    """A key's settings; its metadata marks it managed and, on the reconciler's clock, when it was issued."""
    settings = key.settings
    metadata = {MANAGED_BY[0]: MANAGED_BY[1]}
    if issued is not None:
        metadata[ISSUED_AT] = issued.isoformat()
    return {"team_id": team_ids[settings["team"]], **_limits(settings), "metadata": metadata}


def _limits(settings: dict[str, Any]) -> dict[str, Any]:
    """The models and limits teams and keys both carry, in LiteLLM's request fields."""
    return {
        "models": list(settings["models"]),
        "max_budget": settings["max_budget"],
        "budget_duration": settings["budget_duration"],
        "tpm_limit": settings["tpm_limit"],
        "rpm_limit": settings["rpm_limit"],
    }


def apply(
    plan: Plan,
    desired: Desired,
    live: Live,
    admin: GatewayAdmin,
    store: SecretStore,
    *,
    log: Callable[[str], None] = print,
    now: datetime | None = None,
) -> int:
    """Apply every change that is not refused; returns how many were applied."""
    now = now or datetime.now(UTC)
    teams = {team.alias: team for team in desired.teams}
    keys = {key.alias: key for key in desired.keys}
    team_ids = {team.alias: team.team_id for team in live.teams if team.alias}
    issued = {key.token: key.issued for key in live.keys}
    done = 0

    def step(change: Change) -> None:
        nonlocal done
        if change.refused:
            log(f"  skipped: {change.action} {change.kind} {change.alias}: {change.refused}")
            return
        try:
            said = _carry_out(change, teams, keys, team_ids, issued, admin, store, now)
        except AccessError as err:
            raise AccessError(f"{change.action} {change.kind} {change.alias}: {err}") from None
        done += 1
        log(f"  {said}")

    order = [
        ("team", "create"),
        ("team", "update"),
        ("key", "create"),
        ("key", "update"),
        ("key", "rotate"),
        ("key", "delete"),
        ("team", "delete"),
    ]
    for kind, action in order:
        for change in plan.changes:
            if change.kind == kind and change.action == action:
                step(change)
    return done


def _carry_out(
    change: Change,
    teams: dict[str, DesiredTeam],
    keys: dict[str, DesiredKey],
    team_ids: dict[str, str],
    issued: dict[str, datetime | None],
    admin: GatewayAdmin,
    store: SecretStore,
    now: datetime,
) -> str:
    alias = change.alias
    if change.kind == "team":
        if change.action == "create":
            made = admin.post("/team/new", {"team_alias": alias, **team_body(teams[alias])})
            team_ids[alias] = made["team_id"]
            return f"created team {alias} ({made['team_id']})"
        if change.action == "update":
            admin.post("/team/update", {"team_id": change.live_id, **team_body(teams[alias])})
            return f"updated team {alias}: " + (
                ", ".join(name for name, _, _ in change.fields) or "marked managed"
            )
        admin.post("/team/delete", {"team_ids": [change.live_id]})
        return f"deleted team {alias}"
    if change.action == "create":
        return _new_key(keys[alias], team_ids, admin, store, "created", now)
    if change.action == "update":
        body = key_body(keys[alias], team_ids, issued.get(change.live_id))
        admin.post("/key/update", {"key": change.live_id, **body})
        return f"updated key {alias}: " + (
            ", ".join(name for name, _, _ in change.fields) or "marked managed"
        )
    if change.action == "rotate":
        key = keys[alias]
        # Aliases are unique in LiteLLM: the old key steps aside first, still valid for the grace period.
        # Without a grace it is deleted only once the new value is stored (a failure leaves it serving,
        # its grace ended: the next apply deletes it and issues the new key).
        retired = f"{alias}{RETIRING}-{now:%Y%m%d%H%M%S}"
        metadata = {
            MANAGED_BY[0]: MANAGED_BY[1],
            RETIRE_AT: (now + timedelta(hours=key.grace_hours)).isoformat(),
        }
        aside: dict[str, Any] = {"key": change.live_id, "key_alias": retired, "metadata": metadata}
        if key.grace_hours:
            # LiteLLM refuses it after the grace (its own clock); the reconciler deletes it then (its clock).
            aside["duration"] = f"{key.grace_hours}h"
        admin.post("/key/update", aside)
        said = _new_key(key, team_ids, admin, store, "rotated", now)
        if key.grace_hours:
            return f"{said}; the old key expires in {key.grace_hours} h"
        admin.post("/key/delete", {"keys": [change.live_id]})
        return f"{said}; the old key was deleted (no grace period)"
    admin.post("/key/delete", {"keys": [change.live_id]})
    return f"deleted key {alias}"


def _new_key(
    key: DesiredKey,
    team_ids: dict[str, str],
    admin: GatewayAdmin,
    store: SecretStore,
    verb: str,
    now: datetime,
) -> str:
    made = admin.post("/key/generate", {"key_alias": key.alias, **key_body(key, team_ids, now)})
    try:
        store.put(key.alias, made["key"])
    except Exception as error:
        # A key whose value is stored nowhere would look in sync to the next plan and never be issued again.
        token = made.get("token") or hashlib.sha256(made["key"].encode()).hexdigest()
        admin.post("/key/delete", {"keys": [token]})
        response = getattr(error, "response", None)  # botocore's error code, never a value
        code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
        raise AccessError(
            f"its value could not be stored in {store.where(key.alias)} "
            f"({type(error).__name__}{f': {code}' if code else ''}); the new key was deleted again"
        ) from None
    return f"{verb} key {key.alias} (team {key.settings['team']}); its value is in {store.where(key.alias)}"
