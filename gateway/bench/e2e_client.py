"""The load generator's own HTTP/1.1 client for ``gateway bench e2e``: POSTs over kept-alive asyncio streams.

The benchmark runs on the same cores as the gateway it measures, so what the load generator spends is taken
from the gateway (issue 12, *End to end, ninth pass*): posting through httpx cost the benchmark's process
about 1.8 ms of CPU per document in the saturation phase (its connection pool, anyio streams and h11 in
Python), ≈ 5 % of two cores at 55 docs/s. This client writes the request in one piece and reads the answer
with two stream reads; the gateway receives the same requests (method, path, headers, body). Only the
POSTs use it; the waiting loop's few GETs keep httpx.

A POST is sent again on another connection only when the server provably did not take it: a kept-alive
connection found closed (or readable) while idle before anything was written, or one that failed while the
request was being written (so the server cannot have read it whole). A connection that the server closes
after the request was written, before any byte of an answer, may have had it processed (read, stored, then
the server died or dropped the connection): that POST fails, with that reason, and is not sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = ["LoopbackPoster", "PostAnswer"]

#: Longest response head accepted (status line and headers).
MAX_HEAD = 64 * 1024


class PostAnswer:
    """The part of an HTTP answer the load generator reads (the names httpx's ``Response`` has).

    Attributes:
        status_code: the HTTP status.
        content: the body.
    """

    __slots__ = ("content", "status_code")

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes replaced)."""
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.content)


class _StaleConnection(Exception):
    """A kept-alive connection that the server closed before this request was read whole (nothing was
    processed): the request may be sent again on another connection."""


#: Why a POST failed whose connection the server closed after the request was sent, before answering.
CLOSED_UNANSWERED = (
    "the server closed the connection after the request was sent and before any answer: not sent again "
    "(it may have been processed)"
)


class LoopbackPoster:
    """POSTs to one ``http://host:port`` over kept-alive HTTP/1.1 connections, one request at a time each.

    Args:
        base_url: ``http://host:port`` (no TLS: the benchmark runs on loopback).
        headers: sent with every request (the API key).
        timeout: seconds one request may take, connect and answer included.
    """

    def __init__(self, base_url: str, *, headers: dict[str, str], timeout: float = 120.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"{base_url!r}: expected http://host:port")
        self._host = parts.hostname
        self._port = parts.port
        self._head = f"Host: {self._host}:{self._port}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        self._timeout = timeout
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, url: str, *, content: bytes, headers: dict[str, str]) -> PostAnswer:
        """POST ``content`` to the path ``url`` with ``headers``; the answer's status and body.

        Raises:
            httpx.TransportError: the connection failed or the answer was not HTTP/1.1 as expected.
        """
        request = (
            f"POST {url} HTTP/1.1\r\n{self._head}"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            + f"Content-Length: {len(content)}\r\n\r\n"
        ).encode("latin-1") + content
        try:
            async with asyncio.timeout(self._timeout):
                while self._idle:  # a kept-alive connection closed before it took the request: the next one
                    reader, writer = self._idle.pop()
                    try:
                        return await self._exchange(reader, writer, request, reused=True)
                    except _StaleConnection:
                        continue
                reader, writer = await asyncio.open_connection(self._host, self._port)
                return await self._exchange(reader, writer, request, reused=False)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no answer within {self._timeout:g} s") from exc
        except (OSError, ValueError, _StaleConnection, asyncio.IncompleteReadError) as exc:
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}") from exc

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes, *, reused: bool
    ) -> PostAnswer:
        keep = False
        try:
            if reused and _closed_while_idle(reader, writer):
                raise _StaleConnection("closed by the server while idle")  # nothing was written
            try:
                writer.write(request)
                await writer.drain()
            except ConnectionError as exc:  # the request did not leave whole: the server cannot have read it
                if reused:
                    raise _StaleConnection("closed by the server while the request was sent") from exc
                raise
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if not exc.partial:  # closed after reading maybe all of it: never sent again
                    raise ConnectionAbortedError(CLOSED_UNANSWERED) from exc
                raise
            except ConnectionResetError as exc:
                raise ConnectionAbortedError(CLOSED_UNANSWERED) from exc
            except asyncio.LimitOverrunError as exc:
                raise ValueError("response head too long") from exc
            status, length, reusable = _parse_head(head)
            body = await reader.readexactly(length) if length else b""
            # Kept only once the whole answer is read: a body cut short (a timeout, a cancellation) would
            # otherwise be read by the next POST on this connection as the head of its own answer.
            keep = reusable
            return PostAnswer(status, body)
        finally:
            if keep:
                self._idle.append((reader, writer))
            else:
                writer.close()

    async def aclose(self) -> None:
        """Close the kept-alive connections."""
        while self._idle:
            _, writer = self._idle.pop()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _closed_while_idle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Whether an idle kept-alive connection is unusable before anything is written on it: closed as the
    event loop saw it, or readable in the kernel (the server's close, or bytes no request asked for, that
    the loop has not handled yet)."""
    if reader.at_eof() or writer.is_closing():
        return True
    sock = writer.get_extra_info("socket")
    if sock is None:
        return False
    ready = select.poll()
    ready.register(sock.fileno(), select.POLLIN)
    return bool(ready.poll(0))


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    """Status, Content-Length and whether the connection stays open, from an HTTP/1.1 response head.

    Raises:
        ValueError: not an HTTP/1.1 answer with a Content-Length (the gateway always sends one).
    """
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if version != "HTTP/1.1":
        raise ValueError(f"unexpected status line {lines[0]!r}")
    status = int(rest.split(" ", 1)[0])
    length: int | None = None
    keep = True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            keep = False
        elif name == "transfer-encoding":
            raise ValueError("chunked answers are not read by this client")
    if length is None:
        raise ValueError("the answer has no Content-Length")
    return status, length, keep
