"""Read-side use cases for outbound documents: one document with its timeline and receipt, the exact UBL,
the delivery evidence (bytes sent, every signal received) and the support listing."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import DocumentNotFound
from gateway.model.message import (
    AS4MessageRecord,
    AS4MessageSummary,
    AS4Signal,
    DeliveryEvent,
    Direction,
    DocumentContent,
    OutboundDocument,
    RawHTTPMessage,
    TimelineEvent,
    allowed_events,
)
from gateway.services.ports import DeliveryJob, DocumentStore, OutboundQuery, Page
from gateway.services.report_transmissions import remade_since
from gateway.services.response_order import retry_refused_by, waiting_for


@dataclass(frozen=True, slots=True)
class OutboundDetail:
    """What support staff see for one document.

    Attributes:
        document: metadata and delivery state.
        timeline: every status change, oldest first.
        job: the queued delivery job, None when none is queued (delivered, failed).
        messages: the AS4 messages sent for it (normally one; retries resend it), oldest first, without
            their bytes: this view is polled, and the bytes are evidence (``get_outbound_evidence``).
        later_response: a failed Invoice Response: the response to the same received document queued after
            it, for which it is not retried (``response_order.retry_refused_by``); else None.
        waiting_for: an Invoice Response not final yet: the earlier response to the same received document
            it is not sent before, while that one is not final (``response_order.waiting_for``); else None.
        report_remade: a Peppol report's document whose report was remade since (another document carries
            it): not retried (``report_transmissions.remade_since``).
    """

    document: OutboundDocument
    timeline: tuple[TimelineEvent, ...]
    job: DeliveryJob | None
    messages: tuple[AS4MessageSummary, ...]
    later_response: str | None = None
    waiting_for: str | None = None
    report_remade: bool = False

    @property
    def retry_allowed(self) -> bool:
        """A retry by request is possible: its status allows one, no later response refuses it and it does
        not carry a report remade since (what ``OutboundSubmitter.request_retry`` checks; the API's
        ``retry_allowed`` and the page's offer). Whether the caller's role may retry is the API's to add
        (``gateway.api.routes.outbound.RETRY_ROLES``); the document pages admit only staff, who may."""
        return (
            DeliveryEvent.RETRY_REQUESTED in allowed_events(self.document.status)
            and self.later_response is None
            and not self.report_remade
        )

    @property
    def last_message(self) -> AS4MessageSummary | None:
        """The newest AS4 message sent, whose signal is the receipt (or error) to show."""
        return self.messages[-1] if self.messages else None


@dataclass(frozen=True, slots=True)
class OutboundEvidence:
    """Everything an auditor needs to check a delivery.

    Attributes:
        document: metadata and delivery state.
        content: the UBL as accepted and its validation report.
        timeline: every status change, oldest first.
        messages: the AS4 messages with the exact HTTP headers and body sent and the latest raw signal
            received.
        signals: per message id, every signal received for it, oldest first (earlier answers such as an
            invalid receipt or a retryable ebMS error included); missing means none.
    """

    document: OutboundDocument
    content: DocumentContent
    timeline: tuple[TimelineEvent, ...]
    messages: tuple[AS4MessageRecord, ...]
    signals: Mapping[str, tuple[AS4Signal, ...]] = field(default_factory=dict)

    def signals_of(self, record: AS4MessageRecord) -> tuple[AS4Signal, ...]:
        """Every signal received for ``record``, oldest first."""
        return tuple(self.signals.get(record.message_id, ()))


def _outbound_messages(records: list[AS4MessageRecord]) -> tuple[AS4MessageRecord, ...]:
    return tuple(record for record in records if record.direction is Direction.OUT)


def get_outbound(store: DocumentStore, document_id: str) -> OutboundDetail:
    """One outbound document with its timeline, job and AS4 messages; an Invoice Response also with the
    later response that refuses its retry (failed) or the earlier one it waits for (not final): one or two
    more queries for it; a Peppol report's document also whether its report was remade since (one query);
    none for any other document.

    Raises:
        DocumentNotFound: no such document.
    """
    with store.unit_of_work(read_only=True) as uow:
        document = uow.outbound.get(document_id)
        if document is None:
            raise DocumentNotFound(document_id, "outbound document")
        return OutboundDetail(
            document,
            tuple(uow.outbound.timeline(document_id)),
            uow.jobs.get(document_id),
            tuple(uow.messages.summaries_for_document(document_id, Direction.OUT)),
            later_response=retry_refused_by(uow, document),
            waiting_for=waiting_for(uow, document),
            report_remade=remade_since(uow, document),
        )


def get_outbound_content(store: DocumentStore, document_id: str) -> DocumentContent:
    """The stored UBL (byte for byte) and its validation report.

    Raises:
        DocumentNotFound: no such document.
    """
    with store.unit_of_work(read_only=True) as uow:
        content = uow.outbound.get_content(document_id)
    if content is None:
        raise DocumentNotFound(document_id, "outbound document")
    return content


def get_outbound_evidence(store: DocumentStore, document_id: str) -> OutboundEvidence:
    """The delivery evidence of one document, read in one transaction (a consistent snapshot).

    Raises:
        DocumentNotFound: no such document.
    """
    with store.unit_of_work(read_only=True) as uow:
        document = uow.outbound.get(document_id)
        content = uow.outbound.get_content(document_id)
        if document is None or content is None:
            raise DocumentNotFound(document_id, "outbound document")
        messages = _outbound_messages(uow.messages.for_document(document_id))
        signals = {
            record.message_id: tuple(uow.messages.signals(record.message_id, Direction.OUT))
            for record in messages
        }
        timeline = tuple(uow.outbound.timeline(document_id))
        return OutboundEvidence(document, content, timeline, messages, signals)


def list_outbound(store: DocumentStore, query: OutboundQuery) -> Page[OutboundDocument]:
    """One page of outbound documents matching the query, newest first."""
    with store.unit_of_work(read_only=True) as uow:
        return uow.outbound.search(query)


# -- the evidence archive -------------------------------------------------------------------------------


def timeline_to_json(timeline: tuple[TimelineEvent, ...]) -> list[dict[str, Any]]:
    """The JSON form of a timeline (also used by the API)."""
    return [
        {
            "at": event.at.isoformat(),
            "event": event.event.value,
            "from_status": event.from_status.value if event.from_status is not None else None,
            "to_status": event.to_status.value,
            "detail": event.detail,
        }
        for event in timeline
    ]


def _http_head(raw: RawHTTPMessage) -> bytes:
    # Header fields in wire order, one per line, CRLF as on the wire (RFC 9112 §2.1), no start line: the
    # request line and status line are not part of what was signed and not stored.
    return b"".join(f"{name}: {value}\r\n".encode("latin-1", "replace") for name, value in raw.headers)


def _body_suffix(raw: RawHTTPMessage) -> str:
    content_type = next((value for name, value in raw.headers if name.lower() == "content-type"), "")
    content_type = content_type.lower()
    if content_type.startswith("multipart/"):
        return ".mime"
    if "xml" in content_type:
        return ".xml"
    return ".bin"


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]", "_", text)[:120]


class _Archive:
    """A zip archive whose entries all carry one timestamp (the same evidence gives the same bytes)."""

    def __init__(self, stamp: tuple[int, int, int, int, int, int]) -> None:
        self.buffer = io.BytesIO()
        self.zip = zipfile.ZipFile(self.buffer, "w", compression=zipfile.ZIP_DEFLATED)
        self.stamp = stamp
        self.digests: dict[str, str] = {}

    def add(self, name: str, data: bytes) -> None:
        info = zipfile.ZipInfo(name, date_time=self.stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        self.digests[name] = hashlib.sha256(data).hexdigest()

    def add_json(self, name: str, value: Any) -> None:
        self.add(name, json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True).encode("utf-8"))

    def close(self) -> bytes:
        self.zip.close()
        return self.buffer.getvalue()


_README = """Delivery evidence of one outbound document, exported by the Peppol access-point gateway.

document.xml               the UBL business document exactly as accepted and sent (inside the SBDH)
validation-report.json     the validation report recorded when the document was accepted
timeline.json              every status change with its UTC timestamp
messages/<n>-<message id>/ one folder per AS4 user message sent for the document (retries resend it)
  request-headers.txt      the HTTP header fields sent, in wire order
  request-body.*           the exact HTTP body sent (MIME multipart: signed SOAP envelope + encrypted payload)
  signal-headers.txt       the HTTP header fields of the answer
  signal-body.*            the raw signed AS4 receipt (or ebMS error) received, byte for byte
  signal.json              summary of that signal (kind, time, ebMS error code, receipt details)
  signals/<k>-<kind>/      every signal received for the message, oldest first (k = 1, 2, ...): earlier
                           answers too, e.g. an invalid receipt or a retryable ebMS error before a retry
    headers.txt            the HTTP header fields of that answer
    body.*                 its raw body, byte for byte
    signal.json            its summary (kind, time, ebMS error code, receipt details)
manifest.json              document metadata and the SHA-256 of every other file in this archive

The signal-* files are the latest signal (also the last entry of signals/). The signature of a receipt
can be checked offline against signal-body.* with any WS-Security tool; the
receipt's NonRepudiationInformation holds the digests of the parts of request-body.* the receiver got.
"""


def _signal_json(signal: AS4Signal) -> dict[str, Any]:
    return {
        "kind": signal.kind.value,
        "at": signal.at.isoformat(),
        "ebms_error_code": signal.ebms_error_code,
        "receipt_summary": signal.receipt_summary,
    }


def evidence_archive(evidence: OutboundEvidence) -> bytes:
    """Pack the evidence as a zip for support staff and auditors (layout in the archive's README.txt).

    Every byte sequence is the stored original; the manifest lists the SHA-256 of each file.
    """
    document = evidence.document
    stamp = document.created_at.timetuple()[:6]
    archive = _Archive((max(stamp[0], 1980), *stamp[1:]))
    archive.add("README.txt", _README.encode("utf-8"))
    archive.add("document.xml", evidence.content.body)
    archive.add_json("validation-report.json", evidence.content.validation_report)
    archive.add_json("timeline.json", timeline_to_json(evidence.timeline))
    messages = []
    for number, record in enumerate(evidence.messages, start=1):
        folder = f"messages/{number}-{_safe_name(record.message_id)}"
        archive.add(f"{folder}/request-headers.txt", _http_head(record.request))
        archive.add(f"{folder}/request-body{_body_suffix(record.request)}", record.request.body)
        entry: dict[str, Any] = {
            "message_id": record.message_id,
            "created_at": record.created_at.isoformat(),
            "folder": folder,
            "signal": None,
        }
        if record.signal is not None:
            signal = record.signal
            archive.add(f"{folder}/signal-headers.txt", _http_head(signal.raw))
            archive.add(f"{folder}/signal-body{_body_suffix(signal.raw)}", signal.raw.body)
            entry["signal"] = _signal_json(signal)
            archive.add_json(f"{folder}/signal.json", entry["signal"])
        history = []
        for index, signal in enumerate(evidence.signals_of(record), start=1):
            where = f"{folder}/signals/{index}-{signal.kind.value}"
            body_name = f"{where}/body{_body_suffix(signal.raw)}"
            archive.add(f"{where}/headers.txt", _http_head(signal.raw))
            archive.add(body_name, signal.raw.body)
            archive.add_json(f"{where}/signal.json", _signal_json(signal))
            history.append({"folder": where, "body": body_name, **_signal_json(signal)})
        entry["signals"] = history
        messages.append(entry)
    archive.add_json(
        "manifest.json",
        {
            "document_id": document.id,
            "document_number": document.document_number,
            "document_type": document.document_type.uri,
            "sender": str(document.sender),
            "receiver": str(document.receiver),
            "status": document.status.value,
            "status_reason": document.status_reason,
            "as4_message_id": document.as4_message_id,
            "created_at": document.created_at.isoformat(),
            "messages": messages,
            "sha256": dict(archive.digests),
        },
    )
    return archive.close()
