"""The receiver's UBL reader as it was before the child index (main at 125f212, 2026-12-07): the oracle of
``test_ubl_reader_differential``. Frozen on purpose, never to be fixed or tidied: the new reader
(``gateway.ubl.reader``, ``gateway.ubl.tree_lookup.ChildIndex``) must give what this gives, the same model or
the same refusal, for every document the differential test reads. A deliberate change of what the reader
reads changes both, in the same commit."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

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
    UBL_NS,
    VAT_SCHEME,
)

Data = dict[str, Any]


@cache
def child_steps(path: str) -> tuple[str, ...]:
    """``cac:A/cbc:B`` as Clark names (``{ns}A``, ``{ns}B``); ``.`` is no step (the element itself)."""
    steps = []
    for step in path.split("/"):
        if step == ".":
            continue
        prefix, colon, local = step.partition(":")
        steps.append(f"{{{UBL_NS[prefix]}}}{local}" if colon else step)
    return tuple(steps)


def descend(el: etree._Element, steps: tuple[str, ...]) -> Iterator[etree._Element]:
    """The elements at the child steps ``steps`` below ``el``, in document order (as ``findall``)."""
    if not steps:
        yield el
        return
    for child in el.iterchildren(steps[0]):
        yield from descend(child, steps[1:])


def find_child(el: etree._Element, path: str) -> etree._Element | None:
    """``el.find(path)`` for a path of child steps: lxml's ``find`` goes through ElementPath in Python, a
    3-4 times dearer call, and the reader makes ~200 finds per document (issue 12: ≈ 0.4 ms on the
    receiving side)."""
    steps = child_steps(path)
    if len(steps) == 1:
        return next(el.iterchildren(steps[0]), None)
    if not steps:
        return el
    return _first_at(el, steps, 0)


def _first_at(el: etree._Element, steps: tuple[str, ...], at: int) -> etree._Element | None:
    """The first element, in document order, at ``steps[at:]`` below ``el``: :func:`descend`'s first,
    without a generator per level (the reader's ~230 finds per document, a third of them of two steps or
    more; BENCHMARKS.md, *Receiver instructions per document*)."""
    last = at == len(steps) - 1
    for child in el.iterchildren(steps[at]):
        if last:
            return child
        found = _first_at(child, steps, at + 1)
        if found is not None:
            return found
    return None


def text_at(el: etree._Element | None, path: str) -> str | None:
    """Stripped text at ``path`` below ``el``; None when absent or blank."""
    if el is None:
        return None
    found = find_child(el, path)
    text = found.text if found is not None else None
    return (text.strip() or None) if text is not None else None


def attr_at(el: etree._Element | None, path: str, name: str) -> str | None:
    """Stripped attribute ``name`` of the element at ``path``; None when absent or blank."""
    if el is None:
        return None
    found = find_child(el, path)
    value = found.get(name) if found is not None else None
    return value.strip() if value and value.strip() else None


def all_at(el: etree._Element | None, path: str) -> list[etree._Element]:
    """Every element at ``path`` below ``el``, in document order."""
    return [] if el is None else list(descend(el, child_steps(path)))


def ident_at(el: etree._Element | None, path: str) -> Data | None:
    """An identifier and its ``schemeID`` at ``path``, as model data; None when absent."""
    value = text_at(el, path)
    return None if value is None else {"value": value, "scheme": attr_at(el, path, "schemeID")}


def compact(data: Data) -> Data:
    """Drop None values and empty containers so model defaults apply."""
    return {k: v for k, v in data.items() if v is not None and v != [] and v != {}}


def read_ubl_tree_before(root: etree._Element, *, lines: list[Data] | None = None) -> Invoice | CreditNote:
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
    customization = text_at(root, "cbc:CustomizationID")
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
        "customization_id": text_at(root, "cbc:CustomizationID"),
        "profile_id": text_at(root, "cbc:ProfileID"),
        "number": text_at(root, "cbc:ID"),
        "issue_date": text_at(root, "cbc:IssueDate"),
        "type_code": text_at(root, "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode"),
        "currency": text_at(root, "cbc:DocumentCurrencyCode"),
        "vat_accounting_currency": text_at(root, "cbc:TaxCurrencyCode"),
        "tax_point_date": text_at(root, "cbc:TaxPointDate"),
        "due_date": text_at(root, "cac:PaymentMeans/cbc:PaymentDueDate" if credit else "cbc:DueDate"),
        "buyer_reference": text_at(root, "cbc:BuyerReference"),
        "contract_reference": text_at(root, "cac:ContractDocumentReference/cbc:ID"),
        "sales_order_reference": text_at(root, "cac:OrderReference/cbc:SalesOrderID"),
        "receiving_advice_reference": text_at(root, "cac:ReceiptDocumentReference/cbc:ID"),
        "despatch_advice_reference": text_at(root, "cac:DespatchDocumentReference/cbc:ID"),
        "tender_or_lot_reference": text_at(root, "cac:OriginatorDocumentReference/cbc:ID"),
        "accounting_cost": text_at(root, "cbc:AccountingCost"),
        "payment_terms": text_at(root, "cac:PaymentTerms/cbc:Note"),
        "notes": [n.text.strip() for n in all_at(root, "cbc:Note") if n.text and n.text.strip()],
        "seller": _read_party(find_child(root, "cac:AccountingSupplierParty/cac:Party")),
        "buyer": _read_party(find_child(root, "cac:AccountingCustomerParty/cac:Party")),
        "payee": _read_payee(find_child(root, "cac:PayeeParty")),
        "tax_representative": _read_tax_representative(find_child(root, "cac:TaxRepresentativeParty")),
        "delivery": _read_delivery(find_child(root, "cac:Delivery")),
        "invoice_period": _read_period(find_child(root, "cac:InvoicePeriod"), document=True),
        "payment_means": [_read_payment_means(pm) for pm in all_at(root, "cac:PaymentMeans")],
        "allowances_charges": [_read_allowance_charge(ac) for ac in all_at(root, "cac:AllowanceCharge")],
        "lines": lines
        if lines is not None
        else [
            read_line(line, credit)
            for line in all_at(root, "cac:CreditNoteLine" if credit else "cac:InvoiceLine")
        ],
    }
    order_id = text_at(root, "cac:OrderReference/cbc:ID")
    if order_id == NO_ORDER_ID and doc["sales_order_reference"] is not None:
        order_id = None  # "NA" only stands in for an absent BT-13 next to a BT-14
    doc["purchase_order_reference"] = order_id
    doc["preceding_invoices"] = [
        compact({"number": text_at(ref, "cbc:ID"), "issue_date": text_at(ref, "cbc:IssueDate")})
        for ref in all_at(root, "cac:BillingReference/cac:InvoiceDocumentReference")
    ]
    doc["project_reference"] = text_at(root, "cac:ProjectReference/cbc:ID")
    attachments = []
    for ref in all_at(root, "cac:AdditionalDocumentReference"):
        code = text_at(ref, "cbc:DocumentTypeCode")
        if code == INVOICED_OBJECT_TYPE_CODE:
            doc["invoiced_object_identifier"] = ident_at(ref, "cbc:ID")
        elif code == PROJECT_TYPE_CODE and credit:
            doc["project_reference"] = text_at(ref, "cbc:ID")
        else:
            attachments.append(_read_attachment(ref, code))
    doc["attachments"] = attachments
    _read_amounts(root, doc)
    return compact(doc)


def _read_amounts(root: etree._Element, doc: Data) -> None:
    currency = doc.get("currency")
    breakdown: list[Data] = []
    for total in all_at(root, "cac:TaxTotal"):
        subtotals = all_at(total, "cac:TaxSubtotal")
        tax_currency = attr_at(total, "cbc:TaxAmount", "currencyID")
        if subtotals or (tax_currency == currency and "vat_total" not in doc):
            doc["vat_total"] = text_at(total, "cbc:TaxAmount")
            breakdown.extend(_read_subtotal(sub) for sub in subtotals)
        else:
            doc["vat_total_accounting_currency"] = text_at(total, "cbc:TaxAmount")
    doc["vat_breakdown"] = breakdown
    lmt = find_child(root, "cac:LegalMonetaryTotal")
    doc["totals"] = compact(
        {
            "line_extension_amount": text_at(lmt, "cbc:LineExtensionAmount"),
            "allowance_total": text_at(lmt, "cbc:AllowanceTotalAmount"),
            "charge_total": text_at(lmt, "cbc:ChargeTotalAmount"),
            "tax_exclusive_amount": text_at(lmt, "cbc:TaxExclusiveAmount"),
            "vat_total": doc.pop("vat_total", None),
            "tax_inclusive_amount": text_at(lmt, "cbc:TaxInclusiveAmount"),
            "payable_amount": text_at(lmt, "cbc:PayableAmount"),
        }
    )
    doc["prepaid_amount"] = text_at(lmt, "cbc:PrepaidAmount")
    doc["rounding_amount"] = text_at(lmt, "cbc:PayableRoundingAmount")


def _read_subtotal(sub: etree._Element) -> Data:
    return compact(
        {
            "taxable_amount": text_at(sub, "cbc:TaxableAmount"),
            "tax_amount": text_at(sub, "cbc:TaxAmount"),
            "category": text_at(sub, "cac:TaxCategory/cbc:ID"),
            "rate": text_at(sub, "cac:TaxCategory/cbc:Percent"),
            "exemption_reason_code": text_at(sub, "cac:TaxCategory/cbc:TaxExemptionReasonCode"),
            "exemption_reason": text_at(sub, "cac:TaxCategory/cbc:TaxExemptionReason"),
        }
    )


def _read_address(el: etree._Element | None) -> Data | None:
    if el is None:
        return None
    return compact(
        {
            "street": text_at(el, "cbc:StreetName"),
            "additional_street": text_at(el, "cbc:AdditionalStreetName"),
            "address_line": text_at(el, "cac:AddressLine/cbc:Line"),
            "city": text_at(el, "cbc:CityName"),
            "postal_code": text_at(el, "cbc:PostalZone"),
            "subdivision": text_at(el, "cbc:CountrySubentity"),
            "country": text_at(el, "cac:Country/cbc:IdentificationCode"),
        }
    )


def _read_contact(el: etree._Element | None) -> Data | None:
    if el is None:
        return None
    contact = compact(
        {
            "name": text_at(el, "cbc:Name"),
            "telephone": text_at(el, "cbc:Telephone"),
            "email": text_at(el, "cbc:ElectronicMail"),
        }
    )
    return contact or None


def _read_party(el: etree._Element | None) -> Data | None:
    if el is None:
        return None
    party: Data = {
        "endpoint": ident_at(el, "cbc:EndpointID"),
        "identifiers": [
            compact({"value": text_at(i, "."), "scheme": i.get("schemeID")})
            for i in all_at(el, "cac:PartyIdentification/cbc:ID")
        ],
        "trading_name": text_at(el, "cac:PartyName/cbc:Name"),
        "address": _read_address(find_child(el, "cac:PostalAddress")),
        "legal_name": text_at(el, "cac:PartyLegalEntity/cbc:RegistrationName"),
        "legal_registration_id": ident_at(el, "cac:PartyLegalEntity/cbc:CompanyID"),
        "additional_legal_info": text_at(el, "cac:PartyLegalEntity/cbc:CompanyLegalForm"),
        "contact": _read_contact(find_child(el, "cac:Contact")),
    }
    for scheme in all_at(el, "cac:PartyTaxScheme"):
        scheme_id = text_at(scheme, "cac:TaxScheme/cbc:ID")
        if scheme_id == VAT_SCHEME:
            party["vat_identifier"] = text_at(scheme, "cbc:CompanyID")
        else:
            party["tax_registration"] = compact(
                {"value": text_at(scheme, "cbc:CompanyID"), "scheme": scheme_id}
            )
    return compact(party)


def _read_payee(el: etree._Element | None) -> Data | None:
    if el is None:
        return None
    return compact(
        {
            "name": text_at(el, "cac:PartyName/cbc:Name"),
            "identifier": ident_at(el, "cac:PartyIdentification/cbc:ID"),
            "legal_registration_id": ident_at(el, "cac:PartyLegalEntity/cbc:CompanyID"),
        }
    )


def _read_tax_representative(el: etree._Element | None) -> Data | None:
    if el is None:
        return None
    return compact(
        {
            "name": text_at(el, "cac:PartyName/cbc:Name"),
            "vat_identifier": text_at(el, "cac:PartyTaxScheme/cbc:CompanyID"),
            "address": _read_address(find_child(el, "cac:PostalAddress")),
        }
    )


def _read_delivery(el: etree._Element | None) -> Data | None:
    if el is None:
        return None
    return compact(
        {
            "date": text_at(el, "cbc:ActualDeliveryDate"),
            "location_id": ident_at(el, "cac:DeliveryLocation/cbc:ID"),
            "address": _read_address(find_child(el, "cac:DeliveryLocation/cac:Address")),
            "party_name": text_at(el, "cac:DeliveryParty/cac:PartyName/cbc:Name"),
        }
    )


def _read_period(el: etree._Element | None, *, document: bool) -> Data | None:
    if el is None:
        return None
    period = {"start_date": text_at(el, "cbc:StartDate"), "end_date": text_at(el, "cbc:EndDate")}
    if document:
        period["description_code"] = text_at(el, "cbc:DescriptionCode")
    return compact(period) or None


def _read_payment_means(el: etree._Element) -> Data:
    card = find_child(el, "cac:CardAccount")
    account = find_child(el, "cac:PayeeFinancialAccount")
    mandate = find_child(el, "cac:PaymentMandate")
    return compact(
        {
            "code": text_at(el, "cbc:PaymentMeansCode"),
            "name": attr_at(el, "cbc:PaymentMeansCode", "name"),
            "payment_id": text_at(el, "cbc:PaymentID"),
            "card": None
            if card is None
            else compact(
                {
                    "primary_account_number": text_at(card, "cbc:PrimaryAccountNumberID"),
                    "network_id": text_at(card, "cbc:NetworkID"),
                    "holder_name": text_at(card, "cbc:HolderName"),
                }
            ),
            "credit_transfer": None
            if account is None
            else compact(
                {
                    "account_id": text_at(account, "cbc:ID"),
                    "account_name": text_at(account, "cbc:Name"),
                    "provider_id": text_at(account, "cac:FinancialInstitutionBranch/cbc:ID"),
                }
            ),
            "direct_debit": None
            if mandate is None
            else compact(
                {
                    "mandate_reference": text_at(mandate, "cbc:ID"),
                    "debited_account": text_at(mandate, "cac:PayerFinancialAccount/cbc:ID"),
                }
            ),
        }
    )


def _read_allowance_charge(el: etree._Element) -> Data:
    indicator = text_at(el, "cbc:ChargeIndicator")
    if indicator not in ("true", "false"):
        raise MappingError(f"ChargeIndicator {indicator!r} is not 'true' or 'false' (PEPPOL-EN16931-R043)")
    category = text_at(el, "cac:TaxCategory/cbc:ID")
    return compact(
        {
            "charge": indicator == "true",
            "reason_code": text_at(el, "cbc:AllowanceChargeReasonCode"),
            "reason": text_at(el, "cbc:AllowanceChargeReason"),
            "percentage": text_at(el, "cbc:MultiplierFactorNumeric"),
            "amount": text_at(el, "cbc:Amount"),
            "base_amount": text_at(el, "cbc:BaseAmount"),
            "vat": None
            if category is None
            else compact({"category": category, "rate": text_at(el, "cac:TaxCategory/cbc:Percent")}),
        }
    )


def _read_attachment(ref: etree._Element, code: str | None) -> Data:
    return compact(
        {
            "id": text_at(ref, "cbc:ID"),
            "type_code": code,
            "description": text_at(ref, "cbc:DocumentDescription"),
            "uri": text_at(ref, "cac:Attachment/cac:ExternalReference/cbc:URI"),
            "content": text_at(ref, "cac:Attachment/cbc:EmbeddedDocumentBinaryObject"),
            "mime_code": attr_at(ref, "cac:Attachment/cbc:EmbeddedDocumentBinaryObject", "mimeCode"),
            "filename": attr_at(ref, "cac:Attachment/cbc:EmbeddedDocumentBinaryObject", "filename"),
        }
    )


def read_line(el: etree._Element, credit: bool) -> Data:
    """An invoice or credit note line (BG-25) as model data."""
    quantity_path = "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity"
    item = find_child(el, "cac:Item")
    price = find_child(el, "cac:Price")
    discount = find_child(price, "cac:AllowanceCharge") if price is not None else None
    object_id = None
    for ref in all_at(el, "cac:DocumentReference"):
        object_id = ident_at(ref, "cbc:ID")
    return compact(
        {
            "id": text_at(el, "cbc:ID"),
            "note": text_at(el, "cbc:Note"),
            "object_identifier": object_id,
            "quantity": text_at(el, quantity_path),
            "unit_code": attr_at(el, quantity_path, "unitCode"),
            "net_amount": text_at(el, "cbc:LineExtensionAmount"),
            "order_line_reference": text_at(el, "cac:OrderLineReference/cbc:LineID"),
            "accounting_cost": text_at(el, "cbc:AccountingCost"),
            "period": _read_period(find_child(el, "cac:InvoicePeriod"), document=False),
            "allowances_charges": [_read_allowance_charge(ac) for ac in all_at(el, "cac:AllowanceCharge")],
            "price": compact(
                {
                    "net_amount": text_at(price, "cbc:PriceAmount"),
                    "base_quantity": text_at(price, "cbc:BaseQuantity"),
                    "base_quantity_unit": attr_at(price, "cbc:BaseQuantity", "unitCode"),
                    "discount": text_at(discount, "cbc:Amount"),
                    "gross_amount": text_at(discount, "cbc:BaseAmount"),
                }
            ),
            "vat": compact(
                {
                    "category": text_at(item, "cac:ClassifiedTaxCategory/cbc:ID"),
                    "rate": text_at(item, "cac:ClassifiedTaxCategory/cbc:Percent"),
                }
            ),
            "item": None if item is None else _read_item(item),
        }
    )


def _read_item(item: etree._Element) -> Data:
    return compact(
        {
            "name": text_at(item, "cbc:Name"),
            "description": text_at(item, "cbc:Description"),
            "sellers_id": text_at(item, "cac:SellersItemIdentification/cbc:ID"),
            "buyers_id": text_at(item, "cac:BuyersItemIdentification/cbc:ID"),
            "standard_id": ident_at(item, "cac:StandardItemIdentification/cbc:ID"),
            "classifications": [
                compact(
                    {
                        "code": text_at(c, "."),
                        "list_id": c.get("listID"),
                        "list_version": c.get("listVersionID"),
                    }
                )
                for c in all_at(item, "cac:CommodityClassification/cbc:ItemClassificationCode")
            ],
            "origin_country": text_at(item, "cac:OriginCountry/cbc:IdentificationCode"),
            "attributes": [
                compact({"name": text_at(p, "cbc:Name"), "value": text_at(p, "cbc:Value")})
                for p in all_at(item, "cac:AdditionalItemProperty")
            ],
        }
    )
