"""PNG charts beside each tool's numbers (matplotlib, headless Agg backend).

matplotlib is in the dev venv (devtools group); where it is missing the tools
still write their numbers and say why there is no chart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

MISSING = "matplotlib is not installed (devtools group): chart skipped"


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def load_chart(
    history: Sequence[Mapping[str, float]], path: Path, *, title: str = "Load test"
) -> Path | None:
    """Users and RPS over time (top), p50/p95 latency over time (bottom), from Locust's history CSV."""
    plt = _pyplot()
    if plt is None or not history:
        return None
    start = history[0]["timestamp"]
    seconds = [row["timestamp"] - start for row in history]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.plot(seconds, [row["rps"] for row in history], label="requests/s", color="tab:blue")
    top.plot(seconds, [row["failures_per_s"] for row in history], label="failures/s", color="tab:red")
    top.set_ylabel("per second")
    users_axis = top.twinx()
    users_axis.plot(
        seconds, [row["users"] for row in history], label="users", color="tab:gray", linestyle="--"
    )
    users_axis.set_ylabel("users")
    handles = top.get_legend_handles_labels()
    more = users_axis.get_legend_handles_labels()
    top.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left")
    bottom.plot(seconds, [row["p50_ms"] for row in history], label="p50", color="tab:green")
    bottom.plot(seconds, [row["p95_ms"] for row in history], label="p95", color="tab:orange")
    bottom.set_ylabel("latency (ms)")
    bottom.set_xlabel("seconds since start")
    bottom.legend(loc="upper left")
    fig.suptitle(title)
    return _save(fig, plt, path)


def eval_chart(scores: Mapping[str, Mapping[str, float]], path: Path, *, title: str = "SQuAD") -> Path | None:
    """Exact match and F1 (0-100) per model alias, side by side."""
    plt = _pyplot()
    if plt is None or not scores:
        return None
    aliases = list(scores)
    positions = range(len(aliases))
    width = 0.38
    fig, axis = plt.subplots(figsize=(max(5, 1.4 * len(aliases)), 4))
    axis.bar(
        [p - width / 2 for p in positions], [scores[a]["exact_match"] for a in aliases], width, label="EM"
    )
    axis.bar([p + width / 2 for p in positions], [scores[a]["f1"] for a in aliases], width, label="F1")
    axis.set_xticks(list(positions), aliases)
    axis.set_ylim(0, 100)
    axis.set_ylabel("score (0-100)")
    axis.legend()
    axis.set_title(title)
    return _save(fig, plt, path)


def bench_chart(
    rows: Sequence[Mapping[str, object]], path: Path, *, title: str = "Gateway overhead"
) -> Path | None:
    """Throughput (left) and p95 (right) per target and concurrency; rows are bench result dicts."""
    plt = _pyplot()
    if plt is None or not rows:
        return None
    targets = list(dict.fromkeys(str(r["target"]) for r in rows))
    levels = sorted({int(r["concurrency"]) for r in rows})  # type: ignore[call-overload]
    by_key = {(str(r["target"]), int(r["concurrency"])): r for r in rows}  # type: ignore[call-overload]
    width = 0.8 / max(1, len(targets))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for index, target in enumerate(targets):
        xs = [i + (index - (len(targets) - 1) / 2) * width for i in range(len(levels))]
        rps = [float(by_key.get((target, c), {}).get("throughput_rps") or 0) for c in levels]  # type: ignore[arg-type]
        p95 = [float(by_key.get((target, c), {}).get("p95_ms") or 0) for c in levels]  # type: ignore[arg-type]
        left.bar(xs, rps, width, label=target)
        right.bar(xs, p95, width, label=target)
    for axis, label in ((left, "requests/s (log)"), (right, "p95 latency, ms (log)")):
        axis.set_xticks(range(len(levels)), [f"c={c}" for c in levels])
        # The direct call is one to two orders of magnitude faster than the gateway.
        axis.set_yscale("log")
        axis.set_ylabel(label)
        axis.legend(fontsize="small")
    fig.suptitle(title)
    return _save(fig, plt, path)


def database_chart(
    report: Mapping[str, object], path: Path, *, title: str = "Database on against off"
) -> Path | None:
    """Requests/s (left) and proxy CPU ms/request (middle) per level, database on beside off, with
    the engine server's part of "on" hatched; PostgreSQL's CPU per 1,000 requests (right).

    `report` is results.json's "database" object (gateway/perf/bench.py).
    """
    plt = _pyplot()
    pairs: Mapping[str, Mapping[int, Mapping[str, float]]] = report.get("on_vs_off", {})  # type: ignore[assignment]
    if plt is None or not any(pairs.values()):
        return None
    engine: Mapping[str, Mapping[int, float]] = report.get("engine_cpu_ms_per_request_median", {})  # type: ignore[assignment]
    postgres: Mapping[str, float] = report.get("postgres", {})  # type: ignore[assignment]
    fig, (left, middle, right) = plt.subplots(
        1, 3, figsize=(13, 4), gridspec_kw={"width_ratios": [3, 3, 1.4]}
    )
    columns = [
        (pair, level, row)
        for pair, rows in pairs.items()
        for level, row in sorted(rows.items(), key=lambda item: int(item[0]))
    ]
    labels = [f"{pair.split(' vs ')[0].removeprefix('gateway-')}\nc={level}" for pair, level, _ in columns]
    xs = list(range(len(columns)))
    width = 0.38
    on_x = [x - width / 2 for x in xs]
    off_x = [x + width / 2 for x in xs]
    left.bar(on_x, [row["rps_on"] for _, _, row in columns], width, label="database on", color="tab:blue")
    left.bar(off_x, [row["rps_off"] for _, _, row in columns], width, label="database off", color="tab:gray")
    left.set_ylabel("requests/s")
    middle.bar(
        on_x, [row["cpu_ms_on"] for _, _, row in columns], width, label="database on", color="tab:blue"
    )
    engine_ms = [engine.get(pair.split(" vs ")[0], {}).get(level, 0.0) for pair, level, _ in columns]
    middle.bar(
        on_x,
        engine_ms,
        width,
        label="of which the engine server",
        color="none",
        hatch="//",
        edgecolor="black",
    )
    middle.bar(
        off_x, [row["cpu_ms_off"] for _, _, row in columns], width, label="database off", color="tab:gray"
    )
    middle.set_ylabel("proxy CPU ms per request (median)")
    for axis in (left, middle):
        axis.set_xticks(xs, labels)
        axis.set_ylim(0, 1.35 * axis.get_ylim()[1])  # room for the legend above the bars
        axis.legend(fontsize="small", loc="upper right")
    gross, net = postgres.get("cpu_ms_per_1000_requests"), postgres.get("cpu_ms_per_1000_requests_net")
    right.bar([0, 1], [gross or 0.0, net or 0.0], 0.6, color=["tab:purple", "tab:pink"])
    right.set_xticks([0, 1], ["all", "net of\nidle"])
    right.set_ylabel("PostgreSQL CPU ms per 1,000 requests")
    fig.suptitle(title)
    return _save(fig, plt, path)


def _save(fig, plt, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def latency_load_chart(
    rows: Sequence[Mapping[str, object]],
    targets: Sequence[str],
    path: Path,
    *,
    title: str = "Latency against load",
) -> Path | None:
    """p50 and p99 latency (ms) against throughput (requests/s), one line per target over its levels."""
    plt = _pyplot()
    chosen = [t for t in targets if any(r["target"] == t for r in rows)]
    if plt is None or not chosen:
        return None
    fig, axis = plt.subplots(figsize=(8, 5))
    for target in chosen:
        points = sorted(
            (float(r["throughput_rps"]), r)
            for r in rows
            if r["target"] == target and r.get("p99_ms")  # type: ignore[arg-type]
        )
        xs = [x for x, _ in points]
        (line,) = axis.plot(xs, [float(r["p50_ms"]) for _, r in points], marker="o", label=f"{target} p50")  # type: ignore[arg-type]
        axis.plot(
            xs, [float(r["p99_ms"]) for _, r in points], marker="x", linestyle="--",  # type: ignore[arg-type]
            color=line.get_color(), label=f"{target} p99",
        )  # fmt: skip
    axis.set_xlabel("requests/s (one point per concurrency level)")
    axis.set_ylabel("latency, ms")
    axis.legend(fontsize="small")
    fig.suptitle(title)
    return _save(fig, plt, path)


def soak_chart(
    rows: Sequence[Mapping[str, object]],
    path: Path,
    *,
    warm_up: int,
    limit_mib: float | None = None,
    title: str = "Soak: memory per worker",
) -> Path | None:
    """RSS per worker (MiB) each minute, the warm-up shaded and the allowed growth drawn as a line.

    The axis starts at 0 so growth is seen at its true size, and ends above the highest point so
    no sample is clipped at the frame.
    """
    plt = _pyplot()
    if plt is None or not rows:
        return None
    minutes = [int(r["minute"]) for r in rows]  # type: ignore[call-overload]
    values = [float(r["rss_mib_per_worker"]) for r in rows]  # type: ignore[arg-type]
    fig, axis = plt.subplots(figsize=(8, 4))
    axis.plot(minutes, values, marker="o", label="RSS per worker")
    axis.axvspan(0, warm_up, color="tab:gray", alpha=0.2, label="warm-up")
    if limit_mib is not None:
        axis.axhline(limit_mib, color="tab:red", linestyle="--", label=f"limit {limit_mib:.0f} MiB")
    axis.set_xlabel("minute")
    axis.set_ylabel("RSS per worker, MiB")
    axis.set_ylim(bottom=0, top=max([*values, limit_mib or 0.0]) * 1.1)
    axis.legend(loc="lower right")
    fig.suptitle(title)
    return _save(fig, plt, path)
