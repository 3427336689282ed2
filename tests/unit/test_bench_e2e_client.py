"""The e2e benchmark's load-generator client (``gateway.bench.e2e_client``): what it sends is the request
httpx sent (method, path, headers, body), it keeps connections alive, and a kept-alive connection the
server closed while idle is replaced instead of failing the POST - only when the server provably did not take
the request: one it may have read before closing is never sent twice."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest

from gateway.bench import e2e_client
from gateway.bench.e2e_client import CLOSED_UNANSWERED, LoopbackPoster

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


def test_a_connection_the_server_closes_when_idle_too_long_is_replaced() -> None:
    seen: list[bytes] = []
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:  # a keep-alive timeout: an idle connection is closed after 0.05 s
                _, _, body = await asyncio.wait_for(read_request(reader), timeout=0.05)
            except (TimeoutError, asyncio.IncompleteReadError):
                break
            seen.append(body)
            writer.write(answer(202, b"ok-" + body))
            await writer.drain()
        writer.close()

    async def run(base: str) -> None:
        poster = LoopbackPoster(base, headers={})
        first = await poster.post("/p", content=b"a", headers={})
        await asyncio.sleep(0.3)  # longer than the server's keep-alive
        second = await poster.post("/p", content=b"b", headers={})
        await poster.aclose()
        assert (first.text, second.text) == ("ok-a", "ok-b")

    asyncio.run(serving(handler, run))
    assert (seen, connections) == ([b"a", b"b"], 2)  # each request sent once


def test_a_post_the_server_read_before_closing_unanswered_fails_and_is_not_sent_again() -> None:
    # The second request reaches a kept-alive connection whose server reads it whole, then closes without a
    # byte of answer (it may have stored the document and died): sending it again could store it twice.
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                _, _, body = await read_request(reader)
            except asyncio.IncompleteReadError:
                break
            seen.append(body)
            if body == b"b":
                break  # read, then closed unanswered
            writer.write(answer(202, b"ok"))
            await writer.drain()
        writer.close()

    async def run(base: str) -> None:
        poster = LoopbackPoster(base, headers={})
        assert (await poster.post("/p", content=b"a", headers={})).status_code == 202
        with pytest.raises(httpx.TransportError, match="closed the connection after the request was sent"):
            await poster.post("/p", content=b"b", headers={})
        third = await poster.post("/p", content=b"c", headers={})  # a fresh connection serves the next
        await poster.aclose()
        assert third.status_code == 202

    asyncio.run(serving(handler, run))
    assert seen == [b"a", b"b", b"c"]
    assert "not sent again" in CLOSED_UNANSWERED


class ResettingServer:
    """A blocking loopback server in a thread: it answers the first request of its first connection, then
    resets that connection (``reset`` is set once the RST is sent); every later connection is answered."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.seen: list[bytes] = []
        self.reset = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        first = True
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                while (body := self.read(connection)) is not None:
                    self.seen.append(body)
                    connection.sendall(answer(202, b"ok-" + body))
                    if first:
                        first = False
                        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        break  # closed with a linger of 0: a RST
            self.reset.set()

    @staticmethod
    def read(connection: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        while len(body) < length:
            body += connection.recv(65536)
        return body

    def close(self) -> None:
        self.listener.close()


@pytest.mark.parametrize("seen_by", ["the idle check", "the write"])
def test_a_connection_reset_before_the_request_is_written_sends_it_on_another(
    seen_by: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The RST reaches the client's socket while the event loop does not run (the loop has not handled it):
    # the check before writing sees the socket readable; without that check (the RST landing between the
    # check and the write) the write fails. Either way the server cannot have read the request: sent again.
    if seen_by == "the write":
        monkeypatch.setattr(e2e_client, "_closed_while_idle", lambda r, w: r.at_eof() or w.is_closing())
    server = ResettingServer()

    async def run() -> tuple[str, str]:
        poster = LoopbackPoster(f"http://127.0.0.1:{server.port}", headers={})
        first = await poster.post("/p", content=b"a", headers={})
        assert server.reset.wait(timeout=10)  # blocking: the loop does not see the reset
        time.sleep(0.05)  # the RST reaches the client's kernel
        second = await poster.post("/p", content=b"b", headers={})
        await poster.aclose()
        return first.text, second.text

    try:
        assert asyncio.run(run()) == ("ok-a", "ok-b")
    finally:
        server.close()
    assert server.seen == [b"a", b"b"]
