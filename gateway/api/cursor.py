"""The text form of a listing cursor in the API: opaque, URL-safe base64 of ``<ISO time>|<id>``.

The store pages by a plain :class:`~gateway.services.ports.PageCursor` value; only the API edge turns it
into text for ``next_cursor`` and reads it back from ``?cursor=``.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from gateway.errors import InvalidCursor
from gateway.services.ports import PageCursor


def encode_cursor(cursor: PageCursor) -> str:
    """An opaque URL-safe string for the API."""
    raw = f"{cursor.at.isoformat()}|{cursor.id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str) -> PageCursor:
    """Decode a string made by :func:`encode_cursor`.

    Raises:
        InvalidCursor: the text is not such a cursor.
    """
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
        stamp, sep, ident = raw.partition("|")
        at = datetime.fromisoformat(stamp)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor(f"cursor {text!r} is not valid") from exc
    if not sep or not ident or at.tzinfo is None:
        raise InvalidCursor(f"cursor {text!r} is not valid")
    return PageCursor(at, ident)
