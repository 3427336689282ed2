"""Peppol BIS Billing 3.0 UBL Invoice / CreditNote -> model, for documents from any supplier.

Stated amounts (line net amounts, allowance amounts, the VAT breakdown, totals) are kept as evidence,
never recomputed, so that ``write_ubl(read_ubl(x))`` states the same figures as ``x``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from lxml import etree
from pydantic import ValidationError

from gateway.errors import MappingError, XMLInputError
from gateway.model import CreditNote, Invoice
from gateway.ubl.codes import (
    CREDIT_NOTE_NS,
    EN16931_CUSTOMIZATION_PREFIX,
    INVOICE_NS,
    INVOICED_OBJECT_TYPE_CODE,
    NO_ORDER_ID,
    PROJECT_TYPE_CODE,
    UBL_NS,
    VAT_SCHEME,
)
from gateway.xmlcore import DEFAULT_MAX_XML_BYTES, parse_xml, root_skeleton

Data = dict[str, Any]
_CREDIT_NOTE_ROOT = f"{{{CREDIT_NOTE_NS}}}CreditNote"
_INVOICE_LINE = f"{{{UBL_NS['cac']}}}InvoiceLine"
_CREDIT_NOTE_LINE = f"{{{UBL_NS['cac']}}}CreditNoteLine"


@cache
def _clark(path: str) -> str:
    """``cac:A/cbc:B`` in Clark notation (``{ns}A/{ns}B``): lxml then finds it without matching prefixes
    against a namespace map on every call (the reader makes ~200 finds per document)."""
    steps = []
    for step in path.split("/"):
        prefix, colon, local = step.partition(":")
        steps.append(f"{{{UBL_NS[prefix]}}}{local}" if colon else step)
    return "/".join(steps)


def _t(el: etree._Element | None, path: str) -> str | None:
    """Stripped text at ``path`` below ``el``; None when absent or blank."""
    if el is None:
        return None
    found = el.find(_clark(path))
    if found is None or found.text is None or not found.text.strip():
        return None
    return found.text.strip()


def _attr(el: etree._Element | None, path: str, name: str) -> str | None:
    if el is None:
        return None
    found = el.find(_clark(path))
    value = found.get(name) if found is not None else None
    return value.strip() if value and value.strip() else None


def _all(el: etree._Element | None, path: str) -> list[etree._Element]:
    return [] if el is None else el.findall(_clark(path))


def _ident(el: etree._Element | None, path: str) -> Data | None:
    value = _t(el, path)
    return None if value is None else {"value": value, "scheme": _attr(el, path, "schemeID")}


def _compact(data: Data) -> Data:
    """Drop None values and empty containers so model defaults apply."""
    return {k: v for k, v in data.items() if v is not None and v != [] and v != {}}


def read_ubl(data: bytes) -> Invoice | CreditNote:
    """Read a BIS Billing 3.0 (or other EN 16931 UBL) Invoice or CreditNote.

    Args:
        data: the UBL document bytes (untrusted: parsed by ``gateway.xmlcore.parse_xml``).

    Returns:
        The Invoice or CreditNote, with every stated amount as evidence.

    Raises:
        XMLInputError: not well-formed, DTD/entities, too large.
        MappingError: not a UBL Invoice/CreditNote of EN 16931, or a value the model refuses.
    """
    return read_ubl_tree(parse_xml(data, what="UBL document"))


def read_ubl_streamed(data: bytes, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> Invoice | CreditNote:
    """Like :func:`read_ubl`, without a tree of the whole document: a pull parse reads each invoice or
    credit note line as it ends and drops it, and keeps the root's other children (the header), so a
    large document costs its model, not its tree (README, *Memory, sixth pass*). The same model and
    errors as :func:`read_ubl`: an input the pull parse refuses is read by :func:`read_ubl`.

    Raises:
        XMLInputError, MappingError: as :func:`read_ubl`.
    """
    lines: list[Data] = []

    def keep(child: etree._Element) -> bool:
        parent = child.getparent()
        credit = parent is not None and parent.tag == _CREDIT_NOTE_ROOT
        if child.tag != (_CREDIT_NOTE_LINE if credit else _INVOICE_LINE):
            return True
        lines.append(_read_line(child, credit))
        return False

    try:
        root = root_skeleton(data, keep=keep, what="UBL document", max_bytes=max_bytes)
    except XMLInputError:
        return read_ubl(data)
    return read_ubl_tree(root, lines=lines)


def read_ubl_tree(root: etree._Element, *, lines: list[Data] | None = None) -> Invoice | CreditNote:
    """Like :func:`read_ubl`, from a document already parsed by ``gateway.xmlcore.parse_xml`` (the receive
    path reads the tree its validation parsed: the bytes are parsed once).

    Raises:
        MappingError: not a UBL Invoice/CreditNote of EN 16931, or a value the model refuses.

    ``lines``: the lines already read, in document order, when the tree holds none
    (:func:`read_ubl_streamed`).
    """
    qname = etree.QName(root)
    if (qname.namespace, qname.localname) == (INVOICE_NS, "Invoice"):
        credit = False
    elif (qname.namespace, qname.localname) == (CREDIT_NOTE_NS, "CreditNote"):
        credit = True
    else:
        raise MappingError(f"root element {qname.text} is not a UBL 2.1 Invoice or CreditNote")
    customization = _t(root, "cbc:CustomizationID")
    if customization is None or not customization.startswith(EN16931_CUSTOMIZATION_PREFIX):
        raise MappingError(
            f"CustomizationID BT-24 {customization!r} is not an EN 16931 / BIS Billing 3.0 one"
        )
    doc = _read_header(root, credit, lines)
    try:
        return CreditNote.model_validate(doc) if credit else Invoice.model_validate(doc)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise MappingError(f"UBL document cannot be represented: {details}") from exc


def _read_header(root: etree._Element, credit: bool, lines: list[Data] | None = None) -> Data:
    doc: Data = {
        "customization_id": _t(root, "cbc:CustomizationID"),
        "profile_id": _t(root, "cbc:ProfileID"),
        "number": _t(root, "cbc:ID"),
        "issue_date": _t(root, "cbc:IssueDate"),
        "type_code": _t(root, "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode"),
        "currency": _t(root, "cbc:DocumentCurrencyCode"),
        "vat_accounting_currency": _t(root, "cbc:TaxCurrencyCode"),
        "tax_point_date": _t(root, "cbc:TaxPointDate"),
        "due_date": _t(root, "cac:PaymentMeans/cbc:PaymentDueDate" if credit else "cbc:DueDate"),
        "buyer_reference": _t(root, "cbc:BuyerReference"),
        "contract_reference": _t(root, "cac:ContractDocumentReference/cbc:ID"),
        "sales_order_reference": _t(root, "cac:OrderReference/cbc:SalesOrderID"),
        "receiving_advice_reference": _t(root, "cac:ReceiptDocumentReference/cbc:ID"),
        "despatch_advice_reference": _t(root, "cac:DespatchDocumentReference/cbc:ID"),
        "tender_or_lot_reference": _t(root, "cac:OriginatorDocumentReference/cbc:ID"),
        "accounting_cost": _t(root, "cbc:AccountingCost"),
        "payment_terms": _t(root, "cac:PaymentTerms/cbc:Note"),
        "notes": [n.text.strip() for n in _all(root, "cbc:Note") if n.text and n.text.strip()],
        "seller": _read_party(root.find(_clark("cac:AccountingSupplierParty/cac:Party"))),
        "buyer": _read_party(root.find(_clark("cac:AccountingCustomerParty/cac:Party"))),
        "payee": _read_payee(root.find(_clark("cac:PayeeParty"))),
        "tax_representative": _read_tax_representative(root.find(_clark("cac:TaxRepresentativeParty"))),
        "delivery": _read_delivery(root.find(_clark("cac:Delivery"))),
        "invoice_period": _read_period(root.find(_clark("cac:InvoicePeriod")), document=True),
        "payment_means": [_read_payment_means(pm) for pm in _all(root, "cac:PaymentMeans")],
        "allowances_charges": [_read_allowance_charge(ac) for ac in _all(root, "cac:AllowanceCharge")],
        "lines": lines
        if lines is not None
        else [
            _read_line(line, credit)
            for line in _all(root, "cac:CreditNoteLine" if credit else "cac:InvoiceLine")
        ],
    }
    order_id = _t(root, "cac:OrderReference/cbc:ID")
    if order_id == NO_ORDER_ID and doc["sales_order_reference"] is not None:
        order_id = None  # "NA" only stands in for an absent BT-13 next to a BT-14
    doc["purchase_order_reference"] = order_id
    doc["preceding_invoices"] = [
        _compact({"number": _t(ref, "cbc:ID"), "issue_date": _t(ref, "cbc:IssueDate")})
        for ref in _all(root, "cac:BillingReference/cac:InvoiceDocumentReference")
    ]
    doc["project_reference"] = _t(root, "cac:ProjectReference/cbc:ID")
    attachments = []
    for ref in _all(root, "cac:AdditionalDocumentReference"):
        code = _t(ref, "cbc:DocumentTypeCode")
        if code == INVOICED_OBJECT_TYPE_CODE:
            doc["invoiced_object_identifier"] = _ident(ref, "cbc:ID")
        elif code == PROJECT_TYPE_CODE and credit:
            doc["project_reference"] = _t(ref, "cbc:ID")
        else:
            attachments.append(_read_attachment(ref, code))
    doc["attachments"] = attachments
    _read_amounts(root, doc)
    return _compact(doc)


def _read_amounts(root: etree._Element, doc: Data) -> None:
    currency = doc.get("currency")
    breakdown: list[Data] = []
    for total in _all(root, "cac:TaxTotal"):
        subtotals = _all(total, "cac:TaxSubtotal")
        tax_currency = _attr(total, "cbc:TaxAmount", "currencyID")
        if subtotals or (tax_currency == currency and "vat_total" not in doc):
            doc["vat_total"] = _t(total, "cbc:TaxAmount")
            breakdown.extend(_read_subtotal(sub) for sub in subtotals)
        else:
            doc["vat_total_accounting_currency"] = _t(total, "cbc:TaxAmount")
    doc["vat_breakdown"] = breakdown
    lmt = root.find(_clark("cac:LegalMonetaryTotal"))
    doc["totals"] = _compact(
        {
            "line_extension_amount": _t(lmt, "cbc:LineExtensionAmount"),
            "allowance_total": _t(lmt, "cbc:AllowanceTotalAmount"),
            "charge_total": _t(lmt, "cbc:ChargeTotalAmount"),
            "tax_exclusive_amount": _t(lmt, "cbc:TaxExclusiveAmount"),
            "vat_total": doc.pop("vat_total", None),
            "tax_inclusive_amount": _t(lmt, "cbc:TaxInclusiveAmount"),
            "payable_amount": _t(lmt, "cbc:PayableAmount"),
        }
    )
    doc["prepaid_amount"] = _t(lmt, "cbc:PrepaidAmount")
    doc["rounding_amount"] = _t(lmt, "cbc:PayableRoundingAmount")


def _read_subtotal(sub: etree._Element) -> Data:
    return _compact(
        {
            "taxable_amount": _t(sub, "cbc:TaxableAmount"),
            "tax_amount": _t(sub, "cbc:TaxAmount"),
            "category": _t(sub, "cac:TaxCategory/cbc:ID"),
            "rate": _t(sub, "cac:TaxCategory/cbc:Percent"),
            "exemption_reason_code": _t(sub, "cac:TaxCategory/cbc:TaxExemptionReasonCode"),
            "exemption_reason": _t(sub, "cac:TaxCategory/cbc:TaxExemptionReason"),
        }
    )


def _read_address(el: etree._Element | None) -> Data | None:
    if el is None:
        return None
    return _compact(
        {
            "street": _t(el, "cbc:StreetName"),
            "additional_street": _t(el, "cbc:AdditionalStreetName"),
            "address_line": _t(el, "cac:AddressLine/cbc:Line"),
            "city": _t(el, "cbc:CityName"),
            "postal_code": _t(el, "cbc:PostalZone"),
            "subdivision": _t(el, "cbc:CountrySubentity"),
            "country": _t(el, "cac:Country/cbc:IdentificationCode"),
        }
    )


def _read_contact(el: etree._Element | None) -> Data | None:
    if el is None:
        return None
    contact = _compact(
        {
            "name": _t(el, "cbc:Name"),
            "telephone": _t(el, "cbc:Telephone"),
            "email": _t(el, "cbc:ElectronicMail"),
        }
    )
    return contact or None


def _read_party(el: etree._Element | None) -> Data | None:
    if el is None:
        return None
    party: Data = {
        "endpoint": _ident(el, "cbc:EndpointID"),
        "identifiers": [
            _compact({"value": _t(i, "."), "scheme": i.get("schemeID")})
            for i in _all(el, "cac:PartyIdentification/cbc:ID")
        ],
        "trading_name": _t(el, "cac:PartyName/cbc:Name"),
        "address": _read_address(el.find(_clark("cac:PostalAddress"))),
        "legal_name": _t(el, "cac:PartyLegalEntity/cbc:RegistrationName"),
        "legal_registration_id": _ident(el, "cac:PartyLegalEntity/cbc:CompanyID"),
        "additional_legal_info": _t(el, "cac:PartyLegalEntity/cbc:CompanyLegalForm"),
        "contact": _read_contact(el.find(_clark("cac:Contact"))),
    }
    for scheme in _all(el, "cac:PartyTaxScheme"):
        scheme_id = _t(scheme, "cac:TaxScheme/cbc:ID")
        if scheme_id == VAT_SCHEME:
            party["vat_identifier"] = _t(scheme, "cbc:CompanyID")
        else:
            party["tax_registration"] = _compact({"value": _t(scheme, "cbc:CompanyID"), "scheme": scheme_id})
    return _compact(party)


def _read_payee(el: etree._Element | None) -> Data | None:
    if el is None:
        return None
    return _compact(
        {
            "name": _t(el, "cac:PartyName/cbc:Name"),
            "identifier": _ident(el, "cac:PartyIdentification/cbc:ID"),
            "legal_registration_id": _ident(el, "cac:PartyLegalEntity/cbc:CompanyID"),
        }
    )


def _read_tax_representative(el: etree._Element | None) -> Data | None:
    if el is None:
        return None
    return _compact(
        {
            "name": _t(el, "cac:PartyName/cbc:Name"),
            "vat_identifier": _t(el, "cac:PartyTaxScheme/cbc:CompanyID"),
            "address": _read_address(el.find(_clark("cac:PostalAddress"))),
        }
    )


def _read_delivery(el: etree._Element | None) -> Data | None:
    if el is None:
        return None
    return _compact(
        {
            "date": _t(el, "cbc:ActualDeliveryDate"),
            "location_id": _ident(el, "cac:DeliveryLocation/cbc:ID"),
            "address": _read_address(el.find(_clark("cac:DeliveryLocation/cac:Address"))),
            "party_name": _t(el, "cac:DeliveryParty/cac:PartyName/cbc:Name"),
        }
    )


def _read_period(el: etree._Element | None, *, document: bool) -> Data | None:
    if el is None:
        return None
    period = {"start_date": _t(el, "cbc:StartDate"), "end_date": _t(el, "cbc:EndDate")}
    if document:
        period["description_code"] = _t(el, "cbc:DescriptionCode")
    return _compact(period) or None


def _read_payment_means(el: etree._Element) -> Data:
    card = el.find(_clark("cac:CardAccount"))
    account = el.find(_clark("cac:PayeeFinancialAccount"))
    mandate = el.find(_clark("cac:PaymentMandate"))
    return _compact(
        {
            "code": _t(el, "cbc:PaymentMeansCode"),
            "name": _attr(el, "cbc:PaymentMeansCode", "name"),
            "payment_id": _t(el, "cbc:PaymentID"),
            "card": None
            if card is None
            else _compact(
                {
                    "primary_account_number": _t(card, "cbc:PrimaryAccountNumberID"),
                    "network_id": _t(card, "cbc:NetworkID"),
                    "holder_name": _t(card, "cbc:HolderName"),
                }
            ),
            "credit_transfer": None
            if account is None
            else _compact(
                {
                    "account_id": _t(account, "cbc:ID"),
                    "account_name": _t(account, "cbc:Name"),
                    "provider_id": _t(account, "cac:FinancialInstitutionBranch/cbc:ID"),
                }
            ),
            "direct_debit": None
            if mandate is None
            else _compact(
                {
                    "mandate_reference": _t(mandate, "cbc:ID"),
                    "debited_account": _t(mandate, "cac:PayerFinancialAccount/cbc:ID"),
                }
            ),
        }
    )


def _read_allowance_charge(el: etree._Element) -> Data:
    indicator = _t(el, "cbc:ChargeIndicator")
    if indicator not in ("true", "false"):
        raise MappingError(f"ChargeIndicator {indicator!r} is not 'true' or 'false' (PEPPOL-EN16931-R043)")
    category = _t(el, "cac:TaxCategory/cbc:ID")
    return _compact(
        {
            "charge": indicator == "true",
            "reason_code": _t(el, "cbc:AllowanceChargeReasonCode"),
            "reason": _t(el, "cbc:AllowanceChargeReason"),
            "percentage": _t(el, "cbc:MultiplierFactorNumeric"),
            "amount": _t(el, "cbc:Amount"),
            "base_amount": _t(el, "cbc:BaseAmount"),
            "vat": None
            if category is None
            else _compact({"category": category, "rate": _t(el, "cac:TaxCategory/cbc:Percent")}),
        }
    )


def _read_attachment(ref: etree._Element, code: str | None) -> Data:
    return _compact(
        {
            "id": _t(ref, "cbc:ID"),
            "type_code": code,
            "description": _t(ref, "cbc:DocumentDescription"),
            "uri": _t(ref, "cac:Attachment/cac:ExternalReference/cbc:URI"),
            "content": _t(ref, "cac:Attachment/cbc:EmbeddedDocumentBinaryObject"),
            "mime_code": _attr(ref, "cac:Attachment/cbc:EmbeddedDocumentBinaryObject", "mimeCode"),
            "filename": _attr(ref, "cac:Attachment/cbc:EmbeddedDocumentBinaryObject", "filename"),
        }
    )


def _read_line(el: etree._Element, credit: bool) -> Data:
    quantity_path = "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity"
    item = el.find(_clark("cac:Item"))
    price = el.find(_clark("cac:Price"))
    discount = price.find(_clark("cac:AllowanceCharge")) if price is not None else None
    object_id = None
    for ref in _all(el, "cac:DocumentReference"):
        object_id = _ident(ref, "cbc:ID")
    return _compact(
        {
            "id": _t(el, "cbc:ID"),
            "note": _t(el, "cbc:Note"),
            "object_identifier": object_id,
            "quantity": _t(el, quantity_path),
            "unit_code": _attr(el, quantity_path, "unitCode"),
            "net_amount": _t(el, "cbc:LineExtensionAmount"),
            "order_line_reference": _t(el, "cac:OrderLineReference/cbc:LineID"),
            "accounting_cost": _t(el, "cbc:AccountingCost"),
            "period": _read_period(el.find(_clark("cac:InvoicePeriod")), document=False),
            "allowances_charges": [_read_allowance_charge(ac) for ac in _all(el, "cac:AllowanceCharge")],
            "price": _compact(
                {
                    "net_amount": _t(price, "cbc:PriceAmount"),
                    "base_quantity": _t(price, "cbc:BaseQuantity"),
                    "base_quantity_unit": _attr(price, "cbc:BaseQuantity", "unitCode"),
                    "discount": _t(discount, "cbc:Amount"),
                    "gross_amount": _t(discount, "cbc:BaseAmount"),
                }
            ),
            "vat": _compact(
                {
                    "category": _t(item, "cac:ClassifiedTaxCategory/cbc:ID"),
                    "rate": _t(item, "cac:ClassifiedTaxCategory/cbc:Percent"),
                }
            ),
            "item": None if item is None else _read_item(item),
        }
    )


def _read_item(item: etree._Element) -> Data:
    return _compact(
        {
            "name": _t(item, "cbc:Name"),
            "description": _t(item, "cbc:Description"),
            "sellers_id": _t(item, "cac:SellersItemIdentification/cbc:ID"),
            "buyers_id": _t(item, "cac:BuyersItemIdentification/cbc:ID"),
            "standard_id": _ident(item, "cac:StandardItemIdentification/cbc:ID"),
            "classifications": [
                _compact(
                    {"code": _t(c, "."), "list_id": c.get("listID"), "list_version": c.get("listVersionID")}
                )
                for c in _all(item, "cac:CommodityClassification/cbc:ItemClassificationCode")
            ],
            "origin_country": _t(item, "cac:OriginCountry/cbc:IdentificationCode"),
            "attributes": [
                _compact({"name": _t(p, "cbc:Name"), "value": _t(p, "cbc:Value")})
                for p in _all(item, "cac:AdditionalItemProperty")
            ],
        }
    )
