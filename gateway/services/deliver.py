"""Use case: deliver one leased outbound document over AS4 - resolve, check, build once, send, judge, record.

Crash safety rests on three rules (ports: never hold a unit of work across a network send):

1. The AS4 message is built once, on the first attempt, and its exact headers and bytes are committed
   together with the SEND_STARTED transition BEFORE anything is sent. Every later attempt - a scheduled retry
   or the resumed attempt of a crashed worker - resends those stored bytes (same MessageId, identical
   digests, AS4 1.0 §3.2); the receiver deduplicates by MessageId, so no second, different message can
   ever reach it.
2. Each step is a short unit of work guarded by the lease token (``LeaseLost`` -> stop, the new holder
   goes on). A crash anywhere leaves the job leased until ``leased_until`` and then due again.
3. The outcome - evidence, status transition, timeline entry, webhook outbox row and the job's
   completion/reschedule - is one unit of work: all or nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Final, TypeVar

import anyio.to_thread
from cryptography import x509

from gateway.as4 import EbmsError, OutgoingMessage, build_user_message, verify_receipt
from gateway.as4.restore import restore_outgoing
from gateway.crypto import KeyMaterial, RevocationChecker, TrustStore, common_name, validate_ap_certificate
from gateway.errors import (
    AS4ProtocolError,
    CertificateRejected,
    DiscoveryError,
    EndpointNotFound,
    InvalidTransition,
    LeaseLost,
    LocalProtocolError,
    MailError,
    MappingError,
    ParticipantNotRegistered,
    TransportError,
)
from gateway.model.identifiers import ParticipantID
from gateway.model.message import (
    AS4MessageRecord,
    DeliveryEvent,
    DeliveryStatus,
    Direction,
    DocumentKind,
    JSONObject,
    OutboundDocument,
    RawHTTPMessage,
    TimelineEvent,
)
from gateway.services.delivery_outcome import (
    AttemptOutcome,
    AttemptResult,
    is_duplicate_error,
    judge_internal_error,
    judge_response,
    judge_transport_error,
)
from gateway.services.email_fallback import (
    EMAIL_CONTENT_TYPE,
    ComposedEmail,
    EmailChannel,
    compose,
    falls_back,
    is_email_record,
    read_buyer,
    stored_recipients,
)
from gateway.services.ports import (
    AS4Transport,
    Clock,
    DeliveryLease,
    DocumentStore,
    Endpoint,
    EndpointResolver,
    HTTPResponse,
    IDFactory,
    RandomSource,
    RefreshableResolver,
    RetryPolicy,
    UnitOfWork,
)
from gateway.services.reporting_records import sent_transmission
from gateway.services.webhooks import status_change_webhook
from gateway.ubl.sbdh import build_sbd

log = logging.getLogger("gateway.deliver")

T = TypeVar("T")
#: Leases beyond the attempt limit tolerated for attempts that never recorded an outcome (worker killed):
#: a document that crashes its worker every time must still end, as failed, instead of looping forever.
CRASH_ALLOWANCE: Final = 3


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """Values of the delivery recipe that come from settings.

    Attributes:
        country_c1: SBDH COUNTRY_C1 (ISO 3166 alpha-2 of the sender, C1).
        message_id_domain: eb:MessageId is ``<uuid>@<domain>`` (``@`` expected, peppol-as4.md §14 item 2).
        lease_for: how long each step's lease renewal lasts; must exceed the longest send (connect + response
            timeout) so that a live worker keeps its job while it waits for the answer.
        webhook_url: where status changes are POSTed (an outbox row per change); None: no webhooks.
        mls_to: our SPID participant (``0242:…``), written as the SBDH MLS_TO scope of every business
            document we send so that the receiving AP knows where its Message Level Status goes (peppol-as4.md
            §8, §12); never on an MLS itself (no MLS answers an MLS). None: no MLS scopes.
        mls_type: the MLS_TYPE scope sent with MLS_TO (``ALWAYS_SEND``: we record every outcome).
    """

    message_id_domain: str
    lease_for: timedelta
    country_c1: str = "BE"
    webhook_url: str | None = None
    mls_to: ParticipantID | None = None
    mls_type: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What ``deliver_one`` did with a lease (for logs, metrics and tests).

    Attributes:
        document_id: the document.
        status: its status afterwards; None when this worker changed nothing (lease lost, stale job).
        event: the outcome event applied (None: nothing applied).
        reason: the status reason recorded.
        message_id: the AS4 message id, once built.
        outcome: how the send ended; None when nothing was sent.
        sent: True when the message was POSTed in this attempt.
    """

    document_id: str
    status: DeliveryStatus | None
    event: DeliveryEvent | None = None
    reason: str | None = None
    message_id: str | None = None
    outcome: AttemptOutcome | None = None
    sent: bool = False


@dataclass(frozen=True, slots=True)
class _Prepared:
    document: OutboundDocument
    record: AS4MessageRecord | None
    body: bytes | None
    invalid: bool = False


@dataclass(frozen=True, slots=True)
class _Message:
    """The message of this attempt.

    Attributes:
        outgoing: what is sent.
        instance_id: its SBDH InstanceIdentifier.
        new: built in this attempt (to be stored before sending).
        replaces: the MessageId of the stored message this one was rebuilt from (receiver key rotation).
    """

    outgoing: OutgoingMessage
    instance_id: str | None
    new: bool
    replaces: str | None = None


class _Stop(Exception):
    """Internal: this worker must leave the document alone (lease lost, or the document is final already)."""

    def __init__(self, result: DeliveryResult) -> None:
        self.result = result
        super().__init__(result.document_id)


class _Refused(Exception):
    """Internal: the attempt ends before sending with this outcome."""

    def __init__(self, outcome: AttemptOutcome) -> None:
        self.outcome = outcome
        super().__init__(outcome.reason)


def _discovery_failure(exc: DiscoveryError) -> AttemptOutcome:
    """The attempt outcome of a failed lookup: its typed reason, retried only when ``exc.retryable``."""
    outcome = getattr(exc.outcome, "value", None)
    if isinstance(exc, ParticipantNotRegistered):
        code = "receiver-not-registered"
    elif isinstance(exc, EndpointNotFound) and outcome is None:
        code = "endpoint-not-found"  # the local directory: no finer class
    else:
        code = outcome or "discovery-failed"
    detail: JSONObject = {"discovery": outcome} if outcome else {}
    result = AttemptResult.RETRY if exc.retryable else AttemptResult.GIVE_UP
    return AttemptOutcome(result, f"{code}: {exc}", detail=detail)


class Deliverer:
    """Delivers leased outbound documents; one instance per worker process, safe for concurrent calls.

    Args:
        store: the document store.
        resolver: receiver endpoint lookup (local directory now, SML/SMP later).
        transport: the HTTP adapter.
        identity: our AP key and certificate (signs the messages).
        trust: AP trust anchors: the receiver certificate and the receipt signer are validated against it.
        clock / ids: time and identifiers (document ids are not made here; message and SBDH instance ids are).
        retry: the attempt limit and backoff.
        jitter: random source for the backoff.
        settings: recipe values from settings.
        random_bytes: key/IV/boundary source of the AS4 builder (``os.urandom``).
        on_receipt: called with the unit of work that records a document's receipt and the document id,
            before its commit: received answers held until the receipt are applied there
            (``ReceivedAnswers.after_receipt``), all or nothing with the receipt.
        email: the e-mail fallback for buyers not on Peppol (``services.email_fallback``); None: off.
    """

    def __init__(
        self,
        *,
        store: DocumentStore,
        resolver: EndpointResolver,
        transport: AS4Transport,
        identity: KeyMaterial,
        trust: TrustStore,
        clock: Clock,
        ids: IDFactory,
        retry: RetryPolicy,
        jitter: RandomSource,
        settings: DeliverySettings,
        random_bytes: Callable[[int], bytes] = os.urandom,
        revocation: RevocationChecker | None = None,
        on_receipt: Callable[[UnitOfWork, str], object] | None = None,
        email: EmailChannel | None = None,
    ) -> None:
        self._store = store
        self._on_receipt = on_receipt
        self._email = email
        self._revocation = revocation
        self._resolver = resolver
        self._transport = transport
        self._identity = identity
        self._trust = trust
        self._clock = clock
        self._ids = ids
        self._retry = retry
        self._jitter = jitter
        self._settings = settings
        self._random_bytes = random_bytes

    async def deliver_one(self, lease: DeliveryLease) -> DeliveryResult:
        """Run one delivery attempt for a leased job and record its outcome.

        Never raises for delivery problems (they become transitions); ``LeaseLost`` and a document that
        became final meanwhile end the attempt quietly. Store errors (database down) propagate: the worker
        loop hands the lease back as soon as the store answers (``gateway.worker.loop``), or it expires.
        """
        try:
            return await self._attempt(lease)
        except _Stop as stop:
            return stop.result
        except (LeaseLost, InvalidTransition) as exc:
            # Another worker took the job over after our lease expired; it owns the document now.
            log.warning("document %s: attempt abandoned: %s", lease.document_id, exc)
            return DeliveryResult(lease.document_id, None)

    async def _attempt(self, lease: DeliveryLease) -> DeliveryResult:
        if lease.attempts > self._retry.max_attempts + CRASH_ALLOWANCE:
            # Attempts that never recorded an outcome (the worker died, or a step raised, each time): stop
            # the loop. Checked before any other step, so a step that always raises cannot loop forever.
            reason = f"retries-exhausted: {lease.attempts - 1} attempts were interrupted without an outcome"
            return await self._finish(lease, None, AttemptOutcome(AttemptResult.GIVE_UP, reason))
        prepared = await self._thread(self._prepare, lease)
        document = prepared.document
        if prepared.record is not None and is_email_record(prepared.record):
            # Sent by e-mail before (a temporary SMTP failure, a crash, a support retry): resend the stored
            # bytes (same Message-ID), after committing SEND_STARTED like any attempt.
            record = prepared.record
            await self._thread(self._restart_email, lease, record.message_id)
            return await self._send_email(lease, record.message_id, record.request.body)
        try:
            endpoint = await self._resolve(lease, document)
        except DiscoveryError as exc:
            # Not on Peppol for this document (not registered, type not supported) and a buyer e-mail:
            # the e-mail fallback. Otherwise only an unreachable SML/SMP may answer otherwise later: every
            # other outcome (bad SMP signature, rejected endpoint certificate...) fails now with its reason.
            if self._email is not None and falls_back(exc) and not prepared.invalid:
                composed = await self._thread(self._compose_email, lease, prepared, exc)
                if composed is not None:
                    return await self._send_email(lease, composed.message_id, composed.mime)
            return await self._finish(lease, None, _discovery_failure(exc))

        try:
            message = await self._thread(self._message_for, prepared, endpoint)
        except _Refused as refused:
            return await self._finish(lease, document.as4_message_id, refused.outcome)
        except AS4ProtocolError as exc:
            failed = AttemptOutcome(AttemptResult.GIVE_UP, f"cannot-build-message: {exc.detail or exc}")
            return await self._finish(lease, None, failed)

        outgoing = message.outgoing
        previously_sent = await self._thread(self._start_attempt, lease, message, endpoint)
        log.info(
            "sending document %s as AS4 message %s to %s (attempt %d)",
            document.id,
            outgoing.message_id,
            endpoint.url,
            lease.attempts,
        )
        try:
            response = await self._transport.post(endpoint.url, headers=outgoing.headers, body=outgoing.body)
        except TransportError as exc:
            await self._thread(self._renew, lease)
            outcome = judge_transport_error(str(exc), retryable=exc.retryable)
        else:
            # Renew first: the send may have used up most of the lease, and judging (signature checks) and
            # recording (which may wait for the database lock) must not run on an expired one.
            await self._thread(self._renew, lease)
            try:
                outcome = await self._thread(self._judge, response, outgoing, previously_sent)
            except Exception as exc:
                # A bug or an unforeseen input in the AS4 core: record why and retry later (the same bytes),
                # instead of raising and resending once per lease period with nothing in the timeline.
                log.exception("document %s: judging the answer failed", document.id)
                outcome = judge_internal_error(exc, response.status, response.body)
        result = await self._finish(lease, outgoing.message_id, outcome)
        return replace(result, sent=True)

    async def _send_email(self, lease: DeliveryLease, message_id: str, mime: bytes) -> DeliveryResult:
        """Send the stored fallback e-mail; 250 -> delivered_by_email, 4xx -> retry, 5xx -> failed."""
        assert self._email is not None
        recipients = stored_recipients(mime)
        log.info("document %s: e-mailing %s to %s", lease.document_id, message_id, ", ".join(recipients))
        try:
            reply = await self._email.mailer.send(mime, sender=self._email.sender, recipients=recipients)
        except MailError as exc:
            kind = "temporary" if exc.retryable else "permanent"
            result = AttemptResult.RETRY if exc.retryable else AttemptResult.GIVE_UP
            detail: JSONObject = {"channel": "email", "smtp_reply": exc.reason}
            outcome = AttemptOutcome(result, f"smtp-{kind}-failure: {exc.reason}", detail=detail)
        else:
            detail = {"channel": "email", "smtp_reply": reply, "to": recipients}
            outcome = AttemptOutcome(
                AttemptResult.EMAILED, f"e-mailed to {', '.join(recipients)}", detail=detail
            )
        await self._thread(self._renew, lease)
        return replace(await self._finish(lease, message_id, outcome), sent=True)

    def _restart_email(self, lease: DeliveryLease, message_id: str) -> None:
        now = self._clock.now()
        with self._store.unit_of_work() as uow:
            document = self._current(uow, lease)
            detail: JSONObject = {"attempt": lease.attempts, "channel": "email", "message_id": message_id}
            entry = uow.outbound.transition(document.id, DeliveryEvent.SEND_STARTED, at=now, detail=detail)
            self._notify(uow, document, entry, None, message_id)
            uow.jobs.renew(document.id, lease.token, now=now, lease_for=self._settings.lease_for)
            uow.commit()

    def _compose_email(
        self, lease: DeliveryLease, prepared: _Prepared, exc: DiscoveryError
    ) -> ComposedEmail | None:
        """Write the fallback e-mail and commit it with SEND_STARTED; None when the buyer has no address."""
        assert self._email is not None
        document = prepared.document
        body = prepared.body if prepared.body is not None else self._content(document.id)
        buyer = read_buyer(body)
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
                raise _Stop(DeliveryResult(document.id, None))  # another worker went on meanwhile
            # The exact MIME is the evidence, stored (like an AS4 message) before anything is sent.
            uow.messages.add(
                AS4MessageRecord(
                    message_id=composed.message_id,
                    direction=Direction.OUT,
                    request=RawHTTPMessage((("Content-Type", EMAIL_CONTENT_TYPE),), composed.mime),
                    created_at=now,
                    document_id=document.id,
                )
            )
            detail: JSONObject = {
                "attempt": lease.attempts,
                "channel": "email",
                "message_id": composed.message_id,
                "to": composed.recipient,
                "language": composed.language,
                "discovery": f"{getattr(exc.outcome, 'value', None) or type(exc).__name__}: {exc}",
            }
            entry = uow.outbound.transition(
                document.id,
                DeliveryEvent.SEND_STARTED,
                at=now,
                detail=detail,
                as4_message_id=composed.message_id,
            )
            self._notify(uow, current, entry, None, composed.message_id)
            # Lock order everywhere: document row (transition) before job row.
            uow.jobs.renew(document.id, lease.token, now=now, lease_for=self._settings.lease_for)
            uow.commit()
        return composed

    async def _resolve(self, lease: DeliveryLease, document: OutboundDocument) -> Endpoint:
        """The receiver's endpoint; a retry bypasses the lookup cache, so a receiver whose certificate
        changed since the last attempt is seen now and the message rebuilt for it (see ``_message_for``)."""
        args = (document.receiver, document.document_type, document.process)
        if document.as4_message_id is not None and isinstance(self._resolver, RefreshableResolver):
            return await self._resolver.resolve_fresh(*args)
        return await self._resolver.resolve(*args)

    # --- steps (synchronous; run in a worker thread) ---------------------------------------------------

    def _renew(self, lease: DeliveryLease) -> None:
        """Extend the lease (raises LeaseLost when another worker took the job over meanwhile)."""
        with self._store.unit_of_work() as uow:
            uow.jobs.renew(
                lease.document_id, lease.token, now=self._clock.now(), lease_for=self._settings.lease_for
            )
            uow.commit()

    def _prepare(self, lease: DeliveryLease) -> _Prepared:
        """Renew the lease for this attempt and load the document and its stored message, if any."""
        now = self._clock.now()
        with self._store.unit_of_work() as uow:
            uow.jobs.renew(lease.document_id, lease.token, now=now, lease_for=self._settings.lease_for)
            document = uow.outbound.get(lease.document_id)
            if document is None or document.status.is_final:
                # A job without a live document (deleted, or final already): drop it.
                uow.jobs.complete(lease.document_id, lease.token)
                uow.commit()
                status = document.status if document else None
                raise _Stop(DeliveryResult(lease.document_id, status))
            record = None
            if document.as4_message_id is not None:
                record = uow.messages.get(document.as4_message_id, Direction.OUT)
            body = None
            invalid = False
            if record is None:
                content = uow.outbound.get_content(document.id)
                body = content.body if content is not None else None
                # Stored with a failed validation (a refused Invoice Response or MLS, kept as the record
                # of the refusal): never sent, whatever retry is asked for (a sender SHALL NOT send it).
                report = content.validation_report if content is not None else None
                invalid = report is not None and report.get("valid") is False
            uow.commit()
        return _Prepared(document, record, body, invalid)

    def _message_for(self, prepared: _Prepared, endpoint: Endpoint) -> _Message:
        """The stored message (retries), a new one (first attempt) or a rebuilt one (key rotation).

        The certificate the message is (or will be) encrypted to is validated first (peppol-as4.md §13,
        sender: before sending; failure is final), so nothing is built or stored for a rejected receiver.

        A retry resends the stored bytes: same MessageId, identical digests (AS4 1.0 §3.2). When discovery
        now publishes another receiver certificate, those bytes can no longer be decrypted by the receiver;
        the same business document is then rebuilt for the new certificate as an application-level resend:
        a new MessageId (a resend with other digests is not an AS4 retry; peppol-as4.md §14 item 9: "App-level
        resends get new MessageIds") and the SAME SBDH InstanceIdentifier, so a receiver that got the first
        message after all recognises the business document as a duplicate (§13 item 13). The first message
        stays in the evidence.

        Raises:
            _Refused: the receiver certificate is rejected.
            LocalProtocolError: the message cannot be built or the stored one cannot be read back.
        """
        if prepared.record is not None:
            record = prepared.record
            restored = restore_outgoing(
                record.request.headers, record.request.body, instance_id=record.sbdh_instance_id or ""
            )
            if restored.receiver_certificate == endpoint.certificate:
                self._check_certificate(restored.receiver_certificate)
                return _Message(restored, record.sbdh_instance_id, new=False)
            log.warning(
                "document %s: the receiver certificate changed (serial %x -> %x): rebuilding message %s",
                record.document_id,
                restored.receiver_certificate.serial_number,
                endpoint.certificate.serial_number,
                record.message_id,
            )
            self._check_certificate(endpoint.certificate)
            body = self._content(prepared.document.id)
            instance_id = record.sbdh_instance_id or self._ids.new_id()
            outgoing = self._build(prepared.document, body, endpoint, instance_id)
            return _Message(outgoing, instance_id, new=True, replaces=record.message_id)
        if prepared.invalid:
            raise _Refused(AttemptOutcome(AttemptResult.GIVE_UP, "invalid-document: its validation failed"))
        self._check_certificate(endpoint.certificate)
        if prepared.body is None:
            raise LocalProtocolError(EbmsError.OTHER, "the document content is missing")
        instance_id = self._ids.new_id()
        return _Message(
            self._build(prepared.document, prepared.body, endpoint, instance_id), instance_id, True
        )

    def _content(self, document_id: str) -> bytes:
        with self._store.unit_of_work() as uow:
            content = uow.outbound.get_content(document_id)
            uow.commit()
        if content is None:
            raise LocalProtocolError(EbmsError.OTHER, "the document content is missing")
        return content.body

    def _build(
        self, document: OutboundDocument, body: bytes, endpoint: Endpoint, instance_id: str
    ) -> OutgoingMessage:
        now = self._clock.now()
        try:
            # peppol-as4.md §13 (sender): SBDH with COUNTRY_C1 and an InstanceIdentifier; From = our CN,
            # To = the receiver certificate CN (the builder takes both from the certificates).
            sbd = build_sbd(
                body,
                sender=document.sender,
                receiver=document.receiver,
                document_type=document.document_type,
                process=document.process,
                country_c1=self._settings.country_c1,
                instance_id=instance_id,
                created=now,
                **self._mls_scopes(document),
            )
        except MappingError as exc:
            raise LocalProtocolError(EbmsError.OTHER, f"cannot wrap the document in an SBD: {exc}") from exc
        return build_user_message(
            sbd,
            sender=self._identity,
            receiver_certificate=endpoint.certificate,
            message_id=f"{self._ids.new_id()}@{self._settings.message_id_domain}",
            timestamp=now,
            random_bytes=self._random_bytes,
        )

    def _mls_scopes(self, document: OutboundDocument) -> dict[str, Any]:
        """The SBDH MLS_TO / MLS_TYPE scopes for ``document`` (none for an MLS, none when not configured)."""
        if self._settings.mls_to is None or document.kind is DocumentKind.MLS:
            return {}
        return {"mls_to": self._settings.mls_to, "mls_type": self._settings.mls_type}

    def _check_certificate(self, certificate: x509.Certificate) -> None:
        """Validate the receiver AP certificate now (peppol-as4.md §10.2); raise _Refused if rejected."""
        try:
            validate_ap_certificate(
                certificate, self._trust, at=self._clock.now(), revocation=self._revocation
            )
        except CertificateRejected as exc:
            reason = getattr(exc.reason, "value", exc.reason)
            raise _Refused(
                AttemptOutcome(AttemptResult.GIVE_UP, f"receiver-certificate-rejected: {reason}: {exc}")
            ) from exc

    def _start_attempt(self, lease: DeliveryLease, message: _Message, endpoint: Endpoint) -> bool:
        """Commit the message (first attempt, rebuild) and SEND_STARTED before sending; True if the
        business document was sent before (the receiver may hold it)."""
        now = self._clock.now()
        outgoing, instance_id, new = message.outgoing, message.instance_id, message.new
        with self._store.unit_of_work() as uow:
            document = self._current(uow, lease)
            if new and document.as4_message_id != message.replaces:
                # Another worker stored a message meanwhile (possible only after our lease was lost): one
                # document never gets two different messages for one attempt.
                raise _Stop(DeliveryResult(document.id, None))
            if new:
                uow.messages.add(
                    AS4MessageRecord(
                        message_id=outgoing.message_id,
                        direction=Direction.OUT,
                        request=RawHTTPMessage(tuple(outgoing.headers.items()), outgoing.body),
                        created_at=now,
                        document_id=document.id,
                        sbdh_instance_id=instance_id,
                    )
                )
            detail: JSONObject = {
                "attempt": lease.attempts,
                "message_id": outgoing.message_id,
                "url": endpoint.url,
            }
            if message.replaces is not None:
                # The rebuild is kept in the timeline; both messages stay in the evidence.
                detail["rebuilt_from"] = message.replaces
                detail["rebuild_reason"] = "receiver-certificate-changed"
                detail["receiver_certificate_serial"] = format(endpoint.certificate.serial_number, "x")
            entry = uow.outbound.transition(
                document.id,
                DeliveryEvent.SEND_STARTED,
                at=now,
                detail=detail,
                as4_message_id=outgoing.message_id,
            )
            self._notify(uow, document, entry, None, outgoing.message_id)
            # Lock order everywhere: document row (transition) before job row.
            uow.jobs.renew(document.id, lease.token, now=now, lease_for=self._settings.lease_for)
            uow.commit()
        # The message is stored with the first SEND_STARTED: a stored message may have reached the receiver.
        return not new or message.replaces is not None

    def _judge(
        self, response: HTTPResponse, outgoing: OutgoingMessage, previously_sent: bool
    ) -> AttemptOutcome:
        now = self._clock.now()
        headers = dict(response.headers)
        verdict = verify_receipt(headers, response.body, outgoing, trust=self._trust, at=now)
        # verify_receipt verified the signer (once): a duplicate error counts only when it is authentic.
        authentic = is_duplicate_error(verdict) and verdict.signer_verified
        facts = {
            "signer": common_name(outgoing.receiver_certificate),
            "references": len(outgoing.signed_references),
        }
        return judge_response(
            response.status,
            response.headers,
            response.body,
            verdict,
            at=now,
            previously_sent=previously_sent,
            duplicate_authentic=authentic,
            receipt_facts=facts,
        )

    async def _finish(
        self, lease: DeliveryLease, message_id: str | None, outcome: AttemptOutcome
    ) -> DeliveryResult:
        return await self._thread(self._record_outcome, lease, message_id, outcome)

    def _record_outcome(
        self, lease: DeliveryLease, message_id: str | None, outcome: AttemptOutcome
    ) -> DeliveryResult:
        """Evidence, transition, timeline, webhook and job update in one unit of work."""
        now = self._clock.now()
        document_id = lease.document_id
        event, reason, next_at = self._event_for(outcome, lease)
        detail: JSONObject = {"attempt": lease.attempts, **outcome.detail}
        if outcome.probably_delivered:
            detail["probably_delivered"] = True
        try:
            with self._store.unit_of_work() as uow:
                current = self._current(uow, lease)
                if outcome.signal is not None and message_id is not None:
                    uow.messages.record_signal(message_id, Direction.OUT, outcome.signal)
                entry = uow.outbound.transition(
                    current.id, event, at=now, reason=reason, detail=detail, next_attempt_at=next_at
                )
                self._notify(uow, current, entry, reason, message_id)
                if event is DeliveryEvent.RECEIPT_RECEIVED and message_id is not None:
                    self._count(uow, current, message_id, outcome)
                if event is DeliveryEvent.RETRYABLE_FAILURE:
                    assert next_at is not None
                    uow.jobs.reschedule(current.id, lease.token, due_at=next_at, error=reason)
                elif event in (DeliveryEvent.RECEIPT_RECEIVED, DeliveryEvent.EMAIL_ACCEPTED):
                    uow.jobs.complete(current.id, lease.token)
                    if self._on_receipt is not None:
                        self._on_receipt(uow, current.id)
                else:
                    uow.jobs.fail(current.id, lease.token, error=reason or event.value)
                uow.commit()
        except (LeaseLost, InvalidTransition) as exc:
            # Another worker took the job over (our lease expired) and owns the outcome now; it resends the
            # same bytes, so nothing is lost.
            log.warning("document %s: outcome %s not recorded: %s", document_id, event.value, exc)
            return DeliveryResult(document_id, None, None, reason, message_id, outcome)
        log.info("document %s: %s -> %s (%s)", document_id, entry.from_status, entry.to_status, reason)
        return DeliveryResult(document_id, entry.to_status, event, reason, message_id, outcome)

    def _count(
        self, uow: UnitOfWork, document: OutboundDocument, message_id: str, outcome: AttemptOutcome
    ) -> None:
        """Peppol reporting (peppol-as4.md §11): record the delivered transmission with its receipt."""
        record = uow.messages.get(message_id, Direction.OUT)
        summary = outcome.signal.receipt_summary if outcome.signal is not None else None
        seat = str((summary or {}).get("signer") or "")
        if record is None or not seat:
            log.warning(
                "document %s: message %s not counted for reporting (no record)", document.id, message_id
            )
            return
        content = uow.outbound.get_content(document.id)
        counted = sent_transmission(
            document,
            message_id=message_id,
            sent_at=record.created_at,
            receiver_seat=seat,
            our_country=self._settings.country_c1,
            ubl=content.body if content is not None else None,
        )
        if counted is not None:
            uow.reporting.record(counted)

    def _event_for(
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

    def _current(self, uow: UnitOfWork, lease: DeliveryLease) -> OutboundDocument:
        document = uow.outbound.get(lease.document_id)
        if document is None or document.status.is_final:
            raise _Stop(DeliveryResult(lease.document_id, document.status if document else None))
        return document

    def _notify(
        self,
        uow: UnitOfWork,
        document: OutboundDocument,
        change: TimelineEvent,
        reason: str | None,
        message_id: str | None,
    ) -> None:
        """Queue a webhook for a status change, in the transaction of the change (transactional outbox).

        The payload is ``status_change_webhook``'s, the one the submit and retry paths send: receivers see
        a single format whatever made the change.
        """
        if self._settings.webhook_url is None or change.from_status is change.to_status:
            return
        uow.outbox.add(
            status_change_webhook(
                event_id=self._ids.new_id(),
                document=document,
                change=change,
                reason=reason,
                as4_message_id=message_id,
            )
        )

    @staticmethod
    async def _thread(func: Callable[..., T], *args: object) -> T:
        # Database and CPU-heavy steps (signing, verifying) must not block the event loop.
        return await anyio.to_thread.run_sync(partial(func, *args))
