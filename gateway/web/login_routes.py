"""Login, logout and the home page of ``/web``."""

from __future__ import annotations

import secrets
from typing import Final

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from gateway.render.i18n import chosen_language
from gateway.web.i18n import LANGUAGE_COOKIE
from gateway.web.pages import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Forbidden,
    PageRoute,
    page,
    query_link,
    read_form,
    require_session,
    sessions_of,
)
from gateway.web.people import Authenticator, Person, audit, tokens_match

router = APIRouter(prefix="/web", route_class=PageRoute, include_in_schema=False)

#: How long the language chosen in the header's switcher is kept: a year.
LANGUAGE_KEPT_SECONDS: Final = 365 * 24 * 3600
#: The answer to a language the pages do not speak (a hand-made address: the switcher offers only theirs).
NO_SUCH_LANGUAGE: Final = "The pages are in English, French or Dutch only."


def _safe_next(target: str | None) -> str:
    """Only a local /web path (no open redirect)."""
    if target and target.startswith("/web/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/web/"


def _secure(request: Request) -> bool:
    secure: bool = request.app.state.web_secure_cookies
    return secure


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    """The login page; it sets the pre-session CSRF cookie its form must echo (double submit)."""
    token = secrets.token_urlsafe(32)
    response = page(request, "login.html", login_token=token, next=_safe_next(next), error=None)
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path="/web/login"
    )
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the name and password; open a session (HttpOnly, SameSite=Lax cookie) and go on."""
    form = await read_form(request)
    if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE), form.get("csrf_token")):
        raise Forbidden(
            "The login form expired or was not sent from the gateway's page. Reload it and retry."
        )
    # argon2 takes ~50 ms and the store is read and written: off the event loop, which serves /v1 and /as4
    return await anyio.to_thread.run_sync(_log_in, request, form)


def _log_in(request: Request, form: dict[str, str]) -> Response:
    authenticator: Authenticator = request.app.state.web_authenticator
    name = form.get("name", "").strip()
    source = request.client.host if request.client else None
    password = form.get("password", "")
    checked = authenticator.authenticate(name, password, source=source) if name else None
    if checked is None:
        token = form.get("csrf_token", "")
        return page(
            request,
            "login.html",
            401,
            login_token=token,
            next=_safe_next(form.get("next")),
            error="The name or the password is wrong.",
        )
    response = session_opened(request, checked.person, _safe_next(form.get("next")), checked.password_hash)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/web/login")
    return response


def session_opened(request: Request, person: Person, target: str, password_hash: str | None) -> Response:
    """Open a session for ``person`` (HttpOnly, SameSite=Lax cookie) and go to ``target``;
    ``password_hash``: the one the password was checked against. If the account got another password
    or was deactivated since, there is no session: the login page, then ``target``."""
    manager = sessions_of(request)
    token = manager.open(person, password_hash=password_hash)
    if token is None:
        return RedirectResponse(query_link("/web/login", {"next": target}), status_code=303)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=manager.lifetime_seconds,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/web",
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session (the form carries the CSRF token like every other). A link or a typed address never
    does (a cross-site image could): GET here is the 405 page of ``gateway.web.app.unserved``."""
    session = require_session(request)
    form = await read_form(request)
    if not tokens_match(session.csrf_token, form.get("csrf_token")):
        raise Forbidden("This form was not sent from the gateway's own page (missing or wrong CSRF token).")
    sessions_of(request).close(request.cookies.get(SESSION_COOKIE), session.person)
    response = RedirectResponse("/web/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/web")
    return response


@router.get("/language")
def language(request: Request, lang: str = "", next: str | None = None) -> Response:
    """The header's switcher: keep the language chosen in a cookie (HttpOnly, SameSite=Lax, Secure as the
    session's; it only chooses the words of the pages) and go back to the local page ``next``. A link
    (shown before login too, where no session and no CSRF token exist yet): a cross-site one can change
    the language only, never act."""
    chosen = chosen_language(lang)
    if chosen is None:
        raise HTTPException(422, NO_SUCH_LANGUAGE)
    response = RedirectResponse(_safe_next(next), status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        LANGUAGE_COOKIE,
        chosen,
        max_age=LANGUAGE_KEPT_SECONDS,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/web",
    )
    return response


@router.get("/")
def home(request: Request, lang: str | None = None) -> Response:
    """Support staff start at the outbound search, members at their expense inbox; ``?lang=`` naming a
    language of the pages goes along (it speaks for the page it is in the address of: this one shows
    nothing), another value is left behind."""
    session = require_session(request)
    audit.debug("home: %s", session.person.name)
    start = "/web/outbound" if session.person.staff else "/web/expenses"
    chosen = chosen_language(lang)
    return RedirectResponse(_safe_next(query_link(start, {"lang": chosen})), status_code=303)
