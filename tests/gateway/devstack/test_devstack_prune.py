"""Old run folders are pruned, but never one whose stack is still running (other engineers' stacks)."""

from __future__ import annotations

import os
import subprocess
import sys

from gateway.devstack.stack import OWNER_FILE, _prune_old_runs


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _run(root, name, pid):
    folder = root / name
    folder.mkdir()
    (folder / OWNER_FILE).write_text(f"{pid}\n")
    return folder


def test_only_the_newest_runs_are_kept(tmp_path):
    dead = _dead_pid()
    runs = [_run(tmp_path, f"2026010{i}-000000", dead) for i in range(1, 8)]
    current = runs[-1]
    _prune_old_runs(tmp_path, keep=5, current=current)
    assert sorted(p.name for p in tmp_path.iterdir()) == [r.name for r in runs[2:]]


def test_a_running_stacks_folder_survives_however_old(tmp_path):
    dead = _dead_pid()
    alive = _run(tmp_path, "20260101-000000", os.getpid())
    others = [_run(tmp_path, f"2026020{i}-000000", dead) for i in range(1, 8)]
    _prune_old_runs(tmp_path, keep=2, current=others[-1])
    assert alive.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [alive.name, others[-2].name, others[-1].name]
