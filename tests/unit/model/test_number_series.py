"""Which series an Invoice Response's type code points into (``gateway.model.number_series``)."""

from __future__ import annotations

import pytest

from gateway.model import BIS_CREDIT_NOTE, BIS_INVOICE
from gateway.model.number_series import (
    BILLING_TYPES,
    CREDIT_NOTE_TYPE_CODES,
    INVOICE_TYPE_CODES,
    answered_types,
)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("380", (BIS_INVOICE,)),
        ("384", (BIS_INVOICE,)),  # corrected invoice
        ("389", BILLING_TYPES),  # self-billed: not a BIS Billing (profile 01) code
        ("381", (BIS_CREDIT_NOTE,)),
        (" 381 ", (BIS_CREDIT_NOTE,)),
        ("396", (BIS_CREDIT_NOTE,)),
        (None, BILLING_TYPES),
        ("", BILLING_TYPES),
        ("999", BILLING_TYPES),
    ],
)
def test_a_type_code_names_its_series_and_an_absent_or_unknown_one_both(
    code: str | None, expected: tuple[object, ...]
) -> None:
    assert answered_types(code) == expected


def test_no_code_is_both_an_invoice_and_a_credit_note_code() -> None:
    assert not INVOICE_TYPE_CODES & CREDIT_NOTE_TYPE_CODES
