"""Teams and keys for a local smoke run, made from environments/<env>/access.yaml at stack start.

The same reconciler the deploy runs (`nox -s access -- apply`), through the stack's admin
entry; new key values go to a file store in the run's work folder (mode 0600), where the
checks read them (gateway/smoke/checks/access.py). Its output is kept so a check can prove
no key value was printed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENVIRONMENTS = Path(__file__).resolve().parents[2] / "environments"


@dataclass(frozen=True)
class Provisioned:
    secrets_dir: str = ""
    output: str = ""
    seconds: float = 0.0
    skipped: str = ""  # why nothing was provisioned (no database, no access.yaml)
    failed: str = ""  # the apply's error: the access checks fail with it


def secrets_dir(work_dir: Path) -> Path:
    return work_dir / "secrets" / "access"


def provision(stack: Any, *, log=print) -> Provisioned:
    """Apply the environment's access.yaml to a freshly started local stack."""
    from gateway.access.gateway import AccessError, GatewayAdmin
    from gateway.access.reconcile import reconcile
    from gateway.access.secrets import FileStore
    from modules.config import ConfigError
    from modules.config.access import ACCESS_FILE, load_access

    if not stack.database_enabled:
        log(f"access: not applied, no database: {stack.database_skip_reason}")
        return Provisioned(skipped=f"no database: {stack.database_skip_reason}")
    folder = ENVIRONMENTS / stack.environment.name
    if not (folder / ACCESS_FILE).is_file():
        return Provisioned(skipped=f"no {ACCESS_FILE} in {folder}")
    began = time.monotonic()
    lines: list[str] = []
    store_dir = secrets_dir(stack.work_dir)
    try:
        access = load_access(folder, catalogue=stack.environment.aliases())
        with GatewayAdmin(stack.admin_url, stack.master_key) as admin:
            reconcile("apply", access, admin, FileStore(store_dir), log=lines.append)
    except (AccessError, ConfigError) as err:
        log(f"access: applying {folder / ACCESS_FILE} FAILED: {err}")
        return Provisioned(failed=str(err), output="\n".join(lines))
    output = "\n".join(lines)
    seconds = time.monotonic() - began
    log(f"access: applied {folder / ACCESS_FILE} in {seconds:.1f} s (keys in {store_dir}):")
    # The plan's field lines are in `output` (the checks read it); the console gets what was done.
    said = [
        line.strip()
        for line in output.splitlines()
        if line.startswith(("Plan:", "Apply", "Drift"))
        or (line.startswith("  ") and line[2:3].isalpha())  # apply's own lines, not the plan's fields
    ]
    log("\n".join(f"      {line}" for line in said))
    return Provisioned(secrets_dir=str(store_dir), output=output, seconds=seconds)
