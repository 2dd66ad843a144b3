"""Apply the saved plan of one environment, and only if it still describes reality.

    python -m pipeline.apply dev [--out-dir plans] [--github-output]

A saved plan is applied exactly as reviewed. It is refused when the commit or
the synthesized configuration it was made from has changed, when the plan
file was swapped, or when the state moved on since (Terraform checks the
last one too: "Saved plan is stale"). Refusing exits 4 with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from pipeline.plan import ROOT, file_hash, git_sha, paths, state_identity
from pipeline.terraform import TerraformError, terraform, terraform_env

EXIT_ERROR, EXIT_REFUSED = 1, 4


class StalePlan(Exception):
    """The saved plan no longer matches the code, the configuration or the state."""


def check_plan(out: dict[str, Path], environment: str, repo: Path, env: dict[str, str]) -> dict:
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
    if file_hash(out["plan"]) != meta["plan_hash"]:
        problems.append(f"the plan file {out['plan']} is not the one that was planned")
    if not problems:
        state = state_identity(stack, env)
        if state != meta["state"]:
            problems.append(
                f"the state changed since the plan (serial {meta['state']['serial']} -> {state['serial']})"
            )
    if problems:
        raise StalePlan("refusing to apply a stale plan: " + "; ".join(problems) + ". Plan again.")
    return meta


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
    parser.add_argument("--github-output", action="store_true", help="write outputs to $GITHUB_OUTPUT")
    parser.add_argument("--repo", type=Path, default=ROOT, help="checkout whose commit must match the plan's")
    args = parser.parse_args(argv)
    out = paths(args.out_dir, args.environment)
    try:
        env = terraform_env()
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    try:
        meta = check_plan(out, args.environment, args.repo, env)
    except StalePlan as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_REFUSED
    stack = Path(meta["stack_dir"])
    try:
        terraform(["apply", "-input=false", "-lock-timeout=5m", str(out["plan"].resolve())], stack, env=env)
        values = outputs(stack, env)
    except TerraformError as err:
        print(
            f"error: {err} (a 'Saved plan is stale' message above means the state moved: plan again)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    (args.out_dir / f"{args.environment}.outputs.json").write_text(json.dumps(values, indent=2) + "\n")
    print(f"applied {args.environment} ({meta['git_sha'][:12]}, image {meta['image_tag'] or 'default'})")
    for name, value in values.items():
        print(f"  {name} = {value}")
    if args.github_output:
        write_github_output(values)
    return 0


if __name__ == "__main__":
    sys.exit(main())
