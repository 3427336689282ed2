"""A business document's own number, its root's ``cbc:ID`` (BT-1 of an Invoice or CreditNote; the
identifier of an ApplicationResponse, T111 or MLS), read from a tree already parsed or, for documents
stored before the number was (``gateway inbound backfill-numbers``), from the bytes as far as that element.
"""

from __future__ import annotations

from lxml import etree

from gateway.errors import XMLInputError
from gateway.model.document_number import stored_number
from gateway.ubl.tree_lookup import child_steps, text_at
from gateway.xmlcore.stream import top_level_element


def number_of_tree(root: etree._Element) -> str | None:
    """The number of a parsed document (stripped, bounded: ``stored_number``), or None when it has none."""
    return stored_number(text_at(root, "cbc:ID"))


def number_of_bytes(data: bytes) -> str | None:
    """The number of a document's bytes, parsed only as far as the root's ``cbc:ID`` (the root's other
    children are dropped as they end: an attachment before it costs no memory); None when the document has
    none or is not well-formed."""
    try:
        element = top_level_element(data, child_steps("cbc:ID")[0], what="document")
    except XMLInputError:
        return None
    return stored_number(element.text) if element is not None else None
