"""gateway/access/apply.py's failure paths: no key may be left whose value is stored nowhere.

The management calls go through the real GatewayAdmin to an httpx transport that answers as
LiteLLM does; the store is a real FileStore that cannot write (its folder is a file).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from gateway.access.apply import apply
from gateway.access.diff import plan
from gateway.access.gateway import AccessError, GatewayAdmin
from gateway.access.secrets import FileStore
from gateway.access.state import Live, LiveKey, LiveTeam, desired
from modules.config.access import load_access

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
VALUE = "sk-" + "v" * 22
DECLARED = {
    "teams": [{"alias": "search", "models": ["nova-lite"], "max_budget": 10, "budget_duration": "30d"}],
    "service_keys": [{"alias": "indexer", "team": "search", "models": ["nova-lite"]}],
}


def litellm(calls: list[tuple[str, dict]]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        calls.append((request.url.path, body))
        if request.url.path == "/team/new":
            return httpx.Response(200, json={"team_id": "id-search"})
        if request.url.path == "/key/generate":
            return httpx.Response(200, json={"key": VALUE, "token": "hash-indexer", "key_alias": "indexer"})
        return httpx.Response(200, json={})

    return httpx.MockTransport(answer)


def test_a_key_whose_value_cannot_be_stored_is_deleted_again_and_the_apply_fails(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "access.yaml").write_text(yaml.safe_dump(DECLARED))
    wanted = desired(load_access(tmp_path / "dev", catalogue=["nova-lite"]))
    (tmp_path / "keys").write_text("a file where the store's folder should be")
    calls: list[tuple[str, dict]] = []
    url = "http://127.0.0.1:9"
    admin = GatewayAdmin(url, "sk-master", client=httpx.Client(base_url=url, transport=litellm(calls)))
    planned = plan(wanted, Live(teams=()), now=NOW)

    with pytest.raises(
        AccessError, match=r"create key indexer: .*could not be stored.*deleted again"
    ) as caught:
        apply(
            planned, wanted, Live(teams=()), admin, FileStore(tmp_path / "keys"), log=lambda _: None, now=NOW
        )

    assert ("/key/delete", {"keys": ["hash-indexer"]}) in calls
    assert VALUE not in str(caught.value)


def test_a_rotation_without_grace_deletes_the_old_key_only_after_the_new_value_is_stored(
    tmp_path: Path,
) -> None:
    """Issue 18.3's order: create the new key, store it, then delete the old one."""
    no_grace = {**DECLARED, "defaults": {"rotate_after_days": 30, "rotation_grace_hours": 0}}
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "access.yaml").write_text(yaml.safe_dump(no_grace))
    wanted = desired(load_access(tmp_path / "dev", catalogue=["nova-lite"]))
    (indexer,) = wanted.keys
    live = Live(
        teams=(LiveTeam("id-search", "search", dict(wanted.teams[0].settings), managed=True),),
        keys=(
            LiveKey(
                token="hash-old",
                alias="indexer",
                team_id="id-search",
                settings=dict(indexer.settings),
                managed=True,
                created_at=NOW - timedelta(days=40),
            ),
        ),
    )
    planned = plan(wanted, live, now=NOW)
    assert [(c.action, c.alias) for c in planned.changes] == [("rotate", "indexer")]
    (tmp_path / "keys").write_text("a file where the store's folder should be")
    calls: list[tuple[str, dict]] = []
    url = "http://127.0.0.1:9"
    admin = GatewayAdmin(url, "sk-master", client=httpx.Client(base_url=url, transport=litellm(calls)))

    with pytest.raises(AccessError, match=r"rotate key indexer: .*could not be stored"):
        apply(planned, wanted, live, admin, FileStore(tmp_path / "keys"), log=lambda _: None, now=NOW)
    assert ("/key/delete", {"keys": ["hash-old"]}) not in calls  # the old key still serves

    calls.clear()
    said: list[str] = []
    apply(planned, wanted, live, admin, FileStore(tmp_path / "stored"), log=said.append, now=NOW)
    paths = [path for path, _ in calls]
    assert paths == ["/key/update", "/key/generate", "/key/delete"]
    assert calls[2] == ("/key/delete", {"keys": ["hash-old"]})
    assert (tmp_path / "stored" / "indexer").read_text() == VALUE
