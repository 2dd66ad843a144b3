"""The load test's verdict and summary, read from CSVs in Locust 2.47's own format, and its command line."""

import argparse

import pytest

from gateway.perf import load
from gateway.perf.load_stats import Thresholds, judge, read_history, read_stats, summary_table
from gateway.perf.traffic import chat_body, long_prompt, stream_complete

# Header and rows as Locust 2.47 wrote them in a tiny run against the local stack.
STATS_HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
    "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
    "99.99%,100%"
)
HISTORY_HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,"
    "Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,"
    "Total Min Response Time,Total Max Response Time,Total Average Content Size"
)


def _stats(tmp_path, *, requests=200, failures=1, p95=900, rows=None):
    lines = [STATS_HEADER]
    lines += rows or [
        "POST,nova-pro,120,1,200,250.5,40.1,1200.3,600.0,4.0,0.03,200,240,260,300,500,800,1100,1200,1200,1200,1200",
        "STREAM,nova-pro,80,0,300,350.5,60.2,1400.9,80.0,2.7,0.0,300,320,340,360,700,950,1300,1400,1400,1400,1400",
    ]
    lines.append(
        f",Aggregated,{requests},{failures},250,290.1,40.1,1400.9,400.0,6.7,0.03,"
        f"250,280,300,320,600,{p95},1200,1300,1400,1400,1400"
    )
    path = tmp_path / "locust_stats.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


LIMITS = Thresholds(max_error_rate=0.01, max_p95_ms=1000)


def test_rows_are_read_per_type_and_alias_with_the_aggregate_last(tmp_path):
    rows = read_stats(_stats(tmp_path))
    assert [(r.type, r.name) for r in rows] == [
        ("POST", "nova-pro"),
        ("STREAM", "nova-pro"),
        ("", "Aggregated"),
    ]
    assert (
        rows[0].requests == 120 and rows[0].failures == 1 and rows[0].p95_ms == 800 and rows[0].p99_ms == 1200
    )


def test_a_run_within_both_thresholds_passes(tmp_path):
    verdict = judge(read_stats(_stats(tmp_path, requests=200, failures=2, p95=1000)), LIMITS)
    assert verdict.passed and verdict.reasons == ()


def test_an_error_rate_above_the_limit_fails(tmp_path):
    verdict = judge(read_stats(_stats(tmp_path, requests=200, failures=3)), LIMITS)
    assert not verdict.passed
    assert "error rate 1.50%" in verdict.reasons[0]


def test_a_p95_above_the_limit_fails(tmp_path):
    verdict = judge(read_stats(_stats(tmp_path, failures=0, p95=1001)), LIMITS)
    assert not verdict.passed
    assert verdict.reasons[0].startswith("p95 1001.0 ms")


def test_a_run_without_any_request_fails(tmp_path):
    rows = read_stats(_stats(tmp_path, rows=[], requests=0, failures=0))
    assert judge(rows, LIMITS).reasons == ("no request completed",)


def test_not_applicable_percentiles_are_read_as_missing(tmp_path):
    path = tmp_path / "locust_stats.csv"
    path.write_text(
        STATS_HEADER + "\n,Aggregated,0,0,0,0,0,0,0,0,0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A\n"
    )
    (row,) = read_stats(path)
    assert row.p50_ms is None and row.p95_ms is None


def test_the_summary_table_has_one_line_per_row_and_shows_rps(tmp_path):
    text = summary_table(read_stats(_stats(tmp_path)))
    lines = text.splitlines()
    assert len(lines) == 2 + 3
    assert lines[2].split()[:4] == ["POST", "nova-pro", "120", "1"]
    assert lines[-1].split()[0] == "all" and lines[-1].endswith("6.7")


def test_history_keeps_only_aggregate_rows_over_time(tmp_path):
    path = tmp_path / "locust_stats_history.csv"
    path.write_text(
        "\n".join(
            [
                HISTORY_HEADER,
                "1795800282,0,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0.0,0,0,0",
                "1795800284,5,POST,nova-pro,2.0,0.0,200,200,200,200,200,300,300,300,300,300,300,4,0,200,210,100,300,50",
                "1795800284,5,,Aggregated,3.5,0.5,210,220,230,240,260,310,320,330,340,350,360,7,1,210,220,90,360,60",
            ]
        )
        + "\n"
    )
    history = read_history(path)
    assert [h["users"] for h in history] == [0, 5]
    assert history[1] == {
        "timestamp": 1795800284.0, "users": 5.0, "rps": 3.5, "failures_per_s": 0.5,
        "p50_ms": 210.0, "p95_ms": 310.0,
    }  # fmt: skip
    assert history[0]["p95_ms"] == 0.0


def _args(**overrides):
    values = {
        "users": 7, "spawn_rate": 2.0, "run_time": "30s", "web": False,
        "max_error_rate": 0.01, "max_p95_ms": 2000.0,
    }  # fmt: skip
    values.update(overrides)
    return argparse.Namespace(**values)


def test_headless_command_writes_csv_and_html_and_leaves_the_verdict_to_us(tmp_path):
    command = load.locust_command(_args(), "http://127.0.0.1:4000", tmp_path)
    assert command[command.index("-u") + 1] == "7" and command[command.index("-t") + 1] == "30s"
    assert "--headless" in command
    assert command[command.index("--csv") + 1] == str(tmp_path / "locust")
    assert command[command.index("--html") + 1] == str(tmp_path / "report.html")
    assert command[command.index("--exit-code-on-error") + 1] == "0"


def test_web_mode_binds_the_ui_to_loopback_and_is_not_headless(tmp_path):
    command = load.locust_command(_args(web=True), "http://127.0.0.1:4000", tmp_path)
    assert "--headless" not in command
    assert command[command.index("--web-host") + 1] == "127.0.0.1"


def test_the_key_reaches_locust_through_the_environment_not_argv(tmp_path):
    key = "sk-test-" + "x" * 10
    command = load.locust_command(_args(), "http://127.0.0.1:4000", tmp_path)
    assert all(key not in part for part in command)
    assert load.locust_environment(key)["GATEWAY_API_KEY"] == key


def test_a_complete_stream_is_recognised_and_its_text_counted():
    lines = [
        b'data: {"choices":[{"delta":{"content":"Hello "}}]}',
        b"",
        b'data: {"choices":[{"delta":{"content":"world"}}]}',
        b"data: [DONE]",
    ]
    assert stream_complete(lines) == (True, 11, "")


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([b'data: {"choices":[{"delta":{"content":"cut"}}]}'], "the stream ended without [DONE]"),
        ([b'data: {"error": {"message": "Violated guardrail policy"}}'], "Violated guardrail policy"),
    ],
)
def test_a_truncated_or_failed_stream_is_a_failure(lines, message):
    done, _, error = stream_complete(lines)
    assert not done and message in error


def test_long_prompts_are_unique_and_in_the_context_question_format():
    import random

    rng = random.Random(1)
    first, second = long_prompt(rng), long_prompt(rng)
    assert first != second
    assert "\nContext: " in first and "\nQuestion: " in first
    assert len(first.split()) > 500


def test_chat_bodies_name_the_alias_and_cap_the_answer():
    body = chat_body("nova-lite", "hi", stream=True)
    assert body["model"] == "nova-lite" and body["stream"] is True and body["max_tokens"] > 0


def test_about_half_of_the_short_prompts_repeat_verbatim_so_the_cache_sees_realistic_hits():
    import random

    from gateway.perf.traffic import SHORT_PROMPTS, short_prompt

    rng = random.Random(7)
    prompts = [short_prompt(rng) for _ in range(400)]
    verbatim = sum(p in SHORT_PROMPTS for p in prompts)
    assert 150 < verbatim < 250
    assert all(p.split(" (ticket ")[0] in SHORT_PROMPTS for p in prompts)
