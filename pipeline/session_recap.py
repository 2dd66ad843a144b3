"""The end of each failed nox session's output, repeated after the run's summary.

CI keeps only the tail of a run's output, and a session that fails early is
followed by others, so its reason would scroll out of sight. `.ci/run` tees
nox's output to a file and runs this on it when nox fails.

    python -m pipeline.session_recap LOG [--lines N]
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

_START = re.compile(r"^nox > Running session (?P<name>\S+)")
_OUTCOMES = "was successful|failed|raised|skipped|aborted|interrupted"  # nox/sessions.py's wording
_END = re.compile(rf"^nox > Session (?P<name>\S+) (?P<outcome>{_OUTCOMES})")


@dataclass
class Section:
    name: str
    outcome: str = "unfinished"
    lines: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.outcome not in {"was successful", "skipped"}


def sections(text: str) -> list[Section]:
    """Split a nox log into one section per session run, in order."""
    found: list[Section] = []
    current: Section | None = None
    for line in text.splitlines():
        if start := _START.match(line):
            current = Section(start["name"])
            found.append(current)
            continue
        if current is None:
            continue
        end = _END.match(line)
        if end and end["name"] == current.name:
            current.outcome = end["outcome"]
            current = None
            continue
        current.lines.append(line)
    return found


def recap(text: str, lines: int = 60) -> str:
    """The last `lines` lines of each failed (or unfinished) session, or an empty string."""
    parts = []
    for section in sections(text):
        if not section.failed:
            continue
        tail = section.lines[-lines:]
        skipped = len(section.lines) - len(tail)
        header = f"==== session {section.name}: {section.outcome}"
        if skipped:
            header += f" (its last {len(tail)} of {len(section.lines)} lines)"
        parts.append("\n".join([header, *tail]))
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--lines", type=int, default=60)
    args = parser.parse_args(argv)
    text = args.log.read_text(encoding="utf-8", errors="replace")
    summary = recap(text, args.lines)
    if summary:
        print("\n== what the failed sessions printed last (repeated from above)")
        print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
