"""Reads the evidence of a period out of the SQL store as archive files (layout: ``services.archive``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from gateway.model.message import AS4MessageRecord, Direction
from gateway.services.archive import ArchivePeriod, http_message, json_file
from gateway.services.email_fallback import is_email_record
from gateway.store.sql import SQLDocumentStore, SQLUnitOfWork
from gateway.store.tables import inbound_documents, outbound_documents


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


def archive_files(store: SQLDocumentStore, period: ArchivePeriod) -> tuple[dict[str, bytes], dict[str, int]]:
    """Every file of the period's outbound and inbound documents, and their counts per direction.

    Raises:
        StoreError: the store failed.
    """
    files: dict[str, bytes] = {}
    counts = {"outbound": 0, "inbound": 0}
    with store.unit_of_work(read_only=True) as uow:
        o, i = outbound_documents, inbound_documents
        outbound_ids = uow.connection.execute(
            select(o.c.id)
            .where(o.c.created_at >= period.since, o.c.created_at < period.until)
            .order_by(o.c.id)
        ).scalars()
        for document_id in list(outbound_ids):
            document, content = uow.outbound.get(document_id), uow.outbound.get_content(document_id)
            if document is None or content is None:
                continue
            prefix = f"outbound/{document_id}"
            records = [r for r in uow.messages.for_document(document_id) if r.direction is Direction.OUT]
            files[f"{prefix}/document.xml"] = content.body
            files[f"{prefix}/record.json"] = json_file(
                {
                    "document": _plain(document),
                    "validation_report": content.validation_report,
                    "status_history": _plain(uow.outbound.timeline(document_id)),
                    "messages": _message_index(records),
                }
            )
            files.update(_messages(uow, prefix, records))
            counts["outbound"] += 1
        inbound_ids = uow.connection.execute(
            select(i.c.id)
            .where(i.c.received_at >= period.since, i.c.received_at < period.until)
            .order_by(i.c.id)
        ).scalars()
        for document_id in list(inbound_ids):
            received, body = uow.inbound.get(document_id), uow.inbound.get_content(document_id)
            if received is None or body is None:
                continue
            prefix = f"inbound/{document_id}"
            records = [r for r in uow.messages.for_document(document_id) if r.direction is Direction.IN]
            files[f"{prefix}/document.xml"] = body.body
            files[f"{prefix}/record.json"] = json_file(
                {
                    "document": _plain(received),
                    "validation_report": body.validation_report,
                    "messages": _message_index(records),
                }
            )
            files.update(_messages(uow, prefix, records))
            counts["inbound"] += 1
    return files, counts
