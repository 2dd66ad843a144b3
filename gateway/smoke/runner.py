"""Runs named checks, one progress line each, then a summary table; any failure fails the run.

A check is a plain function of the target. It returns a short detail when it
passes, raises `Skip(reason)` when it cannot run here (the reason is printed,
never hidden), and fails by raising anything else, usually `CheckFailed`.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

PASS, FAIL, SKIP = "pass", "FAIL", "skip"


class Outcome(StrEnum):
    PASSED = PASS
    FAILED = FAIL
    SKIPPED = SKIP


class Skip(Exception):
    """The check cannot run against this target; the reason is reported."""


class CheckFailed(AssertionError):
    """The gateway did not behave as a client expects."""


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Any], str | None]


@dataclass(frozen=True)
class CheckResult:
    name: str
    outcome: Outcome
    detail: str
    seconds: float


def run_check(check: Check, target: Any) -> CheckResult:
    began = time.monotonic()
    try:
        detail = check.run(target) or ""
        outcome = Outcome.PASSED
    except Skip as skip:
        outcome, detail = Outcome.SKIPPED, str(skip)
    except CheckFailed as failed:
        outcome, detail = Outcome.FAILED, str(failed)
    except Exception as err:
        where = traceback.extract_tb(err.__traceback__)[-1]
        outcome = Outcome.FAILED
        detail = f"{type(err).__name__}: {err} (at {where.name}:{where.lineno})"
    return CheckResult(check.name, outcome, " ".join(detail.split()), time.monotonic() - began)


def run_checks(
    checks: Sequence[Check], target: Any, *, log: Callable[[str], None] = print
) -> list[CheckResult]:
    results = []
    width = len(str(len(checks)))
    for index, check in enumerate(checks, 1):
        result = run_check(check, target)
        results.append(result)
        log(
            f"[{index:>{width}}/{len(checks)}] {result.outcome.value:<4} {check.name:<28} "
            f"{result.seconds:5.1f} s  {result.detail}"
        )
    return results


def summary(results: Iterable[CheckResult], *, detail_width: int = 90) -> str:
    """A fixed-width table: every check, its outcome, its time, and why (always, for skips and failures)."""
    results = list(results)
    name_width = max([len(r.name) for r in results] + [5])
    lines = [
        f"{'check':<{name_width}}  result  time    detail",
        f"{'-' * name_width}  ------  ------  {'-' * 20}",
    ]
    for r in results:
        detail = r.detail if len(r.detail) <= detail_width else r.detail[: detail_width - 1] + "…"
        lines.append(f"{r.name:<{name_width}}  {r.outcome.value:<6}  {r.seconds:5.1f}s  {detail}")
    counts = {o: sum(1 for r in results if r.outcome is o) for o in Outcome}
    passed, failed, skipped = (counts[o] for o in (Outcome.PASSED, Outcome.FAILED, Outcome.SKIPPED))
    lines.append(
        f"{passed} passed, {failed} failed, {skipped} skipped in {sum(r.seconds for r in results):.1f} s"
    )
    return "\n".join(lines)


def exit_code(results: Iterable[CheckResult]) -> int:
    """Non-zero on any failure, and on an empty run (nothing proven is not a pass)."""
    results = list(results)
    if not results or any(r.outcome is Outcome.FAILED for r in results):
        return 1
    return 0
