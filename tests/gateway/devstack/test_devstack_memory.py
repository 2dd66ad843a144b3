"""Memory is summed over whole process trees, each process once."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from gateway.devstack.memory import tree_usage


def test_a_process_tree_is_counted_with_its_children():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.2)
        mine = tree_usage([os.getpid()])
        alone = tree_usage([child.pid])
        assert mine.processes >= 2  # this test process and the child
        assert mine.rss > alone.rss > 0
    finally:
        child.kill()
        child.wait()


def test_the_same_process_given_twice_counts_once():
    once = tree_usage([os.getpid()])
    twice = tree_usage([os.getpid(), os.getpid()])
    assert twice.processes == once.processes


def test_gone_processes_count_as_nothing():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    usage = tree_usage([child.pid])
    assert usage.processes == 0 and usage.rss == 0
