"""Lookup before send: can a participant receive a document, through which access point, and if not, why.

``GET /v1/participants/{participant}?document=invoice|credit-note|invoice-response`` answers 200 with the
discovery outcome as data, whatever it is (issue 9 item 3): "not registered" and "document type not
supported" are different outcomes, each with a plain-words reason and whether asking later may help.
Cached answers are served without touching the network and say so (``cached: true``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field

from gateway.api.auth import Principal
from gateway.api.deps import ServicesDep, require_roles
from gateway.api.errors import problem_responses
from gateway.config import Role
from gateway.crypto import common_name
from gateway.model import ParticipantID
from gateway.services.participant_lookup import PLAIN_REASONS, document_kind
from gateway.services.smp_resolver import LookupResult
from gateway.smp import LookupOutcome

router = APIRouter(prefix="/v1/participants", tags=["participants"], responses=problem_responses(401, 403))

ReaderDep = Annotated[Principal, Depends(require_roles(Role.SENDER, Role.SUPPORT))]
DocumentName = Literal["invoice", "credit-note", "invoice-response"]


class AccessPoint(BaseModel):
    """The receiving access point found through discovery."""

    endpoint_url: str = Field(description="The AS4 endpoint URL (SMP wsa:Address)")
    seat_id: str | None = Field(description="The AP seat id: the CN of its certificate, e.g. POP000123")
    certificate_subject: str
    certificate_serial: str = Field(description="Hexadecimal serial number of the AP certificate")
    certificate_not_after: datetime
    transport_profile: str = Field(description="The SMP transport profile, peppol-transport-as4-v2_0")


class ParticipantLookupResponse(BaseModel):
    """Whether ``participant`` can receive ``document`` now, and if not exactly why."""

    participant: str
    document: DocumentName
    document_type: str = Field(description="The Peppol document type identifier asked for")
    process: str = Field(description="The Peppol process identifier asked for")
    can_receive: bool
    outcome: LookupOutcome = Field(description="found, or the reason class: not-registered, ...")
    reason: str = Field(description="The outcome in plain words")
    detail: str = Field(description="The specifics (for support staff)")
    retryable: bool = Field(description="True when asking again later may give another answer")
    cached: bool = Field(description="True when answered from the lookup cache, without the network")
    checked_at: datetime = Field(description="When the answer was obtained (a cached one keeps its time)")
    smp_url: str | None = Field(default=None, description="The SMP that answered (sml mode)")
    access_point: AccessPoint | None = None


def _response(result: LookupResult, document: DocumentName) -> ParticipantLookupResponse:
    access_point = None
    if result.endpoint is not None:
        certificate = result.endpoint.certificate
        access_point = AccessPoint(
            endpoint_url=result.endpoint.url,
            seat_id=common_name(certificate),
            certificate_subject=certificate.subject.rfc4514_string(),
            certificate_serial=format(certificate.serial_number, "x"),
            certificate_not_after=certificate.not_valid_after_utc,
            transport_profile=result.endpoint.transport_profile,
        )
    return ParticipantLookupResponse(
        participant=str(result.participant),
        document=document,
        document_type=result.document_type.uri,
        process=result.process.uri,
        can_receive=result.outcome is LookupOutcome.FOUND,
        outcome=result.outcome,
        reason=PLAIN_REASONS[result.outcome],
        detail=result.detail,
        retryable=result.is_retryable,
        cached=result.cached,
        checked_at=result.checked_at,
        smp_url=result.smp_url,
        access_point=access_point,
    )


@router.get(
    "/{participant}",
    response_model=ParticipantLookupResponse,
    responses=problem_responses(
        422,
        503,
        s422="The participant id or the document name is invalid",
        s503="No discovery is configured (GATEWAY_DISCOVERY__MODE / GATEWAY_DIRECTORY__PATH)",
    ),
)
async def lookup_participant(
    services: ServicesDep,
    _who: ReaderDep,
    participant: Annotated[
        str,
        Path(
            description="Participant id: ICD:value (0208:0123456749) or iso6523-actorid-upis::ICD:value",
            max_length=200,
        ),
    ],
    document: Annotated[DocumentName, Query(description="The document to be sent")] = "invoice",
) -> ParticipantLookupResponse:
    """Can the participant receive this document (SML/SMP or the local directory), and if not, why.

    Always 200 for a lookup that ran: ``can_receive`` and ``outcome`` carry the answer.
    """
    receiver = ParticipantID.parse(participant)
    document_type, process = document_kind(document)
    lookup = services.participants
    if lookup is None:
        raise HTTPException(status_code=503, detail="No receiver discovery is configured")
    return _response(await lookup.lookup(receiver, document_type, process), document)
