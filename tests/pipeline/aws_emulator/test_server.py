"""The emulator server: loopback only, free port, extensions in, settings restored on stop."""

from __future__ import annotations

import os

import requests

from pipeline.aws_emulator import EmulatorServer, extensions


def test_the_server_listens_on_loopback(emulator):
    assert emulator.endpoint.startswith("http://127.0.0.1:")


def test_starting_the_server_installs_the_extensions(emulator):
    assert extensions.installed()


def test_sts_answers_for_the_configured_account():
    server = EmulatorServer(account_id="111111111111").start()
    try:
        assert server.client("sts").get_caller_identity()["Account"] == "111111111111"
    finally:
        server.stop()


def test_stopping_restores_the_process_settings_and_frees_the_port():
    before = os.environ.get("MOTO_ACCOUNT_ID")
    server = EmulatorServer(account_id="222222222222").start()
    server.stop()
    assert os.environ.get("MOTO_ACCOUNT_ID") == before
    try:
        requests.get(f"{server.endpoint}/moto-api/", timeout=2)
        reachable = True
    except requests.ConnectionError:
        reachable = False
    assert not reachable
