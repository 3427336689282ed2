"""uvicorn for ``gateway serve`` with connection limits and a request-head deadline (issue 13).

uvicorn closes idle keep-alive connections but waits forever for a request head that never completes, and
accepts connections until the process runs out of descriptors. ``guarded_h11`` adds both limits to its h11
protocol: a connection must deliver a complete request head within ``header_timeout_seconds`` (after it
opened, and after each response on a kept-alive connection), and beyond ``max_connections`` a new
connection evicts the oldest one still waiting for its request head, preferring one that never completed a
request over an idle kept-alive one (or is closed itself when none is waiting).
The body deadline is the ASGI middleware ``read_deadline.BodyDeadline``. Repeated log lines of the
server and of asyncio's accept loop are rate-limited.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from gateway.config import ServerSettings
from gateway.observability import rate_limit


def guarded_h11(max_connections: int, header_timeout: float) -> type[H11Protocol]:
    """An ``H11Protocol`` class with a connection cap and a request-head deadline."""

    class GuardedH11Protocol(H11Protocol):
        opened_at = 0.0
        answered = 0  # responses completed on this connection
        head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.opened_at = self.loop.time()
            self._arm_head_deadline()
            if len(self.connections) > max_connections:
                self._evict()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_deadline()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            self.answered += 1
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_head_deadline()  # the next request head on this connection

        def waiting_for_head(self) -> bool:
            return bool(self.conn.their_state is h11.IDLE) and not self.transport.is_closing()

        def _arm_head_deadline(self) -> None:
            self._disarm_head_deadline()
            self.head_timer = self.loop.call_later(header_timeout, self._head_deadline)

        def _disarm_head_deadline(self) -> None:
            if self.head_timer is not None:
                self.head_timer.cancel()
                self.head_timer = None

        def _head_deadline(self) -> None:
            self.head_timer = None
            if self.waiting_for_head():  # no complete request head in time: slow or half-open client
                self.transport.close()

        def _evict(self) -> None:
            waiting = [
                c
                for c in self.connections
                if isinstance(c, GuardedH11Protocol) and c is not self and c.waiting_for_head()
            ]
            # A connection that never completed a request (a slow or half-open client) goes before an idle
            # kept-alive one that did; the oldest first.
            victim = min(waiting, key=lambda c: (c.answered > 0, c.opened_at), default=self)
            victim.transport.close()

    return GuardedH11Protocol


#: Loggers whose repeated lines are rate-limited: uvicorn's ("Invalid HTTP request received.",
#: "Exceeded concurrency limit.") and asyncio's ("socket.accept() out of system resource").
RATE_LIMITED_LOGGERS = ("uvicorn.error", "asyncio")


def install_log_rate_limits(interval: float = 10.0) -> None:
    """Rate-limit the repeated lines of ``RATE_LIMITED_LOGGERS`` (idempotent)."""
    for name in RATE_LIMITED_LOGGERS:
        rate_limit(logging.getLogger(name), interval)


def server_config(
    app: Any, settings: ServerSettings, *, host: str, port: int, log_level: str
) -> uvicorn.Config:
    """The uvicorn configuration of ``gateway serve`` with the limits of ``settings``."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_h11(settings.max_connections, settings.header_timeout_seconds),
        ws="none",
        lifespan="on",
        limit_concurrency=settings.limit_concurrency,
        backlog=settings.backlog,
        timeout_keep_alive=settings.timeout_keep_alive_seconds,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        log_level=log_level,
        access_log=False,
        log_config=None,  # uvicorn logs through the gateway's handler (JSON, redacted)
    )
