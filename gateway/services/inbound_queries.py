"""Read-side use cases for received business documents: one document with its content and report, and the
listing."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import DocumentNotFound
from gateway.model.message import DocumentContent, InboundDocument, InboundStatus
from gateway.services.ports import DocumentStore, InboundQuery, Page


@dataclass(frozen=True, slots=True)
class InboundDetail:
    """A received document with its stored bytes and validation report.

    Attributes:
        document: metadata and validation state.
        content: the business document bytes and the report.
    """

    document: InboundDocument
    content: DocumentContent


def get_inbound(store: DocumentStore, document_id: str) -> InboundDetail:
    """One received document.

    Raises:
        DocumentNotFound: no such document.
    """
    with store.unit_of_work(read_only=True) as uow:
        document = uow.inbound.get(document_id)
        content = uow.inbound.get_content(document_id)
    if document is None or content is None:
        raise DocumentNotFound(document_id, "inbound document")
    return InboundDetail(document, content)


def list_inbound(store: DocumentStore, query: InboundQuery) -> Page[InboundDocument]:
    """One page of received documents matching the query, newest first."""
    with store.unit_of_work(read_only=True) as uow:
        return uow.inbound.search(query)


def received_counts(store: DocumentStore) -> dict[InboundStatus, int]:
    """Received documents per validation status."""
    with store.unit_of_work(read_only=True) as uow:
        return uow.inbound.count_by_status()
