"""`python -m gateway.emulator` as the local stack starts it: ready line, control API, clean stop."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # spawns the emulator as a real process

ROOT = Path(__file__).resolve().parents[3]
READY_PREFIX = "bedrock-emulator listening on "


def _spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.emulator", *args],
        cwd=ROOT,
        env={**base, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def process():
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        started.append(_spawn(*args, env=env))
        return started[-1]

    yield start
    for proc in started:  # never leave an emulator behind, even when a test fails
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_it_prints_one_ready_line_serves_and_stops_cleanly_on_sigterm(process):
    env = {
        "AWS_ACCESS_KEY_ID": "AKIA" + secrets.token_hex(8).upper(),
        "AWS_SECRET_ACCESS_KEY": secrets.token_hex(20),
    }
    proc = process("--host", "127.0.0.1", "--port", "0", "--latency-ms", "5", env=env)

    line = proc.stdout.readline().strip()
    assert line.startswith(READY_PREFIX), proc.stderr.read()
    url = line[len(READY_PREFIX) :]
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(f"{url}/_emulator/health", timeout=5) as response:  # noqa: S310 - local URL
        assert json.load(response)["status"] == "ok"
    with urllib.request.urlopen(f"{url}/_emulator/faults", timeout=5) as response:  # noqa: S310
        assert json.load(response)["default_latency_ms"] == 5

    proc.send_signal(signal.SIGTERM)

    assert proc.wait(timeout=10) == 0


def test_it_refuses_to_start_without_credentials(process):
    proc = process("--port", "0")

    assert proc.wait(timeout=30) == 2
    assert "credentials are required" in proc.stderr.read()


def test_the_latency_profile_is_chosen_on_the_command_line_and_a_wrong_one_is_refused(process):
    env = {"AWS_ACCESS_KEY_ID": "AKIA" + secrets.token_hex(8).upper(), "AWS_SECRET_ACCESS_KEY": "s" * 40}
    wrong = process("--port", "0", "--latency", "fast", env=env)
    assert wrong.wait(timeout=30) == 2
    assert "choose from 'realistic', 'instant'" in wrong.stderr.read()

    proc = process("--host", "127.0.0.1", "--port", "0", "--latency", "realistic", env=env)
    url = proc.stdout.readline().strip().removeprefix(READY_PREFIX)
    with urllib.request.urlopen(f"{url}/_emulator/health", timeout=5) as response:  # noqa: S310 - local URL
        assert json.load(response)["latency"] == "realistic"
