"""The policy gate: checkov (with the gateway's own policies) and hadolint over everything deployed.

    python -m policies.gate [--env dev ...] [--plan-json FILE [--only-plan]]
                            [--report-dir DIR] [--stacks-dir DIR] [--today YYYY-MM-DD]

Scans every synthesized stack (`terraform_json`), gateway/Dockerfile
(`dockerfile` + hadolint), .github/workflows (`github_actions`) and, when
given, a plan JSON (`terraform_plan`). Exit 0 only when every failed check has
a live waiver in policies/waivers.yaml, no waiver is expired or stale, every
custom policy evaluated something in every stack, and every expected stack was
there. A missing Dockerfile or workflow folder is reported as NOT SCANNED:
never as passed, and not as a failure of this gate (their authors' gates own them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from policies import catalogue, report, scan, waivers
from policies.report import Missing
from policies.scan import REPOSITORY_SCOPE, ROOT, Outcome, Target

DEFAULT_STACKS_DIR = ROOT / "cdktf.out" / "stacks"
DEFAULT_REPORT_DIR = ROOT / "reports" / "policy"
ENVIRONMENTS_DIR = ROOT / "environments"
DOCKERFILES = ("gateway/Dockerfile",)
HADOLINT_CONFIG = ROOT / "gateway" / ".hadolint.yaml"
WORKFLOWS_DIR = ROOT / ".github" / "workflows"
PARALLEL_SCANS = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m policies.gate", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME",
        help="environment to scan (repeatable; default: every folder in environments/)",
    )
    parser.add_argument(
        "--plan-json",
        type=Path,
        metavar="FILE",
        help="also scan this `terraform show -json` plan (framework terraform_plan)",
    )
    parser.add_argument("--only-plan", action="store_true", help="with --plan-json: scan the plan only")
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=DEFAULT_REPORT_DIR,
        help="where SARIF, JUnit XML and summary.json go (default: %(default)s)",
    )
    parser.add_argument(
        "--stacks-dir",
        type=Path,
        default=DEFAULT_STACKS_DIR,
        help="synthesized stacks, one folder per stack (default: %(default)s)",
    )
    parser.add_argument("--waivers", type=Path, default=waivers.WAIVERS_FILE, help=argparse.SUPPRESS)
    parser.add_argument(
        "--today",
        type=dt.date.fromisoformat,
        default=None,
        help="evaluate waiver expiry as of this date (default: today)",
    )
    args = parser.parse_args(argv)
    if args.only_plan and not args.plan_json:
        parser.error("--only-plan needs --plan-json")
    return args


# ---------------------------------------------------------------- what to scan
def stack_environment(stack_file: Path) -> str | None:
    """The `environment` tag the stack's AWS provider puts on every resource."""
    data = json.loads(stack_file.read_text(encoding="utf-8"))
    providers = (data.get("provider") or {}).get("aws") or []
    for provider in providers if isinstance(providers, list) else [providers]:
        default_tags = provider.get("default_tags") or []
        for block in default_tags if isinstance(default_tags, list) else [default_tags]:
            env = (block.get("tags") or {}).get("environment")
            if isinstance(env, str):
                return env
    return None


def find_stacks(stacks_dir: Path) -> tuple[dict[str, Path], list[Missing]]:
    """environment -> stack file for every synthesized stack, and the stacks that cannot be attributed."""
    found: dict[str, Path] = {}
    problems: list[Missing] = []
    for stack_file in sorted(stacks_dir.glob("*/cdk.tf.json")) if stacks_dir.is_dir() else []:
        env = stack_environment(stack_file)
        if env is None:
            # No provider tag: the folder is <project>-<env>; an environment folder name settles it.
            env = next((e for e in known_environments() if stack_file.parent.name.endswith(f"-{e}")), None)
        if env is None:
            continue
        if env in found:
            # Two stacks claiming one environment (a stale folder after a rename): scanning either is a guess.
            problems.append(
                Missing(
                    f"stack for {env}",
                    f"both {found[env].parent.name} and "
                    f"{stack_file.parent.name} are tagged environment={env}",
                    fails=True,
                )
            )
        found[env] = stack_file
    return found, problems


def known_environments() -> list[str]:
    if not ENVIRONMENTS_DIR.is_dir():
        return []
    return sorted(
        p.name
        for p in ENVIRONMENTS_DIR.iterdir()
        if (p / "config.yaml").exists() and not p.name.startswith((".", "_"))
    )


def plan_environment(plan_file: Path) -> str | None:
    """The environment tag in a plan's provider configuration, when it is a constant."""
    try:
        data = json.loads(plan_file.read_text(encoding="utf-8"))
        aws = data["configuration"]["provider_config"]["aws"]["expressions"]
        tags = aws["default_tags"][0]["tags"]["constant_value"]
        return tags.get("environment")
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


def targets(args: argparse.Namespace) -> tuple[list[Target], list[Missing]]:
    todo: list[Target] = []
    missing: list[Missing] = []
    if args.plan_json:
        env = args.env[0] if len(args.env) == 1 else plan_environment(args.plan_json) or "unknown"
        if args.plan_json.exists():
            todo.append(
                Target(f"plan {args.plan_json.name}", "terraform_plan", env, args.plan_json.resolve(), True)
            )
        else:
            missing.append(Missing(f"plan {args.plan_json}", "file not found", fails=True))
        if args.only_plan:
            return todo, missing
    stacks, ambiguous = find_stacks(args.stacks_dir)
    missing += [m for m in ambiguous if not args.env or m.label.removeprefix("stack for ") in args.env]
    for env in args.env or known_environments() or sorted(stacks):
        if env in stacks:
            todo.append(
                Target(f"stack {stacks[env].parent.name}", "terraform_json", env, stacks[env].resolve(), True)
            )
        else:
            missing.append(
                Missing(
                    f"stack for {env}",
                    f"no stack tagged environment={env} in {args.stacks_dir} (run `python main.py` first)",
                    fails=True,
                )
            )
    for name in DOCKERFILES:
        path = ROOT / name
        if path.exists():
            todo.append(Target(name, "dockerfile", REPOSITORY_SCOPE, path))
            todo.append(Target(name, "hadolint", REPOSITORY_SCOPE, path))
        else:
            missing.append(Missing(name, "file does not exist yet", fails=False))
    workflows = sorted([*WORKFLOWS_DIR.glob("*.yml"), *WORKFLOWS_DIR.glob("*.yaml")])
    if workflows:
        todo.append(Target(".github/workflows", "github_actions", REPOSITORY_SCOPE, WORKFLOWS_DIR))
    else:
        missing.append(Missing(".github/workflows", "no workflow files yet", fails=False))
    return todo, missing


# ---------------------------------------------------------------- scanning
def run_one(target: Target) -> Outcome:
    if target.framework == "hadolint":
        return scan.run_hadolint(target, HADOLINT_CONFIG)
    return scan.run_checkov(target, catalogue.CHECKS_DIR)


def require_coverage(outcome: Outcome, policies: dict[str, catalogue.Policy]) -> None:
    """A custom policy that evaluated nothing in a stack is a scan error.

    In a plan it is a note: values known only after apply (endpoints inside the
    container definitions) cannot be checked there, and the stack scan checks
    the same resource from its literal configuration.
    """
    if outcome.error or not outcome.target.custom_checks:
        return
    seen = {f.check_id for f in outcome.findings}
    silent = sorted(set(policies) - seen, key=lambda i: int(i.rsplit("_", 1)[1]))
    if not silent:
        return
    if outcome.target.framework == "terraform_plan":
        outcome.notes.append(f"not evaluable in this plan (values known after apply): {', '.join(silent)}")
    else:
        outcome.error = (
            f"custom policies evaluated nothing: {', '.join(silent)} (check failed to load, or the "
            "resource it guards is missing from the stack)"
        )


def scan_all(todo: list[Target], policies: dict[str, catalogue.Policy]) -> list[Outcome]:
    print(f"scanning {len(todo)} target(s), {PARALLEL_SCANS} at a time", flush=True)

    def one(target: Target) -> Outcome:
        outcome = run_one(target)
        require_coverage(outcome, policies)
        state = "error" if outcome.error else f"{len(outcome.passed)} passed, {len(outcome.failed)} failed"
        print(
            f"  {target.label} [{target.framework}, {target.scope}]: {state} ({outcome.seconds:.1f} s)",
            flush=True,
        )
        return outcome

    with ThreadPoolExecutor(max_workers=PARALLEL_SCANS) as pool:
        return list(pool.map(one, todo))


# ---------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = parse_args(argv)
    today = args.today or dt.date.today()
    try:
        policies = catalogue.load()
        waiver_list = waivers.load(args.waivers, today)
    except (catalogue.CatalogueError, waivers.WaiverError, ValueError) as err:
        print(f"policy gate: configuration error: {err}", file=sys.stderr)
        return 2
    print(
        f"policy gate: {len(policies)} custom policies, {len(waiver_list)} waiver(s) in "
        f"{args.waivers.relative_to(ROOT) if args.waivers.is_relative_to(ROOT) else args.waivers}",
        flush=True,
    )
    todo, missing = targets(args)
    outcomes = scan_all(todo, policies)
    failed = [f for o in outcomes for f in o.failed]
    # Only stack and repository scans decide staleness: a plan-only run sees one environment's plan.
    scanned = {o.target.scope for o in outcomes if not o.error and o.target.framework != "terraform_plan"}
    verdict = waivers.apply(failed, waiver_list, today, scanned)
    passed = verdict.ok and not any(o.error for o in outcomes) and not any(m.fails for m in missing)
    seconds = time.perf_counter() - started

    print()
    print(report.table(outcomes, missing, verdict))
    problems = report.failures(outcomes, missing, verdict, policies)
    if problems:
        print(f"\n{len(problems)} problem(s):")
        for line in problems:
            print(f"  - {line}")
    for outcome in outcomes:
        for note in outcome.notes:
            print(f"note: {outcome.target.label}: {note}")
    not_scanned = [m for m in missing if not m.fails]
    for item in not_scanned:
        print(f"NOT SCANNED (not counted as passed): {item.label}: {item.reason}")
    checks_run = sum(len(o.findings) for o in outcomes)
    print(
        f"\n{checks_run} check results: {checks_run - len(failed)} passed, {len(verdict.unwaived)} failed, "
        f"{len(verdict.waived)} waived by {len({id(w) for _, w in verdict.waived})} of {len(waiver_list)} "
        f"waiver(s) ({len(verdict.expired)} expired, {len(verdict.stale)} stale)"
    )
    paths = report.write(args.report_dir, outcomes, missing, verdict, policies, passed, seconds)
    print("reports: " + ", ".join(str(p) for p in paths))
    print(f"policy gate {'PASSED' if passed else 'FAILED'} in {time.perf_counter() - started:.1f} s")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
