"""A received invoice or credit note read for its expense draft, by one of two paths: small documents as a
whole model (``gateway.ubl.read_ubl``: the tree), large ones line by line (``read_ubl_line_by_line``: the
header's model and each line's draft row, never the model of every line at once). Either way the same draft
values and routing follow (``draft_of``), and the same errors."""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from gateway.model import CreditNote, Invoice, ParticipantID
from gateway.services.expense_drafts import DraftLines, DraftValues, build_draft
from gateway.services.routing import DocumentReferences, RoutedDocument
from gateway.ubl import read_ubl, read_ubl_line_by_line

#: From this size up a document is read for its draft line by line (``read_for_draft``): its header's
#: model and each line's draft row, never the model of every line at once (BENCHMARKS.md, *Memory, eighth
#: pass*).
LINE_BY_LINE_ABOVE_BYTES: Final = 1024 * 1024


def read_for_draft(body: bytes) -> tuple[Invoice | CreditNote, DraftLines | None]:
    """A received document read for its draft: the whole model and None below
    ``LINE_BY_LINE_ABOVE_BYTES``; from there up, by ``read_ubl_line_by_line``: the header's model and
    the lines' draft rows and routing references (or the whole model and None, when that reader fell back
    on it). Either way the same draft and routing follow, and the same errors.

    Raises:
        XMLInputError, MappingError: as ``gateway.ubl.read_ubl``.
    """
    if len(body) < LINE_BY_LINE_ABOVE_BYTES:
        return read_ubl(body), None
    lines = DraftLines()
    read = read_ubl_line_by_line(body, lines.add)
    return read.document, lines if read.handed_on else None


def draft_of(
    model: Invoice | CreditNote,
    lines: DraftLines | None,
    sender: ParticipantID,
    receiver: ParticipantID | None = None,
    ours: Collection[ParticipantID] = (),
) -> tuple[DraftValues, RoutedDocument]:
    """The draft values and what routing reads, of a model holding its lines (``lines`` None) or of a
    header read line by line (``receiver``: the SBDH receiver; ``ours``: every participant we serve;
    ``build_draft``)."""
    if lines is None:
        return build_draft(model, sender=sender, receiver=receiver, ours=ours), model
    values = build_draft(model, sender=sender, receiver=receiver, ours=ours, lines=lines.rows)
    return values, DocumentReferences.of(model, lines.references)
