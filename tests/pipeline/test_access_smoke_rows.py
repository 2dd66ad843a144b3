"""The smoke rows of access.yaml (gateway/smoke/checks/access.py) say why when they cannot run.

What they prove runs against the real local stack (`nox -s smoke -- --only access_`); here
only the cases where there is nothing to run against: they skip with the reason, or fail
when provisioning from the declaration failed at stack start.
"""

from __future__ import annotations

import pytest

from gateway.devstack.catalogue import load_environment
from gateway.smoke.checks import access
from gateway.smoke.runner import CheckFailed, Skip
from gateway.smoke.target import LocalExtras, Target


def _target(**local: object) -> Target:
    extras = None
    if local:
        extras = LocalExtras(
            emulator_url="http://emulator.test",
            phoenix_url="http://phoenix.test",
            phoenix_project="p",
            admin_url="http://admin.test",
            **local,  # type: ignore[arg-type]
        )
    return Target(url="http://gateway.test", key="sk-test", environment=load_environment("dev"), local=extras)


@pytest.mark.parametrize("row", access.ROWS, ids=lambda row: row.__name__)
def test_against_a_deployed_gateway_every_row_skips_naming_the_admin_entry(row) -> None:
    with pytest.raises(Skip, match="local stack only: the declaration is applied through"):
        row(_target())


@pytest.mark.parametrize("row", access.ROWS, ids=lambda row: row.__name__)
def test_without_a_database_every_row_skips_with_the_stacks_reason(row) -> None:
    with pytest.raises(Skip, match="no prisma engines"):
        row(_target(database_enabled=False, database_skip_reason="no prisma engines"))


@pytest.mark.parametrize("row", access.ROWS, ids=lambda row: row.__name__)
def test_a_failed_provisioning_fails_every_row_with_its_error(row) -> None:
    failed = _target(database_enabled=True, access_failed="POST /team/new: HTTP 500: boom")
    with pytest.raises(
        CheckFailed, match=r"provisioning from access\.yaml failed at stack start: POST /team/new"
    ):
        row(failed)


def test_the_rows_start_right_after_the_service_rows_before_any_row_makes_keys() -> None:
    from gateway.smoke.checks import all_checks

    names = [check.name for check in all_checks(_target())]
    first = names.index(access.ROWS[0].__name__)
    assert names[first : first + len(access.ROWS)] == [row.__name__ for row in access.ROWS]
    assert first < names.index("key_rpm_limit") and first < names.index("teams_model_allow_list_enforced")
