"""The webhook announcing a received document judged invalid (``inbound.invalid``): built from what the
verdict already holds (no read-back, no parse) and written to the outbox in the unit of work that records
the verdict, so it is sent exactly when the verdict is committed and never again for that document.

The payload is bounded whatever the report: at most ``MAX_FINDINGS`` findings (the fatal ones first, in
report order), each text cut to ``MAX_FINDING_TEXT`` characters; the full report is at ``report_url``
(``GET /v1/inbound/{id}``, roles sender and support).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from gateway.model import DocumentTypeID, ParticipantID
from gateway.model.message import JSONObject
from gateway.services.ports import IDFactory, UnitOfWork, WebhookMessage
from gateway.services.webhooks import DEFAULT_WEBHOOK_TARGET

INBOUND_INVALID: Final = "inbound.invalid"
"""The ``type`` of the payload sent when a received document's verdict is recorded INVALID."""
MAX_FINDINGS: Final = 10
"""Findings carried in the payload (fatal first); ``findings_total`` and ``fatal_total`` count them all."""
MAX_FINDING_TEXT: Final = 300
"""Characters kept of a finding's rule, message and location, and of the document number and reason."""


@dataclass(frozen=True, slots=True)
class InvalidReceipt:
    """A received document whose INVALID verdict is being recorded, with what its webhook tells.

    Attributes:
        document_id: the inbound document.
        message_id: its AS4 message id.
        sender: the sending participant (SBDH sender, C1).
        document_type: its document type.
        number: the supplier's document number (BT-1) when the parsed tree was seen, else None.
        report: the validation report as recorded (``{"rule_set", "valid", "issues"}``).
        reason: the status reason recorded (the fatal rule ids, ``DOCUMENT-SIZE``, ``XML``).
        at: the verdict's time.
        mls_code: the MLS queued with the verdict in the same unit of work (``RE``), or None.
        mls_document: that MLS's outbound document id.
        mls_refused: why that MLS failed its own validation (recorded failed, not sent), or None.
    """

    document_id: str
    message_id: str
    sender: ParticipantID
    document_type: DocumentTypeID
    number: str | None
    report: JSONObject | None
    reason: str | None
    at: datetime
    mls_code: str | None = None
    mls_document: str | None = None
    mls_refused: str | None = None


def invalid_document_webhook(event_id: str, receipt: InvalidReceipt, *, target: str) -> WebhookMessage:
    """The outbox entry announcing ``receipt``; add it in the unit of work that records the verdict."""
    issues: list[Any] = list((receipt.report or {}).get("issues") or [])
    fatal = [i for i in issues if isinstance(i, dict) and i.get("severity") == "fatal"]
    others = [i for i in issues if isinstance(i, dict) and i.get("severity") != "fatal"]
    findings = [_finding(i) for i in (fatal + others)[:MAX_FINDINGS]]
    mls: JSONObject | None = None
    if receipt.mls_code is not None:
        mls = {
            "code": receipt.mls_code,
            "outbound_document_id": receipt.mls_document,
            "sent": receipt.mls_refused is None,
            "refused": _cut(receipt.mls_refused) if receipt.mls_refused is not None else None,
        }
    data: JSONObject = {
        "inbound_document_id": receipt.document_id,
        "as4_message_id": receipt.message_id,
        "sender": str(receipt.sender),
        "document_type": str(receipt.document_type),
        "document_number": receipt.number,
        "reason": _cut(receipt.reason) if receipt.reason is not None else None,
        "rule_set": (receipt.report or {}).get("rule_set") or None,
        "findings": findings,
        "findings_total": len(issues),
        "fatal_total": len(fatal),
        "report_url": f"/v1/inbound/{receipt.document_id}",
        "mls": mls,
    }
    payload: JSONObject = {
        "id": event_id,
        "type": INBOUND_INVALID,
        "created_at": receipt.at.isoformat(),
        "data": data,
    }
    return WebhookMessage(
        id=event_id, target=target, payload=payload, created_at=receipt.at, document_id=receipt.document_id
    )


class InvalidDocumentWebhooks:
    """Writes ``inbound.invalid`` to the outbox of the verdict's unit of work (``InboundFinisher``).

    Args:
        ids: the event ids.
        target: the configured endpoint, by reference (the URL stays in the configuration).
    """

    def __init__(self, ids: IDFactory, *, target: str = DEFAULT_WEBHOOK_TARGET) -> None:
        self._ids = ids
        self._target = target

    def __call__(self, uow: UnitOfWork, receipt: InvalidReceipt) -> None:
        """Queue the webhook in ``uow`` (the caller commits). Raises StoreError: roll it back."""
        uow.outbox.add(invalid_document_webhook(self._ids.new_id(), receipt, target=self._target))


def _finding(issue: dict[str, Any]) -> JSONObject:
    return {
        "rule": _cut(str(issue.get("rule", ""))),
        "flag": str(issue.get("severity", "")),
        "layer": str(issue.get("layer", "")),
        "message": _cut(str(issue.get("message", ""))),
        "location": _cut(str(issue.get("location", ""))),
    }


def _cut(text: str) -> str:
    return text if len(text) <= MAX_FINDING_TEXT else text[: MAX_FINDING_TEXT - 1] + "…"
