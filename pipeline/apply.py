"""Apply the saved plan of one environment, and only if it still describes reality.

    python -m pipeline.apply dev [--out-dir plans] [--init] [--plan-sha256 HEX] [--github-output]

A saved plan is applied exactly as reviewed. It is refused when the commit or
the synthesized configuration it was made from has changed, when the plan
file's SHA-256 is not the one the plan step recorded (its `.sha256` file, its
metadata and, in CI, --plan-sha256 carried as the plan job's output), or when
the state moved on since. Refusing exits 4 with the reason on one line.
Terraform checks the state too ("Saved plan is stale"): if it refuses, that
also ends in one `error:` line naming the cause (exit 1).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from pipeline import stack_outputs
from pipeline.plan import ROOT, file_hash, git_sha, paths, state_identity
from pipeline.terraform import TerraformError, terraform, terraform_env

EXIT_ERROR, EXIT_REFUSED = 1, 4


class StalePlan(Exception):
    """The saved plan no longer matches the code, the configuration or the state."""


def check_plan(
    out: dict[str, Path],
    environment: str,
    repo: Path,
    env: dict[str, str],
    expected_sha256: str | None = None,
) -> dict:
    """Every reason to refuse, checked before Terraform touches anything."""
    if not out["plan"].is_file() or not out["meta"].is_file():
        raise StalePlan(
            f"no saved plan for '{environment}' in {out['plan'].parent}: run `nox -s plan -- {environment}`"
        )
    meta = json.loads(out["meta"].read_text())
    stack = Path(meta["stack_dir"])
    problems = []
    if meta["environment"] != environment:
        problems.append(f"the plan is for '{meta['environment']}', not '{environment}'")
    current_sha = git_sha(repo)
    if meta["git_sha"] != current_sha:
        problems.append(
            f"it was made at commit {meta['git_sha'][:12]}, the checkout is at {current_sha[:12]}"
        )
    config = stack / "cdk.tf.json"
    if not config.is_file() or file_hash(config) != meta["config_hash"]:
        problems.append(f"the synthesized configuration {config} changed since the plan")
    actual = file_hash(out["plan"])
    recorded = {"the plan metadata": meta["plan_hash"]}
    if out["checksum"].is_file():
        recorded[out["checksum"].name] = out["checksum"].read_text().split()[0]
    else:
        problems.append(f"{out['checksum']} is missing")
    if expected_sha256:
        recorded["--plan-sha256"] = expected_sha256.strip().lower()
    wrong = [source for source, value in recorded.items() if value != actual]
    if wrong:
        problems.append(
            f"the plan file {out['plan']} is not the one that was planned "
            f"(sha256 {actual[:12]}, {' and '.join(wrong)} recorded another)"
        )
    if not problems:
        state = state_identity(stack, env)
        if state != meta["state"]:
            problems.append(
                f"the state changed since the plan (serial {meta['state']['serial']} -> {state['serial']})"
            )
    if problems:
        raise StalePlan("refusing to apply a stale plan: " + "; ".join(problems) + ". Plan again.")
    return meta


# Terraform's own refusals of a saved plan, and what they mean for the pipeline.
TERRAFORM_REFUSALS = {
    "Saved plan is stale": "the state changed after the plan was made",
    "Saved plan does not match the given state": "the plan was made against another state",
    "Inconsistent dependency lock file": "the providers changed after the plan was made",
}


def one_line_error(environment: str, stderr: str, returncode: int) -> str:
    """The cause of a failed apply on one line: Terraform's refusal named, else its first error."""
    errors = [
        line.strip()[len("Error: ") :] for line in stderr.splitlines() if line.strip().startswith("Error: ")
    ]
    for error in errors:
        if error in TERRAFORM_REFUSALS:
            return (
                f"{environment}: Terraform refused the saved plan: {error} "
                f"({TERRAFORM_REFUSALS[error]}); plan again and have the new plan reviewed"
            )
    first = errors[0] if errors else f"exit code {returncode}, no error message"
    more = f" (and {len(errors) - 1} more error(s) above)" if len(errors) > 1 else ""
    return f"{environment}: terraform apply failed: {first}{more}"


def outputs(stack: Path, env: dict[str, str]) -> dict[str, object]:
    """Non-sensitive stack outputs (the gateway URL for the smoke test and so on)."""
    raw = json.loads(terraform(["output", "-json"], stack, env=env, capture=True).stdout or "{}")
    return {name: item["value"] for name, item in raw.items() if not item.get("sensitive")}


def write_github_output(values: dict[str, object]) -> None:
    """Expose outputs to later workflow steps through $GITHUB_OUTPUT."""
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        raise RuntimeError("--github-output needs GITHUB_OUTPUT (set by GitHub Actions)")
    with open(target, "a", encoding="utf-8") as fh:
        for name, value in values.items():
            text = value if isinstance(value, str) else json.dumps(value)
            if "\n" in text:
                raise ValueError(f"output {name} spans lines; not supported")
            fh.write(f"{name}={text}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Apply the saved plan of one environment.")
    parser.add_argument("environment")
    parser.add_argument(
        "--out-dir", type=Path, default=Path("plans"), help="where plan wrote (default: plans)"
    )
    parser.add_argument(
        "--plan-sha256",
        metavar="HEX",
        help="SHA-256 the plan step reported (job output plan_sha256); refuse any other plan file",
    )
    parser.add_argument("--github-output", action="store_true", help="write outputs to $GITHUB_OUTPUT")
    parser.add_argument("--repo", type=Path, default=ROOT, help="checkout whose commit must match the plan's")
    parser.add_argument(
        "--init",
        action="store_true",
        help="terraform init the plan's stack first: a workflow's apply job runs on a fresh machine, "
        "with the stack synthesized again (`nox -s synth -- ENV`) and the plan downloaded",
    )
    args = parser.parse_args(argv)
    out = paths(args.out_dir, args.environment)
    try:
        env = terraform_env()
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    if args.init and out["meta"].is_file():
        try:
            stack_dir = Path(json.loads(out["meta"].read_text())["stack_dir"])
            terraform(["init", "-input=false", "-no-color", "-reconfigure"], stack_dir, env=env, capture=True)
        except (OSError, ValueError, KeyError, TerraformError) as err:
            print(f"error: {args.environment}: cannot initialise the plan's stack: {err}", file=sys.stderr)
            return EXIT_ERROR
    try:
        meta = check_plan(out, args.environment, args.repo, env, args.plan_sha256)
    except StalePlan as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_REFUSED
    stack = Path(meta["stack_dir"])
    applied = terraform(
        ["apply", "-input=false", "-no-color", "-lock-timeout=5m", str(out["plan"].resolve())],
        stack,
        env=env,
        check=False,
        capture_stderr=True,
    )
    if applied.returncode != 0:
        print(
            f"error: {one_line_error(args.environment, applied.stderr or '', applied.returncode)}",
            file=sys.stderr,
        )
        return EXIT_ERROR
    try:
        values = outputs(stack, env)
    except TerraformError as err:
        print(f"error: {args.environment}: applied, but reading the outputs failed: {err}", file=sys.stderr)
        return EXIT_ERROR
    stack_outputs.path(args.out_dir, args.environment).write_text(json.dumps(values, indent=2) + "\n")
    print(f"applied {args.environment} ({meta['git_sha'][:12]}, image {meta['image_tag'] or 'default'})")
    for name, value in values.items():
        print(f"  {name} = {value}")
    if args.github_output:
        write_github_output(values)
    return 0


if __name__ == "__main__":
    sys.exit(main())
