"""The text form of a listing cursor in the API: opaque, URL-safe base64 of ``<ISO time>|<id>``.

The store pages by a plain :class:`~gateway.services.ports.PageCursor` value; only the API edge turns it
into text for ``next_cursor`` and reads it back from ``?cursor=``.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Final

from gateway.errors import InvalidCursor
from gateway.services.ports import PageCursor

#: A document id as the store keeps them (UUIDs; the same alphabet as a document id in a path).
_ID: Final = re.compile(r"[!-~]{1,128}")
#: Longest cursor text: ours are under 100 characters.
_MAX_TEXT: Final = 512


def encode_cursor(cursor: PageCursor) -> str:
    """An opaque URL-safe string for the API."""
    raw = f"{cursor.at.isoformat()}|{cursor.id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str) -> PageCursor:
    """Decode a string made by :func:`encode_cursor`.

    Raises:
        InvalidCursor: the text is not such a cursor.
    """
    # The text is not echoed in full: it may be long, and it is the client's own anyway.
    invalid = InvalidCursor(f"cursor {text[:40]!r}{'…' if len(text) > 40 else ''} is not valid")
    if len(text) > _MAX_TEXT:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
        stamp, sep, ident = raw.partition("|")
        at = datetime.fromisoformat(stamp)
        at.astimezone(UTC)  # the store compares in UTC: 0001-01-01T00:00+14:00 has no such instant
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid from exc
    if not sep or not _ID.fullmatch(ident) or at.tzinfo is None:
        raise invalid
    return PageCursor(at, ident)
