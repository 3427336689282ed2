"""``Cache-Control: no-store`` on every answer of the API's ``/v1`` routes (RFC 9111 §5.2.2.5).

The API answers invoices, expenses, clients' and suppliers' data, and its problem+json answers repeat what
was sent (a refused field, a document's number): no shared cache (a proxy, a CDN) and no browser's disk
cache may keep any of it. One ASGI middleware says so for every ``/v1`` answer, JSON and problem+json alike,
whoever answers: a route, the API-key check (401, 403), the router (404, 405), the error handlers (422,
503) or the unexpected-error middleware inside it (500). An answer that already says how it may be cached
keeps its own ``Cache-Control``: a document file's ``private, no-store`` (``render/file_names.
DOWNLOAD_HEADERS``).

Outside ``/v1`` nothing changes: ``/healthz`` and ``/readyz`` (probes), ``/metrics`` (counts, no client
data), ``/openapi.json`` and ``/docs`` (the same for everyone), ``/as4`` (a signed receipt to another
access point, no browser), and the pages (``/web``), whose own answers say ``no-store`` already
(``web.pages.page``, the downloads).
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NO_STORE: Final = (b"cache-control", b"no-store")
#: The path prefix of the answers given ``NO_STORE``.
API_PREFIX: Final = "/v1"


def is_api_path(scope: Scope) -> bool:
    """Whether the request's path (after the application's root path, a whole segment of it) is ``/v1`` or
    under it."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "").rstrip("/")
    if root and (path == root or path.startswith(root + "/")):
        path = path[len(root) :]
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


class NoStore:
    """ASGI middleware adding ``Cache-Control: no-store`` to every ``/v1`` answer that has none.

    The path is read when the answer starts, not when the request arrives: ``RequestTargets`` inside it
    serves an absolute-form target (``GET http://host/v1/outbound``) as its path, rewriting the scope in
    place.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start" and is_api_path(scope):
                headers = list(message.get("headers", ()))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    message = {**message, "headers": [*headers, NO_STORE]}
            await send(message)

        await self.app(scope, receive, send_no_store)
