"""Read deadlines for request bodies, and quiet handling of clients that go away (issue 13).

uvicorn has no deadline for a body that trickles in: ``BodyDeadline`` wraps ``receive()`` so a body that
pauses longer than the idle timeout, or takes longer than the total deadline, ends the request with 408
(the connection is then closed). A client that disconnects mid-upload, or misses the deadline, is logged
as one INFO line, rate-limited, instead of two ERROR tracebacks.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.errors import BodyReadTimeout, problem
from gateway.observability import rate_limit

log = logging.getLogger("gateway.api.clients")


#: Status recorded for a request whose client went away before it was answered (nginx's convention).
CLIENT_CLOSED_REQUEST = 499


class BodyDeadline:
    """ASGI middleware: a deadline on reading the request body, and client failures logged quietly.

    Args:
        app: the wrapped ASGI app.
        idle_timeout: longest pause between two body chunks, in seconds.
        total_timeout: longest time to read the whole body, in seconds.
        log_interval: client failures are logged at most once per this many seconds (with the count).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        idle_timeout: float,
        total_timeout: float,
        log_interval: float = 10.0,
    ) -> None:
        self.app = app
        self.idle_timeout = idle_timeout
        self.total_timeout = total_timeout
        rate_limit(log, log_interval)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.total_timeout
        body_done = False
        started = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:  # after the body only http.disconnect comes: no deadline on waiting for it
                return await receive()
            timeout = min(self.idle_timeout, deadline - time.monotonic())
            try:
                with anyio.fail_after(max(timeout, 0.0)):
                    message = await receive()
            except TimeoutError:
                raise BodyReadTimeout from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, tracking_send)
        except ClientDisconnect:
            self._note(scope, "went away before its request body was read")
            if not started:  # nobody reads it (the server drops it): it tells the metrics what happened
                await Response(status_code=CLIENT_CLOSED_REQUEST)(scope, receive, send)
        except BodyReadTimeout:
            self._note(scope, "sent its request body too slowly; answered 408")
            if not started:
                await _timeout_response()(scope, receive, send)

    def _note(self, scope: Scope, what: str) -> None:
        client: Any = scope.get("client") or ("?", 0)
        log.info("client %s %s (%s %s)", client[0], what, scope["method"], scope["path"])


def _timeout_response() -> Response:
    response = problem(408, "Request body not received in time", kind="http-408")
    response.headers["Connection"] = "close"
    return response
