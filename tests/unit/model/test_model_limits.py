"""Input the model refuses field by field instead of failing later: numbers no calculation can hold and
characters XML 1.0 cannot carry."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from model_builders import BUYER, invoice_data, line
from pydantic import ValidationError

from gateway.errors import InvalidDocumentData, InvalidIdentifier
from gateway.model import Invoice, ParticipantID, complete_document
from gateway.model.values import fraction_digits
from gateway.ubl import write_ubl


def refusal(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(location, message) of every problem pydantic reports for ``data``."""
    with pytest.raises(ValidationError) as info:
        Invoice.model_validate(data)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in info.value.errors()]


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"qty": "1e25"}, "lines.0.quantity"),
        ({"qty": "1e30"}, "lines.0.quantity"),
        ({"qty": "-1e26"}, "lines.0.quantity"),
        ({"price": "1e25"}, "lines.0.price.net_amount"),
        ({"net_amount": "1e25"}, "lines.0.net_amount"),
        ({"net_amount": "100000000000000000000000000.001"}, "lines.0.net_amount"),
        ({"qty": "1E-999999"}, "lines.0.quantity"),
        ({"rate": "1e25"}, "lines.0.vat.rate"),
        ({"rate": "150"}, "lines.0.vat.rate"),
    ],
)
def test_numbers_out_of_range_are_refused_naming_the_field(changes: dict[str, str], where: str) -> None:
    problems = refusal(invoice_data(lines=[line(**changes)]))
    assert where in [loc for loc, _ in problems], problems


@pytest.mark.parametrize(
    ("qty", "price", "base"),
    [("999999999999999", "999999999999999", None), ("1", "999999999999999", "0.000000000000000001")],
)
def test_a_line_whose_product_is_too_large_is_refused(qty: str, price: str, base: str | None) -> None:
    data = line(qty=qty, price=price)
    if base is not None:
        data["price"]["base_quantity"] = base
    problems = refusal(invoice_data(lines=[data]))
    assert problems[0][0] == "lines.0"
    assert "BT-129" in problems[0][1]


def test_an_allowance_whose_base_times_percentage_is_too_large_is_refused() -> None:
    charge = {"charge": True, "base_amount": "999999999999999", "percentage": "999999999", "reason": "x"}
    problems = refusal(invoice_data(lines=[line(allowances_charges=[charge])]))
    assert any(loc == "lines.0.allowances_charges.0" and "R040" in msg for loc, msg in problems), problems


def test_totals_that_would_reach_the_bound_are_refused_by_completion() -> None:
    many = [line(str(n), qty="1", price="300000000000000") for n in range(1, 4)]
    with pytest.raises(InvalidDocumentData) as info:
        complete_document(Invoice.model_validate(invoice_data(lines=many)))
    assert any("BG-22" in problem for problem in info.value.problems)


def test_the_largest_accepted_amounts_convert() -> None:
    doc = complete_document(Invoice.model_validate(invoice_data(lines=[line(price="100000000000000")])))
    assert doc.totals is not None
    assert str(doc.totals.payable_amount) == "121000000000000.00"
    assert b"121000000000000.00" in write_ubl(doc)


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x1f", "\ufffe", "\uffff"])
@pytest.mark.parametrize(
    ("field", "where"),
    [
        ("number", "number"),
        ("buyer_reference", "buyer_reference"),
        ("buyer", "buyer.legal_name"),
        ("lines", "lines.0.item.name"),
        ("unit", "lines.0.unit_code"),
    ],
)
def test_characters_xml_cannot_carry_are_refused_naming_the_field(char: str, field: str, where: str) -> None:
    text = f"a{char}b"
    if field == "buyer":
        data = invoice_data(buyer=BUYER | {"legal_name": text})
    elif field == "lines":
        data = invoice_data(lines=[line(item={"name": text})])
    elif field == "unit":
        data = invoice_data(lines=[line(unit_code=text)])
    else:
        data = invoice_data(**{field: text})
    problems = refusal(data)
    assert problems[0][0] == where
    assert f"U+{ord(char):04X}" in problems[0][1]


def test_tab_newline_and_astral_characters_are_kept() -> None:
    text = "line one\nline two\tend 😀 \u00e9"
    doc = complete_document(Invoice.model_validate(invoice_data(notes=[text])))
    assert text.encode() in write_ubl(doc)


@pytest.mark.parametrize("text", ["0208:a\x00b", "0208:1\x1f1", "9925:BE\x7f0"])
def test_a_participant_id_with_a_control_character_is_refused(text: str) -> None:
    with pytest.raises(InvalidIdentifier, match="control character"):
        ParticipantID.parse(text)


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("0", 0),
        ("0.000", 0),
        ("-0.0", 0),
        ("12", 0),
        ("1E+3", 0),
        ("1200", 0),
        ("1.2300", 2),
        ("-1.05", 2),
        ("0.001", 3),
        ("10.10", 1),
        ("1E-7", 7),
        ("1.50E-2", 3),
        ("123.456789012345678901234", 21),
    ],
)
def test_fraction_digits_counts_significant_decimals_only(text: str, digits: int) -> None:
    assert fraction_digits(Decimal(text)) == digits


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_fraction_digits_agrees_with_the_written_number(value: Decimal) -> None:
    written = format(value, "f")
    fraction = written.partition(".")[2].rstrip("0")
    assert fraction_digits(value) == len(fraction)
