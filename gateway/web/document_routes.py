"""Support pages for documents: search outbound documents, one document with its timeline, failure reason,
attempts, rendered invoice, evidence and retry; received documents with their validation report."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime
from functools import partial
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from gateway.errors import DocumentNotFound, GatewayError, InvalidIdentifier
from gateway.model.document_number import MAX_DOCUMENT_NUMBER, NumberSearch
from gateway.model.identifiers import parse_searched_receiver
from gateway.model.message import DeliveryStatus, DocumentContent, InboundStatus
from gateway.render import ATTACHMENT_TYPES, read_attachment, read_view
from gateway.render.file_names import attachment_name, content_disposition, download_headers, evidence_name
from gateway.services.document_files import inbound_file, outbound_file
from gateway.services.inbound_queries import get_inbound, list_inbound
from gateway.services.outbound_queries import (
    evidence_archive,
    get_outbound,
    get_outbound_content,
    get_outbound_evidence,
    list_outbound,
)
from gateway.services.ports import InboundQuery, OutboundQuery
from gateway.web.downloads import PdfProblem, pdf_or_page, ubl_download
from gateway.web.ebms_codes import ebms_code_of, plain_reason
from gateway.web.i18n import page_language
from gateway.web.pages import (
    LATER_RESPONSE_QUEUED,
    REPORT_REMADE_SINCE,
    PageContext,
    PageRoute,
    checked_form,
    cursor_text,
    markup,
    page,
    parse_cursor,
    query_link,
    require_staff,
)
from gateway.web.people import audit

log = logging.getLogger("gateway.web.documents")

router = APIRouter(prefix="/web", route_class=PageRoute, include_in_schema=False)

StaffDep = Annotated[PageContext, Depends(require_staff)]
PAGE_SIZE = 25


def rendered_invoice(request: Request, content: DocumentContent, attachments_url: str) -> dict[str, Any]:
    """The invoice fragment of ``gateway.render`` and its stylesheet, or why it cannot be shown.

    A document the renderer refuses (not an invoice, malformed) says so; any other failure of the renderer
    is logged with the page's address (the document's id) and a fresh error id, and the page says only that
    id: the rest of the page (timeline, evidence, retry) stays usable, never a 500 for the whole page.
    """
    from gateway.render.html import RenderOptions, ReportSummary, render_fragment, stylesheet  # first use

    options = RenderOptions(
        language=page_language(request),
        report=ReportSummary.from_json(content.validation_report),
        attachment_url=lambda index: f"{attachments_url}/{index}",
    )
    try:
        return {
            "invoice_html": markup(render_fragment(read_view(content.body), options)),
            "invoice_css": markup(stylesheet()),
            "invoice_error": None,
        }
    except GatewayError as exc:
        return {"invoice_html": None, "invoice_css": "", "invoice_error": str(exc)}
    except Exception as exc:  # the renderer's own bug on this document: the page still serves the rest
        error_id = uuid.uuid4().hex
        log.error(
            "rendering %s failed, error id %s",
            request.url.path,
            error_id,
            exc_info=exc,
            extra={"error_id": error_id},
        )
        return {
            "invoice_html": None,
            "invoice_css": "",
            "invoice_error": f"internal error, error id {error_id}",
        }


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
    except ValueError as exc:
        raise InvalidIdentifier(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _status(text: str | None, kind: type[DeliveryStatus] | type[InboundStatus]) -> Any:
    if not text:
        return None
    try:
        return kind(text)
    except ValueError as exc:
        raise InvalidIdentifier(f"{text!r} is not a status") from exc


@router.get("/outbound")
def outbound_search(
    context: StaffDep,
    number: str | None = None,
    receiver: str | None = None,
    status: str | None = None,
    since: str | None = None,
    cursor: str | None = None,
    size: Annotated[int, Query(ge=1, le=100)] = PAGE_SIZE,
) -> Response:
    """Search outbound documents by number, receiver, status and date, newest first."""
    filters = {"number": number, "receiver": receiver, "status": status, "since": since}
    if size != PAGE_SIZE:
        filters["size"] = str(size)
    query = OutboundQuery(
        status=_status(status, DeliveryStatus),
        receiver=parse_searched_receiver(receiver.strip()) if receiver else None,
        number=number.strip() if number else None,
        since=_since(since),
        limit=size,
        after=parse_cursor(cursor),
    )
    result = list_outbound(context.services.store, query)
    following = cursor_text(result.next_cursor)
    return page(
        context.request,
        "outbound_list.html",
        session=context.session,
        documents=result.items,
        filters=filters,
        statuses=[s.value for s in DeliveryStatus],
        next_link=query_link("/web/outbound", {**filters, "cursor": following}) if following else None,
        first_link=query_link("/web/outbound", filters) if cursor else None,
    )


@router.get("/outbound/{document_id}")
def outbound_document(context: StaffDep, document_id: str, retried: str | None = None) -> Response:
    """One document: status, reason in plain words, attempts, timeline, evidence, retry, the invoice."""
    return _outbound_page(context, document_id, retried=bool(retried))


def _outbound_page(
    context: PageContext, document_id: str, *, retried: bool = False, pdf_problem: PdfProblem | None = None
) -> Response:
    """The document's page; with ``pdf_problem`` it says why its PDF was not made, with that status."""
    detail = get_outbound(context.services.store, document_id)
    content = get_outbound_content(context.services.store, document_id)
    document = detail.document
    signal = detail.last_message.signal if detail.last_message else None
    code = (signal.ebms_error_code if signal else None) or ebms_code_of(document.status_reason)
    timeline = [
        {
            "event": entry,
            "code": (entry.detail or {}).get("ebms_code"),
            "plain": plain_reason(
                str((entry.detail or {}).get("error") or ""), (entry.detail or {}).get("ebms_code")
            ),
        }
        for entry in detail.timeline
    ]
    response = page(
        context.request,
        "outbound_document.html",
        pdf_problem.status if pdf_problem else 200,
        session=context.session,
        document=document,
        detail=detail,
        timeline=timeline,
        ebms_code=code,
        plain=plain_reason(document.status_reason, code),
        retried=retried,
        can_retry=detail.retry_allowed,
        retry_refusal=LATER_RESPONSE_QUEUED,
        pdf_problem=pdf_problem,
        **rendered_invoice(context.request, content, f"/web/outbound/{document_id}/attachments"),
    )
    response.headers.update(pdf_problem.headers() if pdf_problem else {})
    return response


@router.get("/outbound/{document_id}/document.pdf")
async def outbound_pdf(context: StaffDep, document_id: str) -> Response:
    """The document printed as a PDF (the API's rendering), or its page saying why not."""

    load = partial(outbound_file, context.services.store, document_id)
    return await pdf_or_page(context, load, partial(_outbound_page, context, document_id))


@router.get("/outbound/{document_id}/document.xml")
def outbound_ubl(context: StaffDep, document_id: str) -> Response:
    """The document's UBL as sent, byte for byte."""
    content, named = outbound_file(context.services.store, document_id)
    return ubl_download(context, content.body, named)


@router.get("/outbound/{document_id}/evidence.zip")
def outbound_evidence(context: StaffDep, document_id: str) -> Response:
    """The evidence zip: the exact bytes sent and every signal received."""
    evidence = get_outbound_evidence(context.services.store, document_id)
    audit.info("evidence download: %s by %s", document_id, context.person.name)
    return Response(
        evidence_archive(evidence),
        media_type="application/zip",
        headers=download_headers(
            content_disposition(evidence_name(evidence.document.id, page_language(context.request)))
        ),
    )


@router.get("/outbound/{document_id}/retry")
def confirm_retry(context: StaffDep, document_id: str) -> Response:
    """The confirmation step before a retry; for a document that cannot be retried (its status, a later
    Invoice Response queued after it, or a Peppol report remade since), why not instead of the button."""
    detail = get_outbound(context.services.store, document_id)
    return page(
        context.request,
        "confirm_retry.html",
        session=context.session,
        document=detail.document,
        detail=detail,
        retry_refusal=LATER_RESPONSE_QUEUED,
        report_remade=REPORT_REMADE_SINCE,
    )


@router.post("/outbound/{document_id}/retry")
async def retry(context: StaffDep, document_id: str) -> Response:
    """Retry the document (support, admin): the worker resends the stored message."""
    await checked_form(context)
    who = context.person.name
    await anyio.to_thread.run_sync(
        lambda: context.services.submitter.request_retry(document_id, requested_by=who)
    )
    audit.info("retry requested: %s by %s", document_id, who)
    return RedirectResponse(f"/web/outbound/{document_id}?retried=1", status_code=303)


@router.get("/inbound")
def inbound_list(
    context: StaffDep, status: str | None = None, number: str | None = None, cursor: str | None = None
) -> Response:
    """Received documents, newest first, by validation status and the document's number (ignoring case;
    ending in ``*``, the numbers starting with it). A number that cannot be one is said on the form."""
    typed = number.strip() if number else None
    filters = {"status": status, "number": typed}
    values: dict[str, Any] = {
        "filters": filters,
        "statuses": [s.value for s in InboundStatus],
        "max_number": MAX_DOCUMENT_NUMBER,
    }
    try:
        searched = NumberSearch.parse(typed) if typed else None
    except InvalidIdentifier:
        return page(
            context.request,
            "inbound_list.html",
            422,
            session=context.session,
            documents=[],
            number_refused=True,
            next_link=None,
            first_link=None,
            **values,
        )
    query = InboundQuery(
        status=_status(status, InboundStatus), number=searched, limit=PAGE_SIZE, after=parse_cursor(cursor)
    )
    result = list_inbound(context.services.store, query)
    following = cursor_text(result.next_cursor)
    return page(
        context.request,
        "inbound_list.html",
        session=context.session,
        documents=result.items,
        number_refused=False,
        next_link=query_link("/web/inbound", {**filters, "cursor": following}) if following else None,
        first_link=query_link("/web/inbound", filters) if cursor else None,
        **values,
    )


@router.get("/inbound/{document_id}")
def inbound_document(context: StaffDep, document_id: str) -> Response:
    """A received document with its validation report and the rendered invoice."""
    return _inbound_page(context, document_id)


def _inbound_page(
    context: PageContext, document_id: str, *, pdf_problem: PdfProblem | None = None
) -> Response:
    """The received document's page; with ``pdf_problem`` it says why its PDF was not made, with that
    status."""
    detail = get_inbound(context.services.store, document_id)
    report = detail.content.validation_report or {}
    issues = report.get("issues") if isinstance(report, dict) else None
    response = page(
        context.request,
        "inbound_document.html",
        pdf_problem.status if pdf_problem else 200,
        session=context.session,
        document=detail.document,
        report=report,
        issues=issues if isinstance(issues, list) else [],
        pdf_problem=pdf_problem,
        **rendered_invoice(context.request, detail.content, f"/web/inbound/{document_id}/attachments"),
    )
    response.headers.update(pdf_problem.headers() if pdf_problem else {})
    return response


@router.get("/inbound/{document_id}/document.pdf")
async def inbound_pdf(context: StaffDep, document_id: str) -> Response:
    """The received invoice or credit note printed as a PDF (the API's rendering), or its page saying why
    not (any other document: the renderer refuses it, and the page offers no PDF link)."""

    load = partial(inbound_file, context.services.store, document_id)
    return await pdf_or_page(context, load, partial(_inbound_page, context, document_id))


@router.get("/inbound/{document_id}/document.xml")
def inbound_ubl(context: StaffDep, document_id: str) -> Response:
    """The received document's UBL as stored, byte for byte (whatever it is: invoice, Invoice Response, MLS,
    one that cannot be read)."""
    content, named = inbound_file(context.services.store, document_id)
    return ubl_download(context, content.body, named)


def attachment_response(content: DocumentContent, where: str, index: int) -> Response:
    """Embedded file ``index`` as a download that cannot run in our origin (nosniff, sandbox)."""
    embedded = read_attachment(content.body, index)
    if embedded is None:
        raise DocumentNotFound(f"{where}/attachments/{index}", "embedded attachment")
    media_type = embedded.mime_code if embedded.mime_code in ATTACHMENT_TYPES else "application/octet-stream"
    return Response(
        embedded.content,
        media_type=media_type,
        headers=download_headers(
            content_disposition(attachment_name(embedded.filename, f"attachment-{index}"))
        ),
    )


@router.get("/outbound/{document_id}/attachments/{index}")
def outbound_attachment(context: StaffDep, document_id: str, index: int) -> Response:
    """An embedded file of a sent document (0-based, as listed on the rendered invoice)."""
    return attachment_response(get_outbound_content(context.services.store, document_id), document_id, index)


@router.get("/inbound/{document_id}/attachments/{index}")
def inbound_attachment(context: StaffDep, document_id: str, index: int) -> Response:
    """An embedded file of a received document."""
    return attachment_response(get_inbound(context.services.store, document_id).content, document_id, index)
