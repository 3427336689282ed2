"""The EN 16931 invoice and credit note (BG-0) as used by Peppol BIS Billing 3.0.

Stated amounts (line net amounts, the VAT breakdown, document totals) are optional: the cooperative's
invoicing system may leave them out (the gateway computes them, see ``gateway.model.totals``) and the
UBL reader fills them from the document as evidence.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from gateway.model.identifiers import BIS_BILLING_CUSTOMIZATION, BIS_BILLING_PROFILE
from gateway.model.lines import AllowanceCharge, InvoiceLine, Period
from gateway.model.parties import Address, Party, Payee, TaxRepresentative
from gateway.model.payment import PaymentMeans
from gateway.model.values import Amount, Code, CurrencyCode, Identifier, ModelBase, Text
from gateway.model.vat import VatBreakdown

#: Characters of base64 checked (and stripped of blanks) per slice: a multiple of 4, so every slice but the
#: last is whole quanta; 1 Mi characters, 768 KiB once decoded.
_BASE64_SLICE = 1 << 20
_BASE64_ALPHABET = re.compile(r"[A-Za-z0-9+/]*")
#: XML's blanks: the only ones ``xs:base64Binary`` allows between characters (whiteSpace ``collapse``), so the
#: only ones left in text ``is_xsd_base64`` accepted.
_XML_BLANKS = " \t\r\n"
_DELETE_XML_BLANKS = str.maketrans("", "", _XML_BLANKS)


def _base64_text(value: str) -> str:
    """The text without its blanks, if it is ``xs:base64Binary`` (``is_xsd_base64``): the JSON input refuses
    what the UBL's XSD layer would refuse later (``b64decode(validate=True)`` accepts ``AAAA====``,
    ``QUJD=``, unused bits set and any Unicode blank). Checked slice by slice, as ``is_xsd_base64`` is: a
    20 MB attachment costs the copy without blanks (none if it has none), no decoded one.
    """
    if not is_xsd_base64(value):
        raise ValueError(
            "BT-125 attached document is not valid base64 (xs:base64Binary: whole groups of four characters, "
            "'=' padding only at the end, only space, tab, CR or LF between characters)"
        )
    return _without_blanks(value)


def _has_xml_blanks(text: str) -> bool:
    return any(blank in text for blank in _XML_BLANKS)


def _without_blanks(value: str) -> str:
    """``value`` (text ``is_xsd_base64`` accepted: ASCII, XML's blanks only) without its blanks: the same
    object when it has none; else built a slice at a time (one ``re.sub`` over wrapped text holds a piece per
    line, twice the text beside the result). CPython grows a string only this function refers to in place, so
    the result is the only copy.

    Only XML's four blanks are looked for: four ``in`` tests cost a few ms over 28 M characters where a
    Unicode ``\\s`` search cost about as much as the whole ``is_xsd_base64``; ``str.translate``, which has
    an ASCII fast path, deletes them six times faster than ``re.sub`` on wrapped text, thirty times on
    ``"A A A ..."``.
    """
    if not _has_xml_blanks(value):
        return value
    compact = ""
    for start in range(0, len(value), _BASE64_SLICE):
        compact += value[start : start + _BASE64_SLICE].translate(_DELETE_XML_BLANKS)
    return compact


#: What ``str.split()`` takes for blanks in ASCII text beyond XML's (space, tab, CR, LF: what
#: ``xs:base64Binary``, whiteSpace ``collapse``, allows between characters).
_OTHER_ASCII_BLANKS = "\x0b\x0c\x1c\x1d\x1e\x1f"
#: The last quantum of ``xs:base64Binary``: padding only there, and the bits it leaves unused zero.
_LAST_QUANTUM = re.compile(r"(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=|[A-Za-z0-9+/][AQgw]==)?")


def is_xsd_base64(value: str) -> bool:
    """Whether ``value`` is in the lexical space of ``xs:base64Binary`` (XML Schema 1.0, as Xerces checks it):
    whole quanta of the alphabet once XML's blanks (space, tab, CR, LF) are removed, padding only in the last
    one, whose unused bits are zero.

    Stricter than ``b64decode(validate=True)`` (which accepts ``AAAA====`` and drops any Unicode blank):
    this is the schema's rule, for the XML as received and for ``Base64Text`` at the JSON input. Judged a
    ``_BASE64_SLICE`` at a time, without a copy of the text without blanks nor a decoded one: each slice's
    blanks are removed and its whole quanta matched, the last (up to) four characters carried to the next
    slice.
    """
    carried = ""
    for start in range(0, len(value), _BASE64_SLICE):
        chunk = value[start : start + _BASE64_SLICE]
        # Outside the alphabet and XML's blanks: refused (ASCII's other blanks cannot be in XML 1.0 text,
        # but are refused here too). Then XML's blanks, if any, are deleted by ``str.translate``'s ASCII fast
        # path: ``"".join(chunk.split())`` copied a slice without blanks too, held a pointer per run of
        # characters (4 MiB for ``"A A A ..."``) and took twice as long on wrapped text, five times on that.
        if not chunk.isascii() or any(blank in chunk for blank in _OTHER_ASCII_BLANKS):
            return False
        piece = carried + (chunk.translate(_DELETE_XML_BLANKS) if _has_xml_blanks(chunk) else chunk)
        del chunk
        cut = len(piece) - (len(piece) % 4 or 4) if piece else 0
        if _BASE64_ALPHABET.fullmatch(piece, 0, cut) is None:  # whole quanta: ``cut`` is a multiple of 4
            return False
        carried = piece[cut:]
    return _LAST_QUANTUM.fullmatch(carried) is not None


def base64_decoded_size(compact: str) -> int:
    """Bytes that valid base64 without blanks (a ``Base64Text``) decodes to, without decoding it (nor
    copying it): three per four characters before the padding."""
    end = len(compact)
    while end and compact[end - 1] == "=":
        end -= 1
    return end * 3 // 4


Base64Text = Annotated[str, AfterValidator(_base64_text)]


class PrecedingInvoice(ModelBase):
    """BG-3 preceding invoice reference (UBL ``cac:BillingReference/cac:InvoiceDocumentReference``)."""

    number: Text
    """BT-25 preceding invoice reference."""
    issue_date: dt.date | None = None
    """BT-26 preceding invoice issue date."""


class SupportingDocument(ModelBase):
    """BG-24 additional supporting document (UBL ``cac:AdditionalDocumentReference``)."""

    id: Text
    """BT-122 supporting document reference."""
    description: Text | None = None
    """BT-123 supporting document description."""
    uri: Text | None = None
    """BT-124 external document location."""
    content: Base64Text | None = None
    """BT-125 attached document, base64 (UBL ``EmbeddedDocumentBinaryObject``)."""
    mime_code: Code | None = None
    """BT-125-1 attached document MIME code (e.g. ``application/pdf``)."""
    filename: Text | None = None
    """BT-125-2 attached document filename."""
    type_code: Code | None = None
    """UBL ``cbc:DocumentTypeCode`` when the reader met one other than 130/50 (kept as evidence)."""

    @model_validator(mode="after")
    def _check(self) -> SupportingDocument:
        if self.content is not None and (self.mime_code is None or self.filename is None):
            raise ValueError(f"attachment {self.id}: BT-125 needs its MIME code and filename (BR-CL-24)")
        if self.content is None and (self.mime_code is not None or self.filename is not None):
            raise ValueError(f"attachment {self.id}: MIME code/filename given without content (BT-125)")
        return self


class Delivery(ModelBase):
    """BG-13 delivery information (UBL ``cac:Delivery``).

    A delivery *period* is the invoicing period BG-14.
    """

    party_name: Text | None = None
    """BT-70 deliver to party name."""
    location_id: Identifier | None = None
    """BT-71 deliver to location identifier (with scheme)."""
    date: dt.date | None = None
    """BT-72 actual delivery date."""
    address: Address | None = None
    """BG-15 deliver to address; its country is BT-80 (BR-IC-12 for category K)."""


class DocumentTotals(ModelBase):
    """BG-22 document totals and BT-110 (UBL ``cac:LegalMonetaryTotal``, ``cac:TaxTotal/cbc:TaxAmount``)."""

    line_extension_amount: Amount
    """BT-106 sum of invoice line net amounts."""
    allowance_total: Amount | None = None
    """BT-107 sum of allowances on document level."""
    charge_total: Amount | None = None
    """BT-108 sum of charges on document level."""
    tax_exclusive_amount: Amount
    """BT-109 invoice total amount without VAT."""
    vat_total: Amount
    """BT-110 invoice total VAT amount."""
    tax_inclusive_amount: Amount
    """BT-112 invoice total amount with VAT."""
    payable_amount: Amount
    """BT-115 amount due for payment."""


class _Document(ModelBase):
    """Fields common to invoices and credit notes (BG-0)."""

    customization_id: Text = BIS_BILLING_CUSTOMIZATION
    """BT-24 specification identifier."""
    profile_id: Text = BIS_BILLING_PROFILE
    """BT-23 business process type."""
    number: Text
    """BT-1 invoice number."""
    issue_date: dt.date
    """BT-2 invoice issue date."""
    currency: CurrencyCode
    """BT-5 invoice currency code."""
    vat_accounting_currency: CurrencyCode | None = None
    """BT-6 VAT accounting currency code (needs BT-111, BR-53)."""
    vat_total_accounting_currency: Amount | None = None
    """BT-111 invoice total VAT amount in accounting currency."""
    tax_point_date: dt.date | None = None
    """BT-7 value added tax point date."""
    due_date: dt.date | None = None
    """BT-9 payment due date (credit notes: written in ``cac:PaymentMeans/cbc:PaymentDueDate``)."""
    buyer_reference: Text | None = None
    """BT-10 buyer reference (BT-10 or BT-13 is mandatory, PEPPOL-EN16931-R003)."""
    project_reference: Text | None = None
    """BT-11 project reference."""
    contract_reference: Text | None = None
    """BT-12 contract reference."""
    purchase_order_reference: Text | None = None
    """BT-13 purchase order reference."""
    sales_order_reference: Text | None = None
    """BT-14 sales order reference."""
    receiving_advice_reference: Text | None = None
    """BT-15 receiving advice reference."""
    despatch_advice_reference: Text | None = None
    """BT-16 despatch advice reference."""
    tender_or_lot_reference: Text | None = None
    """BT-17 tender or lot reference."""
    invoiced_object_identifier: Identifier | None = None
    """BT-18 invoiced object identifier (with scheme)."""
    accounting_cost: Text | None = None
    """BT-19 buyer accounting reference."""
    payment_terms: Text | None = None
    """BT-20 payment terms."""
    notes: tuple[Text, ...] = ()
    """BG-1 invoice notes (BT-22, with an optional ``#BT-21#`` subject code prefix)."""
    preceding_invoices: tuple[PrecedingInvoice, ...] = ()
    """BG-3 preceding invoice references."""
    seller: Party
    """BG-4 seller."""
    buyer: Party
    """BG-7 buyer."""
    payee: Payee | None = None
    """BG-10 payee."""
    tax_representative: TaxRepresentative | None = None
    """BG-11 seller tax representative party."""
    delivery: Delivery | None = None
    """BG-13 delivery information."""
    invoice_period: Period | None = None
    """BG-14 invoicing period (also the delivery period, BR-IC-11)."""
    payment_means: tuple[PaymentMeans, ...] = ()
    """BG-16 payment instructions."""
    allowances_charges: tuple[AllowanceCharge, ...] = ()
    """BG-20 document level allowances and BG-21 charges."""
    prepaid_amount: Amount | None = None
    """BT-113 paid amount."""
    rounding_amount: Amount | None = None
    """BT-114 rounding amount."""
    totals: DocumentTotals | None = None
    """BG-22 document totals as stated (computed by the gateway when absent)."""
    vat_breakdown: tuple[VatBreakdown, ...] | None = None
    """BG-23 VAT breakdown as stated (computed by the gateway when absent)."""
    attachments: tuple[SupportingDocument, ...] = ()
    """BG-24 additional supporting documents."""
    lines: tuple[InvoiceLine, ...] = Field(min_length=1)
    """BG-25 invoice lines (at least one, BR-16)."""
    foreign_vat: bool = Field(
        default=False,
        description=(
            "True states that the VAT charged is another country's although the seller has a Belgian "
            "VAT number (e.g. distance sales taxed where the goods arrive, Directive 2006/112/EC art. 33, "
            "declared through the OSS): category S rates are then not checked against the Belgian rates "
            "21, 12 and 6 %. An input flag of the gateway; it is not written to the UBL."
        ),
    )
    """Input flag (not EN 16931, not written to UBL): the category S rates are another country's."""

    @model_validator(mode="after")
    def _check(self) -> _Document:
        if any(ac.vat is None for ac in self.allowances_charges):
            raise ValueError("document level allowances/charges need a VAT category (BR-32/BR-37)")
        ids = [line.id for line in self.lines]
        if len(set(ids)) != len(ids):
            raise ValueError("invoice line identifiers BT-126 must be unique within the document")
        if self.vat_accounting_currency is None and self.vat_total_accounting_currency is not None:
            raise ValueError("BT-111 given without the VAT accounting currency BT-6")
        return self


class Invoice(_Document):
    """A commercial invoice (UBL ``Invoice``, BT-3 default 380)."""

    kind: Literal["invoice"] = "invoice"
    """Discriminator for JSON input (``"invoice"``)."""
    type_code: Code = "380"
    """BT-3 invoice type code (UNCL 1001)."""


class CreditNote(_Document):
    """A credit note (UBL ``CreditNote``, BT-3 default 381) with BG-3 references to the credited invoices."""

    kind: Literal["credit_note"] = "credit_note"
    """Discriminator for JSON input (``"credit_note"``)."""
    type_code: Code = "381"
    """BT-3 credit note type code (UNCL 1001)."""


#: Either document; pydantic picks the class from ``kind``.
Document = Annotated[Invoice | CreditNote, Field(discriminator="kind")]
