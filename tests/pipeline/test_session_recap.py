"""pipeline.session_recap on nox output shaped like nox's own (messages from nox/sessions.py)."""

from __future__ import annotations

from pipeline.session_recap import main, recap, sections

LOG = """\
== the README's test command
nox > Running session lint
lint line
nox > Session lint was successful in 2 minutes.
nox > Running session smoke
stack starting
[22/23] FAIL trace_in_phoenix
21 passed, 1 failed
nox > Command python -m gateway.smoke failed with exit code 1
nox > Session smoke failed: Command failed with exit code 1 (took 2 minutes)
nox > Running session build
build line
nox > Session build was successful in 2 minutes.
nox > Ran 3 sessions in 6 minutes:
nox > * lint: success, took 2 minutes
nox > * smoke: failed, took 2 minutes
nox > * build: success, took 2 minutes
"""


def test_the_log_splits_into_one_section_per_session_with_its_outcome():
    found = sections(LOG)
    assert [(s.name, s.outcome) for s in found] == [
        ("lint", "was successful"),
        ("smoke", "failed"),
        ("build", "was successful"),
    ]


def test_only_failed_sessions_are_recapped_with_their_own_lines():
    text = recap(LOG)
    assert text.startswith("==== session smoke: failed")
    assert "[22/23] FAIL trace_in_phoenix" in text
    assert "lint line" not in text and "build line" not in text


def test_a_long_section_is_cut_to_its_last_lines_and_says_so():
    log = "nox > Running session tests\n" + "".join(f"line {i}\n" for i in range(100))
    log += "nox > Session tests failed.\n"
    text = recap(log, lines=5)
    assert "(its last 5 of 100 lines)" in text
    assert text.splitlines()[1:] == [f"line {i}" for i in range(95, 100)]


def test_a_session_cut_off_before_its_end_counts_as_unfinished():
    text = recap("nox > Running session integration\nstill applying\n")
    assert text.startswith("==== session integration: unfinished")


def test_a_run_with_no_failure_prints_nothing(tmp_path, capsys):
    log = tmp_path / "nox.log"
    log.write_text(LOG.replace("Session smoke failed: Command failed", "Session smoke was successful"))
    assert main([str(log)]) == 0
    assert capsys.readouterr().out == ""
