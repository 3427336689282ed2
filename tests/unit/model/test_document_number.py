"""A received document's number as stored (stripped, bounded) and the search support types for it."""

from __future__ import annotations

import pytest

from gateway.errors import InvalidIdentifier
from gateway.model.document_number import MAX_DOCUMENT_NUMBER, NumberSearch, number_key, stored_number
from gateway.ubl.document_number import number_of_bytes

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        (None, None),
        ("", None),
        ("  \n ", None),
        (" INV-123 \n", "INV-123"),
        ("x" * 250, "x" * MAX_DOCUMENT_NUMBER),
        ("a" * 199 + " b", "a" * 199),  # cut, then stripped again
    ],
)
def test_the_stored_number_is_stripped_and_bounded(text: str | None, stored: str | None) -> None:
    assert stored_number(text) == stored


def test_the_key_is_lower_case_and_bounded_even_when_lowering_grows_it() -> None:
    assert number_key("INV-Été") == "inv-été"
    assert len("İ".lower()) == 2
    assert number_key("İ" * MAX_DOCUMENT_NUMBER) == ("İ" * MAX_DOCUMENT_NUMBER).lower()[:MAX_DOCUMENT_NUMBER]


@pytest.mark.parametrize(
    ("text", "search"),
    [
        ("INV-123", NumberSearch("inv-123")),
        ("  inv-123  ", NumberSearch("inv-123")),
        ("INV-12*", NumberSearch("inv-12", prefix=True)),
        ("INV-12 *", NumberSearch("inv-12", prefix=True)),
        ("a*b", NumberSearch("a*b")),  # a star inside is the character itself
        ("9" * MAX_DOCUMENT_NUMBER + "*", NumberSearch("9" * MAX_DOCUMENT_NUMBER, prefix=True)),
    ],
)
def test_a_search_is_the_whole_number_or_a_prefix_ending_in_a_star(text: str, search: NumberSearch) -> None:
    assert NumberSearch.parse(text) == search
    assert NumberSearch.parse(search.text()) == search


@pytest.mark.parametrize(
    "text", ["", "   ", "*", " * ", "INV\n1", "INV\x001", "9" * (MAX_DOCUMENT_NUMBER + 1)]
)
def test_a_search_that_cannot_be_a_number_is_refused(text: str) -> None:
    with pytest.raises(InvalidIdentifier):
        NumberSearch.parse(text)


def test_the_number_is_read_from_the_bytes_as_far_as_the_roots_id() -> None:
    head = f'<Invoice xmlns:cbc="{CBC}"><cbc:CustomizationID>c</cbc:CustomizationID><cbc:ID> N-1 </cbc:ID>'
    assert number_of_bytes(f"{head}<cbc:Note>x</cbc:Note></Invoice>".encode()) == "N-1"
    assert number_of_bytes(f'<Invoice xmlns:cbc="{CBC}"><cbc:Note>x</cbc:Note></Invoice>'.encode()) is None
    assert number_of_bytes(b"<Invoice><unclosed></Invoice>") is None
    # A line's cbc:ID is not the document's: only the root's own children count.
    nested = f'<Invoice xmlns:cbc="{CBC}" xmlns:cac="c"><cac:Line><cbc:ID>1</cbc:ID></cac:Line></Invoice>'
    assert number_of_bytes(nested.encode()) is None
    dtd = (
        b'<!DOCTYPE Invoice [<!ENTITY e "x">]><Invoice xmlns:cbc="'
        + CBC.encode()
        + b'"><cbc:ID>&e;</cbc:ID></Invoice>'
    )
    assert number_of_bytes(dtd) is None
