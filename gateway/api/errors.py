"""Map gateway exceptions to RFC 9457 problem+json responses; routes never build error responses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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
    MappingError,
    StoreError,
    UnknownRuleSet,
    XMLInputError,
)

log = logging.getLogger("gateway.api")

PROBLEM_JSON = "application/problem+json"


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
    (XMLInputError, 400, "xml-input", "The XML input was refused"),
    (InvalidIdentifier, 422, "invalid-identifier", "An identifier is malformed"),
    (InvalidDocumentData, 422, "invalid-document-data", "The document data is inconsistent"),
    (MappingError, 422, "mapping", "The document cannot be mapped to or from UBL"),
    (DocumentRejected, 422, "document-invalid", "The document fails validation"),
    (UnknownRuleSet, 422, "unknown-rule-set", "No such validation rule set"),
    (ArtefactError, 503, "artefacts-unavailable", "Validation artefacts are unavailable"),
    # Outbound/inbound document routes.
    (DocumentNotFound, 404, "not-found", "No such document"),
    (IdempotencyConflict, 409, "idempotency-conflict", "The Idempotency-Key was used for another request"),
    (
        DocumentNumberConflict,
        409,
        "document-number-conflict",
        "The document number is taken by other content",
    ),
    (InvalidTransition, 409, "status-conflict", "The document's status does not allow this"),
    (InvalidCursor, 400, "invalid-cursor", "The paging cursor is not valid"),
    # Expense routes.
    (InvalidExpenseRequest, 422, "expense-request-invalid", "The expense request is not valid"),
    (ExpenseActionForbidden, 403, "expense-action-forbidden", "Your role or units do not allow this action"),
    # After its subclasses: a store that is locked, restarting or out of connections is temporary.
    (StoreError, 503, "store-unavailable", "The database is unavailable; retry later"),
)

#: Seconds a client should wait after a 503 before retrying.
RETRY_AFTER_SECONDS = 5


def _gateway_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    for cls, status, kind, title in _MAPPING:
        if isinstance(exc, cls):
            extensions: dict[str, Any] = {}
            if isinstance(exc, InvalidDocumentData):
                extensions["errors"] = exc.problems
            if isinstance(exc, DocumentRejected):
                extensions["report"] = exc.report.to_dict()
            if status >= 500:
                log.error("request failed: %s", exc)
            response = problem(
                status, title, kind=kind, detail=str(exc), instance=request.url.path, **extensions
            )
            if status == 503:
                response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
    log.exception("unmapped gateway error", exc_info=exc)
    return problem(500, "Internal error", kind="internal", instance=request.url.path)


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


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Our own bug: log the trace, tell the caller nothing internal.
    log.exception("unexpected error on %s", request.url.path, exc_info=exc)
    return problem(500, "Internal error", kind="internal", instance=request.url.path)


def install_error_handlers(app: FastAPI) -> None:
    """Register the problem+json handlers on ``app``."""
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(Exception, _unexpected)
