"""The route allow-list (policies/routes.yaml) as code: `classify(path)` and the lists behind it.

Stdlib + PyYAML only: the ALB construct, the local front, the checkov policy
(loaded by file path from checkov's own venv) and the tests all read it.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

ROUTES_FILE = Path(__file__).resolve().parent / "routes.yaml"
SERVED, ADMIN, CLOSED = "served", "admin", "closed"
CLASSES = (SERVED, ADMIN, CLOSED)
# What the public entry answers for anything not served: the ALB's fixed response and the local
# front send these very bytes, so a client cannot tell a closed route from an unknown one.
NOT_FOUND_STATUS = 404
NOT_FOUND_CONTENT_TYPE = "application/json"
NOT_FOUND_BODY = json.dumps(
    {
        "error": {
            "message": "Not found: this gateway serves /v1/chat/completions, /v1/completions, "
            "/v1/embeddings and /v1/models",
            "type": "invalid_request_error",
            "param": None,
            "code": "not_found",
        }
    },
    separators=(",", ":"),
)
# ALB limits (Elastic Load Balancing quotas): path pattern length and condition values per rule.
ALB_MAX_PATTERN_LENGTH = 128
ALB_MAX_VALUES_PER_RULE = 5


class RoutesError(ValueError):
    """policies/routes.yaml is malformed; the message names the file, the field and what is allowed."""


@dataclass(frozen=True)
class Family:
    klass: str  # admin | closed
    name: str
    patterns: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Routes:
    served: tuple[str, ...]
    served_reason: str
    families: tuple[Family, ...]
    unauthenticated: dict[str, str]  # path -> reason

    def match(self, path: str) -> tuple[str, str] | None:
        """(class, the entry that decided) for `path`, or None when no entry matches it."""
        if path in self.served:
            return SERVED, path
        best: tuple[str, str] | None = None
        best_rank = (-1, False)
        for family in self.families:
            for pattern in family.patterns:
                rank = (len(pattern), family.klass == CLOSED)  # longest wins; on a tie, closed
                if rank > best_rank and _matches(pattern, path):
                    best, best_rank = (family.klass, pattern), rank
        return best

    def classify(self, path: str) -> str:
        """served, admin or closed; a path no entry matches is closed."""
        found = self.match(path)
        return found[0] if found else CLOSED

    def family_of(self, path: str) -> Family | None:
        found = self.match(path)
        if not found or found[0] == SERVED:
            return None
        return next(f for f in self.families if f.klass == found[0] and found[1] in f.patterns)

    def of_class(self, klass: str) -> tuple[Family, ...]:
        return tuple(f for f in self.families if f.klass == klass)


def _matches(pattern: str, path: str) -> bool:
    if pattern.endswith("/*"):
        base = pattern[:-2]
        return path == base or path.startswith(base + "/")
    return path == pattern


def _fail(field: str, problem: str, allowed: str, source: Path) -> RoutesError:
    return RoutesError(f"{source}: {field}: {problem}; allowed: {allowed}")


def _pattern(raw: object, field: str, source: Path, *, exact: bool) -> str:
    allowed = "an exact path starting with /" + ("" if exact else ", or a prefix ending in /*")
    if not isinstance(raw, str) or not raw.startswith("/"):
        raise _fail(field, f"{raw!r} is not a path", allowed, source)
    body = raw[:-2] if raw.endswith("/*") and not exact else raw
    if "*" in body or "?" in body or " " in body:
        raise _fail(field, f"{raw!r} has a wildcard or space where none may be", allowed, source)
    return raw


def parse(data: object, source: Path = ROUTES_FILE) -> Routes:
    if not isinstance(data, dict):
        raise _fail("(top level)", "not a mapping", "keys served, admin, closed, unauthenticated", source)
    unknown = set(data) - {"served", "admin", "closed", "unauthenticated"}
    if unknown:
        raise _fail(
            ", ".join(sorted(unknown)), "unknown key", "served, admin, closed, unauthenticated", source
        )
    served_block = data.get("served") or {}
    paths = served_block.get("paths") if isinstance(served_block, dict) else None
    if not isinstance(paths, list) or not paths:
        raise _fail("served.paths", "missing or empty", "a list of exact paths", source)
    served = tuple(_pattern(p, f"served.paths[{i}]", source, exact=True) for i, p in enumerate(paths))
    for i, path in enumerate(served):
        if len(path) > ALB_MAX_PATTERN_LENGTH:
            raise _fail(f"served.paths[{i}]", f"{len(path)} characters", "at most 128 (ALB)", source)
    families: list[Family] = []
    seen: dict[str, str] = {}
    for klass in (ADMIN, CLOSED):
        entries = data.get(klass)
        if not isinstance(entries, list) or not entries:
            raise _fail(klass, "missing or empty", "a list of {family, patterns, reason}", source)
        for i, entry in enumerate(entries):
            where = f"{klass}[{i}]"
            if not isinstance(entry, dict) or set(entry) != {"family", "patterns", "reason"}:
                raise _fail(where, f"{entry!r}", "exactly the keys family, patterns, reason", source)
            if not str(entry["reason"]).strip():
                raise _fail(f"{where}.reason", "empty", "why the family has this class", source)
            patterns = tuple(
                _pattern(p, f"{where}.patterns[{j}]", source, exact=False)
                for j, p in enumerate(entry["patterns"] or [])
            )
            for pattern in patterns:
                if pattern in seen or pattern in served:
                    raise _fail(where, f"{pattern} is listed twice", "each pattern once", source)
                seen[pattern] = where
            families.append(
                Family(klass, str(entry["family"]), patterns, " ".join(str(entry["reason"]).split()))
            )
    unauthenticated: dict[str, str] = {}
    for i, entry in enumerate(data.get("unauthenticated") or []):
        if (
            not isinstance(entry, dict)
            or set(entry) != {"path", "reason"}
            or not str(entry["reason"]).strip()
        ):
            raise _fail(f"unauthenticated[{i}]", f"{entry!r}", "{path, reason} with a reason", source)
        unauthenticated[entry["path"]] = " ".join(str(entry["reason"]).split())
    reason = " ".join(str(served_block.get("reason", "")).split())
    routes = Routes(served, reason, tuple(families), unauthenticated)
    for path in unauthenticated:
        if routes.classify(path) == SERVED:
            raise _fail("unauthenticated", f"{path} is served", "admin or closed routes only", source)
    return routes


@functools.cache
def load(source: Path = ROUTES_FILE) -> Routes:
    try:
        data = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise RoutesError(f"{source}: not valid YAML: {err}") from None
    return parse(data, Path(source))


def classify(path: str) -> str:
    """served | admin | closed, by policies/routes.yaml."""
    return load().classify(path)


def served_paths() -> tuple[str, ...]:
    return load().served


def alb_path_groups() -> list[list[str]]:
    """The served paths in groups an ALB rule can hold (at most 5 condition values each)."""
    served = list(served_paths())
    return [served[i : i + ALB_MAX_VALUES_PER_RULE] for i in range(0, len(served), ALB_MAX_VALUES_PER_RULE)]


def markdown(routes: Routes | None = None) -> str:
    """The classification as docs/gateway.md shows it (a test keeps the two identical)."""
    routes = routes or load()
    lines = [
        "| class | family | paths | why |",
        "|---|---|---|---|",
        f"| served | OpenAI routes | {', '.join(f'`{p}`' for p in routes.served)} | {routes.served_reason} |",
    ]
    for family in routes.families:
        paths = ", ".join(f"`{p}`" for p in family.patterns)
        lines.append(f"| {family.klass} | {family.name} | {paths} | {family.reason} |")
    lines += ["", "| unauthenticated route | class | why |", "|---|---|---|"]
    for path, reason in routes.unauthenticated.items():
        lines.append(f"| `{path}` | {routes.classify(path)} | {reason} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
