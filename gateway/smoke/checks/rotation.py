"""The database password is rotated under traffic: not one request fails.

Local stack only: the check does what a rotation job does to the application role the gateway
connects as (gateway/devstack/app_role.py): a new password in its secret file and in PostgreSQL
(ALTER ROLE, through the owner's connection), then ends every session of the role, so the
gateway's pool must open new connections, which the old password no longer opens. Meanwhile a
steady stream of requests goes through the official SDK with real virtual keys, half of them keys
never used before (their lookup needs the database, not LiteLLM's key cache). Without
gateway/db_credentials.py every database lookup after the rotation fails (HTTP 500), and keeps
failing until the gateway is restarted.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import openai

from gateway.devstack import app_role
from gateway.smoke.checks.common import ensure, require_admin, require_local
from gateway.smoke.runner import Skip
from gateway.smoke.target import Target

BEFORE_SECONDS = 2.0  # traffic before the rotation
AFTER_SECONDS = 8.0  # and after it, across the new connections
FRESH_KEYS = 30


def _generate(target: Target, alias: str) -> str:
    admin = require_admin(target)
    made = admin.post("/key/generate", json={"models": [alias], "duration": "15m"}, headers=target.auth())
    ensure(made.status_code == 200, f"/key/generate: HTTP {made.status_code}: {made.text[:200]}")
    return made.json()["key"]


def _sessions(admin_url: str, role: str) -> int:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (role,)).fetchone()[0]


def database_password_rotation_under_traffic_fails_no_request(target: Target) -> str:
    local = require_local(target, "it rotates the local PostgreSQL role's password")
    if not local.database_enabled:
        raise Skip(f"the gateway runs without its database here: {local.database_skip_reason}")
    if not (local.database_admin_url and local.database_app_role and local.database_password_file):
        raise Skip("the stack did not say which role the gateway connects as")
    aliases = target.environment.aliases("chat")
    if not aliases:
        raise Skip("the catalogue has no chat alias")
    alias = aliases[0]
    steady = _generate(target, alias)
    fresh = [_generate(target, alias) for _ in range(FRESH_KEYS)]
    failures: list[str] = []
    counts = {"before": 0, "after": 0, "fresh after": 0}
    rotated_at: list[float] = []
    stop = threading.Event()

    def stream() -> None:
        turn = 0
        while not stop.is_set():
            key = steady if turn % 2 == 0 or not fresh else fresh.pop()
            phase = "after" if rotated_at else "before"
            try:
                target.client(key).chat.completions.create(
                    model=alias,
                    messages=[{"role": "user", "content": target.nonce("rotation")}],
                    max_tokens=8,
                )
                counts[phase] += 1
                if phase == "after" and key != steady:
                    counts["fresh after"] += 1
            except openai.APIError as error:
                status = getattr(error, "status_code", None)
                which = "steady" if key == steady else "new"
                failures.append(f"{phase} the rotation, {which} key: HTTP {status}: {str(error)[:160]}")
            turn += 1

    worker = threading.Thread(target=stream, name="rotation-traffic", daemon=True)
    worker.start()
    try:
        time.sleep(BEFORE_SECONDS)
        app_role.rotate(local.database_admin_url, local.database_app_role, Path(local.database_password_file))
        ended = app_role.terminate_sessions(local.database_admin_url, local.database_app_role)
        rotated_at.append(time.monotonic())
        time.sleep(AFTER_SECONDS)
    finally:
        stop.set()
        worker.join(timeout=120)
    ensure(ended > 0, "the gateway had no open database session to end: the rotation tested nothing")
    ensure(
        not failures,
        f"{len(failures)} request(s) failed across the rotation; first: {failures[0] if failures else ''}",
    )
    ensure(counts["before"] and counts["fresh after"] >= 2, f"too little traffic to judge: {counts}")
    after_key = _generate(target, alias)  # a write, through the new connections
    ensure(after_key, "no key generated after the rotation")
    sessions = _sessions(local.database_admin_url, local.database_app_role)
    ensure(sessions > 0, "the gateway opened no new database session after the rotation")
    return (
        f"0 failed of {counts['before'] + counts['after']} requests ({counts['before']} before the rotation, "
        f"{counts['after']} after, {counts['fresh after']} of them with never-used keys); "
        f"{ended} sessions ended, {sessions} new ones opened with the rotated password"
    )
