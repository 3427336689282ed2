"""Received documents: list them and show one with its validation report and its exact bytes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from gateway.api.auth import Principal
from gateway.api.cursor import decode_cursor, encode_cursor
from gateway.api.deps import ServicesDep, require_roles
from gateway.api.errors import problem_responses
from gateway.api.file_responses import file_response
from gateway.api.outbound_schemas import InboundDocumentResponse, InboundPage, inbound_summary, inbound_url
from gateway.api.schemas import DocumentIdPath, RFC3339DateTime
from gateway.config import Role
from gateway.model import ParticipantID
from gateway.model.document_number import MAX_DOCUMENT_NUMBER, NumberSearch
from gateway.model.message import InboundStatus
from gateway.render.file_names import download_headers
from gateway.services.document_files import inbound_file
from gateway.services.inbound_queries import get_inbound, list_inbound
from gateway.services.ports import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, InboundQuery

router = APIRouter(prefix="/v1/inbound", tags=["inbound"], responses=problem_responses(401, 403, 422, 503))

ReaderDep = Annotated[Principal, Depends(require_roles(Role.SENDER, Role.SUPPORT))]


@router.get(
    "",
    response_model=InboundPage,
    responses=problem_responses(
        400, 422, s400="The paging cursor is not valid", s422="A query parameter is invalid"
    ),
)
def list_documents(
    services: ServicesDep,
    _who: ReaderDep,
    status: Annotated[InboundStatus | None, Query(description="Only this validation status")] = None,
    sender: Annotated[str | None, Query(description="Only this sender, e.g. 0208:0123456789")] = None,
    receiver: Annotated[str | None, Query(description="Only this receiver (one we serve)")] = None,
    number: Annotated[
        str | None,
        Query(
            description=(
                "Only documents with this number (BT-1 of an invoice or credit note, the ID of an Invoice"
                " Response or MLS), ignoring case: `INV-123` finds `inv-123` but not `INV-1234`. Ending"
                " in `*` it is a prefix: `INV-12*` finds `INV-12`, `INV-123`, `inv-1299`. At most"
                f" {MAX_DOCUMENT_NUMBER} characters besides the `*`, no control character (else a 422"
                " invalid-identifier problem). A document has a number once it was validated; one not"
                " parsed (malformed, above the size limit, a type without a rule set) has none."
            ),
        ),
    ] = None,
    since: Annotated[
        RFC3339DateTime | None, Query(description="Received at or after (RFC 3339, with offset)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> InboundPage:
    """List received documents, newest first, filtered (AND) and paged by a keyset cursor."""
    query = InboundQuery(
        status=status,
        sender=ParticipantID.parse(sender) if sender else None,
        receiver=ParticipantID.parse(receiver) if receiver else None,
        number=NumberSearch.parse(number) if number is not None else None,
        since=since,
        limit=limit,
        after=decode_cursor(cursor) if cursor else None,
    )
    page = list_inbound(services.store, query)
    return InboundPage(
        items=[inbound_summary(document) for document in page.items],
        next_cursor=encode_cursor(page.next_cursor) if page.next_cursor else None,
    )


@router.get(
    "/{document_id}",
    response_model=InboundDocumentResponse,
    responses=problem_responses(404),
)
def show_document(
    services: ServicesDep, _who: ReaderDep, document_id: DocumentIdPath
) -> InboundDocumentResponse:
    """A received document: sender, receiver, document type, AS4 message id and its validation report."""
    detail = get_inbound(services.store, document_id)
    return InboundDocumentResponse(
        **inbound_summary(detail.document).model_dump(),
        report=detail.content.validation_report,
        ubl_url=f"{inbound_url(detail.document.id)}/ubl",
    )


@router.get(
    "/{document_id}/ubl",
    response_class=Response,
    responses={
        200: file_response("The business document as received", "application/xml"),
        **problem_responses(404),
    },
)
def show_ubl(services: ServicesDep, _who: ReaderDep, document_id: DocumentIdPath) -> Response:
    """The received business document exactly as stored (byte for byte), named after its kind and number."""
    content, named = inbound_file(services.store, document_id)
    return Response(
        content=content.body,
        media_type="application/xml",
        headers=download_headers(named.disposition("xml")),
    )
