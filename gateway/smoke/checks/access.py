"""Teams, keys and budgets as code, against the real gateway: environments/<env>/access.yaml reconciled.

The stack was provisioned from the declaration before any check ran (gateway/smoke/
provision.py), with the reconciler the deploy runs (gateway/access). These rows prove,
through LiteLLM's management API and the official `openai` SDK: the plan is empty right
after the apply; the declared keys answer and their spend lands on the declared team;
a raised budget is one update, read back through /team/info; a key made by hand is
drift and survives an apply; a deletion is refused without --allow-delete; a declared
budget spent by traffic refuses the client with the budget error; and no key value is
printed or logged anywhere.

Each row that changes the declaration puts the gateway back to the file's state.
"""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openai

from gateway.smoke.checks.common import ensure, openai_error, require_admin, require_local
from gateway.smoke.checks.limits import (
    BUDGET_TIMEOUT,
    REVOKE_TIMEOUT,
    SPEND_TIMEOUT,
    TINY_BUDGET,
    require_database,
)
from gateway.smoke.runner import CheckFailed, Skip
from gateway.smoke.target import Target

ENVIRONMENTS = Path(__file__).resolve().parents[3] / "environments"
BUDGET_STATUSES = (400, 422, 429)
DENIED_STATUSES = (401, 403)
POLL_PAUSE = 0.5
SPEND_POLL_PAUSE = 3.0
# Longer than the grace (24 h in dev): the new key is not due again when the old one's grace ends.
ROTATE_AFTER_DAYS = 2


# ---------------------------------------------------------------- helpers
def _declared(target: Target):
    """The environment's declaration, as provisioned; skips where the stack was not provisioned."""
    from modules.config.access import load_access

    local = require_local(target, "the declaration is applied through the local stack's admin entry")
    require_database(target, "teams and keys from access.yaml")
    if local.access_failed:
        raise CheckFailed(f"provisioning from access.yaml failed at stack start: {local.access_failed}")
    if not local.access_secrets_dir:
        raise Skip("the stack was not provisioned from an access.yaml")
    return load_access(ENVIRONMENTS / target.environment.name, catalogue=target.environment.aliases())


def _store(target: Target):
    from gateway.access.secrets import FileStore

    assert target.local is not None
    return FileStore(Path(target.local.access_secrets_dir))


def _run(
    target: Target, command: str, access: Any, *, allow_delete: bool = False, now: datetime | None = None
):
    """plan or apply through the admin entry; returns (exit code, plan, printed text)."""
    from gateway.access.gateway import GatewayAdmin
    from gateway.access.reconcile import reconcile

    assert target.local is not None
    lines: list[str] = []
    with GatewayAdmin(target.local.admin_url, target.key) as admin:
        code, planned = reconcile(
            command, access, admin, _store(target), allow_delete=allow_delete, log=lines.append, now=now
        )
    printed = "\n".join(lines)
    _no_key_value_in(target, printed, f"the output of access {command}")
    return code, planned, printed


def _no_key_value_in(target: Target, text: str, where: str) -> None:
    store = _store(target)
    for path in store.folder.iterdir() if store.folder.is_dir() else ():
        value = path.read_text(encoding="utf-8")
        ensure(value not in text, f"the value of key {path.name} appears in {where}")


def _edited(access: Any, **changes: Any):
    """The declaration with whole sections replaced (validated again, as a file would be)."""
    from modules.config.access import AccessConfig

    data = access.model_dump()
    data.pop("environment")
    data.update(changes)
    return AccessConfig.model_validate(data, context={"environment": access.environment})


def _team_data(access: Any, alias: str) -> dict:
    return next(team for team in access.model_dump()["teams"] if team["alias"] == alias)


def _live_team(target: Target, alias: str) -> dict:
    admin = require_admin(target)
    teams = admin.get("/team/list", headers=target.auth()).json()
    found = [team for team in teams if team.get("team_alias") == alias]
    ensure(len(found) == 1, f"{len(found)} teams with alias {alias!r} in /team/list")
    return found[0]


def _team_info(target: Target, team_id: str) -> dict:
    response = require_admin(target).get("/team/info", params={"team_id": team_id}, headers=target.auth())
    ensure(response.status_code == 200, f"/team/info: HTTP {response.status_code}: {response.text[:200]}")
    return response.json()["team_info"]


def _chat(target: Target, key: str, alias: str, label: str) -> str:
    reply = target.client(key).chat.completions.create(
        model=alias, messages=[{"role": "user", "content": target.nonce(label)}], max_tokens=16
    )
    ensure(reply.choices and reply.choices[0].message.content, f"{alias}: an empty answer to a declared key")
    return reply.id


def _chat_model(access: Any, team_alias: str, target: Target) -> str:
    chat = target.environment.aliases("chat")
    models = [m for m in access.team(team_alias).models if m in chat]
    if not models:
        raise Skip(f"team {team_alias} has no chat model")
    return models[0]


@contextmanager
def _scratch_team(
    target: Target, access: Any, key: dict | None = None, **team: Any
) -> Iterator[tuple[Any, str, str]]:
    """The declaration plus one team and one key of this run, applied; removed with --allow-delete after."""
    alias = f"smoke-{target.run_id}"
    model = target.environment.aliases("chat")[0]
    declared_team = {"alias": alias, "models": [model], "max_budget": 1, "budget_duration": "1d", **team}
    wider = _edited(
        access,
        teams=[*access.model_dump()["teams"], declared_team],
        service_keys=[
            *access.model_dump()["service_keys"],
            {"alias": f"{alias}-key", "team": alias, **(key or {})},
        ],
    )
    _run(target, "apply", wider)
    try:
        yield wider, alias, model
    finally:
        _run(target, "apply", access, allow_delete=True)


# ---------------------------------------------------------------- rows
def access_plan_empty_after_provisioning(target: Target) -> str:
    """The stack was provisioned from access.yaml: a plan now is empty (exit 0), every declared key's value
    is in the file store (0600 in a 0700 folder), and no value appears in the apply's output or any log."""
    access = _declared(target)
    assert target.local is not None
    began = time.monotonic()
    code, planned, printed = _run(target, "plan", access)
    seconds = time.monotonic() - began
    ensure(
        code == 0 and planned.empty,
        f"the plan right after provisioning is not empty (exit {code}):\n{printed}",
    )
    store = _store(target)
    ensure(stat.S_IMODE(store.folder.stat().st_mode) == 0o700, f"{store.folder} is not mode 0700")
    for key in access.service_keys:
        path = store.folder / key.alias
        ensure(path.is_file(), f"no value stored for declared key {key.alias} in {store.folder}")
        ensure(stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path} is not mode 0600")
        ensure(path.read_text().startswith("sk-"), f"{path} does not hold a key")
    _no_key_value_in(target, target.local.access_output, "the provisioning output")
    logs = Path(target.local.access_secrets_dir).parents[1] / "logs"
    for log_file in sorted(logs.glob("*.log")):
        _no_key_value_in(target, log_file.read_text(errors="replace"), f"log {log_file.name}")
    return (
        f"{len(access.teams)} teams, {len(access.service_keys)} keys declared; plan after apply: exit 0, "
        f"no changes ({seconds:.1f} s); values 0600 in the store, none in the output or "
        f"{len(list(logs.glob('*.log')))} service logs"
    )


def access_declared_key_answers_and_spends_on_its_team(target: Target) -> str:
    """A declared key (its value read from the secret store) calls a declared model with the official SDK;
    its spend shows on its declared team in /team/info. A key narrower than its team is refused the rest."""
    access = _declared(target)
    key = next((k for k in access.service_keys if not k.models), None)
    if key is None:
        raise Skip("no declared key inherits all its team's models")
    value = _store(target).get(key.alias)
    ensure(value, f"no value stored for {key.alias}")
    model = _chat_model(access, key.team, target)
    team = _live_team(target, key.team)
    before = float(_team_info(target, team["team_id"]).get("spend") or 0.0)
    _chat(target, value, model, "access-declared-key")
    narrowed = ""
    for other in access.service_keys:
        outside = [m for m in access.team(other.team).models if other.models and m not in other.models]
        chat_outside = [m for m in outside if m in target.environment.aliases("chat")]
        if chat_outside:
            try:
                _chat(target, _store(target).get(other.alias) or "", chat_outside[0], "access-outside")
            except openai.APIStatusError as err:
                openai_error(err.response, DENIED_STATUSES)
                refused = chat_outside[0]
                narrowed = (
                    f"; {other.alias} (models {list(other.models)}) refused {refused}: {err.status_code}"
                )
                break
            raise CheckFailed(f"{other.alias} is declared without {chat_outside[0]} but was answered for it")
    began = time.monotonic()
    while time.monotonic() - began < SPEND_TIMEOUT:
        spend = float(_team_info(target, team["team_id"]).get("spend") or 0.0)
        if spend > before:
            return (
                f"{key.alias} (from the store) answered on {model}; team {key.team} spend {before:.8f} -> "
                f"{spend:.8f} USD in /team/info after {time.monotonic() - began:.0f} s{narrowed}"
            )
        time.sleep(SPEND_POLL_PAUSE)
    raise CheckFailed(f"team {key.team}'s spend stayed {before} in /team/info for {SPEND_TIMEOUT:.0f} s")


def access_raised_budget_is_one_update(target: Target) -> str:
    """Raising one team's max_budget in the file plans exactly one update of that one field; apply writes it
    (read back through /team/info) and the next plan has no changes. The file's value is then restored."""
    access = _declared(target)
    team = access.teams[0]
    raised_to = team.max_budget + 5
    raised = _edited(
        access,
        teams=[
            {**t, "max_budget": raised_to} if t["alias"] == team.alias else t
            for t in access.model_dump()["teams"]
        ],
    )
    try:
        code, planned, _ = _run(target, "plan", raised)
        got = [(c.action, c.kind, c.alias, c.fields) for c in planned.changes]
        want = [("update", "team", team.alias, (("max_budget", team.max_budget, raised_to),))]
        ensure(code == 2 and got == want, f"expected exactly {want}, exit 2; got {got}, exit {code}")
        began = time.monotonic()
        _run(target, "apply", raised)
        applied = time.monotonic() - began
        info = _team_info(target, _live_team(target, team.alias)["team_id"])
        ensure(
            float(info["max_budget"]) == raised_to,
            f"/team/info max_budget {info['max_budget']} != {raised_to}",
        )
        _, after, _ = _run(target, "plan", raised)
        ensure(not after.changes, f"the plan after the apply still has changes: {after.changes}")
    finally:
        _run(target, "apply", access)
    ensure(
        float(_team_info(target, _live_team(target, team.alias)["team_id"])["max_budget"]) == team.max_budget,
        "not restored",
    )
    return (
        f"team {team.alias} max_budget {team.max_budget} -> {raised_to}: plan exit 2, 1 update of 1 field; "
        f"applied in {applied:.1f} s; /team/info reads {raised_to}; next plan no changes; restored"
    )


def access_hand_made_key_is_drift(target: Target) -> str:
    """A key made by hand (not in access.yaml) is reported as drift, plan exits 2, apply leaves it alone."""
    access = _declared(target)
    admin = require_admin(target)
    team = _live_team(target, access.teams[0].alias)
    made = admin.post(
        "/key/generate", json={"team_id": team["team_id"], "duration": "15m"}, headers=target.auth()
    )
    ensure(made.status_code == 200, f"/key/generate: HTTP {made.status_code}: {made.text[:200]}")
    key, name = made.json()["key"], made.json()["key_name"]
    try:
        code, planned, printed = _run(target, "plan", access)
        drift = [d for d in planned.drift if d.name.startswith(name)]
        ensure(
            code == 2 and drift,
            f"the hand-made key {name} is not reported as drift (exit {code}):\n{printed}",
        )
        ensure(key not in printed, "the hand-made key's value was printed")
        ensure(not planned.changes, f"the hand-made key caused changes: {planned.changes}")
        _run(target, "apply", access, allow_delete=True)
        info = admin.get("/key/info", params={"key": key}, headers=target.auth())
        ensure(
            info.status_code == 200,
            f"apply --allow-delete removed the hand-made key (HTTP {info.status_code})",
        )
    finally:
        admin.post("/key/delete", json={"keys": [key]}, headers=target.auth())
    return (
        f"key {name} made by hand: plan exit 2, drift '! key {drift[0].name}: {drift[0].detail}'; "
        "survived apply --allow-delete"
    )


def access_deletion_refused_without_flag(target: Target) -> str:
    """A team and key the file no longer declares are deletions: refused without --allow-delete (plan and
    apply leave them), carried out with it."""
    access = _declared(target)
    admin = require_admin(target)
    with _scratch_team(target, access) as (_, alias, _model):
        team_id = _live_team(target, alias)["team_id"]
        code, planned, printed = _run(target, "plan", access)
        refused = sorted((c.kind, c.alias) for c in planned.changes if c.action == "delete" and c.refused)
        ensure(
            code == 2 and refused == [("key", f"{alias}-key"), ("team", alias)],
            f"expected the scratch team and key as refused deletions, exit 2; got exit {code}:\n{printed}",
        )
        ensure("REFUSED: deletion needs --allow-delete" in printed, f"the refusal is not said:\n{printed}")
        _run(target, "apply", access)
        ensure(
            _live_team(target, alias)["team_id"] == team_id, "apply without --allow-delete deleted the team"
        )
    teams = [t for t in admin.get("/team/list", headers=target.auth()).json() if t.get("team_alias") == alias]
    ensure(not teams, "apply --allow-delete left the team")
    _, after, _ = _run(target, "plan", access)
    ensure(not after.changes, f"the plan after the deletions still has changes: {after.changes}")
    return (
        f"team {alias} and its key: plan exit 2, 2 deletions REFUSED, apply kept them; "
        "apply --allow-delete removed both"
    )


def access_declared_budget_refuses_traffic(target: Target) -> str:
    """A team declared with a tiny max_budget: traffic on its declared key spends it, and the client gets
    LiteLLM's budget error (OpenAI-style, naming the budget) within seconds."""
    access = _declared(target)
    with _scratch_team(target, access, max_budget=TINY_BUDGET) as (_, alias, model):
        value = _store(target).get(f"{alias}-key")
        ensure(value, "the scratch key's value was not stored")
        answered = 0
        deadline = time.monotonic() + BUDGET_TIMEOUT
        while True:
            try:
                _chat(target, value or "", model, "access-budget")
                answered += 1
            except openai.APIStatusError as err:
                error = openai_error(err.response, BUDGET_STATUSES)
                ensure(
                    "budget" in error["message"].lower(),
                    f"the {err.status_code} is not the budget's: {error}",
                )
                status, kind = err.status_code, error.get("type")
                break
            ensure(
                time.monotonic() < deadline,
                f"still answered {BUDGET_TIMEOUT:.0f} s after the budget was spent",
            )
            time.sleep(POLL_PAUSE)
    return (
        f"team {alias} declared max_budget={TINY_BUDGET}: {answered} answer(s), "
        f"then {status} {kind} naming the budget"
    )


def access_rotation_keeps_the_old_key_for_its_grace(target: Target) -> str:
    """A key past rotate_after_days is rotated: a new value in the store that answers, the old one still
    answering during the grace period; once the grace has ended the next apply deletes it (401 after).

    The clock the plan reads is moved forward (the reconciler's `now`), not the gateway's.
    """
    access = _declared(target)
    store = _store(target)
    with _scratch_team(target, access, key={"rotate_after_days": ROTATE_AFTER_DAYS}) as (wider, alias, model):
        name = f"{alias}-key"
        old = store.get(name) or ""
        grace = wider.defaults.rotation_grace_hours
        aged = datetime.now(UTC) + timedelta(days=ROTATE_AFTER_DAYS, minutes=1)
        code, planned, printed = _run(target, "plan", wider, now=aged)
        rotations = [c.alias for c in planned.changes if c.action == "rotate"]
        ensure(
            code == 2 and rotations == [name], f"expected one rotation of {name}; got {rotations}:\n{printed}"
        )
        _run(target, "apply", wider, now=aged)
        new = store.get(name) or ""
        ensure(new.startswith("sk-") and new != old, "the rotation did not store a new value")
        _chat(target, new, model, "rotated-new")
        _chat(target, old, model, "rotated-old-in-grace")
        _, during, _ = _run(target, "plan", wider, now=aged)
        ensure(not during.changes and len(during.retiring) == 1, f"during the grace: {during.changes}")
        ended = aged + timedelta(hours=grace, minutes=1)
        _, after, printed = _run(target, "plan", wider, now=ended)
        deletions = [(c.action, c.refused) for c in after.changes]
        ensure(
            deletions == [("delete", "")], f"after the grace, expected one deletion, not refused:\n{printed}"
        )
        _run(target, "apply", wider, now=ended)
        deadline = time.monotonic() + REVOKE_TIMEOUT
        while True:
            try:
                _chat(target, old, model, "rotated-old-after-grace")
            except openai.AuthenticationError:
                break
            ensure(
                time.monotonic() < deadline, f"the old key still works {REVOKE_TIMEOUT:.0f} s after deletion"
            )
            time.sleep(POLL_PAUSE)
    return (
        f"{name} (rotate_after_days {ROTATE_AFTER_DAYS}) at +{ROTATE_AFTER_DAYS} days: rotated, new value "
        "stored and answering, old one answering "
        f"during its {grace} h grace; after it, apply deleted the old key (401)"
    )


# In run order; the first must run before any other row makes keys (it expects no drift at all).
ROWS = (
    access_plan_empty_after_provisioning,
    access_declared_key_answers_and_spends_on_its_team,
    access_raised_budget_is_one_update,
    access_hand_made_key_is_drift,
    access_deletion_refused_without_flag,
    access_declared_budget_refuses_traffic,
    access_rotation_keeps_the_old_key_for_its_grace,
)
