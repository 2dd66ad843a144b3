"""`python -m gateway.smoke` — what `nox -s smoke` runs.

python -m gateway.smoke                       start a local stack, run the client checks, stop it
python -m gateway.smoke --url URL [--key KEY] the client checks against a deployed gateway
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from gateway.devstack.target import (
    add_stack_arguments,
    add_target_arguments,
    gateway_target,
    run_stack_command,
    strip_separator,
)
from gateway.smoke import LocalExtras, Target, run_smoke
from gateway.smoke.provision import provision


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gateway.smoke", description=__doc__.splitlines()[0])
    add_stack_arguments(parser)
    add_target_arguments(parser)
    parser.add_argument(
        "--only", action="append", help="run only checks whose name contains this (repeatable)"
    )
    parser.add_argument("--report", type=Path, help="also write the results as JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(strip_separator(list(sys.argv[1:] if argv is None else argv)))
    return run_stack_command(smoke, args)


def smoke(args: argparse.Namespace) -> int:
    from gateway.devstack import app_role
    from gateway.devstack.catalogue import load_environment

    if args.url:
        with gateway_target(args.url, args.key) as chosen:
            target = Target(url=chosen.url, key=chosen.key, environment=load_environment(args.environment))
        try:
            code, results = run_smoke(target, only=args.only)
        finally:
            target.close()
        _write_report(args.report, results, {"url": args.url})
        return code

    began = time.monotonic()
    with gateway_target(
        None,
        None,
        variant=args.variant,
        environment=args.environment,
        work_dir=args.work_dir,
        entry="front",
        latency=args.latency,
    ) as chosen:
        stack = chosen.stack
        ready = time.monotonic() - began
        provisioned = provision(stack)
        memory_ready = stack.memory()
        target = Target(
            url=chosen.url,
            key=chosen.key,
            environment=stack.environment,
            local=LocalExtras(
                emulator_url=stack.emulator_url,
                phoenix_url=stack.phoenix_url,
                phoenix_project=stack.phoenix_project,
                database_enabled=stack.database_enabled,
                database_skip_reason=stack.database_skip_reason,
                trace_content=stack.trace_content,
                admin_url=stack.admin_url,
                redis_pid=stack.redis.child.pid if stack.redis else 0,
                postgres_pid=stack.postgres.child.pid if stack.postgres else 0,
                database_admin_url=stack.postgres.url if stack.postgres and stack.database_enabled else "",
                database_app_role=app_role.APP_ROLE if stack.database_enabled else "",
                database_password_file=str(stack.database_password_file) if stack.database_enabled else "",
                access_secrets_dir=provisioned.secrets_dir,
                access_output=provisioned.output,
                access_failed=provisioned.failed,
            ),
        )
        try:
            code, results = run_smoke(target, only=args.only)
        finally:
            target.close()
        memory_after = stack.memory()
        by_service = stack.memory_by_service()
        checks_seconds = time.monotonic() - began - ready
        stopping = time.monotonic()
        timings = dict(stack.timings)
        work_dir = stack.work_dir
    stop_seconds = time.monotonic() - stopping
    total = time.monotonic() - began
    if code != 0:
        print(_log_tails(work_dir / "logs"))
    print(
        f"\nsmoke took {total:.1f} s: stack start {ready:.1f} s, checks {checks_seconds:.1f} s, "
        f"stop {stop_seconds:.1f} s"
    )
    print("time to ready: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items()))
    print(f"stack memory when ready: {memory_ready.describe()}; after the checks: {memory_after.describe()}")
    print(
        "after the checks, per service: "
        + ", ".join(f"{n} {u.rss / 2**20:.0f} MiB" for n, u in by_service.items())
    )
    _write_report(
        args.report or work_dir / "smoke-report.json",
        results,
        {
            "total_seconds": round(total, 1),
            "start_seconds": round(ready, 1),
            "checks_seconds": round(checks_seconds, 1),
            "stop_seconds": round(stop_seconds, 1),
            "ready_seconds": {k: round(v, 1) for k, v in timings.items()},
            "rss_mib_ready": round(memory_ready.rss / 2**20),
            "rss_mib_after": round(memory_after.rss / 2**20),
            "pss_mib_after": round(memory_after.pss / 2**20) if memory_after.pss is not None else None,
            "rss_mib_by_service": {n: round(u.rss / 2**20) for n, u in by_service.items()},
        },
    )
    return code


def _log_tails(folder: Path, lines: int = 25) -> str:
    """What each service said last, minus access-log lines: the first place to look when a check failed."""
    parts = [f"\nthe services' last log lines (all of them in {folder}):"]
    for path in sorted(folder.glob("*.log")):
        said = [
            line
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.strip() and not any(verb in line for verb in ('"GET ', '"POST ', "GET /", "POST /"))
        ]
        parts.append(f"-- {path.name} ({len(said)} lines that are not access log)")
        parts.extend(line[:300] for line in said[-lines:])
    return "\n".join(parts)


def _write_report(path: Path | None, results, extra: dict) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                **extra,
                "checks": [
                    {
                        "name": r.name,
                        "outcome": r.outcome.value,
                        "seconds": round(r.seconds, 2),
                        "detail": r.detail,
                    }
                    for r in results
                ],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"report: {path}")


if __name__ == "__main__":
    sys.exit(main())
