"""A capture (PRISMA_ENGINE_CAPTURE=<file> on a smoke run) -> queries.jsonl: one request per query shape.

    PRISMA_ENGINE_CAPTURE=$PWD/.work/capture.jsonl nox -s smoke
    .nox/_envs/dev/bin/python tests/gateway/prisma_engine/fixture_from_capture.py .work/capture.jsonl \
        > tests/gateway/prisma_engine/queries.jsonl

A shape is the operation plus the set of argument and field names it uses (values and list lengths
aside); a raw query's shape is its SQL text; a batch's, the set of its queries' shapes. The shortest
request of each shape is kept, as captured, in order of first appearance.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def shape(query: str) -> tuple:
    operation = re.search(r"result: (\w+)", query).group(1)
    if operation in ("queryRaw", "executeRaw"):
        sql = json.loads(STRING.search(query[query.index("query:") :]).group(0))
        return (operation, re.sub(r"\d+", "N", " ".join(sql.split())))
    names = frozenset(re.findall(r"\b(\w+)\b\s*[:({]", STRING.sub('""', query)))
    return (operation, names)


def main(path: str) -> None:
    kept: dict = {}
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for line in lines:
        body = json.loads(line)
        queries = [item["query"] for item in body["batch"]] if "batch" in body else [body["query"]]
        key = ("batch" in body, frozenset(shape(q) for q in queries))
        text = json.dumps(body, sort_keys=True)
        if key not in kept or len(text) < len(kept[key]):
            kept[key] = text
    for text in kept.values():
        print(text)


if __name__ == "__main__":
    main(sys.argv[1])
