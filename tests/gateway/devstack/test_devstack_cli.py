"""`python -m gateway.devstack`: the arguments nox passes through reach the right place."""

from __future__ import annotations

import pytest

from gateway.devstack import __main__ as cli


def test_a_deployed_smoke_without_a_key_stops_before_any_request(monkeypatch, capsys):
    monkeypatch.delenv("GATEWAY_API_KEY", raising=False)
    assert cli.main(["smoke", "--url", "https://gateway.example"]) == 2
    assert "--url needs a key" in capsys.readouterr().err


def test_the_separator_nox_users_type_is_ignored(monkeypatch, capsys):
    monkeypatch.delenv("GATEWAY_API_KEY", raising=False)
    assert cli.main(["smoke", "--", "--url", "https://gateway.example"]) == 2
    assert "--url needs a key" in capsys.readouterr().err


def test_an_unknown_subcommand_is_refused():
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["deploy"])
    assert exit_info.value.code == 2
