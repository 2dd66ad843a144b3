"""What the stack asks of the machine: binaries found or installed, folders the service user can reach."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gateway.devstack import system


def test_a_binary_in_a_search_folder_is_found_without_installing(tmp_path):
    binary = tmp_path / "redis-server"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    assert system.ensure_binary("redis-server", package="redis-server", search=(tmp_path,)) == binary


def test_a_missing_binary_that_cannot_be_installed_names_the_install_command(monkeypatch):
    monkeypatch.setattr(system, "is_root", lambda: False)
    with pytest.raises(system.MissingRequirement, match=r"apt-get install -y no-such-package"):
        system.ensure_binary("no-such-binary-devstack", package="no-such-package")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the data services as another user")
def test_a_folder_the_service_user_cannot_enter_is_refused_up_front(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    user = system.service_user()
    with pytest.raises(system.MissingRequirement, match="not traversable") as err:
        system.check_traversable(private / "postgres", user)
    assert str(err.value).startswith(f"{private} ")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the data services as another user")
def test_the_repositorys_work_folder_is_reachable_by_the_service_user():
    work = Path(__file__).resolve().parents[3] / ".work" / "devstack" / "any-run" / "postgres"
    system.check_traversable(work, system.service_user())
