"""What the stack needs from the machine: system packages and an unprivileged user.

A fresh machine of the project's kind (Debian, root, registries reachable)
must run `nox -s smoke` in one command, so missing server binaries are
installed from Debian's packages, saying so. Anywhere else the stack stops
with the command a person has to run.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

# The checkout the stack runs from: its children's working directory and import path.
REPO = Path(__file__).resolve().parents[2]
# Runs Postgres (initdb refuses root) and Redis when the stack is started as root.
SERVICE_USER = "llmgw-devstack"


class MissingRequirement(Exception):
    """Something the stack needs is not on this machine and cannot be installed here."""


def is_root() -> bool:
    return os.geteuid() == 0


def service_user(log=print) -> str | None:
    """The user that runs the data services: a dedicated system user when root, else nobody special.

    Returns None when the stack already runs unprivileged (services run as the caller).
    """
    if not is_root():
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        log(f"creating the system user {SERVICE_USER!r} to run PostgreSQL and Redis (initdb refuses root)")
        created = subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", SERVICE_USER],
            capture_output=True, text=True,
        )  # fmt: skip
        if created.returncode != 0:
            try:
                pwd.getpwnam(SERVICE_USER)  # another stack created it at the same moment
            except KeyError:
                raise MissingRequirement(f"useradd {SERVICE_USER} failed: {created.stderr.strip()}") from None
    return SERVICE_USER


def give_to(path: Path, user: str | None) -> None:
    """Make `path` (a directory tree) owned by `user`, private to it."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def check_traversable(path: Path, user: str | None) -> None:
    """Fail early, clearly, when `user` could not reach `path` (e.g. a work folder under /root)."""
    if user is None:
        return
    uid = pwd.getpwnam(user).pw_uid
    for parent in path.resolve().parents:
        if not parent.exists():
            continue  # created later, by us, traversable
        info = parent.stat()
        if info.st_uid != uid and not info.st_mode & 0o001:
            raise MissingRequirement(
                f"{parent} is not traversable by {user!r}, which runs PostgreSQL and Redis: "
                "choose a work folder elsewhere (--work-dir) or `chmod o+x` that folder"
            )


def ensure_binary(name: str, *, package: str, search: tuple[Path, ...] = (), log=print) -> Path:
    """The path of `name`, installing Debian's `package` first when it is missing and we are root."""
    found = _find(name, search)
    if found:
        return found
    if is_root() and shutil.which("apt-get"):
        log(f"{name} not found: installing it (apt-get install -y --no-install-recommends {package})")
        result = _apt("install", "-y", "--no-install-recommends", package)
        if result.returncode != 0 and "Unable to locate package" in result.stderr:
            log("apt-get knows no such package yet: apt-get update, then again")  # a machine never updated
            _apt("update", "-q")
            result = _apt("install", "-y", "--no-install-recommends", package)
        if result.returncode != 0:
            raise MissingRequirement(
                f"`apt-get install -y {package}` failed ({result.returncode}):\n{result.stdout[-2000:]}"
                f"{result.stderr[-2000:]}"
            )
        found = _find(name, search)
        if found:
            return found
    raise MissingRequirement(
        f"{name} is not installed: run `sudo apt-get install -y {package}` (Debian/Ubuntu)"
    )


def _apt(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True, timeout=900)


def _find(name: str, search: tuple[Path, ...]) -> Path | None:
    for folder in search:
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    which = shutil.which(name)
    return Path(which) if which else None
