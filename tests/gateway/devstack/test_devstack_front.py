"""gateway/devstack/front.py: the public entry passes only served routes, the admin entry served and admin;
bodies stream both ways without buffering; headers pass; closed routes get the ALB's 404 body."""

from __future__ import annotations

import asyncio
import gzip
import json

import aiohttp
from aiohttp import web

from gateway.devstack import front
from gateway.devstack.ports import PortAllocator
from policies import routes


async def _site(app: web.Application, port: int) -> web.AppRunner:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def _run(scenario) -> None:
    """Upstream (a fake proxy), both front entries and a client in one loop; `scenario(urls, seen)`."""

    async def main() -> None:
        ports = PortAllocator()
        up_port, public_port, admin_port = ports(), ports(), ports()
        seen: dict = {"first_chunk": asyncio.Event(), "release": asyncio.Event()}

        async def echo(request: web.Request) -> web.StreamResponse:
            seen["headers"] = dict(request.headers)
            seen["path"] = request.raw_path
            if request.path == "/v1/chat/completions" and request.query.get("stream"):
                response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "X-Up": "1"})
                await response.prepare(request)
                await response.write(b"data: one\n\n")
                await seen["release"].wait()  # the client must see "one" before this is released
                await response.write(b"data: [DONE]\n\n")
                return response
            if request.path == "/v1/embeddings":
                first = await request.content.readany()
                seen["first_chunk"].set()  # before the client has sent the rest
                rest = await request.content.read()
                return web.json_response({"bytes": len(first) + len(rest)})
            return web.json_response({"path": request.path}, headers={"X-Up": "1"})

        upstream = web.Application()
        upstream.router.add_route("*", "/{tail:.*}", echo)
        holder = {"session": aiohttp.ClientSession(auto_decompress=False)}
        runners = [await _site(upstream, up_port)]
        for entry, port in ((front.PUBLIC, public_port), (front.ADMIN_ENTRY, admin_port)):
            runners.append(await _site(front.make_app(entry, f"http://127.0.0.1:{up_port}", holder), port))
        try:
            urls = {"public": f"http://127.0.0.1:{public_port}", "admin": f"http://127.0.0.1:{admin_port}"}
            async with aiohttp.ClientSession() as client:
                await asyncio.wait_for(scenario(client, urls, seen), timeout=20)
        finally:
            await holder["session"].close()
            for runner in runners:
                await runner.cleanup()

    asyncio.run(main())


async def _expect_not_found(response: aiohttp.ClientResponse) -> None:
    assert response.status == 404 and response.headers["Content-Type"].startswith("application/json")
    assert await response.text() == routes.NOT_FOUND_BODY


def test_public_entry_forwards_served_routes_and_404s_admin_and_closed_ones():
    async def scenario(client, urls, seen):
        async with client.get(urls["public"] + "/v1/models?x=1", headers={"Authorization": "Bearer k"}) as r:
            assert r.status == 200 and r.headers["X-Up"] == "1"
        assert seen["path"] == "/v1/models?x=1" and seen["headers"]["Authorization"] == "Bearer k"
        assert seen["headers"]["X-Forwarded-For"] == "127.0.0.1"
        for path in (
            "/key/generate",
            "/health/readiness",
            "/bedrock/model/x/converse",
            "/V1/models",
            "/nope",
        ):
            async with client.post(urls["public"] + path, json={}) as r:
                await _expect_not_found(r)

    _run(scenario)


def test_admin_entry_forwards_admin_routes_but_keeps_closed_ones_closed():
    async def scenario(client, urls, seen):
        async with client.post(urls["admin"] + "/key/generate", json={}) as r:
            assert r.status == 200 and (await r.json())["path"] == "/key/generate"
        async with client.get(urls["admin"] + "/v1/models") as r:
            assert r.status == 200
        async with client.post(urls["admin"] + "/bedrock/model/x/converse", json={}) as r:
            await _expect_not_found(r)

    _run(scenario)


def test_streamed_answer_reaches_the_client_chunk_by_chunk():
    async def scenario(client, urls, seen):
        async with client.post(urls["public"] + "/v1/chat/completions?stream=1", json={}) as r:
            assert r.headers["Content-Type"] == "text/event-stream"
            first = await r.content.readuntil(b"\n\n")
            assert first == b"data: one\n\n"  # arrived while the upstream still holds the rest
            seen["release"].set()
            assert await r.content.read() == b"data: [DONE]\n\n"

    _run(scenario)


def test_request_body_is_passed_on_as_it_arrives():
    async def scenario(client, urls, seen):
        async def body():
            yield b"x" * 1000
            await asyncio.wait_for(seen["first_chunk"].wait(), timeout=5)  # upstream has it already
            yield b"y" * 500

        async with client.post(urls["public"] + "/v1/embeddings", data=body()) as r:
            assert r.status == 200 and (await r.json()) == {"bytes": 1500}

    _run(scenario)


def test_unreachable_proxy_is_a_502_with_an_openai_error():
    async def main():
        ports = PortAllocator()
        port, up = ports(), ports()
        holder = {"session": aiohttp.ClientSession()}
        runner = await _site(front.make_app(front.PUBLIC, f"http://127.0.0.1:{up}", holder), port)
        try:
            async with (
                aiohttp.ClientSession() as client,
                client.get(f"http://127.0.0.1:{port}/v1/models") as r,
            ):
                assert r.status == 502 and json.loads(await r.text())["error"]["code"] == "bad_gateway"
        finally:
            await holder["session"].close()
            await runner.cleanup()

    asyncio.run(main())


def test_a_compressed_body_gets_the_gateways_415_instead_of_being_inflated_and_forwarded():
    async def scenario(client, urls, seen):
        bomb = gzip.compress(b"0" * 2_000_000)
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        async with client.post(urls["public"] + "/v1/chat/completions", data=bomb, headers=headers) as r:
            assert r.status == 415
            assert (await r.json())["error"]["code"] == "unsupported_content_encoding"
        assert "path" not in seen  # never forwarded

    _run(scenario)
