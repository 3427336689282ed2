"""Human-readable documents: ``GET /v1/outbound/{id}/render`` and ``/v1/inbound/{id}/render`` (HTML or PDF),
and the embedded attachments of either (``…/attachments/{n}``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import Response

from gateway.api.auth import Principal
from gateway.api.deps import ServicesDep, require_roles
from gateway.api.errors import problem_responses
from gateway.api.expense_schemas import ExpenseIdPath, actor_of
from gateway.api.file_responses import ATTACHMENT_NAME, FILE_NAME, content_disposition_header
from gateway.api.schemas import DocumentIdPath
from gateway.config import Role
from gateway.errors import DocumentNotFound
from gateway.model.message import DocumentContent
from gateway.render import (
    ATTACHMENT_TYPES,
    OutputFormat,
    negotiate_language,
    read_attachment,
)
from gateway.render.file_names import Named, attachment_name, content_disposition, download_headers
from gateway.services.document_files import expense_file, inbound_file, outbound_file
from gateway.services.inbound_queries import get_inbound
from gateway.services.outbound_queries import get_outbound_content

router = APIRouter(tags=["rendering"], responses=problem_responses(401, 403, 422, 503))

ReaderDep = Annotated[Principal, Depends(require_roles(Role.SENDER, Role.SUPPORT))]
ExpenseReaderDep = Annotated[Principal, Depends(require_roles(Role.MEMBER, Role.SUPPORT))]
FormatQuery = Annotated[OutputFormat, Query(alias="format", description="html (default) or pdf")]
LangQuery = Annotated[
    str | None,
    Query(pattern="^(en|fr|nl)([-_][A-Za-z]{2})?$", description="en, fr or nl; default from Accept-Language"),
]
AcceptLanguage = Annotated[str | None, Header(description="used when lang is absent (RFC 9110 §12.5.4)")]

#: The rendered page runs no script and loads nothing but its inline QR code (defence in depth).
HTML_POLICY: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
)
_RENDER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/html": {"schema": {"type": "string"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "The document as a page or a PDF, labels in the negotiated language",
        "headers": content_disposition_header(f"The PDF only (format=pdf; the page has none): {FILE_NAME}"),
    },
    **problem_responses(
        404,
        422,
        500,
        503,
        s404="No such document",
        s422="The stored document is not a UBL Invoice or CreditNote, or too large or unfit to print as a "
        "PDF (render-too-large, render-failed; its HTML rendering still shows it)",
        s500="The PDF printer failed whatever the document (render-unavailable)",
        s503="Every PDF print slot stayed busy (render-busy), or the database is unavailable; retry after "
        "Retry-After seconds",
    ),
}
_ATTACHMENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        "description": "The embedded file (BT-125), decoded, as a download",
        "headers": content_disposition_header(ATTACHMENT_NAME),
    },
    **problem_responses(404, s404="No such document, or no embedded file at that position"),
}


def _page(content: DocumentContent, language: str, attachment_url: Callable[[int], str]) -> str:
    from gateway.render.html import render_stored  # Jinja2 etc. on first use

    return render_stored(
        content.body, content.validation_report, language=language, attachment_url=attachment_url
    )


async def _render(
    request: Request,
    load: Callable[[], tuple[DocumentContent, Named]],
    document_id: str,
    output: OutputFormat,
    language: str,
    attachment_url: Callable[[int], str],
) -> Response:
    """The document of ``load`` (its content and what names its file) as HTML, or printed as a PDF in one of
    the process's print slots (``Services.print_slots``, shared with the pages' PDF downloads), named after
    the document's kind and number.

    The store read, the HTML and the print each run in a worker thread, never on the event loop. A page too
    large to print is refused before it waits for a slot; a request waits for a slot as a coroutine.
    """

    def page() -> tuple[str, Named]:
        content, named = load()
        return _page(content, language, attachment_url), named

    html, named = await anyio.to_thread.run_sync(page)
    headers = {"Content-Language": language, "Vary": "Accept-Language"}
    if output is OutputFormat.PDF:
        pdf = await request.app.state.services.print_slots.print(html, document_id)
        headers.update(download_headers(named.disposition("pdf")))
        return Response(pdf, media_type="application/pdf", headers=headers)
    headers["Content-Security-Policy"] = HTML_POLICY
    return Response(html, media_type="text/html; charset=utf-8", headers=headers)


def attachment_response(content: bytes, filename: str, mime_code: str, index: int) -> Response:
    """An embedded file as a download that cannot run in our origin: only the BIS attachment types keep their
    media type (others go out as octet-stream), with nosniff and a sandbox policy."""
    media_type = mime_code if mime_code in ATTACHMENT_TYPES else "application/octet-stream"
    return Response(
        content,
        media_type=media_type,
        headers=download_headers(content_disposition(attachment_name(filename, f"attachment-{index}"))),
    )


def _attachment(content: DocumentContent, document_id: str, index: int) -> Response:
    embedded = read_attachment(content.body, index)
    if embedded is None:
        raise DocumentNotFound(f"{document_id}/attachments/{index}", "embedded attachment")
    return attachment_response(embedded.content, embedded.filename, embedded.mime_code, index)


@router.get("/v1/outbound/{document_id}/render", response_class=Response, responses=_RENDER_RESPONSES)
async def render_outbound(
    request: Request,
    services: ServicesDep,
    _who: ReaderDep,
    document_id: DocumentIdPath,
    output: FormatQuery = OutputFormat.HTML,
    lang: LangQuery = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """The document as sent, human-readable (HTML or PDF), with a banner if its report has findings."""
    return await _render(
        request,
        lambda: outbound_file(services.store, document_id),
        document_id,
        output,
        negotiate_language(accept_language, lang),
        lambda i: f"/v1/outbound/{document_id}/attachments/{i}",
    )


@router.get("/v1/inbound/{document_id}/render", response_class=Response, responses=_RENDER_RESPONSES)
async def render_inbound(
    request: Request,
    services: ServicesDep,
    _who: ReaderDep,
    document_id: DocumentIdPath,
    output: FormatQuery = OutputFormat.HTML,
    lang: LangQuery = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """The received document, human-readable (HTML or PDF), with a banner listing its validation findings."""
    return await _render(
        request,
        lambda: inbound_file(services.store, document_id),
        document_id,
        output,
        negotiate_language(accept_language, lang),
        lambda i: f"/v1/inbound/{document_id}/attachments/{i}",
    )


@router.get("/v1/expenses/{expense_id}/render", response_class=Response, responses=_RENDER_RESPONSES)
async def render_expense(
    request: Request,
    services: ServicesDep,
    who: ExpenseReaderDep,
    expense_id: ExpenseIdPath,
    output: FormatQuery = OutputFormat.HTML,
    lang: LangQuery = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """The supplier's document of an expense, human-readable (HTML or PDF), for the people who may see it."""
    actor = actor_of(who)
    return await _render(
        request,
        lambda: expense_file(services.store, actor, expense_id),
        f"expense {expense_id}",
        output,
        negotiate_language(accept_language, lang),
        # The expense routes number attachments from 1 (``GET /v1/expenses/{id}/attachments/{n}``).
        lambda i: f"/v1/expenses/{expense_id}/attachments/{i + 1}",
    )


@router.get(
    "/v1/outbound/{document_id}/attachments/{index}", response_class=Response, responses=_ATTACHMENT_RESPONSES
)
def outbound_attachment(
    services: ServicesDep, _who: ReaderDep, document_id: DocumentIdPath, index: Annotated[int, Path(ge=0)]
) -> Response:
    """An embedded attachment of a sent document (0-based position in the rendered list)."""
    return _attachment(get_outbound_content(services.store, document_id), document_id, index)


@router.get(
    "/v1/inbound/{document_id}/attachments/{index}", response_class=Response, responses=_ATTACHMENT_RESPONSES
)
def inbound_attachment(
    services: ServicesDep, _who: ReaderDep, document_id: DocumentIdPath, index: Annotated[int, Path(ge=0)]
) -> Response:
    """An embedded attachment of a received document (0-based position in the rendered list)."""
    return _attachment(get_inbound(services.store, document_id).content, document_id, index)
