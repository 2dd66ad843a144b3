"""Check that every synthesized stack is valid Terraform, offline.

    python -m pipeline.validate [env ...] [--stacks-dir cdktf.out/stacks]

`terraform init -backend=false` needs no credentials and no state, and with
the provider mirror no network, so this runs anywhere before a plan can.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pipeline.terraform import TerraformError, terraform, terraform_env

DEFAULT_STACKS = Path("cdktf.out") / "stacks"


def find_stacks(stacks_dir: Path, environments: list[str] | None = None) -> dict[str, Path]:
    """Environment name -> stack directory (`<project>-<env>` holding cdk.tf.json).

    A named environment with no synthesized stack is an error: validating
    nothing must not look like success.
    """
    found = (
        {d.name: d for d in sorted(stacks_dir.glob("*")) if (d / "cdk.tf.json").is_file()}
        if stacks_dir.is_dir()
        else {}
    )
    if not environments:
        if not found:
            raise FileNotFoundError(f"no synthesized stacks under {stacks_dir}: run `python main.py` first")
        return {name: path for name, path in found.items()}
    chosen: dict[str, Path] = {}
    for env in environments:
        matches = [path for name, path in found.items() if name.endswith(f"-{env}")]
        if len(matches) != 1:
            raise FileNotFoundError(
                f"no single stack for environment '{env}' under {stacks_dir} "
                f"(found: {', '.join(found) or 'none'}): run `python main.py {env}` first"
            )
        chosen[env] = matches[0]
    return chosen


def validate_stack(stack: Path, env: dict[str, str]) -> tuple[bool, float]:
    """init without backend, then validate; returns (valid, seconds)."""
    started = time.monotonic()
    try:
        terraform(["init", "-backend=false", "-no-color", "-input=false"], stack, env=env, capture=True)
        ok = terraform(["validate", "-no-color"], stack, env=env, check=False).returncode == 0
    except TerraformError as err:
        print(err, file=sys.stderr)
        ok = False
    return ok, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="terraform init (offline) + validate of each stack")
    parser.add_argument("environments", nargs="*", metavar="env", help="environments (default: every stack)")
    parser.add_argument("--stacks-dir", type=Path, default=DEFAULT_STACKS, help="default: %(default)s")
    args = parser.parse_args(argv)
    try:
        stacks = find_stacks(args.stacks_dir, args.environments)
        env = terraform_env()
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    results = {}
    for name, stack in stacks.items():
        print(f"== validating {stack}", flush=True)
        results[name] = validate_stack(stack, env)
    print("\nstack validation:")
    for name, (ok, seconds) in results.items():
        print(f"  {'valid  ' if ok else 'INVALID'}  {name:<30} {seconds:5.1f} s")
    failed = [name for name, (ok, _) in results.items() if not ok]
    print(f"{len(results) - len(failed)}/{len(results)} stack(s) valid", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
