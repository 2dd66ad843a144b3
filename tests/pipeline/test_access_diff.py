"""gateway/access/diff.py: what a plan proposes for each difference between access.yaml and the gateway.

States are built as the gateway reports them (gateway/access/state.py's shapes); the
same plan runs against the real local stack in tests/pipeline/test_access_stack.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from gateway.access.diff import plan, render
from gateway.access.reconcile import declared_diff, markdown
from gateway.access.state import RETIRING, Desired, Live, LiveKey, LiveTeam, desired
from modules.config.access import load_access

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
CATALOGUE = ["nova-lite", "nova-micro", "titan-embed"]
DECLARED = {
    "defaults": {"rpm_limit": 60, "tpm_limit": 1000, "rotate_after_days": 30, "rotation_grace_hours": 24},
    "teams": [
        {
            "alias": "search",
            "models": ["nova-lite", "titan-embed"],
            "max_budget": 10,
            "budget_duration": "30d",
            "rpm_limit": 100,
            "metadata": {"owner": "search@example.com", "cost_centre": "CC-1"},
        }
    ],
    "service_keys": [{"alias": "indexer", "team": "search", "models": ["titan-embed"]}],
}


def declared(tmp_path: Path, data: dict = DECLARED) -> Desired:
    folder = tmp_path / "dev"
    folder.mkdir(exist_ok=True)
    (folder / "access.yaml").write_text(yaml.safe_dump(data))
    return desired(load_access(folder, catalogue=CATALOGUE))


def live_as_declared(wanted: Desired, *, age_days: int = 1) -> Live:
    """What the gateway holds right after an apply of `wanted`."""
    teams = tuple(
        LiveTeam(team_id=f"id-{t.alias}", alias=t.alias, settings=dict(t.settings), managed=True)
        for t in wanted.teams
    )
    keys = tuple(
        LiveKey(
            token=f"hash-{k.alias}",
            alias=k.alias,
            team_id=f"id-{k.settings['team']}",
            settings=dict(k.settings),
            managed=True,
            created_at=NOW - timedelta(days=age_days),
        )
        for k in wanted.keys
    )
    return Live(teams=teams, keys=keys)


def changed(live: Live, alias: str, **settings: object) -> Live:
    teams = tuple(
        LiveTeam(t.team_id, t.alias, {**t.settings, **settings}, t.managed) if t.alias == alias else t
        for t in live.teams
    )
    return Live(teams=teams, keys=live.keys)


def test_an_empty_gateway_gets_every_team_and_key_created_teams_first(tmp_path: Path) -> None:
    planned = plan(declared(tmp_path), Live(teams=()), now=NOW)
    assert [(c.action, c.kind, c.alias) for c in planned.changes] == [
        ("create", "team", "search"),
        ("create", "key", "indexer"),
    ]
    key = dict((name, new) for name, _, new in planned.changes[1].fields)
    assert key == {
        "team": "search",
        "models": ("titan-embed",),
        "max_budget": None,
        "budget_duration": None,
        "tpm_limit": 1000,  # from defaults
        "rpm_limit": 60,
    }
    assert not planned.empty


def test_a_gateway_that_holds_the_declaration_plans_nothing(tmp_path: Path) -> None:
    wanted = declared(tmp_path)
    planned = plan(wanted, live_as_declared(wanted), now=NOW)
    assert planned.empty and planned.changes == () and planned.drift == ()
    assert "No changes." in render(planned)


def test_a_raised_budget_is_exactly_one_update_of_one_field(tmp_path: Path) -> None:
    wanted = declared(tmp_path)
    live = changed(live_as_declared(wanted), "search", max_budget=5.0)
    planned = plan(wanted, live, now=NOW)
    assert [(c.action, c.kind, c.alias, c.fields) for c in planned.changes] == [
        ("update", "team", "search", (("max_budget", 5.0, 10.0),))
    ]
    assert "max_budget = 5.0 -> 10.0" in render(planned)


def test_model_order_and_int_versus_float_are_no_change(tmp_path: Path) -> None:
    wanted = declared(tmp_path)
    live = changed(live_as_declared(wanted), "search", models=("titan-embed", "nova-lite"), max_budget=10)
    assert plan(wanted, live, now=NOW).empty


def test_an_unmarked_object_the_file_lacks_is_drift_never_a_change(tmp_path: Path) -> None:
    wanted = declared(tmp_path)
    live = live_as_declared(wanted)
    by_hand = LiveKey(
        token="hash-x", alias=None, team_id="id-search", settings={}, managed=False, key_name="sk-...AbCd"
    )
    team = LiveTeam(team_id="id-adhoc", alias="adhoc", settings={}, managed=False)
    planned = plan(
        wanted, Live(teams=(*live.teams, team), keys=(*live.keys, by_hand)), allow_delete=True, now=NOW
    )
    assert planned.changes == ()
    assert [(d.kind, d.name) for d in planned.drift] == [("key", "sk-...AbCd (no alias)"), ("team", "adhoc")]
    assert not planned.empty  # drift makes plan exit 2, so the drift workflow reports it
    assert "! key sk-...AbCd (no alias): team search" in render(planned)


def test_a_marked_object_the_file_dropped_is_a_deletion_refused_without_the_flag(tmp_path: Path) -> None:
    wanted = declared(tmp_path)
    live = live_as_declared(wanted)
    fewer = declared(tmp_path, {**DECLARED, "service_keys": []})
    refused = plan(fewer, live, now=NOW)
    assert [(c.action, c.alias, c.refused) for c in refused.changes] == [
        ("delete", "indexer", "deletion needs --allow-delete")
    ]
    assert "REFUSED: deletion needs --allow-delete" in render(refused)
    assert "0 to delete, 1 refused;" in render(refused)
    allowed = plan(fewer, live, allow_delete=True, now=NOW)
    assert [(c.action, c.alias, c.refused, c.live_id) for c in allowed.changes] == [
        ("delete", "indexer", "", "hash-indexer")
    ]


def test_a_key_past_rotate_after_days_is_rotated(tmp_path: Path) -> None:
    wanted = declared(tmp_path)
    planned = plan(wanted, live_as_declared(wanted, age_days=31), now=NOW)
    assert [(c.action, c.alias) for c in planned.changes] == [("rotate", "indexer")]
    assert "31 days old, rotate_after_days 30; the old key keeps working for 24 h" in render(planned)
    assert plan(wanted, live_as_declared(wanted, age_days=29), now=NOW).empty


def test_a_rotated_key_is_kept_during_its_grace_then_deleted_without_the_flag(tmp_path: Path) -> None:
    wanted = declared(tmp_path)
    live = live_as_declared(wanted)

    def with_retiring(expires: datetime) -> Live:
        old = LiveKey(
            token="hash-old",
            alias=f"indexer{RETIRING}-20261206",
            team_id="id-search",
            settings={},
            managed=True,
            expires=expires,
        )
        return Live(teams=live.teams, keys=(*live.keys, old))

    during = plan(wanted, with_retiring(NOW + timedelta(hours=2)), now=NOW)
    assert during.empty and [k.token for k in during.retiring] == ["hash-old"]
    after = plan(wanted, with_retiring(NOW - timedelta(minutes=1)), now=NOW)
    assert [(c.action, c.live_id, c.refused) for c in after.changes] == [("delete", "hash-old", "")]


def test_a_team_made_by_hand_with_a_declared_alias_is_adopted(tmp_path: Path) -> None:
    wanted = declared(tmp_path)
    live = live_as_declared(wanted)
    team = live.teams[0]
    unmarked = Live(teams=(LiveTeam(team.team_id, team.alias, team.settings, managed=False),), keys=live.keys)
    planned = plan(wanted, unmarked, now=NOW)
    assert [(c.action, c.alias, c.fields, c.reason) for c in planned.changes] == [
        ("update", "search", (), "adopted: made outside access.yaml")
    ]


def test_the_pull_request_section_shows_what_the_branch_changes(tmp_path: Path) -> None:
    base = load_access(_write(tmp_path / "base", DECLARED), catalogue=CATALOGUE)
    raised = {**DECLARED, "teams": [{**DECLARED["teams"][0], "max_budget": 20}]}
    branch = load_access(_write(tmp_path / "branch", raised), catalogue=CATALOGUE)
    section = markdown(declared_diff(branch, base), "origin/main")
    assert section.startswith("### Access: dev\n")
    assert "~ team search: update" in section and "max_budget = 10.0 -> 20.0" in section
    assert "No change" in markdown(declared_diff(base, base), "origin/main")
    created = declared_diff(base, None)
    assert [c.action for c in created.changes] == ["create", "create"]


def _write(root: Path, data: dict) -> Path:
    folder = root / "dev"
    folder.mkdir(parents=True)
    (folder / "access.yaml").write_text(yaml.safe_dump(data))
    return folder


def test_ages_and_grace_are_read_on_the_reconcilers_clock_before_litellms(tmp_path: Path) -> None:
    """issued_at/retire_at (metadata the reconciler writes) win over LiteLLM's created_at/expires."""
    wanted = declared(tmp_path)
    live = live_as_declared(wanted, age_days=100)
    key = live.keys[0]
    reissued = LiveKey(
        key.token, key.alias, key.team_id, key.settings, True, created_at=key.created_at, issued_at=NOW
    )
    assert plan(wanted, Live(teams=live.teams, keys=(reissued,)), now=NOW).empty
    old = LiveKey(
        "hash-old",
        f"indexer{RETIRING}-1",
        "id-search",
        {},
        True,
        expires=NOW - timedelta(hours=1),  # LiteLLM's clock says expired
        retire_at=NOW + timedelta(hours=1),  # the reconciler's says the grace runs on
    )
    assert plan(wanted, Live(teams=live.teams, keys=(reissued, old)), now=NOW).empty
