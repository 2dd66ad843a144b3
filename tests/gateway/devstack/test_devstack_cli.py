"""`python -m gateway.devstack`: it serves the local stack; the checks have their own CLI (gateway.smoke)."""

from __future__ import annotations

import pytest

from gateway.devstack import __main__ as cli


def test_an_unknown_subcommand_is_refused():
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["deploy"])
    assert exit_info.value.code == 2


def test_smoke_is_no_longer_a_subcommand_of_the_stack():
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["smoke"])
    assert exit_info.value.code == 2
