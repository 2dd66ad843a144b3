"""A user's clone is the whole project: every document it cites is in it.

The project was built beside a workspace folder (`../shared`) that a clone does
not have; facts the code relies on live in docs/environment.md instead.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CITED_DOCUMENT = re.compile(r"\b((?:[a-z_]+/)*(?:[A-Za-z_-]+)\.md)\b")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".yml", ".yaml", ".txt", ".mjs", ".json", ""}
OUTSIDE_CITATION = re.compile(r"(\.\./shared/|\bshared/[A-Za-z_]+\.md|\bshared/prisma/)")


def tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    files = []
    for name in filter(None, names):
        path = ROOT / name
        if path.suffix not in TEXT_SUFFIXES or not path.is_file() or "node_modules" in path.parts:
            continue
        if path.stat().st_size < 500_000:
            files.append(path)
    return files


@pytest.fixture(scope="module")
def texts() -> dict[Path, str]:
    out = {}
    for path in tracked_text_files():
        try:
            out[path] = path.read_text()
        except UnicodeDecodeError:
            continue
    return out


def test_no_file_cites_the_workspace_outside_the_repository(texts):
    hits = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path, text in texts.items()
        if path.name != Path(__file__).name
        for match in OUTSIDE_CITATION.finditer(text)
    ]
    assert not hits, "cited outside the clone (move the fact into docs/environment.md): " + "; ".join(hits)


def test_every_cited_repository_document_exists(texts):
    missing = set()
    for path, text in texts.items():
        for match in CITED_DOCUMENT.finditer(text):
            cited = match.group(1)
            if not cited.startswith(("docs/", "requirements/", "policies/", "gateway/")):
                continue
            if not (ROOT / cited).exists():
                missing.add(f"{path.relative_to(ROOT)} cites {cited}")
    assert not missing, sorted(missing)
