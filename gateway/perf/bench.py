"""`python -m gateway.perf.bench` — what the gateway adds: direct vs through LiteLLM, full vs bare.

    python -m gateway.perf.bench [--levels 1,5,20] [--requests 400] [--max-seconds 15] [--rounds 1]
                                 [--variants full,bare,full-guardrail,…] [--alias nova-pro]
                                 [--url URL --key KEY]

Locally it starts one stack with a proxy per variant (all share its Redis,
emulator and Phoenix and stay up for the whole run) and interleaves the
targets level by level, so machine noise hits all of them alike: `direct`
(signed Converse calls to the Bedrock emulator), then `gateway-<variant>` for
each variant, in an order rotated every round. A variant `full-<feature>[+…]`
is the full configuration with features switched off (bench_variants.py), so
each feature's price is measured in every run. With --url only that gateway is measured
(direct Bedrock calls need AWS credentials and cost money; no bare twin exists).
Writes reports/bench/results.json and chart.png.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from gateway.perf import charts
from gateway.perf.bench_load import Call, direct_call, gateway_call, run
from gateway.perf.bench_stats import (
    LevelResult,
    Sample,
    cpu_ratios,
    differences,
    ratios,
    summarise,
    table,
    write_results,
)
from gateway.perf.bench_variants import feature_prices, median_cpu, parse_variants, rotated
from gateway.perf.target import add_target_arguments, key_from, strip_separator

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "reports" / "bench"
MIB = 1024 * 1024
TARGET_RATIO = 0.85
WARM_UP_REQUESTS = 30


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gateway.perf.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,5,20", help="concurrency levels (default 1,5,20)")
    parser.add_argument(
        "--requests", type=int, default=400, help="requests per target and level (default 400)"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=15, help="time cap per target and level (default 15)"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat the interleaved sweep (pooled; default 1)"
    )
    parser.add_argument(
        "--variants",
        default="full,bare",
        help="local gateway variants: full, bare, full-<feature>[+<feature>] (default full,bare)",
    )
    parser.add_argument("--alias", default="nova-pro", help="chat alias to call (default nova-pro)")
    parser.add_argument("--reports", type=Path, default=REPORTS, help="output folder (default reports/bench)")
    add_target_arguments(parser)
    return parser.parse_args(argv)


def model_id_of(alias: str) -> str:
    from gateway.devstack.catalogue import load_environment

    for model in load_environment("dev").models:
        if model.alias == alias:
            return model.model_id
    raise SystemExit(f"alias {alias!r} is not in environments/dev/config.yaml")


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its descendants so far."""
    total = 0.0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def sweep(
    targets: dict[str, Call],
    levels: list[int],
    args: argparse.Namespace,
    rss: dict[str, Callable[[], float]],
    pids: dict[str, int],
) -> tuple[list[LevelResult], dict[str, float], dict[str, dict[int, list[float]]]]:
    """Every level, every target, `rounds` times; each gateway's RSS and CPU read around its run.

    Also returns each gateway's CPU ms per request per round, for medians over rounds.
    """
    samples: dict[tuple[str, int], list[Sample]] = {}
    peak_rss: dict[str, float] = {}
    cpu_rounds: dict[str, dict[int, list[float]]] = {}
    for name, call in targets.items():
        print(f"warm-up {name}: {WARM_UP_REQUESTS} requests", flush=True)
        run(call, concurrency=5, requests=WARM_UP_REQUESTS, max_seconds=60)
    fixed = [name for name in targets if name not in pids]
    gateways = [name for name in targets if name in pids]
    for round_no in range(1, args.rounds + 1):
        for level in levels:
            for name in [*fixed, *rotated(gateways, round_no - 1)]:
                call = targets[name]
                cpu_before = tree_cpu_seconds(pids[name]) if name in pids else None
                sample = run(call, concurrency=level, requests=args.requests, max_seconds=args.max_seconds)
                if cpu_before is not None:
                    sample = dataclasses.replace(sample, cpu_s=tree_cpu_seconds(pids[name]) - cpu_before)
                    handled = len(sample.latencies_s) + sample.errors
                    if handled:
                        cpu_rounds.setdefault(name, {}).setdefault(level, []).append(
                            1000 * (sample.cpu_s or 0.0) / handled
                        )
                samples.setdefault((name, level), []).append(sample)
                if name in rss:
                    peak_rss[name] = max(peak_rss.get(name, 0.0), rss[name]())
                rate = len(sample.latencies_s) / sample.elapsed_s if sample.elapsed_s else 0
                print(
                    f"  round {round_no} c={level:<3} {name:<28} {len(sample.latencies_s):>4} ok "
                    f"{sample.errors:>3} err  {rate:7.1f} req/s  (load average {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
    results = [
        summarise(name, level, samples[(name, level)], peak_rss.get(name))
        for level in levels
        for name in targets
    ]
    return results, peak_rss, cpu_rounds


def main(argv: list[str] | None = None) -> int:
    args = parse_args(strip_separator(list(sys.argv[1:] if argv is None else argv)))
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    try:
        specs = parse_variants(args.variants)
    except ValueError as error:
        raise SystemExit(f"--variants: {error}") from None
    variants = [spec.label for spec in specs]
    started = time.monotonic()
    load_before = os.getloadavg()
    notes: list[str] = []
    with contextlib.ExitStack() as stacks:
        targets: dict[str, Call] = {}
        rss: dict[str, Callable[[], float]] = {}
        pids: dict[str, int] = {}
        idle_rss: dict[str, float] = {}
        if args.url:
            key = key_from(args.key)
            if not key:
                raise SystemExit("--url needs --key or $GATEWAY_API_KEY")
            targets["gateway"] = gateway_call(args.url, key, args.alias)
            notes.append("deployed gateway: direct Bedrock calls and the bare variant are not measured")
        else:
            from gateway.devstack import LocalStack

            first, *others = specs
            if first.env:
                raise SystemExit(
                    f"--variants: list a variant without tuning variables first, not {first.label}"
                )
            print(f"starting the local stack, variant {first.label}", flush=True)
            stack = stacks.enter_context(LocalStack(variant=first.variant, disable=first.disable))
            emulator = stack.emulator
            targets["direct"] = direct_call(
                stack.emulator_url, model_id_of(args.alias), emulator.access_key, emulator.secret_key,
                stack.environment.region,
            )  # fmt: skip
            gateways = {first.label: ("gateway", stack.gateway)}
            for spec in others:
                print(f"starting gateway variant {spec.label} on the same stack", flush=True)
                gateways[spec.label] = (
                    f"gateway-{spec.label}",
                    stack.add_gateway(
                        spec.label, variant=spec.variant, disable=spec.disable, extra_env=dict(spec.env)
                    ),
                )
            for label, (service, gateway) in gateways.items():
                name = f"gateway-{label}"
                targets[name] = gateway_call(gateway.url, stack.master_key, args.alias)
                rss[name] = lambda service=service: stack.memory_by_service()[service].rss / MIB
                idle_rss[name] = rss[name]()
                pids[name] = gateway.child.pid
        results, peak_rss, cpu_rounds = sweep(targets, levels, args, rss, pids)
    cpu_medians = median_cpu(cpu_rounds)
    prices = feature_prices(cpu_medians)
    full_vs_bare = ratios(results, "gateway-full", "gateway-bare")
    cpu_full_vs_bare = cpu_ratios(results, "gateway-full", "gateway-bare")
    payload = {
        "litellm": importlib.metadata.version("litellm"),
        "alias": args.alias,
        "levels": levels,
        "requests_per_level": args.requests,
        "max_seconds_per_level": args.max_seconds,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "gateway_rss_idle_mib": {k: round(v, 1) for k, v in idle_rss.items()},
        "gateway_rss_peak_mib": {k: round(v, 1) for k, v in peak_rss.items()},
        "full_vs_bare_throughput": full_vs_bare,
        "full_vs_bare_cpu_per_request": cpu_full_vs_bare,
        "variants": {
            spec.label: {"variant": spec.variant, "disabled": list(spec.disable), "env": dict(spec.env)}
            for spec in specs
        },
        "cpu_ms_per_request_by_round": cpu_rounds,
        "cpu_ms_per_request_median": cpu_medians,
        "cpu_ms_per_request_vs_full_median": prices,
        "added_latency_ms": {
            name: differences(results, name, "direct") for name in (f"gateway-{v}" for v in variants)
        }
        if not args.url
        else {},
        "target_ratio": TARGET_RATIO,
        "notes": notes,
        "duration_s": round(time.monotonic() - started, 1),
    }
    path = write_results(args.reports / "results.json", results, payload)
    chart = charts.bench_chart([r.__dict__ for r in results], args.reports / "chart.png")
    print("\n" + table(results))
    if prices:
        print("\nmedian proxy CPU ms/request over rounds, and the difference to gateway-full:")
        for target, by_level in cpu_medians.items():
            cells = "  ".join(
                f"c={level}: {value:.2f}"
                + (f" ({prices[target][level]:+.2f})" if level in prices.get(target, {}) else "")
                for level, value in sorted(by_level.items())
            )
            print(f"  {target:<28} {cells}")
    for level, ratio in full_vs_bare.items():
        cpu = cpu_full_vs_bare.get(level)
        cpu_text = f"; bare/full CPU per request {cpu:.2f}" if cpu is not None else ""
        print(f"full/bare throughput at c={level}: {ratio:.2f}{cpu_text}")
    if full_vs_bare:
        top = full_vs_bare[max(full_vs_bare)]
        verdict = "reached" if top >= TARGET_RATIO else "NOT reached"
        print(f"target full >= {TARGET_RATIO}x bare at c={max(full_vs_bare)}: {verdict} ({top:.2f})")
    print(f"\nresults: {path}")
    print(f"chart: {chart}" if chart else f"chart: {charts.MISSING}")
    failed = [r for r in results if r.errors]
    if failed:
        print("WARNING: errors in " + ", ".join(f"{r.target} c={r.concurrency}" for r in failed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
