"""`python -m gateway.perf.load` — the Locust load test, headless, with pass/fail thresholds.

    python -m gateway.perf.load [--users 10 --spawn-rate 5 --run-time 60s]
                                [--max-error-rate 0.01 --max-p95-ms 2000] [--url URL --key KEY] [--web]

Without --url it starts the local stack, loads it, and stops it. Reports go to
reports/load/ (Locust's CSVs and HTML, summary.json, latency.png); the exit code
is 1 when the error rate or the aggregate p95 crosses its threshold, 2 when the
test could not run. --web opens Locust's interactive UI (127.0.0.1:8089) instead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from gateway.devstack.target import add_target_arguments, gateway_target, strip_separator
from gateway.emulator.latency import REALISTIC, add_latency_argument
from gateway.perf import charts
from gateway.perf.aliases import aliases
from gateway.perf.load_stats import Thresholds, judge, read_history, read_stats, summary_table

REPO = Path(__file__).resolve().parents[2]
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
REPORTS = REPO / "reports" / "load"
PREFIX = "locust"
PROGRESS_EVERY_S = 10


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gateway.perf.load", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10, help="concurrent simulated clients (default 10)")
    parser.add_argument("--spawn-rate", type=float, default=5, help="users started per second (default 5)")
    parser.add_argument("--run-time", default="60s", help="Locust duration, e.g. 60s, 5m (default 60s)")
    parser.add_argument("--max-error-rate", type=float, default=0.01, help="fail above this (default 0.01)")
    parser.add_argument("--max-p95-ms", type=float, default=2000, help="fail above this p95 (default 2000)")
    parser.add_argument("--reports", type=Path, default=REPORTS, help="output folder (default reports/load)")
    parser.add_argument("--web", action="store_true", help="interactive Locust web UI instead of headless")
    add_target_arguments(parser)
    add_latency_argument(parser, default=REALISTIC)  # a local stack's emulator; users feel Bedrock's time
    return parser.parse_args(argv)


def locust_command(args: argparse.Namespace, url: str, reports: Path) -> list[str]:
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", url]
    if args.web:
        return [*base, "--web-host", "127.0.0.1"]
    return [
        *base,
        "--headless",
        "-u", str(args.users),
        "-r", str(args.spawn_rate),
        "-t", args.run_time,
        "--csv", str(reports / PREFIX),
        "--html", str(reports / "report.html"),
        "--only-summary",
        "--stop-timeout", "10",
        # Our verdict, not Locust's: it would exit 1 on a single failed request.
        "--exit-code-on-error", "0",
    ]  # fmt: skip


def locust_environment(key: str) -> dict[str, str]:
    """The key travels in the environment: argv is visible to every user of the machine."""
    return {**os.environ, "GATEWAY_API_KEY": key, "PYTHONPATH": str(REPO)}


def _progress(process: subprocess.Popen, history_csv: Path) -> None:
    """A line every few seconds while Locust runs quietly (--only-summary)."""
    started = time.monotonic()
    while process.poll() is None:
        try:
            process.wait(timeout=PROGRESS_EVERY_S)
        except subprocess.TimeoutExpired:
            latest = read_history(history_csv)[-1:] if history_csv.exists() else []
            if latest:
                row = latest[0]
                print(
                    f"  {time.monotonic() - started:4.0f} s: {row['users']:.0f} users, "
                    f"{row['rps']:.1f} req/s, p50 {row['p50_ms']:.0f} ms, p95 {row['p95_ms']:.0f} ms",
                    flush=True,
                )


def warm_up(url: str, key: str) -> None:
    """One uncounted call per alias: LiteLLM's first call on a route is seconds slower and would skew p95."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        for alias in aliases("chat", "GATEWAY_LOAD_CHAT_ALIASES"):
            http.post(
                "/v1/chat/completions", json={"model": alias, "messages": [{"role": "user", "content": "hi"}]}
            )
        for alias in aliases("embedding", "GATEWAY_LOAD_EMBEDDING_ALIASES"):
            http.post("/v1/embeddings", json={"model": alias, "input": ["hi"]})


def run_headless(args: argparse.Namespace, url: str, key: str) -> int:
    reports: Path = args.reports
    print("warming up: one call per alias (not counted)", flush=True)
    warm_up(url, key)
    reports.mkdir(parents=True, exist_ok=True)
    for old in reports.glob(f"{PREFIX}_*.csv"):
        old.unlink()
    command = locust_command(args, url, reports)
    print(
        f"locust: {args.users} users, spawn rate {args.spawn_rate}/s, {args.run_time} against {url}",
        flush=True,
    )
    process = subprocess.Popen(command, env=locust_environment(key), cwd=REPO)
    try:
        _progress(process, reports / f"{PREFIX}_stats_history.csv")
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
    stats_csv = reports / f"{PREFIX}_stats.csv"
    if process.returncode != 0 or not stats_csv.exists():
        print(f"locust failed (exit {process.returncode}); no {stats_csv}", file=sys.stderr)
        return 2
    rows = read_stats(stats_csv)
    verdict = judge(rows, Thresholds(max_error_rate=args.max_error_rate, max_p95_ms=args.max_p95_ms))
    print("\n" + summary_table(rows))
    history = read_history(reports / f"{PREFIX}_stats_history.csv")
    chart = charts.load_chart(history, reports / "latency.png", title=f"Load test: {args.users} users")
    summary = {
        "url": url,
        "users": args.users,
        "spawn_rate": args.spawn_rate,
        "run_time": args.run_time,
        "thresholds": {"max_error_rate": args.max_error_rate, "max_p95_ms": args.max_p95_ms},
        "passed": verdict.passed,
        "reasons": list(verdict.reasons),
        "rows": [row.__dict__ for row in rows],
    }
    (reports / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\nreports: {reports} (locust_stats.csv, report.html, summary.json)")
    print(f"chart: {chart}" if chart else f"chart: {charts.MISSING}")
    if verdict.passed:
        print(f"PASS: error rate <= {args.max_error_rate:.2%} and p95 <= {args.max_p95_ms:.0f} ms")
        return 0
    print("FAIL: " + "; ".join(verdict.reasons))
    return 1


def run_web(args: argparse.Namespace, url: str, key: str) -> int:
    print(f"Locust web UI on http://127.0.0.1:8089 against {url}; Ctrl-C to stop", flush=True)
    process = subprocess.Popen(locust_command(args, url, args.reports), env=locust_environment(key), cwd=REPO)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=30)
        return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(strip_separator(list(sys.argv[1:] if argv is None else argv)))
    with gateway_target(args.url, args.key, latency=args.latency) as target:
        if args.web:
            return run_web(args, target.url, target.key)
        code = run_headless(args, target.url, target.key)
        dead = target.stack.dead_services() if target.local else []
        if dead:
            # Connection-refused failures mean little without this: name the dead service and its log.
            logs = target.stack.work_dir / "logs"
            print(f"FAIL: service(s) died during the test: {', '.join(dead)}; logs in {logs}")
            return 1
        return code


if __name__ == "__main__":
    raise SystemExit(main())
