"""`python -m gateway.perf.workers` — how many uvicorn workers per vCPU? (issue 19 part 4)

    python -m gateway.perf.workers [--workers 1,2] [--cpus 1,2] [--levels 1,8,16,24,32]
                                   [--requests 400] [--max-seconds 15] [--rounds 1]
                                   [--alias nova-pro] [--latency realistic|instant]

Starts one local stack (full configuration, database on, realistic Bedrock latency by default)
with one proxy per worker count (GATEWAY_WORKERS; the stack's own proxy is the 1-worker one) and,
for every vCPU count, pins the proxy's whole process tree (every thread, the Prisma engine server
included) to that many cores with sched_setaffinity, as `taskset -a` would. The rest of the stack
and this client are pinned to the other cores when there are any, so a 1-vCPU proxy has its core
to itself (other users of the machine aside). Closed-loop levels are interleaved across the
configurations, rotated every round, so machine noise hits them alike.

Per configuration it prints, in one table: the unloaded p99 (lowest level), capacity (the highest
throughput among the levels whose p99 <= 2x the unloaded p99, the bench's rule), requests/s per
vCPU at capacity, the p99 there, proxy CPU ms per request and RSS per worker.
Writes reports/workers/results.json.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import psutil

from gateway.devstack.proxy import WORKERS_VARIABLE
from gateway.devstack.target import strip_separator
from gateway.emulator.latency import REALISTIC, add_latency_argument
from gateway.perf import bench_database, bench_report
from gateway.perf.bench import key_limits, tree_cpu_seconds
from gateway.perf.bench_load import gateway_call, run
from gateway.perf.bench_stats import summarise
from gateway.perf.bench_variants import parse_variant, rotated

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "reports" / "workers"
MIB = 1024 * 1024
WARM_UP_REQUESTS = 30


def _counts(value: str, flag: str) -> list[int]:
    try:
        counts = [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{flag}: comma-separated whole numbers, got {value!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{flag}: at least one number, each 1 or more, got {value!r}")
    return sorted(set(counts))


def parse_args(argv: list[str], available: int | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.perf.workers", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts to compare (default 1,2)")
    parser.add_argument("--cpus", default="1,2", help="vCPU counts to pin the proxy to (default 1,2)")
    parser.add_argument("--levels", default="1,8,16,24,32", help="concurrency levels (default 1,8,16,24,32)")
    parser.add_argument("--requests", type=int, default=400, help="requests per cell (default 400)")
    parser.add_argument("--max-seconds", type=float, default=15, help="time cap per cell (default 15)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the interleaved sweep (default 1)")
    parser.add_argument("--alias", default="nova-pro", help="chat alias to call (default nova-pro)")
    parser.add_argument(
        "--reports", type=Path, default=REPORTS, help="output folder (default reports/workers)"
    )
    add_latency_argument(parser, default=REALISTIC)
    args = parser.parse_args(argv)
    try:
        args.workers = _counts(args.workers, "--workers")
        args.cpus = _counts(args.cpus, "--cpus")
        args.levels = _counts(args.levels, "--levels")
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    available = len(os.sched_getaffinity(0)) if available is None else available
    if max(args.cpus) > available:
        parser.error(f"--cpus: at most the {available} CPU(s) this process may use, got {max(args.cpus)}")
    if args.rounds < 1 or args.requests < 1:
        parser.error("--rounds and --requests: at least 1")
    return args


def pin(pids: Iterable[int], cpus: set[int]) -> None:
    """Every thread of every process in the trees of `pids` to `cpus` (what `taskset -a -p` does)."""
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error, OSError):
                    for thread in proc.threads():
                        with contextlib.suppress(OSError):
                            os.sched_setaffinity(thread.id, cpus)


def split_cores(cores: Sequence[int], n: int) -> tuple[set[int], set[int]]:
    """The proxy's first `n` cores, and the rest (everything else's; all of them when none is left)."""
    proxy = set(cores[:n])
    rest = set(cores[n:]) or set(cores)
    return proxy, rest


def summary(rows: Sequence[dict], cpu_ms: Sequence[float], rss_mib: float, workers: int, cpus: int) -> dict:
    """One configuration: unloaded p99, capacity (bench_report's rule), req/s per vCPU, p99 there."""
    found = bench_report.capacity(rows, rows[0]["target"]) if rows else None
    at = next((r for r in rows if found and r["concurrency"] == found["concurrency"]), None)
    return {
        "workers": workers,
        "cpus": cpus,
        "unloaded_p99_ms": found["unloaded_p99_ms"] if found else None,
        "capacity_rps": found["rps"] if found else None,
        "capacity_concurrency": found["concurrency"] if found else None,
        "rps_per_vcpu": round(found["rps"] / cpus, 2) if found else None,
        "p50_at_capacity_ms": at["p50_ms"] if at else None,
        "p99_at_capacity_ms": at["p99_ms"] if at else None,
        "cpu_ms_per_request": round(statistics.median(cpu_ms), 2) if cpu_ms else None,
        "rss_mib_per_worker": round(rss_mib / workers, 1),
        "errors": sum(int(r["errors"]) for r in rows),
    }


def render(summaries: Sequence[dict]) -> str:
    head = (
        "| workers | vCPU | unloaded p99 ms | capacity req/s (c) | req/s per vCPU | p50 / p99 at capacity ms "
        "| CPU ms/req | RSS MiB/worker | errors |"
    )
    lines = [head, "|" + "---|" * 9]
    for s in summaries:
        found = s["capacity_rps"] is not None
        cap = f"{s['capacity_rps']:.1f} ({s['capacity_concurrency']})" if found else "-"
        lines.append(
            f"| {s['workers']} | {s['cpus']} | {s['unloaded_p99_ms']} | {cap} | {s['rps_per_vcpu']} "
            f"| {s['p50_at_capacity_ms']} / {s['p99_at_capacity_ms']} | {s['cpu_ms_per_request']} "
            f"| {s['rss_mib_per_worker']} | {s['errors']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(strip_separator(list(sys.argv[1:] if argv is None else argv)))
    from gateway.devstack import LocalStack

    cores = sorted(os.sched_getaffinity(0))
    started, load_before = time.monotonic(), os.getloadavg()
    print(f"starting the local stack (full, latency {args.latency})", flush=True)
    with LocalStack(latency=args.latency) as stack:
        proxies: dict[int, tuple[str, object]] = {}  # workers -> (supervisor name, Gateway)
        for workers in args.workers:
            if workers == 1:
                proxies[1] = ("gateway", stack.gateway)
            else:
                print(f"starting a proxy with {workers} workers on the same stack", flush=True)
                gateway = stack.add_gateway(f"w{workers}", extra_env={WORKERS_VARIABLE: str(workers)})
                proxies[workers] = (f"gateway-w{workers}", gateway)
        calls, pids = {}, {}
        for workers, (_, gateway) in proxies.items():
            key = stack.master_key
            if stack.database_enabled:
                limits = key_limits(parse_variant("full"))
                key = bench_database.make_virtual_key(gateway.url, stack.master_key, limits, f"w{workers}")
            calls[workers] = gateway_call(gateway.url, key, args.alias)
            pids[workers] = gateway.child.pid
        # The stack's services are this process's children; each is pinned with its own tree.
        others = [c.pid for c in psutil.Process().children() if c.pid not in pids.values()]
        for workers, call in calls.items():
            print(f"warm-up {workers} worker(s): {WARM_UP_REQUESTS} requests", flush=True)
            run(call, concurrency=5, requests=WARM_UP_REQUESTS, max_seconds=60)
        samples: dict[tuple[int, int, int], list] = {}
        cpu_ms: dict[tuple[int, int], list[float]] = {}
        rss: dict[int, float] = {}
        for round_no in range(1, args.rounds + 1):
            for cpus in args.cpus:
                proxy_cores, rest = split_cores(cores, cpus)
                pin([*pids.values()], proxy_cores)
                pin([*others, os.getpid()], rest)
                for level in args.levels:
                    for workers in rotated(list(calls), round_no - 1):
                        before = tree_cpu_seconds(pids[workers])
                        sample = run(
                            calls[workers],
                            concurrency=level,
                            requests=args.requests,
                            max_seconds=args.max_seconds,
                        )
                        sample = dataclasses.replace(sample, cpu_s=tree_cpu_seconds(pids[workers]) - before)
                        handled = len(sample.latencies_s) + sample.errors
                        if handled:
                            cpu_ms.setdefault((workers, cpus), []).append(1000 * sample.cpu_s / handled)
                        samples.setdefault((workers, cpus, level), []).append(sample)
                        name = proxies[workers][0]
                        rss[workers] = max(rss.get(workers, 0.0), stack.memory_by_service()[name].rss / MIB)
                        rate = len(sample.latencies_s) / sample.elapsed_s if sample.elapsed_s else 0.0
                        print(
                            f"  round {round_no} vCPU={cpus} c={level:<3} workers={workers} "
                            f"{len(sample.latencies_s):>4} ok {sample.errors:>3} err {rate:6.1f} req/s  "
                            f"(load average {os.getloadavg()[0]:.1f})",
                            flush=True,
                        )
        pin([*pids.values(), *others, os.getpid()], set(cores))
    summaries, levels_out = [], []
    for cpus in args.cpus:
        for workers in args.workers:
            rows = [
                summarise(f"w{workers}-cpu{cpus}", level, samples[(workers, cpus, level)]).__dict__
                for level in args.levels
            ]
            levels_out += [{"workers": workers, "cpus": cpus, **row} for row in rows]
            summaries.append(summary(rows, cpu_ms.get((workers, cpus), []), rss[workers], workers, cpus))
    payload = {
        "latency_profile": args.latency,
        "alias": args.alias,
        "levels": args.levels,
        "rounds": args.rounds,
        "machine_cpus": len(cores),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "duration_s": round(time.monotonic() - started, 1),
        "summaries": summaries,
        "levels_detail": levels_out,
    }
    args.reports.mkdir(parents=True, exist_ok=True)
    path = args.reports / "results.json"
    path.write_text(json.dumps(payload, indent=2))
    print("\nper level (pooled over rounds):")
    for row in levels_out:
        print(
            f"  workers={row['workers']} vCPU={row['cpus']} c={row['concurrency']:<3} "
            f"{row['throughput_rps']:6.1f} req/s  p50 {row['p50_ms']}  p99 {row['p99_ms']} ms  "
            f"CPU {row['gateway_cpu_ms_per_request']} ms/req  {row['errors']} err"
        )
    factor = bench_report.P99_FACTOR
    print(f"\nworkers against vCPUs, same run (capacity: p99 <= {factor:g}x the unloaded p99):")
    print(render(summaries))
    print(
        f"load average before {payload['load_average_before']}, after {payload['load_average_after']}; "
        f"{payload['duration_s']:.0f} s\nresults: {path}"
    )
    return 1 if any(s["errors"] for s in summaries) else 0


if __name__ == "__main__":
    raise SystemExit(main())
