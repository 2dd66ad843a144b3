"""Each tool's chart is written as a real PNG, and nothing is written when there is nothing to draw."""

import pytest

from gateway.perf import charts

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
pytest.importorskip("matplotlib", reason="matplotlib (devtools group) is not installed: charts are skipped")


def _is_png(path):
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


def test_the_load_chart_is_a_png(tmp_path):
    history = [
        {"timestamp": 100.0 + i, "users": min(i, 5), "rps": 2.0 * i, "failures_per_s": 0.0,
         "p50_ms": 100.0 + i, "p95_ms": 300.0 + i}
        for i in range(6)
    ]  # fmt: skip
    assert _is_png(charts.load_chart(history, tmp_path / "load" / "latency.png"))


def test_the_eval_chart_is_a_png(tmp_path):
    scores = {"nova-pro": {"exact_match": 38.3, "f1": 48.4}, "nova-lite": {"exact_match": 0.0, "f1": 20.5}}
    assert _is_png(charts.eval_chart(scores, tmp_path / "scores.png"))


def test_the_bench_chart_is_a_png(tmp_path):
    rows = [
        {"target": target, "concurrency": level, "throughput_rps": rps, "p95_ms": 10.0 * level}
        for target, rps in (("direct", 900.0), ("gateway-full", 90.0), ("gateway-bare", 110.0))
        for level in (1, 5, 20)
    ]
    assert _is_png(charts.bench_chart(rows, tmp_path / "chart.png"))


def test_the_database_chart_is_a_png(tmp_path):
    row = {"rps_on": 20.0, "rps_off": 24.0, "cpu_ms_on": 14.0, "cpu_ms_off": 12.0}
    report = {
        "on_vs_off": {"gateway-full vs gateway-full-database": {5: row, 20: row}},
        "engine_cpu_ms_per_request_median": {"gateway-full": {5: 1.1, 20: 1.0}},
        "postgres": {"cpu_ms_per_1000_requests": 900.0, "cpu_ms_per_1000_requests_net": 700.0},
    }
    assert _is_png(charts.database_chart(report, tmp_path / "database.png"))


@pytest.mark.parametrize(
    "draw",
    [
        lambda p: charts.load_chart([], p),
        lambda p: charts.eval_chart({}, p),
        lambda p: charts.bench_chart([], p),
        lambda p: charts.database_chart({"on_vs_off": {"gateway-full vs gateway-full-database": {}}}, p),
    ],
)
def test_no_data_writes_no_chart(tmp_path, draw):
    assert draw(tmp_path / "empty.png") is None
    assert not (tmp_path / "empty.png").exists()


def test_latency_load_chart_draws_the_measured_targets_and_skips_absent_ones(tmp_path):
    pytest.importorskip("matplotlib")
    rows = [
        {"target": "gateway-full", "concurrency": c, "throughput_rps": r, "p50_ms": p, "p99_ms": 2 * p}
        for c, r, p in ((1, 2.0, 500.0), (4, 7.0, 560.0))
    ]
    path = charts.latency_load_chart(rows, ["gateway-full", "gateway-bare"], tmp_path / "latency.png")
    assert path is not None and _is_png(path)
    assert charts.latency_load_chart(rows, ["gateway-bare"], tmp_path / "none.png") is None


def test_soak_chart_is_a_png_and_needs_samples(tmp_path):
    rows = [{"minute": m, "rss_mib_per_worker": 400.0 + m} for m in (1, 2, 3)]
    assert _is_png(charts.soak_chart(rows, tmp_path / "memory.png", warm_up=1))
    assert charts.soak_chart([], tmp_path / "none.png", warm_up=1) is None


def test_soak_chart_draws_the_growth_limit_and_clips_no_sample(tmp_path, monkeypatch):
    import matplotlib.figure

    saved = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: saved.append(fig))
    rows = [{"minute": m, "rss_mib_per_worker": 800.0 + m} for m in (1, 2, 3)]

    charts.soak_chart(rows, tmp_path / "memory.png", warm_up=1, limit_mib=840.0)

    (axis,) = saved[0].axes
    assert axis.get_ylim()[0] == 0 and axis.get_ylim()[1] > 840.0
    assert [line.get_ydata()[0] for line in axis.get_lines()][1] == 840.0


def test_bench_chart_draws_a_target_that_answered_nothing_as_zero(tmp_path):
    rows = [
        {"target": "gateway-full", "concurrency": 1, "throughput_rps": 2.0, "p95_ms": 600.0},
        {"target": "gateway-bare", "concurrency": 1, "throughput_rps": 0.0, "p95_ms": None},
    ]
    assert _is_png(charts.bench_chart(rows, tmp_path / "chart.png"))
