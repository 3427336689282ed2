"""The e-mail channel of a delivery attempt (``services.email_fallback``): a buyer outside Peppol, a buyer
not on Peppol for the document, and the resend of a fallback e-mail stored before. Like the AS4 channel,
the exact e-mail is committed with SEND_STARTED before it is sent, and a resend sends the stored bytes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TypeVar

import anyio.to_thread

from gateway.errors import DiscoveryError, MailError
from gateway.model.identifiers import EmailReceiver
from gateway.model.message import AS4MessageRecord
from gateway.services.delivery_attempt import AttemptRefused, DeliveryResult, PreparedDocument
from gateway.services.delivery_email import discovery_detail, smtp_outcome
from gateway.services.delivery_outcome import AttemptOutcome, AttemptResult
from gateway.services.delivery_steps import DeliverySteps
from gateway.services.email_fallback import EmailChannel, falls_back, is_email_record, stored_recipients
from gateway.services.ports import DeliveryLease

log = logging.getLogger("gateway.deliver")

T = TypeVar("T")


class EmailAttempts:
    """The e-mail steps of ``Deliverer`` attempts; safe for concurrent calls.

    Args:
        steps: the attempt's units of work.
        email: the e-mail fallback; None: off (a buyer reached by e-mail only then fails with the reason).
    """

    def __init__(self, steps: DeliverySteps, email: EmailChannel | None) -> None:
        self._steps = steps
        self._email = email

    @staticmethod
    def stored(prepared: PreparedDocument) -> AS4MessageRecord | None:
        """The fallback e-mail an earlier attempt stored for this document, if it was e-mailed before."""
        record = prepared.record
        return record if record is not None and is_email_record(record) else None

    async def resend(self, lease: DeliveryLease, record: AS4MessageRecord) -> DeliveryResult:
        """Sent by e-mail before (a temporary SMTP failure, a crash, a support retry): resend the stored
        bytes (same Message-ID), after committing SEND_STARTED like any attempt."""
        await _thread(self._steps.restart_email, lease, record.message_id)
        return await self._send(lease, record.message_id, record.request.body)

    async def only(
        self, lease: DeliveryLease, prepared: PreparedDocument, receiver: EmailReceiver
    ) -> DeliveryResult:
        """A buyer outside Peppol (BT-49 scheme ``EM``): e-mail it at once, without any SML/SMP lookup."""
        if self._email is None:
            reason = f"no-email-relay: {receiver} is reached by e-mail only and GATEWAY_MAIL__HOST is not set"
            return await self._finish(lease, None, AttemptOutcome(AttemptResult.GIVE_UP, reason))
        why = "not looked up: the buyer's BT-49 is an e-mail address (EAS EM), outside Peppol"
        try:
            composed = await _thread(self._steps.compose_email, lease, prepared, why, receiver.address)
        except AttemptRefused as refused:  # the stored document cannot be read
            return await self._finish(lease, None, refused.outcome)
        assert composed is not None  # the address is given
        return await self._send(lease, composed.message_id, composed.mime)

    async def fallback(
        self, lease: DeliveryLease, prepared: PreparedDocument, exc: DiscoveryError
    ) -> DeliveryResult | None:
        """Not on Peppol for this document (not registered, type not supported) and a buyer e-mail: the
        e-mail fallback. None when it does not apply (off, another discovery outcome, a document stored
        invalid, no buyer e-mail address, an AS4 message stored by an earlier attempt): the discovery
        failure is the outcome.

        A stored AS4 message may have reached the buyer's access point (a receipt lost, a crash after the
        send): the buyer then left Peppol, or the lookup is wrong, but an e-mail would deliver the invoice a
        second time under another message id. Only a document never sent over Peppol falls back."""
        if self._email is None or not falls_back(exc) or prepared.invalid or prepared.record is not None:
            return None
        try:
            composed = await _thread(self._steps.compose_email, lease, prepared, discovery_detail(exc), None)
        except AttemptRefused as refused:  # the stored document cannot be read
            return await self._finish(lease, None, refused.outcome)
        if composed is None:
            return None
        return await self._send(lease, composed.message_id, composed.mime)

    async def _send(self, lease: DeliveryLease, message_id: str, mime: bytes) -> DeliveryResult:
        """Send the stored fallback e-mail; 250 -> delivered_by_email, 4xx -> retry, 5xx -> failed."""
        assert self._email is not None
        recipients = stored_recipients(mime)
        log.info("document %s: e-mailing %s to %s", lease.document_id, message_id, ", ".join(recipients))
        try:
            reply = await self._email.mailer.send(mime, sender=self._email.sender, recipients=recipients)
        except MailError as exc:
            outcome = smtp_outcome(recipients, None, exc)
        else:
            outcome = smtp_outcome(recipients, reply, None)
        await _thread(self._steps.renew, lease)
        return replace(await self._finish(lease, message_id, outcome), sent=True)

    async def _finish(
        self, lease: DeliveryLease, message_id: str | None, outcome: AttemptOutcome
    ) -> DeliveryResult:
        return await _thread(self._steps.record_outcome, lease, message_id, outcome)


async def _thread(func: Callable[..., T], *args: object) -> T:
    # Database steps must not block the event loop.
    return await anyio.to_thread.run_sync(partial(func, *args))
