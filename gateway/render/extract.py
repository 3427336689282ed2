"""UBL Invoice / CreditNote bytes -> ``DocumentView``: every business term of EN 16931 that a reader needs.

Read-only and independent of ``gateway.ubl.reader`` (which maps to the model the gateway writes): the view
keeps foreign documents' terms as stated, including notes, every reference, payee, tax representative and
line details. The XPaths follow the UBL syntax binding of EN 16931 (CEN/TS 16931-3-2).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date
from typing import Final

from lxml import etree

from gateway.errors import MappingError
from gateway.render.fields import (
    Element,
    address,
    amount,
    attr,
    child,
    children,
    day,
    decimal,
    identifier,
    party,
    text,
    texts,
)
from gateway.render.view import (
    AllowanceCharge,
    Amount,
    Attachment,
    Delivery,
    DocumentView,
    Identifier,
    Line,
    PaymentMeans,
    Period,
    Reference,
    Totals,
    VatBreakdown,
)
from gateway.xmlcore import parse_xml

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
#: UNTDID 1001 code of an AdditionalDocumentReference that is the invoiced object identifier (BT-18).
INVOICED_OBJECT = "130"
#: UNTDID 1001 code of a CreditNote's AdditionalDocumentReference that is its project reference (BT-11: a
#: CreditNote has no cac:ProjectReference in the BIS binding).
PROJECT = "50"


@dataclass(frozen=True, slots=True)
class EmbeddedFile:
    """The decoded content of an embedded attachment (BT-125)."""

    filename: str
    mime_code: str
    content: bytes


def _root(data: bytes) -> tuple[Element, bool]:
    root = parse_xml(data, what="UBL document")
    qname = etree.QName(root)
    if (qname.namespace, qname.localname) == (INVOICE_NS, "Invoice"):
        return root, False
    if (qname.namespace, qname.localname) == (CREDIT_NOTE_NS, "CreditNote"):
        return root, True
    raise MappingError(
        f"not a UBL Invoice or CreditNote: root element is {{{qname.namespace}}}{qname.localname}"
    )


def _period(el: Element | None) -> Period | None:
    if el is None:
        return None
    found = Period(
        start=day(el, "cbc:StartDate"),
        end=day(el, "cbc:EndDate"),
        description_code=text(el, "cbc:DescriptionCode"),
    )
    return None if found == Period() else found


def _allowance_charge(el: Element) -> AllowanceCharge:
    zero = amount(el, "cbc:Amount")
    return AllowanceCharge(
        charge=text(el, "cbc:ChargeIndicator") == "true",
        amount=zero if zero is not None else _missing_amount(),
        reason=text(el, "cbc:AllowanceChargeReason"),
        reason_code=text(el, "cbc:AllowanceChargeReasonCode"),
        base_amount=amount(el, "cbc:BaseAmount"),
        percent=decimal(el, "cbc:MultiplierFactorNumeric"),
        vat_category=text(el, "cac:TaxCategory/cbc:ID"),
        vat_rate=decimal(el, "cac:TaxCategory/cbc:Percent"),
    )


def _missing_amount() -> Amount:
    """An absent mandatory amount (an invalid document): rendered empty rather than failing."""
    return Amount(value=None, currency="", raw="")


def _references(root: Element, credit: bool) -> tuple[Reference, ...]:
    refs: list[Reference] = []

    def add(kind: str, value: str | None, scheme: str | None = None, issued: date | None = None) -> None:
        if value:
            refs.append(Reference(kind, value, scheme, issued))

    add("order", text(root, "cac:OrderReference/cbc:ID"))  # BT-13
    add("sales_order", text(root, "cac:OrderReference/cbc:SalesOrderID"))  # BT-14
    for billing in children(root, "cac:BillingReference/cac:InvoiceDocumentReference"):  # BG-3
        add("preceding_invoice", text(billing, "cbc:ID"), None, day(billing, "cbc:IssueDate"))
    for billing in children(root, "cac:BillingReference/cac:CreditNoteDocumentReference"):
        add("preceding_invoice", text(billing, "cbc:ID"), None, day(billing, "cbc:IssueDate"))
    add("contract", text(root, "cac:ContractDocumentReference/cbc:ID"))  # BT-12
    add("despatch_advice", text(root, "cac:DespatchDocumentReference/cbc:ID"))  # BT-16
    add("receiving_advice", text(root, "cac:ReceiptDocumentReference/cbc:ID"))  # BT-15
    add("tender", text(root, "cac:OriginatorDocumentReference/cbc:ID"))  # BT-17
    add("project", text(root, "cac:ProjectReference/cbc:ID"))  # BT-11
    for extra in children(root, "cac:AdditionalDocumentReference"):
        if text(extra, "cbc:DocumentTypeCode") == INVOICED_OBJECT:  # BT-18 with its scheme (BT-18-1)
            add("invoiced_object", text(extra, "cbc:ID"), attr(extra, "cbc:ID", "schemeID"))
        elif credit and text(extra, "cbc:DocumentTypeCode") == PROJECT:  # a CreditNote's BT-11
            add("project", text(extra, "cbc:ID"))
    return tuple(refs)


def _supporting_documents(root: Element, credit: bool) -> list[Element]:
    """The AdditionalDocumentReferences that are supporting documents (BG-24), in document order: neither
    the invoiced object identifier (BT-18) nor a CreditNote's project reference (BT-11), as the UBL reader
    counts them (the expense routes number attachments by its list)."""
    return [
        extra
        for extra in children(root, "cac:AdditionalDocumentReference")
        if text(extra, "cbc:DocumentTypeCode") != INVOICED_OBJECT
        and not (credit and text(extra, "cbc:DocumentTypeCode") == PROJECT)
    ]


def _attachments(root: Element, credit: bool) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    for extra in _supporting_documents(root, credit):
        embedded = child(extra, "cac:Attachment/cbc:EmbeddedDocumentBinaryObject")
        size = None
        if embedded is not None:
            size = len(_decode(embedded) or b"")
        found.append(
            Attachment(
                index=len(found),
                identifier=text(extra, "cbc:ID") or "",
                description=text(extra, "cbc:DocumentDescription"),
                filename=embedded.get("filename") if embedded is not None else None,
                mime_code=embedded.get("mimeCode") if embedded is not None else None,
                size=size,
                url=text(extra, "cac:Attachment/cac:ExternalReference/cbc:URI"),
            )
        )
    return tuple(found)


def _decode(embedded: Element) -> bytes | None:
    try:
        return base64.b64decode("".join((embedded.text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def _payment_means(el: Element) -> PaymentMeans:
    return PaymentMeans(
        code=text(el, "cbc:PaymentMeansCode"),
        code_name=attr(el, "cbc:PaymentMeansCode", "name"),
        payment_id=text(el, "cbc:PaymentID"),
        account_iban=text(el, "cac:PayeeFinancialAccount/cbc:ID"),
        account_name=text(el, "cac:PayeeFinancialAccount/cbc:Name"),
        account_bic=text(el, "cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID"),
        card_number=text(el, "cac:CardAccount/cbc:PrimaryAccountNumberID"),
        card_holder=text(el, "cac:CardAccount/cbc:HolderName"),
        mandate_id=text(el, "cac:PaymentMandate/cbc:ID"),
        debited_account=text(el, "cac:PaymentMandate/cac:PayerFinancialAccount/cbc:ID"),
    )


def _vat(root: Element, currency: str) -> tuple[tuple[VatBreakdown, ...], Totals]:
    rows: list[VatBreakdown] = []
    vat_total = vat_in_tax_currency = None
    for total in children(root, "cac:TaxTotal"):
        stated = amount(total, "cbc:TaxAmount")
        if stated is not None and stated.currency and stated.currency != currency:
            vat_in_tax_currency = stated  # BT-111: the VAT total in the accounting currency
            continue
        vat_total = vat_total or stated
        for sub in children(total, "cac:TaxSubtotal"):
            taxable, tax = amount(sub, "cbc:TaxableAmount"), amount(sub, "cbc:TaxAmount")
            rows.append(
                VatBreakdown(
                    category=text(sub, "cac:TaxCategory/cbc:ID") or "",
                    rate=decimal(sub, "cac:TaxCategory/cbc:Percent"),
                    taxable=taxable or _missing_amount(),
                    tax=tax or _missing_amount(),
                    exemption_code=text(sub, "cac:TaxCategory/cbc:TaxExemptionReasonCode"),
                    exemption_reason=text(sub, "cac:TaxCategory/cbc:TaxExemptionReason"),
                )
            )
    monetary = child(root, "cac:LegalMonetaryTotal")
    totals = Totals(
        line_net=amount(monetary, "cbc:LineExtensionAmount"),
        allowances=amount(monetary, "cbc:AllowanceTotalAmount"),
        charges=amount(monetary, "cbc:ChargeTotalAmount"),
        tax_exclusive=amount(monetary, "cbc:TaxExclusiveAmount"),
        vat=vat_total,
        vat_in_tax_currency=vat_in_tax_currency,
        tax_inclusive=amount(monetary, "cbc:TaxInclusiveAmount"),
        prepaid=amount(monetary, "cbc:PrepaidAmount"),
        rounding=amount(monetary, "cbc:PayableRoundingAmount"),
        payable=amount(monetary, "cbc:PayableAmount"),
    )
    return tuple(rows), totals


def _line(el: Element, credit: bool) -> Line:
    quantity_path = "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity"
    item = child(el, "cac:Item")
    price = child(el, "cac:Price")
    price_ac = child(price, "cac:AllowanceCharge")
    item_ids = tuple(
        Reference(kind, value, scheme)
        for kind, value, scheme in (
            ("seller_item", text(item, "cac:SellersItemIdentification/cbc:ID"), None),
            ("buyer_item", text(item, "cac:BuyersItemIdentification/cbc:ID"), None),
            (
                "standard_item",
                text(item, "cac:StandardItemIdentification/cbc:ID"),
                attr(item, "cac:StandardItemIdentification/cbc:ID", "schemeID"),
            ),
        )
        if value
    )
    object_ref = child(el, "cac:DocumentReference")
    return Line(
        line_id=text(el, "cbc:ID") or "",
        name=text(item, "cbc:Name"),
        quantity=decimal(el, quantity_path),
        unit_code=attr(el, quantity_path, "unitCode"),
        net_amount=amount(el, "cbc:LineExtensionAmount") or _missing_amount(),
        price=amount(price, "cbc:PriceAmount"),
        price_base_quantity=decimal(price, "cbc:BaseQuantity"),
        price_discount=amount(price_ac, "cbc:Amount"),
        gross_price=amount(price_ac, "cbc:BaseAmount"),
        vat_category=text(item, "cac:ClassifiedTaxCategory/cbc:ID"),
        vat_rate=decimal(item, "cac:ClassifiedTaxCategory/cbc:Percent"),
        description=text(item, "cbc:Description"),
        note=text(el, "cbc:Note"),
        accounting_cost=text(el, "cbc:AccountingCost"),
        order_line=text(el, "cac:OrderLineReference/cbc:LineID"),
        object_id=identifier(object_ref, "cbc:ID") if object_ref is not None else None,
        period=_period(child(el, "cac:InvoicePeriod")),
        item_ids=item_ids,
        origin_country=text(item, "cac:OriginCountry/cbc:IdentificationCode"),
        classifications=tuple(
            Identifier(value, code.get("listID"))
            for code in children(item, "cac:CommodityClassification/cbc:ItemClassificationCode")
            if (value := " ".join((code.text or "").split()))
        ),
        properties=_properties(item),
        allowances_charges=tuple(_allowance_charge(ac) for ac in children(el, "cac:AllowanceCharge")),
    )


def _properties(item: Element | None) -> tuple[tuple[str, str], ...]:
    """Item attributes (BG-32): name (BT-160) and value (BT-161) pairs."""
    pairs = (
        (text(prop, "cbc:Name"), text(prop, "cbc:Value"))
        for prop in children(item, "cac:AdditionalItemProperty")
    )
    return tuple((name, value) for name, value in pairs if name and value)


def _delivery(root: Element) -> Delivery | None:
    el = child(root, "cac:Delivery")
    if el is None:
        return None
    found = Delivery(
        date=day(el, "cbc:ActualDeliveryDate"),
        location_id=identifier(el, "cac:DeliveryLocation/cbc:ID"),
        party_name=text(el, "cac:DeliveryParty/cac:PartyName/cbc:Name"),
        address=address(child(el, "cac:DeliveryLocation/cac:Address")),
    )
    return None if found == Delivery() else found


def read_view(data: bytes) -> DocumentView:
    """Read a UBL Invoice or CreditNote (BIS Billing 3.0 or any EN 16931 UBL) into the rendering view.

    Args:
        data: the document bytes (untrusted: parsed by ``gateway.xmlcore.parse_xml``).

    Returns:
        The view with every business term present in the document.

    Raises:
        XMLInputError: not well-formed, DTD/entities, too large.
        MappingError: the root is not a UBL Invoice or CreditNote.
    """
    root, credit = _root(data)
    currency = text(root, "cbc:DocumentCurrencyCode") or ""
    vat_rows, totals = _vat(root, currency)
    line_path = "cac:CreditNoteLine" if credit else "cac:InvoiceLine"
    payee = child(root, "cac:PayeeParty")
    representative = child(root, "cac:TaxRepresentativeParty")
    # BT-9: cbc:DueDate on an Invoice; a CreditNote states it per payment means (UBL binding).
    due = day(root, "cbc:DueDate") or day(root, "cac:PaymentMeans/cbc:PaymentDueDate")
    return DocumentView(
        credit_note=credit,
        number=text(root, "cbc:ID") or "",
        issue_date=day(root, "cbc:IssueDate"),
        type_code=text(root, "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode"),
        currency=currency,
        seller=party(child(root, "cac:AccountingSupplierParty/cac:Party")),
        buyer=party(child(root, "cac:AccountingCustomerParty/cac:Party")),
        due_date=due,
        tax_currency=text(root, "cbc:TaxCurrencyCode"),
        tax_point_date=day(root, "cbc:TaxPointDate"),
        buyer_reference=text(root, "cbc:BuyerReference"),
        accounting_cost=text(root, "cbc:AccountingCost"),
        payment_terms=" ".join(texts(root, "cac:PaymentTerms/cbc:Note")) or None,
        notes=texts(root, "cbc:Note"),
        specification=text(root, "cbc:CustomizationID"),
        profile=text(root, "cbc:ProfileID"),
        period=_period(child(root, "cac:InvoicePeriod")),
        references=_references(root, credit),
        payee=party(payee) if payee is not None else None,
        tax_representative=party(representative) if representative is not None else None,
        delivery=_delivery(root),
        payment_means=tuple(_payment_means(el) for el in children(root, "cac:PaymentMeans")),
        allowances_charges=tuple(_allowance_charge(el) for el in children(root, "cac:AllowanceCharge")),
        vat_breakdown=vat_rows,
        totals=totals,
        lines=tuple(_line(el, credit) for el in children(root, line_path)),
        attachments=_attachments(root, credit),
    )


#: Attachment types a BIS Billing 3.0 document may embed (BT-125 @mimeCode code list); others go out as
#: octet-stream so that a document cannot make us serve, say, HTML from our origin.
ATTACHMENT_TYPES: Final = frozenset(
    {
        "application/pdf",
        "image/png",
        "image/jpeg",
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.oasis.opendocument.spreadsheet",
    }
)


def read_attachment(data: bytes, index: int) -> EmbeddedFile | None:
    """The embedded file of attachment ``index`` (the ``Attachment.index`` of ``read_view``).

    Returns:
        The decoded file, or None when there is no such attachment or it is not embedded (or not base64).

    Raises:
        XMLInputError, MappingError: as ``read_view``.
    """
    root, credit = _root(data)
    extras = _supporting_documents(root, credit)
    if not 0 <= index < len(extras):
        return None
    embedded = child(extras[index], "cac:Attachment/cbc:EmbeddedDocumentBinaryObject")
    content = _decode(embedded) if embedded is not None else None
    if embedded is None or content is None:
        return None
    return EmbeddedFile(
        filename=embedded.get("filename") or f"attachment-{index + 1}",
        mime_code=embedded.get("mimeCode") or "application/octet-stream",
        content=content,
    )


__all__ = ["ATTACHMENT_TYPES", "EmbeddedFile", "read_attachment", "read_view"]
