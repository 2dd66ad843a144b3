"""gateway/perf/bench_report.py: the three-way figures of issue 19 part 3, from recorded results."""

from __future__ import annotations

import pytest

from gateway.perf import bench_report


def _row(target: str, level: int, rps: float, p50: float, p99: float, **extra: float) -> dict:
    return {
        "target": target, "concurrency": level, "throughput_rps": rps,
        "p50_ms": p50, "p95_ms": (p50 + p99) / 2, "p99_ms": p99, **extra,
    }  # fmt: skip


ROWS = [
    _row("direct", 1, 2.0, 500, 600),
    _row("direct", 8, 15.0, 510, 650),
    _row("gateway-full", 1, 1.8, 540, 700),
    _row("gateway-full", 8, 12.0, 600, 1300),
    _row("gateway-full", 16, 14.0, 900, 1500),  # p99 over 2 x 700: beyond capacity
    _row("direct-stream", 1, 1.5, 800, 900, ttft_p50_ms=300, ttft_p95_ms=320, ttft_p99_ms=350),
    _row("gateway-full-stream", 1, 1.4, 850, 990, ttft_p50_ms=345, ttft_p95_ms=380, ttft_p99_ms=420),
]


def test_added_latency_is_the_gateways_percentile_minus_the_direct_calls_at_the_same_level():
    assert bench_report.added(ROWS, "gateway-full", "direct", ("p50_ms", "p99_ms")) == {
        1: {"p50_ms": 40.0, "p99_ms": 100.0},
        8: {"p50_ms": 90.0, "p99_ms": 650.0},
    }


def test_capacity_is_the_best_throughput_whose_p99_stays_within_twice_the_unloaded_p99():
    assert bench_report.capacity(ROWS, "gateway-full") == {
        "concurrency": 8, "rps": 12.0, "unloaded_p99_ms": 700.0,
    }  # fmt: skip
    assert bench_report.capacity(ROWS, "gateway-bare") is None


def test_three_way_reports_streamed_first_token_and_total_per_worker_and_per_vcpu():
    report = bench_report.three_way(
        ROWS, {"gateway-full": {1: 30.0, 8: 20.0, 16: 25.0}}, {"gateway-full": 600.0}, vcpus=2, workers=2
    )
    assert list(report) == ["full"]  # reference and bare were not measured
    full = report["full"]
    assert full["added_stream_ttft_ms"] == {
        1: {"ttft_p50_ms": 45.0, "ttft_p95_ms": 60.0, "ttft_p99_ms": 70.0}
    }
    assert full["added_stream_total_ms"][1]["p50_ms"] == 50.0
    assert full["cpu_ms_per_request"] == 25.0  # median over levels
    assert full["rps_per_vcpu_at_capacity"] == 6.0
    assert full["rss_mib_per_worker"] == 300.0
    assert "full" in bench_report.render(report)


@pytest.mark.parametrize(
    ("full", "reference", "expected"), [(8.0, 10.0, 0.8), (12.0, 10.0, 1.2), (8.0, None, None)]
)
def test_cpu_over_compares_cpu_per_request_of_two_variants(full, reference, expected):
    report = {"full": {"cpu_ms_per_request": full}, "reference": {"cpu_ms_per_request": reference}}
    assert bench_report.cpu_over(report, "full", "reference") == expected


def _timed(guardrail_p50: float) -> list[dict]:
    return [
        *ROWS,
        _row("guardrail", 1, 5.0, guardrail_p50, guardrail_p50 + 20),
        _row("guardrail", 8, 40, 99, 99),
    ]


def test_the_latency_targets_are_the_same_runs_guardrail_round_trips_plus_the_slack_unloaded():
    verdicts = {v["target"]: v for v in bench_report.latency_targets(_timed(guardrail_p50=15))}

    added = verdicts["added p50"]  # 40 ms added, two checks of 15 ms + 15
    assert (added["concurrency"], added["limit_ms"], added["met"]) == (1, 45.0, True)
    ttft = verdicts["streamed first token added p50"]  # 45 ms added, one check + 25
    assert (ttft["limit_ms"], ttft["met"]) == (40.0, False)
    assert verdicts["streamed first token added p95"]["limit_ms"] == 75.0  # 60 ms added
    assert "NOT met (45.0 ms)" in bench_report.render_latency_targets("full", list(verdicts.values()))


def test_without_a_guardrail_round_trip_no_latency_target_is_judged():
    assert bench_report.latency_targets(ROWS) == []
