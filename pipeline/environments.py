"""The environments as the workflows see them: one matrix, read from the environment files.

    python -m pipeline.environments --matrix [--github-output] [--environments-dir DIR]

Prints (and with --github-output also writes as the step output `matrix`) one line of JSON,
`{"include": [{"environment": "dev", "order": 1, "plan_role_variable": ..., ...}, ...]}`, with
the environments in deploy order (their `delivery.order`, then name). The pull-request
plans, the deploy chain and the drift check all take their matrix from it, so a new folder
under environments/ is planned, deployed after the stages before it and checked for drift
with no workflow edit. A bad environment file fails here with the loader's one-line error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from modules.config import ConfigError, EnvironmentConfig, load_all

ROOT = Path(__file__).resolve().parents[1]
# The step output the workflows read: steps.<id>.outputs.matrix.
OUTPUT_NAME = "matrix"


def stage(config: EnvironmentConfig) -> dict[str, object]:
    """One matrix entry: the environment's name and its `delivery` section, as the workflows use them."""
    return {"environment": config.name, **config.delivery.model_dump()}


def matrix(environments_dir: Path) -> dict[str, list[dict[str, object]]]:
    """Every environment, in the order the deploy chain runs them."""
    configs = sorted(load_all(environments_dir), key=lambda c: (c.delivery.order, c.name))
    return {"include": [stage(c) for c in configs]}


def stage_order(environments_dir: Path = ROOT / "environments") -> list[str]:
    """The environment names in deploy order (pipeline.chain's stages)."""
    return [str(entry["environment"]) for entry in matrix(environments_dir)["include"]]


def write_github_output(name: str, value: str, target: str | None) -> None:
    """Append one single-line step output to $GITHUB_OUTPUT."""
    if not target:
        raise ValueError("--github-output needs GITHUB_OUTPUT (set by GitHub Actions)")
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(f"{name}={value}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The environments' matrix for the workflows.")
    parser.add_argument("--matrix", action="store_true", required=True, help="print the matrix as JSON")
    parser.add_argument(
        "--github-output", action="store_true", help=f"also write it as the step output {OUTPUT_NAME!r}"
    )
    parser.add_argument("--environments-dir", type=Path, default=ROOT / "environments")
    args = parser.parse_args(argv)
    try:
        text = json.dumps(matrix(args.environments_dir), separators=(",", ":"))
        if args.github_output:
            write_github_output(OUTPUT_NAME, text, os.environ.get("GITHUB_OUTPUT"))
    except (ConfigError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
