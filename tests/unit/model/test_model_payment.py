"""Belgian structured communication (OGM/VCS), ISO 11649 RF references and IBAN checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import InvalidDocumentData
from gateway.model import (
    format_structured_communication,
    is_valid_creditor_reference,
    is_valid_iban,
    normalise_payment_reference,
    parse_structured_communication,
    structured_communication_from_number,
)


def test_reference_example_from_bis_billing_doc() -> None:
    # bis-billing.md §6.3: base 0000471100 -> +++000/0471/10068+++
    assert format_structured_communication("000047110068") == "+++000/0471/10068+++"
    assert structured_communication_from_number("471100") == "+++000/0471/10068+++"


@pytest.mark.parametrize(
    "text", ["+++000/0471/10068+++", "000047110068", "***000/0471/10068***", " 000 0471 10068 "]
)
def test_parse_accepts_display_and_bare_forms(text: str) -> None:
    assert parse_structured_communication(text) == "000047110068"


def test_remainder_zero_becomes_97() -> None:
    base = "0000000097"  # 97 mod 97 = 0 -> check digits 97
    assert parse_structured_communication(base + "97") == base + "97"
    with pytest.raises(InvalidDocumentData):
        parse_structured_communication(base + "00")


def test_bad_check_digits_are_refused_with_expected_value() -> None:
    with pytest.raises(InvalidDocumentData, match=r"BT-83.*check digits 69, expected 68"):
        parse_structured_communication("+++000/0471/10069+++")


@pytest.mark.parametrize("text", ["+++000/0471/1006+++", "", "12345678901234"])
def test_wrong_length_is_refused(text: str) -> None:
    with pytest.raises(InvalidDocumentData, match="12 digits"):
        parse_structured_communication(text)


def test_generation_uses_sequence_and_series() -> None:
    # 7-digit sequence 0004711 + series "026" (from 2026)
    assert (
        structured_communication_from_number("2026-0004711") == "+++000/4711/02627+++"
    )  # 4711026 mod 97 = 27
    assert parse_structured_communication(structured_communication_from_number("INV/2026/12"))


def test_generation_needs_digits() -> None:
    with pytest.raises(InvalidDocumentData, match="BT-1"):
        structured_communication_from_number("ABC")


@given(st.from_regex(r"[A-Z]{0,3}-?[0-9]{1,6}[-/][0-9]{1,9}", fullmatch=True))
def test_generated_ogm_is_always_valid_and_deterministic(number: str) -> None:
    ogm = structured_communication_from_number(number)
    assert ogm == structured_communication_from_number(number)
    assert format_structured_communication(parse_structured_communication(ogm)) == ogm


def test_rf_creditor_reference() -> None:
    assert is_valid_creditor_reference("RF18 5390 0754 7034")
    assert not is_valid_creditor_reference("RF19 5390 0754 7034")
    assert normalise_payment_reference("rf18 5390 0754 7034") == "RF18539007547034"
    with pytest.raises(InvalidDocumentData, match="ISO 11649"):
        normalise_payment_reference("RF19539007547034")


def test_normalise_ogm_to_display_form() -> None:
    assert normalise_payment_reference("000047110068") == "+++000/0471/10068+++"
    with pytest.raises(InvalidDocumentData):
        normalise_payment_reference("free text reference")


def test_iban() -> None:
    assert is_valid_iban("BE90 0010 7394 8432")
    assert not is_valid_iban("BE91001073948432")
    assert not is_valid_iban("BE9000107394843")  # Belgian IBANs have 16 characters
    assert is_valid_iban("NL91ABNA0417164300")
