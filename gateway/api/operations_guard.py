"""The API key in front of the operations endpoints (issue 13): ``/metrics``, ``/docs``, ``/redoc`` and
``/openapi.json`` share the public listener with ``/as4``, so they answer only callers with a configured
API key (any role; e.g. Prometheus with ``authorization: {credentials: <key>}``), unless
``GATEWAY_SERVER__OPEN_OPERATIONS=true`` opens them (a private network in front). ``/healthz`` and
``/readyz`` stay open for the probes."""

from __future__ import annotations

from typing import Final

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.api.auth import NO_KEY, TWO_KEYS, KeyRing, presented_keys
from gateway.api.errors import problem

#: Paths that need a key (FastAPI's documentation routes and the Prometheus scrape).
OPERATIONS_PATHS: Final = frozenset({"/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


class OperationsGuard:
    """ASGI middleware answering 401 problem+json on ``OPERATIONS_PATHS`` without a valid API key.

    Args:
        app: the wrapped ASGI app.
        keyring: the configured API keys.
    """

    def __init__(self, app: ASGIApp, *, keyring: KeyRing) -> None:
        self.app = app
        self.keyring = keyring

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in OPERATIONS_PATHS:
            headers = Headers(scope=scope)
            presented = presented_keys(headers)
            two = len(presented) > 1
            if two or not presented or self.keyring.authenticate(presented.pop()) is None:
                response = problem(
                    401,
                    TWO_KEYS if two else NO_KEY,
                    kind="http-401",
                    instance=str(scope["path"]),
                )
                response.headers["WWW-Authenticate"] = "Bearer"
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
