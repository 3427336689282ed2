"""The API's text form of a listing cursor (the store only sees the plain PageCursor value)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.api.cursor import decode_cursor, encode_cursor
from gateway.errors import InvalidCursor
from gateway.services.ports import PageCursor

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "%%%", "bm9waXBl", encode_cursor(PageCursor(T0, "x"))[:-3]])
def test_a_malformed_cursor_is_refused(text: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(text)


def test_a_cursor_survives_encoding() -> None:
    cursor = PageCursor(T0, "0b4f-id")
    assert decode_cursor(encode_cursor(cursor)) == cursor


def test_the_store_cursor_carries_no_text_codec() -> None:
    assert not hasattr(PageCursor, "encode")
    assert not hasattr(PageCursor, "decode")


def test_a_cursor_keeps_its_order_and_is_refused_in_another() -> None:
    cursor = PageCursor(T0, "0b4f-id")
    assert decode_cursor(encode_cursor(cursor, "oldest"), "oldest") == cursor
    with pytest.raises(InvalidCursor, match="order=oldest"):
        decode_cursor(encode_cursor(cursor, "oldest"))
    with pytest.raises(InvalidCursor, match="default order"):
        decode_cursor(encode_cursor(cursor), "oldest")
    with pytest.raises(ValueError, match="tag"):
        encode_cursor(cursor, "2026")
