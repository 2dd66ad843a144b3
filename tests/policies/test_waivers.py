"""Waivers: one reviewed file; a failed check passes only under a live, exact, still-needed waiver."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from policies import waivers
from policies.scan import Finding, Target
from policies.waivers import WaiverError

TODAY = dt.date(2026, 11, 27)
REASON = "The ALB is the product's public entry point; the WAF allow-list restricts clients."


def failure(check="CKV_AWS_2", resource="aws_lb.edge_alb", scope="dev") -> Finding:
    return Finding(check, "", resource, False, Target(f"stack {scope}", "terraform_json", scope, Path("x")))


def waiver_file(tmp_path: Path, *entries: str) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text("waivers:\n" + "".join(entries), encoding="utf-8")
    return path


def entry(
    check="CKV_AWS_2", resource="aws_lb.edge_alb", environment="[dev]", expires="2027-01-31", reason=REASON
) -> str:
    return (
        f"  - check: {check}\n    resource: {resource}\n    environment: {environment}\n"
        f"    reason: {reason}\n    expires: {expires}\n"
    )


def load(tmp_path: Path, *entries: str) -> list[waivers.Waiver]:
    return waivers.load(waiver_file(tmp_path, *entries), TODAY)


# ---------------------------------------------------------------- matching
def test_matching_waiver_waives_the_failure(tmp_path):
    verdict = waivers.apply([failure()], load(tmp_path, entry()), TODAY, {"dev"})
    assert verdict.ok and len(verdict.waived) == 1 and not verdict.unwaived


def test_waiver_for_another_environment_does_not_waive(tmp_path):
    verdict = waivers.apply([failure(scope="prod")], load(tmp_path, entry()), TODAY, {"dev", "prod"})
    assert [f.target.scope for f in verdict.unwaived] == ["prod"]


def test_waiver_for_another_resource_does_not_waive(tmp_path):
    verdict = waivers.apply([failure(resource="aws_lb.other")], load(tmp_path, entry()), TODAY, {"dev"})
    assert len(verdict.unwaived) == 1 and not verdict.ok


def test_one_waiver_may_name_several_environments(tmp_path):
    found = [failure(scope="dev"), failure(scope="prod")]
    verdict = waivers.apply(found, load(tmp_path, entry(environment="[dev, prod]")), TODAY, {"dev", "prod"})
    assert verdict.ok and len(verdict.waived) == 2


# ---------------------------------------------------------------- expiry and staleness
def test_expired_waiver_waives_nothing_and_fails_the_gate(tmp_path):
    verdict = waivers.apply([failure()], load(tmp_path, entry(expires="2026-11-26")), TODAY, {"dev"})
    assert len(verdict.expired) == 1 and len(verdict.unwaived) == 1 and not verdict.ok


def test_waiver_is_live_on_its_expiry_day(tmp_path):
    verdict = waivers.apply([failure()], load(tmp_path, entry(expires="2026-11-27")), TODAY, {"dev"})
    assert verdict.ok


def test_waiver_matching_nothing_is_stale_and_fails_the_gate(tmp_path):
    verdict = waivers.apply([], load(tmp_path, entry()), TODAY, {"dev"})
    assert len(verdict.stale) == 1 and not verdict.ok


def test_waiver_for_an_environment_not_scanned_is_not_stale(tmp_path):
    verdict = waivers.apply([], load(tmp_path, entry(environment="prod")), TODAY, {"dev"})
    assert verdict.ok


# ---------------------------------------------------------------- the file itself
def test_missing_file_means_no_waivers(tmp_path):
    assert waivers.load(tmp_path / "absent.yaml", TODAY) == []


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (entry(reason="false positive"), "too short"),
        (entry(expires="2028-06-01"), "re-reviewed at least yearly"),
        (entry(expires="soon"), "not a date"),
        (entry(environment="'*'"), "wildcards are refused"),
        (entry(resource="'aws_lb.*'"), "wildcards are refused"),
        ("  - check: CKV_AWS_2\n    resource: aws_lb.a\n", "missing"),
        (entry() + "    owner: someone\n", "unknown"),
    ],
    ids=[
        "short-reason",
        "expiry-too-far",
        "bad-date",
        "env-wildcard",
        "resource-wildcard",
        "missing-fields",
        "unknown-field",
    ],
)
def test_malformed_waiver_is_refused_with_its_reason(tmp_path, bad, message):
    with pytest.raises(WaiverError, match=message):
        load(tmp_path, bad)


def test_duplicate_waiver_is_refused(tmp_path):
    with pytest.raises(WaiverError, match="repeats"):
        load(tmp_path, entry(environment="[dev, prod]"), entry(environment="prod"))


def test_committed_waiver_file_is_valid():
    for waiver in waivers.load(waivers.WAIVERS_FILE):
        assert waiver.expires >= dt.date.today(), f"{waiver.label()} has expired"
