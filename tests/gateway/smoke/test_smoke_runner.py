"""The runner reports every check and fails the run on any failure, never hiding a skip's reason."""

from __future__ import annotations

from gateway.smoke.runner import Check, CheckFailed, Outcome, Skip, exit_code, run_check, run_checks, summary


def passing(target):
    return "all good"


def failing(target):
    raise CheckFailed("expected HTTP 401, got 500")


def skipping(target):
    raise Skip("local stack only: needs the emulator")


def crashing(target):
    return {}["missing"]


CHECKS = [Check("passing", passing), Check("failing", failing), Check("skipping", skipping)]


def test_a_failing_check_fails_the_run():
    results = run_checks(CHECKS, target=None, log=lambda line: None)
    assert exit_code(results) == 1


def test_passes_and_skips_alone_pass_the_run():
    results = run_checks([CHECKS[0], CHECKS[2]], target=None, log=lambda line: None)
    assert exit_code(results) == 0


def test_an_empty_run_is_not_a_pass():
    assert exit_code([]) == 1


def test_an_unexpected_exception_is_a_failure_naming_the_error_and_where():
    result = run_check(Check("crashing", crashing), target=None)
    assert result.outcome is Outcome.FAILED
    assert result.detail.startswith("KeyError: 'missing'") and "crashing" in result.detail


def test_each_check_prints_one_progress_line_with_its_outcome():
    lines = []
    run_checks(CHECKS, target=None, log=lines.append)
    assert len(lines) == 3
    assert "pass" in lines[0] and "FAIL" in lines[1] and "skip" in lines[2]
    assert "expected HTTP 401, got 500" in lines[1]


def test_the_summary_lists_every_check_with_the_reason_of_skips_and_failures():
    results = run_checks(CHECKS, target=None, log=lambda line: None)
    table = summary(results)
    assert "needs the emulator" in table
    assert "expected HTTP 401, got 500" in table
    assert table.splitlines()[-1].startswith("1 passed, 1 failed, 1 skipped")
