"""`python -m gateway.prisma_engine generate|check`: the Prisma client for LiteLLM's schema, offline.

generate   generate prisma-client-py's client once (cached per environment); exit 1 with the reason if not
check      exit 0 if the engine server can run and the client is generated, else 1 with the reason
"""

from __future__ import annotations

import sys
import time

from gateway import prisma_engine


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in (["generate"], ["check"]):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        reason = prisma_engine.missing()
        if reason:
            print(reason, file=sys.stderr)
            return 1
        if args == ["check"]:
            if prisma_engine.client_generated():
                return 0
            print("no generated Prisma client: python -m gateway.prisma_engine generate", file=sys.stderr)
            return 1
        began = time.monotonic()
        if prisma_engine.generate():
            print(f"Prisma client generated in {time.monotonic() - began:.1f} s")
        else:
            print("Prisma client already generated for this schema and engine")
        return 0
    except (RuntimeError, OSError) as error:
        print(error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
