"""Business-level responses carried as UBL ApplicationResponse: Peppol BIS Invoice Response 3 (T111) and
Peppol Message Level Status 1.0.1 (MLS). The codes are the specifications' code lists, as data.

Sources: bis-billing.md §9 (T111: UNCL4343 subset, OPStatusReason, OPStatusAction; PEPPOL-T111-R001 needs
a clarification for CA, UQ and RE); peppol-as4.md §12 (MLS: AP, AB, RE; status reason codes BV, BW, FD,
SV; RE needs a description and a failure) and §8 (SBDH scopes MLS_TO, MLS_TYPE).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from gateway.errors import InvalidIdentifier
from gateway.model.identifiers import DocumentTypeID, ParticipantID, ProcessID

INVOICE_RESPONSE_CUSTOMIZATION: Final = "urn:fdc:peppol.eu:poacc:trns:invoice_response:3"
INVOICE_RESPONSE_PROFILE: Final = "urn:fdc:peppol.eu:poacc:bis:invoice_response:3"
MLS_CUSTOMIZATION: Final = "urn:peppol:edec:mls:1.0"
MLS_PROFILE: Final = "urn:peppol:edec:mls"
#: peppol-as4.md §12: the MLS document type and process.
MLS_DOCUMENT_TYPE: Final = DocumentTypeID(
    "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2::ApplicationResponse"
    "##" + MLS_CUSTOMIZATION + "::2.1"
)
MLS_PROCESS: Final = ProcessID(MLS_PROFILE)
#: ICD of the OpenPeppol Service Provider Identifier (SPID); MLS parties and MLS_TO use it.
SPID_ICD: Final = "0242"
_SPID = re.compile(r"^[0-9]{6}(-[0-9A-Z_]{3,12}(\.[0-9A-Z\-._~]{3,24})?)?$", re.IGNORECASE)
_SEAT = re.compile(r"^P[A-Z]{2}([0-9]{6})$")


class ResponseCode(StrEnum):
    """UNCL4343 subset of T111 (bis-billing.md §9), in the order a buyer may send them."""

    ACKNOWLEDGED = "AB"
    IN_PROCESS = "IP"
    UNDER_QUERY = "UQ"
    CONDITIONALLY_ACCEPTED = "CA"
    REJECTED = "RE"
    ACCEPTED = "AP"
    PAID = "PD"

    @property
    def needs_clarification(self) -> bool:
        """PEPPOL-T111-R001: CA, UQ and RE need a status reason or action code."""
        return self in (ResponseCode.CONDITIONALLY_ACCEPTED, ResponseCode.UNDER_QUERY, ResponseCode.REJECTED)

    @property
    def is_final(self) -> bool:
        """RE and PD end the exchange (bis-billing.md §9 table)."""
        return self in (ResponseCode.REJECTED, ResponseCode.PAID)


class StatusReason(StrEnum):
    """OpenPeppol code list OPStatusReason (``listID="OPStatusReason"``)."""

    NO_ISSUE = "NON"
    REFERENCES_INCORRECT = "REF"
    LEGAL_INFORMATION_INCORRECT = "LEG"
    RECEIVER_UNKNOWN = "REC"
    ITEM_QUALITY_INSUFFICIENT = "QUA"
    DELIVERY_ISSUES = "DEL"
    PRICES_INCORRECT = "PRI"
    QUANTITY_INCORRECT = "QTY"
    ITEMS_INCORRECT = "ITM"
    PAYMENT_TERMS_INCORRECT = "PAY"
    NOT_RECOGNIZED = "UNR"
    FINANCE_TERMS_INCORRECT = "FIN"
    PARTIALLY_PAID = "PPD"
    OTHER = "OTH"


class StatusAction(StrEnum):
    """OpenPeppol code list OPStatusAction (``listID="OPStatusAction"``)."""

    NO_ACTION = "NOA"
    PROVIDE_INFORMATION = "PIN"
    ISSUE_NEW_INVOICE = "NIN"
    CREDIT_FULLY = "CNF"
    CREDIT_PARTIALLY = "CNP"
    CREDIT_AMOUNT = "CNA"
    OTHER = "OTH"


STATUS_REASON_LIST: Final = "OPStatusReason"
STATUS_ACTION_LIST: Final = "OPStatusAction"


class MLSCode(StrEnum):
    """MLS response codes (peppol-mls-1.0.1 SCH-MLS-19)."""

    ACKNOWLEDGED = "AB"
    ACCEPTED = "AP"
    REJECTED = "RE"


class MLSReason(StrEnum):
    """MLS status reason codes (SCH-MLS-31); BV, FD and SV are failures (SCH-MLS-24/25), BW a warning."""

    BUSINESS_RULE_VIOLATION = "BV"
    BUSINESS_RULE_WARNING = "BW"
    FAILURE_OF_DELIVERY = "FD"
    SYNTAX_VIOLATION = "SV"

    @property
    def is_failure(self) -> bool:
        return self is not MLSReason.BUSINESS_RULE_WARNING


class MLSType(StrEnum):
    """SBDH scope MLS_TYPE (peppol-as4.md §8); a missing scope means FAILURE_ONLY."""

    FAILURE_ONLY = "FAILURE_ONLY"
    ALWAYS_SEND = "ALWAYS_SEND"


@dataclass(frozen=True, slots=True)
class ResponseParty:
    """A T111 sender or receiver party: its Peppol participant id and legal name."""

    endpoint: ParticipantID
    name: str


@dataclass(frozen=True, slots=True)
class InvoiceResponse:
    """One Peppol Invoice Response (T111) about one invoice or credit note.

    Attributes:
        id: the response's own id (cbc:ID).
        issued: issue date and time (IssueDate, IssueTime).
        sender: the buyer sending the response.
        receiver: the seller (the invoice's BT-34).
        code: the response code.
        document_id: the invoice's number (BT-1).
        document_type_code: 380-family for invoices, 381 for credit notes (OP-BR111-R014).
        reasons: OPStatusReason codes; actions: OPStatusAction codes.
        note: free text (cbc:StatusReason), the reject reason or the question.
        document_issue_date: the invoice's issue date, if known (DocumentReference/IssueDate).
    """

    id: str
    issued: datetime
    sender: ResponseParty
    receiver: ResponseParty
    code: ResponseCode
    document_id: str
    document_type_code: str = "380"
    reasons: tuple[StatusReason, ...] = ()
    actions: tuple[StatusAction, ...] = ()
    note: str | None = None
    document_issue_date: str | None = None


@dataclass(frozen=True, slots=True)
class MLSIssue:
    """One line of an MLS: where (an XPath, or ``NA``), what, and the reason code."""

    reason: MLSReason
    description: str
    line_id: str = "NA"


@dataclass(frozen=True, slots=True)
class MessageLevelStatus:
    """One Peppol MLS about one received message.

    Attributes:
        id: the MLS's own id.
        issued: issue date and time (an IssueTime with a zone is mandatory, SCH-MLS-05/06).
        sender / receiver: the SPIDs of C3 (us) and C2 (the sending AP), ``0242`` participant ids.
        code: AP, AB or RE.
        instance_id: the SBDH InstanceIdentifier of the message the MLS is about.
        description: the overall text (mandatory for RE).
        issues: the line responses.
    """

    id: str
    issued: datetime
    sender: ParticipantID
    receiver: ParticipantID
    code: MLSCode
    instance_id: str
    description: str | None = None
    issues: tuple[MLSIssue, ...] = ()


def spid_participant(value: str) -> ParticipantID:
    """The ``0242`` participant id of a Service Provider Id (``000123`` or ``0242:000123``).

    Raises:
        InvalidIdentifier: not a valid SPID (SCH-MLS-09 pattern).
    """
    text = value.strip()
    if ":" in text:
        participant = ParticipantID.parse(text)
        if participant.icd != SPID_ICD:
            raise InvalidIdentifier(f"{value!r} is not a 0242 service provider id")
        text = participant.value
    if not _SPID.match(text):
        raise InvalidIdentifier(f"{value!r} is not a Peppol service provider id")
    return ParticipantID(SPID_ICD, text)


def spid_of_seat(common_name: str) -> ParticipantID:
    """The SPID participant of an AP certificate's CN (seat id ``PXX000123`` -> ``0242:000123``).

    Raises:
        InvalidIdentifier: the CN is not a Peppol seat id.
    """
    found = _SEAT.match(common_name.strip().upper())
    if found is None:
        raise InvalidIdentifier(f"{common_name!r} is not a Peppol seat id (PXX + 6 digits)")
    return ParticipantID(SPID_ICD, found.group(1))
