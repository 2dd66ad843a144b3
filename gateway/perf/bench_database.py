"""The benchmark's database measurements: PostgreSQL's CPU, each gateway's connections, a run's virtual key.

Read from /proc, not from PostgreSQL, so measuring adds no queries to what is measured:

- PostgreSQL's CPU is the user + system time of the postmaster's process tree, plus what the
  live processes have reaped from exited children (a backend's time moves into the postmaster's
  `cutime`/`cstime` when it exits), so connections that come and go are counted too;
- a gateway's connections are the established TCP sockets of its process tree (the Prisma
  engine's pool) whose remote port is PostgreSQL's.

The gateway with the database is called with a virtual key made for the run (`/key/generate`),
never the master key: the master key skips the key lookup and its limits, so only a virtual key
puts the per-request key check, spend tracking and the batch writes in the measurement.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

PROC = Path("/proc")
TCP_ESTABLISHED = "01"
ENGINE_PROCESS = "node"  # the Prisma engine server (gateway/prisma_engine) under the gateway


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/<pid>/stat the bench needs; times in clock ticks."""

    pid: int
    ppid: int
    comm: str
    utime: int
    stime: int
    cutime: int
    cstime: int

    @property
    def own_ticks(self) -> int:
        return self.utime + self.stime

    @property
    def ticks(self) -> int:
        """Its own CPU and that of the children it has reaped."""
        return self.utime + self.stime + self.cutime + self.cstime


def parse_stat(text: str) -> ProcStat:
    """One /proc/<pid>/stat line; the command name may hold spaces and parentheses."""
    head, _, tail = text.rpartition(")")
    pid_text, _, comm = head.partition(" (")
    fields = tail.split()
    # tail starts at field 3 (state): ppid is field 4, utime..cstime are fields 14-17.
    return ProcStat(
        pid=int(pid_text),
        ppid=int(fields[1]),
        comm=comm,
        utime=int(fields[11]),
        stime=int(fields[12]),
        cutime=int(fields[13]),
        cstime=int(fields[14]),
    )


def _all_stats(proc: Path) -> dict[int, ProcStat]:
    stats = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stats[int(entry.name)] = parse_stat((entry / "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue  # exited while we looked
    return stats


def process_tree(root: int, proc: Path = PROC) -> list[ProcStat]:
    """The root and its descendants alive now ([] when the root is gone)."""
    stats = _all_stats(proc)
    if root not in stats:
        return []
    children: dict[int, list[int]] = {}
    for stat in stats.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(stats[pid])
        pending.extend(children.get(pid, ()))
    return tree


def tree_cpu_seconds(root: int, proc: Path = PROC, ticks_per_second: int | None = None) -> float:
    """CPU seconds a process tree has used so far, exited (reaped) children included."""
    hz = ticks_per_second or os.sysconf("SC_CLK_TCK")
    return sum(stat.ticks for stat in process_tree(root, proc)) / hz


def engine_cpu_seconds(root: int, proc: Path = PROC, ticks_per_second: int | None = None) -> float:
    """CPU seconds of the Prisma engine server under a gateway (local only: AWS runs the native engine)."""
    hz = ticks_per_second or os.sysconf("SC_CLK_TCK")
    return sum(s.ticks for s in process_tree(root, proc) if s.comm == ENGINE_PROCESS) / hz


def _socket_inodes(pids: Iterable[int], proc: Path) -> set[str]:
    inodes = set()
    for pid in pids:
        try:
            links = list((proc / str(pid) / "fd").iterdir())
        except OSError:
            continue
        for link in links:
            try:
                target = os.readlink(link)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    return inodes


def established_to_port(lines: Iterable[str], port: int, inodes: set[str]) -> int:
    """Rows of /proc/net/tcp{,6} that are established, go to `port` and belong to one of `inodes`."""
    count = 0
    for line in lines:
        fields = line.split()
        if len(fields) < 10 or ":" not in fields[2]:
            continue  # the header
        remote_port = int(fields[2].rsplit(":", 1)[1], 16)
        if fields[3] == TCP_ESTABLISHED and remote_port == port and fields[9] in inodes:
            count += 1
    return count


def connections(root: int, port: int, proc: Path = PROC) -> int:
    """Established connections from a process tree to `port` (a gateway's to PostgreSQL)."""
    inodes = _socket_inodes((s.pid for s in process_tree(root, proc)), proc)
    if not inodes:
        return 0
    lines: list[str] = []
    for table in ("tcp", "tcp6"):
        try:
            lines += (proc / "net" / table).read_text().splitlines()
        except OSError:
            continue
    return established_to_port(lines, port, inodes)


class ConnectionSampler:
    """Samples each gateway's connections to PostgreSQL in a thread; keeps the peak per (gateway, window).

    The bench sets `window` to (gateway, level) while that gateway's level runs, None between.
    """

    def __init__(self, roots: Mapping[str, int], port: int, *, interval: float = 0.25) -> None:
        self.roots, self.port, self.interval = dict(roots), port, interval
        self.peaks: dict[tuple[str, object], int] = {}
        self.window: object = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="db-connections", daemon=True)

    def __enter__(self) -> ConnectionSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            window = self.window
            for name, root in self.roots.items():
                key = (name, window)
                self.peaks[key] = max(self.peaks.get(key, 0), connections(root, self.port))

    def peak(self, name: str, windows: Iterable[object] | None = None) -> int:
        """Highest count seen for a gateway, over the given windows (default: the whole run)."""
        wanted = None if windows is None else set(windows)
        return max(
            (v for (n, w), v in self.peaks.items() if n == name and (wanted is None or w in wanted)),
            default=0,
        )


def make_virtual_key(url: str, master_key: str, limits: Mapping[str, int], label: str) -> str:
    """A virtual key for the run with `limits` (the gateway's upper bounds: the bench must not hit them)."""
    response = httpx.post(
        f"{url.rstrip('/')}/key/generate",
        json={"key_alias": f"bench-{label}-{int(time.time())}", **limits},
        headers={"Authorization": f"Bearer {master_key}"},
        timeout=60,
    )
    if response.status_code != 200 or not str(response.json().get("key", "")).startswith("sk-"):
        raise RuntimeError(f"/key/generate on {url} answered {response.status_code}: {response.text[:300]}")
    return response.json()["key"]


def key_spend(url: str, master_key: str, key: str) -> float | None:
    """The key's spend as LiteLLM's database has it (written by the batch job), None if unreadable."""
    try:
        response = httpx.get(
            f"{url.rstrip('/')}/key/info",
            params={"key": key},
            headers={"Authorization": f"Bearer {master_key}"},
            timeout=30,
        )
        return float(response.json()["info"]["spend"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


# pg_stat_database's counters for the bench's database: transactions and rows, read twice a run.
COUNTERS = ("xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted", "tup_updated")
COUNTERS_QUERY = (
    "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated "
    "FROM pg_stat_database WHERE datname = current_database()"
)


def database_counters(url: str) -> dict[str, int]:
    """pg_stat_database's counters now (one short query: the read itself adds one transaction)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(COUNTERS_QUERY).fetchone()
    return dict(zip(COUNTERS, (int(x) for x in row), strict=True))


TABLES_QUERY = "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables"


def table_writes(url: str) -> dict[str, int]:
    """Rows inserted, updated or deleted so far, per table (pg_stat_user_tables)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return {str(name): int(count) for name, count in conn.execute(TABLES_QUERY).fetchall()}


def busiest_tables(
    before: Mapping[str, int], after: Mapping[str, int], requests: int, *, top: int = 6
) -> dict[str, float]:
    """The tables written most over the window: rows written per request, most first."""
    if not requests:
        return {}
    grown = {name: after[name] - before.get(name, 0) for name in after}
    ranked = sorted((item for item in grown.items() if item[1] > 0), key=lambda item: -item[1])
    return {name: round(count / requests, 2) for name, count in ranked[:top]}


def per_request(before: Mapping[str, int], after: Mapping[str, int], requests: int) -> dict[str, float]:
    """Each counter's growth per request (the read between the two samples counted out of xact_commit)."""
    if not requests:
        return {}
    out = {}
    for name in COUNTERS:
        grown = after[name] - before[name] - (1 if name == "xact_commit" else 0)
        out[name] = round(grown / requests, 2)
    return out


@dataclass(frozen=True)
class PostgresCost:
    """PostgreSQL's CPU over the measured window against the requests the database-backed gateways handled."""

    cpu_s: float
    window_s: float
    idle_cpu_s_per_s: float
    requests: int

    @property
    def net_cpu_s(self) -> float:
        """What the traffic added over PostgreSQL's idle rate (autovacuum, checkpoints, LiteLLM's jobs)."""
        return max(0.0, self.cpu_s - self.idle_cpu_s_per_s * self.window_s)

    def per_thousand_ms(self, *, net: bool = False) -> float | None:
        if not self.requests:
            return None
        return round(1000 * 1000 * (self.net_cpu_s if net else self.cpu_s) / self.requests, 1)


def on_off_comparison(
    medians: Mapping[str, Mapping[int, float]],
    throughput: Mapping[tuple[str, int], float],
    pairs: Sequence[tuple[str, str]],
) -> dict[str, dict[int, dict[str, float]]]:
    """Per pair (database on, off) and level: requests/s and median CPU ms/request of each, and on ÷ off.

    Keys are "<on> vs <off>"; a level missing a figure on either side is left out.
    """
    out: dict[str, dict[int, dict[str, float]]] = {}
    for on, off in pairs:
        rows: dict[int, dict[str, float]] = {}
        for level in sorted(set(medians.get(on, {})) & set(medians.get(off, {}))):
            cpu_on, cpu_off = medians[on][level], medians[off][level]
            rps_on, rps_off = throughput.get((on, level), 0.0), throughput.get((off, level), 0.0)
            rows[level] = {
                "rps_on": rps_on,
                "rps_off": rps_off,
                "rps_on_over_off": round(rps_on / rps_off, 3) if rps_off else 0.0,
                "cpu_ms_on": cpu_on,
                "cpu_ms_off": cpu_off,
                "cpu_ms_added": round(cpu_on - cpu_off, 2),
                "cpu_on_over_off": round(cpu_on / cpu_off, 3) if cpu_off else 0.0,
            }
        out[f"{on} vs {off}"] = rows
    return out
