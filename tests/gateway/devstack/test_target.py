"""Smoke and the perf tools target a deployed gateway alike: --url plus a key that stays out of argv."""

import argparse

import pytest

from gateway.devstack.target import add_target_arguments, gateway_target, key_from, strip_separator


def test_an_explicit_key_wins_over_the_variables():
    assert key_from("sk-arg", {"GATEWAY_API_KEY": "sk-env"}) == "sk-arg"


def test_the_gateway_variable_is_preferred_to_the_reference_designs_name():
    env = {"GATEWAY_API_KEY": "sk-gateway", "LITELLM_API_KEY": "sk-litellm"}
    assert key_from(None, env) == "sk-gateway"
    assert key_from(None, {"LITELLM_API_KEY": "sk-litellm"}) == "sk-litellm"


def test_no_key_anywhere_is_none():
    assert key_from(None, {}) is None


def test_a_leading_double_dash_from_nox_is_dropped():
    assert strip_separator(["--", "--url", "http://x"]) == ["--url", "http://x"]
    assert strip_separator(["--url", "http://x"]) == ["--url", "http://x"]


def test_a_deployed_gateway_is_used_as_given_without_a_local_stack(monkeypatch):
    monkeypatch.setenv("GATEWAY_API_KEY", "sk-from-env")
    with gateway_target("https://gateway.example.com/", None) as target:
        assert target.url == "https://gateway.example.com"
        assert target.key == "sk-from-env"
        assert not target.local


def test_a_deployed_gateway_without_a_key_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.delenv("GATEWAY_API_KEY", raising=False)
    monkeypatch.delenv("LITELLM_API_KEY", raising=False)
    with pytest.raises(SystemExit) as stopped, gateway_target("https://gateway.example.com", None):
        pass
    assert stopped.value.code == 2
    assert "--url needs a key" in capsys.readouterr().err


def test_the_shared_options_are_url_and_key():
    parser = argparse.ArgumentParser()
    add_target_arguments(parser)
    args = parser.parse_args(["--url", "http://127.0.0.1:4000", "--key", "sk-x"])
    assert (args.url, args.key) == ("http://127.0.0.1:4000", "sk-x")


def test_a_stack_that_fails_to_start_exits_2_and_says_why(capsys):
    from gateway.devstack.stack import StackError
    from gateway.devstack.target import run_stack_command

    def failing(args):
        raise StackError("postgres did not become ready")

    assert run_stack_command(failing, argparse.Namespace()) == 2
    assert "local stack failed: postgres did not become ready" in capsys.readouterr().err
