"""A UBL document read into the model without a tree of the whole document (large invoices): a pull parse
reads each invoice or credit note line as it ends and drops it, and keeps the root's other children (the
header), so a 5,000-line invoice costs its model, not its tree (README, *Memory, sixth pass*)."""

from __future__ import annotations

from lxml import etree

from gateway.errors import XMLInputError
from gateway.model import CreditNote, Invoice
from gateway.ubl.codes import CREDIT_NOTE_NS, UBL_NS
from gateway.ubl.reader import read_line, read_ubl, read_ubl_tree
from gateway.ubl.tree_lookup import Data
from gateway.xmlcore import DEFAULT_MAX_XML_BYTES, root_skeleton

_CREDIT_NOTE_ROOT = f"{{{CREDIT_NOTE_NS}}}CreditNote"
_INVOICE_LINE = f"{{{UBL_NS['cac']}}}InvoiceLine"
_CREDIT_NOTE_LINE = f"{{{UBL_NS['cac']}}}CreditNoteLine"


def read_ubl_streamed(data: bytes, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> Invoice | CreditNote:
    """Like ``read_ubl``, line by line: the same model and errors (an input the pull parse refuses is read
    by ``read_ubl``).

    Raises:
        XMLInputError, MappingError: as ``read_ubl``.
    """
    lines: list[Data] = []

    def keep(child: etree._Element) -> bool:
        parent = child.getparent()
        credit = parent is not None and parent.tag == _CREDIT_NOTE_ROOT
        if child.tag != (_CREDIT_NOTE_LINE if credit else _INVOICE_LINE):
            return True
        lines.append(read_line(child, credit))
        return False

    try:
        root = root_skeleton(data, keep=keep, what="UBL document", max_bytes=max_bytes)
    except XMLInputError:
        return read_ubl(data)
    return read_ubl_tree(root, lines=lines)
