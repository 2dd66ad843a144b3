"""Benchmark arithmetic and reports: percentiles, one result per (target, concurrency), ratios, table.

Pure functions over recorded samples, so the figures in results.json can be
checked by tests without a running gateway.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from dataclasses import field as data_field
from pathlib import Path


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between ranks (numpy's default method)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0-100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Sample:
    """What one run of requests at one concurrency recorded."""

    latencies_s: list[float]  # successful requests only
    errors: int
    elapsed_s: float
    overheads_ms: list[float]  # x-litellm-overhead-duration-ms, when the target sends it
    cpu_s: float | None = None  # CPU time the gateway's process tree spent during the run
    first_token_s: list[float] = data_field(default_factory=list)  # streamed calls: time to the first text


@dataclass(frozen=True)
class LevelResult:
    target: str
    concurrency: int
    requests: int
    errors: int
    elapsed_s: float
    throughput_rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    overhead_p50_ms: float | None
    overhead_p95_ms: float | None
    gateway_rss_mib: float | None
    # CPU per request is what the gateway costs whatever share of the machine it got: on a shared,
    # busy machine it is steadier than throughput, and bare/full of it predicts the throughput ratio.
    gateway_cpu_ms_per_request: float | None = None
    # Streamed targets only: time to first token (p50_ms… are then the whole stream's time).
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None
    ttft_p99_ms: float | None = None


def summarise(
    target: str, concurrency: int, samples: Iterable[Sample], rss_mib: float | None = None
) -> LevelResult:
    """Pool the samples of several rounds: throughput = successful requests / total time."""
    samples = list(samples)
    latencies = [x for s in samples for x in s.latencies_s]
    overheads = [x for s in samples for x in s.overheads_ms]
    elapsed = sum(s.elapsed_s for s in samples)
    errors = sum(s.errors for s in samples)
    cpu = [s.cpu_s for s in samples if s.cpu_s is not None]
    handled = len(latencies) + errors

    def ms(q: float) -> float | None:
        return round(percentile(latencies, q) * 1000, 2) if latencies else None

    first = [x for s in samples for x in s.first_token_s]

    def ttft(q: float) -> float | None:
        return round(percentile(first, q) * 1000, 2) if first else None

    def over(q: float) -> float | None:
        return round(percentile(overheads, q), 2) if overheads else None

    return LevelResult(
        target=target,
        concurrency=concurrency,
        requests=len(latencies) + errors,
        errors=errors,
        elapsed_s=round(elapsed, 3),
        throughput_rps=round(len(latencies) / elapsed, 2) if elapsed > 0 else 0.0,
        p50_ms=ms(50),
        p95_ms=ms(95),
        p99_ms=ms(99),
        overhead_p50_ms=over(50),
        overhead_p95_ms=over(95),
        gateway_rss_mib=round(rss_mib, 1) if rss_mib is not None else None,
        gateway_cpu_ms_per_request=round(1000 * sum(cpu) / handled, 2) if cpu and handled else None,
        ttft_p50_ms=ttft(50),
        ttft_p95_ms=ttft(95),
        ttft_p99_ms=ttft(99),
    )


def ratios(results: Sequence[LevelResult], numerator: str, denominator: str) -> dict[int, float]:
    """Throughput of `numerator` over `denominator` per concurrency level both have."""
    by = {(r.target, r.concurrency): r for r in results}
    out = {}
    for (target, level), result in sorted(by.items()):
        other = by.get((denominator, level))
        if target == numerator and other is not None and other.throughput_rps > 0:
            out[level] = round(result.throughput_rps / other.throughput_rps, 3)
    return out


def cpu_ratios(results: Sequence[LevelResult], numerator: str, denominator: str) -> dict[int, float]:
    """CPU per request of `denominator` over `numerator`: the throughput ratio a dedicated CPU would give."""
    by = {(r.target, r.concurrency): r for r in results}
    out = {}
    for (target, level), result in sorted(by.items()):
        other = by.get((denominator, level))
        if (
            target == numerator
            and other is not None
            and result.gateway_cpu_ms_per_request
            and other.gateway_cpu_ms_per_request
        ):
            out[level] = round(other.gateway_cpu_ms_per_request / result.gateway_cpu_ms_per_request, 3)
    return out


def differences(results: Sequence[LevelResult], gateway: str, direct: str) -> dict[int, dict[str, float]]:
    """What the gateway adds over the direct call, per level: p50/p95 milliseconds."""
    by = {(r.target, r.concurrency): r for r in results}
    out: dict[int, dict[str, float]] = {}
    for (target, level), result in sorted(by.items()):
        base = by.get((direct, level))
        if target != gateway or base is None:
            continue
        diff = {}
        for field in ("p50_ms", "p95_ms"):
            ours, theirs = getattr(result, field), getattr(base, field)
            if ours is not None and theirs is not None:
                diff[field] = round(ours - theirs, 2)
        out[level] = diff
    return out


def _cell(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(results: Sequence[LevelResult]) -> str:
    width = max([14, *(len(r.target) for r in results)])
    header = (
        f"{'target':<{width}} {'conc':>4} {'req':>5} {'err':>4} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'ovh p50':>7} {'RSS MiB':>8} {'CPU ms/req':>10}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(
            f"{r.target:<{width}} {r.concurrency:>4} {r.requests:>5} {r.errors:>4} {r.throughput_rps:>7.1f} "
            f"{_cell(r.p50_ms):>7} {_cell(r.p95_ms):>7} {_cell(r.p99_ms):>7} {_cell(r.overhead_p50_ms):>7} "
            f"{_cell(r.gateway_rss_mib, 0):>8} {_cell(r.gateway_cpu_ms_per_request, 2):>10}"
        )
    return "\n".join(lines)


def write_results(path: Path, results: Sequence[LevelResult], extra: Mapping[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**extra, "results": [asdict(r) for r in results]}
    path.write_text(json.dumps(payload, indent=2))
    return path
