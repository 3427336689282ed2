"""The UBL writer as main had it before the text writer (lxml elements, ``prune``, ``tostring``): the
oracle of ``test_ubl_writer_bytes.py``. A copy of ``gateway/ubl/builder.py``, ``writer.py`` and
``party_writer.py`` at 125f212 in one module, unchanged but for the imports; not used by the gateway."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from lxml import etree

from gateway.errors import MappingError
from gateway.model import (
    Address,
    AllowanceCharge,
    CreditNote,
    Delivery,
    Invoice,
    InvoiceLine,
    Party,
    Payee,
    PaymentMeans,
    TaxRepresentative,
    fill_amounts,
)
from gateway.model.values import format_decimal
from gateway.ubl.codes import (
    CAC,
    CBC,
    CREDIT_NOTE_NS,
    INVOICE_NS,
    INVOICED_OBJECT_TYPE_CODE,
    NO_ORDER_ID,
    PROJECT_TYPE_CODE,
    VAT_SCHEME,
)

_PREFIX = {"cac": CAC, "cbc": CBC}

Value = str | Decimal | dt.date | bool | None


#: ``cac:Name`` -> ``{namespace}Name``, filled as the writer uses names (a fixed set: its literals).
_QNAMES: dict[str, str] = {}


def _qname(name: str) -> str:
    qname = _QNAMES.get(name)
    if qname is None:
        prefix, _, local = name.partition(":")
        qname = _QNAMES[name] = f"{{{_PREFIX[prefix]}}}{local}"
    return qname


def _text(value: str | Decimal | dt.date | bool) -> str:
    if isinstance(value, str):  # the most frequent
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def add(
    parent: etree._Element, name: str, value: Value, /, **attributes: str | None
) -> etree._Element | None:
    """Append ``<name>value</name>`` unless value is None (PEPPOL-EN16931-R008: no empty elements).

    Attributes whose value is None are left out.

    Raises:
        MappingError: the value or an attribute holds a character XML 1.0 cannot carry.
    """
    if value is None:
        return None
    element = etree.SubElement(parent, _qname(name))
    try:
        element.text = _text(value)
        for key, attr in attributes.items():
            if attr is not None:
                element.set(key, attr)
    except ValueError as exc:  # lxml: a character XML 1.0 cannot carry (the model refuses them first)
        parent.remove(element)
        raise MappingError(f"{name} cannot be written as XML: {exc}") from exc
    return element


def group(parent: etree._Element, name: str) -> etree._Element:
    """Append an aggregate (``cac:``) element; :func:`prune` removes it later if it stays empty."""
    return etree.SubElement(parent, _qname(name))


def amount(parent: etree._Element, name: str, value: Decimal | None, currency: str) -> None:
    """Append an amount with its ``currencyID`` (PEPPOL-EN16931-R051)."""
    add(parent, name, value, currencyID=currency)


def prune(root: etree._Element) -> None:
    """Remove aggregates that received no child and no text, bottom-up."""
    for element in reversed(list(root.iter())):
        if element is root:
            continue
        if len(element) == 0 and not (element.text or "").strip():
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)


def write_ubl(doc: Invoice | CreditNote) -> bytes:
    """Serialise a document as a BIS Billing 3.0 UBL Invoice (type 380...) or CreditNote (381...).

    The same input always gives the same bytes (no timestamps or generated ids).

    Args:
        doc: the document; missing amounts are computed, stated ones are written unchanged. Outbound
            documents should first go through ``gateway.model.complete_document``.

    Returns:
        UTF-8 XML with an XML declaration.

    Raises:
        MappingError: the document holds something UBL cannot carry (e.g. a credit note due date
            without payment means).
    """
    doc = fill_amounts(doc)
    credit = isinstance(doc, CreditNote)
    ns = CREDIT_NOTE_NS if credit else INVOICE_NS
    # The default namespace needs the None key, which lxml-stubs do not model.
    nsmap = {None: ns, "cac": CAC, "cbc": CBC}
    root = etree.Element(f"{{{ns}}}{'CreditNote' if credit else 'Invoice'}", nsmap=nsmap)  # type: ignore[arg-type]
    cur = doc.currency
    add(root, "cbc:CustomizationID", doc.customization_id)
    add(root, "cbc:ProfileID", doc.profile_id)
    add(root, "cbc:ID", doc.number)
    add(root, "cbc:IssueDate", doc.issue_date)
    if credit:
        add(root, "cbc:TaxPointDate", doc.tax_point_date)
        add(root, "cbc:CreditNoteTypeCode", doc.type_code)
    else:
        add(root, "cbc:DueDate", doc.due_date)
        add(root, "cbc:InvoiceTypeCode", doc.type_code)
    for note in doc.notes:
        add(root, "cbc:Note", note)
    if not credit:
        add(root, "cbc:TaxPointDate", doc.tax_point_date)
    add(root, "cbc:DocumentCurrencyCode", cur)
    add(root, "cbc:TaxCurrencyCode", doc.vat_accounting_currency)
    add(root, "cbc:AccountingCost", doc.accounting_cost)
    add(root, "cbc:BuyerReference", doc.buyer_reference)
    if doc.invoice_period is not None:
        period = group(root, "cac:InvoicePeriod")
        add(period, "cbc:StartDate", doc.invoice_period.start_date)
        add(period, "cbc:EndDate", doc.invoice_period.end_date)
        add(period, "cbc:DescriptionCode", doc.invoice_period.description_code)
    if doc.purchase_order_reference or doc.sales_order_reference:
        order = group(root, "cac:OrderReference")
        add(order, "cbc:ID", doc.purchase_order_reference or NO_ORDER_ID)
        add(order, "cbc:SalesOrderID", doc.sales_order_reference)
    for ref in doc.preceding_invoices:
        billing = group(group(root, "cac:BillingReference"), "cac:InvoiceDocumentReference")
        add(billing, "cbc:ID", ref.number)
        add(billing, "cbc:IssueDate", ref.issue_date)
    add(group(root, "cac:DespatchDocumentReference"), "cbc:ID", doc.despatch_advice_reference)
    add(group(root, "cac:ReceiptDocumentReference"), "cbc:ID", doc.receiving_advice_reference)
    if not credit:
        add(group(root, "cac:OriginatorDocumentReference"), "cbc:ID", doc.tender_or_lot_reference)
    add(group(root, "cac:ContractDocumentReference"), "cbc:ID", doc.contract_reference)
    _write_additional_documents(root, doc, credit)
    if credit:
        add(group(root, "cac:OriginatorDocumentReference"), "cbc:ID", doc.tender_or_lot_reference)
    else:
        add(group(root, "cac:ProjectReference"), "cbc:ID", doc.project_reference)
    write_party(group(group(root, "cac:AccountingSupplierParty"), "cac:Party"), doc.seller, seller=True)
    write_party(group(group(root, "cac:AccountingCustomerParty"), "cac:Party"), doc.buyer, seller=False)
    if doc.payee is not None:
        write_payee(group(root, "cac:PayeeParty"), doc.payee)
    if doc.tax_representative is not None:
        write_tax_representative(group(root, "cac:TaxRepresentativeParty"), doc.tax_representative)
    if doc.delivery is not None:
        write_delivery(group(root, "cac:Delivery"), doc.delivery)
    if credit and doc.due_date is not None and not doc.payment_means:
        raise MappingError(
            "a CreditNote carries its due date BT-9 in cac:PaymentMeans; the document has none"
        )
    for pm in doc.payment_means:
        _write_payment_means(root, pm, doc.due_date if credit else None)
    add(group(root, "cac:PaymentTerms"), "cbc:Note", doc.payment_terms)
    for ac in doc.allowances_charges:
        _write_allowance_charge(root, ac, cur)
    _write_tax_totals(root, doc)
    _write_monetary_total(root, doc)
    for line in doc.lines:
        _write_line(root, line, cur, credit)
    prune(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _write_additional_documents(root: etree._Element, doc: Invoice | CreditNote, credit: bool) -> None:
    for att in doc.attachments:
        ref = group(root, "cac:AdditionalDocumentReference")
        add(ref, "cbc:ID", att.id)
        add(ref, "cbc:DocumentTypeCode", att.type_code)
        add(ref, "cbc:DocumentDescription", att.description)
        attachment = group(ref, "cac:Attachment")
        add(
            attachment,
            "cbc:EmbeddedDocumentBinaryObject",
            att.content,
            mimeCode=att.mime_code,
            filename=att.filename,
        )
        add(group(attachment, "cac:ExternalReference"), "cbc:URI", att.uri)
    if doc.invoiced_object_identifier is not None:
        ref = group(root, "cac:AdditionalDocumentReference")
        add(
            ref,
            "cbc:ID",
            doc.invoiced_object_identifier.value,
            schemeID=doc.invoiced_object_identifier.scheme,
        )
        add(ref, "cbc:DocumentTypeCode", INVOICED_OBJECT_TYPE_CODE)
    if credit and doc.project_reference is not None:
        ref = group(root, "cac:AdditionalDocumentReference")
        add(ref, "cbc:ID", doc.project_reference)
        add(ref, "cbc:DocumentTypeCode", PROJECT_TYPE_CODE)


def _write_payment_means(root: etree._Element, pm: PaymentMeans, credit_due_date: dt.date | None) -> None:
    el = group(root, "cac:PaymentMeans")
    add(el, "cbc:PaymentMeansCode", pm.code, name=pm.name)
    if credit_due_date is not None:
        add(el, "cbc:PaymentDueDate", credit_due_date)
    add(el, "cbc:PaymentID", pm.payment_id)
    if pm.card is not None:
        card = group(el, "cac:CardAccount")
        add(card, "cbc:PrimaryAccountNumberID", pm.card.primary_account_number)
        add(card, "cbc:NetworkID", pm.card.network_id)
        add(card, "cbc:HolderName", pm.card.holder_name)
    if pm.credit_transfer is not None:
        account = group(el, "cac:PayeeFinancialAccount")
        add(account, "cbc:ID", pm.credit_transfer.account_id)
        add(account, "cbc:Name", pm.credit_transfer.account_name)
        add(group(account, "cac:FinancialInstitutionBranch"), "cbc:ID", pm.credit_transfer.provider_id)
    if pm.direct_debit is not None:
        mandate = group(el, "cac:PaymentMandate")
        add(mandate, "cbc:ID", pm.direct_debit.mandate_reference)
        add(group(mandate, "cac:PayerFinancialAccount"), "cbc:ID", pm.direct_debit.debited_account)


def _write_allowance_charge(parent: etree._Element, ac: AllowanceCharge, cur: str) -> None:
    el = group(parent, "cac:AllowanceCharge")
    add(el, "cbc:ChargeIndicator", ac.charge)
    add(el, "cbc:AllowanceChargeReasonCode", ac.reason_code)
    add(el, "cbc:AllowanceChargeReason", ac.reason)
    add(el, "cbc:MultiplierFactorNumeric", ac.percentage)
    amount(el, "cbc:Amount", ac.amount, cur)
    amount(el, "cbc:BaseAmount", ac.base_amount, cur)
    if ac.vat is not None:
        cat = group(el, "cac:TaxCategory")
        add(cat, "cbc:ID", ac.vat.category.value)
        add(cat, "cbc:Percent", ac.vat.rate)
        add(group(cat, "cac:TaxScheme"), "cbc:ID", VAT_SCHEME)


def _write_tax_totals(root: etree._Element, doc: Invoice | CreditNote) -> None:
    assert doc.totals is not None
    assert doc.vat_breakdown is not None
    total = group(root, "cac:TaxTotal")
    amount(total, "cbc:TaxAmount", doc.totals.vat_total, doc.currency)
    for b in doc.vat_breakdown:
        sub = group(total, "cac:TaxSubtotal")
        amount(sub, "cbc:TaxableAmount", b.taxable_amount, doc.currency)
        amount(sub, "cbc:TaxAmount", b.tax_amount, doc.currency)
        cat = group(sub, "cac:TaxCategory")
        add(cat, "cbc:ID", b.category.value)
        add(cat, "cbc:Percent", b.rate)
        add(cat, "cbc:TaxExemptionReasonCode", b.exemption_reason_code)
        add(cat, "cbc:TaxExemptionReason", b.exemption_reason)
        add(group(cat, "cac:TaxScheme"), "cbc:ID", VAT_SCHEME)
    if doc.vat_accounting_currency is not None and doc.vat_total_accounting_currency is not None:
        # BT-111: a second TaxTotal with only the amount in the VAT accounting currency (PEPPOL-EN16931-R054).
        amount(
            group(root, "cac:TaxTotal"),
            "cbc:TaxAmount",
            doc.vat_total_accounting_currency,
            doc.vat_accounting_currency,
        )


def _write_monetary_total(root: etree._Element, doc: Invoice | CreditNote) -> None:
    assert doc.totals is not None
    t, cur = doc.totals, doc.currency
    el = group(root, "cac:LegalMonetaryTotal")
    amount(el, "cbc:LineExtensionAmount", t.line_extension_amount, cur)
    amount(el, "cbc:TaxExclusiveAmount", t.tax_exclusive_amount, cur)
    amount(el, "cbc:TaxInclusiveAmount", t.tax_inclusive_amount, cur)
    amount(el, "cbc:AllowanceTotalAmount", t.allowance_total, cur)
    amount(el, "cbc:ChargeTotalAmount", t.charge_total, cur)
    amount(el, "cbc:PrepaidAmount", doc.prepaid_amount, cur)
    amount(el, "cbc:PayableRoundingAmount", doc.rounding_amount, cur)
    amount(el, "cbc:PayableAmount", t.payable_amount, cur)


def _write_line(root: etree._Element, line: InvoiceLine, cur: str, credit: bool) -> None:
    el = group(root, "cac:CreditNoteLine" if credit else "cac:InvoiceLine")
    add(el, "cbc:ID", line.id)
    add(el, "cbc:Note", line.note)
    add(
        el,
        "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity",
        line.quantity,
        unitCode=line.unit_code,
    )
    amount(el, "cbc:LineExtensionAmount", line.net_amount, cur)
    add(el, "cbc:AccountingCost", line.accounting_cost)
    if line.period is not None:
        period = group(el, "cac:InvoicePeriod")
        add(period, "cbc:StartDate", line.period.start_date)
        add(period, "cbc:EndDate", line.period.end_date)
    add(group(el, "cac:OrderLineReference"), "cbc:LineID", line.order_line_reference)
    if line.object_identifier is not None:
        ref = group(el, "cac:DocumentReference")
        add(ref, "cbc:ID", line.object_identifier.value, schemeID=line.object_identifier.scheme)
        add(ref, "cbc:DocumentTypeCode", INVOICED_OBJECT_TYPE_CODE)
    for ac in line.allowances_charges:
        _write_allowance_charge(el, ac, cur)
    item, spec = line.item, line.vat
    it = group(el, "cac:Item")
    add(it, "cbc:Description", item.description)
    add(it, "cbc:Name", item.name)
    add(group(it, "cac:BuyersItemIdentification"), "cbc:ID", item.buyers_id)
    add(group(it, "cac:SellersItemIdentification"), "cbc:ID", item.sellers_id)
    if item.standard_id is not None:
        add(
            group(it, "cac:StandardItemIdentification"),
            "cbc:ID",
            item.standard_id.value,
            schemeID=item.standard_id.scheme,
        )
    add(group(it, "cac:OriginCountry"), "cbc:IdentificationCode", item.origin_country)
    for cls in item.classifications:
        add(
            group(it, "cac:CommodityClassification"),
            "cbc:ItemClassificationCode",
            cls.code,
            listID=cls.list_id,
            listVersionID=cls.list_version,
        )
    cat = group(it, "cac:ClassifiedTaxCategory")
    add(cat, "cbc:ID", spec.category.value)
    add(cat, "cbc:Percent", spec.rate)
    add(group(cat, "cac:TaxScheme"), "cbc:ID", VAT_SCHEME)
    for attr in item.attributes:
        prop = group(it, "cac:AdditionalItemProperty")
        add(prop, "cbc:Name", attr.name)
        add(prop, "cbc:Value", attr.value)
    price = line.price
    pr = group(el, "cac:Price")
    amount(pr, "cbc:PriceAmount", price.net_amount, cur)
    add(pr, "cbc:BaseQuantity", price.base_quantity, unitCode=price.base_quantity_unit)
    if price.gross_amount is not None or price.discount is not None:
        disc = group(pr, "cac:AllowanceCharge")
        add(disc, "cbc:ChargeIndicator", False)
        amount(disc, "cbc:Amount", price.discount if price.discount is not None else Decimal(0), cur)
        amount(disc, "cbc:BaseAmount", price.gross_amount, cur)


def write_address(parent: etree._Element, name: str, address: Address) -> None:
    """Append a postal address (AddressType sequence: StreetName ... AddressLine, Country)."""
    el = group(parent, name)
    add(el, "cbc:StreetName", address.street)
    add(el, "cbc:AdditionalStreetName", address.additional_street)
    add(el, "cbc:CityName", address.city)
    add(el, "cbc:PostalZone", address.postal_code)
    add(el, "cbc:CountrySubentity", address.subdivision)
    add(group(el, "cac:AddressLine"), "cbc:Line", address.address_line)
    add(group(el, "cac:Country"), "cbc:IdentificationCode", address.country)


def write_party(el: etree._Element, party: Party, *, seller: bool) -> None:
    """Fill a ``cac:Party`` for the seller (BG-4) or the buyer (BG-7).

    The cooperative's activity is not written as BT-29 (bis-billing.md §7); it only shows through the
    trading name and contact that ``complete_document`` derived from it.
    """
    if party.endpoint is not None:
        add(el, "cbc:EndpointID", party.endpoint.value, schemeID=party.endpoint.scheme)
    for ident in party.identifiers:
        add(group(el, "cac:PartyIdentification"), "cbc:ID", ident.value, schemeID=ident.scheme)
    add(group(el, "cac:PartyName"), "cbc:Name", party.trading_name)
    write_address(el, "cac:PostalAddress", party.address)
    if party.vat_identifier is not None:
        scheme = group(el, "cac:PartyTaxScheme")
        add(scheme, "cbc:CompanyID", party.vat_identifier)
        add(group(scheme, "cac:TaxScheme"), "cbc:ID", VAT_SCHEME)
    if party.tax_registration is not None:
        scheme = group(el, "cac:PartyTaxScheme")
        add(scheme, "cbc:CompanyID", party.tax_registration.value)
        add(group(scheme, "cac:TaxScheme"), "cbc:ID", party.tax_registration.scheme)
    legal = group(el, "cac:PartyLegalEntity")
    add(legal, "cbc:RegistrationName", party.legal_name)
    if party.legal_registration_id is not None:
        add(
            legal,
            "cbc:CompanyID",
            party.legal_registration_id.value,
            schemeID=party.legal_registration_id.scheme,
        )
    if seller:
        add(legal, "cbc:CompanyLegalForm", party.additional_legal_info)
    if party.contact is not None:
        contact = group(el, "cac:Contact")
        add(contact, "cbc:Name", party.contact.name)
        add(contact, "cbc:Telephone", party.contact.telephone)
        add(contact, "cbc:ElectronicMail", party.contact.email)


def write_payee(el: etree._Element, payee: Payee) -> None:
    """Fill ``cac:PayeeParty`` (BG-10)."""
    if payee.identifier is not None:
        add(
            group(el, "cac:PartyIdentification"),
            "cbc:ID",
            payee.identifier.value,
            schemeID=payee.identifier.scheme,
        )
    add(group(el, "cac:PartyName"), "cbc:Name", payee.name)
    if payee.legal_registration_id is not None:
        reg = payee.legal_registration_id
        add(group(el, "cac:PartyLegalEntity"), "cbc:CompanyID", reg.value, schemeID=reg.scheme)


def write_tax_representative(el: etree._Element, rep: TaxRepresentative) -> None:
    """Fill ``cac:TaxRepresentativeParty`` (BG-11)."""
    add(group(el, "cac:PartyName"), "cbc:Name", rep.name)
    write_address(el, "cac:PostalAddress", rep.address)
    scheme = group(el, "cac:PartyTaxScheme")
    add(scheme, "cbc:CompanyID", rep.vat_identifier)
    add(group(scheme, "cac:TaxScheme"), "cbc:ID", VAT_SCHEME)


def write_delivery(el: etree._Element, delivery: Delivery) -> None:
    """Fill ``cac:Delivery`` (BG-13)."""
    add(el, "cbc:ActualDeliveryDate", delivery.date)
    location = group(el, "cac:DeliveryLocation")
    if delivery.location_id is not None:
        add(location, "cbc:ID", delivery.location_id.value, schemeID=delivery.location_id.scheme)
    if delivery.address is not None:
        write_address(location, "cac:Address", delivery.address)
    add(group(group(el, "cac:DeliveryParty"), "cac:PartyName"), "cbc:Name", delivery.party_name)
