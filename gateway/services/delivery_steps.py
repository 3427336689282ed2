"""The synchronous steps of a delivery attempt, each one short unit of work guarded by the lease token (run
in a worker thread by ``services.deliver.Deliverer``): load, renew, commit the message and SEND_STARTED
before a send, record the outcome, hand a job back, store a fallback e-mail. See ``services.deliver`` for
the crash-safety rules they follow."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from gateway.as4 import EbmsError
from gateway.errors import InvalidTransition, LeaseLost, LocalProtocolError, XMLInputError
from gateway.model.message import (
    AS4MessageRecord,
    DeliveryEvent,
    DeliveryStatus,
    Direction,
    DocumentContent,
    DocumentKind,
    JSONObject,
    OutboundDocument,
    RawHTTPMessage,
    TimelineEvent,
)
from gateway.services.delivery_attempt import (
    AttemptMessage,
    AttemptRefused,
    DeliveryResult,
    DeliverySettings,
    PreparedDocument,
    StartedAttempt,
    StopAttempt,
)
from gateway.services.delivery_deferral import defer_attempt, defer_behind, wake_waiting_response
from gateway.services.delivery_email import email_record, email_started_detail
from gateway.services.delivery_outcome import AttemptOutcome, AttemptResult
from gateway.services.delivery_records import count_delivered, queue_status_webhook
from gateway.services.email_fallback import ComposedEmail, EmailChannel, compose, read_buyer
from gateway.services.endpoint_gate import GateRefusal
from gateway.services.ports import (
    Clock,
    DeliveryLease,
    DocumentStore,
    Endpoint,
    IDFactory,
    RandomSource,
    RetryPolicy,
    SentFacts,
    UnitOfWork,
)
from gateway.services.response_order import waits_behind

log = logging.getLogger("gateway.deliver")

__all__ = ["DeliverySteps"]


class DeliverySteps:
    """The units of work of one delivery process (shared by its concurrent attempts; stateless)."""

    def __init__(
        self,
        *,
        store: DocumentStore,
        clock: Clock,
        ids: IDFactory,
        retry: RetryPolicy,
        jitter: RandomSource,
        settings: DeliverySettings,
        on_receipt: Callable[[UnitOfWork, str], object] | None = None,
        email: EmailChannel | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ids = ids
        self._retry = retry
        self._jitter = jitter
        self._settings = settings
        self._on_receipt = on_receipt
        self._email = email

    def hand_back(self, lease: DeliveryLease, refusal: GateRefusal) -> DeliveryResult:
        """Hand the job back in one unit of work; an open circuit is also recorded on the document
        (``retrying`` with the reason and the next try), a busy endpoint only on the job. A document behind
        an open circuit for longer than the retry schedule's horizon (at least the circuit's longest open
        period) is given up instead (``failed``)."""
        with self._store.unit_of_work() as uow:
            result = defer_attempt(
                uow,
                lease,
                refusal,
                at=self._clock.now(),
                settings=self._settings,
                ids=self._ids,
                horizon=self._retry.horizon,
            )
            uow.commit()
        return result

    def wait_for_earlier(self, lease: DeliveryLease, earlier_id: str) -> DeliveryResult:
        """Hand the job of an Invoice Response back, not counted as an attempt, until the earlier response
        ``earlier_id`` to the same received document is final (``defer_behind``)."""
        with self._store.unit_of_work() as uow:
            result = defer_behind(uow, lease, earlier_id, at=self._clock.now())
            uow.commit()
        return result

    def restart_email(self, lease: DeliveryLease, message_id: str) -> None:
        now = self._clock.now()
        with self._store.unit_of_work() as uow:
            document = self._current(uow, lease)
            detail: JSONObject = {"attempt": lease.attempts, "channel": "email", "message_id": message_id}
            self._send_started(uow, document, lease, now, detail, message_id, stored=False)
            uow.commit()

    def compose_email(
        self, lease: DeliveryLease, prepared: PreparedDocument, why: str, to: str | None
    ) -> ComposedEmail | None:
        """Write the e-mail and commit it with SEND_STARTED (``why`` Peppol was not used); it goes to ``to``,
        else to the buyer's BT-58 address; None when there is none.

        Raises:
            AttemptRefused: the stored document cannot be read (one in UTF-16, stored before submissions
                were refused in it: ``xmlcore.encoding``): it fails at once, as on the AS4 path.
        """
        assert self._email is not None
        document = prepared.document
        body = prepared.body if prepared.body is not None else self.content(document.id)
        try:
            buyer = read_buyer(body)
        except XMLInputError as exc:
            reason = f"cannot-build-message: cannot read the document for the e-mail: {exc}"
            raise AttemptRefused(AttemptOutcome(AttemptResult.GIVE_UP, reason)) from exc
        if to is not None:
            buyer = replace(buyer, email=to)
        if buyer.email is None:
            return None
        now = self._clock.now()
        composed = compose(
            document,
            body,
            buyer,
            sender=self._email.sender,
            message_id=f"{self._ids.new_id()}@{self._settings.message_id_domain}",
            at=now,
            render_pdf=self._email.render_pdf,
        )
        with self._store.unit_of_work() as uow:
            current = self._current(uow, lease)
            if current.as4_message_id != document.as4_message_id:
                raise StopAttempt(DeliveryResult(document.id, None))  # another worker went on meanwhile
            # The exact MIME is the evidence, stored (like an AS4 message) before anything is sent.
            uow.messages.add(email_record(composed, document_id=document.id, at=now))
            detail = email_started_detail(lease.attempts, composed, why)
            self._send_started(uow, current, lease, now, detail, composed.message_id)
            uow.commit()
        return composed

    def renew(self, lease: DeliveryLease) -> None:
        """Extend the lease (raises LeaseLost when another worker took the job over meanwhile)."""
        with self._store.unit_of_work() as uow:
            uow.jobs.renew(
                lease.document_id, lease.token, now=self._clock.now(), lease_for=self._settings.lease_for
            )
            uow.commit()

    def prepare(self, lease: DeliveryLease) -> PreparedDocument:
        """Load the document and its stored message, if any; renew the lease first unless it was taken
        less than half a lease ago (the usual case: then the load is a read, no write lock). A lease lost
        meanwhile is noticed by the next step, which renews it before anything is sent."""
        now = self._clock.now()
        fresh = lease.leased_until - now >= self._settings.lease_for / 2
        with self._store.unit_of_work(read_only=fresh) as uow:
            if not fresh:
                uow.jobs.renew(lease.document_id, lease.token, now=now, lease_for=self._settings.lease_for)
            found = uow.outbound.get_for_attempt(lease.document_id)
            document = found[0] if found is not None else None
            prepared = None if found is None or found[0].status.is_final else self._load(uow, *found)
            uow.commit()
        if prepared is None:
            # Dropped once this unit of work gave its connection back: a unit of work waiting for SQLite's
            # write lock holds no pooled connection (writers take the lock first), or the writer holding the
            # lock could wait for a connection that only the lock's waiters hold.
            self._drop(lease)
            raise StopAttempt(DeliveryResult(lease.document_id, document.status if document else None))
        return prepared

    def preload(self, uow: UnitOfWork, lease: DeliveryLease) -> PreparedDocument | None:
        """``prepare``'s reads in the caller's unit of work (read right after the lease's commit, so the
        lease is fresh and needs no renewal); None when the document is gone or final (``prepare`` then
        drops the job, as it would have)."""
        found = uow.outbound.get_for_attempt(lease.document_id)
        if found is None or found[0].status.is_final:
            return None
        return self._load(uow, *found)

    @staticmethod
    def _load(
        uow: UnitOfWork, document: OutboundDocument, content: DocumentContent | None = None
    ) -> PreparedDocument:
        """The document's stored message, else its content (``content``: read with the document, as
        ``get_for_attempt`` does when no message was built) and whether it was stored invalid."""
        record = None
        if document.as4_message_id is not None:
            record = uow.messages.get(document.as4_message_id, Direction.OUT)
        body = None
        invalid = False
        buyer_country = None
        if record is None:
            if content is None:
                content = uow.outbound.get_content(document.id)
            body = content.body if content is not None else None
            buyer_country = content.buyer_country if content is not None else None
            # Stored with a failed validation (a refused Invoice Response or MLS, kept as the record
            # of the refusal): never sent, whatever retry is asked for (a sender SHALL NOT send it).
            report = content.validation_report if content is not None else None
            invalid = report is not None and report.get("valid") is False
        waits_for = after_failed = None
        if document.kind is DocumentKind.INVOICE_RESPONSE:
            # Never overtake an earlier response to the same received document (bis-billing.md §9: no going
            # back in AB -> ... -> PD); one indexed query, for Invoice Responses only.
            earlier = uow.outbound.earlier_response(document.id)
            waits_for = waits_behind(earlier)
            if earlier is not None and earlier[1] is DeliveryStatus.FAILED:
                after_failed = earlier[0]
        return PreparedDocument(document, record, body, invalid, buyer_country, waits_for, after_failed)

    def _drop(self, lease: DeliveryLease) -> None:
        """A job without a live document (deleted, or final already): drop it."""
        with self._store.unit_of_work() as uow:
            uow.jobs.complete(lease.document_id, lease.token)
            uow.commit()

    def content(self, document_id: str) -> bytes:
        with self._store.unit_of_work(read_only=True) as uow:
            content = uow.outbound.get_content(document_id)
        if content is None:
            raise LocalProtocolError(EbmsError.OTHER, "the document content is missing")
        return content.body

    def start_attempt(
        self, lease: DeliveryLease, message: AttemptMessage, endpoint: Endpoint, prepared: PreparedDocument
    ) -> StartedAttempt:
        """Commit the message (first attempt, rebuild) and SEND_STARTED before sending. ``prepared``: the
        document as read for this attempt; its row is not read again unless it changed since
        (``_transition``). Returns what was committed, and whether the business document was sent before
        (the receiver may hold it)."""
        now = self._clock.now()
        outgoing, instance_id, new = message.outgoing, message.instance_id, message.new

        def unchanged_message(document: OutboundDocument) -> None:
            if new and document.as4_message_id != message.replaces:
                # Another worker stored a message meanwhile (possible only after our lease was lost): one
                # document never gets two different messages for one attempt.
                raise StopAttempt(DeliveryResult(document.id, None))

        known = prepared.document
        # Read as another message's document: read its row in the unit of work (and stop there if it is so).
        read_first = new and known.as4_message_id != message.replaces
        with self._store.unit_of_work() as uow:
            if read_first:
                known = self._current(uow, lease)
                unchanged_message(known)
            if new:
                uow.messages.add(
                    AS4MessageRecord(
                        message_id=outgoing.message_id,
                        direction=Direction.OUT,
                        request=RawHTTPMessage(tuple(outgoing.headers.items()), outgoing.body),
                        created_at=now,
                        document_id=known.id,
                        sbdh_instance_id=instance_id,
                    )
                )
            detail: JSONObject = {
                "attempt": lease.attempts,
                "message_id": outgoing.message_id,
                "url": endpoint.url,
            }
            if prepared.after_failed is not None:
                # The earlier response to the same received document it waited for failed for good.
                detail["earlier_response_failed"] = prepared.after_failed
            if message.replaces is not None:
                # The rebuild is kept in the timeline; both messages stay in the evidence.
                detail["rebuilt_from"] = message.replaces
                detail["rebuild_reason"] = "receiver-certificate-changed"
                detail["receiver_certificate_serial"] = format(endpoint.certificate.serial_number, "x")
            document, entry = self._transition(
                uow,
                lease,
                known,
                DeliveryEvent.SEND_STARTED,
                check=unchanged_message,
                locked=read_first,
                at=now,
                detail=detail,
                as4_message_id=outgoing.message_id,
            )
            self._started(uow, document, entry, lease, now, outgoing.message_id)
            uow.commit()
        started = replace(
            document,
            status=entry.to_status,
            attempts=document.attempts + 1,
            as4_message_id=outgoing.message_id,
            status_reason=None,
            next_attempt_at=None,
            updated_at=now,
        )
        sent_at = now if new else (prepared.record.created_at if prepared.record is not None else None)
        country = prepared.buyer_country
        facts = SentFacts(sent_at, country) if sent_at is not None and country is not None else None
        # The message is stored with the first SEND_STARTED: a stored message may have reached the receiver.
        return StartedAttempt(started, not new or message.replaces is not None, facts)

    def record_outcome(
        self,
        lease: DeliveryLease,
        message_id: str | None,
        outcome: AttemptOutcome,
        started: StartedAttempt | None = None,
    ) -> DeliveryResult:
        """Evidence, transition, timeline, webhook and job update in one unit of work. ``started``: what
        this attempt's SEND_STARTED committed (the document is then not read again unless it changed
        since, nor the sent message's facts for the reporting record)."""
        now = self._clock.now()
        document_id = lease.document_id
        event, reason, next_at = self.event_for(outcome, lease)
        detail: JSONObject = {"attempt": lease.attempts, **outcome.detail}
        if outcome.probably_delivered:
            detail["probably_delivered"] = True
        try:
            with self._store.unit_of_work() as uow:
                known = started.document if started is not None else None
                current, entry = self._transition(
                    uow, lease, known, event, at=now, reason=reason, detail=detail, next_attempt_at=next_at
                )
                if outcome.signal is not None and message_id is not None:
                    # The message is this document's: the attempt it answers is the counter just locked.
                    uow.messages.record_signal(
                        message_id, Direction.OUT, outcome.signal, attempt=current.attempts
                    )
                self._notify(uow, current, entry, reason, message_id)
                if event is DeliveryEvent.RECEIPT_RECEIVED and message_id is not None:
                    sent = started.sent if started is not None and current is known else None
                    count_delivered(
                        uow, current, message_id, outcome, our_country=self._settings.country_c1, sent=sent
                    )
                if event is DeliveryEvent.RETRYABLE_FAILURE:
                    assert next_at is not None
                    uow.jobs.reschedule(current.id, lease.token, due_at=next_at, error=reason)
                elif event in (DeliveryEvent.RECEIPT_RECEIVED, DeliveryEvent.EMAIL_ACCEPTED):
                    uow.jobs.complete(current.id, lease.token)
                    if self._on_receipt is not None:
                        self._on_receipt(uow, current.id)
                    wake_waiting_response(uow, current, at=now)
                else:
                    uow.jobs.fail(current.id, lease.token, error=reason or event.value)
                    wake_waiting_response(uow, current, at=now)
                uow.commit()
        except (LeaseLost, InvalidTransition) as exc:
            # Another worker took the job over (our lease expired) and owns the outcome now; it resends the
            # same bytes, so nothing is lost.
            log.warning("document %s: outcome %s not recorded: %s", document_id, event.value, exc)
            return DeliveryResult(document_id, None, None, reason, message_id, outcome)
        log.info("document %s: %s -> %s (%s)", document_id, entry.from_status, entry.to_status, reason)
        return DeliveryResult(document_id, entry.to_status, event, reason, message_id, outcome)

    def event_for(
        self, outcome: AttemptOutcome, lease: DeliveryLease
    ) -> tuple[DeliveryEvent, str | None, datetime | None]:
        if outcome.result is AttemptResult.DELIVERED:
            return DeliveryEvent.RECEIPT_RECEIVED, outcome.reason, None
        if outcome.result is AttemptResult.EMAILED:
            return DeliveryEvent.EMAIL_ACCEPTED, outcome.reason, None
        if outcome.result is AttemptResult.GIVE_UP:
            return DeliveryEvent.PERMANENT_FAILURE, outcome.reason, None
        if self._retry.exhausted(lease.attempts):
            reason = f"retries-exhausted after {lease.attempts} attempts; last: {outcome.reason}"
            return DeliveryEvent.RETRIES_EXHAUSTED, reason, None
        now = self._clock.now()
        return (
            DeliveryEvent.RETRYABLE_FAILURE,
            outcome.reason,
            self._retry.next_attempt_at(lease.attempts, now, self._jitter),
        )

    def _send_started(
        self,
        uow: UnitOfWork,
        document: OutboundDocument,
        lease: DeliveryLease,
        now: datetime,
        detail: JSONObject,
        message_id: str,
        *,
        stored: bool = True,
    ) -> None:
        """Record SEND_STARTED (with the message's id as the document's current message when ``stored``),
        queue its webhook and renew the lease, in the caller's unit of work (the caller commits);
        ``document`` as read by ``_current`` in that unit of work."""
        entry = uow.outbound.transition(
            document.id,
            DeliveryEvent.SEND_STARTED,
            at=now,
            detail=detail,
            as4_message_id=message_id if stored else None,
            locked=document,
        )
        self._started(uow, document, entry, lease, now, message_id)

    def _started(
        self,
        uow: UnitOfWork,
        document: OutboundDocument,
        entry: TimelineEvent,
        lease: DeliveryLease,
        now: datetime,
        message_id: str,
    ) -> None:
        """After the SEND_STARTED transition ``entry``: queue its webhook and renew the lease."""
        self._notify(uow, document, entry, None, message_id)
        # Lock order everywhere: document row (transition) before job row.
        uow.jobs.renew(document.id, lease.token, now=now, lease_for=self._settings.lease_for)

    def _transition(
        self,
        uow: UnitOfWork,
        lease: DeliveryLease,
        known: OutboundDocument | None,
        event: DeliveryEvent,
        *,
        check: Callable[[OutboundDocument], None] | None = None,
        locked: bool = False,
        at: datetime,
        reason: str | None = None,
        detail: JSONObject | None = None,
        next_attempt_at: datetime | None = None,
        as4_message_id: str | None = None,
    ) -> tuple[OutboundDocument, TimelineEvent]:
        """Apply ``event`` to the leased document, its row locked for the rest of the unit of work: to
        ``known`` (as read or left by an earlier unit of work of this attempt) by a write that checks the
        row is still so, without reading it (``transition_if``: one statement fewer, issue 12); else, or
        when it changed since, to the row read now (``_current``; ``check`` may stop the attempt there).
        ``locked``: ``known`` was read by ``_current`` in this unit of work (checked already).
        Returns the document transitioned from and the timeline entry."""
        if known is not None and not locked:
            try:
                entry = uow.outbound.transition_if(
                    known,
                    event,
                    at=at,
                    reason=reason,
                    detail=detail,
                    next_attempt_at=next_attempt_at,
                    as4_message_id=as4_message_id,
                )
            except InvalidTransition:
                entry = None  # judged on the status read before (nothing written): judged on the row now
            if entry is not None:
                return known, entry
        current = known if known is not None and locked else self._current(uow, lease)
        if check is not None:
            check(current)
        entry = uow.outbound.transition(
            current.id,
            event,
            at=at,
            reason=reason,
            detail=detail,
            next_attempt_at=next_attempt_at,
            as4_message_id=as4_message_id,
            locked=current,
        )
        return current, entry

    def _current(self, uow: UnitOfWork, lease: DeliveryLease) -> OutboundDocument:
        """The live document, its row locked for the unit of work (the transition that follows takes its
        status from it); StopAttempt when it is gone or final."""
        document = uow.outbound.get(lease.document_id, for_update=True)
        if document is None or document.status.is_final:
            raise StopAttempt(DeliveryResult(lease.document_id, document.status if document else None))
        return document

    def _notify(
        self,
        uow: UnitOfWork,
        document: OutboundDocument,
        change: TimelineEvent,
        reason: str | None,
        message_id: str | None,
    ) -> None:
        """Queue the status-change webhook of ``change`` in its unit of work (``queue_status_webhook``)."""
        queue_status_webhook(
            uow,
            settings=self._settings,
            ids=self._ids,
            document=document,
            change=change,
            reason=reason,
            message_id=message_id,
        )
