"""The local stand-in for the load balancer's listener rules: policies/routes.yaml enforced before LiteLLM.

    python -m gateway.devstack.front --upstream http://127.0.0.1:P --public-port A --admin-port B

Two entries on 127.0.0.1: the public one forwards only served routes and answers
everything else with the ALB's own 404 JSON body; the admin one (local only)
forwards served and admin routes (closed routes stay closed). Request bodies are
passed on as they arrive and answers are written back chunk by chunk (SSE streams
unbuffered); the gateway, not this front, limits body sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from gateway.asgi import encoding_refusal
from gateway.devstack.ports import LOOPBACK
from gateway.devstack.readiness import http_ok, tcp_open, wait_until
from gateway.devstack.supervisor import Child, Supervisor
from gateway.devstack.system import REPO
from policies import routes

PUBLIC, ADMIN_ENTRY = "public", "admin"
ALLOWED = {PUBLIC: {routes.SERVED}, ADMIN_ENTRY: {routes.SERVED, routes.ADMIN}}
# Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection; the rest passes through unchanged.
HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
        "Transfer-Encoding", "Upgrade", "Proxy-Connection",
    )
)  # fmt: skip
BAD_GATEWAY_BODY = (
    '{"error":{"message":"Bad gateway: the proxy did not answer","type":"api_error",'
    '"param":null,"code":"bad_gateway"}}'
)


def not_found() -> web.Response:
    return web.Response(
        status=routes.NOT_FOUND_STATUS, body=routes.NOT_FOUND_BODY.encode(), content_type="application/json"
    )


def _request_headers(request: web.Request) -> dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    peer = request.remote or ""
    previous = request.headers.get("X-Forwarded-For")
    headers["X-Forwarded-For"] = f"{previous}, {peer}" if previous else peer  # as the ALB appends it
    headers["X-Forwarded-Proto"] = request.scheme
    return headers


def make_app(entry: str, upstream: str, session_holder: dict) -> web.Application:
    allowed = ALLOWED[entry]

    async def forward(request: web.Request) -> web.StreamResponse:
        # The raw path (before percent-decoding), as an ALB path pattern sees it.
        path = request.raw_path.split("?", 1)[0]
        if routes.classify(path) not in allowed:
            return not_found()
        # aiohttp's server would inflate a compressed body before forwarding it (with the
        # original length): answer what the gateway answers such a body behind the ALB.
        refused = encoding_refusal({k.lower().encode(): v.encode() for k, v in request.headers.items()})
        if refused is not None:
            status, payload = refused
            return web.Response(status=status, body=payload, content_type="application/json")
        session: aiohttp.ClientSession = session_holder["session"]
        body = request.content if request.body_exists else None
        try:
            upstream_response = await session.request(
                request.method,
                upstream + request.raw_path,
                headers=_request_headers(request),
                data=body,
                allow_redirects=False,
            )
        except (aiohttp.ClientError, OSError):
            return web.Response(status=502, body=BAD_GATEWAY_BODY.encode(), content_type="application/json")
        async with upstream_response:
            response = web.StreamResponse(status=upstream_response.status, reason=upstream_response.reason)
            for name, value in upstream_response.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    response.headers.add(name, value)
            await response.prepare(request)
            async for chunk in upstream_response.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


async def serve(upstream: str, public_port: int, admin_port: int, host: str) -> None:
    holder: dict = {}
    # No decompression (bytes pass through as sent), no total timeout (answers stream for minutes).
    holder["session"] = aiohttp.ClientSession(
        auto_decompress=False,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        connector=aiohttp.TCPConnector(limit=0),
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
    )
    runners = []
    try:
        for entry, port in ((PUBLIC, public_port), (ADMIN_ENTRY, admin_port)):
            runner = web.AppRunner(make_app(entry, upstream.rstrip("/"), holder), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, host, port).start()
            runners.append(runner)
            print(f"front: {entry} entry on http://{host}:{port} -> {upstream}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        for runner in runners:
            with contextlib.suppress(Exception):
                await runner.cleanup()
        await holder["session"].close()


@dataclass(frozen=True)
class Front:
    """The stack's two entries: `url` (what the public load balancer lets through) and `admin_url`."""

    url: str
    admin_url: str
    child: Child


def start_front(
    supervisor: Supervisor, upstream: str, public_port: int, admin_port: int, *, timeout: float = 60
) -> Front:
    """Run the front as a service of the stack; ready once the public entry answers the liveness probe."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    argv = [sys.executable, "-m", "gateway.devstack.front", "--upstream", upstream]
    argv += ["--public-port", str(public_port), "--admin-port", str(admin_port), "--host", LOOPBACK]
    child = supervisor.start("front", argv, env=env, cwd=REPO)
    front = Front(f"http://{LOOPBACK}:{public_port}", f"http://{LOOPBACK}:{admin_port}", child)
    wait_until(http_ok(f"{front.url}/health/liveliness"), timeout=timeout, what="front", alive=child.alive)
    wait_until(tcp_open(LOOPBACK, admin_port), timeout=timeout, what="front", alive=child.alive)
    return front


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.devstack.front", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--upstream", required=True, help="the LiteLLM proxy, e.g. http://127.0.0.1:4000")
    parser.add_argument("--public-port", type=int, required=True)
    parser.add_argument("--admin-port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.upstream, args.public_port, args.admin_port, args.host))


if __name__ == "__main__":
    main()
