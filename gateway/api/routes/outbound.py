"""Outbound documents: submit (JSON invoice, JSON credit note, ready UBL) exactly once, follow the delivery,
fetch the UBL and the delivery evidence, list for support staff, and request a retry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from gateway.api.auth import Principal, admitted
from gateway.api.cursor import decode_cursor, encode_cursor
from gateway.api.deps import ServicesDep, bounded_body, held_body, require_roles
from gateway.api.document_size import check_document_size
from gateway.api.errors import problem, problem_responses
from gateway.api.file_responses import content_disposition_header, file_response
from gateway.api.idempotency import idempotency_key_header, one_idempotency_key
from gateway.api.outbound_schemas import (
    EvidenceResponse,
    OutboundDocumentResponse,
    OutboundPage,
    SubmissionResponse,
    evidence_response,
    outbound_response,
    outbound_summary,
    outbound_url,
)
from gateway.api.schemas import (
    XML_REQUEST_BODY,
    DocumentIdPath,
    DocumentNumberQuery,
    RFC3339DateTime,
    json_request_body,
)
from gateway.bootstrap import Services
from gateway.config import Role
from gateway.model import CreditNote, Invoice
from gateway.model.identifiers import parse_searched_receiver
from gateway.model.message import DeliveryStatus
from gateway.render.file_names import content_disposition, download_headers, evidence_name
from gateway.services.conversion import parse_document_json
from gateway.services.document_files import outbound_file
from gateway.services.outbound import Submission, SubmissionOutcome, SubmissionResult
from gateway.services.outbound_input import PreparedDocument, prepare_json_document, prepare_ubl_document
from gateway.services.outbound_queries import (
    evidence_archive,
    get_outbound,
    get_outbound_evidence,
    list_outbound,
)
from gateway.services.ports import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, OutboundQuery
from gateway.xmlcore.held import HeldDocument

router = APIRouter(prefix="/v1/outbound", tags=["outbound"], responses=problem_responses(401, 403, 422, 503))

SenderDep = Annotated[Principal, Depends(require_roles(Role.SENDER))]
ReaderDep = Annotated[Principal, Depends(require_roles(Role.SENDER, Role.SUPPORT))]
#: The roles POST .../retry requires (admin is always admitted). The detail offers a retry
#: (``retry_allowed``) only to a caller they admit, so the offer and the 403 ask one rule.
RETRY_ROLES: Final = frozenset({Role.SUPPORT})
RetryDep = Annotated[Principal, Depends(require_roles(*RETRY_ROLES))]
JSONBodyDep = Annotated[bytes, Depends(bounded_body(syntax="json"))]
#: Its bytes held by a HeldDocument only (validation may spill a large one to a temporary file).
XMLBodyDep = Annotated[HeldDocument, Depends(held_body(syntax="xml"))]
#: The Idempotency-Key parameter of the submission routes (``gateway.api.idempotency``).
IdempotencyKey = Annotated[
    str | None,
    idempotency_key_header(
        "Makes a repeated post return the first answer and never create a second document"
    ),
]


REPLAYED_HEADER = "Idempotent-Replayed"
"""Set to ``true`` on an answer replayed from an earlier request with the same Idempotency-Key."""


_SUBMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": SubmissionResponse, "description": "This document number was accepted before (duplicate)"},
    **problem_responses(
        400,
        409,
        413,
        415,
        422,
        s400="Malformed or hostile XML (UBL route)",
        s409="Idempotency-Key reused with another body, or number stored with other content",
        s422="Invalid document (``errors`` names each field), or the validation report; nothing is sent",
    ),
}


#: The HTTP answer to each submission outcome (the first answer and every replay alike).
HTTP_STATUS: dict[SubmissionOutcome, int] = {
    SubmissionOutcome.ACCEPTED: 202,  # stored and queued; delivery happens later
    SubmissionOutcome.DUPLICATE: 200,  # the same document was stored before under its number
    SubmissionOutcome.REFUSED: 422,  # fails validation: problem+json with the full report
}


def _render(result: SubmissionResult, instance: str) -> Response:
    """The HTTP answer of a submission; a replay renders the stored facts the same way as the first time."""
    body = result.body
    status = HTTP_STATUS[result.outcome]
    if result.outcome is SubmissionOutcome.REFUSED:
        response: Response = problem(
            status,
            "The document fails validation",
            kind="document-invalid",
            detail=str(body.get("detail", "")),
            instance=instance,
            report=body.get("report"),
            # What stops the document besides its findings (e.g. a BT-49 EM address that cannot be e-mailed).
            **({"errors": body["errors"]} if "errors" in body else {}),
        )
    else:
        document_id = str(body["id"])
        url = outbound_url(document_id)
        # ``SubmissionResponse`` as a plain dict, its fields in order: what ``model_dump`` of the model built
        # from these four values gives (each value is already of its field's type), without a validation
        # of values built here (tests/integration/test_submission_answer_bytes.py).
        payload = {
            "id": document_id,
            "status": str(body["status"]),
            "status_url": url,
            "duplicate": bool(body["duplicate"]),
        }
        response = JSONResponse(payload, status_code=status, headers={"Location": url})
    if result.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response


#: Submissions worked on at once in one process. Validation (Saxon) holds the GIL while it transforms, so
#: more threads would not validate more documents per second: they would take turns with the event loop,
#: delaying every other request's answer. Two let a write or a conversion overlap one validation; further
#: submissions wait in front, in the event loop, at no CPU cost (each still holds its body slot).
SUBMISSION_CONCURRENCY: Final = 2


def submission_services(request: Request) -> Services:
    """The services of a submission route: read from the app's state, as ``get_services`` does, but not
    declared as a dependency (``ServicesDep``). FastAPI solves each declared dependency per request
    (≈ 78 k instructions of its own for one that returns an attribute, in a probe), and the submission
    routes are the hot path (BENCHMARKS.md, *Sending API instructions outside validation*)."""
    services: Services = request.app.state.services
    return services


def _submission_limiter(request: Request) -> anyio.CapacityLimiter:
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "submission_limiter", None)
    if limiter is None:  # made in the event loop that uses it
        limiter = anyio.CapacityLimiter(SUBMISSION_CONCURRENCY)
        request.app.state.submission_limiter = limiter
    return limiter


async def _submit(
    request: Request,
    *,
    route: str,
    body: bytes | HeldDocument,
    client: Principal,
    key: str | None,
    prepare: Callable[[], PreparedDocument],
) -> Response:
    key = one_idempotency_key(request, key)
    services = submission_services(request)
    check_document_size(body, services.settings.validation.max_document_bytes)
    submitter = services.submitter
    submission = Submission(route=route, body=body, idempotency_key=key, client=client.name)
    result = await anyio.to_thread.run_sync(
        lambda: submitter.submit(submission, prepare, rule_set=services.rule_set_today()),
        limiter=_submission_limiter(request),
    )
    return _render(result, request.url.path)


@router.post(
    "/invoices",
    status_code=202,
    response_model=SubmissionResponse,
    responses=_SUBMIT_RESPONSES,
    openapi_extra=json_request_body(Invoice),
)
async def post_invoice(
    request: Request,
    who: SenderDep,
    body: JSONBodyDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Submit an invoice (JSON model): completed, written as UBL, validated, stored and queued; 202."""
    return await _submit(
        request,
        route="POST /v1/outbound/invoices",
        body=body,
        client=who,
        key=idempotency_key,
        prepare=lambda: prepare_json_document(parse_document_json(body, Invoice)),
    )


@router.post(
    "/credit-notes",
    status_code=202,
    response_model=SubmissionResponse,
    responses=_SUBMIT_RESPONSES,
    openapi_extra=json_request_body(CreditNote),
)
async def post_credit_note(
    request: Request,
    who: SenderDep,
    body: JSONBodyDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Submit a credit note (JSON model): completed, written as UBL, validated, stored and queued; 202."""
    return await _submit(
        request,
        route="POST /v1/outbound/credit-notes",
        body=body,
        client=who,
        key=idempotency_key,
        prepare=lambda: prepare_json_document(parse_document_json(body, CreditNote)),
    )


@router.post(
    "/ubl",
    status_code=202,
    response_model=SubmissionResponse,
    responses=_SUBMIT_RESPONSES,
    openapi_extra=XML_REQUEST_BODY,
)
async def post_ubl(
    request: Request,
    who: SenderDep,
    body: XMLBodyDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Submit a ready UBL Invoice or CreditNote (BIS Billing 3.0); receiver = buyer EndpointID; 202."""
    limit = submission_services(request).settings.validation.max_document_bytes
    return await _submit(
        request,
        route="POST /v1/outbound/ubl",
        body=body,
        client=who,
        key=idempotency_key,
        prepare=lambda: prepare_ubl_document(body, max_bytes=limit),
    )


@router.get(
    "",
    response_model=OutboundPage,
    responses=problem_responses(
        400, 422, s400="The paging cursor is not valid", s422="A query parameter is invalid"
    ),
)
def list_documents(
    services: ServicesDep,
    _who: ReaderDep,
    status: Annotated[DeliveryStatus | None, Query(description="Only this delivery status")] = None,
    receiver: Annotated[
        str | None,
        Query(description="Only this receiver, e.g. 0208:0123456789, or EM:name@example.be (e-mailed)"),
    ] = None,
    number: DocumentNumberQuery = None,
    since: Annotated[
        RFC3339DateTime | None, Query(description="Created at or after (RFC 3339, with offset)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> OutboundPage:
    """List outbound documents, newest first, filtered (AND) and paged by a keyset cursor."""
    query = OutboundQuery(
        status=status,
        receiver=parse_searched_receiver(receiver) if receiver else None,
        number=number,
        since=since,
        limit=limit,
        after=decode_cursor(cursor) if cursor else None,
    )
    page = list_outbound(services.store, query)
    return OutboundPage(
        items=[outbound_summary(document) for document in page.items],
        next_cursor=encode_cursor(page.next_cursor) if page.next_cursor else None,
    )


def _detail_response(
    services: Services, document_id: DocumentIdPath, caller: Principal
) -> OutboundDocumentResponse:
    """The document's detail as ``caller`` reads it: a retry is offered only if its role may POST one."""
    detail = get_outbound(services.store, document_id)
    return outbound_response(detail, may_retry=admitted(caller, RETRY_ROLES))


@router.get(
    "/{document_id}",
    response_model=OutboundDocumentResponse,
    responses=problem_responses(404),
)
def show_document(
    services: ServicesDep, who: ReaderDep, document_id: DocumentIdPath
) -> OutboundDocumentResponse:
    """Delivery status, reason, attempts, next attempt, AS4 message id, timeline and receipt summary."""
    return _detail_response(services, document_id, who)


@router.get(
    "/{document_id}/ubl",
    response_class=Response,
    responses={
        200: file_response("The UBL exactly as stored and sent", "application/xml"),
        **problem_responses(404),
    },
)
def show_ubl(services: ServicesDep, _who: ReaderDep, document_id: DocumentIdPath) -> Response:
    """The UBL document exactly as accepted, validated and sent (byte for byte), named after its kind and
    number."""
    content, named = outbound_file(services.store, document_id)
    return Response(
        content=content.body,
        media_type="application/xml",
        headers=download_headers(named.disposition("xml")),
    )


@router.get(
    "/{document_id}/evidence",
    response_model=EvidenceResponse,
    responses={
        200: {
            "description": (
                "JSON (default): every AS4 message sent with its exact HTTP headers and body "
                "(base64, SHA-256), the latest raw signed receipt or ebMS error received (``signal``) and "
                "every signal received for it, oldest first (``signals``: earlier invalid receipts and "
                "retryable ebMS errors included), all base64 with SHA-256. "
                "With ?format=zip or Accept: application/zip: a zip for auditors holding document.xml, "
                "validation-report.json, "
                "timeline.json, per message the request headers/body, the latest signal headers/body and "
                "one folder per signal received (signals/<k>-<kind>/) byte for "
                "byte, a README.txt and a manifest.json listing every signal and the SHA-256 of every file."
            ),
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "headers": content_disposition_header(
                "The zip only: attachment; filename=\"evidence-<document id>.zip\"; filename*=UTF-8''"
                "evidence-<document id>.zip (RFC 6266)"
            ),
        },
        **problem_responses(404, 422, s422="A query parameter is invalid"),
    },
)
def show_evidence(
    request: Request,
    services: ServicesDep,
    _who: ReaderDep,
    document_id: DocumentIdPath,
    format: Annotated[Literal["json", "zip"] | None, Query(description="json (default) or zip")] = None,
) -> Any:
    """Delivery evidence: the exact bytes sent and every raw signal received (JSON with base64, or a zip)."""
    evidence = get_outbound_evidence(services.store, document_id)
    wants_zip = format == "zip" or (format is None and "application/zip" in request.headers.get("accept", ""))
    if wants_zip:
        return Response(
            content=evidence_archive(evidence),
            media_type="application/zip",
            headers=download_headers(content_disposition(evidence_name(evidence.document.id))),
        )
    return evidence_response(evidence)


@router.post(
    "/{document_id}/retry",
    status_code=202,
    response_model=OutboundDocumentResponse,
    responses=problem_responses(404, 409, s409="The status allows no retry"),
)
def retry_document(
    services: ServicesDep, who: RetryDep, document_id: DocumentIdPath
) -> OutboundDocumentResponse:
    """Retry a failed document, or bring a retrying one's next attempt forward (support, admin)."""
    services.submitter.request_retry(document_id, requested_by=who.name)
    return _detail_response(services, document_id, who)
