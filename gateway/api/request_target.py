"""Request targets that are not in origin-form (RFC 9112 §3.2), answered in one place before any route.

uvicorn puts the whole request target in the ASGI path, so ``GET http://x/web/login``, ``OPTIONS *`` and
``CONNECT host:443`` reached the router as paths no route can have and got the API's JSON 404, even for a
``/web`` address (the pages answer HTML) and for ``/metrics`` (past the operations guard, which compares
paths). ``RequestTargets`` answers them by their form:

* absolute-form with an ``http`` or ``https`` URI: RFC 9112 §3.2.2 says "a server MUST accept the
  absolute-form in requests", and that an origin server then ignores the ``Host`` field for the target's
  authority. It is served as its origin-form (path and query) with ``Host`` replaced, so every rule
  downstream (the operations guard, ``/web``'s pages and their error pages, the API's JSON) sees the
  address it would see in origin-form, and answers alike.
* asterisk-form (``OPTIONS *``): a question about the server as a whole (RFC 9110 §9.3.7), answered 204
  with the methods the routes take in ``Allow``. Another method with ``*`` is a 400.
* ``CONNECT`` with a target that is not a path (authority-form): a tunnel through a proxy, which this
  server is not: 501, as for a method a server does not support for any resource (RFC 9110 §15.6.2).
* anything else (another scheme, an authority with userinfo, RFC 9110 §4.2.4, or no host, §4.2.1, a
  target with neither scheme nor leading slash): 400 problem+json naming the forms taken, or the pages'
  400 page when the target's path is a ``/web`` address.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Final
from urllib.parse import unquote

from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.api.errors import problem
from gateway.web import answers_pages, refused_target_page
from gateway.web.head_requests import with_head

#: An absolute-form target (RFC 9112 §3.2.2) of an ``http``/``https`` URI: scheme, authority, the rest
#: (the path; uvicorn has split the query off already). The scheme is case-insensitive (RFC 3986 §3.1).
_ABSOLUTE: Final = re.compile(rb"(?i:https?)://([^/]*)(/.*)?", re.DOTALL)

#: Any ``scheme://authority/path`` target, for the path of one that is refused.
_ANY_URI: Final = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*://[^/]*(/.*)?", re.DOTALL)

#: An authority the gateway can stand for: a host (name, IPv4 or bracketed IP literal) and a port.
_AUTHORITY: Final = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(?::[0-9]*)?")

NOT_ORIGIN_FORM: Final = (
    "The request target must be a path (origin-form, e.g. /v1/outbound) or an absolute http(s) URI with "
    "a host and no user information (RFC 9112 §3.2)"
)
NO_TUNNEL: Final = "This server is no proxy: it does not open CONNECT tunnels"


class RequestTargets:
    """ASGI middleware: serve absolute-form targets as origin-form, answer ``OPTIONS *`` and ``CONNECT``,
    refuse any other target that is not a path (see the module's description)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root = scope.get("root_path", "")
        raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        target = raw[len(root) :] if root and raw.startswith(root.encode("ascii")) else raw
        if target.startswith(b"/"):  # origin-form: CONNECT too (a /web address answers its 405 page)
            await self.app(scope, receive, send)
            return
        if scope["method"] == "CONNECT":
            await problem(501, NO_TUNNEL, kind="http-501")(scope, receive, send)
            return
        if target == b"*" and scope["method"] == "OPTIONS":
            await Response(status_code=204, headers={"Allow": _server_methods(scope)})(scope, receive, send)
            return
        absolute = _ABSOLUTE.fullmatch(target)
        if absolute is None or not _AUTHORITY.fullmatch(absolute[1]):
            await _refuse(scope, receive, send, root, target)
            return
        path = absolute[2] or b"/"
        # In place, not a copy: the metrics middleware outside reads the matched route from this scope.
        scope["raw_path"] = root.encode("ascii") + path
        scope["path"] = root + unquote(path.decode("latin-1"))  # as uvicorn decodes origin-form (h11: ASCII)
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"host"] + [(b"host", absolute[1])]
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, root: str, target: bytes) -> None:
    """400: problem+json, or the pages' 400 page when the target's path is a ``/web`` address (under /web
    every answer is a page, README *Pages for people*) and the pages are mounted."""
    uri = _ANY_URI.fullmatch(target)
    path = uri[1] if uri is not None and uri[1] is not None else b""
    if (path == b"/web" or path.startswith(b"/web/")) and answers_pages(scope.get("app")):
        page_scope = {**scope, "raw_path": root.encode("ascii") + path}
        page_scope["path"] = root + unquote(path.decode("latin-1"))
        await refused_target_page(page_scope, receive, send)
        return
    await problem(400, NOT_ORIGIN_FORM, kind="http-400")(scope, receive, send)


def _server_methods(scope: Scope) -> str:
    """The methods some route of the application takes (HEAD wherever GET: ``with_head``), OPTIONS."""
    methods = with_head(_route_methods(getattr(scope.get("app"), "routes", [])))
    return ", ".join(sorted(methods | {"OPTIONS"}))


def _route_methods(routes: Iterable[BaseRoute]) -> Iterator[str]:
    for route in routes:
        yield from getattr(route, "methods", None) or ()
        # FastAPI lists an included router as one wrapper (``original_router``); a Mount holds ``routes``.
        inner = getattr(getattr(route, "original_router", None), "routes", None) or getattr(
            route, "routes", None
        )
        if inner:
            yield from _route_methods(inner)
