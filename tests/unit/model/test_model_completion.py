"""EN 16931 completion: activity mapping, payment instructions, VAT treatments, totals checking."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from model_builders import BUYER, SELLER, line, make_credit_note, make_invoice
from pydantic import ValidationError

from gateway.errors import InvalidDocumentData
from gateway.model import CreditNote, Invoice, VatCategory, complete_document

GLN_ENDPOINT = {"scheme": "0088", "value": "7300010000001"}

D = Decimal


def refused(doc: Invoice | CreditNote) -> list[str]:
    with pytest.raises(InvalidDocumentData) as info:
        complete_document(doc)
    return info.value.problems


def test_activity_becomes_trading_name_and_contact_not_an_identifier() -> None:
    seller = SELLER | {
        "activity": {
            "code": "PU-04711",
            "trading_name": "De Eik",
            "contact": {"name": "An", "email": "eik@coop.example"},
        }
    }
    doc = complete_document(make_invoice(seller=seller))
    assert doc.seller.trading_name == "Samenwerking CV - De Eik (PU-04711)"
    assert doc.seller.legal_name == "Samenwerking CV"
    assert doc.seller.contact is not None
    assert doc.seller.contact.email == "eik@coop.example"
    assert doc.seller.identifiers == ()
    assert doc.seller.activity is not None
    assert doc.seller.activity.code == "PU-04711"
    assert doc.seller.endpoint is not None
    assert (doc.seller.endpoint.scheme, doc.seller.endpoint.value) == (
        "0208",
        "0739484052",
    )


def test_payment_means_built_from_seller_iban_with_generated_ogm() -> None:
    doc = complete_document(make_invoice(number="2026-0004711"))
    (pm,) = doc.payment_means
    assert pm.code == "30"
    assert pm.credit_transfer is not None
    assert pm.credit_transfer.account_id == "BE90001073948432"
    assert pm.payment_id == "+++000/4711/02627+++"


def test_given_ogm_is_normalised_and_bad_one_refused() -> None:
    means = [
        {"code": "30", "payment_id": "000047110068", "credit_transfer": {"account_id": "BE90001073948432"}}
    ]
    assert (
        complete_document(make_invoice(payment_means=means)).payment_means[0].payment_id
        == "+++000/0471/10068+++"
    )
    means[0]["payment_id"] = "+++000/0471/10069+++"
    assert any("BT-83" in p for p in refused(make_invoice(payment_means=means)))


def test_bad_iban_refused() -> None:
    means = [{"code": "58", "credit_transfer": {"account_id": "BE91001073948432"}}]
    assert any("BT-84" in p and "IBAN" in p for p in refused(make_invoice(payment_means=means)))


def test_credit_note_gets_no_payment_means_by_default() -> None:
    assert complete_document(make_credit_note()).payment_means == ()


def test_credit_note_due_date_needs_payment_means() -> None:
    assert any("BT-9" in p for p in refused(make_credit_note(due_date="2026-12-01")))


def test_stated_totals_are_checked_naming_bt_and_both_values() -> None:
    totals = {
        "line_extension_amount": "100.00",
        "tax_exclusive_amount": "100.00",
        "vat_total": "21.00",
        "tax_inclusive_amount": "121.00",
        "payable_amount": "121.01",
    }
    problems = refused(make_invoice(totals=totals))
    assert problems == ["BT-115 amount due: stated 121.01, computed 121.00"]
    totals["payable_amount"] = "121.00"
    assert complete_document(make_invoice(totals=totals)).totals is not None


def test_stated_line_net_and_breakdown_are_checked() -> None:
    doc = make_invoice(
        lines=[line(price="100.00") | {"net_amount": "100.10"}],
        vat_breakdown=[{"category": "S", "rate": "21", "taxable_amount": "100.00", "tax_amount": "21.01"}],
    )
    problems = refused(doc)
    assert "line 1: invoice line net amount BT-131 stated 100.10, computed 100.00" in problems
    assert any("BT-117 tax amount stated 21.01, computed 21.00" in p for p in problems)


def test_allowance_amount_checked_against_base_and_percentage() -> None:
    acs = [
        {
            "charge": False,
            "reason": "x",
            "amount": "10.00",
            "base_amount": "100.00",
            "percentage": "5",
            "vat": {"category": "S", "rate": "21"},
        }
    ]
    assert any("R040" in p and "5.00" in p for p in refused(make_invoice(allowances_charges=acs)))


def test_category_o_moves_seller_vat_to_bt33_and_keeps_kbo() -> None:
    buyer = {
        "legal_name": "Verlag AG",
        "endpoint": {"value": "CHE123456789", "scheme": "0183"},
        "address": {"country": "CH"},
    }
    doc = complete_document(make_invoice(buyer=buyer, lines=[line(category="O", rate=None)]))
    assert doc.seller.vat_identifier is None
    assert doc.seller.additional_legal_info == "VAT BE0739484052"
    assert doc.seller.legal_registration_id is not None
    assert doc.seller.legal_registration_id.scheme == "0208"
    assert doc.vat_breakdown is not None
    assert doc.vat_breakdown[0].exemption_reason_code == "VATEX-EU-O"


def test_category_o_with_zero_rate_drops_the_rate() -> None:
    buyer = {"legal_name": "Verlag AG", "address": {"country": "CH"}, "endpoint": GLN_ENDPOINT}
    doc = complete_document(make_invoice(buyer=buyer, lines=[line(category="O", rate="0")]))
    assert doc.lines[0].vat.rate is None


def test_category_o_cannot_be_mixed() -> None:
    doc = make_invoice(
        buyer={"legal_name": "X", "address": {"country": "CH"}, "endpoint": GLN_ENDPOINT},
        lines=[line("1", category="O", rate=None), line("2")],
    )
    assert any("BR-O-11" in p and "S" in p for p in refused(doc))


def test_category_o_refuses_buyer_vat() -> None:
    assert any(
        "BT-48" in p and "BR-O-02" in p for p in refused(make_invoice(lines=[line(category="O", rate=None)]))
    )


def test_category_k_names_missing_delivery_fields() -> None:
    buyer = {
        "legal_name": "GmbH",
        "vat_number": "DE123456789",
        "address": {"country": "DE"},
        "endpoint": GLN_ENDPOINT,
    }
    problems = refused(make_invoice(buyer=buyer, lines=[line(category="K", rate="0")]))
    assert any("BT-72" in p and "BR-IC-11" in p for p in problems)
    assert any("BT-80" in p and "BR-IC-12" in p for p in problems)
    ok = make_invoice(
        buyer=buyer,
        lines=[line(category="K", rate="0")],
        delivery={"date": "2026-11-01", "address": {"country": "DE"}},
    )
    assert complete_document(ok).vat_breakdown is not None


def test_category_ae_needs_buyer_vat() -> None:
    buyer = {"legal_name": "BV", "address": {"country": "NL"}}
    assert any(
        "BR-AE-02" in p for p in refused(make_invoice(buyer=buyer, lines=[line(category="AE", rate="0")]))
    )


@pytest.mark.parametrize("category", ["AE", "K"])
def test_reverse_charge_and_intra_community_need_buyer_vat_even_with_a_legal_id(category: str) -> None:
    # BR-AE-02 accepts BT-47 instead of BT-48; EU VAT Directive art. 226(4) wants the VAT number.
    buyer = {
        "legal_name": "Klant BV",
        "legal_registration_id": {"value": "12345678", "scheme": "0106"},
        "endpoint": {"value": "12345678", "scheme": "0106"},
        "address": {"city": "Utrecht", "country": "NL"},
    }
    extra = {"delivery": {"date": "2026-11-01", "address": {"country": "NL"}}} if category == "K" else {}
    problems = refused(make_invoice(buyer=buyer, lines=[line(category=category, rate="0")], **extra))
    assert any("BT-48" in p and "2006/112/EC art. 226(4)" in p for p in problems), problems


@pytest.mark.parametrize("currency", ["ABC", "XYZ", "CNH", "EUO"])
def test_a_currency_outside_iso_4217_is_refused_by_the_model(currency: str) -> None:
    with pytest.raises(ValidationError) as info:
        make_invoice(currency=currency)
    assert [e["loc"] for e in info.value.errors()] == [("currency",)]
    assert "ISO 4217" in info.value.errors()[0]["msg"]


def test_iso_4217_currencies_are_accepted_in_any_case() -> None:
    assert make_invoice(currency="usd").currency == "USD"
    assert make_invoice(vat_accounting_currency="EUR", currency="GBP", vat_total_accounting_currency="21.00")


@pytest.mark.parametrize("rate", ["22", "20", "19", "7.5", "0.5", "100"])
def test_belgian_seller_standard_rate_must_be_a_belgian_rate(rate: str) -> None:
    problems = refused(make_invoice(lines=[line(rate=rate)]))
    assert any("line 1 BT-152" in p and "21, 12 or 6" in p and "foreign_vat" in p for p in problems)


def test_belgian_rate_check_covers_document_allowances() -> None:
    vat = {"category": "S", "rate": "22"}
    charge = {"charge": True, "amount": "10.00", "reason": "Transport", "vat": vat}
    problems = refused(make_invoice(allowances_charges=[charge]))
    assert any("allowance/charge" in p and "21, 12 or 6" in p for p in problems), problems


@pytest.mark.parametrize("rate", ["21", "21.00", "12", "6.0"])
def test_belgian_rates_pass(rate: str) -> None:
    assert complete_document(make_invoice(lines=[line(rate=rate)])).totals is not None


def test_foreign_vat_flag_allows_another_countrys_rate() -> None:
    doc = complete_document(make_invoice(lines=[line(rate="22")], foreign_vat=True))
    assert doc.vat_breakdown is not None
    assert doc.vat_breakdown[0].rate == D(22)


def test_a_non_belgian_seller_may_use_any_standard_rate() -> None:
    seller = {
        "legal_name": "Verkoper BV",
        "vat_number": "NL123456789B01",
        "endpoint": {"value": "NL123456789B01", "scheme": "9944"},
        "address": {"city": "Utrecht", "country": "NL"},
    }
    assert complete_document(make_invoice(seller=seller, lines=[line(rate="22")])).totals is not None


def test_category_e_needs_code_or_text() -> None:
    assert any("BR-E-10" in p for p in refused(make_invoice(lines=[line(category="E", rate="0")])))
    with_text = line(category="E") | {"vat": {"category": "E", "exemption_reason": "Art. 44 WBTW"}}
    doc = complete_document(make_invoice(lines=[with_text]))
    assert doc.lines[0].vat.rate == D(0)  # zero-rate categories get rate 0 when omitted
    assert doc.vat_breakdown is not None
    assert doc.vat_breakdown[0].exemption_reason == "Art. 44 WBTW"


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        ({"category": "S", "rate": "0"}, "BR-S-05"),
        ({"category": "Z", "rate": "6"}, "BR-Z-05"),
        ({"category": "O", "rate": "6"}, "BR-O-05"),
        ({"category": "L"}, "BR-AF-05"),
        ({"category": "S", "rate": "21", "exemption_reason": "why"}, "BR-S-10"),
    ],
)
def test_rate_and_exemption_rules(spec: dict[str, Any], rule: str) -> None:
    doc = make_invoice(
        buyer={"legal_name": "X", "address": {"country": "CH"}}, lines=[line() | {"vat": spec}]
    )
    assert any(rule in p for p in refused(doc))


def test_category_needs_seller_vat() -> None:
    seller = {k: v for k, v in SELLER.items() if k != "vat_number"}
    assert any("BR-S-02" in p for p in refused(make_invoice(seller=seller)))


def test_buyer_or_order_reference_required() -> None:
    assert any("PEPPOL-EN16931-R003" in p for p in refused(make_invoice(buyer_reference=None)))


def test_more_than_one_note_refused() -> None:
    assert any("R002" in p for p in refused(make_invoice(notes=["a", "b"])))


def test_vat_accounting_currency_rules() -> None:
    assert any("BR-53" in p for p in refused(make_invoice(currency="USD", vat_accounting_currency="EUR")))
    assert any(
        "R005" in p
        for p in refused(make_invoice(vat_accounting_currency="EUR", vat_total_accounting_currency="21.00"))
    )


def test_belgian_numbers_checked() -> None:
    buyer = BUYER | {"enterprise_number": None, "endpoint": {"value": "0412345615", "scheme": "0208"}}
    buyer.pop("enterprise_number")
    assert any("PEPPOL-COMMON-R043" in p for p in refused(make_invoice(buyer=buyer)))
    with pytest.raises(ValidationError, match="mod 97"):
        make_invoice(seller=SELLER | {"enterprise_number": "0739484053"})


def test_a_private_person_without_an_email_is_refused_with_both_ways_named() -> None:
    buyer = {"legal_name": "Lies Vermeulen", "address": {"city": "Antwerpen", "country": "BE"}}
    doc = make_invoice(buyer=buyer)
    assert doc.buyer.endpoint is None
    assert doc.buyer.vat_identifier is None
    with pytest.raises(InvalidDocumentData) as refusal:
        complete_document(doc)
    (problem,) = refusal.value.problems
    assert "neither a Peppol participant id" in problem
    assert "buyer.contact.email" in problem
    assert "give one of the two (PEPPOL-EN16931-R010)" in problem


def test_a_private_person_with_an_email_gets_it_as_bt49_with_scheme_em() -> None:
    buyer = {
        "legal_name": "Lies Vermeulen",
        "address": {"city": "Antwerpen", "country": "BE"},
        "contact": {"email": "lies.vermeulen@mail.example"},
    }
    completed = complete_document(make_invoice(buyer=buyer))
    assert completed.buyer.endpoint is not None
    assert (completed.buyer.endpoint.scheme, completed.buyer.endpoint.value) == (
        "EM",
        "lies.vermeulen@mail.example",
    )


def test_a_buyer_with_a_peppol_id_and_an_email_keeps_its_peppol_id() -> None:
    completed = complete_document(make_invoice(buyer=BUYER | {"contact": {"email": "ap@buyer.example"}}))
    assert completed.buyer.endpoint is not None
    assert completed.buyer.endpoint.scheme == "0208"


@pytest.mark.parametrize(
    ("buyer", "expected"),
    [
        ({"contact": {"email": "two@a.example, three@b.example"}}, "BT-58"),
        ({"contact": {"email": "no-at-sign"}}, "BT-58"),
        ({"endpoint": {"scheme": "EM", "value": "Lies <lies@mail.example>"}}, "BT-49 EM:"),
    ],
)
def test_a_malformed_buyer_email_is_refused(buyer: dict[str, Any], expected: str) -> None:
    base = {"legal_name": "Lies Vermeulen", "address": {"city": "Antwerpen", "country": "BE"}}
    problems = refused(make_invoice(buyer=base | buyer))
    assert any(expected in p and "not one e-mail address" in p for p in problems), problems


def test_model_refuses_nonsense_with_bt_numbers() -> None:
    with pytest.raises(ValidationError, match="BR-DEC"):
        make_invoice(prepaid_amount="1.001")
    with pytest.raises(ValidationError, match="R041/R042"):
        make_invoice(lines=[line(allowances_charges=[{"reason": "x", "base_amount": "1.00"}])])
    with pytest.raises(ValidationError, match=r"R121|greater than zero"):
        make_invoice(lines=[line() | {"price": {"net_amount": "1", "base_quantity": "0"}}])
    with pytest.raises(ValidationError, match="BR-32"):
        make_invoice(allowances_charges=[{"reason": "x", "amount": "1.00"}])


def test_vat_categories_enum_values_are_uncl5305_codes() -> None:
    assert {c.value for c in VatCategory} == {"S", "Z", "E", "AE", "K", "G", "O", "L", "M", "B"}
