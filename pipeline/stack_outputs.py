"""The apply step's record of a stack's outputs (`plans/<env>.outputs.json`), for the steps after it.

One reader, so the steps that run after apply (seed secrets, migrate, admin) name a missing file or a
missing output the same way; each raises its own error type, which its CLI prints in one line.

Where no apply ran (drift), the same record is written from the deployed state:

    python -m pipeline.stack_outputs dev [--out-dir plans]

after `nox -s plan -- dev` initialised the stack (its `<env>.plan.meta.json` names the folder):
`terraform output -json`, non-sensitive values, as pipeline.apply writes them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def path(out_dir: Path, environment: str) -> Path:
    return out_dir / f"{environment}.outputs.json"


def read(out_dir: Path, environment: str, required: Sequence[str], error: type[Exception]) -> dict[str, Any]:
    """The outputs apply recorded; raises `error` when the file or one of `required` is missing."""
    recorded = path(out_dir, environment)
    if not recorded.is_file():
        raise error(f"{recorded} is missing: run `nox -s apply -- {environment}` first")
    values = json.loads(recorded.read_text())
    missing = [name for name in required if not values.get(name)]
    if missing:
        raise error(f"{recorded} lacks the stack output(s) {', '.join(missing)}")
    return values


def from_state(out_dir: Path, environment: str) -> dict[str, Any]:
    """The deployed stack's non-sensitive outputs, written to `path(out_dir, environment)`."""
    from pipeline.apply import outputs
    from pipeline.plan import paths
    from pipeline.terraform import terraform_env

    meta = paths(out_dir, environment)["meta"]
    if not meta.is_file():
        raise FileNotFoundError(f"{meta} is missing: run `nox -s plan -- {environment}` first")
    values = outputs(Path(json.loads(meta.read_text())["stack_dir"]), terraform_env())
    path(out_dir, environment).write_text(json.dumps(values, indent=2) + "\n")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write <env>.outputs.json from the deployed state (no apply)."
    )
    parser.add_argument("environment")
    parser.add_argument(
        "--out-dir", type=Path, default=Path("plans"), help="where plan wrote (default: plans)"
    )
    args = parser.parse_args(argv)
    from pipeline.terraform import TerraformError

    try:
        values = from_state(args.out_dir, args.environment)
    except (OSError, ValueError, KeyError, TerraformError) as err:
        print(f"error: {args.environment}: cannot read the stack's outputs: {err}", file=sys.stderr)
        return 1
    print(f"{args.environment}: {len(values)} outputs in {path(args.out_dir, args.environment)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
