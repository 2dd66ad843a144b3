"""How much memory the stack uses: summed over each service's whole process tree.

RSS counts shared pages once per process (Postgres backends share a lot), so
the sum overstates; PSS splits shared pages fairly and is the better total.
Both are reported; PSS needs permission to read /proc/<pid>/smaps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

MIB = 1024 * 1024


@dataclass(frozen=True)
class Usage:
    rss: int
    pss: int | None
    processes: int

    def describe(self) -> str:
        pss = f", PSS {self.pss / MIB:.0f} MiB" if self.pss is not None else ""
        return f"RSS {self.rss / MIB:.0f} MiB{pss} ({self.processes} processes)"


def tree_usage(pids: Iterable[int]) -> Usage:
    """Memory of the given processes and all their descendants (each counted once)."""
    seen: dict[int, psutil.Process] = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                seen.setdefault(proc.pid, proc)
    rss, pss, pss_known = 0, 0, True
    for proc in seen.values():
        try:
            rss += proc.memory_info().rss
        except psutil.Error:
            continue
        try:
            pss += proc.memory_full_info().pss
        except (psutil.Error, AttributeError):
            pss_known = False
    return Usage(rss=rss, pss=pss if pss_known else None, processes=len(seen))
