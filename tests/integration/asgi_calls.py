"""Direct ASGI calls for the edge tests: a request body fed chunk by chunk, counting what the app pulled,
so a test can tell whether a body was read at all (an HTTP client would always send it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio


@dataclass
class ASGIResult:
    """What one call answered and how much of the body the app read."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    pulled: int = 0  # body chunks the app received


async def call(
    app: Any,
    method: str,
    path: str,
    headers: Sequence[tuple[str, str]],
    *,
    chunk: bytes = b"",
    chunks: int = 0,
    stall: anyio.Event | None = None,
) -> ASGIResult:
    """Call ``app`` once: ``chunks`` copies of ``chunk`` as the body; with ``stall`` the body then waits for
    the event before it ends (a slow client)."""
    result = ASGIResult()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }

    async def receive() -> dict[str, Any]:
        if result.pulled < chunks:
            result.pulled += 1
            last = result.pulled == chunks and stall is None
            return {"type": "http.request", "body": chunk, "more_body": not last}
        if stall is not None and not stall.is_set():
            await stall.wait()
            return {"type": "http.request", "body": b"", "more_body": False}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            result.status = message["status"]
            result.headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            result.body += message.get("body", b"")

    await app(scope, receive, send)
    return result
