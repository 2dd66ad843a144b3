"""`python -m gateway.perf.soak` — is memory per worker flat under steady load? (issue 19 part 4)

    python -m gateway.perf.soak [--minutes 30] [--capacity RPS | --rate RPS] [--fraction 0.6]
                                [--warm-up-minutes N] [--max-growth 5] [--latency realistic|instant]

Starts the local stack (full configuration, database on, realistic Bedrock latency by default) and
sends chat calls at a constant rate (open loop: a slow gateway does not slow the sender) for
`--minutes`. The rate is --rate, or --fraction of --capacity, or of a capacity measured first in a
short closed-loop sweep (the highest throughput whose p99 stays within 2x the unloaded p99, as the
bench defines it). Each minute the gateway's process tree RSS is sampled and divided by its workers.
Fails (exit 1) when memory per worker grows more than --max-growth % after the warm-up.
Writes reports/soak/results.json and memory.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from gateway.devstack.target import strip_separator
from gateway.emulator.latency import REALISTIC, add_latency_argument
from gateway.perf import bench_database, bench_report, charts
from gateway.perf.bench_load import Call, gateway_call, run, unique_prompt
from gateway.perf.bench_stats import percentile, summarise

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "reports" / "soak"
MIB = 1024 * 1024
GATEWAY_WORKERS = 1  # gateway/devstack/proxy.py starts local proxies with one uvicorn worker
CAPACITY_LEVELS = (1, 2, 4, 8, 16)
CAPACITY_SECONDS = 10.0
WARM_UP_REQUESTS = 30
IN_FLIGHT_LIMIT = 256  # past this the gateway is far beyond capacity: requests are counted as dropped


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gateway.perf.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=30, help="duration (default 30)")
    parser.add_argument("--rate", type=float, help="requests/s to send (default: --fraction of capacity)")
    parser.add_argument(
        "--capacity", type=float, help="the gateway's capacity, requests/s (default: measured)"
    )
    parser.add_argument("--fraction", type=float, default=0.6, help="share of capacity to send (default 0.6)")
    parser.add_argument(
        "--warm-up-minutes",
        type=int,
        help="samples before this minute are warm-up (default min(5, minutes/3))",
    )
    parser.add_argument(
        "--max-growth", type=float, default=5.0, help="allowed RSS growth after warm-up, %% (default 5)"
    )
    parser.add_argument("--alias", default="nova-pro", help="chat alias to call (default nova-pro)")
    parser.add_argument("--reports", type=Path, default=REPORTS, help="output folder (default reports/soak)")
    add_latency_argument(parser, default=REALISTIC)
    args = parser.parse_args(argv)
    if args.minutes < 2:
        parser.error("--minutes: at least 2 (one warm-up sample and one after it)")
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate: must be above 0")
    if not 0 < args.fraction <= 1:
        parser.error("--fraction: must be within (0, 1]")
    if args.warm_up_minutes is None:
        args.warm_up_minutes = max(1, min(5, args.minutes // 3))
    if not 1 <= args.warm_up_minutes < args.minutes:
        parser.error(f"--warm-up-minutes: must be within 1..{args.minutes - 1} for --minutes {args.minutes}")
    return args


def memory_growth(samples_mib: Sequence[float], warm_up: int) -> float:
    """Growth in % of the highest sample after the warm-up over the sample that ends it (sample
    `warm_up`, 1-based minutes): a leak shows as a rising tail, noise stays within a few %."""
    if len(samples_mib) <= warm_up:
        raise ValueError(f"{len(samples_mib)} sample(s): need more than the {warm_up} warm-up minute(s)")
    baseline = samples_mib[warm_up - 1]
    return round(100 * (max(samples_mib[warm_up:]) - baseline) / baseline, 2)


def measure_capacity(call: Call) -> float:
    """Closed-loop sweep after a warm-up (a cold first request would inflate the unloaded p99)."""
    run(call, concurrency=5, requests=WARM_UP_REQUESTS, max_seconds=60)
    rows = []
    for level in CAPACITY_LEVELS:
        sample = run(call, concurrency=level, requests=10_000, max_seconds=CAPACITY_SECONDS)
        row = summarise("gateway", level, [sample]).__dict__
        print(
            f"  capacity sweep c={level:<3} {row['throughput_rps']:6.1f} req/s p99 {row['p99_ms']} ms",
            flush=True,
        )
        rows.append(row)
    found = bench_report.capacity(rows, "gateway")
    if found is None:
        raise SystemExit("capacity sweep: no successful request; see the gateway's log")
    return found["rps"]


async def soak(
    call: Call, rate: float, minutes: int, rss_mib: Callable[[], float]
) -> tuple[list[dict], int, int]:
    """Open loop at `rate` for `minutes`; one row per minute: RSS per worker, requests, errors, p50/p99."""
    run_id = uuid.uuid4().hex[:8]
    minute_rows: list[dict] = []
    latencies: list[float] = []
    counts = {"ok": 0, "errors": 0, "dropped": 0}
    in_flight: set[asyncio.Task] = set()

    async def one(client: httpx.AsyncClient, n: int) -> None:
        started = time.perf_counter()
        try:
            ok, *_ = await call(client, unique_prompt(run_id, n))
        except (httpx.HTTPError, ValueError, KeyError):
            ok = False
        if ok:
            counts["ok"] += 1
            latencies.append(time.perf_counter() - started)
        else:
            counts["errors"] += 1

    limits = httpx.Limits(max_connections=IN_FLIGHT_LIMIT, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        began = time.perf_counter()
        n = 0
        for minute in range(1, minutes + 1):
            end = began + 60 * minute
            while (now := time.perf_counter()) < end:
                due = began + n / rate
                if due > now:
                    await asyncio.sleep(min(due, end) - now)
                    continue
                n += 1
                if len(in_flight) >= IN_FLIGHT_LIMIT:
                    counts["dropped"] += 1
                    continue
                task = asyncio.create_task(one(client, n))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            row = {
                "minute": minute,
                "rss_mib_per_worker": round(rss_mib() / GATEWAY_WORKERS, 1),
                "ok": counts["ok"],
                "errors": counts["errors"],
                "dropped": counts["dropped"],
                "p50_ms": round(1000 * percentile(latencies, 50), 1) if latencies else None,
                "p99_ms": round(1000 * percentile(latencies, 99), 1) if latencies else None,
                "load_average": round(os.getloadavg()[0], 1),
            }
            print(
                f"  minute {minute:>3}: RSS/worker {row['rss_mib_per_worker']:7.1f} MiB  "
                f"{row['ok']} ok {row['errors']} err {row['dropped']} dropped  p50 {row['p50_ms']} "
                f"p99 {row['p99_ms']} ms  (load average {row['load_average']})",
                flush=True,
            )
            minute_rows.append(row)
            counts.update(ok=0, errors=0, dropped=0)
            latencies.clear()
        await asyncio.gather(*in_flight, return_exceptions=True)
    return minute_rows, n, len(in_flight)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(strip_separator(list(sys.argv[1:] if argv is None else argv)))
    from gateway.devstack import LocalStack
    from gateway.perf.bench import key_limits
    from gateway.perf.bench_variants import parse_variant

    print(f"starting the local stack (full, latency {args.latency})", flush=True)
    with LocalStack(latency=args.latency) as stack:
        gateway = stack.gateway
        key = stack.master_key
        if stack.database_enabled:
            key = bench_database.make_virtual_key(
                gateway.url, stack.master_key, key_limits(parse_variant("full")), "soak"
            )
        call = gateway_call(gateway.url, key, args.alias)
        capacity = args.capacity
        if args.rate is None and capacity is None:
            print("measuring capacity (closed loop, p99 <= 2x unloaded p99)", flush=True)
            capacity = measure_capacity(call)
        rate = args.rate if args.rate is not None else args.fraction * capacity
        print(
            f"soak: {rate:.2f} req/s for {args.minutes} min"
            + (f" ({args.fraction:.0%} of capacity {capacity:.2f} req/s)" if args.rate is None else ""),
            flush=True,
        )

        def rss() -> float:
            return stack.memory_by_service()["gateway"].rss / MIB

        rows, sent, _ = asyncio.run(soak(call, rate, args.minutes, rss))
    samples = [row["rss_mib_per_worker"] for row in rows]
    growth = memory_growth(samples, args.warm_up_minutes)
    passed = growth <= args.max_growth
    payload = {
        "minutes": args.minutes,
        "rate_rps": round(rate, 3),
        "capacity_rps": capacity,
        "fraction": args.fraction if args.rate is None else None,
        "latency_profile": args.latency,
        "workers": GATEWAY_WORKERS,
        "warm_up_minutes": args.warm_up_minutes,
        "max_growth_percent": args.max_growth,
        "growth_percent": growth,
        "passed": passed,
        "requests_sent": sent,
        "cpus": os.cpu_count(),
        "minutes_rows": rows,
    }
    args.reports.mkdir(parents=True, exist_ok=True)
    path = args.reports / "results.json"
    path.write_text(json.dumps(payload, indent=2))
    baseline = samples[args.warm_up_minutes - 1]
    chart = charts.soak_chart(
        rows, args.reports / "memory.png", warm_up=args.warm_up_minutes,
        limit_mib=baseline * (1 + args.max_growth / 100),
    )  # fmt: skip
    print(f"\nresults: {path}")
    print(f"memory chart: {chart}" if chart else f"memory chart: {charts.MISSING}")
    if not passed:
        print(
            f"FAILED: memory per worker grew {growth:.1f} % after the {args.warm_up_minutes}-minute warm-up "
            f"({baseline:.1f} -> {max(samples[args.warm_up_minutes :]):.1f} MiB), above the "
            f"--max-growth {args.max_growth:g} % allowed"
        )
        return 1
    print(
        f"memory per worker flat: {growth:+.1f} % after the {args.warm_up_minutes}-minute warm-up "
        f"(from {baseline:.1f} MiB; allowed {args.max_growth:g} %)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
