"""The apply step's record of a stack's outputs (`plans/<env>.outputs.json`), for the steps after it.

One reader, so the steps that run after apply (seed secrets, migrate) name a missing file or a
missing output the same way; each raises its own error type, which its CLI prints in one line.
"""

from __future__ import annotations

import json
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
