"""Reading environment files: strict YAML in, the schema's models out, or ONE `ConfigError` line.

The line is `<file>: <field path>: <problem>; allowed: <what is>`. PyYAML keeps the last
of two equal keys and reports tabs over several lines; pydantic reports every error in
its own words. Both are turned here into the first problem, said once.
"""

from __future__ import annotations

import datetime
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ValidationError

from modules.config import checks
from modules.config.checks import CONFIG_FILE, ConfigError, Invalid
from modules.config.schema import EnvironmentConfig, describe, yaml_type


# ---------------------------------------------------------------- YAML
def _yaml_problem(err: yaml.YAMLError) -> str:
    """One line: where the YAML breaks and why (PyYAML's own message spans several lines)."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    tab = "'\\t'" in problem  # PyYAML quotes the character it stopped at
    hint = "; allowed: spaces for indentation, never tabs" if tab else ""
    return f"{where}not valid YAML: {' '.join(problem.split())}{hint}"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(
                loader.name,
                str(key),
                f"duplicate key {key!r} at line {key_node.start_mark.line + 1}; allowed: each key once "
                "per mapping",
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def _read(file: Path) -> Any:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(file, "", "file not found; every environment folder needs a config.yaml") from None
    except UnicodeDecodeError as err:
        where = f"byte 0x{err.object[err.start]:02x} at offset {err.start}"
        raise ConfigError(file, "", f"not UTF-8 ({where}); allowed: UTF-8 text") from None
    except OSError as err:
        reason = f"cannot be read ({err.strerror})"
        raise ConfigError(file, "", f"{reason}; allowed: a readable YAML file") from None
    try:
        loader = _StrictLoader(text)
        loader.name = str(file)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        raise ConfigError(file, "", _yaml_problem(err)) from None


# ---------------------------------------------------------------- pydantic errors, said once
def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        elif part:
            out = f"{out}.{part}" if out else str(part)
    return out


def _join(path: str, more: str) -> str:
    if not more:
        return path
    if not path or more.startswith("["):
        return path + more
    return f"{path}.{more}"


def _strip(kind: Any) -> Any:
    """The type under Annotated[...] and `| None`."""
    while True:
        if typing.get_origin(kind) is Annotated:
            kind = typing.get_args(kind)[0]
            continue
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if type(None) in typing.get_args(kind) and len(args) == 1:
            kind = args[0]
            continue
        return kind


def _kind_at(loc: tuple[Any, ...], root: type[BaseModel] = EnvironmentConfig) -> Any:
    """The schema's type at a pydantic error location (None if the location is not a field)."""
    kind: Any = root
    for part in loc:
        kind = _strip(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields.get(str(part))
            if field is None:
                return None
            kind = field.annotation
        elif typing.get_origin(kind) is tuple:
            kind = typing.get_args(kind)[0]
        elif typing.get_origin(kind) in (dict, Mapping):
            kind = typing.get_args(kind)[0 if part == "[key]" else 1]
        else:
            return None
    return kind


def _scalar(kind: Any) -> bool:
    return _strip(kind) in (str, int, float, bool)


def _wrong_type(kind: Any, value: Any) -> str:
    """'got a string '1024'; allowed: an integer', with a quoting hint where YAML read a number or a date."""
    if not _scalar(kind):
        return f"got {yaml_type(value)}; allowed: {describe(kind)}"
    quotable = isinstance(value, int | float | datetime.date)  # YAML read a number, boolean or date
    hint = " (quote it)" if _strip(kind) is str and quotable else ""
    shown = value.isoformat() if isinstance(value, datetime.date) else repr(value)
    return f"got {yaml_type(value)} {shown}; allowed: {describe(kind)}{hint}"


def _first_problem(err: ValidationError, root: type[BaseModel] = EnvironmentConfig) -> tuple[str, str]:
    """(field path, message) of the first error pydantic found in the file read as `root`, in its words."""
    first = err.errors(include_url=False)[0]
    loc = tuple(first["loc"])
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, Invalid):
        return _join(_path(loc), cause.path), cause.message
    kind = _kind_at(loc, root)
    if first["type"] == "missing" and kind is not None:
        return _path(loc), f"is missing; required: {describe(kind)}"
    if kind is not None:
        return _path(loc), _wrong_type(kind, first["input"])
    return _path(loc), first["msg"]


# Names a deployed environment may not take. GATEWAY_ENVIRONMENT is the folder name, and `local` is
# the one value with which the entrypoint accepts the benchmark's weakened configurations.
RESERVED_NAMES = {"local": "GATEWAY_ENVIRONMENT=local marks a local run that may switch protection off"}


# ---------------------------------------------------------------- public API
def load(path: Path | str) -> EnvironmentConfig:
    """Load one environment from its folder (or its config.yaml); the folder name is the environment name."""
    path = Path(path)
    file = path / CONFIG_FILE if path.is_dir() else path
    name = file.parent.name
    if not re.fullmatch(checks.NAME, name) or len(name) > 16:
        raise ConfigError(
            file,
            "",
            f"environment folder name {name!r} is not allowed; allowed: lower-case "
            "letters, digits and '-', starting with a letter, at most 16 characters",
        )
    if name in RESERVED_NAMES:
        raise ConfigError(
            file,
            "",
            f"environment folder name {name!r} is reserved: {RESERVED_NAMES[name]}; allowed: any other name",
        )
    data = _read(file)
    if data is None:
        keys = ", ".join(k for k in EnvironmentConfig.model_fields if k not in EnvironmentConfig.not_in_file)
        raise ConfigError(file, "", f"the file is empty; allowed: a mapping with the keys {keys}")
    try:
        return EnvironmentConfig.model_validate(data, context={"name": name})
    except ValidationError as err:
        field, message = _first_problem(err)
        raise ConfigError(file, field, message) from None


def environment_dirs(environments_dir: Path | str) -> list[Path]:
    """Every environment folder, sorted: one stack each (folders starting with '.' or '_' are skipped)."""
    root = Path(environments_dir)
    if not root.is_dir():
        raise ConfigError(root, "", "environments directory not found")
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def load_all(environments_dir: Path | str, names: list[str] | None = None) -> list[EnvironmentConfig]:
    """Load every environment (or the named ones) and check what must hold between them.

    The rules between environments are checked over ALL folders even when only some are
    requested: two environments sharing a state object would overwrite each other.
    """
    dirs = environment_dirs(environments_dir)
    if not dirs:
        raise ConfigError(
            environments_dir,
            "",
            "no environment folders; allowed: one folder per environment, each with a config.yaml",
        )
    configs = [load(d) for d in dirs]
    checks.across_environments(Path(environments_dir), configs)
    if names is None:
        return configs
    by_name = {c.name: c for c in configs}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ConfigError(
            environments_dir, "", f"unknown environment {unknown[0]!r}; allowed: {', '.join(sorted(by_name))}"
        )
    return [by_name[n] for n in dict.fromkeys(names)]
