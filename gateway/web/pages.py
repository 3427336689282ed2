"""The page machinery: the template environment, the request's session, forms with CSRF tokens, and
errors answered as pages (403, 404, 405, 409, 422, 429, 500) instead of problem+json."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qs, urlencode

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from markupsafe import Markup

from gateway.bootstrap import Services
from gateway.config import Role
from gateway.errors import (
    DocumentNotFound,
    ExpenseActionForbidden,
    InvalidCursor,
    InvalidExpenseRequest,
    InvalidIdentifier,
    InvalidTransition,
    LaterResponseQueued,
    ReportSuperseded,
)
from gateway.services.ports import PageCursor
from gateway.web.i18n import environment, language_links, page_language, translate
from gateway.web.people import LoginRefused, Person, Session, SessionManager, tokens_match

log = logging.getLogger("gateway.web")

SESSION_COOKIE: Final = "gw_session"
LOGIN_CSRF_COOKIE: Final = "gw_login_csrf"
MAX_FORM_BYTES: Final = 64 * 1024
#: A retry of a failed Invoice Response refused: a later response to the same received document was queued.
LATER_RESPONSE_QUEUED: Final = (
    "A later response to the same received invoice was queued after this one and may have reached the"
    " supplier: this response is not sent again, as it would arrive after the later one."
)
#: A retry of a Peppol report's document refused: the report was remade since (another document carries it).
REPORT_REMADE_SINCE: Final = (
    "This document carried a Peppol report that was remade since: the report now goes as another document,"
    " and this one is kept as the record of its failed delivery. It is not sent again, as it would send the"
    " month's old report as well."
)
#: The longest page link cursor made by ``cursor_text`` (an ISO time, ``|`` and an id) with room to spare.
MAX_CURSOR_TEXT: Final = 200
#: Pages load only their own stylesheet; no script runs (there is none), no other site frames them.
PAGE_POLICY: Final = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


class LoginRequired(Exception):
    """No live session: the browser is sent to the login page."""


class Forbidden(Exception):
    """The person's role may not do this, or the form's CSRF token is missing or wrong."""


@dataclass(frozen=True, slots=True)
class PageContext:
    """What every page handler gets: the services, the session and the request."""

    services: Services
    session: Session
    request: Request

    @property
    def person(self) -> Person:
        return self.session.person


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def sessions_of(request: Request) -> SessionManager:
    manager: SessionManager = request.app.state.web_sessions
    return manager


def page(
    request: Request, template: str, status_code: int = 200, *, session: Session | None = None, **values: Any
) -> HTMLResponse:
    """Render ``template`` as a page (the navigation shows the person of ``session``)."""
    lang = page_language(request)
    html = (
        environment(lang)
        .get_template(template)
        .render(
            lang=lang,
            languages=language_links(request, lang),
            person=session.person if session else None,
            csrf_token=session.csrf_token if session else "",
            path=request.url.path,
            **values,
        )
    )
    headers = {
        "Content-Security-Policy": PAGE_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }
    return HTMLResponse(html, status_code=status_code, headers=headers)


def markup(html: str) -> Markup:
    """Trusted HTML made by our own templates (the rendered invoice fragment)."""
    return Markup(html)  # noqa: S704 - produced by gateway.render with autoescape on


def require_session(request: Request) -> Session:
    """The live session of the request's cookie.

    Raises:
        LoginRequired: none.
    """
    session = sessions_of(request).find(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise LoginRequired
    request.state.web_session = session
    return session


def require_staff(request: Request) -> PageContext:
    """A support or admin session."""
    session = require_session(request)
    if not session.person.staff:
        raise Forbidden("Only support staff and admins see this page.")
    return PageContext(services_of(request), session, request)


def require_admin(request: Request) -> PageContext:
    """An admin session (accounts are theirs to manage)."""
    session = require_session(request)
    if session.person.role is not Role.ADMIN:
        raise Forbidden("Only admins manage accounts.")
    return PageContext(services_of(request), session, request)


def require_person(request: Request) -> PageContext:
    """Any logged-in person."""
    return PageContext(services_of(request), require_session(request), request)


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded form fields (first value of each), at most ``MAX_FORM_BYTES``, UTF-8, none with a
    NUL (PostgreSQL cannot store or compare it: a 500, not a refusal)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "This form is too large.")
    try:  # never U+FFFD for what was sent: another name than typed, a password other bytes match too
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise HTTPException(422, "This form is not UTF-8 text.") from exc
    if _holds_nul(value for values in fields.values() for value in values):
        raise HTTPException(422, "A form field holds a NUL character, which no text may hold.")
    return {name: values[0] for name, values in fields.items()}


async def checked_form(context: PageContext) -> dict[str, str]:
    """The form of a POST whose CSRF token matches the session's.

    Raises:
        Forbidden: the token is missing or wrong (a cross-site or forged post).
    """
    form = await read_form(context.request)
    if not tokens_match(context.session.csrf_token, form.get("csrf_token")):
        log.warning("refused a post without a valid CSRF token: %s", context.request.url.path)
        raise Forbidden("This form was not sent from the gateway's own page (missing or wrong CSRF token).")
    return form


def cursor_text(cursor: PageCursor | None) -> str | None:
    """The next-page link value of a keyset cursor."""
    return f"{cursor.at.isoformat()}|{cursor.id}" if cursor else None


def parse_cursor(text: str | None) -> PageCursor | None:
    """Read a cursor made by ``cursor_text``.

    Raises:
        InvalidCursor: not one.
    """
    if not text:
        return None
    if len(text) > MAX_CURSOR_TEXT:
        raise InvalidCursor("this page link is not valid")
    stamp, _, ident = text.partition("|")
    try:
        at = datetime.fromisoformat(stamp)
        at.astimezone(UTC)  # the store compares in UTC: 0001-01-01T00:00+01:00 has no such instant
    except (ValueError, OverflowError) as exc:
        raise InvalidCursor("this page link is not valid") from exc
    if not ident or at.tzinfo is None:
        raise InvalidCursor("this page link is not valid")
    return PageCursor(at, ident)


def query_link(path: str, values: dict[str, str | None]) -> str:
    """``path?query`` keeping only the non-empty values."""
    kept = {k: v for k, v in values.items() if v}
    return f"{path}?{urlencode(kept)}" if kept else path


_ERROR_TITLES: Final = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Not possible now",
    413: "Too large",
    422: "Invalid input",
    429: "Too many attempts",
    500: "Something went wrong",
}


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """An error as a page, with the navigation when the person is logged in."""
    session: Session | None = getattr(request.state, "web_session", None)
    lang = page_language(request)
    return page(
        request,
        "error.html",
        status,
        session=session,
        title=translate(lang, _ERROR_TITLES.get(status, "Error")),
        status=status,
        message=translate(lang, message),
    )


def _holds_nul(texts: Iterable[str]) -> bool:
    """True when one of ``texts`` holds a NUL: PostgreSQL can neither store nor compare such a text (a 500
    page there, a silent "not found" on SQLite), so forms and addresses holding one are refused."""
    return any("\x00" in text for text in texts)


def _address_texts(request: Request) -> Iterable[str]:
    """The decoded path, then every query name and value."""
    yield request.scope.get("path", "")
    for name, value in request.query_params.multi_items():
        yield name
        yield value


def answered_as_page(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Coroutine[Any, Any, Response]]:
    """``handler`` with its errors answered as pages: the service errors map to their status, anything
    else to 500; an address holding a NUL is a 422 page before ``handler`` runs."""

    async def answer(request: Request) -> Response:
        if _holds_nul(_address_texts(request)):
            return error_page(request, 422, "The address holds a NUL character, which no text may hold.")
        try:
            return await handler(request)
        except LoginRequired:
            return RedirectResponse(query_link("/web/login", {"next": request.url.path}), status_code=303)
        except (Forbidden, ExpenseActionForbidden) as exc:
            return error_page(request, 403, str(exc))
        except DocumentNotFound:
            return error_page(request, 404, "There is no such document, or it is not yours to see.")
        except LaterResponseQueued:
            return error_page(request, 409, LATER_RESPONSE_QUEUED)
        except ReportSuperseded:
            return error_page(request, 409, REPORT_REMADE_SINCE)
        except InvalidTransition as exc:
            return error_page(request, 409, f"The document's status does not allow this: {exc}")
        except (InvalidExpenseRequest, InvalidIdentifier, InvalidCursor) as exc:
            return error_page(request, 422, str(exc))
        except RequestValidationError:
            return error_page(request, 422, "A value in the address or the form is not valid.")
        except LoginRefused:
            return error_page(request, 429, "Too many failed logins. Try again later.")
        except HTTPException as exc:
            return error_page(request, exc.status_code, str(exc.detail))
        except Exception:  # the page says so; the log has the details
            error_id = uuid.uuid4().hex[:12]
            log.exception("page %s failed (error id %s)", request.url.path, error_id)
            return error_page(request, 500, f"The gateway could not show this page (error id {error_id}).")

    return answer


class PageRoute(APIRoute):
    """A route whose errors are pages (``answered_as_page``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return answered_as_page(super().get_route_handler())
