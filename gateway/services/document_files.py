"""A stored document as the file it is downloaded as: its content and what names it (``render.file_names.
Named``: its number after its kind), read for the API's downloads and the pages' alike, so that both name a
document as the e-mail fallback names its attachments.

A name's number: an outbound document's BT-1 as submitted; a received document's number recorded with its
verdict, else (received before migration 0015 and not backfilled) its ``cbc:ID`` read from the body
(``number_of_bytes``, as the backfill reads it); an expense's own number; a Peppol report's month. The
fallback, when the number leaves no ASCII name, is made of the document's id.
"""

from __future__ import annotations

from gateway.errors import DocumentNotFound
from gateway.model.expense import Actor
from gateway.model.message import DocumentContent
from gateway.render.file_names import Named
from gateway.services.expense_queries import get_expense
from gateway.services.inbound_queries import get_inbound
from gateway.services.ports import DocumentStore
from gateway.services.report_queries import get_report
from gateway.ubl.document_number import number_of_bytes
from gateway.ubl.reporting import REPORT_DOCUMENT_TYPES


def outbound_file(store: DocumentStore, document_id: str) -> tuple[DocumentContent, Named]:
    """An outbound document's content and name: its number and its type (a document posted as UBL is an
    invoice or a credit note by its type, not by how it came).

    Raises:
        DocumentNotFound: no such document.
    """
    with store.unit_of_work(read_only=True) as uow:
        document = uow.outbound.get(document_id)
        content = uow.outbound.get_content(document_id)
    if document is None or content is None:
        raise DocumentNotFound(document_id, "outbound document")
    return content, Named(document.document_number, document.document_type, f"document-{document_id}")


def inbound_file(store: DocumentStore, document_id: str) -> tuple[DocumentContent, Named]:
    """A received document's content and name.

    Raises:
        DocumentNotFound: no such document.
    """
    detail = get_inbound(store, document_id)
    number = detail.document.document_number or number_of_bytes(detail.content.body) or ""
    return detail.content, Named(number, detail.document.document_type, f"received-{document_id}")


def expense_file(store: DocumentStore, actor: Actor, expense_id: str) -> tuple[DocumentContent, Named]:
    """The supplier's document of an expense ``actor`` sees, and its name: the expense's number and the
    received document's type (an invoice or a credit note).

    Raises:
        DocumentNotFound: no such expense (for this actor).
    """
    detail = get_expense(store, actor, expense_id)
    received = get_inbound(store, detail.expense.inbound_document_id)
    named = Named(detail.expense.number, received.document.document_type, f"expense-{expense_id}")
    return received.content, named


def report_file(store: DocumentStore, report_id: str) -> tuple[bytes, Named]:
    """A Peppol report's XML and its name: its kind and month (``transaction-statistics-report-2026-11``).

    Raises:
        DocumentNotFound: no such report.
    """
    report = get_report(store, report_id).report
    return report.xml, Named(str(report.month), REPORT_DOCUMENT_TYPES[report.kind], f"report-{report_id}")
