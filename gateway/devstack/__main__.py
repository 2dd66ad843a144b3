"""`python -m gateway.devstack serve|smoke` — what `nox -s serve` and `nox -s smoke` run.

serve                       start the local stack, print how to use it, wait for Ctrl-C
smoke                       start the local stack, run the client checks, stop it
smoke --url URL --key KEY   run the client checks against a deployed gateway (no local stack)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from gateway.devstack.stack import LocalStack, StackError
from gateway.devstack.system import MissingRequirement


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gateway.devstack", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("serve", "run the local stack until Ctrl-C"), ("smoke", "end-to-end client checks")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument(
            "--environment",
            default="dev",
            help="environments/<name>/config.yaml supplies the model catalogue (default: dev)",
        )
        cmd.add_argument(
            "--variant",
            choices=("full", "bare"),
            default="full",
            help="gateway config: full (default) or bare (no guardrail, cache, callbacks, limits)",
        )
        cmd.add_argument("--work-dir", type=Path, help="data and logs (default: .work/devstack/<timestamp>)")
    smoke = sub.choices["smoke"]
    smoke.add_argument("--url", help="a deployed gateway: skip the local stack and check this URL")
    smoke.add_argument(
        "--key", help="its key (default: $GATEWAY_API_KEY; prefer the variable, argv is visible)"
    )
    smoke.add_argument(
        "--only", action="append", help="run only checks whose name contains this (repeatable)"
    )
    smoke.add_argument("--report", type=Path, help="also write the results as JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    args_in = [a for i, a in enumerate(args_in) if not (a == "--" and i <= 1)]  # `smoke -- --url …`
    args = _parser().parse_args(args_in)
    try:
        if args.command == "serve":
            return serve(args)
        return smoke(args)
    except (StackError, MissingRequirement) as err:
        print(f"\nlocal stack failed: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: every service was stopped", file=sys.stderr)
        return 130


# ---------------------------------------------------------------- serve
def serve(args: argparse.Namespace) -> int:
    with LocalStack(variant=args.variant, environment=args.environment, work_dir=args.work_dir) as stack:
        print(_usage(stack))
        try:
            while True:
                time.sleep(2)
                dead = stack.dead_services()
                if dead:
                    print(
                        f"stopped unexpectedly: {', '.join(dead)}; logs in {stack.work_dir / 'logs'}",
                        file=sys.stderr,
                    )
                    return 1
        except KeyboardInterrupt:
            print("\nstopping the local stack …")
    return 0


def _usage(stack: LocalStack) -> str:
    aliases = stack.environment.aliases("chat")
    alias = aliases[0] if aliases else "nova-lite"
    db = "on" if stack.database_enabled else f"off ({stack.database_skip_reason})"
    traces = "with" if stack.trace_content else "without"
    return f"""
The gateway is running (variant {stack.variant}); press Ctrl-C to stop everything.

  gateway      {stack.gateway_url}
  admin        {stack.admin_url}
  master key   {stack.master_key}
  Phoenix UI   {stack.phoenix_url}  (project {stack.phoenix_project})
  emulator     {stack.emulator_url}  (control API: {stack.emulator_url}/_emulator/stats)
  models       {", ".join(stack.environment.aliases())}
  database     {db}
  traces       {traces} prompt and answer text (as {stack.environment.name})
  logs         {stack.work_dir / "logs"}
  memory       {stack.memory().describe()}

  export OPENAI_BASE_URL={stack.gateway_url}/v1 OPENAI_API_KEY={stack.master_key}
  curl -s $OPENAI_BASE_URL/chat/completions -H "Authorization: Bearer $OPENAI_API_KEY" \\
       -H 'Content-Type: application/json' \\
       -d '{{"model": "{alias}", "messages": [{{"role": "user", "content": "Hello"}}]}}'
  python -c 'import openai; print(openai.OpenAI().chat.completions.create(model="{alias}", \\
       messages=[{{"role": "user", "content": "Hello"}}]).choices[0].message.content)'
"""


# ---------------------------------------------------------------- smoke
def smoke(args: argparse.Namespace) -> int:
    from gateway.devstack import app_role
    from gateway.devstack.catalogue import load_environment
    from gateway.smoke import LocalExtras, Target, run_smoke

    if args.url:
        key = args.key or os.environ.get("GATEWAY_API_KEY")
        if not key:
            print("--url needs a key: --key KEY or $GATEWAY_API_KEY", file=sys.stderr)
            return 2
        target = Target(url=args.url, key=key, environment=load_environment(args.environment))
        try:
            code, results = run_smoke(target, only=args.only)
        finally:
            target.close()
        _write_report(args.report, results, {"url": args.url})
        return code

    began = time.monotonic()
    with LocalStack(variant=args.variant, environment=args.environment, work_dir=args.work_dir) as stack:
        ready = time.monotonic() - began
        memory_ready = stack.memory()
        target = Target(
            url=stack.gateway_url,
            key=stack.master_key,
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
