"""Which model aliases the perf tools call: a variable's list, else the environment file's catalogue."""

from __future__ import annotations

import os


def aliases(mode: str, variable: str | None = None, *, environment: str | None = None) -> list[str]:
    """Aliases of `mode` ("chat"/"embedding"): `variable`'s comma-separated list, else the catalogue."""
    raw = os.environ.get(variable, "").strip() if variable else ""
    if raw:
        return [a.strip() for a in raw.split(",") if a.strip()]
    from gateway.devstack.catalogue import load_environment

    name = environment or os.environ.get("GATEWAY_LOAD_ENVIRONMENT", "dev")
    return load_environment(name).aliases(mode)
