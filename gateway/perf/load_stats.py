"""Locust's CSV reports read back: the per-row summary and the pass/fail verdict of a load test.

Kept apart from the runner so the thresholds are unit-tested on CSVs in Locust's
own format. The verdict uses Locust's final `_stats.csv`, which can miss the last
second of requests that the console summary shows (written a moment earlier).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

AGGREGATED = "Aggregated"


@dataclass(frozen=True)
class Row:
    """One line of `<prefix>_stats.csv`: a request type and name (an alias here) or the aggregate."""

    type: str
    name: str
    requests: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    rps: float

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Thresholds:
    max_error_rate: float
    max_p95_ms: float


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reasons: tuple[str, ...]


def _number(value: str) -> float | None:
    """Locust writes `N/A` for a percentile of a row with no requests."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def read_stats(path: Path) -> list[Row]:
    """Rows of a Locust `_stats.csv`, the aggregate last (as Locust writes it)."""
    with path.open(newline="") as handle:
        return [
            Row(
                type=record["Type"],
                name=record["Name"],
                requests=int(record["Request Count"]),
                failures=int(record["Failure Count"]),
                p50_ms=_number(record["50%"]),
                p95_ms=_number(record["95%"]),
                p99_ms=_number(record["99%"]),
                rps=float(record["Requests/s"]),
            )
            for record in csv.DictReader(handle)
        ]


def read_history(path: Path) -> list[dict[str, float]]:
    """The aggregate rows of `<prefix>_stats_history.csv`: time, users, RPS, current p50/p95 over time."""
    out = []
    with path.open(newline="") as handle:
        for record in csv.DictReader(handle):
            if record["Name"] != AGGREGATED:
                continue
            out.append(
                {
                    "timestamp": float(record["Timestamp"]),
                    "users": float(record["User Count"]),
                    "rps": float(record["Requests/s"]),
                    "failures_per_s": float(record["Failures/s"]),
                    "p50_ms": _number(record["50%"]) or 0.0,
                    "p95_ms": _number(record["95%"]) or 0.0,
                }
            )
    return out


def aggregate(rows: list[Row]) -> Row:
    for row in rows:
        if row.name == AGGREGATED:
            return row
    raise ValueError("no Aggregated row: not a Locust stats CSV")


def judge(rows: list[Row], limits: Thresholds) -> Verdict:
    """Fail on no traffic at all, an error rate above the limit, or an aggregate p95 above the limit."""
    total = aggregate(rows)
    reasons = []
    if total.requests == 0:
        reasons.append("no request completed")
    else:
        if total.error_rate > limits.max_error_rate:
            reasons.append(
                f"error rate {total.error_rate:.2%} > {limits.max_error_rate:.2%} "
                f"({total.failures} of {total.requests})"
            )
        if total.p95_ms is None or total.p95_ms > limits.max_p95_ms:
            reasons.append(f"p95 {total.p95_ms} ms > {limits.max_p95_ms:.0f} ms")
    return Verdict(passed=not reasons, reasons=tuple(reasons))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def summary_table(rows: list[Row]) -> str:
    """A fixed-width table: one line per (type, alias), the aggregate last."""
    header = (
        f"{'type':<7} {'alias':<16} {'requests':>8} {'failures':>8} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'RPS':>7}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row.type or 'all':<7} {row.name:<16} {row.requests:>8} {row.failures:>8} "
            f"{_ms(row.p50_ms):>7} {_ms(row.p95_ms):>7} {_ms(row.p99_ms):>7} {row.rps:>7.1f}"
        )
    return "\n".join(lines)
