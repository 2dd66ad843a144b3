"""gateway/perf/workers.py: pinning, the capacity summary and its arguments."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from gateway.perf import workers


def test_pin_moves_every_process_of_a_tree_to_the_given_cores():
    cores = sorted(os.sched_getaffinity(0))
    sleeper = "import time; time.sleep(30)"
    script = (
        f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {sleeper!r}]); time.sleep(30)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        proc = psutil.Process(parent.pid)
        for _ in range(200):
            if proc.children():
                break
            time.sleep(0.05)
        tree = [proc, *proc.children(recursive=True)]
        assert len(tree) == 2
        workers.pin([parent.pid], {cores[0]})
        assert all(os.sched_getaffinity(p.pid) == {cores[0]} for p in tree)
    finally:
        for p in psutil.Process(parent.pid).children(recursive=True):
            p.kill()
        parent.kill()
        parent.wait()


def test_the_proxy_gets_the_first_cores_and_everything_else_the_rest():
    assert workers.split_cores([0, 1], 1) == ({0}, {1})
    assert workers.split_cores([0, 1, 2, 3], 2) == ({0, 1}, {2, 3})


def test_with_every_core_given_to_the_proxy_everything_else_shares_them():
    assert workers.split_cores([0, 1], 2) == ({0, 1}, {0, 1})


def _row(c: int, rps: float, p50: float, p99: float) -> dict:
    return {"target": "w", "concurrency": c, "throughput_rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": 0}


def test_capacity_is_the_best_throughput_within_twice_the_unloaded_p99_divided_by_vcpus():
    rows = [
        _row(1, 2.0, 450, 500),
        _row(4, 7.0, 500, 800),
        _row(8, 9.0, 700, 990),
        _row(16, 10.0, 1500, 2400),
    ]
    got = workers.summary(rows, [30.0, 40.0, 35.0], rss_mib=1500.0, workers=2, cpus=2)
    assert got["capacity_rps"] == 9.0 and got["capacity_concurrency"] == 8
    assert got["rps_per_vcpu"] == 4.5
    assert (got["p50_at_capacity_ms"], got["p99_at_capacity_ms"]) == (700, 990)
    assert got["cpu_ms_per_request"] == 35.0
    assert got["rss_mib_per_worker"] == 750.0


def test_defaults_compare_one_and_two_workers_at_one_and_two_vcpus_realistically():
    args = workers.parse_args([], available=2)
    assert (args.workers, args.cpus, args.latency) == ([1, 2], [1, 2], "realistic")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--cpus", "1,4"], "--cpus: at most the 2 CPU(s)"),
        (["--workers", "0,1"], "--workers: at least one number, each 1 or more"),
        (["--levels", "a"], "--levels: comma-separated whole numbers"),
        (["--rounds", "0"], "--rounds and --requests: at least 1"),
    ],
)
def test_bad_arguments_are_refused_by_name(argv, message, capsys):
    with pytest.raises(SystemExit):
        workers.parse_args(argv, available=2)
    assert message in capsys.readouterr().err
