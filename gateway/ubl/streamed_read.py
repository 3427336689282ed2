"""A UBL document read into the model without a tree of the whole document (large invoices): a pull parse
reads each invoice or credit note line as it ends and drops it, and keeps the root's other children (the
header), so a 5,000-line invoice costs its model, not its tree (BENCHMARKS.md, *Memory, sixth pass*).

:func:`read_ubl_line_by_line` goes one step further for the receiver's expense draft: each line's model is
handed on and dropped as well, so the document costs its header and what the caller keeps of each line
(BENCHMARKS.md, *Memory, eighth pass*)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree
from pydantic import ValidationError

from gateway.errors import GatewayError, XMLInputError
from gateway.model import CreditNote, Invoice, InvoiceLine
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
        if not _is_line(child):
            return True
        lines.append(read_line(child, _in_credit_note(child)))
        return False

    try:
        root = root_skeleton(data, keep=keep, what="UBL document", max_bytes=max_bytes)
    except XMLInputError:
        return read_ubl(data)
    return read_ubl_tree(root, lines=lines)


@dataclass(frozen=True, slots=True)
class LineByLine:
    """What :func:`read_ubl_line_by_line` read.

    Attributes:
        document: the document with its first line only when ``handed_on``, else the whole document.
        handed_on: True: every line went to the caller's ``on_line``, in document order, and ``document``
            holds only the first of them; False: ``on_line``'s calls are void (it may have seen some lines
            before the reader gave up) and ``document`` is the whole document, as ``read_ubl`` reads it.
    """

    document: Invoice | CreditNote
    handed_on: bool


class _Refused(Exception):
    """A line or the header the one-by-one read cannot vouch for: read the whole document instead."""


def read_ubl_line_by_line(
    data: bytes,
    on_line: Callable[[InvoiceLine, bool], None],
    *,
    max_bytes: int = DEFAULT_MAX_XML_BYTES,
) -> LineByLine:
    """Read a document as ``read_ubl`` would, each line's model handed to ``on_line(line, credit)`` and
    dropped, so that the whole document's model never exists at once.

    The document is the same ``read_ubl`` reads: each line is validated on its own (a line's model does not
    depend on the document around it), the header with the first line, and the one check spanning the
    lines (unique BT-126 identifiers) is made on their identifiers. Whenever one of these fails, the
    whole document is read as ``read_ubl_streamed`` reads it, so the outcome - and any error, word for
    word - is ``read_ubl``'s (then ``handed_on`` is False).

    Raises:
        XMLInputError, MappingError: as ``read_ubl``.
    """
    first: list[Data] = []
    ids: set[str] = set()

    def keep(child: etree._Element) -> bool:
        if not _is_line(child):
            return True
        credit = _in_credit_note(child)
        values = read_line(child, credit)
        try:
            line = InvoiceLine.model_validate(values)
        except ValidationError as exc:
            raise _Refused from exc
        if line.id in ids:
            raise _Refused
        ids.add(line.id)
        if not first:
            first.append(values)
        on_line(line, credit)
        return False

    try:
        root = root_skeleton(data, keep=keep, what="UBL document", max_bytes=max_bytes)
        header = read_ubl_tree(root, lines=first)
    except (_Refused, GatewayError):
        return LineByLine(read_ubl_streamed(data, max_bytes=max_bytes), handed_on=False)
    return LineByLine(header, handed_on=True)


def _is_line(child: etree._Element) -> bool:
    return child.tag == (_CREDIT_NOTE_LINE if _in_credit_note(child) else _INVOICE_LINE)


def _in_credit_note(child: etree._Element) -> bool:
    parent = child.getparent()
    return parent is not None and parent.tag == _CREDIT_NOTE_ROOT
