"""The three-way report of issue 19 part 3: full, reference and bare, each against the direct call.

Pure functions over bench results (LevelResult dicts), so the figures are checked by tests.
A streamed target is named `<target>-stream`; its p50_ms… are the whole stream, ttft_* its first token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

STREAM = "-stream"
GUARDRAIL = "guardrail"  # the same run's ApplyGuardrail round trip, the unit of the latency targets
COMPARED = ("full", "reference", "bare")
# "Capacity" is the highest load whose p99 stays within this many times the unloaded (lowest level) p99.
P99_FACTOR = 2.0
# Issue 19's target: the full configuration's CPU per request at most this times the reference design's.
CPU_TARGET = 0.8

# Issue 19's latency slack over the guardrail round trips (p50), written once: `nox -s ttft` judges the
# streamed first token with the same two.
ADDED_P50_SLACK_MS = 15.0
TTFT_P50_SLACK_MS = 25.0
TTFT_P95_SLACK_MS = 60.0
# Full's added p50 within its two checks + slack; streamed, the first token within the prompt's check + slack.
LATENCY_TARGETS = (
    ("added p50", "", "p50_ms", 2, ADDED_P50_SLACK_MS),
    ("streamed first token added p50", STREAM, "ttft_p50_ms", 1, TTFT_P50_SLACK_MS),
    ("streamed first token added p95", STREAM, "ttft_p95_ms", 1, TTFT_P95_SLACK_MS),
)

Row = Mapping[str, object]


def _by(rows: Sequence[Row]) -> dict[tuple[str, int], Row]:
    return {(str(r["target"]), int(r["concurrency"])): r for r in rows}  # type: ignore[call-overload]


def added(
    rows: Sequence[Row], target: str, direct: str, fields: Sequence[str]
) -> dict[int, dict[str, float]]:
    """Per level: `target`'s percentile minus `direct`'s, for each field both have."""
    by = _by(rows)
    out: dict[int, dict[str, float]] = {}
    for (name, level), row in sorted(by.items()):
        base = by.get((direct, level))
        if name != target or base is None:
            continue
        out[level] = {
            f: round(float(row[f]) - float(base[f]), 1)  # type: ignore[arg-type]
            for f in fields
            if row.get(f) is not None and base.get(f) is not None
        }
    return out


def capacity(rows: Sequence[Row], target: str, factor: float = P99_FACTOR) -> dict[str, float] | None:
    """The highest throughput at a level whose p99 <= factor x the lowest level's p99 (None: no levels)."""
    levels = sorted((int(r["concurrency"]), r) for r in rows if r["target"] == target)  # type: ignore[call-overload]
    levels = [(c, r) for c, r in levels if r.get("p99_ms") is not None]
    if not levels:
        return None
    unloaded = float(levels[0][1]["p99_ms"])  # type: ignore[arg-type]
    within = [(c, r) for c, r in levels if float(r["p99_ms"]) <= factor * unloaded]  # type: ignore[arg-type]
    level, row = max(within, key=lambda item: float(item[1]["throughput_rps"]))  # type: ignore[arg-type]
    return {"concurrency": level, "rps": float(row["throughput_rps"]), "unloaded_p99_ms": unloaded}  # type: ignore[arg-type]


def three_way(
    rows: Sequence[Row],
    cpu_median: Mapping[str, Mapping[int, float]],
    peak_rss_mib: Mapping[str, float],
    *,
    vcpus: int,
    workers: int,
    variants: Sequence[str] = COMPARED,
) -> dict[str, dict[str, object]]:
    """Per compared variant: added latency (non-streamed, streamed TTFT and total), CPU ms/request
    (median over levels of the medians over rounds), requests/s per vCPU at capacity, RSS per worker."""
    report: dict[str, dict[str, object]] = {}
    for variant in variants:
        name = f"gateway-{variant}"
        if not any(r["target"] == name for r in rows):
            continue
        cpu = sorted(cpu_median.get(name, {}).values())
        cap = capacity(rows, name)
        report[variant] = {
            "added_ms": added(rows, name, "direct", ("p50_ms", "p95_ms", "p99_ms")),
            "added_stream_ttft_ms": added(
                rows, name + STREAM, "direct" + STREAM, ("ttft_p50_ms", "ttft_p95_ms", "ttft_p99_ms")
            ),
            "added_stream_total_ms": added(
                rows, name + STREAM, "direct" + STREAM, ("p50_ms", "p95_ms", "p99_ms")
            ),
            "cpu_ms_per_request": cpu[len(cpu) // 2] if cpu else None,
            "capacity": cap,
            "rps_per_vcpu_at_capacity": round(cap["rps"] / vcpus, 1) if cap else None,
            "rss_mib_per_worker": round(peak_rss_mib[name] / workers, 1) if name in peak_rss_mib else None,
        }
    return report


def latency_targets(rows: Sequence[Row], variant: str = "full") -> list[dict[str, object]]:
    """Issue 19's latency targets for `variant`, judged unloaded (the lowest level the guardrail ran at)."""
    by = _by(rows)
    levels = sorted(level for name, level in by if name == GUARDRAIL)
    if not levels:
        return []
    level = levels[0]
    trip = float(by[(GUARDRAIL, level)]["p50_ms"])  # type: ignore[arg-type]
    verdicts = []
    for label, suffix, field, checks, slack in LATENCY_TARGETS:
        name = f"gateway-{variant}{suffix}"
        value = added(rows, name, "direct" + suffix, (field,)).get(level, {}).get(field)
        if value is None:
            continue
        limit = round(checks * trip + slack, 1)
        verdicts.append(
            {"target": label, "concurrency": level, "added_ms": value, "round_trip_p50_ms": round(trip, 1),
             "checks": checks, "limit_ms": limit, "met": value <= limit}
        )  # fmt: skip
    return verdicts


def render_latency_targets(variant: str, verdicts: Sequence[Mapping[str, object]]) -> str:
    return "\n".join(
        f"target {variant} {v['target']} <= {v['checks']} x guardrail round trip "
        f"({v['round_trip_p50_ms']} ms) + slack = {v['limit_ms']} ms at c={v['concurrency']}: "
        f"{'met' if v['met'] else 'NOT met'} ({v['added_ms']} ms)"
        for v in verdicts
    )


def cpu_over(report: Mapping[str, Mapping[str, object]], numerator: str, denominator: str) -> float | None:
    """CPU per request of one variant over another's (None where either was not measured)."""
    ours = report.get(numerator, {}).get("cpu_ms_per_request")
    theirs = report.get(denominator, {}).get("cpu_ms_per_request")
    return round(float(ours) / float(theirs), 2) if ours and theirs else None  # type: ignore[arg-type]


def _cells(values: Mapping[str, float], fields: Sequence[str]) -> str:
    return "/".join("-" if values.get(f) is None else f"{values[f]:.0f}" for f in fields)


def render(report: Mapping[str, Mapping[str, object]]) -> str:
    """One line per variant and level: added p50/p95/p99 ms (non-streamed, TTFT, stream total)."""
    lines = [
        f"{'variant':<10} {'c':>3} {'added p50/95/99':>17} {'TTFT added':>15} {'stream added':>15}"
        f" {'CPU ms/req':>10} {'req/s/vCPU':>10} {'MiB/worker':>10}"
    ]
    for variant, row in report.items():
        added_ms: Mapping[int, Mapping[str, float]] = row["added_ms"]  # type: ignore[assignment]
        ttft: Mapping[int, Mapping[str, float]] = row["added_stream_ttft_ms"]  # type: ignore[assignment]
        total: Mapping[int, Mapping[str, float]] = row["added_stream_total_ms"]  # type: ignore[assignment]
        for index, level in enumerate(sorted(set(added_ms) | set(ttft))):
            first = index == 0
            lines.append(
                f"{variant if first else '':<10} {level:>3} "
                f"{_cells(added_ms.get(level, {}), ('p50_ms', 'p95_ms', 'p99_ms')):>17} "
                f"{_cells(ttft.get(level, {}), ('ttft_p50_ms', 'ttft_p95_ms', 'ttft_p99_ms')):>15} "
                f"{_cells(total.get(level, {}), ('p50_ms', 'p95_ms', 'p99_ms')):>15} "
                + (
                    f"{row['cpu_ms_per_request'] or '-':>10} {row['rps_per_vcpu_at_capacity'] or '-':>10} "
                    f"{row['rss_mib_per_worker'] or '-':>10}"
                    if first
                    else ""
                )
            )
    return "\n".join(lines)
