"""The degradation rows judge figures against their targets and find the fallback chain they fault."""

from __future__ import annotations

import pytest

from gateway.devstack.catalogue import load_environment
from gateway.smoke.checks import all_checks, degradation
from gateway.smoke.runner import CheckFailed, Skip
from gateway.smoke.target import LocalExtras, Target


def _target(local: LocalExtras | None = None) -> Target:
    return Target(url="http://gateway.test", key="sk-test", environment=load_environment("dev"), local=local)


def test_a_latency_over_its_target_is_reported_but_fails_only_past_twice_the_target():
    assert "OVER" not in degradation._within(2.9, 3.0, "p50")
    assert "OVER" in degradation._within(5.9, 3.0, "p50")
    with pytest.raises(CheckFailed, match="more than 2x the 3 s target"):
        degradation._within(6.1, 3.0, "p50")


def test_all_models_down_covers_the_whole_fallback_chain_of_the_alias():
    assert degradation._chain(_target(), "nova-pro") == ["nova-pro", "nova-lite", "nova-micro"]


@pytest.mark.parametrize("row", degradation.rows(), ids=lambda row: row.__name__)
def test_every_row_needs_the_local_stack_and_says_so_on_a_deployed_gateway(row):
    with pytest.raises(Skip, match="local stack only"):
        row(_target())


def test_the_hung_redis_row_skips_when_the_stack_did_not_report_its_redis():
    local = LocalExtras(
        emulator_url="http://e", phoenix_url="http://p", phoenix_project="p", database_enabled=False
    )
    with pytest.raises(Skip, match="Redis pid"):
        degradation.redis_hung_costs_under_a_second(_target(local))


def test_the_smoke_run_includes_every_degradation_row():
    names = {check.name for check in all_checks(_target())}
    assert {row.__name__ for row in degradation.rows()} <= names
