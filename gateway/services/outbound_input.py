"""Turn a posted document (the JSON model or ready UBL) into the UBL to send and the facts the store keys
it by: document number, receiver (BT-49), sender (BT-34), Peppol document type. JSON documents go
through the one conversion path, ``gateway.services.conversion.convert_to_ubl``. Whether the seller it
states is the cooperative is ``gateway.services.seller_identity``'s question."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from lxml import etree

from gateway.errors import InvalidIdentifier, MappingError, XMLInputError
from gateway.model import BIS_CREDIT_NOTE, BIS_INVOICE, CreditNote, Invoice, Party
from gateway.model.identifiers import EMAIL_SCHEME, DocumentTypeID, EmailReceiver, ParticipantID, Receiver
from gateway.model.message import DocumentKind
from gateway.model.report import country_code
from gateway.services.conversion import convert_to_ubl
from gateway.services.reporting_records import buyer_country_in
from gateway.ubl.codes import VAT_SCHEME
from gateway.xmlcore import NS, may_embed_binary, parse_xml, root_skeleton, string_value
from gateway.xmlcore.held import HeldDocument

MAX_DOCUMENT_NUMBER_LENGTH: Final = 200
"""Longest document number (BT-1) the store keeps; longer ones are refused, never truncated."""


@dataclass(frozen=True, slots=True)
class SellerIdentifier:
    """An identifier the document states for its seller besides BT-34 (``seller_identity_problems``).

    Attributes:
        term: ``BT-29`` (seller identifier), ``BT-30`` (legal registration), ``BT-31`` (VAT identifier) or
            ``BT-32`` (tax registration).
        field: where the document gives it (a JSON field or a UBL path), for the problem's text.
        value: as written.
        scheme: its schemeID (BT-29, BT-30; None when absent), or its tax scheme (BT-31 ``VAT``, BT-32).
    """

    term: str
    field: str
    value: str
    scheme: str | None = None


@dataclass(frozen=True, slots=True)
class SellerName:
    """A seller name (BT-27) the document states (``seller_name_problems``).

    Attributes:
        field: where the document gives it (a JSON field or a UBL path), for the problem's text.
        value: as written (a UBL element's whole text, stripped).
    """

    field: str
    value: str


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    """A posted document turned into the UBL to send, with what the store needs to know about it.

    Attributes:
        kind: how it was submitted.
        source: the UBL that will be validated, stored and sent: its bytes, or a ``HeldDocument`` of them
            that this object is the only holder of (validation may spill a large one to a temporary file
            while Saxon works on it). Read them through ``ubl``, and keep them no longer than needed.
        document_type: the Peppol document type (BIS Billing Invoice or CreditNote).
        number: BT-1, or None when absent.
        receiver: the buyer's Peppol participant id (BT-49), or its e-mail address when BT-49 has the EAS
            scheme ``EM`` (a buyer outside Peppol, e-mailed), or None when absent or neither.
        sender: the seller's participant id (BT-34), or None (the configured seller id is used).
        seller_address: BT-34 as the document writes it (``scheme:value``), None when absent; a BT-34 that
            is present but names another enterprise than the cooperative, or no participant at all, makes
            the document unsendable (``seller_problem``, checked by the submitter).
        seller_ids: the seller's identifiers besides BT-34 (BT-29 to BT-32); one naming another Belgian
            enterprise than the cooperative makes the document unsendable (``seller_identity_problems``).
        seller_names: the seller's names (BT-27), every one stated; one that is not the cooperative's legal
            name, when it is configured, makes the document unsendable (``seller_name_problems``).
        problems: why the document cannot be sent even if valid (missing BT-1 or BT-49, ...).
        buyer_country: BT-55 (``ZZ``: none), stored with the document for the reporting record of its
            delivery, so that the worker does not parse the document for it.
    """

    kind: DocumentKind
    source: bytes | HeldDocument
    document_type: DocumentTypeID
    number: str | None
    receiver: Receiver | None
    sender: ParticipantID | None = None
    seller_address: str | None = None
    seller_ids: tuple[SellerIdentifier, ...] = ()
    seller_names: tuple[SellerName, ...] = ()
    problems: tuple[str, ...] = ()
    buyer_country: str | None = None

    @property
    def ubl(self) -> bytes:
        """The UBL bytes (read back from a spilled ``HeldDocument``)."""
        return self.source.data() if isinstance(self.source, HeldDocument) else self.source


def _participant(scheme: str | None, value: str | None, what: str) -> tuple[ParticipantID | None, str | None]:
    if not value:
        return None, f"{what} is missing: the document cannot be addressed over Peppol"
    try:
        return ParticipantID(scheme or "", value.strip()), None
    except InvalidIdentifier as exc:
        return None, f"{what} {scheme}:{value} is not a Peppol participant id ({exc})"


def _address(scheme: str | None, value: str) -> str:
    return f"{scheme}:{value}" if scheme else value


def _receiver(scheme: str | None, value: str | None) -> tuple[Receiver | None, str | None]:
    if scheme == EMAIL_SCHEME and value:
        try:
            return EmailReceiver(value.strip()), None
        except InvalidIdentifier as exc:
            return None, f"BT-49 buyer electronic address: {exc}"
    return _participant(scheme, value, "BT-49 buyer electronic address")


def _number_problems(number: str | None) -> tuple[str, ...]:
    if not number:
        return ("BT-1 document number is missing",)
    if len(number) > MAX_DOCUMENT_NUMBER_LENGTH:
        return (f"BT-1 document number is longer than {MAX_DOCUMENT_NUMBER_LENGTH} characters",)
    return ()


def _json_seller_ids(seller: Party) -> tuple[SellerIdentifier, ...]:
    """The seller's BT-29 to BT-32 as the JSON gives them (``enterprise_number`` fills BT-30, ``vat_number``
    is BT-31)."""
    found = [
        SellerIdentifier("BT-29", f"seller.identifiers[{i}]", ident.value, ident.scheme)
        for i, ident in enumerate(seller.identifiers)
    ]
    legal = seller.legal_registration_id
    if legal is not None:
        found.append(SellerIdentifier("BT-30", "seller.legal_registration_id", legal.value, legal.scheme))
    if seller.vat_identifier is not None:
        found.append(SellerIdentifier("BT-31", "seller.vat_identifier", seller.vat_identifier, VAT_SCHEME))
    tax = seller.tax_registration
    if tax is not None:
        found.append(SellerIdentifier("BT-32", "seller.tax_registration", tax.value, tax.scheme))
    return tuple(found)


def prepare_json_document(document: Invoice | CreditNote) -> PreparedDocument:
    """Complete a posted JSON document (totals, VAT, structured communication) and write its UBL.

    Raises:
        InvalidDocumentData: the document is inconsistent.
        MappingError: it cannot be written as UBL.
    """
    converted = convert_to_ubl(document)
    completed, ubl = converted.document, converted.ubl
    buyer = completed.buyer.endpoint
    receiver, receiver_problem = _receiver(buyer.scheme if buyer else None, buyer.value if buyer else None)
    seller = completed.seller.endpoint
    sender = _participant(seller.scheme, seller.value, "BT-34")[0] if seller else None
    seller_address = _address(seller.scheme, seller.value) if seller else None
    credit = isinstance(completed, CreditNote)
    return PreparedDocument(
        kind=DocumentKind.CREDIT_NOTE if credit else DocumentKind.INVOICE,
        source=ubl,
        document_type=BIS_CREDIT_NOTE if credit else BIS_INVOICE,
        number=completed.number,
        receiver=receiver,
        sender=sender,
        seller_address=seller_address,
        seller_ids=_json_seller_ids(completed.seller),
        seller_names=(SellerName("seller.legal_name", completed.seller.legal_name),),
        problems=_number_problems(completed.number) + ((receiver_problem,) if receiver_problem else ()),
        buyer_country=country_code(completed.buyer.address.country),
    )


def _text(element: etree._Element) -> str:
    """The element's whole text, stripped, as validation reads it (``string_value``)."""
    return string_value(element).strip()


def _endpoint(root: etree._Element, party: str) -> tuple[str | None, str | None]:
    found = root.find(f"cac:{party}/cac:Party/cbc:EndpointID", NS)
    if found is None or not _text(found):
        return None, None
    return found.get("schemeID"), _text(found)


#: From this size up only the root's children read below are kept (a pull parse), not a tree of the whole
#: document: 30 MiB for a 5,000-line invoice of 4.1 MB (BENCHMARKS.md, *Memory, sixth pass*).
HEADER_PULL_ABOVE_BYTES: Final = 1024 * 1024
_HEADER: Final = frozenset(
    f"{{{NS[prefix]}}}{local}"
    for prefix, local in (
        ("cbc", "ID"),
        ("cac", "AccountingSupplierParty"),
        ("cac", "AccountingCustomerParty"),
    )
)


def _header_root(ubl: bytes, *, max_bytes: int) -> etree._Element:
    """The parsed root, or for a large document the root with only the children read here (same answers:
    every read below is a path from one of them). An input the pull parse refuses is parsed again as a
    tree, whose refusal is the one reported. A document that may embed an attachment is parsed as a tree
    at once: the pull parse would build the attachment's text before it could drop it."""
    if len(ubl) >= HEADER_PULL_ABOVE_BYTES and not may_embed_binary(ubl):
        try:
            return root_skeleton(
                ubl, keep=lambda child: child.tag in _HEADER, what="UBL document", max_bytes=max_bytes
            )
        except XMLInputError:
            pass
    return parse_xml(ubl, max_bytes=max_bytes, what="UBL document")


_SUPPLIER: Final = "cac:AccountingSupplierParty/cac:Party/"


def _ubl_seller_ids(root: etree._Element) -> tuple[SellerIdentifier, ...]:
    """The seller's BT-29 to BT-32 in a UBL document, every occurrence (the XSD refuses a second seller,
    but what the check reads must not be only the first of several)."""
    found: list[SellerIdentifier] = []
    for term, path in (
        ("BT-29", "cac:PartyIdentification/cbc:ID"),
        ("BT-30", "cac:PartyLegalEntity/cbc:CompanyID"),
    ):
        found.extend(
            SellerIdentifier(term, _SUPPLIER + path, _text(el), el.get("schemeID"))
            for el in root.iterfind(_SUPPLIER + path, NS)
        )
    for tax in root.iterfind(_SUPPLIER + "cac:PartyTaxScheme", NS):
        scheme_el = tax.find("cac:TaxScheme/cbc:ID", NS)
        scheme = _text(scheme_el) if scheme_el is not None else ""
        term = "BT-31" if scheme.upper() == VAT_SCHEME else "BT-32"
        found.extend(
            SellerIdentifier(term, _SUPPLIER + "cac:PartyTaxScheme/cbc:CompanyID", _text(el), scheme)
            for el in tax.iterfind("cbc:CompanyID", NS)
        )
    return tuple(found)


def _ubl_seller_names(root: etree._Element) -> tuple[SellerName, ...]:
    """The seller's BT-27 in a UBL document, every occurrence (like ``_ubl_seller_ids``); an empty one is
    left to validation (PEPPOL-EN16931-R008, BR-06)."""
    path = _SUPPLIER + "cac:PartyLegalEntity/cbc:RegistrationName"
    return tuple(SellerName(path, text) for el in root.iterfind(path, NS) if (text := _text(el)))


def prepare_ubl_document(document: bytes | HeldDocument, *, max_bytes: int) -> PreparedDocument:
    """Read what the store needs from a ready UBL Invoice or CreditNote (BIS Billing 3.0, process 01).

    The receiver is the buyer's ``cbc:EndpointID`` (BT-49; scheme ``EM``: e-mailed outside Peppol) and the
    document type follows the root element.
    The bytes are kept as posted: they are what is validated, stored and sent (a ``HeldDocument`` is kept
    as it is, its bytes not referenced elsewhere: see ``PreparedDocument.source``).

    Raises:
        XMLInputError: not well-formed, DTD/entities, larger than ``max_bytes``.
        MappingError: the root is neither a UBL Invoice nor a UBL CreditNote.
    """
    root = _header_root(
        document.data() if isinstance(document, HeldDocument) else document, max_bytes=max_bytes
    )
    qname = etree.QName(root)
    if (qname.namespace, qname.localname) == (NS["inv"], "Invoice"):
        document_type = BIS_INVOICE
    elif (qname.namespace, qname.localname) == (NS["cn"], "CreditNote"):
        document_type = BIS_CREDIT_NOTE
    else:
        raise MappingError(f"the root element {qname.text} is not a UBL 2.1 Invoice or CreditNote")
    number_el = root.find("cbc:ID", NS)
    number = _text(number_el) or None if number_el is not None else None
    receiver, receiver_problem = _receiver(*_endpoint(root, "AccountingCustomerParty"))
    seller_scheme, seller_value = _endpoint(root, "AccountingSupplierParty")
    sender = _participant(seller_scheme, seller_value, "BT-34")[0] if seller_value else None
    return PreparedDocument(
        kind=DocumentKind.UBL,
        source=document,
        document_type=document_type,
        number=number,
        receiver=receiver,
        sender=sender,
        seller_address=_address(seller_scheme, seller_value) if seller_value else None,
        seller_ids=_ubl_seller_ids(root),
        seller_names=_ubl_seller_names(root),
        problems=_number_problems(number) + ((receiver_problem,) if receiver_problem else ()),
        buyer_country=buyer_country_in(root),
    )
