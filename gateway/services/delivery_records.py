"""What a delivery attempt records besides its transition, in the same unit of work: the status-change
webhook (transactional outbox) and the Peppol reporting entry of a delivered transmission."""

from __future__ import annotations

import logging

from gateway.model.message import OutboundDocument, TimelineEvent
from gateway.services.delivery_attempt import DeliverySettings
from gateway.services.delivery_outcome import AttemptOutcome
from gateway.services.ports import IDFactory, SentFacts, UnitOfWork
from gateway.services.reporting_records import (
    buyer_country,
    has_buyer_country,
    is_report,
    sent_transmission,
)
from gateway.services.webhooks import status_change_webhook

log = logging.getLogger("gateway.deliver")


def queue_status_webhook(
    uow: UnitOfWork,
    *,
    settings: DeliverySettings,
    ids: IDFactory,
    document: OutboundDocument,
    change: TimelineEvent,
    reason: str | None,
    message_id: str | None,
) -> None:
    """Queue a webhook for a status change, in the transaction of the change (transactional outbox).

    The payload is ``status_change_webhook``'s, the one the submit and retry paths send: receivers see
    a single format whatever made the change. Nothing is queued without a webhook URL or without a change.
    """
    if settings.webhook_url is None or change.from_status is change.to_status:
        return
    uow.outbox.add(
        status_change_webhook(
            event_id=ids.new_id(),
            document=document,
            change=change,
            reason=reason,
            as4_message_id=message_id,
        )
    )


def count_delivered(
    uow: UnitOfWork,
    document: OutboundDocument,
    message_id: str,
    outcome: AttemptOutcome,
    *,
    our_country: str,
    sent: SentFacts | None = None,
) -> None:
    """Peppol reporting (peppol-as4.md §11): record the delivered transmission with its receipt.

    ``sent``: the message's stored time and the buyer country, as the attempt stored and read them (then
    nothing is read here).

    Reads only the message's stored time and the buyer country stored at submit (``sent_facts``), not the
    whole stored message, the document and its validation report; a TSR or EUSR (not counted) reads
    nothing. The document is parsed only when its country was not stored (rows from before 0012); an
    Invoice Response or MLS has no buyer country (``ZZ``) and is never parsed.
    """
    if is_report(document.document_type):
        return
    summary = outcome.signal.receipt_summary if outcome.signal is not None else None
    seat = str((summary or {}).get("signer") or "")
    facts = (sent or uow.reporting.sent_facts(message_id)) if seat else None
    if facts is None:
        log.warning("document %s: message %s not counted for reporting (no record)", document.id, message_id)
        return
    country = facts.buyer_country
    if country is None:
        country = buyer_country(facts.ubl) if facts.ubl and has_buyer_country(document.document_type) else ""
    counted = sent_transmission(
        document,
        message_id=message_id,
        sent_at=facts.sent_at,
        receiver_seat=seat,
        our_country=our_country,
        buyer_country=country,
    )
    if counted is not None:
        uow.reporting.record(counted)
