"""The "can this client receive?" page for support staff: the lookup behind ``GET /v1/participants`` (SML
and SMP, or the local directory; cached) as a form, its answer in plain words. A client who says "we never
got your invoice" is checked here before anything is resent: not registered on Peppol, registered but not
for this document (product.md §3 item 3: the two used to look alike), or found, at which access point."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from gateway.crypto import common_name
from gateway.errors import InvalidIdentifier
from gateway.model import ParticipantID
from gateway.services.participant_lookup import DOCUMENT_KINDS, document_kind
from gateway.smp import LookupOutcome
from gateway.web.ebms_codes import DISCOVERY_OUTCOMES
from gateway.web.lookup_details import ID_MESSAGES, plain_detail
from gateway.web.pages import PageContext, PageRoute, page, require_staff

router = APIRouter(prefix="/web", route_class=PageRoute, include_in_schema=False)

StaffDep = Annotated[PageContext, Depends(require_staff)]

FOUND: Final = "The receiver can receive this document over Peppol."
NO_DISCOVERY: Final = "No receiver discovery is configured on this gateway (GATEWAY_DISCOVERY__MODE)."
NOT_AN_ID: Final = "This is not a Peppol participant id: write it as scheme:value, e.g. 0208:0123456749."
EMAIL_ID: Final = "An e-mail address is no Peppol id: such a client is reached by e-mail, without a lookup."
UNKNOWN_DOCUMENT: Final = "This is an unknown document: choose one of those the form offers."
#: The document names the form offers, with their labels.
DOCUMENTS: Final = {
    "invoice": "Invoice",
    "credit-note": "Credit note",
    "invoice-response": "Invoice Response",
}

assert set(DOCUMENTS) == set(DOCUMENT_KINDS), "the form offers every document the lookup knows"


@router.get("/participants")
async def participant_lookup(
    context: StaffDep, participant: str | None = None, document: str = "invoice"
) -> Response:
    """The form; with ``participant``, the lookup's answer under it (422 with a form message for an id
    that is none or a document the form does not offer, 503 when no discovery is configured)."""
    typed = (participant or "").strip()
    values: dict[str, Any] = {"participant": typed, "document": document, "documents": DOCUMENTS}
    if not typed:
        return page(context.request, "participants.html", session=context.session, **values)
    if document not in DOCUMENTS:
        return _refused(context, 422, UNKNOWN_DOCUMENT, values)
    document_type, process = document_kind(document)
    if typed.upper().startswith("EM:") or ("@" in typed and ":" not in typed):
        return _refused(context, 422, EMAIL_ID, values)
    try:
        receiver = ParticipantID.parse(typed)
    except InvalidIdentifier as exc:
        return _refused(
            context,
            422,
            NOT_AN_ID,
            {**values, "refusal_detail": plain_detail(str(exc), exc.detail_code, ID_MESSAGES)},
        )
    lookup = context.services.participants
    if lookup is None:
        return _refused(context, 503, NO_DISCOVERY, values)
    result = await lookup.lookup(receiver, document_type, process)
    found = result.outcome is LookupOutcome.FOUND
    certificate = result.endpoint.certificate if result.endpoint is not None else None
    return page(
        context.request,
        "participants.html",
        session=context.session,
        result=result,
        can_receive=found,
        plain=FOUND if found else DISCOVERY_OUTCOMES.get(result.outcome.value, result.outcome.value),
        seat_id=common_name(certificate) if certificate is not None else None,
        certificate_end=certificate.not_valid_after_utc if certificate is not None else None,
        detail=plain_detail(result.detail, result.detail_code),
        **values,
    )


def _refused(context: PageContext, status: int, message: str, values: dict[str, Any]) -> Response:
    return page(
        context.request, "participants.html", status, session=context.session, refusal=message, **values
    )
