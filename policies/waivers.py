"""The reviewed waiver file (policies/waivers.yaml) and how failed checks are matched against it.

checkov's inline suppressions do not work on CDKTF JSON, so every exception to
a policy lives in one file that code review sees. A waiver names one check on
one resource in named environments, says why, and expires. The gate fails on a
failed check without a live waiver, on an expired waiver, and on a stale one
(it matches nothing any more: the problem was fixed or the resource renamed, and
a forgotten waiver would silently cover the next regression).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

WAIVERS_FILE = Path(__file__).resolve().parent / "waivers.yaml"
FIELDS = ("check", "resource", "environment", "reason", "expires")
MAX_LIFETIME_DAYS = 366  # a waiver is re-reviewed at least once a year
MIN_REASON_CHARS = 30  # "false positive" alone does not tell a reviewer anything


class WaiverError(Exception):
    """The waiver file is malformed; the message names the entry and the field."""


@dataclass(frozen=True)
class Waiver:
    check: str
    resource: str
    environments: tuple[str, ...]
    reason: str
    expires: dt.date
    index: int  # position in the file, for messages

    def label(self) -> str:
        return f"waiver #{self.index + 1} ({self.check} on {self.resource} in {', '.join(self.environments)})"

    def matches(self, check_id: str, resource: str, scope: str) -> bool:
        return self.check == check_id and self.resource == resource and scope in self.environments


def _entry(index: int, raw: object, today: dt.date) -> Waiver:
    where = f"waivers[{index}]"
    if not isinstance(raw, dict):
        raise WaiverError(f"{where}: expected a mapping with {', '.join(FIELDS)}")
    unknown = sorted(set(raw) - set(FIELDS))
    missing = [f for f in FIELDS if raw.get(f) in (None, "", [])]
    if unknown or missing:
        raise WaiverError(
            f"{where}: unknown {unknown} / missing {missing}; allowed fields: {', '.join(FIELDS)}"
        )
    envs = raw["environment"]
    envs = tuple(envs) if isinstance(envs, list) else (envs,)
    if not all(isinstance(e, str) and e and e != "*" for e in envs):
        raise WaiverError(
            f"{where}.environment: name each environment (or 'repository'); wildcards are refused"
        )
    expires = raw["expires"]
    if not isinstance(expires, dt.date):
        raise WaiverError(f"{where}.expires: {expires!r} is not a date; allowed: YYYY-MM-DD")
    if (expires - today).days > MAX_LIFETIME_DAYS:
        raise WaiverError(
            f"{where}.expires: {expires} is more than {MAX_LIFETIME_DAYS} days away; "
            "waivers are re-reviewed at least yearly"
        )
    reason = " ".join(str(raw["reason"]).split())
    if len(reason) < MIN_REASON_CHARS:
        raise WaiverError(
            f"{where}.reason: too short to convince a reviewer ({len(reason)} characters; "
            f"at least {MIN_REASON_CHARS})"
        )
    if "*" in str(raw["resource"]):
        raise WaiverError(f"{where}.resource: name one resource address; wildcards are refused")
    return Waiver(str(raw["check"]), str(raw["resource"]), envs, reason, expires, index)


def load(path: Path = WAIVERS_FILE, today: dt.date | None = None) -> list[Waiver]:
    """Parse and validate the waiver file; a missing file means no waivers."""
    today = today or dt.date.today()
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or not isinstance(data.get("waivers") or [], list):
        raise WaiverError(f"{path}: expected a top-level 'waivers:' list")
    entries = data.get("waivers") or []
    waivers = [_entry(i, raw, today) for i, raw in enumerate(entries)]
    seen: dict[tuple, Waiver] = {}
    for waiver in waivers:
        for env in waiver.environments:
            key = (waiver.check, waiver.resource, env)
            if key in seen:
                raise WaiverError(f"{waiver.label()} repeats {seen[key].label()}")
            seen[key] = waiver
    return waivers


@dataclass
class Verdict:
    """Failed findings split by waiver, plus the waivers that are themselves problems."""

    unwaived: list = field(default_factory=list)
    waived: list = field(default_factory=list)  # (finding, waiver)
    expired: list[Waiver] = field(default_factory=list)
    stale: list[Waiver] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.unwaived or self.expired or self.stale)


def apply(failures: Iterable, waivers: list[Waiver], today: dt.date, scanned_scopes: set[str]) -> Verdict:
    """Match failed findings (anything with check_id, resource, target.scope) to waivers.

    An expired waiver waives nothing and fails the gate by itself. A live waiver
    is stale when one of its environments was scanned and it matched nothing.
    """
    verdict = Verdict()
    live = [w for w in waivers if w.expires >= today]
    verdict.expired = [w for w in waivers if w.expires < today]
    used: set[int] = set()
    for finding in failures:
        waiver = next(
            (w for w in live if w.matches(finding.check_id, finding.resource, finding.target.scope)), None
        )
        if waiver is None:
            verdict.unwaived.append(finding)
        else:
            used.add(waiver.index)
            verdict.waived.append((finding, waiver))
    verdict.stale = [w for w in live if w.index not in used and scanned_scopes.intersection(w.environments)]
    return verdict
