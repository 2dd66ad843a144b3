"""Teams in LiteLLM's database: one budget for all the team's keys, one model allow-list, spend per team.

A team is what the platform bills and limits: its `max_budget`
and `models` apply to every key made for it, whatever the key itself allows. The
keys made here carry no budget and no model list of their own, so only the team's
settings can refuse them. The spend behind a budget is checked where finance reads
it (`/team/info`, `/key/info`, LiteLLM_SpendLogs), for a team's keys and for a key
spent past its own budget.

Timing (LiteLLM 1.108.7, read in its source): a request's cost is added to the
team's spend counter (Redis, `spend:team:<id>`) right after the answer, and the
budget check reads that counter, so the next request sees it within a moment;
`/team/info` and `/key/info` read the database, which the batch writer updates
every `proxy_batch_write_at` seconds (gateway/config.yaml); the spend logs are
flushed from a queue of their own. Each wait is polled with a bound, never slept
blindly.
"""

from __future__ import annotations

import hashlib
import math
import time

import httpx
import openai

from gateway.smoke.checks.common import ensure, openai_error, require_admin
from gateway.smoke.checks.emulator import model_calls
from gateway.smoke.checks.limits import BUDGET_TIMEOUT, SPEND_TIMEOUT, TINY_BUDGET, require_database
from gateway.smoke.runner import CheckFailed, Skip
from gateway.smoke.target import Target

# LiteLLM 1.108.7 refuses an exhausted budget with 422 `budget_exceeded` ("Budget has been exceeded!").
BUDGET_STATUSES = (400, 422, 429)
# A team key asking for a model outside the team's list: 403 `team_model_access_denied` (401 is accepted).
DENIED_STATUSES = {401, 403}
POLL_PAUSE = 0.5
SPEND_POLL_PAUSE = 3.0


def teams_budget_caps_both_keys(target: Target) -> str:
    """The team's `max_budget`, spent by traffic on one key, refuses the next request on either key.

    The team's budget is tiny, so the first answered request spends it; key 2 never spent
    anything itself and has no budget of its own: only the team's budget can refuse it.
    Then the spend is read back where finance reads it: `/team/info`, `/key/info` and
    the rows of LiteLLM_SpendLogs (through `/spend/logs`), all agreeing.
    """
    require_database(target, "team budgets")
    alias = _chat_aliases(target, 1)[0]
    admin = require_admin(target)
    with _Team(target, admin, models=[alias], max_budget=TINY_BUDGET) as team:
        keys = [team.key(), team.key()]
        answered: dict[str, list[str]] = {key: [] for key in keys}
        answered[keys[0]].append(_chat_id(target, keys[0], alias, "team-budget-1"))
        # The counter is updated just after the answer: a request that races it may still be answered
        # (and spends the team's budget too); past BUDGET_TIMEOUT the budget is not enforced.
        deadline = time.monotonic() + BUDGET_TIMEOUT
        while True:
            try:
                answered[keys[1]].append(_chat_id(target, keys[1], alias, "team-budget-2"))
            except openai.APIStatusError as err:
                second = _budget_error(err, team.team_id, "key 2")
                break
            ensure(
                time.monotonic() < deadline,
                f"key 2 still answered {BUDGET_TIMEOUT:.0f} s after key 1 spent the team's budget "
                f"(max_budget={TINY_BUDGET}): the team budget is not enforced",
            )
            time.sleep(POLL_PAUSE)
        try:
            _chat_id(target, keys[0], alias, "team-budget-1-again")
        except openai.APIStatusError as err:
            first = _budget_error(err, team.team_id, "key 1")
        else:
            raise CheckFailed("key 2 was refused for the team's budget, but key 1 of the same team answered")
        spend = _wait_for_spend(target, admin, answered, team.team_id)
        racing = len(answered[keys[1]])
        return (
            f"team max_budget={TINY_BUDGET}: key 1 answered"
            + (f", key 2 answered {racing}x while the counter caught up" if racing else "")
            + f"; then key 2 {second} and key 1 {first}, naming the team; {spend}"
        )


def key_budget_spend_recorded(target: Target) -> str:
    """What a key spent until its `max_budget` refused it is recorded where finance reads it:
    `/key/info` (over the budget) and one LiteLLM_SpendLogs row per answered request, agreeing.

    limits.key_budget_exhausted proves the refusal itself; this row proves the records behind it.
    """
    require_database(target, "per-key budgets")
    alias = _chat_aliases(target, 1)[0]
    admin = require_admin(target)
    key = _generate_key(target, admin, max_budget=TINY_BUDGET)["key"]
    try:
        answered = [_chat_id(target, key, alias, "key-budget")]
        deadline = time.monotonic() + BUDGET_TIMEOUT
        while True:
            try:
                answered.append(_chat_id(target, key, alias, "key-budget-over"))
            except openai.APIStatusError as err:
                error = openai_error(err.response, BUDGET_STATUSES)
                ensure(
                    "budget" in error["message"].lower(),
                    f"the {err.status_code} is not the budget's: {error}",
                )
                status = err.status_code
                break
            ensure(time.monotonic() < deadline, f"still answered {BUDGET_TIMEOUT:.0f} s after the budget")
            time.sleep(POLL_PAUSE)
        spend = _wait_for_spend(target, admin, {key: answered})
        recorded = _info(target, admin, "/key/info", {"key": key}, "info")
        ensure(recorded > TINY_BUDGET, f"/key/info spend {recorded} is not over max_budget={TINY_BUDGET}")
        return f"max_budget={TINY_BUDGET}, {status} after {len(answered)} answer(s); {spend}"
    finally:
        admin.post("/key/delete", json={"keys": [key]}, headers=target.auth())


def teams_model_allow_list_enforced(target: Target) -> str:
    """A team key may call only the team's models: another catalogue alias is refused (403 naming the
    model, OpenAI-style, plain and streamed) without reaching the model; the allowed alias answers."""
    require_database(target, "team model allow-lists")
    allowed, outside = _chat_aliases(target, 2)[:2]
    admin = require_admin(target)
    with _Team(target, admin, models=[allowed]) as team:
        key = team.key()
        client = target.client(key)
        _chat_id(target, key, allowed, "team-allowed")
        streamed = client.chat.completions.create(
            model=allowed, messages=[{"role": "user", "content": target.nonce("team-allowed-stream")}],
            max_tokens=16, stream=True,
        )  # fmt: skip
        text = "".join(chunk.choices[0].delta.content or "" for chunk in streamed if chunk.choices)
        ensure(text.strip(), f"{allowed}: the streamed answer to a team key was empty")
        calls_before = model_calls(target) if target.local else None
        refusals = []
        for stream in (False, True):
            kind = "streamed" if stream else "plain"
            try:
                reply = client.chat.completions.create(
                    model=outside, messages=[{"role": "user", "content": target.nonce("team-outside")}],
                    max_tokens=16, stream=stream,
                )  # fmt: skip
            except openai.APIStatusError as err:
                error = openai_error(err.response, DENIED_STATUSES)
                ensure(
                    outside in error["message"],
                    f"{kind}: the refusal does not name the model {outside!r}: {error['message']!r}",
                )
                refusals.append(f"{kind} {err.status_code} {error.get('type')}")
                continue
            if stream:
                list(reply)  # type: ignore[arg-type]  # drain it, so the model call is counted
            raise CheckFailed(
                f"a key of a team allowed only {allowed!r} was answered for {outside!r} ({kind}): "
                "the team's model allow-list is not enforced"
            )
        if calls_before is not None:
            ensure(
                model_calls(target) == calls_before,
                f"the refused requests reached the model ({calls_before} -> {model_calls(target)} calls)",
            )
        return (
            f"team models=[{allowed}]: {allowed} answered (plain, streamed); {outside} refused: "
            f"{', '.join(refusals)}, naming {outside!r}"
            + ("; the emulator saw no call for them" if calls_before is not None else "")
        )


class _Team:
    """A team made through the admin entry for one check, deleted with its keys afterwards."""

    def __init__(self, target: Target, admin: httpx.Client, **settings: object) -> None:
        self.target, self.admin, self.settings = target, admin, settings
        self.team_id = ""
        self.keys: list[str] = []

    def __enter__(self) -> _Team:
        body = {"team_alias": self.target.nonce("smoke-team"), **self.settings}
        made = self.admin.post("/team/new", json=body, headers=self.target.auth())
        ensure(made.status_code == 200, f"/team/new: HTTP {made.status_code}: {made.text[:200]}")
        created = made.json()
        self.team_id = created["team_id"]
        wrong = {
            name: created.get(name) for name, value in self.settings.items() if created.get(name) != value
        }
        if wrong:
            self.__exit__()  # the with-block never starts, so nothing else would delete it
            raise CheckFailed(f"/team/new did not record {self.settings}: got {wrong}")
        return self

    def key(self) -> str:
        """A key of the team with no budget, limit or model list of its own."""
        info = _generate_key(self.target, self.admin, team_id=self.team_id)
        ensure(info.get("team_id") == self.team_id, f"/key/generate did not put the key in the team: {info}")
        ensure(
            not info.get("models") and info.get("max_budget") is None, f"the key has its own limits: {info}"
        )
        self.keys.append(info["key"])
        return info["key"]

    def __exit__(self, *exc: object) -> None:
        if self.keys:
            self.admin.post("/key/delete", json={"keys": self.keys}, headers=self.target.auth())
        if self.team_id:
            self.admin.post("/team/delete", json={"team_ids": [self.team_id]}, headers=self.target.auth())


def _generate_key(target: Target, admin: httpx.Client, **settings: object) -> dict:
    body = {"duration": "15m", "key_alias": target.nonce("smoke-key"), **settings}
    made = admin.post("/key/generate", json=body, headers=target.auth())
    ensure(made.status_code == 200, f"/key/generate: HTTP {made.status_code}: {made.text[:200]}")
    return made.json()


def _chat_aliases(target: Target, needed: int) -> list[str]:
    aliases = target.environment.aliases("chat")
    if len(aliases) < needed:
        raise Skip(f"the catalogue has {len(aliases)} chat alias(es); this check needs {needed}")
    return aliases


def _chat_id(target: Target, key: str, alias: str, label: str) -> str:
    """One answered request; returns its id (LiteLLM's SpendLogs request_id)."""
    response = target.client(key).chat.completions.create(
        model=alias, messages=[{"role": "user", "content": target.nonce(label)}], max_tokens=16
    )
    ensure(response.id, f"{alias}: the answer has no id")
    return response.id


def _budget_error(err: openai.APIStatusError, team_id: str, which: str) -> str:
    """LiteLLM's team budget error, OpenAI-style; returns a short description."""
    error = openai_error(err.response, BUDGET_STATUSES)
    message = error["message"]
    ensure(
        "budget" in message.lower(), f"{which}: the {err.status_code} does not name the budget: {message!r}"
    )
    ensure(team_id in message, f"{which}: the budget error is not the team's ({team_id}): {message!r}")
    return f"{err.status_code} {error.get('type')}"


def _wait_for_spend(
    target: Target, admin: httpx.Client, answered: dict[str, list[str]], team_id: str | None = None
) -> str:
    """Poll until the batch writer has stored the answered requests, then check the views agree: one
    LiteLLM_SpendLogs row per answered request (the key's hash, the team, spend > 0), `/key/info`
    spend per key equal to its rows and, for a team, `/team/info` spend equal to all of them."""
    began = time.monotonic()
    deadline = began + SPEND_TIMEOUT
    state = "nothing read yet"
    while time.monotonic() < deadline:
        rows = {key: [_spend_log(target, admin, rid) for rid in ids] for key, ids in answered.items()}
        missing = sum(row is None for per_key in rows.values() for row in per_key)
        logged = {key: sum(row["spend"] for row in per_key if row) for key, per_key in rows.items()}
        key_spend = {key: _info(target, admin, "/key/info", {"key": key}, "info") for key in answered}
        total = sum(logged.values())
        team_spend = (
            _info(target, admin, "/team/info", {"team_id": team_id}, "team_info") if team_id else total
        )
        state = (
            f"{missing} SpendLogs row(s) missing, rows sum {total}, /key/info {list(key_spend.values())}"
            + (f", /team/info {team_spend}" if team_id else "")
        )
        if (
            missing == 0
            and total > 0
            and all(_same(key_spend[key], logged[key]) for key in answered)
            and _same(team_spend, total)
        ):
            break
        time.sleep(SPEND_POLL_PAUSE)
    else:
        raise CheckFailed(f"the spend was not stored within {SPEND_TIMEOUT:.0f} s: {state}")
    for key, per_key in rows.items():
        hashed = hashlib.sha256(key.encode()).hexdigest()
        for row in per_key:
            assert row is not None
            ensure(row.get("api_key") == hashed, f"SpendLogs row {row['request_id']} names another key")
            ensure(float(row.get("spend") or 0) > 0, f"SpendLogs row {row['request_id']} has no spend")
            ensure(
                team_id is None or row.get("team_id") == team_id,
                f"SpendLogs row {row['request_id']} is not the team's: {row.get('team_id')}",
            )
    views = "/team/info spend = " if team_id else ""
    count = sum(len(ids) for ids in answered.values())
    return (
        f"stored after {time.monotonic() - began:.0f} s: {views}{count} SpendLogs row(s) = /key/info "
        f"= {total:.8f} USD"
    )


def _same(recorded: float, expected: float) -> bool:
    return math.isclose(recorded, expected, rel_tol=1e-6, abs_tol=1e-12)


def _spend_log(target: Target, admin: httpx.Client, request_id: str) -> dict | None:
    response = admin.get("/spend/logs", params={"request_id": request_id}, headers=target.auth())
    ensure(response.status_code == 200, f"/spend/logs: HTTP {response.status_code}: {response.text[:200]}")
    rows = [row for row in response.json() if row.get("request_id") == request_id]
    ensure(len(rows) <= 1, f"{len(rows)} SpendLogs rows for one request {request_id}")
    return rows[0] if rows else None


def _info(target: Target, admin: httpx.Client, path: str, params: dict, field: str) -> float:
    response = admin.get(path, params=params, headers=target.auth())
    ensure(response.status_code == 200, f"{path}: HTTP {response.status_code}: {response.text[:200]}")
    return float(response.json().get(field, {}).get("spend") or 0.0)
