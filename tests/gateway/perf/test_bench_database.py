"""gateway/perf/bench_database.py: PostgreSQL CPU and gateway connections from /proc; on/off arithmetic."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.perf.bench_database import (
    COUNTERS,
    COUNTERS_QUERY,
    ConnectionSampler,
    PostgresCost,
    busiest_tables,
    connections,
    engine_cpu_seconds,
    established_to_port,
    on_off_comparison,
    parse_stat,
    per_request,
    process_tree,
    tree_cpu_seconds,
)


def stat_line(
    pid: int, comm: str, ppid: int, utime: int, stime: int, cutime: int = 0, cstime: int = 0
) -> str:
    # Fields 3.. of /proc/<pid>/stat: state, ppid, pgrp, session, tty, tpgid, flags, minflt, cminflt,
    # majflt, cmajflt, utime, stime, cutime, cstime, then more that the bench does not read.
    rest = ["S", ppid, 1, 1, 0, -1, 0, 0, 0, 0, 0, utime, stime, cutime, cstime, 20, 0, 1, 0]
    return f"{pid} ({comm}) " + " ".join(str(x) for x in rest) + "\n"


def fake_proc(root: Path, processes: list[tuple[int, str, int, int, int, int, int]]) -> Path:
    for pid, comm, ppid, utime, stime, cutime, cstime in processes:
        folder = root / str(pid)
        folder.mkdir(parents=True)
        (folder / "stat").write_text(stat_line(pid, comm, ppid, utime, stime, cutime, cstime))
    (root / "self").mkdir()  # not a pid: ignored
    return root


def test_a_stat_line_whose_command_name_holds_spaces_and_parentheses_is_read_right():
    stat = parse_stat(stat_line(42, "postgres: a (b) c", 7, 100, 20, 300, 4))
    assert (stat.pid, stat.ppid, stat.comm) == (42, 7, "postgres: a (b) c")
    assert (stat.own_ticks, stat.ticks) == (120, 424)


def test_a_trees_cpu_counts_its_live_processes_and_the_children_they_reaped_but_not_other_trees(tmp_path):
    proc = fake_proc(
        tmp_path,
        [
            # postmaster: 10+5 own, 40+10 reaped from backends that have exited
            (100, "postgres", 1, 10, 5, 40, 10),
            (101, "postgres", 100, 30, 20, 0, 0),  # a live backend
            (102, "postgres", 100, 5, 5, 0, 0),  # checkpointer
            (103, "psql", 101, 1, 1, 0, 0),  # a grandchild (never happens for postgres, but a tree is a tree)
            (200, "python", 1, 999, 999, 0, 0),  # someone else
        ],
    )
    assert sorted(s.pid for s in process_tree(100, proc)) == [100, 101, 102, 103]
    assert tree_cpu_seconds(100, proc, ticks_per_second=100) == pytest.approx((15 + 50 + 50 + 10 + 2) / 100)
    assert process_tree(999, proc) == []
    assert tree_cpu_seconds(999, proc, ticks_per_second=100) == 0


def test_the_engine_servers_cpu_is_the_node_processes_under_the_gateway(tmp_path):
    proc = fake_proc(
        tmp_path,
        [(10, "python", 1, 500, 100, 0, 0), (11, "node", 10, 60, 20, 0, 0), (12, "node", 1, 70, 0, 0, 0)],
    )
    assert engine_cpu_seconds(10, proc, ticks_per_second=100) == pytest.approx(0.8)


def test_the_cpu_of_a_backend_that_exits_moves_to_the_parent_and_is_still_counted():
    """A real tree: a child burns CPU and exits; the parent's total does not drop when it is reaped."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            "subprocess.run([sys.executable, '-c', 'x = 0\\nfor i in range(3_000_000): x += i'])\n"
            "print('reaped', flush=True)\n"
            "time.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout.readline().strip() == "reaped"
        own = parse_stat(Path(f"/proc/{parent.pid}/stat").read_text()).own_ticks / os.sysconf("SC_CLK_TCK")
        total = tree_cpu_seconds(parent.pid)
        assert total - own >= 0.05  # the exited child's CPU, reaped into cutime/cstime
    finally:
        parent.kill()
        parent.wait()


TCP_HEADER = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
)


def tcp_row(local_port: int, remote_port: int, state: str, inode: str) -> str:
    return (
        f"   0: 0100007F:{local_port:04X} 0100007F:{remote_port:04X} {state} 00000000:00000000 "
        f"00:00000000 00000000     0        0 {inode} 1 0000000000000000 20 4 30 10 -1"
    )


def test_only_established_sockets_of_the_gateway_to_postgres_port_count():
    rows = [
        TCP_HEADER,
        tcp_row(40001, 5432, "01", "111"),  # ours, established, to PostgreSQL
        tcp_row(40002, 5432, "01", "112"),  # ours
        tcp_row(40003, 5432, "06", "113"),  # ours but TIME_WAIT
        tcp_row(40004, 6379, "01", "114"),  # ours, to Redis
        tcp_row(40005, 5432, "01", "999"),  # another gateway's
    ]
    assert established_to_port(rows, 5432, {"111", "112", "113", "114"}) == 2
    assert established_to_port(rows, 5432, set()) == 0


def test_a_live_processes_connections_to_a_port_are_counted_from_proc():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import socket, time\ns = [socket.create_connection(('127.0.0.1', {port})) for _ in range(3)]\n"
            "print('up', flush=True)\ntime.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert client.stdout.readline().strip() == "up"
        assert connections(client.pid, port) == 3
        assert connections(client.pid, port + 1 if port < 65535 else port - 1) == 0
        with ConnectionSampler({"gw": client.pid}, port, interval=0.05) as sampler:
            sampler.window = ("gw", 5)
            time.sleep(0.3)
            sampler.window = None
        assert sampler.peak("gw", [("gw", 5)]) == 3
        assert sampler.peak("gw", [("gw", 20)]) == 0
        assert sampler.peak("other") == 0
    finally:
        client.kill()
        client.wait()
        server.close()


def test_postgres_cost_per_thousand_requests_gross_and_net_of_its_idle_rate():
    cost = PostgresCost(cpu_s=3.0, window_s=100.0, idle_cpu_s_per_s=0.01, requests=2000)
    assert cost.per_thousand_ms() == 1500.0
    assert cost.net_cpu_s == pytest.approx(2.0)
    assert cost.per_thousand_ms(net=True) == 1000.0
    assert PostgresCost(cpu_s=0.5, window_s=100.0, idle_cpu_s_per_s=0.01, requests=10).net_cpu_s == 0.0
    assert PostgresCost(cpu_s=1.0, window_s=1.0, idle_cpu_s_per_s=0.0, requests=0).per_thousand_ms() is None


def test_on_off_comparison_pairs_throughput_and_cpu_per_level_both_sides_have():
    medians = {"gateway-full": {5: 12.0, 20: 13.0}, "gateway-full-database": {5: 10.0}}
    throughput = {
        ("gateway-full", 5): 40.0,
        ("gateway-full-database", 5): 50.0,
        ("gateway-full", 20): 41.0,
    }
    out = on_off_comparison(medians, throughput, [("gateway-full", "gateway-full-database")])
    assert out == {
        "gateway-full vs gateway-full-database": {
            5: {
                "rps_on": 40.0,
                "rps_off": 50.0,
                "rps_on_over_off": 0.8,
                "cpu_ms_on": 12.0,
                "cpu_ms_off": 10.0,
                "cpu_ms_added": 2.0,
                "cpu_on_over_off": 1.2,
            }
        }
    }


def test_counters_per_request_leave_out_the_read_between_the_two_samples():
    before = dict.fromkeys(COUNTERS, 100)
    after = {**before, "xact_commit": 100 + 1 + 50, "tup_inserted": 100 + 25}
    out = per_request(before, after, 25)
    assert out["xact_commit"] == 2.0
    assert out["tup_inserted"] == 1.0
    assert out["xact_rollback"] == 0.0
    assert per_request(before, after, 0) == {}


def test_the_counters_query_selects_the_counters_in_their_order():
    selected = COUNTERS_QUERY.split("SELECT ", 1)[1].split(" FROM", 1)[0]
    assert tuple(name.strip() for name in selected.split(",")) == COUNTERS


def test_the_busiest_tables_are_ranked_by_rows_written_per_request():
    before = {"LiteLLM_SpendLogs": 10, "LiteLLM_DailyUserSpend": 5, "LiteLLM_VerificationToken": 1}
    after = {"LiteLLM_SpendLogs": 210, "LiteLLM_DailyUserSpend": 9, "LiteLLM_VerificationToken": 1, "new": 50}
    assert busiest_tables(before, after, 100) == {
        "LiteLLM_SpendLogs": 2.0,
        "new": 0.5,
        "LiteLLM_DailyUserSpend": 0.04,
    }
    assert busiest_tables(before, after, 100, top=1) == {"LiteLLM_SpendLogs": 2.0}


def test_a_run_key_carries_the_upper_bound_limits_only_where_keys_have_default_limits():
    import yaml

    from gateway import render
    from gateway.perf.bench import key_limits
    from gateway.perf.bench_variants import parse_variant

    bounds = yaml.safe_load(render.BASE_CONFIG.read_text())["litellm_settings"][
        "upperbound_key_generate_params"
    ]
    assert key_limits(parse_variant("full")) == bounds
    assert key_limits(parse_variant("full-cache")) == bounds
    assert key_limits(parse_variant("full-limits")) == {}
    assert key_limits(parse_variant("bare")) == {}


def test_the_database_off_twin_is_started_without_any_database_variable(tmp_path, monkeypatch):
    """stack.add_gateway(database=False), as the bench calls it: the contract loses every DATABASE_*
    (the entrypoint serves without a database when DATABASE_HOST is absent), nothing else."""
    from gateway.devstack import stack as stack_module
    from gateway.devstack.proxy import Gateway

    contracts = []

    class Started:
        def wait(self, progress=None):
            return Gateway(url="http://127.0.0.1:4100", master_key="sk-x", child=None)

    def launch(supervisor, port, contract, **kwargs):
        contracts.append(dict(contract))
        return Started()

    monkeypatch.setattr(stack_module, "launch_gateway", launch)
    stack = stack_module.LocalStack(work_dir=tmp_path, log=lambda line: None)
    stack._supervisor, stack.gateway, stack._ports = object(), object(), lambda: 4100
    stack._contract_values = {
        "DATABASE_HOST": "127.0.0.1",
        "DATABASE_PORT": "5432",
        "DATABASE_NAME": "litellm",
        "DATABASE_USERNAME": "litellm_app",
        "DATABASE_PASSWORD_FILE": str(tmp_path / "password"),
        "LITELLM_MASTER_KEY": "sk-" + "x" * 40,
    }
    stack.add_gateway("full", database=True)
    stack.add_gateway("full-database", database=False)
    with_database, without = contracts
    assert {k for k in with_database if k.startswith("DATABASE_")} == {
        "DATABASE_HOST",
        "DATABASE_PORT",
        "DATABASE_NAME",
        "DATABASE_USERNAME",
        "DATABASE_PASSWORD_FILE",
    }
    assert not [k for k in without if k.startswith("DATABASE_")]
    assert without["LITELLM_MASTER_KEY"] == with_database["LITELLM_MASTER_KEY"]
