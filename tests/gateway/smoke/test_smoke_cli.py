"""`python -m gateway.smoke`: the arguments nox passes through reach the right place."""

from __future__ import annotations

from gateway.smoke import __main__ as cli


def test_a_deployed_smoke_without_a_key_stops_before_any_request(monkeypatch, capsys):
    monkeypatch.delenv("GATEWAY_API_KEY", raising=False)
    monkeypatch.delenv("LITELLM_API_KEY", raising=False)
    try:
        cli.main(["--url", "https://gateway.example"])
    except SystemExit as stopped:
        assert stopped.code == 2
    else:
        raise AssertionError("a deployed smoke without a key went on")
    assert "--url needs a key" in capsys.readouterr().err


def test_the_separator_nox_users_type_is_ignored(monkeypatch, capsys):
    monkeypatch.delenv("GATEWAY_API_KEY", raising=False)
    monkeypatch.delenv("LITELLM_API_KEY", raising=False)
    try:
        cli.main(["--", "--url", "https://gateway.example"])
    except SystemExit as stopped:
        assert stopped.code == 2
    assert "--url needs a key" in capsys.readouterr().err


def test_a_failed_smoke_shows_each_services_last_lines_without_the_access_log(tmp_path):
    (tmp_path / "gateway.log").write_text(
        "started\n"
        'INFO:     127.0.0.1:5 - "POST /chat/completions HTTP/1.1" 200\n'
        '{"message": "guardrail call failed", "level": "ERROR"}\n'
    )
    (tmp_path / "emulator.log").write_text("".join(f"line {i}\n" for i in range(40)))
    text = cli._log_tails(tmp_path, lines=3)
    assert "-- gateway.log (2 lines that are not access log)" in text
    assert "guardrail call failed" in text and "POST /chat" not in text
    assert "line 39" in text and "line 36" not in text
