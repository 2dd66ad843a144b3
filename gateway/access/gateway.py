"""LiteLLM's management API, as the reconciler uses it: read teams and keys, change them.

Called with the admin (master) key on the admin entry: locally the stack's admin entry,
in AWS from inside the VPC (docs/access.md); the public entry serves no admin route.
A key's value passes through here once, from /key/generate to the secret store, and is
never part of an error message.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from gateway.access.state import (
    ISSUED_AT,
    KEY_FIELDS,
    MANAGED_BY,
    METADATA_FIELDS,
    RETIRE_AT,
    SMOKE_KEY_ALIAS_PREFIX,
    SMOKE_KEY_LIFETIME,
    SMOKE_KEY_MARK,
    Live,
    LiveKey,
    LiveTeam,
)

TIMEOUT = 30.0
PAGE_SIZE = 100  # /key/list's largest page
SMOKE_KEY_SLACK = timedelta(minutes=5)  # between LiteLLM stamping created_at and computing expires


class AccessError(Exception):
    """The gateway refused or failed a management call; the message names the call."""


class GatewayAdmin:
    def __init__(self, url: str, admin_key: str, *, client: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        self._http = client or httpx.Client(base_url=self.url, timeout=TIMEOUT, follow_redirects=False)
        self._headers = {"Authorization": f"Bearer {admin_key}"}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GatewayAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ calls
    def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            response = self._http.request(method, path, headers=self._headers, **kw)
        except httpx.HTTPError as err:
            raise AccessError(f"{method} {self.url}{path}: {type(err).__name__}: {err}") from None
        if response.status_code != 200:
            raise AccessError(f"{method} {path}: HTTP {response.status_code}: {_error_text(response)}")
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("POST", path, json=body)

    # ------------------------------------------------------------ live state
    def live(self) -> Live:
        teams = tuple(_team(raw) for raw in self.get("/team/list"))
        names = {team.team_id: team.alias or team.team_id for team in teams}
        keys = tuple(_key(raw, names) for raw in self.list_keys() if not smoke_key(raw))
        return Live(teams=teams, keys=keys)

    def list_keys(self) -> list[dict[str, Any]]:
        """Every key the gateway holds, as /key/list's full objects, all pages."""
        keys: list[dict[str, Any]] = []
        page = 1
        while True:
            listed = self.get("/key/list", return_full_object="true", size=PAGE_SIZE, page=page)
            keys += listed.get("keys", [])
            if page >= int(listed.get("total_pages") or 1):
                return keys
            page += 1

    def team_info(self, team_id: str) -> dict[str, Any]:
        return self.get("/team/info", team_id=team_id)["team_info"]

    def key_info(self, token: str) -> dict[str, Any]:
        return self.get("/key/info", key=token)["info"]


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or response.json().get("detail")
    except ValueError:
        return response.text[:200]
    if isinstance(error, dict):
        return str(error.get("message", error))[:300]
    return str(error)[:300]


def smoke_key(raw: dict[str, Any]) -> bool:
    """A deploy-smoke key as `admin smoke-key` makes them: the mark, the alias and at most a 2-hour life.

    Only those are left out of drift. The mark alone is not enough: anyone holding the master key
    could write it on a long-lived key to hide that key from the drift check.
    """
    metadata = raw.get("metadata")
    if not (isinstance(metadata, dict) and metadata.get(SMOKE_KEY_MARK[0]) == SMOKE_KEY_MARK[1]):
        return False
    created, expires = parse_time(raw.get("created_at")), parse_time(raw.get("expires"))
    return (
        str(raw.get("key_alias") or "").startswith(SMOKE_KEY_ALIAS_PREFIX)
        and created is not None
        and expires is not None
        and expires - created <= SMOKE_KEY_LIFETIME + SMOKE_KEY_SLACK
    )


def _managed(metadata: Any) -> bool:
    return isinstance(metadata, dict) and metadata.get(MANAGED_BY[0]) == MANAGED_BY[1]


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _team(raw: dict[str, Any]) -> LiveTeam:
    metadata = raw.get("metadata") or {}
    settings = {name: raw.get(name) for name in ("max_budget", "budget_duration", "tpm_limit", "rpm_limit")}
    settings["models"] = tuple(raw.get("models") or ())
    settings.update({name: metadata.get(name) for name in METADATA_FIELDS})
    return LiveTeam(
        team_id=raw["team_id"],
        alias=raw.get("team_alias"),
        settings=settings,
        managed=_managed(metadata),
        spend=float(raw.get("spend") or 0.0),
    )


def _key(raw: dict[str, Any], team_names: dict[str, str]) -> LiveKey:
    settings = {name: raw.get(name) for name in KEY_FIELDS if name not in ("team", "models")}
    settings["models"] = tuple(raw.get("models") or ())
    settings["team"] = team_names.get(raw.get("team_id") or "", raw.get("team_id"))
    metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    return LiveKey(
        token=raw["token"],
        alias=raw.get("key_alias"),
        team_id=raw.get("team_id"),
        settings=settings,
        managed=_managed(raw.get("metadata")),
        created_at=parse_time(raw.get("created_at")),
        expires=parse_time(raw.get("expires")),
        key_name=raw.get("key_name") or "",
        issued_at=parse_time(metadata.get(ISSUED_AT)),
        retire_at=parse_time(metadata.get(RETIRE_AT)),
    )
