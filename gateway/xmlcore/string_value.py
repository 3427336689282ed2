"""An element's string value, as XPath and the validators read it."""

from __future__ import annotations

from lxml import etree


def string_value(element: etree._Element) -> str:
    """The text of ``element`` and its descendants, in document order, comments and processing instructions
    left out (XPath's string value): ``.text`` alone stops at a comment inside it
    (``<cbc:ID>2026-<!---->1</cbc:ID>`` is ``2026-1`` to the Schematron, ``2026-`` to ``.text``)."""
    return "".join(str(t) for t in element.itertext())
