"""Requests/s of the emulator alone: `python -m gateway.emulator.bench [--requests N] [--concurrency C]`.

The emulator runs as its own process (as the local stack runs it) and a single
asyncio client keeps C HTTP/1.1 connections busy with signed Converse calls. The
client re-sends one signed request (valid for 15 minutes), so the server still
verifies every signature while the client spends almost nothing per request.
This is the ceiling the gateway benchmark's "direct" figure is compared with.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from gateway.emulator.sigv4 import Credentials, SigV4Verifier, canonical_request

ROOT = Path(__file__).resolve().parents[2]
READY_PREFIX = "bedrock-emulator listening on "
PATH = "/model/us.amazon.nova-pro-v1%3A0/converse"
QUESTION = "What is Amazon Bedrock?"


def signed_request(host: str, port: int, credentials: Credentials, region: str) -> bytes:
    """One Converse request, signed once and re-sent verbatim (its signature stays valid for 15 minutes)."""
    body = json.dumps({"messages": [{"role": "user", "content": [{"text": QUESTION}]}]}).encode()
    amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {"content-type": ["application/json"], "host": [f"{host}:{port}"], "x-amz-date": [amz_date]}
    signed = sorted(headers)
    canonical = canonical_request("POST", PATH, headers, signed, hashlib.sha256(body).hexdigest())
    signature = SigV4Verifier(credentials, region).signature(amz_date, canonical)
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{amz_date[:8]}/{region}/bedrock/aws4_request, "
        f"SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"X-Amz-Date: {amz_date}\r\nAuthorization: {authorization}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _worker(
    host: str, port: int, request: bytes, quota: list[int], latencies: list[float], errors: list[int]
):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while quota[0] > 0:
            quota[0] -= 1
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                errors[0] += 1
    finally:
        writer.close()


async def _run(
    host: str, port: int, request: bytes, total: int, concurrency: int
) -> tuple[float, list[float], int]:
    """(elapsed seconds, latencies, non-200 count) of `total` requests over `concurrency` connections."""
    quota, latencies, errors = [total], [], [0]
    started = time.perf_counter()
    await asyncio.gather(
        *(_worker(host, port, request, quota, latencies, errors) for _ in range(concurrency))
    )
    return time.perf_counter() - started, latencies, errors[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.emulator.bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args(argv)
    credentials = Credentials("AKIA" + secrets.token_hex(8).upper(), secrets.token_hex(20))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AWS_ACCESS_KEY_ID": credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway.emulator", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = server.stdout.readline().strip()
        if not line.startswith(READY_PREFIX):
            print(f"emulator did not start: {line!r}", file=sys.stderr)
            return 1
        host, port = line[len(READY_PREFIX) :].removeprefix("http://").rsplit(":", 1)
        request = signed_request(host, int(port), credentials, "us-east-1")
        print(
            f"warming up, then {args.requests} Converse calls over {args.concurrency} keep-alive connections"
        )
        asyncio.run(_run(host, int(port), request, 200, args.concurrency))
        elapsed, latencies, errors = asyncio.run(
            _run(host, int(port), request, args.requests, args.concurrency)
        )
        latencies.sort()
        print(
            f"{args.requests / elapsed:.0f} requests/s, p50 {statistics.median(latencies) * 1000:.1f} ms, "
            f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms, non-200: {errors}"
        )
        return 0 if errors == 0 else 1
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
