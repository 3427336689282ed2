"""A slow receiving endpoint for ``gateway bench e2e-slow``: an HTTP/1.1 proxy on loopback that holds each
request for a set time and then forwards it to a real AS4 endpoint (its signed receipt comes back), or
never answers at all (the sender's timeout ends the send).

Only what an AS4 sender sends is handled: requests with a ``Content-Length`` body, kept-alive connections.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

#: Headers that describe one hop's framing: never copied across the proxy.
HOP_HEADERS = frozenset({"host", "content-length", "connection", "transfer-encoding", "keep-alive"})


class DelayingProxy:
    """Forwards POSTs to ``target`` after ``delay`` seconds; ``delay`` None: reads them and never answers.

    Args:
        target: the AS4 endpoint URL answering after the delay.
        delay: seconds each request is held; 0 forwards at once.
    """

    def __init__(self, target: str, delay: float | None) -> None:
        self.target = target
        self.delay = delay
        self.requests = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="slow-proxy", daemon=True)
        self._stop: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """The proxy's endpoint URL."""
        return f"http://127.0.0.1:{self.port}/as4"

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with httpx.AsyncClient(timeout=300) as client:
            server = await asyncio.start_server(
                lambda r, w: self._connection(client, r, w), "127.0.0.1", 0, limit=1 << 20
            )
            self.port = server.sockets[0].getsockname()[1]
            self._started.set()
            async with server:
                await self._stop.wait()
                server.close()
                for writer in self._writers:  # held connections end with the proxy
                    writer.close()

    async def _connection(
        self, client: httpx.AsyncClient, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._writers.add(writer)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line.strip():
                    return
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests += 1
                if self.delay is None:
                    await reader.read()  # never answer: wait until the sender gives up and closes
                    return
                await asyncio.sleep(self.delay)
                forwarded = {k: v for k, v in headers.items() if k not in HOP_HEADERS}
                answer = await client.post(self.target, content=body, headers=forwarded)
                head = [f"HTTP/1.1 {answer.status_code} {answer.reason_phrase}"]
                head += [f"{k}: {v}" for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS]
                head.append(f"Content-Length: {len(answer.content)}")
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + answer.content)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, httpx.HTTPError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    def start(self) -> None:
        """Start serving (in a thread); ``port`` is set on return."""
        self._thread.start()
        self._started.wait(10)

    def stop(self) -> None:
        """Stop serving and join the thread (held connections are dropped)."""
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@contextmanager
def delaying_proxy(target: str, delay: float | None) -> Iterator[DelayingProxy]:
    """A running ``DelayingProxy``, stopped on exit."""
    proxy = DelayingProxy(target, delay)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
