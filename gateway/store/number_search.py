"""The SQL conditions of a document number search (``NumberSearch``) on a lower-case number key column.

One translation for every search by number: ``GET /v1/inbound?number=`` and ``GET /v1/expenses?number=``
(an expense is found by its received document's key, ``store/expenses.py``) match alike.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement

from gateway.model.document_number import NumberSearch


def number_conditions(
    column: ColumnElement[str], search: NumberSearch, dialect: str
) -> list[ColumnElement[bool]]:
    """The conditions (AND) that ``column`` (a ``number_key``) is the searched number, or starts with it.

    Args:
        column: the lower-case key column.
        search: the search as parsed.
        dialect: the connection's dialect name (``sqlite`` adds the prefix's range, below).
    """
    if not search.prefix:
        return [column == search.key]
    # LIKE with its wildcards escaped; the key and the search are lower case on both databases.
    conditions = [column.startswith(search.key, autoescape=True)]
    if dialect == "sqlite":  # its LIKE uses no index of a BINARY column: the range of the keys starting
        # with the prefix (byte order, as BINARY compares) does
        conditions.extend(prefix_range(column, search.key))
    return conditions


def prefix_range(column: ColumnElement[str], prefix: str) -> list[ColumnElement[bool]]:
    """The values starting with ``prefix`` in code point order (SQLite's BINARY collation): at least the
    prefix and below the prefix with its last character's successor (none after U+10FFFF)."""
    bounds = [column >= prefix]
    following = ord(prefix[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # no surrogate is text: the next character is U+E000
        following = 0xE000
    if following <= 0x10FFFF:
        bounds.append(column < prefix[:-1] + chr(following))
    return bounds
