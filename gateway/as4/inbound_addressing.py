"""Who a received AS4 message is from and for (peppol-as4.md §13 #9-#12).

The ebMS header must agree with the SBDH inside the payload (originalSender / finalRecipient, Action /
Service against DOCUMENTID / PROCESSID), eb:To must be our Seat ID and the receiver one we serve. The
From and To PartyIds are Seat IDs (``PXX000000``); From is compared with the signer's CN by the parser.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from lxml import etree

from gateway.as4.constants import (
    PARTICIPANT_PROPERTY_TYPE,
    PARTY_ID_TYPE,
    PROP_FINAL_RECIPIENT,
    PROP_ORIGINAL_SENDER,
    SEAT_ID_PATTERN,
)
from gateway.as4.ebms_errors import PEPPOL_NOT_SERVICED, EbmsError
from gateway.as4.envelope import UserMessageHeader, text_of
from gateway.crypto import KeyMaterial, common_name
from gateway.errors import GatewayError, InvalidIdentifier, RemoteProtocolError
from gateway.model import DocumentTypeID, ParticipantID, ProcessID
from gateway.ubl.sbd_read import read_sbd
from gateway.ubl.sbdh import SBDHData

_SEAT_ID = re.compile(f"^{SEAT_ID_PATTERN}$")
#: served(receiver, document type, process) -> bool, or a collection of participants we serve.
Served = Callable[[ParticipantID, DocumentTypeID, ProcessID], bool] | Collection[ParticipantID]


def party(ids: list[etree._Element], role: str) -> str:
    """The one Seat ID PartyId of eb:From or eb:To (``role``)."""
    if len(ids) != 1:
        raise RemoteProtocolError(EbmsError.OTHER, f"{role}: exactly one PartyId required")
    if (ids[0].get("type") or "").strip() != PARTY_ID_TYPE:
        raise RemoteProtocolError(EbmsError.OTHER, f"{role} PartyId type is not {PARTY_ID_TYPE}")
    value = text_of(ids[0])
    if not _SEAT_ID.match(value):
        raise RemoteProtocolError(EbmsError.OTHER, f"{role} PartyId {value!r} is not a Seat ID")
    return value


def _participant(props: Mapping[str, tuple[str, str | None]], name: str) -> ParticipantID:
    if name not in props:
        raise RemoteProtocolError(EbmsError.OTHER, f"message property {name} missing")
    value, type_ = props[name]
    # peppol-as4.md §3: @type="iso6523-actorid-upis" is mandatory on both (phase4 refuses it missing).
    if (type_ or "").strip() != PARTICIPANT_PROPERTY_TYPE:
        raise RemoteProtocolError(
            EbmsError.OTHER, f"message property {name} type is not {PARTICIPANT_PROPERTY_TYPE}"
        )
    try:
        return ParticipantID.parse(value)
    except InvalidIdentifier as exc:
        raise RemoteProtocolError(EbmsError.OTHER, f"message property {name} invalid") from exc


def _is_served(served: Served | None, receiver: ParticipantID, doc: DocumentTypeID, proc: ProcessID) -> bool:
    if served is None:
        return True
    if callable(served):
        return bool(served(receiver, doc, proc))
    return receiver in served


@dataclass(frozen=True, slots=True)
class Addressing:
    """The checked addressing of a received message: its SBDH and the header values that agree with it."""

    sbdh: SBDHData
    original_sender: ParticipantID
    final_recipient: ParticipantID
    document_type: DocumentTypeID
    process: ProcessID
    service: str
    service_type: str | None
    to_party: str


def check_addressing(
    hdr: UserMessageHeader, sbd: bytes, *, our_key: KeyMaterial, served: Served | None, max_payload: int
) -> Addressing:
    """Parse the SBD's header and check the ebMS header against it, our Seat ID and ``served``.

    Raises:
        RemoteProtocolError: EBMS:0004 for a refused SBD, a disagreement, another AP's To or a receiver
            we do not serve (its detail then starts with ``PEPPOL_NOT_SERVICED``).
    """
    # --- §13 #9-#10: SBDH and its agreement with the ebMS header -----------------------------------------
    try:
        sbdh = read_sbd(sbd, max_bytes=max_payload)
    except GatewayError as exc:
        raise RemoteProtocolError(EbmsError.OTHER, f"SBD rejected: {exc}") from exc
    original_sender = _participant(hdr.properties, PROP_ORIGINAL_SENDER)
    final_recipient = _participant(hdr.properties, PROP_FINAL_RECIPIENT)
    if original_sender != sbdh.sender:
        raise RemoteProtocolError(EbmsError.OTHER, "originalSender differs from the SBDH Sender")
    if final_recipient != sbdh.receiver:
        raise RemoteProtocolError(EbmsError.OTHER, "finalRecipient differs from the SBDH Receiver")
    try:
        document_type = DocumentTypeID.parse(hdr.action)
        service_value = text_of(hdr.service)
        service_type = hdr.service.get("type")
        process = (
            ProcessID(service_value, service_type.strip()) if service_type else ProcessID.parse(service_value)
        )
    except InvalidIdentifier as exc:
        raise RemoteProtocolError(EbmsError.OTHER, "Action or Service invalid") from exc
    if document_type != sbdh.document_type:
        raise RemoteProtocolError(EbmsError.OTHER, "Action differs from the SBDH DOCUMENTID")
    if process != sbdh.process:
        raise RemoteProtocolError(EbmsError.OTHER, "Service differs from the SBDH PROCESSID")

    # --- §13 #11: To PartyId (From = signer CN was checked with the certificate) ---------------------------
    to_party = party(hdr.to_ids, "To")
    our_cn = common_name(our_key.certificate)
    if our_cn is not None and our_cn != to_party:
        raise RemoteProtocolError(EbmsError.OTHER, "To/PartyId is not our Seat ID")

    # --- §13 #12: receiver served by this endpoint ---------------------------------------------------------
    if not _is_served(served, sbdh.receiver, document_type, process):
        raise RemoteProtocolError(EbmsError.OTHER, f"{PEPPOL_NOT_SERVICED}: {sbdh.receiver} not served")
    return Addressing(
        sbdh, original_sender, final_recipient, document_type, process, service_value, service_type, to_party
    )
