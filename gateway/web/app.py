"""Mount the pages on the API application: routers, sessions, the authenticator and the stylesheet."""

from __future__ import annotations

import logging
from importlib.resources import files

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from gateway.bootstrap import Services
from gateway.web import account_routes, document_routes, expense_routes, login_routes
from gateway.web.pages import PageRoute, error_page
from gateway.web.people import PasswordAuthenticator, SessionManager

_STYLESHEET = files("gateway.web").joinpath("static/web.css").read_bytes()

log = logging.getLogger("gateway.web")

_static = APIRouter(prefix="/web", include_in_schema=False)


@_static.get("/static/web.css")
def web_css() -> Response:
    """The pages' stylesheet (served from the package: no CDN, no build step)."""
    return Response(_STYLESHEET, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


_fallback = APIRouter(prefix="/web", route_class=PageRoute, include_in_schema=False)


@_fallback.get("/{rest:path}")
def not_found(request: Request, rest: str) -> Response:
    """Any other address under /web: a 404 page."""
    return error_page(request, 404, "There is no page at this address.")


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
    app.include_router(_static)
    app.include_router(login_routes.router)
    app.include_router(document_routes.router)
    app.include_router(expense_routes.router)
    app.include_router(account_routes.router)
    app.include_router(_fallback)
