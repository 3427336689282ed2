"""UBL serialisation of parties (BG-4, BG-7, BG-10, BG-11) and delivery (BG-13) in XSD order."""

from __future__ import annotations

from gateway.model import Address, Delivery, Party, Payee, TaxRepresentative
from gateway.ubl.builder import Element, add, group
from gateway.ubl.codes import VAT_SCHEME


def write_address(parent: Element, name: str, address: Address) -> None:
    """Append a postal address (AddressType sequence: StreetName ... AddressLine, Country)."""
    el = group(parent, name)
    add(el, "cbc:StreetName", address.street)
    add(el, "cbc:AdditionalStreetName", address.additional_street)
    add(el, "cbc:CityName", address.city)
    add(el, "cbc:PostalZone", address.postal_code)
    add(el, "cbc:CountrySubentity", address.subdivision)
    add(group(el, "cac:AddressLine"), "cbc:Line", address.address_line)
    add(group(el, "cac:Country"), "cbc:IdentificationCode", address.country)


def write_party(el: Element, party: Party, *, seller: bool) -> None:
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


def write_payee(el: Element, payee: Payee) -> None:
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


def write_tax_representative(el: Element, rep: TaxRepresentative) -> None:
    """Fill ``cac:TaxRepresentativeParty`` (BG-11)."""
    add(group(el, "cac:PartyName"), "cbc:Name", rep.name)
    write_address(el, "cac:PostalAddress", rep.address)
    scheme = group(el, "cac:PartyTaxScheme")
    add(scheme, "cbc:CompanyID", rep.vat_identifier)
    add(group(scheme, "cac:TaxScheme"), "cbc:ID", VAT_SCHEME)


def write_delivery(el: Element, delivery: Delivery) -> None:
    """Fill ``cac:Delivery`` (BG-13)."""
    add(el, "cbc:ActualDeliveryDate", delivery.date)
    location = group(el, "cac:DeliveryLocation")
    if delivery.location_id is not None:
        add(location, "cbc:ID", delivery.location_id.value, schemeID=delivery.location_id.scheme)
    if delivery.address is not None:
        write_address(location, "cac:Address", delivery.address)
    add(group(group(el, "cac:DeliveryParty"), "cac:PartyName"), "cbc:Name", delivery.party_name)
