"""BT-125 attached documents (``Base64Text``): judged exactly as the schema's ``xs:base64Binary`` judges
them (``is_xsd_base64``: what the UBL's XSD layer would refuse later is refused at the JSON input), checked
slice by slice, and their decoded size known without decoding them."""

from __future__ import annotations

import base64
import random
import tracemalloc

import pytest
from pydantic import TypeAdapter, ValidationError

from gateway.model import document
from gateway.model.document import Base64Text, SupportingDocument, base64_decoded_size, is_xsd_base64
from tests.base64_rule import schema_compact

BASE64_TEXT: TypeAdapter[str] = TypeAdapter(Base64Text)

#: Outside ``xs:base64Binary``, all but padding in the middle (``QUI=\nQUJD``) accepted by
#: ``b64decode(validate=True)`` once Unicode blanks are dropped: padding beyond the last quantum, a quantum of
#: one character and padding, unused bits set, blanks other than XML's.
OUTSIDE_THE_SCHEMA = [
    "AAAA====",
    "QUJD=",
    "QUJD====",
    "QR==",
    "QUI=\nQUJD",
    "QU\u00a0JD",
    "QU\x0cJD",
    "QU\x0bJD",
]
#: ``xs:base64Binary`` with XML's blanks (space, tab, CR, LF) between any characters, as wrapped base64 has.
WITH_XML_BLANKS = {
    "QUJD\r\nQUJD": "QUJDQUJD",
    "QUJD\nQUI=\n": "QUJDQUI=",
    " Q U\nJ\tD ": "QUJD",
    "QQ= =": "QQ==",
    "": "",
}


def _sliced(value: str) -> str | None:
    try:
        return BASE64_TEXT.validate_python(value)
    except ValidationError:
        return None


@pytest.mark.parametrize("value", OUTSIDE_THE_SCHEMA, ids=repr)
def test_base64_outside_the_schema_is_a_field_error(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SupportingDocument.model_validate(
            {"id": "att-1", "content": value, "mime_code": "application/pdf", "filename": "a.pdf"}
        )
    [error] = caught.value.errors(include_url=False)
    assert error["loc"] == ("content",)
    assert "BT-125 attached document is not valid base64 (xs:base64Binary" in error["msg"]


@pytest.mark.parametrize(("value", "compact"), WITH_XML_BLANKS.items(), ids=repr)
def test_base64_with_xml_blanks_between_characters_is_accepted(value: str, compact: str) -> None:
    assert BASE64_TEXT.validate_python(value) == compact


@pytest.mark.parametrize("slice_chars", [4, 8, 12])
def test_slices_judge_every_text_as_the_schema_does(
    monkeypatch: pytest.MonkeyPatch, slice_chars: int
) -> None:
    # Slices of a few characters, so texts of up to 40 cross many slice boundaries: padding before,
    # across and after a boundary, padding alone in a slice, blanks, characters outside the alphabet.
    monkeypatch.setattr(document, "_BASE64_SLICE", slice_chars)
    rnd = random.Random(slice_chars)
    accepted = 0
    for alphabet in ("AB+/=a9 \n=é-", "AB==", "AQ= ", "Ab=\t", "AAAAAAAb9+/=\n\u00a0\x0b"):
        for length in range(41):
            for _ in range(150):
                text = "".join(rnd.choice(alphabet) for _ in range(length))
                expected = schema_compact(text)
                accepted += expected is not None
                assert _sliced(text) == expected, repr(text)
                assert is_xsd_base64(text) is (expected is not None), repr(text)
    for length in range(60):
        encoded = base64.b64encode(rnd.randbytes(length)).decode()
        wrapped = "\n".join(encoded[i : i + 7] for i in range(0, len(encoded), 7))
        assert _sliced(wrapped) == encoded
    assert accepted > 500  # the cases are not all refusals


def test_decoded_size_is_the_length_of_the_decoded_bytes() -> None:
    rnd = random.Random(5)
    for length in range(200):
        encoded = base64.b64encode(rnd.randbytes(length)).decode()
        assert base64_decoded_size(encoded) == length
    # Every text the check accepts.
    accepted = 0
    for alphabet in ("AB+/=a9 \n", "AB==", "AQ=", "A="):
        for length in range(41):
            for _ in range(100):
                text = "".join(rnd.choice(alphabet) for _ in range(length))
                compact = _sliced(text)
                if compact is not None:
                    accepted += 1
                    assert base64_decoded_size(compact) == len(base64.b64decode(compact)), repr(text)
    assert accepted > 500


def test_a_large_attachment_is_checked_without_a_decoded_copy() -> None:
    encoded = base64.b64encode(random.Random(3).randbytes(12 * 1024 * 1024)).decode()  # 16 MiB of text
    tracemalloc.start()
    try:
        assert BASE64_TEXT.validate_python(encoded) is encoded
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024  # the whole decode held 12 MiB of bytes and a 16 MiB ASCII copy


def test_a_large_wrapped_attachment_is_stripped_of_its_blanks_without_a_second_copy() -> None:
    encoded = base64.b64encode(random.Random(4).randbytes(12 * 1024 * 1024)).decode()
    wrapped = "\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))  # as MIME wraps it
    tracemalloc.start()
    try:
        compact = BASE64_TEXT.validate_python(wrapped)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert compact == encoded
    # Beyond the result (16 MiB): a slice. One re.sub over the whole text held 30 MiB more.
    assert peak - len(compact) < 4 * 1024 * 1024


def test_blanks_between_every_character_are_stripped_a_slice_at_a_time_without_pieces() -> None:
    # The worst case for stripping: a blank after every character. Only XML's four blanks can be left once
    # the text is accepted; ``str.translate`` deletes them in one pass per slice, where ``re.sub`` held a
    # piece per run of characters (9 MiB beside the result for a 1 Mi slice) and took five times as long.
    spaced = "A " * (2 * 1024 * 1024)
    tracemalloc.start()
    try:
        compact = BASE64_TEXT.validate_python(spaced)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert compact == "A" * (2 * 1024 * 1024)
    assert peak - len(compact) < 4 * 1024 * 1024
