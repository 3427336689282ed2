"""The e2e benchmark's load-generator client (``gateway.bench.e2e_client``): what it sends is the request
httpx sent (method, path, headers, body), it keeps connections alive, and a kept-alive connection the
server closed while idle is replaced instead of failing the POST."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from gateway.bench.e2e_client import LoopbackPoster

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
    body = await reader.readexactly(int(headers["content-length"]))
    return head[0], headers, body


def answer(status: int, body: bytes, *, close: bool = False) -> bytes:
    extra = "connection: close\r\n" if close else ""
    return f"HTTP/1.1 {status} X\r\ncontent-length: {len(body)}\r\n{extra}\r\n".encode() + body


async def serving(handler: Handler, run: Callable[[str], Awaitable[None]]) -> None:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        await run(f"http://127.0.0.1:{port}")
        await asyncio.sleep(0.05)  # the handlers see the client's close and end


def test_posts_reuse_one_connection_and_send_the_request_as_given() -> None:
    seen: list[tuple[str, dict[str, str], bytes]] = []
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while not reader.at_eof():
            try:
                request = await read_request(reader)
            except asyncio.IncompleteReadError:
                break
            seen.append(request)
            writer.write(answer(202, b'{"id": "%d"}' % len(seen)))
            await writer.drain()
        writer.close()

    async def run(base: str) -> None:
        poster = LoopbackPoster(base, headers={"Authorization": "Bearer k"})
        answers = [
            await poster.post("/v1/outbound/invoices", content=b'{"n": %d}' % i, headers={"X-T": "j"})
            for i in range(3)
        ]
        await poster.aclose()
        assert [(a.status_code, a.json()) for a in answers] == [(202, {"id": str(i + 1)}) for i in range(3)]

    asyncio.run(serving(handler, run))
    assert connections == 1
    line, headers, body = seen[2]
    assert line == "POST /v1/outbound/invoices HTTP/1.1"
    assert (headers["authorization"], headers["x-t"], headers["host"].startswith("127.0.0.1:")) == (
        "Bearer k",
        "j",
        True,
    )
    assert body == b'{"n": 2}'


def test_a_connection_closed_while_idle_is_replaced_and_an_error_answer_is_returned() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        writer.write(answer(409, b"conflict"))  # answered, then closed without saying so (keep-alive ended)
        await writer.drain()
        writer.close()

    async def run(base: str) -> None:
        poster = LoopbackPoster(base, headers={})
        first = await poster.post("/p", content=b"a", headers={})
        await asyncio.sleep(0.05)  # the server's close reaches the idle connection
        second = await poster.post("/p", content=b"b", headers={})
        await poster.aclose()
        assert (first.status_code, first.text, second.status_code) == (409, "conflict", 409)

    asyncio.run(serving(handler, run))
    assert connections == 2


def test_a_server_that_closes_before_answering_fails_the_post_as_a_transport_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.close()

    async def run(base: str) -> None:
        poster = LoopbackPoster(base, headers={})
        with pytest.raises(httpx.TransportError):
            await poster.post("/p", content=b"a", headers={})

    asyncio.run(serving(handler, run))


def test_a_post_that_timed_out_in_the_body_does_not_leave_its_connection_for_the_next() -> None:
    # The first answer's head comes, its body never does (a stalled server): the POST times out. Its
    # connection still holds the unread answer; reused, the next POST would read that instead of its own.
    requests = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        while not reader.at_eof():
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                break
            requests += 1
            if requests == 1:
                writer.write(b'HTTP/1.1 202 X\r\ncontent-length: 10\r\n\r\n{"id":')  # 4 bytes short
                await writer.drain()
                continue  # the rest never comes on this connection
            writer.write(answer(202, b'{"id": "%d"}' % requests))
            await writer.drain()
        writer.close()

    async def run(base: str) -> None:
        poster = LoopbackPoster(base, headers={}, timeout=0.2)
        with pytest.raises(httpx.ReadTimeout):
            await poster.post("/p", content=b"a", headers={})
        second = await poster.post("/p", content=b"b", headers={})
        await poster.aclose()
        assert (second.status_code, second.json()) == (202, {"id": "2"})

    asyncio.run(serving(handler, run))
