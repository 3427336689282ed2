"""What Peppol reporting records about one transmission (peppol-as4.md §11), taken from a received message or
from a delivered outbound document. Small pure functions the receive and delivery paths call in the unit of
work that records the receipt; reports themselves are not counted (they return None)."""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree

from gateway.as4 import IncomingUserMessage
from gateway.as4.pmode import parse_timestamp
from gateway.errors import RemoteProtocolError, XMLInputError
from gateway.model.identifiers import DocumentTypeID, ParticipantID, ProcessID
from gateway.model.message import OutboundDocument
from gateway.model.report import (
    AS4_TRANSPORT_PROFILE,
    Transmission,
    TransmissionDirection,
    country_code,
    end_user_key,
)
from gateway.xmlcore import string_value, top_level_element

#: The root namespaces of the two reports: their own transmissions are never counted.
_REPORT_NAMESPACES = frozenset(
    {"urn:fdc:peppol:transaction-statistics-report:1.0", "urn:fdc:peppol:end-user-statistics-report:1.1"}
)
_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
_BUYER = f"{{{_CAC}}}AccountingCustomerParty"
#: The roots whose documents have an AccountingCustomerParty (BG-7) and so a buyer country (BT-55).
_BUYER_ROOTS = frozenset(
    {
        ("urn:oasis:names:specification:ubl:schema:xsd:Invoice-2", "Invoice"),
        ("urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2", "CreditNote"),
    }
)
_BUYER_COUNTRY = f"{{{_CAC}}}Party/{{{_CAC}}}PostalAddress/{{{_CAC}}}Country/{{{_CBC}}}IdentificationCode"


def is_report(document_type: DocumentTypeID) -> bool:
    """True for a TSR or EUSR document type (not counted in the reports)."""
    return document_type.root_namespace in _REPORT_NAMESPACES


def _utc(text: str) -> datetime | None:
    """An xsd:dateTime (eb:Timestamp, SBDH CreationDateAndTime) in UTC, read as the P-Mode reads it
    (``parse_timestamp``: without an offset it is UTC, 24:00:00 is the next day's first instant); None when
    it is none, or lies outside UTC's range (0001-01-01T00:00:00+14:00, which the P-Mode lets through as not
    in the future: uncaught, it failed the receipt's unit of work, a 500 per resend)."""
    try:
        return parse_timestamp(text).astimezone(UTC)
    except (RemoteProtocolError, OverflowError):
        return None


def _transmission(
    *,
    message_id: str,
    at: datetime,
    direction: TransmissionDirection,
    other_seat: str,
    document_type: DocumentTypeID,
    process: ProcessID,
    c1: str,
    c4: str,
    end_user: ParticipantID,
) -> Transmission:
    return Transmission(
        at=at.astimezone(UTC),
        direction=direction,
        other_seat=other_seat,
        document_type_scheme=document_type.scheme,
        document_type=document_type.value,
        process_scheme=process.scheme,
        process=process.value,
        transport_profile=AS4_TRANSPORT_PROFILE,
        c1_country=c1,
        c4_country=c4,
        end_user=end_user_key(end_user),
        message_id=message_id,
    )


def received_transmission(
    incoming: IncomingUserMessage, *, received_at: datetime, our_country: str
) -> Transmission | None:
    """The record of a message we accepted (we are C3; our client, C4, is the end user).

    Args:
        incoming: the verified user message.
        received_at: fallback time when neither the AS4 Timestamp nor SBDH CreationDateAndTime parse.
        our_country: C4 country: our own customer data (the cooperative's clients are in this country).
    """
    if is_report(incoming.document_type):
        return None
    at = _utc(incoming.timestamp) or _utc(incoming.sbdh.created) or received_at
    return _transmission(
        message_id=incoming.message_id,
        at=at,
        direction=TransmissionDirection.INCOMING,
        other_seat=incoming.from_party,
        document_type=incoming.document_type,
        process=incoming.process,
        c1=country_code(incoming.sbdh.country_c1),
        c4=country_code(our_country),
        end_user=incoming.sbdh.receiver,
    )


def buyer_country_in(root: etree._Element) -> str:
    """The buyer's country (BT-55) in the parsed root of a UBL invoice or credit note; ``ZZ`` when absent.

    The submit path reads it from the tree it parsed anyway and stores it with the document
    (``DocumentContent.buyer_country``), so that delivery needs no parse for the reporting record.
    """
    return _country_of(root.find(_BUYER))


def _country_of(buyer: etree._Element | None) -> str:
    """BT-55 of the buyer's party element, read whole as validation reads it (``string_value``): lxml's
    ``findtext`` stops at a comment inside the code (``U<!---->S`` read as ``U``, so ``ZZ``)."""
    code = buyer.find(_BUYER_COUNTRY) if buyer is not None else None
    return country_code(string_value(code) if code is not None else None)


def buyer_country(ubl: bytes) -> str:
    """The buyer's country (BT-55) of a UBL invoice or credit note; ``ZZ`` for anything else.

    Read up to the buyer only, keeping no tree of the rest (a large document's lines and attachments).
    Only for documents stored without the country (before migration 0012); see :func:`buyer_country_in`.
    """
    try:
        buyer = top_level_element(ubl, _BUYER, what="document")
    except XMLInputError:
        return country_code(None)
    return _country_of(buyer)


def has_buyer_country(document_type: DocumentTypeID) -> bool:
    """True for the document types that can carry BT-55 (a UBL Invoice or CreditNote root); for any other
    (an Invoice Response, an MLS) the buyer country is ``ZZ`` without reading the document."""
    return (document_type.root_namespace, document_type.root_name) in _BUYER_ROOTS


def sent_transmission(
    document: OutboundDocument,
    *,
    message_id: str,
    sent_at: datetime,
    receiver_seat: str,
    our_country: str,
    buyer_country: str,
) -> Transmission | None:
    """The record of a document delivered with a receipt (we are C2; the seller, C1, is the end user).

    Args:
        document: the delivered outbound document.
        message_id: the AS4 message that carried it.
        sent_at: its AS4 Timestamp (when the message was built).
        receiver_seat: the receiving AP's Seat ID (CN of its certificate).
        our_country: SBDH COUNTRY_C1 of what we send.
        buyer_country: the buyer country (BT-55: C4), ``ZZ`` when unknown.
    """
    if is_report(document.document_type):
        return None
    return _transmission(
        message_id=message_id,
        at=sent_at,
        direction=TransmissionDirection.OUTGOING,
        other_seat=receiver_seat,
        document_type=document.document_type,
        process=document.process,
        c1=country_code(our_country),
        c4=country_code(buyer_country),
        end_user=document.sender,
    )
