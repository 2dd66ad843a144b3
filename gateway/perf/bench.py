"""`python -m gateway.perf.bench` — what the gateway adds: direct vs through LiteLLM, full vs bare.

    python -m gateway.perf.bench [--levels 1,5,20] [--requests 400] [--max-seconds 15] [--rounds 1]
                                 [--variants full,reference,bare,full-guardrail,…] [--alias nova-pro]
                                 [--no-stream] [--url URL --key KEY]

By default it compares the full configuration, the reference design's (`reference`,
gateway/perf/variants.py) and bare LiteLLM on one stack with the realistic latency profile
(issue 19 part 3): each target is also called streamed (`<target>-stream`: time to first token
and total), and bench_report.py prints what each adds over the direct call, its CPU per request,
requests/s per vCPU at p99 <= 2x the unloaded p99 and RSS per worker; latency.png charts
latency against load.

Locally it starts one stack with a proxy per variant (all share its Redis,
emulator and Phoenix and stay up for the whole run) and interleaves the
targets level by level, so machine noise hits all of them alike: `direct`
(signed Converse calls to the Bedrock emulator), `guardrail` (one signed ApplyGuardrail
round trip on the same question: the unit of issue 19's latency targets, which the run
judges for full at the lowest level), then `gateway-<variant>` for each variant, in an
order rotated every round. A variant `full-<feature>[+…]`
is the full configuration with features switched off (bench_variants.py), so
each feature's price is measured in every run. With --url only that gateway is measured
(direct Bedrock calls need AWS credentials and cost money; no bare twin exists).

A variant ending in `-database` runs without the stack's database: `full` against
`full-database` (`--variants full,full-database,bare`) is the database's price, measured in the same run.
Gateways with the database are called with a virtual key made for the run, so the key check,
spend tracking and LiteLLM's batch writes are in the figures; PostgreSQL's CPU is read from
/proc before the warm-up and after the last batch write (bench_database.py).
Writes reports/bench/results.json, chart.png and, with a database pair, database.png.
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
import yaml

from gateway import render
from gateway.devstack.target import add_target_arguments, key_from, strip_separator
from gateway.emulator.latency import REALISTIC, add_latency_argument
from gateway.perf import bench_database, bench_report, charts, variants
from gateway.perf.bench_load import (
    Call,
    direct_call,
    direct_stream,
    gateway_call,
    gateway_stream,
    guardrail_call,
    run,
)
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
from gateway.perf.bench_variants import (
    VariantSpec,
    database_pairs,
    feature_prices,
    median_cpu,
    parse_variants,
    rotated,
)

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "reports" / "bench"
MIB = 1024 * 1024
TARGET_RATIO = 0.85  # withdrawn by issue 19 (kept in results.json for the history); see bench_report
# uvicorn workers per local proxy (gateway/devstack/proxy.py sets GATEWAY_WORKERS=1).
GATEWAY_WORKERS = 1
WARM_UP_REQUESTS = 30
# PostgreSQL's idle CPU rate is read over this window before any traffic (subtracted for the net figure).
IDLE_SECONDS = 15.0
# LiteLLM adds 0-5 s of jitter to proxy_batch_write_at (proxy_server.py); then a margin for the write.
BATCH_JITTER_SECONDS = 5.0
FLUSH_MARGIN_SECONDS = 5.0


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
        default="full,reference,bare",
        help="local gateway variants: full, reference, bare, full-<feature>[+<feature>], "
        "<variant>-database (without the database) (default full,reference,bare)",
    )
    parser.add_argument(
        "--no-stream",
        dest="stream",
        action="store_false",
        help="skip the streamed twin of each target (time to first token; default: measured)",
    )
    parser.add_argument(
        "--flush-seconds",
        type=float,
        default=None,
        help="after the last level, wait for LiteLLM's batch write before reading PostgreSQL's CPU "
        "(default proxy_batch_write_at of gateway/config.yaml + 10; 0 skips it)",
    )
    parser.add_argument("--alias", default="nova-pro", help="chat alias to call (default nova-pro)")
    parser.add_argument("--reports", type=Path, default=REPORTS, help="output folder (default reports/bench)")
    add_target_arguments(parser)
    add_latency_argument(parser, default=REALISTIC)  # a local stack's emulator (issue 19)
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


@dataclasses.dataclass
class Measured:
    """What the sweep recorded besides the pooled results."""

    peak_rss: dict[str, float]
    cpu_rounds: dict[str, dict[int, list[float]]]  # gateway CPU ms/request per round
    engine_rounds: dict[str, dict[int, list[float]]]  # of which the Prisma engine server's
    warm_up: dict[str, int]  # requests sent before the rounds


def sweep(
    targets: dict[str, Call],
    levels: list[int],
    args: argparse.Namespace,
    rss: dict[str, Callable[[], float]],
    pids: dict[str, int],
    *,
    engine_pids: dict[str, int] | None = None,
    sampler: bench_database.ConnectionSampler | None = None,
) -> tuple[list[LevelResult], Measured]:
    """Every level, every target, `rounds` times; each gateway's RSS and CPU read around its run.

    Also records each gateway's CPU ms per request per round (for medians over rounds), the engine
    server's part of it for gateways with the database, and tells the sampler whose level runs.
    """
    engine_pids = engine_pids or {}
    samples: dict[tuple[str, int], list[Sample]] = {}
    measured = Measured(peak_rss={}, cpu_rounds={}, engine_rounds={}, warm_up={})
    for name, call in targets.items():
        print(f"warm-up {name}: {WARM_UP_REQUESTS} requests", flush=True)
        run(call, concurrency=5, requests=WARM_UP_REQUESTS, max_seconds=60)
        measured.warm_up[name] = WARM_UP_REQUESTS
    fixed = [name for name in targets if name not in pids]
    gateways = [name for name in targets if name in pids]
    for round_no in range(1, args.rounds + 1):
        for level in levels:
            for name in [*fixed, *rotated(gateways, round_no - 1)]:
                call = targets[name]
                if sampler is not None:
                    sampler.window = (name, level)
                cpu_before = tree_cpu_seconds(pids[name]) if name in pids else None
                engine_before = (
                    bench_database.engine_cpu_seconds(engine_pids[name]) if name in engine_pids else 0.0
                )
                sample = run(call, concurrency=level, requests=args.requests, max_seconds=args.max_seconds)
                if cpu_before is not None:
                    sample = dataclasses.replace(sample, cpu_s=tree_cpu_seconds(pids[name]) - cpu_before)
                    handled = len(sample.latencies_s) + sample.errors
                    if handled:
                        measured.cpu_rounds.setdefault(name, {}).setdefault(level, []).append(
                            1000 * (sample.cpu_s or 0.0) / handled
                        )
                        if name in engine_pids:
                            engine_s = bench_database.engine_cpu_seconds(engine_pids[name]) - engine_before
                            measured.engine_rounds.setdefault(name, {}).setdefault(level, []).append(
                                1000 * engine_s / handled
                            )
                if sampler is not None:
                    sampler.window = None
                samples.setdefault((name, level), []).append(sample)
                if name in rss:
                    measured.peak_rss[name] = max(measured.peak_rss.get(name, 0.0), rss[name]())
                rate = len(sample.latencies_s) / sample.elapsed_s if sample.elapsed_s else 0
                print(
                    f"  round {round_no} c={level:<3} {name:<28} {len(sample.latencies_s):>4} ok "
                    f"{sample.errors:>3} err  {rate:7.1f} req/s  (load average {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
    results = [
        summarise(name, level, samples[(name, level)], measured.peak_rss.get(name))
        for level in levels
        for name in targets
    ]
    return results, measured


def general_settings() -> dict:
    """gateway/config.yaml's general_settings (the batch interval the flush wait follows)."""
    return yaml.safe_load(render.BASE_CONFIG.read_text())["general_settings"]


def key_limits(spec: VariantSpec) -> dict[str, int]:
    """The run's key limits: where the configuration gives every key limits (full, unless `-limits`),
    the highest an admin may grant (config.yaml's upper bounds), which the bench must not reach, so
    the limiter's per-request work is measured; none where keys have no default limits (bare)."""
    if spec.variant != "full" or {"limits", variants.REFERENCE_DESIGN} & set(spec.disable):
        return {}
    settings = yaml.safe_load(render.BASE_CONFIG.read_text())["litellm_settings"]
    return dict(settings["upperbound_key_generate_params"])


def stack_spec(specs: list[VariantSpec]) -> VariantSpec:
    """The variant the stack itself starts: the first with the database and no tuning variables."""
    for spec in specs:
        if spec.database and not spec.env:
            return spec
    raise SystemExit(
        "--variants: list at least one variant with the database and no tuning variables "
        "(e.g. full); the stack's own gateway runs it"
    )


def postgres_cpu(stack) -> float:
    return bench_database.tree_cpu_seconds(stack.postgres.child.pid)


def print_database(report: dict) -> None:
    print("\ndatabase on against off, same run (median proxy CPU ms/request over rounds):")
    for pair, by_level in report["on_vs_off"].items():
        print(f"  {pair}")
        for level, row in sorted(by_level.items()):
            engine = report["engine_cpu_ms_per_request_median"].get(pair.split(" vs ")[0], {}).get(level)
            engine_text = f", of which the engine server {engine:.2f}" if engine is not None else ""
            print(
                f"    c={level:<3} {row['rps_on']:6.1f} vs {row['rps_off']:6.1f} req/s "
                f"({row['rps_on_over_off']:.2f}x);  CPU {row['cpu_ms_on']:.2f} vs {row['cpu_ms_off']:.2f} "
                f"ms/request "
                f"({row['cpu_ms_added']:+.2f}{engine_text})"
            )
    pg = report["postgres"]
    print(
        f"  PostgreSQL: {pg['cpu_s']:.2f} CPU s over {pg['window_s']:.0f} s "
        f"(idle {1000 * pg['idle_cpu_s_per_s']:.1f} ms/s), {pg['requests']} requests with the database "
        f"-> {pg['cpu_ms_per_1000_requests']} ms per 1,000 requests "
        f"({pg['cpu_ms_per_1000_requests_net']} net of idle)"
    )
    counters = ", ".join(f"{name} {value}" for name, value in pg["per_request"].items())
    print(f"  PostgreSQL counters per request: {counters}")
    tables = ", ".join(f"{name} {rows}" for name, rows in pg["rows_written_per_request_by_table"].items())
    print(f"  rows written per request, busiest tables: {tables}")
    peaks = ", ".join(f"{name} {peak}" for name, peak in report["peak_connections"].items())
    print(f"  peak connections to PostgreSQL per gateway: {peaks}")
    spends = ", ".join(f"{name} {spend}" for name, spend in report["key_spend_usd"].items())
    print(f"  spend written for the run's virtual keys (/key/info): {spends}")


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
    database_report: dict | None = None
    with contextlib.ExitStack() as stacks:
        targets: dict[str, Call] = {}
        rss: dict[str, Callable[[], float]] = {}
        pids: dict[str, int] = {}
        engine_pids: dict[str, int] = {}
        virtual_keys: dict[str, tuple[str, str]] = {}  # gateway -> (its URL, the run's key)
        idle_rss: dict[str, float] = {}
        stack = None
        if args.url:
            key = key_from(args.key)
            if not key:
                raise SystemExit("--url needs --key or $GATEWAY_API_KEY")
            targets["gateway"] = gateway_call(args.url, key, args.alias)
            notes.append("deployed gateway: direct Bedrock calls and the bare variant are not measured")
        else:
            from gateway.devstack import LocalStack

            first = stack_spec(specs)
            print(f"starting the local stack, variant {first.label}", flush=True)
            stack = stacks.enter_context(
                LocalStack(variant=first.variant, disable=first.disable, latency=args.latency)
            )
            emulator = stack.emulator
            direct_args = (
                stack.emulator_url, model_id_of(args.alias), emulator.access_key, emulator.secret_key,
                stack.environment.region,
            )  # fmt: skip
            targets["direct"] = direct_call(*direct_args)
            from gateway.devstack.stack import LOCAL_GUARDRAIL_ID, LOCAL_GUARDRAIL_VERSION

            targets[bench_report.GUARDRAIL] = guardrail_call(
                stack.emulator_url, LOCAL_GUARDRAIL_ID, LOCAL_GUARDRAIL_VERSION, *direct_args[2:]
            )
            if args.stream:
                targets["direct" + bench_report.STREAM] = direct_stream(*direct_args)
            started_gateways = {first.label: ("gateway", stack.gateway)}
            for spec in specs:
                if spec is first:
                    continue
                print(f"starting gateway variant {spec.label} on the same stack", flush=True)
                started_gateways[spec.label] = (
                    f"gateway-{spec.label}",
                    stack.add_gateway(
                        spec.label, variant=spec.variant, disable=spec.disable, extra_env=dict(spec.env),
                        database=spec.database,
                    ),
                )  # fmt: skip
            if not stack.database_enabled:
                notes.append(f"no database in this stack ({stack.database_skip_reason}): on/off not compared")
            for spec in specs:  # in the order listed
                service, gateway = started_gateways[spec.label]
                name = f"gateway-{spec.label}"
                key = stack.master_key
                if spec.database and stack.database_enabled:
                    limits = key_limits(spec)
                    key = bench_database.make_virtual_key(gateway.url, stack.master_key, limits, spec.label)
                    virtual_keys[name] = (gateway.url, key)
                    engine_pids[name] = gateway.child.pid
                    print(
                        f"  {name}: a virtual key made for the run "
                        f"({', '.join(f'{k} {v}' for k, v in limits.items()) or 'no limits'})"
                    )
                targets[name] = gateway_call(gateway.url, key, args.alias)
                rss[name] = lambda service=service: stack.memory_by_service()[service].rss / MIB
                idle_rss[name] = rss[name]()
                pids[name] = gateway.child.pid
                if args.stream:  # the same gateway, streamed: its CPU and RSS are read around its runs
                    streamed = name + bench_report.STREAM
                    targets[streamed] = gateway_stream(gateway.url, key, args.alias)
                    rss[streamed], pids[streamed] = rss[name], pids[name]
                    if name in engine_pids:
                        engine_pids[streamed] = engine_pids[name]
        with_database = list(engine_pids)
        pg_idle_rate = 0.0
        if with_database:
            print(f"PostgreSQL idle CPU over {IDLE_SECONDS:.0f} s before any traffic", flush=True)
            before = postgres_cpu(stack)
            time.sleep(IDLE_SECONDS)
            pg_idle_rate = (postgres_cpu(stack) - before) / IDLE_SECONDS
        with contextlib.ExitStack() as sampling:
            sampler = None
            if with_database:
                sampler = sampling.enter_context(
                    bench_database.ConnectionSampler(
                        {name: pids[name] for name in with_database}, stack.postgres.port
                    )
                )
            counters_before = bench_database.database_counters(stack.postgres.url) if with_database else {}
            tables_before = bench_database.table_writes(stack.postgres.url) if with_database else {}
            pg_started, pg_before = time.monotonic(), postgres_cpu(stack) if with_database else 0.0
            results, measured = sweep(
                targets, levels, args, rss, pids, engine_pids=engine_pids, sampler=sampler
            )
            if with_database:
                batch = float(general_settings()["proxy_batch_write_at"])
                flush = (
                    args.flush_seconds
                    if args.flush_seconds is not None
                    else batch + BATCH_JITTER_SECONDS + FLUSH_MARGIN_SECONDS
                )
                if flush > 0:
                    print(
                        f"waiting {flush:.0f} s for LiteLLM's batch write "
                        f"(proxy_batch_write_at {batch:.0f} s + jitter)",
                        flush=True,
                    )
                    time.sleep(flush)
                else:
                    notes.append(
                        "--flush-seconds 0: spend written after the last level is not in PostgreSQL's CPU"
                    )
                pg_cpu, pg_window = postgres_cpu(stack) - pg_before, time.monotonic() - pg_started
                counters_after = bench_database.database_counters(stack.postgres.url)
                tables_after = bench_database.table_writes(stack.postgres.url)
                handled = sum(r.requests for r in results if r.target in with_database)
                cost = bench_database.PostgresCost(
                    cpu_s=pg_cpu,
                    window_s=pg_window,
                    idle_cpu_s_per_s=pg_idle_rate,
                    requests=handled + sum(measured.warm_up[name] for name in with_database),
                )
                throughput = {(r.target, r.concurrency): r.throughput_rps for r in results}
                pairs = [(f"gateway-{on}", f"gateway-{off}") for on, off in database_pairs(specs)]
                database_report = {
                    "gateways_with_database": with_database,
                    "on_vs_off": bench_database.on_off_comparison(
                        median_cpu(measured.cpu_rounds), throughput, pairs
                    ),
                    "engine_cpu_ms_per_request_median": median_cpu(measured.engine_rounds),
                    "postgres": {
                        "cpu_s": round(cost.cpu_s, 3),
                        "window_s": round(cost.window_s, 1),
                        "idle_cpu_s_per_s": round(cost.idle_cpu_s_per_s, 5),
                        "requests": cost.requests,
                        "cpu_ms_per_1000_requests": cost.per_thousand_ms(),
                        "cpu_ms_per_1000_requests_net": cost.per_thousand_ms(net=True),
                        "flush_wait_s": flush,
                        # includes the idle window's background work (heartbeats, autovacuum)
                        "per_request": bench_database.per_request(
                            counters_before, counters_after, cost.requests
                        ),
                        "rows_written_per_request_by_table": bench_database.busiest_tables(
                            tables_before, tables_after, cost.requests
                        ),
                    },
                    "peak_connections": {name: sampler.peak(name) for name in with_database}
                    if sampler
                    else {},
                    "peak_connections_by_level": {
                        name: {level: sampler.peak(name, [(name, level)]) for level in levels}
                        for name in with_database
                    }
                    if sampler
                    else {},
                    "pool_limit_per_worker": general_settings().get("database_connection_pool_limit"),
                    "proxy_batch_write_at": general_settings().get("proxy_batch_write_at"),
                    "key_spend_usd": {},
                }
        if database_report is not None:
            for name, (url, key) in virtual_keys.items():
                database_report["key_spend_usd"][name] = bench_database.key_spend(url, stack.master_key, key)
    cpu_medians = median_cpu(measured.cpu_rounds)
    three_way = bench_report.three_way(
        [r.__dict__ for r in results], cpu_medians, measured.peak_rss,
        vcpus=os.cpu_count() or 1, workers=GATEWAY_WORKERS,
    )  # fmt: skip
    full_over_reference = bench_report.cpu_over(three_way, "full", "reference")
    latency_verdicts = bench_report.latency_targets([r.__dict__ for r in results])
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
        "gateway_rss_peak_mib": {k: round(v, 1) for k, v in measured.peak_rss.items()},
        "full_vs_bare_throughput": full_vs_bare,
        "full_vs_bare_cpu_per_request": cpu_full_vs_bare,
        "variants": {
            spec.label: {
                "variant": spec.variant,
                "disabled": list(spec.disable),
                "env": dict(spec.env),
                "database": spec.database and stack is not None and stack.database_enabled,
            }
            for spec in specs
        },
        "cpu_ms_per_request_by_round": measured.cpu_rounds,
        "cpu_ms_per_request_median": cpu_medians,
        "cpu_ms_per_request_vs_full_median": prices,
        "added_latency_ms": {
            name: differences(results, name, "direct") for name in (f"gateway-{v}" for v in variants)
        }
        if not args.url
        else {},
        "database": database_report,
        "three_way": three_way,
        "full_over_reference_cpu": full_over_reference,
        "full_latency_targets": latency_verdicts,
        "target_ratio": TARGET_RATIO,
        "notes": notes,
        "duration_s": round(time.monotonic() - started, 1),
    }
    path = write_results(args.reports / "results.json", results, payload)
    chart = charts.bench_chart([r.__dict__ for r in results], args.reports / "chart.png")
    print("\n" + table(results))
    latency_chart = charts.latency_load_chart(
        [r.__dict__ for r in results],
        [f"gateway-{v}{s}" for v in bench_report.COMPARED for s in ("", bench_report.STREAM)],
        args.reports / "latency.png",
    )
    if three_way:
        print("\nadded over direct, ms p50/p95/p99 (non-streamed; streamed: first token, total):")
        print(bench_report.render(three_way))
        print(
            f"requests/s per vCPU: at the highest level with p99 <= {bench_report.P99_FACTOR:g}x the "
            f"lowest level's p99, over the machine's {os.cpu_count()} vCPUs; {GATEWAY_WORKERS} worker(s)"
        )
    if full_over_reference is not None:
        verdict = "met" if full_over_reference <= bench_report.CPU_TARGET else "NOT met"
        print(
            f"target full <= {bench_report.CPU_TARGET}x reference CPU per request: {verdict} "
            f"({full_over_reference:.2f})"
        )
    if latency_verdicts:
        print(bench_report.render_latency_targets("full", latency_verdicts))
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
    database_chart = None
    if database_report is not None:
        print_database(database_report)
        database_chart = charts.database_chart(database_report, args.reports / "database.png")
    for note in notes:
        print(f"note: {note}")
    print(f"\nresults: {path}")
    print(f"chart: {chart}" if chart else f"chart: {charts.MISSING}")
    print(f"latency chart: {latency_chart}" if latency_chart else f"latency chart: {charts.MISSING}")
    if database_report is not None:
        why_not = "" if database_report["on_vs_off"] else "no <variant>-database pair in --variants"
        print(f"database chart: {database_chart or why_not or charts.MISSING}")
    failed = [r for r in results if r.errors]
    if failed:
        print("WARNING: errors in " + ", ".join(f"{r.target} c={r.concurrency}" for r in failed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
