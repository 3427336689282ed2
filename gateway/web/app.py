"""Mount the pages on the API application: routers, sessions, the authenticator and the stylesheet."""

from __future__ import annotations

import contextlib
import logging
from importlib.resources import files
from typing import Final

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.routing import Match, Route, request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.bootstrap import Services
from gateway.render.i18n import chosen_language
from gateway.web import (
    account_routes,
    document_routes,
    expense_routes,
    login_routes,
    lookup_routes,
    network_routes,
)
from gateway.web.head_requests import with_head
from gateway.web.pages import (
    SESSION_COOKIE,
    LoginRequired,
    answered_as_page,
    error_page,
    query_link,
    require_session,
)
from gateway.web.people import PasswordAuthenticator, SessionManager

_STYLESHEET = files("gateway.web").joinpath("static/web.css").read_bytes()

log = logging.getLogger("gateway.web")

_static = APIRouter(prefix="/web", include_in_schema=False)


@_static.get("/static/web.css")
def web_css() -> Response:
    """The pages' stylesheet (served from the package: no CDN, no build step)."""
    return Response(_STYLESHEET, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


#: Every route under /web, in the order the router tries them.
_ROUTERS: Final = (
    _static,
    login_routes.router,
    document_routes.router,
    expense_routes.router,
    lookup_routes.router,
    network_routes.router,
    account_routes.router,
)

#: The answers of ``unserved``: an address no page has, a form's address opened as a link or typed, and
#: another method an address does not take.
NO_PAGE: Final = "There is no page at this address."
ONLY_A_FORM: Final = (
    "This address only accepts a form sent with a button of the gateway's pages, "
    "not a link or a typed address."
)
OTHER_METHOD: Final = "This address does not accept this kind of request."
#: The answer to a /web address sent as a request target in a form the server does not take (another
#: scheme, user information, no host: ``gateway.api.request_target``).
NOT_AN_ADDRESS: Final = (
    "This address is not written in a form this server takes; open it as a path, e.g. /web/."
)


def allowed_methods(scope: Scope) -> list[str]:
    """The methods the page routes take at the address of ``scope`` (none: no page has it); HEAD wherever
    GET (``with_head``). The routes of ``_ROUTERS``, matched on a bare scope:
    the application's own route list holds FastAPI's wrappers of included routers, not their routes."""
    probe: Scope = {
        "type": "http",
        "method": "",
        "path": scope["path"],
        "root_path": scope.get("root_path", ""),
    }
    methods: set[str] = set()
    for router in _ROUTERS:
        for route in router.routes:
            if isinstance(route, Route) and route.methods and route.matches(probe)[0] is not Match.NONE:
                methods |= route.methods
    return sorted(with_head(methods))


async def unserved(request: Request) -> Response:
    """Any method at any address under /web that no route takes: a 404 page, or a 405 page whose ``Allow``
    names the methods the address takes (only the route templates: whoever is asking, logged in or not,
    learns no more than the other pages' login redirects tell). The navigation shows for a person logged in.
    """
    if request.cookies.get(SESSION_COOKIE):  # a probe without one takes no thread from the API's pool
        await anyio.to_thread.run_sync(_find_session, request)
    allowed = allowed_methods(request.scope)
    if not allowed:
        return error_page(request, 404, NO_PAGE)
    response = error_page(
        request, 405, ONLY_A_FORM if request.method == "GET" and "GET" not in allowed else OTHER_METHOD
    )
    response.headers["Allow"] = ", ".join(allowed)
    return response


def answers_pages(app: object) -> bool:
    """Whether ``install_web`` mounted the pages on ``app`` (not when disabled or without the SQL store)."""
    return hasattr(getattr(app, "state", None), "web_sessions")


async def refused_target_page(scope: Scope, receive: Receive, send: Send) -> None:
    """The 400 page for a request target that is no address of this server but whose path is under /web
    (``scope`` holds that path): under /web every answer is a page, never the API's problem+json."""
    await error_page(Request(scope, receive), 400, NOT_AN_ADDRESS)(scope, receive, send)


def _find_session(request: Request) -> None:
    with contextlib.suppress(LoginRequired):
        require_session(request)


class _EveryMethod:
    """The ASGI app of the catch-all route: a Starlette route whose endpoint is an app takes every method
    (one whose endpoint is a function takes only GET and HEAD)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def install_web(app: FastAPI, services: Services) -> None:
    """Mount ``/web`` unless ``GATEWAY_WEB__ENABLED`` is false."""
    settings = services.settings
    if not settings.web.enabled:
        return
    people = services.people
    if people is None:
        log.info("the /web pages are not mounted: the document store is not the SQL store")
        return
    app.state.web_sessions = SessionManager(people, services.clock, settings.web)
    app.state.web_authenticator = PasswordAuthenticator(people, services.clock, settings.web)
    secure = settings.web.secure_cookies
    app.state.web_secure_cookies = settings.truststore.stage != "development" if secure is None else secure
    for router in _ROUTERS:
        app.include_router(router)
    # Last, for every method (a Starlette route without methods): without it the router answers an address
    # no route has with the API's JSON 404, and a method no route at the address takes with a JSON 405
    # whose Allow names the methods of the first route matching the address only.
    catch_all = _EveryMethod(request_response(answered_as_page(unserved)))
    app.router.routes.append(Route("/web/{rest:path}", catch_all, include_in_schema=False))
    app.router.routes.append(Route("/web", _EveryMethod(_to_pages), include_in_schema=False))


async def _to_pages(scope: Scope, receive: Receive, send: Send) -> None:
    """``/web`` without its slash: to ``/web/`` by a relative address. The router's own slash redirect is
    absolute, built from the request's ``Host`` header, whatever a client or a proxy put there. ``?lang=``
    naming a language of the pages goes along (as its code), as from ``/web/`` to the start page."""
    chosen = chosen_language(Request(scope).query_params.get("lang"))
    await RedirectResponse(query_link("/web/", {"lang": chosen}), status_code=307)(scope, receive, send)
