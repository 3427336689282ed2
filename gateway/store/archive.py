"""Reads the evidence of a period out of the SQL store, one document at a time (layout: ``services.archive``).

Memory does not grow with the period: the documents of each direction are found in keyset pages over the
``(created_at, id)`` / ``(received_at, id)`` indexes, each page read in its own short read-only transaction,
and a document's files are handed over before the next document is read. At most one page of ids and one
document's files are held at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from sqlalchemy import Table, and_, or_, select

from gateway.model.message import AS4MessageRecord, Direction, DocumentContent, TimelineEvent
from gateway.services.archive import ArchivePeriod, http_message, json_file
from gateway.services.email_fallback import is_email_record
from gateway.store.sql import SQLDocumentStore, SQLUnitOfWork
from gateway.store.tables import inbound_documents, outbound_documents

#: Documents per page (one read-only transaction each).
PAGE_SIZE: Final = 200


class _Documents(Protocol):
    """What the export reads from the outbound and inbound repositories alike."""

    def get(self, document_id: str, /) -> object | None: ...

    def get_content(self, document_id: str, /) -> DocumentContent | None: ...


@dataclass(frozen=True, slots=True)
class _Side:
    """How one direction is read: its table and time column, repository and (outbound only) timeline."""

    direction: Direction
    folder: str
    table: Table
    moment: str
    documents: Callable[[SQLUnitOfWork], _Documents]
    timeline: Callable[[SQLUnitOfWork, str], list[TimelineEvent]] | None


_SIDES: Final = (
    _Side(
        Direction.OUT,
        "outbound",
        outbound_documents,
        "created_at",
        lambda uow: uow.outbound,
        lambda uow, document_id: uow.outbound.timeline(document_id),
    ),
    _Side(Direction.IN, "inbound", inbound_documents, "received_at", lambda uow: uow.inbound, None),
)


@dataclass(frozen=True, slots=True)
class ArchivedDocument:
    """One document's archive files (relative paths, ``/``-separated), in the order they are written."""

    folder: str  # "outbound" or "inbound"
    document_id: str
    files: Sequence[tuple[str, bytes]]


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return None  # bytes go to their own files
    return value


def _messages(
    uow: SQLUnitOfWork, prefix: str, records: list[AS4MessageRecord]
) -> Iterator[tuple[str, bytes]]:
    for n, record in enumerate(records, start=1):
        if is_email_record(record):
            yield f"{prefix}/messages/{n:02d}-email.eml", record.request.body
            continue
        yield (
            f"{prefix}/messages/{n:02d}-request.http",
            http_message(record.request.headers, record.request.body),
        )
        for m, signal in enumerate(uow.messages.signals(record.message_id, record.direction), start=1):
            name = f"{prefix}/messages/{n:02d}-signal-{m:02d}-{signal.kind.value}.http"
            yield name, http_message(signal.raw.headers, signal.raw.body)


def _message_index(records: list[AS4MessageRecord]) -> list[dict[str, Any]]:
    return [
        {
            "n": n,
            "message_id": r.message_id,
            "direction": r.direction.value,
            "created_at": r.created_at.isoformat(),
            "sbdh_instance_id": r.sbdh_instance_id,
            "channel": "email" if is_email_record(r) else "as4",
        }
        for n, r in enumerate(records, start=1)
    ]


def _page(
    uow: SQLUnitOfWork, side: _Side, period: ArchivePeriod, after: tuple[datetime, str] | None, limit: int
) -> list[tuple[datetime, str]]:
    """The next ``limit`` (time, id) keys of the period after ``after``, oldest first."""
    t = side.table
    moment = t.c[side.moment]
    # After the first page the index range starts at the last key read (within the period), not at the
    # period's start: each page costs the same however far into the period it is.
    conditions = [moment >= (period.since if after is None else after[0]), moment < period.until]
    if after is not None:
        # Keyset: strictly later, ties broken by id, so no document repeats or is skipped between pages.
        conditions.append(or_(moment > after[0], and_(moment == after[0], t.c.id > after[1])))
    rows = uow.connection.execute(
        select(moment, t.c.id).where(*conditions).order_by(moment, t.c.id).limit(limit)
    ).all()
    return [(row[0], row[1]) for row in rows]


def _document(uow: SQLUnitOfWork, side: _Side, document_id: str) -> ArchivedDocument | None:
    documents = side.documents(uow)
    document, content = documents.get(document_id), documents.get_content(document_id)
    if document is None or content is None:
        return None
    prefix = f"{side.folder}/{document_id}"
    records = [r for r in uow.messages.for_document(document_id) if r.direction is side.direction]
    record: dict[str, Any] = {"document": _plain(document), "validation_report": content.validation_report}
    if side.timeline is not None:
        record["status_history"] = _plain(side.timeline(uow, document_id))
    record["messages"] = _message_index(records)
    files = [(f"{prefix}/document.xml", content.body), (f"{prefix}/record.json", json_file(record))]
    files.extend(_messages(uow, prefix, records))
    return ArchivedDocument(side.folder, document_id, files)


def archived_documents(
    store: SQLDocumentStore, period: ArchivePeriod, *, page_size: int = PAGE_SIZE
) -> Iterator[ArchivedDocument]:
    """The period's outbound documents (created in it), then its inbound ones (received in it), one at a time.

    Raises:
        StoreError: the store failed.
        ValueError: ``page_size`` is not positive.
    """
    if page_size < 1:
        raise ValueError(f"page size must be positive, not {page_size}")
    for side in _SIDES:
        after: tuple[datetime, str] | None = None
        while True:
            with store.unit_of_work(read_only=True) as uow:
                page = _page(uow, side, period, after, page_size)
                for _, document_id in page:
                    archived = _document(uow, side, document_id)
                    if archived is not None:
                        yield archived
            if len(page) < page_size:
                break
            after = page[-1]
