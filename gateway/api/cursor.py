"""The text form of a listing cursor in the API: opaque, URL-safe base64 of ``<ISO time>|<id>``, or of
``<order>|<ISO time>|<id>`` for a listing in another order than its default (``GET /v1/expenses?order=oldest``
pages by the document's receipt, not by creation): the cursor says its order, so one from a listing in
another order is refused rather than giving wrong pages.

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
#: An order's tag in a cursor: letters only, so never taken for the ISO time (which starts with a digit).
_ORDER: Final = re.compile(r"[a-z]{1,16}")
#: Longest cursor text: ours are under 100 characters.
_MAX_TEXT: Final = 512


def encode_cursor(cursor: PageCursor, order: str | None = None) -> str:
    """An opaque URL-safe string for the API; ``order``: the listing's order when not its default (a
    lower-case word), kept in the text."""
    if order is not None and not _ORDER.fullmatch(order):
        raise ValueError(f"{order!r} is not an order's tag")
    raw = f"{order + '|' if order else ''}{cursor.at.isoformat()}|{cursor.id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str, order: str | None = None) -> PageCursor:
    """Decode a string made by :func:`encode_cursor` for a listing in ``order`` (None: its default).

    Raises:
        InvalidCursor: the text is not such a cursor, or is one of the listing in another order.
    """
    # The text is not echoed in full: it may be long, and it is the client's own anyway.
    invalid = InvalidCursor(f"cursor {text[:40]!r}{'…' if len(text) > 40 else ''} is not valid")
    if len(text) > _MAX_TEXT:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
        tag, _, rest = raw.partition("|")
        made_for = tag if _ORDER.fullmatch(tag) else None
        stamp, sep, ident = (rest if made_for else raw).partition("|")
        at = datetime.fromisoformat(stamp)
        at.astimezone(UTC)  # the store compares in UTC: 0001-01-01T00:00+14:00 has no such instant
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid from exc
    if not sep or not _ID.fullmatch(ident) or at.tzinfo is None:
        raise invalid
    if made_for != order:
        said = f"order={made_for}" if made_for else "the default order"
        asked = f"order={order}" if order else "the default order"
        raise InvalidCursor(
            f"this cursor pages the listing in {said}, not in {asked}: page with the same order, or start"
            " again without a cursor"
        )
    return PageCursor(at, ident)
