"""HEAD is answered like GET without a body (RFC 9110 §9.3.2), by the API and the pages alike: one ASGI
middleware for every route (``HeadAsGet``), and one rule for the methods an ``Allow`` field names
(``with_head``).

FastAPI routes declared with GET do not answer HEAD (405), so a monitor or a client checking a document
with HEAD failed. This middleware runs a HEAD request as a GET through the whole application (the API-key
check, the role checks and the error answers included) and sends the status and the header fields of that
answer, ``Content-Length`` too, without its body. A route without GET answers HEAD as it answers GET (405).

Here, in the pages' package, as the API application (``gateway.api``: ``OPTIONS *``, the middleware) and the
pages (their 405 page) both use it: the pages lie below the API in the layers.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def with_head(methods: Iterable[str]) -> set[str]:
    """``methods`` (those some route takes) and HEAD wherever GET is one: ``HeadAsGet`` answers it."""
    answered = set(methods)
    if "GET" in answered:
        answered.add("HEAD")
    return answered


class HeadAsGet:
    """Run HEAD requests as GET and drop the body of the answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                # Same message flow (more_body kept), no bytes: the server still sees one response.
                message = {**message, "body": b""}
            await send(message)

        # A copy: the server's own scope keeps HEAD, so it also knows that no body follows.
        await self.app({**scope, "method": "GET"}, receive, send_without_body)
