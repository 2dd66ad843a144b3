"""Who may call which model, with what budget and limits: `environments/<name>/access.yaml`.

Read by the same strict loader as config.yaml (one `file: field: problem; allowed: …`
line, did-you-mean on unknown keys). Teams and service keys are LiteLLM objects that
pipeline/access reconciles with a running gateway; this file holds their declaration
only, never a key's value (those live in a secret store, docs/access.md).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import ValidationError

from modules.config import loader
from modules.config.checks import ConfigError, Invalid
from modules.config.schema import FROM_LIST, Check, Pattern, Range, Section, doc

ACCESS_FILE = "access.yaml"
GATEWAY_CONFIG = Path(__file__).resolve().parents[2] / "gateway" / "config.yaml"

ALIAS = r"[a-z][a-z0-9-]{0,62}[a-z0-9]"
ALIAS_ALLOWED = "lower-case letters, digits and '-', starting with a letter, 2-64 characters"
# LiteLLM's budget windows: a number and s, m, h, d or mo (its `duration_in_seconds`).
DURATION = r"[1-9][0-9]{0,3}(s|m|h|d|mo)"
DURATION_ALLOWED = "a number and a unit: s, m, h, d or mo, e.g. 30d or 1mo"


def _key_ceiling() -> dict[str, int]:
    """The highest limits the gateway lets an admin grant a key (gateway/config.yaml, read not copied)."""
    settings = yaml.safe_load(GATEWAY_CONFIG.read_text(encoding="utf-8"))["litellm_settings"]
    return dict(settings["upperbound_key_generate_params"])


_CEILING = _key_ceiling()


def budget(value: float) -> float:
    if not 0 <= value <= 1_000_000:
        raise Invalid(f"{value} is out of range; allowed: a number of US dollars from 0 to 1000000")
    return float(value)


Budget = Annotated[float, Check(budget)]
Duration = Annotated[str, Pattern(DURATION, DURATION_ALLOWED)]
KeyRpm = Annotated[int, Range(1, _CEILING["rpm_limit"])]
KeyTpm = Annotated[int, Range(1, _CEILING["tpm_limit"])]
Alias = Annotated[str, Pattern(ALIAS, ALIAS_ALLOWED)]


class KeyDefaults(Section):
    """What a service key gets for every setting it does not state itself."""

    rpm_limit: KeyRpm = doc("requests per minute a key may send", default=60)
    tpm_limit: KeyTpm = doc("tokens per minute a key may use", default=100_000)
    max_budget: Budget | None = doc(
        "US dollars a key may spend per budget window; null: only the team's budget applies", default=None
    )
    budget_duration: Duration | None = doc("window after which a key's spend resets", default=None)
    rotate_after_days: Annotated[int, Range(1, 3650)] = doc(
        "age in days at which a key is rotated", default=90
    )
    rotation_grace_hours: Annotated[int, Range(0, 720)] = doc(
        "hours the old key keeps working after a rotation, so clients can pick up the new one", default=24
    )


class TeamMetadata(Section):
    """Who answers for a team's use and pays for it (recorded in LiteLLM's team metadata)."""

    owner: Annotated[str, Pattern(r"\S.{0,127}", "1-128 characters, e.g. an e-mail address")] | None = doc(
        "person or list answering for the team", default=None
    )
    cost_centre: Annotated[str, Pattern(r"[A-Za-z0-9._-]{1,64}", "letters, digits, '.', '_', '-'")] | None = (
        doc("cost centre the team's spend is charged to", default=None)
    )


class TeamAccess(Section):
    """One LiteLLM team: one budget and one model allow-list for all its keys."""

    alias: Alias = doc("the team's name (LiteLLM team_alias); unique in the file")
    models: Annotated[tuple[str, ...], FROM_LIST] = doc("catalogue aliases the team's keys may call")
    max_budget: Budget = doc("US dollars the team may spend per budget window")
    budget_duration: Duration = doc("window after which the team's spend resets, e.g. 30d")
    tpm_limit: Annotated[int, Range(1, 100_000_000)] | None = doc("tokens per minute, all keys", default=None)
    rpm_limit: Annotated[int, Range(1, 1_000_000)] | None = doc("requests per minute, all keys", default=None)
    metadata: TeamMetadata = doc("owner and cost centre", default_factory=TeamMetadata)


class ServiceKeyAccess(Section):
    """One virtual key a service calls the gateway with; its value goes to a secret store, never here."""

    alias: Alias = doc("the key's name (LiteLLM key_alias) and its secret's name; unique in the file")
    team: Alias = doc("alias of the team the key belongs to")
    models: Annotated[tuple[str, ...], FROM_LIST] = doc(
        "models the key may call, a subset of its team's; default: all of the team's", default=()
    )
    rpm_limit: KeyRpm | None = doc("requests per minute; default: defaults.rpm_limit", default=None)
    tpm_limit: KeyTpm | None = doc("tokens per minute; default: defaults.tpm_limit", default=None)
    max_budget: Budget | None = doc(
        "US dollars per budget window; default: defaults.max_budget", default=None
    )
    budget_duration: Duration | None = doc("spend window; default: defaults.budget_duration", default=None)
    rotate_after_days: Annotated[int, Range(1, 3650)] | None = doc(
        "age in days at which the key is rotated; default: defaults.rotate_after_days", default=None
    )


def _unique(items: Iterable[Any], what: str, section: str) -> None:
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.alias in seen:
            raise Invalid(
                f"{what} {item.alias!r} is declared twice; allowed: each alias once",
                f"{section}[{index}].alias",
            )
        seen.add(item.alias)


def _keys_fit_teams(access: AccessConfig) -> None:
    _unique(access.teams, "team", "teams")
    _unique(access.service_keys, "key", "service_keys")
    teams = {team.alias: team for team in access.teams}
    for index, key in enumerate(access.service_keys):
        team = teams.get(key.team)
        if team is None:
            close = difflib.get_close_matches(key.team, list(teams), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise Invalid(
                f"{key.team!r} is not a team of this file{hint}; "
                f"allowed: {', '.join(teams) or 'none declared'}",
                f"service_keys[{index}].team",
            )
        for position, model in enumerate(key.models):
            if model not in team.models:
                raise Invalid(
                    f"{model!r} is not one of the models of team {team.alias!r}; "
                    f"allowed: {', '.join(team.models)}",
                    f"service_keys[{index}].models[{position}]",
                )


class AccessConfig(Section):
    """One environment's access declaration."""

    not_in_file = ("environment",)
    rules = (_keys_fit_teams,)

    environment: str = doc("environment name: the folder name (not a YAML key)")
    defaults: KeyDefaults = doc("settings of keys that do not state them", default_factory=KeyDefaults)
    teams: Annotated[tuple[TeamAccess, ...], FROM_LIST] = doc("the teams", default=())
    service_keys: Annotated[tuple[ServiceKeyAccess, ...], FROM_LIST] = doc("the service keys", default=())

    def team(self, alias: str) -> TeamAccess:
        return next(team for team in self.teams if team.alias == alias)


def _models_in_catalogue(file: Path, access: AccessConfig, catalogue: list[str]) -> None:
    for index, team in enumerate(access.teams):
        if not team.models:
            raise ConfigError(
                file, f"teams[{index}].models", "is empty; allowed: one or more catalogue aliases"
            )
        for position, model in enumerate(team.models):
            if model not in catalogue:
                close = difflib.get_close_matches(model, catalogue, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(
                    file,
                    f"teams[{index}].models[{position}]",
                    f"{model!r} is not in the environment's catalogue{hint}; allowed: {', '.join(catalogue)}",
                )


def load_access(path: Path | str, catalogue: list[str] | None = None) -> AccessConfig:
    """Load an environment's access.yaml (folder or file), its models checked against the catalogue.

    `catalogue` is the list of model aliases; when None it is read from the folder's config.yaml.
    """
    path = Path(path)
    file = path / ACCESS_FILE if path.is_dir() or not path.suffix else path
    name = file.parent.name
    if not file.is_file():
        raise ConfigError(
            file, "", "file not found; allowed: an access.yaml beside the environment's config.yaml"
        )
    if catalogue is None:
        catalogue = list(dict.fromkeys(model.alias for model in loader.load(file.parent).models))
    data = loader._read(file)
    if data is None:
        data = {}
    try:
        access = AccessConfig.model_validate(data, context={"environment": name})
    except ValidationError as err:
        field, message = loader._first_problem(err, AccessConfig)
        raise ConfigError(file, field, message) from None
    _models_in_catalogue(file, access, catalogue)
    return access


def access_files(environments_dir: Path | str) -> list[Path]:
    """Every environment folder's access.yaml that exists, sorted by environment."""
    return [d / ACCESS_FILE for d in loader.environment_dirs(environments_dir) if (d / ACCESS_FILE).is_file()]


__all__ = [
    "ACCESS_FILE",
    "AccessConfig",
    "KeyDefaults",
    "ServiceKeyAccess",
    "TeamAccess",
    "TeamMetadata",
    "access_files",
    "load_access",
]
