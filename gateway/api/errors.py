"""Map gateway exceptions to RFC 9457 problem+json responses; routes never build error responses."""

from __future__ import annotations

import logging
import uuid
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.config import ServerSettings
from gateway.errors import (
    ArtefactError,
    DocumentNotFound,
    DocumentNumberConflict,
    DocumentRejected,
    ExpenseActionForbidden,
    GatewayError,
    IdempotencyConflict,
    InvalidCursor,
    InvalidDocumentData,
    InvalidExpenseRequest,
    InvalidIdentifier,
    InvalidTransition,
    LaterResponseQueued,
    MappingError,
    ReportAlreadyReceived,
    ReportRemakeRefused,
    ReportTransmissionInFlight,
    StoreError,
    UnknownRuleSet,
    XMLEncodingRefused,
    XMLInputError,
    XMLLimitExceeded,
)
from gateway.render.pdf import DocumentUnprintable, RenderBusy, RenderError, RenderTooLarge

log = logging.getLogger("gateway.api")

PROBLEM_JSON = "application/problem+json"

#: JSON schema of our problem documents (RFC 9457 §3): the standard members plus extensions such as
#: ``errors`` (request-invalid, invalid-document-data, document-invalid), ``report`` (document-invalid) and
#: ``error_id``.
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "Problem type URI: /problems/<kind>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "description": "One entry per problem in the request or document"},
        "report": {"type": "object", "description": "The full validation report (document-invalid)"},
        "error_id": {"type": "string", "description": "Finds the log record of an internal error"},
    },
    "additionalProperties": True,
}

_PROBLEM_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed or hostile input (XML, paging cursor)",
    401: "A valid API key is required",
    403: "The API key's role may not do this",
    404: "No such document",
    409: "Conflict with the stored state",
    413: "Body larger than the configured limit",
    415: "The Content-Type is not the route's (JSON or XML); send it without one or with the right one",
    422: "The request or the document is invalid; the problem names every field or rule",
    500: "Our own fault: the problem's type names it (internal: quote its error_id)",
    503: "A dependency (database, validation artefacts) is unavailable; retry after Retry-After seconds",
}


def problem_responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting problem+json answers with these statuses.

    Args:
        statuses: HTTP status codes.
        descriptions: ``s422="..."`` replaces the default description of status 422.
    """
    return {
        status: {
            "description": descriptions.get(f"s{status}", _PROBLEM_DESCRIPTIONS.get(status, "Problem")),
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
        for status in statuses
    }


def problem(
    status: int, title: str, *, kind: str, detail: str = "", instance: str = "", **extensions: Any
) -> JSONResponse:
    """Build a problem+json response. ``kind`` becomes the problem type URI ``/problems/<kind>``."""
    body: dict[str, Any] = {"type": f"/problems/{kind}", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


# (exception class, HTTP status, problem kind, title); the first matching row wins, so subclasses first.
_MAPPING: tuple[tuple[type[GatewayError], int, str, str], ...] = (
    # Before its base class: well-formed XML beyond a limit of ours (attributes, URI or name length), not
    # hostile.
    (XMLLimitExceeded, 422, "xml-limit", "The XML exceeds a limit of the gateway"),
    # Not read at all: its bytes are not in an encoding the checks before the parse read (UTF-16...).
    (
        XMLEncodingRefused,
        400,
        "xml-encoding",
        "The XML is not in UTF-8 (or another encoding the gateway reads)",
    ),
    (XMLInputError, 400, "xml-input", "The XML input was refused"),
    (InvalidIdentifier, 422, "invalid-identifier", "An identifier is malformed"),
    (InvalidDocumentData, 422, "invalid-document-data", "The document data is inconsistent"),
    (MappingError, 422, "mapping", "The document cannot be mapped to or from UBL"),
    (DocumentRejected, 422, "document-invalid", "The document fails validation"),
    (UnknownRuleSet, 422, "unknown-rule-set", "No such validation rule set"),
    (ArtefactError, 503, "artefacts-unavailable", "Validation artefacts are unavailable"),
    # Render routes: a document too large to print is refused at once, not printed for minutes; one whose
    # content makes the printer fail is the input's fault (its HTML still shows it); busy print slots are
    # temporary; any other printer failure (not loadable, out of memory) is ours.
    (RenderTooLarge, 422, "render-too-large", "The document is too large to print as a PDF"),
    (DocumentUnprintable, 422, "render-failed", "The document cannot be printed as a PDF"),
    (RenderBusy, 503, "render-busy", "Every PDF print slot is busy; retry later"),
    (RenderError, 500, "render-unavailable", "The PDF printer failed"),
    # Outbound/inbound document routes.
    (DocumentNotFound, 404, "not-found", "No such document"),
    (IdempotencyConflict, 409, "idempotency-conflict", "The Idempotency-Key was used for another request"),
    (
        DocumentNumberConflict,
        409,
        "document-number-conflict",
        "The document number is taken by other content",
    ),
    (
        LaterResponseQueued,
        409,
        "later-response-queued",
        "A later response to the same received document was queued: this one is not sent again",
    ),
    (InvalidTransition, 409, "status-conflict", "The document's status does not allow this"),
    (
        ReportAlreadyReceived,
        409,
        "report-already-received",
        "An earlier transmission of the report was received: it is not sent again",
    ),
    (
        ReportTransmissionInFlight,
        409,
        "report-in-flight",
        "A transmission of the report is still on its way: its outcome decides",
    ),
    (ReportRemakeRefused, 409, "report-remake-refused", "The report's status does not allow a remake"),
    (InvalidCursor, 400, "invalid-cursor", "The paging cursor is not valid"),
    # Expense routes.
    (InvalidExpenseRequest, 422, "expense-request-invalid", "The expense request is not valid"),
    (ExpenseActionForbidden, 403, "expense-action-forbidden", "Your role does not allow this action"),
    # After its subclasses: a store that is locked, restarting or out of connections is temporary.
    (StoreError, 503, "store-unavailable", "The database is unavailable; retry later"),
)

#: Retry-After of a 503 without settings at hand; the app uses ``settings.server.retry_after_seconds``.
DEFAULT_RETRY_AFTER_SECONDS: Final[int] = ServerSettings.model_fields["retry_after_seconds"].default


def retry_after(request: Request) -> str:
    """The Retry-After of a 503: ``settings.server.retry_after_seconds`` (one policy for /v1 and /as4)."""
    services = getattr(request.app.state, "services", None)
    return str(
        services.settings.server.retry_after_seconds if services is not None else DEFAULT_RETRY_AFTER_SECONDS
    )


def _gateway_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    for cls, status, kind, title in _MAPPING:
        if isinstance(exc, cls):
            extensions: dict[str, Any] = {}
            if isinstance(exc, InvalidDocumentData):
                extensions["errors"] = exc.problems
            if isinstance(exc, DocumentRejected):
                extensions["report"] = exc.report.to_dict()
            if isinstance(exc, ReportRemakeRefused) and exc.document_id is not None:
                extensions["outbound_document_id"] = exc.document_id
            if status >= 500:
                log.error("request failed: %s", exc)
            response = problem(
                status, title, kind=kind, detail=str(exc), instance=request.url.path, **extensions
            )
            if status == 503:
                response.headers["Retry-After"] = retry_after(request)
            return response
    return internal_error(request, exc)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = problem(
        exc.status_code, str(exc.detail), kind=f"http-{exc.status_code}", instance=request.url.path
    )
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"location": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", "")}
        for err in exc.errors()
    ]
    return problem(
        422,
        "The request does not match the schema",
        kind="request-invalid",
        detail=f"{len(errors)} problem(s) in the request",
        instance=request.url.path,
        errors=errors,
    )


def internal_error(request: Request, exc: BaseException) -> JSONResponse:
    """The answer to our own bug: a 500 problem with a fresh error id, logged with the traceback.

    The caller learns nothing internal, only the error id, which finds the log record.
    """
    error_id = uuid.uuid4().hex
    log.error(
        "unexpected error %s on %s %s",
        error_id,
        request.method,
        request.url.path,
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"error_id": error_id},
    )
    return problem(
        500,
        "Internal error",
        kind="internal",
        detail=f"An unexpected error occurred; quote error id {error_id} to the operator",
        instance=request.url.path,
        error_id=error_id,
    )


class BodyReadTimeout(Exception):
    """The request body did not arrive in time (raised from ``receive()`` into the app by
    ``gateway.api.read_deadline``, which answers 408)."""


#: Client-side aborts: not our errors. They pass through to ``read_deadline.BodyDeadline``
#: (408, or 499 in the metrics) instead of becoming a 500 with a traceback.
CLIENT_ABORTS: tuple[type[Exception], ...] = (ClientDisconnect, BodyReadTimeout)


class UnexpectedErrorMiddleware:
    """Answers any exception the routes and handlers let through with :func:`internal_error`.

    Starlette's own handler for ``Exception`` answers and then re-raises to the server, which closes
    the keep-alive connection without ``Connection: close``: the client's next request on it is reset.
    Here the exception ends with the answer and the connection stays usable. If the answer had
    already begun, nothing clean is possible: the exception goes on to the server, which drops the
    connection (the client sees a truncated response, never a wrong one).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except CLIENT_ABORTS:
            raise
        except Exception as exc:
            if started:
                raise
            await internal_error(Request(scope), exc)(scope, receive, send)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Only reached by an exception raised outside UnexpectedErrorMiddleware (in an outer middleware).
    return internal_error(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    """Register the problem+json handlers on ``app``.

    ``UnexpectedErrorMiddleware`` is added by ``create_app`` where it belongs in the middleware stack:
    around ``BodyDeadline`` (slow or abandoned uploads are answered 408/499, not 500), the routes and the
    middleware that judge requests, inside the metrics and request-id middleware (which must see its 500
    like any other answer).
    """
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(Exception, _unexpected)
