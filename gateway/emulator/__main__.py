"""`python -m gateway.emulator`: serve the Bedrock emulator until SIGTERM or SIGINT.

Prints exactly one line when ready (`bedrock-emulator listening on http://HOST:PORT`)
so a supervisor can wait for it; errors go to stderr with a non-zero exit.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from gateway.emulator.latency import INSTANT, add_latency_argument
from gateway.emulator.server import start_emulator
from gateway.emulator.sigv4 import Credentials
from policies.guardrail import GuardrailDefinitionError


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gateway.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument(
        "--access-key", default=os.environ.get("AWS_ACCESS_KEY_ID"), help="default $AWS_ACCESS_KEY_ID"
    )
    parser.add_argument(
        "--secret-key", default=os.environ.get("AWS_SECRET_ACCESS_KEY"), help="default $AWS_SECRET_ACCESS_KEY"
    )
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"), help="signing region")
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every model call (default 0)")
    add_latency_argument(parser, default=INSTANT)
    parser.add_argument("--log-requests", action="store_true", help="log one line per request to stderr")
    args = parser.parse_args(argv)
    if not args.access_key or not args.secret_key:
        parser.error(
            "credentials are required: --access-key/--secret-key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    if args.latency_ms < 0:
        parser.error("--latency-ms must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        emulator = start_emulator(
            Credentials(args.access_key, args.secret_key),
            host=args.host,
            port=args.port,
            region=args.region,
            latency_ms=args.latency_ms,
            latency=args.latency,
            quiet=not args.log_requests,
        )
    except OSError as exc:
        print(f"bedrock-emulator: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    except GuardrailDefinitionError as exc:  # fail closed: never serve without the guardrail it must enforce
        print(f"bedrock-emulator: {exc}", file=sys.stderr)
        return 1
    print(f"bedrock-emulator listening on {emulator.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    print("bedrock-emulator stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
