"""EN 16931 calculations: rounding, line net amounts, allowances/charges, VAT breakdown, totals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from model_builders import line, make_invoice

from gateway.model import VatCategory, compute_totals, fill_amounts, round_amount

D = Decimal


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2.345", "2.35"), ("2.344", "2.34"), ("-2.345", "-2.35"), ("0.005", "0.01"), ("10", "10.00")],
)
def test_round_half_up_to_cents(value: str, expected: str) -> None:
    assert str(round_amount(D(value))) == expected


def test_line_net_amount_with_base_quantity_and_line_allowances_charges() -> None:
    doc = make_invoice(
        lines=[
            line(
                qty="3",
                price="10.005",
                allowances_charges=[
                    {"charge": False, "reason": "discount", "base_amount": "30.02", "percentage": "10"},
                    {"charge": True, "reason": "packing", "amount": "1.50"},
                ],
            )
            | {"price": {"net_amount": "10.005", "base_quantity": "2", "base_quantity_unit": "C62"}}
        ]
    )
    computed = compute_totals(doc)
    # 3 x 10.005 / 2 = 15.0075; + 1.50 - round(30.02 x 10%) = 3.00 -> 13.5075 -> 13.51
    assert computed.line_net_amounts == (D("13.51"),)


def test_net_price_from_gross_minus_discount() -> None:
    doc = make_invoice(lines=[line(qty="2") | {"price": {"gross_amount": "20.00", "discount": "2.50"}}])
    filled = fill_amounts(doc)
    assert filled.lines[0].price.net_amount == D("17.50")
    assert filled.lines[0].net_amount == D("35.00")


def test_vat_breakdown_per_category_and_rate_with_document_allowances_and_charges() -> None:
    doc = make_invoice(
        lines=[
            line("1", qty="4", price="250.00", rate="21"),
            line("2", qty="12.5", price="52.00", rate="6"),
            line("3", price="780.40", rate="12"),
            line("4", price="0.99", rate="21.00"),  # same rate written differently: one breakdown
        ],
        allowances_charges=[
            {
                "charge": False,
                "reason": "members",
                "base_amount": "1000.00",
                "percentage": "2",
                "vat": {"category": "S", "rate": "21"},
            },
            {"charge": True, "reason": "transport", "amount": "45.00", "vat": {"category": "S", "rate": "6"}},
        ],
    )
    c = compute_totals(doc)
    by_rate = {(b.category, b.rate): b for b in c.vat_breakdown}
    assert len(c.vat_breakdown) == 3
    s21 = by_rate[(VatCategory.STANDARD, D(21))]
    assert (s21.taxable_amount, s21.tax_amount) == (D("980.99"), D("206.01"))  # 1000.99 - 20.00; 206.0079
    s6 = by_rate[(VatCategory.STANDARD, D(6))]
    assert (s6.taxable_amount, s6.tax_amount) == (D("695.00"), D("41.70"))  # 650 + 45
    s12 = by_rate[(VatCategory.STANDARD, D(12))]
    assert s12.tax_amount == D("93.65")  # 93.648
    t = c.totals
    assert t.line_extension_amount == D("2431.39")
    assert (t.allowance_total, t.charge_total) == (D("20.00"), D("45.00"))
    assert t.tax_exclusive_amount == D("2456.39")
    assert t.vat_total == D("341.36")
    assert t.tax_inclusive_amount == D("2797.75")
    assert t.payable_amount == D("2797.75")


def test_tax_is_rounded_per_breakdown_not_per_line() -> None:
    # BR-CO-17: 3 lines of 0.10 at 21% -> taxable 0.30 -> 0.063 -> 0.06 (per-line rounding would give 0.03)
    doc = make_invoice(lines=[line(str(i), price="0.10") for i in range(1, 4)])
    assert compute_totals(doc).vat_breakdown[0].tax_amount == D("0.06")


def test_prepaid_and_rounding_amounts_enter_the_amount_due() -> None:
    doc = make_invoice(prepaid_amount="50.00", rounding_amount="0.01")
    t = compute_totals(doc).totals
    assert t.tax_inclusive_amount == D("121.00")
    assert t.payable_amount == D("71.01")


def test_zero_rated_and_not_subject_categories_have_no_tax() -> None:
    doc = make_invoice(
        lines=[
            line("1", category="E", rate="0")
            | {"vat": {"category": "E", "rate": "0", "exemption_reason_code": "VATEX-EU-132-1G"}}
        ]
    )
    b = compute_totals(doc).vat_breakdown[0]
    assert (b.tax_amount, b.exemption_reason_code) == (D("0.00"), "VATEX-EU-132-1G")


@pytest.mark.parametrize(
    ("category", "code", "text"),
    [
        ("AE", "VATEX-EU-AE", "Reverse charge"),
        ("K", "VATEX-EU-IC", None),
        ("G", "VATEX-EU-G", None),
        ("O", "VATEX-EU-O", None),
    ],
)
def test_default_exemption_reasons(category: str, code: str, text: str | None) -> None:
    rate = None if category == "O" else "0"
    b = compute_totals(make_invoice(lines=[line(category=category, rate=rate)])).vat_breakdown[0]
    assert (b.exemption_reason_code, b.exemption_reason) == (code, text)
    assert b.rate == (None if category == "O" else D(0))


def test_stated_amounts_are_kept_as_evidence() -> None:
    doc = make_invoice(lines=[line(price="100.00") | {"net_amount": "99.99"}])
    assert compute_totals(doc).line_net_amounts == (D("99.99"),)
    assert compute_totals(doc, use_stated=False).line_net_amounts == (D("100.00"),)
