"""Payment references as printed on paper, and locale formatting of stated values."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.render.formatting import Formatter, payment_reference
from gateway.render.view import Amount


@pytest.mark.parametrize(
    ("reference", "belgian", "shown"),
    [
        ("000047110068", True, "+++000/0471/10068+++"),  # bare OGM digits on a Belgian account
        ("000047110068", False, "000047110068"),  # twelve digits abroad: shown as stated
        ("***000/0471/10068***", False, "+++000/0471/10068+++"),  # written as an OGM
        ("+++000/0471/10069+++", True, "+++000/0471/10069+++"),  # wrong check digits: as stated
        ("RF18539007547034", False, "RF18 5390 0754 7034"),  # ISO 11649 in groups of four
        ("Snippet1", True, "Snippet1"),
        (None, True, ""),
    ],
)
def test_payment_reference(reference: str | None, belgian: bool, shown: str) -> None:
    assert payment_reference(reference, belgian=belgian) == shown


def test_amounts_keep_every_stated_decimal_and_show_unparsable_text() -> None:
    fr = Formatter("fr_BE")
    assert fr.money(Amount(Decimal("0.125"), "EUR", "0.125")) == "0,125\xa0€"
    assert fr.money(Amount(None, "EUR", "12,5 EUR")) == "12,5 EUR EUR"
    assert fr.iban("BE90001073948432") == "BE90 0010 7394 8432"
    assert fr.percent(Decimal("5.5")) == "5,5\xa0%"
    assert Formatter("en_IE").number(Decimal("1.500")) == "1.5"
