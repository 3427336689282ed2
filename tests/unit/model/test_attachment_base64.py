"""BT-125 attached documents (``Base64Text``): judged exactly as ``b64decode(validate=True)`` judges them,
checked slice by slice, and their decoded size known without decoding them."""

from __future__ import annotations

import base64
import binascii
import random
import re
import tracemalloc

import pytest
from pydantic import TypeAdapter, ValidationError

from gateway.model import document
from gateway.model.document import Base64Text, base64_decoded_size

BASE64_TEXT: TypeAdapter[str] = TypeAdapter(Base64Text)


def _whole(value: str) -> str | None:
    """The judgement before slicing: compact, then decode the whole text."""
    compact = re.sub(r"\s", "", value)
    try:
        base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    return compact


def _sliced(value: str) -> str | None:
    try:
        return BASE64_TEXT.validate_python(value)
    except ValidationError:
        return None


@pytest.mark.parametrize("slice_chars", [4, 8, 12])
def test_slices_judge_every_text_as_the_whole_decode_does(
    monkeypatch: pytest.MonkeyPatch, slice_chars: int
) -> None:
    # Slices of a few characters, so texts of up to 40 cross many slice boundaries: padding before,
    # across and after a boundary, padding alone in a slice, blanks, characters outside the alphabet.
    monkeypatch.setattr(document, "_BASE64_SLICE", slice_chars)
    rnd = random.Random(slice_chars)
    accepted = 0
    for alphabet in ("AB+/=a9 \n=é-", "AB==", "Ab=", "AAAAAAAb9+/=\n"):
        for length in range(41):
            for _ in range(150):
                text = "".join(rnd.choice(alphabet) for _ in range(length))
                expected = _whole(text)
                accepted += expected is not None
                assert _sliced(text) == expected, repr(text)
    for length in range(60):
        encoded = base64.b64encode(rnd.randbytes(length)).decode()
        wrapped = "\n".join(encoded[i : i + 7] for i in range(0, len(encoded), 7))
        assert _sliced(wrapped) == encoded
    assert accepted > 1000  # the cases are not all refusals


def test_decoded_size_is_the_length_of_the_decoded_bytes() -> None:
    rnd = random.Random(5)
    for length in range(200):
        encoded = base64.b64encode(rnd.randbytes(length)).decode()
        assert base64_decoded_size(encoded) == length
    # Every text the check accepts, extra padding included (b64decode stops at the first padding).
    assert base64_decoded_size(BASE64_TEXT.validate_python("AAAAAAAA====")) == 6
    assert base64_decoded_size(BASE64_TEXT.validate_python("AAAAAAAA=========")) == 6
    accepted = 0
    for alphabet in ("AB+/=a9 \n", "AB==", "Ab=", "A="):
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
