"""environments/<env>/access.yaml: read by the config loader; a mistake is one line: file, field, allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from modules.config import ConfigError
from modules.config.access import access_files, load_access

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ["nova-pro", "nova-lite", "nova-micro", "titan-embed", "chat"]
TEAM = {"alias": "search", "models": ["nova-lite", "titan-embed"], "max_budget": 10, "budget_duration": "30d"}


def write(tmp_path: Path, data: object) -> Path:
    folder = tmp_path / "dev"
    folder.mkdir(exist_ok=True)
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    (folder / "access.yaml").write_text(text)
    return folder


def error(tmp_path: Path, data: object) -> str:
    folder = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_access(folder, catalogue=CATALOGUE)
    message = str(caught.value)
    assert message.startswith(f"{folder / 'access.yaml'}: "), "the message names the file"
    assert "\n" not in message
    return message.split(": ", 1)[1]


def test_shipped_declarations_load_against_their_environment_catalogue() -> None:
    files = access_files(ROOT / "environments")
    assert {f.parent.name for f in files} >= {"dev", "prod"}
    for file in files:
        access = load_access(file.parent)
        assert access.environment == file.parent.name
        assert access.teams and access.service_keys


def test_shipped_declarations_hold_no_key_value() -> None:
    for file in access_files(ROOT / "environments"):
        assert "sk-" not in file.read_text(), f"{file} holds what looks like a key value"


def test_defaults_fill_what_a_key_leaves_out(tmp_path: Path) -> None:
    access = load_access(
        write(
            tmp_path,
            {
                "defaults": {"rpm_limit": 7},
                "teams": [TEAM],
                "service_keys": [{"alias": "idx", "team": "search"}],
            },
        ),
        catalogue=CATALOGUE,
    )
    key = access.service_keys[0]
    assert (key.rpm_limit, access.defaults.rpm_limit, access.defaults.tpm_limit) == (None, 7, 100_000)
    assert access.team("search").max_budget == 10.0


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"tems": []},
            "tems: unknown key (did you mean 'teams'?); allowed keys: defaults, teams, service_keys",
        ),
        (
            {"teams": [{**TEAM, "max_budgt": 1}]},
            "teams[0].max_budgt: unknown key (did you mean 'max_budget'?)",
        ),
        (
            {"teams": [{**TEAM, "models": ["nova-lit"]}]},
            "teams[0].models[0]: 'nova-lit' is not in the environment's catalogue "
            "(did you mean 'nova-lite'?); "
            "allowed: nova-pro, nova-lite, nova-micro, titan-embed, chat",
        ),
        (
            {"teams": [{**TEAM, "models": []}]},
            "teams[0].models: is empty; allowed: one or more catalogue aliases",
        ),
        (
            {"teams": [{**TEAM, "max_budget": "10"}]},
            "teams[0].max_budget: got a string '10'; allowed: a number",
        ),
        (
            {"teams": [{**TEAM, "max_budget": -1}]},
            "teams[0].max_budget: -1.0 is out of range; allowed: a number of US dollars from 0 to 1000000",
        ),
        (
            {"teams": [{**TEAM, "budget_duration": "30days"}]},
            "teams[0].budget_duration: '30days' is not valid; allowed: a number and a unit",
        ),
        (
            {"teams": [{k: v for k, v in TEAM.items() if k != "max_budget"}]},
            "teams[0].max_budget: is missing; required: US dollars the team may spend per budget window "
            "(a number)",
        ),
        (
            {"teams": [TEAM, TEAM]},
            "teams[1].alias: team 'search' is declared twice; allowed: each alias once",
        ),
        (
            {"teams": [TEAM], "service_keys": [{"alias": "idx", "team": "serch"}]},
            "service_keys[0].team: 'serch' is not a team of this file (did you mean 'search'?); "
            "allowed: search",
        ),
        (
            {"teams": [TEAM], "service_keys": [{"alias": "idx", "team": "search", "models": ["nova-pro"]}]},
            "service_keys[0].models[0]: 'nova-pro' is not one of the models of team 'search'; "
            "allowed: nova-lite, titan-embed",
        ),
        (
            {"teams": [TEAM], "service_keys": [{"alias": "idx", "team": "search", "rpm_limit": 99999}]},
            "service_keys[0].rpm_limit: 99999 is out of range; allowed: an integer from 1 to 6000",
        ),
        (
            {"teams": [TEAM], "service_keys": [{"alias": "idx", "team": "search", "key": "sk-abc"}]},
            "service_keys[0].key: unknown key; allowed keys: alias, team, models",
        ),
        (
            {"teams": [{**TEAM, "alias": "Search"}]},
            "teams[0].alias: 'Search' is not valid; allowed: lower-case",
        ),
        ("teams:\n\t- alias: x\n", "not valid YAML"),
    ],
)
def test_a_mistake_is_one_line_naming_field_and_what_is_allowed(
    tmp_path: Path, data: object, expected: str
) -> None:
    assert expected in error(tmp_path, data)


def test_the_key_ceiling_is_the_gateways_own(tmp_path: Path) -> None:
    """rpm/tpm limits of a key stop where gateway/config.yaml's upperbound_key_generate_params does."""
    ceiling = yaml.safe_load((ROOT / "gateway" / "config.yaml").read_text())["litellm_settings"][
        "upperbound_key_generate_params"
    ]
    over = {"alias": "idx", "team": "search", "tpm_limit": ceiling["tpm_limit"] + 1}
    assert f"from 1 to {ceiling['tpm_limit']}" in error(tmp_path, {"teams": [TEAM], "service_keys": [over]})


def test_a_missing_file_says_where_it_belongs(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    with pytest.raises(ConfigError, match=r"file not found; allowed: an access\.yaml beside"):
        load_access(tmp_path / "dev", catalogue=CATALOGUE)
