"""The numbers of the documents received before migration 0015 (``gateway inbound backfill-numbers``).

The receiver stores a document's number with its verdict, read from the tree the validation parses. The
documents stored before that have none; this reads each one's stored bytes as far as its number (the root's
``cbc:ID``, ``number_of_bytes``: no whole tree, whatever the document's size) and stores it. Meant to run
once after the upgrade, while the gateway runs: a batch's documents are read one at a time in one
read-only unit of work, and their numbers written in one short unit of work, so memory stays that of one
document and receipts wait for one batch's updates at most. A row given its number meanwhile (its verdict
recorded) is left as it is. Rows that have no number to read (not well-formed, no ``cbc:ID``) are read
again by the next run; the document types the receiver numbers are the only ones read (``NUMBERED_ROOTS``),
and not those still awaiting their verdict (which brings the number).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from gateway.model.message import InboundDocument
from gateway.services.message_status import APPLICATION_RESPONSE_NS
from gateway.services.ports import DocumentStore
from gateway.services.receive_records import is_pending
from gateway.services.receive_validation import UBL_BILLING_STANDARDS
from gateway.ubl.document_number import number_of_bytes

log = logging.getLogger("gateway.receive")

#: The payload roots whose number the receiver stores: invoices, credit notes, ApplicationResponses.
NUMBERED_ROOTS: Final = UBL_BILLING_STANDARDS | {APPLICATION_RESPONSE_NS}
#: Documents read before their numbers are written in one unit of work.
DEFAULT_BATCH: Final = 200


@dataclass(frozen=True, slots=True)
class BackfillOutcome:
    """What a backfill did.

    Attributes:
        read: documents whose bytes were read.
        filled: documents given their number.
        without: documents read that have no number to read (not well-formed, no ``cbc:ID``).
    """

    read: int
    filled: int
    without: int


def backfill_numbers(
    store: DocumentStore,
    *,
    batch: int = DEFAULT_BATCH,
    progress: Callable[[BackfillOutcome], object] | None = None,
) -> BackfillOutcome:
    """Store the number of every received document that has none and can have one.

    Args:
        store: the document store.
        batch: documents read before their numbers are written (one unit of work).
        progress: called with the totals after each batch.

    Raises:
        StoreError: the store failed (the batches written before stay written; run it again).
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    after = ""
    read = filled = without = 0
    while True:
        with store.unit_of_work(read_only=True) as uow:
            documents = uow.inbound.without_number(after=after, limit=batch)
        if not documents:
            return BackfillOutcome(read, filled, without)
        after = documents[-1].id
        numbers: dict[str, str] = {}
        with store.unit_of_work(read_only=True) as uow:  # one short read transaction per batch
            for document in documents:
                if not _numbered(document):
                    continue
                content = uow.inbound.get_content(document.id)
                if content is None:  # deleted meanwhile (retention)
                    continue
                read += 1
                number = number_of_bytes(content.body)
                del content  # one document's bytes at a time
                if number is None:
                    without += 1
                else:
                    numbers[document.id] = number
        if numbers:
            with store.unit_of_work() as uow:
                filled += sum(uow.inbound.fill_number(key, number) for key, number in numbers.items())
                uow.commit()
        if progress is not None:
            progress(BackfillOutcome(read, filled, without))


def _numbered(document: InboundDocument) -> bool:
    """Whether the receiver would have read this document's number (and has not: pending validation)."""
    return document.document_type.root_namespace in NUMBERED_ROOTS and not is_pending(document)
