"""Peppol BIS Billing 3.0 UBL Invoice / CreditNote -> model, for documents from any supplier.

Stated amounts (line net amounts, allowance amounts, the VAT breakdown, totals) are kept as evidence,
never recomputed, so that ``write_ubl(read_ubl(x))`` states the same figures as ``x``.
"""

from __future__ import annotations

from lxml import etree
from pydantic import ValidationError

from gateway.errors import MappingError
from gateway.model import CreditNote, Invoice
from gateway.ubl.codes import (
    CREDIT_NOTE_NS,
    EN16931_CUSTOMIZATION_PREFIX,
    INVOICE_NS,
    INVOICED_OBJECT_TYPE_CODE,
    NO_ORDER_ID,
    PROJECT_TYPE_CODE,
    VAT_SCHEME,
)
from gateway.ubl.tree_lookup import ChildIndex, Data, compact
from gateway.xmlcore import parse_xml


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


def read_ubl_tree(root: etree._Element, *, lines: list[Data] | None = None) -> Invoice | CreditNote:
    """Like :func:`read_ubl`, from a document already parsed by ``gateway.xmlcore.parse_xml`` (the receive
    path reads the tree its validation parsed: the bytes are parsed once).

    Raises:
        MappingError: not a UBL Invoice/CreditNote of EN 16931, or a value the model refuses.

    ``lines``: the lines already read (``read_line``), in document order, when the tree holds none
    (``gateway.ubl.streamed_read``).
    """
    qname = etree.QName(root)
    if (qname.namespace, qname.localname) == (INVOICE_NS, "Invoice"):
        credit = False
    elif (qname.namespace, qname.localname) == (CREDIT_NOTE_NS, "CreditNote"):
        credit = True
    else:
        raise MappingError(f"root element {qname.text} is not a UBL 2.1 Invoice or CreditNote")
    ix = ChildIndex()  # each element's children read once, for this read only
    customization = ix.text(root, "cbc:CustomizationID")
    if customization is None or not customization.startswith(EN16931_CUSTOMIZATION_PREFIX):
        raise MappingError(
            f"CustomizationID BT-24 {customization!r} is not an EN 16931 / BIS Billing 3.0 one"
        )
    doc = _read_header(ix, root, credit, lines)
    del ix  # its proxies go before the model is built (not both at the peak)
    try:
        return CreditNote.model_validate(doc) if credit else Invoice.model_validate(doc)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise MappingError(f"UBL document cannot be represented: {details}") from exc


def _read_header(ix: ChildIndex, root: etree._Element, credit: bool, lines: list[Data] | None = None) -> Data:
    doc: Data = {
        "customization_id": ix.text(root, "cbc:CustomizationID"),
        "profile_id": ix.text(root, "cbc:ProfileID"),
        "number": ix.text(root, "cbc:ID"),
        "issue_date": ix.text(root, "cbc:IssueDate"),
        "type_code": ix.text(root, "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode"),
        "currency": ix.text(root, "cbc:DocumentCurrencyCode"),
        "vat_accounting_currency": ix.text(root, "cbc:TaxCurrencyCode"),
        "tax_point_date": ix.text(root, "cbc:TaxPointDate"),
        "due_date": ix.text(root, "cac:PaymentMeans/cbc:PaymentDueDate" if credit else "cbc:DueDate"),
        "buyer_reference": ix.text(root, "cbc:BuyerReference"),
        "contract_reference": ix.text(root, "cac:ContractDocumentReference/cbc:ID"),
        "sales_order_reference": ix.text(root, "cac:OrderReference/cbc:SalesOrderID"),
        "receiving_advice_reference": ix.text(root, "cac:ReceiptDocumentReference/cbc:ID"),
        "despatch_advice_reference": ix.text(root, "cac:DespatchDocumentReference/cbc:ID"),
        "tender_or_lot_reference": ix.text(root, "cac:OriginatorDocumentReference/cbc:ID"),
        "accounting_cost": ix.text(root, "cbc:AccountingCost"),
        "payment_terms": ix.text(root, "cac:PaymentTerms/cbc:Note"),
        "notes": [n.text.strip() for n in ix.all(root, "cbc:Note") if n.text and n.text.strip()],
        "seller": _read_party(ix, ix.find(root, "cac:AccountingSupplierParty/cac:Party")),
        "buyer": _read_party(ix, ix.find(root, "cac:AccountingCustomerParty/cac:Party")),
        "payee": _read_payee(ix, ix.find(root, "cac:PayeeParty")),
        "tax_representative": _read_tax_representative(ix, ix.find(root, "cac:TaxRepresentativeParty")),
        "delivery": _read_delivery(ix, ix.find(root, "cac:Delivery")),
        "invoice_period": _read_period(ix, ix.find(root, "cac:InvoicePeriod"), document=True),
        "payment_means": [_read_payment_means(ix, pm) for pm in ix.all(root, "cac:PaymentMeans")],
        "allowances_charges": [_read_allowance_charge(ix, ac) for ac in ix.all(root, "cac:AllowanceCharge")],
        "lines": lines
        if lines is not None
        else [
            read_line(line, credit)
            for line in ix.all(root, "cac:CreditNoteLine" if credit else "cac:InvoiceLine")
        ],
    }
    order_id = ix.text(root, "cac:OrderReference/cbc:ID")
    if order_id == NO_ORDER_ID and doc["sales_order_reference"] is not None:
        order_id = None  # "NA" only stands in for an absent BT-13 next to a BT-14
    doc["purchase_order_reference"] = order_id
    doc["preceding_invoices"] = [
        compact({"number": ix.text(ref, "cbc:ID"), "issue_date": ix.text(ref, "cbc:IssueDate")})
        for ref in ix.all(root, "cac:BillingReference/cac:InvoiceDocumentReference")
    ]
    doc["project_reference"] = ix.text(root, "cac:ProjectReference/cbc:ID")
    attachments = []
    for ref in ix.all(root, "cac:AdditionalDocumentReference"):
        code = ix.text(ref, "cbc:DocumentTypeCode")
        if code == INVOICED_OBJECT_TYPE_CODE:
            doc["invoiced_object_identifier"] = ix.ident(ref, "cbc:ID")
        elif code == PROJECT_TYPE_CODE and credit:
            doc["project_reference"] = ix.text(ref, "cbc:ID")
        else:
            attachments.append(_read_attachment(ix, ref, code))
    doc["attachments"] = attachments
    _read_amounts(ix, root, doc)
    return compact(doc)


def _read_amounts(ix: ChildIndex, root: etree._Element, doc: Data) -> None:
    currency = doc.get("currency")
    breakdown: list[Data] = []
    for total in ix.all(root, "cac:TaxTotal"):
        subtotals = ix.all(total, "cac:TaxSubtotal")
        tax_currency = ix.attr(total, "cbc:TaxAmount", "currencyID")
        if subtotals or (tax_currency == currency and "vat_total" not in doc):
            doc["vat_total"] = ix.text(total, "cbc:TaxAmount")
            breakdown.extend(_read_subtotal(ix, sub) for sub in subtotals)
        else:
            doc["vat_total_accounting_currency"] = ix.text(total, "cbc:TaxAmount")
    doc["vat_breakdown"] = breakdown
    lmt = ix.find(root, "cac:LegalMonetaryTotal")
    doc["totals"] = compact(
        {
            "line_extension_amount": ix.text(lmt, "cbc:LineExtensionAmount"),
            "allowance_total": ix.text(lmt, "cbc:AllowanceTotalAmount"),
            "charge_total": ix.text(lmt, "cbc:ChargeTotalAmount"),
            "tax_exclusive_amount": ix.text(lmt, "cbc:TaxExclusiveAmount"),
            "vat_total": doc.pop("vat_total", None),
            "tax_inclusive_amount": ix.text(lmt, "cbc:TaxInclusiveAmount"),
            "payable_amount": ix.text(lmt, "cbc:PayableAmount"),
        }
    )
    doc["prepaid_amount"] = ix.text(lmt, "cbc:PrepaidAmount")
    doc["rounding_amount"] = ix.text(lmt, "cbc:PayableRoundingAmount")


def _read_subtotal(ix: ChildIndex, sub: etree._Element) -> Data:
    return compact(
        {
            "taxable_amount": ix.text(sub, "cbc:TaxableAmount"),
            "tax_amount": ix.text(sub, "cbc:TaxAmount"),
            "category": ix.text(sub, "cac:TaxCategory/cbc:ID"),
            "rate": ix.text(sub, "cac:TaxCategory/cbc:Percent"),
            "exemption_reason_code": ix.text(sub, "cac:TaxCategory/cbc:TaxExemptionReasonCode"),
            "exemption_reason": ix.text(sub, "cac:TaxCategory/cbc:TaxExemptionReason"),
        }
    )


def _read_address(ix: ChildIndex, el: etree._Element | None) -> Data | None:
    if el is None:
        return None
    return compact(
        {
            "street": ix.text(el, "cbc:StreetName"),
            "additional_street": ix.text(el, "cbc:AdditionalStreetName"),
            "address_line": ix.text(el, "cac:AddressLine/cbc:Line"),
            "city": ix.text(el, "cbc:CityName"),
            "postal_code": ix.text(el, "cbc:PostalZone"),
            "subdivision": ix.text(el, "cbc:CountrySubentity"),
            "country": ix.text(el, "cac:Country/cbc:IdentificationCode"),
        }
    )


def _read_contact(ix: ChildIndex, el: etree._Element | None) -> Data | None:
    if el is None:
        return None
    contact = compact(
        {
            "name": ix.text(el, "cbc:Name"),
            "telephone": ix.text(el, "cbc:Telephone"),
            "email": ix.text(el, "cbc:ElectronicMail"),
        }
    )
    return contact or None


def _read_party(ix: ChildIndex, el: etree._Element | None) -> Data | None:
    if el is None:
        return None
    party: Data = {
        "endpoint": ix.ident(el, "cbc:EndpointID"),
        "identifiers": [
            compact({"value": ix.text(i, "."), "scheme": i.get("schemeID")})
            for i in ix.all(el, "cac:PartyIdentification/cbc:ID")
        ],
        "trading_name": ix.text(el, "cac:PartyName/cbc:Name"),
        "address": _read_address(ix, ix.find(el, "cac:PostalAddress")),
        "legal_name": ix.text(el, "cac:PartyLegalEntity/cbc:RegistrationName"),
        "legal_registration_id": ix.ident(el, "cac:PartyLegalEntity/cbc:CompanyID"),
        "additional_legal_info": ix.text(el, "cac:PartyLegalEntity/cbc:CompanyLegalForm"),
        "contact": _read_contact(ix, ix.find(el, "cac:Contact")),
    }
    for scheme in ix.all(el, "cac:PartyTaxScheme"):
        scheme_id = ix.text(scheme, "cac:TaxScheme/cbc:ID")
        if scheme_id == VAT_SCHEME:
            party["vat_identifier"] = ix.text(scheme, "cbc:CompanyID")
        else:
            party["tax_registration"] = compact(
                {"value": ix.text(scheme, "cbc:CompanyID"), "scheme": scheme_id}
            )
    return compact(party)


def _read_payee(ix: ChildIndex, el: etree._Element | None) -> Data | None:
    if el is None:
        return None
    return compact(
        {
            "name": ix.text(el, "cac:PartyName/cbc:Name"),
            "identifier": ix.ident(el, "cac:PartyIdentification/cbc:ID"),
            "legal_registration_id": ix.ident(el, "cac:PartyLegalEntity/cbc:CompanyID"),
        }
    )


def _read_tax_representative(ix: ChildIndex, el: etree._Element | None) -> Data | None:
    if el is None:
        return None
    return compact(
        {
            "name": ix.text(el, "cac:PartyName/cbc:Name"),
            "vat_identifier": ix.text(el, "cac:PartyTaxScheme/cbc:CompanyID"),
            "address": _read_address(ix, ix.find(el, "cac:PostalAddress")),
        }
    )


def _read_delivery(ix: ChildIndex, el: etree._Element | None) -> Data | None:
    if el is None:
        return None
    return compact(
        {
            "date": ix.text(el, "cbc:ActualDeliveryDate"),
            "location_id": ix.ident(el, "cac:DeliveryLocation/cbc:ID"),
            "address": _read_address(ix, ix.find(el, "cac:DeliveryLocation/cac:Address")),
            "party_name": ix.text(el, "cac:DeliveryParty/cac:PartyName/cbc:Name"),
        }
    )


def _read_period(ix: ChildIndex, el: etree._Element | None, *, document: bool) -> Data | None:
    if el is None:
        return None
    period = {"start_date": ix.text(el, "cbc:StartDate"), "end_date": ix.text(el, "cbc:EndDate")}
    if document:
        period["description_code"] = ix.text(el, "cbc:DescriptionCode")
    return compact(period) or None


def _read_payment_means(ix: ChildIndex, el: etree._Element) -> Data:
    card = ix.find(el, "cac:CardAccount")
    account = ix.find(el, "cac:PayeeFinancialAccount")
    mandate = ix.find(el, "cac:PaymentMandate")
    return compact(
        {
            "code": ix.text(el, "cbc:PaymentMeansCode"),
            "name": ix.attr(el, "cbc:PaymentMeansCode", "name"),
            "payment_id": ix.text(el, "cbc:PaymentID"),
            "card": None
            if card is None
            else compact(
                {
                    "primary_account_number": ix.text(card, "cbc:PrimaryAccountNumberID"),
                    "network_id": ix.text(card, "cbc:NetworkID"),
                    "holder_name": ix.text(card, "cbc:HolderName"),
                }
            ),
            "credit_transfer": None
            if account is None
            else compact(
                {
                    "account_id": ix.text(account, "cbc:ID"),
                    "account_name": ix.text(account, "cbc:Name"),
                    "provider_id": ix.text(account, "cac:FinancialInstitutionBranch/cbc:ID"),
                }
            ),
            "direct_debit": None
            if mandate is None
            else compact(
                {
                    "mandate_reference": ix.text(mandate, "cbc:ID"),
                    "debited_account": ix.text(mandate, "cac:PayerFinancialAccount/cbc:ID"),
                }
            ),
        }
    )


def _read_allowance_charge(ix: ChildIndex, el: etree._Element) -> Data:
    indicator = ix.text(el, "cbc:ChargeIndicator")
    if indicator not in ("true", "false"):
        raise MappingError(f"ChargeIndicator {indicator!r} is not 'true' or 'false' (PEPPOL-EN16931-R043)")
    category = ix.text(el, "cac:TaxCategory/cbc:ID")
    return compact(
        {
            "charge": indicator == "true",
            "reason_code": ix.text(el, "cbc:AllowanceChargeReasonCode"),
            "reason": ix.text(el, "cbc:AllowanceChargeReason"),
            "percentage": ix.text(el, "cbc:MultiplierFactorNumeric"),
            "amount": ix.text(el, "cbc:Amount"),
            "base_amount": ix.text(el, "cbc:BaseAmount"),
            "vat": None
            if category is None
            else compact({"category": category, "rate": ix.text(el, "cac:TaxCategory/cbc:Percent")}),
        }
    )


def _read_attachment(ix: ChildIndex, ref: etree._Element, code: str | None) -> Data:
    return compact(
        {
            "id": ix.text(ref, "cbc:ID"),
            "type_code": code,
            "description": ix.text(ref, "cbc:DocumentDescription"),
            "uri": ix.text(ref, "cac:Attachment/cac:ExternalReference/cbc:URI"),
            "content": ix.text(ref, "cac:Attachment/cbc:EmbeddedDocumentBinaryObject"),
            "mime_code": ix.attr(ref, "cac:Attachment/cbc:EmbeddedDocumentBinaryObject", "mimeCode"),
            "filename": ix.attr(ref, "cac:Attachment/cbc:EmbeddedDocumentBinaryObject", "filename"),
        }
    )


def read_line(el: etree._Element, credit: bool) -> Data:
    """An invoice or credit note line (BG-25) as model data. Its lookups have a ``ChildIndex`` of their own,
    dropped with the line's read: the proxies of one line at a time, not of every line until the document's
    model is built."""
    ix = ChildIndex()
    quantity_path = "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity"
    item = ix.find(el, "cac:Item")
    price = ix.find(el, "cac:Price")
    discount = ix.find(price, "cac:AllowanceCharge") if price is not None else None
    object_id = None
    for ref in ix.all(el, "cac:DocumentReference"):
        object_id = ix.ident(ref, "cbc:ID")
    return compact(
        {
            "id": ix.text(el, "cbc:ID"),
            "note": ix.text(el, "cbc:Note"),
            "object_identifier": object_id,
            "quantity": ix.text(el, quantity_path),
            "unit_code": ix.attr(el, quantity_path, "unitCode"),
            "net_amount": ix.text(el, "cbc:LineExtensionAmount"),
            "order_line_reference": ix.text(el, "cac:OrderLineReference/cbc:LineID"),
            "accounting_cost": ix.text(el, "cbc:AccountingCost"),
            "period": _read_period(ix, ix.find(el, "cac:InvoicePeriod"), document=False),
            "allowances_charges": [
                _read_allowance_charge(ix, ac) for ac in ix.all(el, "cac:AllowanceCharge")
            ],
            "price": compact(
                {
                    "net_amount": ix.text(price, "cbc:PriceAmount"),
                    "base_quantity": ix.text(price, "cbc:BaseQuantity"),
                    "base_quantity_unit": ix.attr(price, "cbc:BaseQuantity", "unitCode"),
                    "discount": ix.text(discount, "cbc:Amount"),
                    "gross_amount": ix.text(discount, "cbc:BaseAmount"),
                }
            ),
            "vat": compact(
                {
                    "category": ix.text(item, "cac:ClassifiedTaxCategory/cbc:ID"),
                    "rate": ix.text(item, "cac:ClassifiedTaxCategory/cbc:Percent"),
                }
            ),
            "item": None if item is None else _read_item(ix, item),
        }
    )


def _read_item(ix: ChildIndex, item: etree._Element) -> Data:
    return compact(
        {
            "name": ix.text(item, "cbc:Name"),
            "description": ix.text(item, "cbc:Description"),
            "sellers_id": ix.text(item, "cac:SellersItemIdentification/cbc:ID"),
            "buyers_id": ix.text(item, "cac:BuyersItemIdentification/cbc:ID"),
            "standard_id": ix.ident(item, "cac:StandardItemIdentification/cbc:ID"),
            "classifications": [
                compact(
                    {
                        "code": ix.text(c, "."),
                        "list_id": c.get("listID"),
                        "list_version": c.get("listVersionID"),
                    }
                )
                for c in ix.all(item, "cac:CommodityClassification/cbc:ItemClassificationCode")
            ],
            "origin_country": ix.text(item, "cac:OriginCountry/cbc:IdentificationCode"),
            "attributes": [
                compact({"name": ix.text(p, "cbc:Name"), "value": ix.text(p, "cbc:Value")})
                for p in ix.all(item, "cac:AdditionalItemProperty")
            ],
        }
    )
