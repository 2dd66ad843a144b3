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
        rps = [float(by_key.get((target, c), {}).get("throughput_rps", 0)) for c in levels]  # type: ignore[arg-type]
        p95 = [float(by_key.get((target, c), {}).get("p95_ms", 0)) for c in levels]  # type: ignore[arg-type]
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


def _save(fig, plt, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
