"""UBL 2.1 ApplicationResponse: build and read Peppol Invoice Responses (T111) and Message Level Status (MLS).

Pure: bytes in, values out. Element order follows the UBL 2.1 ApplicationResponse schema (CustomizationID,
ProfileID, ID, IssueDate, IssueTime, SenderParty, ReceiverParty, DocumentResponse; inside Response:
ResponseCode, Description, EffectiveDate, Status). T111 rules: bis-billing.md §9; MLS rules: peppol-as4.md
§12 and the MLS 1.0.1 Schematron (SCH-MLS-*).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from lxml import etree

from gateway.errors import InvalidIdentifier, MappingError
from gateway.model.identifiers import ParticipantID
from gateway.model.responses import (
    INVOICE_RESPONSE_CUSTOMIZATION,
    INVOICE_RESPONSE_PROFILE,
    MLS_CUSTOMIZATION,
    MLS_PROFILE,
    STATUS_ACTION_LIST,
    STATUS_REASON_LIST,
    InvoiceResponse,
    MessageLevelStatus,
    ResponseParty,
)
from gateway.xmlcore import NS, parse_xml, string_value

AR_NS = NS["ar"]
_CAC = f"{{{NS['cac']}}}"
_CBC = f"{{{NS['cbc']}}}"
_NSMAP = {None: AR_NS, "cac": NS["cac"], "cbc": NS["cbc"]}
_FIND = {"ar": AR_NS, "cac": NS["cac"], "cbc": NS["cbc"]}


class ResponseKind(StrEnum):
    """Which ApplicationResponse profile a document is (by its CustomizationID)."""

    INVOICE_RESPONSE = "invoice-response"
    MLS = "mls"


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """One ``cac:Status`` as read: a code, its list id (OPStatusReason, OPStatusAction, none) and text."""

    code: str | None
    list_id: str | None
    text: str | None


@dataclass(frozen=True, slots=True)
class LineIssue:
    """One MLS ``LineResponse/Response`` as read."""

    line_id: str
    description: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class ReadResponse:
    """What a received ApplicationResponse says, whatever its profile (values as written, trimmed).

    Attributes:
        kind: T111 or MLS.
        id: the response id.
        issue_date: IssueDate text.
        sender / receiver: EndpointIDs as ``scheme:value`` (None when absent).
        code: the ResponseCode.
        description: Response/Description.
        effective_date: Response/EffectiveDate.
        document_id: DocumentReference/ID: the invoice number (T111) or the SBDH InstanceIdentifier (MLS).
        document_type_code: DocumentReference/DocumentTypeCode (T111).
        statuses: every Response/Status.
        issues: every MLS line issue.
    """

    kind: ResponseKind
    id: str
    issue_date: str | None
    sender: str | None
    receiver: str | None
    code: str
    document_id: str
    description: str | None = None
    effective_date: str | None = None
    document_type_code: str | None = None
    statuses: tuple[StatusEntry, ...] = ()
    issues: tuple[LineIssue, ...] = ()

    @property
    def reasons(self) -> tuple[str, ...]:
        """The OPStatusReason codes (T111) or MLS reason codes, in document order."""
        codes = [s.code for s in self.statuses if s.code and s.list_id in (None, STATUS_REASON_LIST)]
        codes += [issue.reason for issue in self.issues if issue.reason]
        return tuple(codes)

    @property
    def actions(self) -> tuple[str, ...]:
        """The OPStatusAction codes (T111)."""
        return tuple(s.code for s in self.statuses if s.code and s.list_id == STATUS_ACTION_LIST)

    @property
    def texts(self) -> tuple[str, ...]:
        """Every human-readable text: the description, the status reasons, the line descriptions."""
        out = [self.description] if self.description else []
        out += [s.text for s in self.statuses if s.text]
        out += [issue.description for issue in self.issues if issue.description]
        return tuple(out)


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    el = etree.SubElement(parent, tag, attrib)
    if text is not None:
        el.text = text
    return el


def _times(issued: datetime) -> tuple[str, str]:
    if issued.tzinfo is None:
        raise MappingError("the response's issue time needs a timezone")
    at = issued.astimezone(UTC)
    return at.date().isoformat(), at.strftime("%H:%M:%S") + "Z"


def _header(root: etree._Element, customization: str, profile: str, ident: str, issued: datetime) -> None:
    if not ident.strip():
        raise MappingError("the response needs an id")
    day, time = _times(issued)
    _sub(root, _CBC + "CustomizationID", customization)
    _sub(root, _CBC + "ProfileID", profile)
    _sub(root, _CBC + "ID", ident)
    _sub(root, _CBC + "IssueDate", day)
    _sub(root, _CBC + "IssueTime", time)


def _party(root: etree._Element, tag: str, endpoint: ParticipantID, name: str | None) -> None:
    party = _sub(root, _CAC + tag)
    _sub(party, _CBC + "EndpointID", endpoint.value, schemeID=endpoint.icd)
    if name is not None:
        if not name.strip():
            raise MappingError(f"{tag} needs a registration name")
        _sub(_sub(party, _CAC + "PartyLegalEntity"), _CBC + "RegistrationName", name)


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def build_invoice_response(response: InvoiceResponse) -> bytes:
    """Write a Peppol Invoice Response (T111) as UBL ApplicationResponse bytes.

    One ``cac:Status`` per reason code (``listID="OPStatusReason"``), the note on the first one, then one per
    action code (``listID="OPStatusAction"``); a note without codes gets a Status of its own.

    Raises:
        MappingError: a naive issue time, an empty id, party name or note.
    """
    if response.note is not None and not response.note.strip():
        raise MappingError("an empty note cannot be sent (PEPPOL-COMMON-R001)")
    root = etree.Element(f"{{{AR_NS}}}ApplicationResponse", nsmap=_NSMAP)  # type: ignore[arg-type]
    _header(root, INVOICE_RESPONSE_CUSTOMIZATION, INVOICE_RESPONSE_PROFILE, response.id, response.issued)
    _party(root, "SenderParty", response.sender.endpoint, response.sender.name)
    _party(root, "ReceiverParty", response.receiver.endpoint, response.receiver.name)
    doc = _sub(root, _CAC + "DocumentResponse")
    resp = _sub(doc, _CAC + "Response")
    _sub(resp, _CBC + "ResponseCode", response.code.value)
    note = response.note
    for reason in response.reasons:
        status = _sub(resp, _CAC + "Status")
        _sub(status, _CBC + "StatusReasonCode", reason.value, listID=STATUS_REASON_LIST)
        if note is not None:
            _sub(status, _CBC + "StatusReason", note)
            note = None
    if note is not None:
        _sub(_sub(resp, _CAC + "Status"), _CBC + "StatusReason", note)
    for action in response.actions:
        _sub(_sub(resp, _CAC + "Status"), _CBC + "StatusReasonCode", action.value, listID=STATUS_ACTION_LIST)
    ref = _sub(doc, _CAC + "DocumentReference")
    _sub(ref, _CBC + "ID", response.document_id)
    if response.document_issue_date is not None:
        _sub(ref, _CBC + "IssueDate", response.document_issue_date)
    _sub(ref, _CBC + "DocumentTypeCode", response.document_type_code)
    return _serialise(root)


def build_mls(status: MessageLevelStatus) -> bytes:
    """Write a Peppol Message Level Status as UBL ApplicationResponse bytes (one LineResponse per issue).

    Raises:
        MappingError: a naive issue time or an empty id.
    """
    root = etree.Element(f"{{{AR_NS}}}ApplicationResponse", nsmap=_NSMAP)  # type: ignore[arg-type]
    _header(root, MLS_CUSTOMIZATION, MLS_PROFILE, status.id, status.issued)
    _party(root, "SenderParty", status.sender, None)
    _party(root, "ReceiverParty", status.receiver, None)
    doc = _sub(root, _CAC + "DocumentResponse")
    resp = _sub(doc, _CAC + "Response")
    _sub(resp, _CBC + "ResponseCode", status.code.value)
    if status.description:
        _sub(resp, _CBC + "Description", status.description)
    _sub(_sub(doc, _CAC + "DocumentReference"), _CBC + "ID", status.instance_id)
    for issue in status.issues:
        line = _sub(doc, _CAC + "LineResponse")
        _sub(_sub(line, _CAC + "LineReference"), _CBC + "LineID", issue.line_id or "NA")
        answer = _sub(line, _CAC + "Response")
        _sub(answer, _CBC + "Description", issue.description)
        _sub(_sub(answer, _CAC + "Status"), _CBC + "StatusReasonCode", issue.reason.value)
    return _serialise(root)


def _text(el: etree._Element | None, path: str) -> str | None:
    if el is None:
        return None
    found = el.find(path, _FIND)
    if found is None:
        return None
    value = string_value(found).strip()
    return value or None


def _endpoint(root: etree._Element, party: str) -> str | None:
    found = root.find(f"cac:{party}/cbc:EndpointID", _FIND)
    if found is None or not (found.text or "").strip():
        return None
    return f"{(found.get('schemeID') or '').strip()}:{(found.text or '').strip()}"


def response_kind(customization_id: str) -> ResponseKind | None:
    """The profile a CustomizationID names, or None for another ApplicationResponse (e.g. MLR)."""
    if customization_id == INVOICE_RESPONSE_CUSTOMIZATION:
        return ResponseKind.INVOICE_RESPONSE
    if customization_id == MLS_CUSTOMIZATION:
        return ResponseKind.MLS
    return None


def read_application_response(data: bytes, *, max_bytes: int | None = None) -> ReadResponse:
    """Read a received T111 or MLS.

    Raises:
        XMLInputError: not well-formed or hostile XML.
        MappingError: not an ApplicationResponse, another profile, or lacking ResponseCode or
            DocumentReference/ID.
    """
    root = (
        parse_xml(data, max_bytes=max_bytes, what="ApplicationResponse")
        if max_bytes is not None
        else parse_xml(data, what="ApplicationResponse")
    )
    if root.tag != f"{{{AR_NS}}}ApplicationResponse":
        raise MappingError("not a UBL ApplicationResponse")
    kind = response_kind(_text(root, "cbc:CustomizationID") or "")
    if kind is None:
        raise MappingError("ApplicationResponse is neither a Peppol Invoice Response nor an MLS")
    doc = root.find("cac:DocumentResponse", _FIND)
    code = _text(doc, "cac:Response/cbc:ResponseCode")
    document_id = _text(doc, "cac:DocumentReference/cbc:ID")
    if doc is None or code is None or document_id is None:
        raise MappingError("ApplicationResponse lacks ResponseCode or DocumentReference/ID")
    statuses = tuple(
        StatusEntry(
            _text(status, "cbc:StatusReasonCode"),
            _list_id(status),
            _text(status, "cbc:StatusReason"),
        )
        for status in doc.findall("cac:Response/cac:Status", _FIND)
    )
    issues = tuple(
        LineIssue(
            _text(line, "cac:LineReference/cbc:LineID") or "NA",
            _text(answer, "cbc:Description"),
            _text(answer, "cac:Status/cbc:StatusReasonCode"),
        )
        for line in doc.findall("cac:LineResponse", _FIND)
        for answer in line.findall("cac:Response", _FIND)
    )
    return ReadResponse(
        kind=kind,
        id=_text(root, "cbc:ID") or "",
        issue_date=_text(root, "cbc:IssueDate"),
        sender=_endpoint(root, "SenderParty"),
        receiver=_endpoint(root, "ReceiverParty"),
        code=code,
        document_id=document_id,
        description=_text(doc, "cac:Response/cbc:Description"),
        effective_date=_text(doc, "cac:Response/cbc:EffectiveDate"),
        document_type_code=_text(doc, "cac:DocumentReference/cbc:DocumentTypeCode"),
        statuses=statuses,
        issues=issues,
    )


def _list_id(status: etree._Element) -> str | None:
    found = status.find("cbc:StatusReasonCode", _FIND)
    value = found.get("listID") if found is not None else None
    return value.strip() if value else None


def party_of(endpoint: str | None) -> ParticipantID | None:
    """A read ``scheme:value`` endpoint as a participant id, None when absent or malformed."""
    if endpoint is None:
        return None
    try:
        return ParticipantID.parse(endpoint)
    except InvalidIdentifier:
        return None


__all__ = [
    "LineIssue",
    "ReadResponse",
    "ResponseKind",
    "ResponseParty",
    "StatusEntry",
    "build_invoice_response",
    "build_mls",
    "party_of",
    "read_application_response",
    "response_kind",
]
