"""The database goes away under traffic and comes back: clients get a clear 503, never a hang or an
accepted unknown key, and the gateway recovers without a restart.

Local stack only: the check hangs the local PostgreSQL (SIGSTOP to the postmaster and every
backend, as a network partition or a failover looks to a client) and resumes it (SIGCONT).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from pathlib import Path

import httpx

from gateway.smoke.checks.common import ensure, openai_error, require_admin, require_local
from gateway.smoke.runner import Skip
from gateway.smoke.target import Target

COMPLETIONS = "/v1/chat/completions"
# LiteLLM 1.108.7 gives up on the authentication database after 10 s and answers 503.
OUTAGE_ANSWER_WITHIN = 20.0
RECOVERY_WITHIN = 30.0


def _cluster(postmaster: int) -> list[int]:
    """The postmaster and its children (each backend runs in its own process group)."""
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == postmaster:
            pids.append(int(entry.name))
    return pids


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # a backend that ended meanwhile
            os.kill(pid, sig)


def _chat(target: Target, key: str, alias: str, timeout: float) -> httpx.Response:
    body = {
        "model": alias,
        "messages": [{"role": "user", "content": target.nonce("db-outage")}],
        "max_tokens": 16,
    }
    return target.http.post(COMPLETIONS, json=body, headers=target.auth(key), timeout=timeout)


def database_outage_fails_closed_and_recovers(target: Target) -> str:
    local = require_local(target, "it hangs the local PostgreSQL")
    if not local.database_enabled:
        raise Skip(f"the gateway runs without its database here: {local.database_skip_reason}")
    if not local.postgres_pid:
        raise Skip("the local PostgreSQL's pid is unknown")
    aliases = target.environment.aliases("chat")
    if not aliases:
        raise Skip("the catalogue has no chat alias")
    alias = aliases[0]
    admin = require_admin(target)
    made = admin.post("/key/generate", json={"models": [alias], "duration": "15m"}, headers=target.auth())
    ensure(made.status_code == 200, f"/key/generate: HTTP {made.status_code}: {made.text[:200]}")
    key = made.json()["key"]
    ensure(_chat(target, key, alias, 60).status_code == 200, "the new key was not answered before the outage")
    unknown = "sk-" + secrets.token_urlsafe(24)

    pids = _cluster(local.postgres_pid)
    _signal_all(pids, signal.SIGSTOP)
    try:
        master = _chat(target, target.key, alias, 60)
        known = _chat(target, key, alias, 60)
        began = time.monotonic()
        refused = _chat(target, unknown, alias, OUTAGE_ANSWER_WITHIN + 10)
        waited = time.monotonic() - began
    finally:
        _signal_all(pids, signal.SIGCONT)
    ensure(master.status_code == 200, f"the master key failed during the outage: {master.status_code}")
    ensure(
        known.status_code == 200, f"a key verified before the outage failed during it: {known.status_code}"
    )
    error = openai_error(refused, {503})  # fail closed: an unknown key is never let through
    ensure(waited < OUTAGE_ANSWER_WITHIN, f"the 503 took {waited:.1f} s (limit {OUTAGE_ANSWER_WITHIN:.0f} s)")

    deadline = time.monotonic() + RECOVERY_WITHIN
    while True:
        after = _chat(target, unknown, alias, 60)
        if after.status_code == 401:
            break
        ensure(time.monotonic() < deadline, f"no recovery {RECOVERY_WITHIN:.0f} s after: {after.status_code}")
        time.sleep(1)
    admin.post("/key/delete", json={"keys": [key]}, headers=target.auth())
    return (
        f"database hung: master and known keys 200, unknown key 503 in {waited:.1f} s "
        f"({error['message'][:50]}…); resumed: unknown key 401 again, no restart"
    )
