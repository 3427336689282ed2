"""Partial payments: the amount as typed, the checks against the amount due, the text the supplier reads."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.errors import InvalidExpenseRequest, InvalidPayment
from gateway.model.partial_payment import (
    MAX_PAYMENT_NOTE,
    PartialPayment,
    is_partial,
    parse_amount,
    payment_summary,
    same_payment,
)

DUE = Decimal("1000.00")


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("600", Decimal("600")),
        ("600.5", Decimal("600.5")),
        (" 600,50 ", Decimal("600.50")),
        ("0.01", Decimal("0.01")),
    ],
)
def test_amounts_as_typed(typed: str, amount: Decimal) -> None:
    assert parse_amount(typed) == amount


@pytest.mark.parametrize("typed", ["", "abc", "1,000.00", "1.000,00", "600.001", "NaN", "Infinity", "1e2x"])
def test_amounts_refused(typed: str) -> None:
    with pytest.raises(InvalidPayment) as caught:
        parse_amount(typed)
    assert isinstance(caught.value, InvalidExpenseRequest)  # a 422 on the API, a form message on the page
    assert caught.value.message  # the untranslated text the pages translate


@pytest.mark.parametrize(
    ("payment", "message"),
    [
        (PartialPayment(""), "A partial payment needs an explanation for the supplier."),
        (PartialPayment("\u200b \u3164"), "A partial payment needs an explanation for the supplier."),
        (
            PartialPayment("x" * (MAX_PAYMENT_NOTE + 1)),
            "The explanation of a partial payment has at most %(limit)s characters.",
        ),
        (
            PartialPayment("a\x00b"),
            "The explanation holds a character that cannot be sent (a control character).",
        ),
        (PartialPayment("ok", Decimal("0")), "The amount paid must be more than zero."),
        (PartialPayment("ok", Decimal("-1")), "The amount paid must be more than zero."),
        (
            PartialPayment("ok", DUE),
            "The amount paid must be less than the amount due (%(payable)s); "
            "mark the expense paid in full instead.",
        ),
    ],
)
def test_checks(payment: PartialPayment, message: str) -> None:
    with pytest.raises(InvalidPayment) as caught:
        payment.check(DUE)
    assert caught.value.message == message


def test_the_text_and_the_detail() -> None:
    payment = PartialPayment("the rest after the credit note", Decimal("600.00"))
    payment.check(DUE)
    PartialPayment("x" * MAX_PAYMENT_NOTE).check(DUE)
    assert payment.response_text(DUE, "EUR") == "Paid 600.00 of 1000.00 EUR: the rest after the credit note"
    assert PartialPayment("later").response_text(DUE, "EUR") == "later"
    detail = payment.detail("EUR")
    assert is_partial(detail)
    assert not is_partial(None)
    assert not is_partial({"reason": "x"})
    assert payment_summary(detail) == {
        "partial": True,
        "paid_amount": "600.00",
        "currency": "EUR",
        "reason": "the rest after the credit note",
    }
    assert payment_summary(None)["partial"] is False


@pytest.mark.parametrize(("typed", "written"), [("1e1", "10"), ("6.005E+2", "600.5"), ("\uff11\uff12", "12")])
def test_an_amount_typed_with_an_exponent_or_other_digits_reaches_the_supplier_in_plain_digits(
    typed: str, written: str
) -> None:
    payment = PartialPayment("the rest later", parse_amount(typed))
    payment.check(DUE)
    assert payment.response_text(DUE, "EUR") == f"Paid {written} of 1000.00 EUR: the rest later"
    assert payment.detail("EUR")["paid_amount"] == written


@pytest.mark.parametrize(
    ("payment", "same"),
    [
        (PartialPayment("the rest later", Decimal("600.00")), True),
        (PartialPayment("the rest later", Decimal("600")), True),  # by value
        (PartialPayment("the rest later", Decimal("600.01")), False),
        (PartialPayment("the rest later"), False),  # the amount left out
        (PartialPayment("the rest after the credit note", Decimal("600.00")), False),
        (None, False),  # in full
    ],
)
def test_the_same_payment_is_the_same_choice_explanation_and_amount(
    payment: PartialPayment | None, same: bool
) -> None:
    recorded = {
        **PartialPayment("the rest later", Decimal("600.00")).detail("EUR"),
        "response_document_id": "d-1",
    }
    assert same_payment(recorded, payment) is same


def test_the_same_payment_in_full_or_in_part_without_amount() -> None:
    in_full = {"response_document_id": "d-1"}
    for detail in (None, in_full):
        assert same_payment(detail, None) is True
        assert same_payment(detail, PartialPayment("the rest later")) is False
    no_amount = PartialPayment("the rest later").detail("EUR")
    assert same_payment(no_amount, PartialPayment("the rest later")) is True
    assert same_payment(no_amount, PartialPayment("the rest later", Decimal("1"))) is False
    assert same_payment(no_amount, None) is False
