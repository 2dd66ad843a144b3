"""Client-side checks of a running gateway, as a client sees it (the official `openai` SDK, plain HTTP).

`python -m gateway.smoke` (`nox -s smoke`) runs them against a local stack it starts;
`python -m gateway.smoke --url URL --key KEY` against a deployed gateway.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.smoke.checks import all_checks
from gateway.smoke.runner import CheckResult, exit_code, run_checks, summary
from gateway.smoke.target import LocalExtras, Target

__all__ = ["LocalExtras", "Target", "run_smoke"]


def run_smoke(
    target: Target, *, only: list[str] | None = None, log: Callable[[str], None] = print
) -> tuple[int, list[CheckResult]]:
    """Run every check (or those whose name contains a part in `only`), print the summary."""
    checks = all_checks(target)
    if only:
        checks = [c for c in checks if any(part in c.name for part in only)]
    log(
        f"running {len(checks)} smoke checks against {target.url}"
        + ("" if target.local else " (deployed gateway: local-only checks are skipped)")
    )
    results = run_checks(checks, target, log=log)
    log("")
    log(summary(results))
    return exit_code(results), results
