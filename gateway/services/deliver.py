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
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Final, TypeVar

import anyio.to_thread

from gateway.as4 import OutgoingMessage, verify_receipt
from gateway.crypto import CertificateVerdicts, KeyMaterial, RevocationChecker, TrustStore, common_name
from gateway.errors import (
    AS4ProtocolError,
    DiscoveryError,
    InvalidTransition,
    LeaseLost,
    StoreError,
    TransportError,
)
from gateway.model.identifiers import EmailReceiver, ParticipantID
from gateway.model.message import (
    OutboundDocument,
)
from gateway.services.awaited_sends import AwaitedSends
from gateway.services.delivery_attempt import (
    AttemptMessage,
    AttemptRefused,
    DeliveryResult,
    DeliverySettings,
    PreparedDocument,
    StartedAttempt,
    StopAttempt,
    Unbuilt,
    discovery_failure,
)
from gateway.services.delivery_by_email import EmailAttempts
from gateway.services.delivery_message import MessageFactory
from gateway.services.delivery_outcome import (
    AttemptOutcome,
    AttemptResult,
    is_duplicate_error,
    judge_internal_error,
    judge_response,
    judge_transport_error,
)
from gateway.services.delivery_steps import DeliverySteps
from gateway.services.email_fallback import EmailChannel
from gateway.services.endpoint_gate import EndpointGate, GateRefusal, SendPermit, endpoint_key
from gateway.services.endpoint_slots import EndpointSlots
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

log = logging.getLogger("gateway.deliver")

__all__ = ["CRASH_ALLOWANCE", "Deliverer", "DeliveryResult", "DeliverySettings"]

T = TypeVar("T")
#: Leases beyond the attempt limit tolerated for attempts that never recorded an outcome (worker killed):
#: a document that crashes its worker every time must still end, as failed, instead of looping forever.
CRASH_ALLOWANCE: Final = 3
#: Jobs refused by the endpoint gate whose endpoint is remembered (to refuse them again cheaply).
MAX_REMEMBERED_REFUSALS: Final = 10_000


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
        gate: per-endpoint concurrency limits and circuit breakers (``services.endpoint_gate``), shared by
            the process's concurrent attempts; None: no limit (tests of the recipe alone).
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
        gate: EndpointGate | None = None,
    ) -> None:
        self._steps = DeliverySteps(
            store=store,
            clock=clock,
            ids=ids,
            retry=retry,
            jitter=jitter,
            settings=settings,
            on_receipt=on_receipt,
            email=email,
        )
        # A busy fast endpoint is waited for in the process; a slow one hands its surplus jobs back.
        self._slots = EndpointSlots(gate) if gate is not None else None
        # Endpoint URL of each job the gate refused (it will likely be refused again while the endpoint is
        # busy: then it is handed back without loading the document or looking the receiver up).
        self._refused: dict[str, str] = {}
        # Deliveries in flight that have not reached their endpoint's slot yet (``before_endpoints``), and
        # who is told when that drops to none or jobs start or stop waiting for a slot (``watch_endpoints``).
        self._before_endpoint: set[object] = set()
        self._watcher: Callable[[], object] | None = None
        # Requests out and not answered yet: one waiting long no longer holds a worker slot (``long_sends``).
        self._awaited = AwaitedSends(clock)
        self._on_receipt = on_receipt
        self._emails = EmailAttempts(self._steps, email)
        self._resolver = resolver
        self._transport = transport
        self._trust = trust
        self._clock = clock
        self._retry = retry
        self._settings = settings
        # The receiver certificate is validated before each send and signs the receipt: one path check.
        self._verdicts = CertificateVerdicts()
        self._messages = MessageFactory(
            identity=identity,
            trust=trust,
            clock=clock,
            ids=ids,
            settings=settings,
            random_bytes=random_bytes,
            revocation=revocation,
            verdicts=self._verdicts,
        )

    def preload(self, uow: UnitOfWork, leases: list[DeliveryLease]) -> dict[str, PreparedDocument]:
        """Load the documents of fresh leases in one read-only unit of work, right after the lease's commit
        and in its thread hop (the worker's lease): handed to ``deliver_one``, they save each attempt its
        own read transaction and thread hop. Jobs the endpoint gate refused before are left out: they are
        likely handed back unread again. Keyed by document id; a document gone or final is left out (its
        attempt drops the job).

        A document whose reading raises (a bug, a stored row the reader no longer accepts) is left out too:
        its attempt reads it again and fails alone, counted by CRASH_ALLOWANCE, as before the preload. Raising
        here would cost the whole batch its documents and the worker its leasing step. A StoreError (the
        database failed: on PostgreSQL the transaction is aborted) propagates: the worker then lets each
        attempt read its own document. Jobs past CRASH_ALLOWANCE are given up without their document being
        read, so they are not read here."""
        loaded: dict[str, PreparedDocument] = {}
        for lease in leases:
            if lease.document_id in self._refused or self._past_crash_allowance(lease):
                continue
            try:
                prepared = self._steps.preload(uow, lease)
            except StoreError:
                raise
            except Exception as exc:
                log.warning(
                    "document %s: not read with its lease (%s): its attempt reads it", lease.document_id, exc
                )
                continue
            if prepared is not None:
                loaded[lease.document_id] = prepared
        return loaded

    def waiting_for_endpoints(self) -> int:
        """Deliveries of this process waiting for a slot of a busy endpoint now (``EndpointSlots``): each
        waits at most ``DEFAULT_MAX_SLOT_WAIT`` for a send to that endpoint to end, which frees a slot of
        the worker too (the worker's ``busy`` signal)."""
        return self._slots.waiting_in_all() if self._slots is not None else 0

    def before_endpoints(self) -> int:
        """Deliveries in flight that have not yet reached their endpoint's slot (reading the document,
        looking the receiver up): whether they will send or wait for a slot (``waiting_for_endpoints``) is
        not known yet. A worker whose slots just filled waits for them before it tells its signal it is
        busy (``worker.pacing``)."""
        return len(self._before_endpoint)

    def watch_endpoints(self, watcher: Callable[[], object] | None) -> None:
        """Call ``watcher`` (synchronously, on the event loop) when ``before_endpoints`` drops to zero and
        when ``waiting_for_endpoints`` turns from zero to some or back: the worker then tells its wake-up
        signal again. None: stop telling."""
        self._watcher = watcher
        if self._slots is not None:
            self._slots.watch(watcher)

    def _reached_endpoint(self, token: object) -> None:
        """The delivery of ``token`` reached its endpoint's slot (or ended before it)."""
        if token in self._before_endpoint:
            self._before_endpoint.discard(token)
            if not self._before_endpoint and self._watcher is not None:
                self._watcher()

    def long_sends(self, seconds: float) -> tuple[int, float | None]:
        """Sends of this process that have waited longer than ``seconds`` for their receiver's answer, and
        the seconds until the next of the others will have (None: no other send is waiting). The worker
        does not count them against its slots (``gateway.services.awaited_sends``)."""
        return self._awaited.waited_longer(seconds)

    def _past_crash_allowance(self, lease: DeliveryLease) -> bool:
        return lease.attempts > self._retry.max_attempts + CRASH_ALLOWANCE

    async def deliver_one(
        self, lease: DeliveryLease, prepared: PreparedDocument | None = None
    ) -> DeliveryResult:
        """Run one delivery attempt for a leased job and record its outcome. ``prepared``: the document as
        ``preload`` read it with the lease (None: it is read now).

        Never raises for delivery problems (they become transitions); ``LeaseLost`` and a document that
        became final meanwhile end the attempt quietly. Store errors (database down) propagate: the worker
        loop hands the lease back as soon as the store answers (``gateway.worker.loop``), or it expires.
        """
        token = object()
        self._before_endpoint.add(token)
        try:
            return await self._attempt(lease, prepared, token)
        except StopAttempt as stop:
            return stop.result
        except (LeaseLost, InvalidTransition) as exc:
            # Another worker took the job over after our lease expired; it owns the document now.
            log.warning("document %s: attempt abandoned: %s", lease.document_id, exc)
            return DeliveryResult(lease.document_id, None)
        finally:
            self._reached_endpoint(token)

    async def _attempt(
        self, lease: DeliveryLease, preloaded: PreparedDocument | None, token: object
    ) -> DeliveryResult:
        if self._past_crash_allowance(lease):
            # Attempts that never recorded an outcome (the worker died, or a step raised, each time): stop
            # the loop. Checked before any other step, so a step that always raises cannot loop forever.
            reason = f"retries-exhausted: {lease.attempts - 1} attempts were interrupted without an outcome"
            self._reached_endpoint(token)  # given up: it neither sends nor waits
            return await self._finish(lease, None, AttemptOutcome(AttemptResult.GIVE_UP, reason))
        refused_for = self._refused.pop(lease.document_id, None)
        if refused_for is not None and self._slots is not None and not self._slots.would_wait(refused_for):
            again = self._slots.gate.refusal(refused_for)
            if again is not None:
                self._reached_endpoint(token)  # handed back: it neither sends nor waits
                return await self._defer(lease, refused_for, again)
        if preloaded is not None and refused_for is None:
            prepared = preloaded
        else:
            prepared = await self._thread(self._steps.prepare, lease)
        document = prepared.document
        if prepared.waits_for is not None:
            # An Invoice Response does not overtake the earlier response to the same received document
            # (bis-billing.md §9): its job waits, not counted as an attempt.
            self._reached_endpoint(token)  # handed back: it neither sends nor waits for a slot
            log.info("document %s: waits for the earlier response %s", document.id, prepared.waits_for)
            return await self._thread(self._steps.wait_for_earlier, lease, prepared.waits_for)
        emailed = self._emails.stored(prepared)
        if emailed is not None:
            self._reached_endpoint(token)  # e-mailed: no endpoint's slot to send to or wait for
            return await self._emails.resend(lease, emailed)
        if isinstance(document.receiver, EmailReceiver):
            self._reached_endpoint(token)  # likewise (an SMTP send must not count as before an endpoint)
            return await self._emails.only(lease, prepared, document.receiver)
        try:
            endpoint = await self._resolve(document, document.receiver)
        except DiscoveryError as exc:
            self._reached_endpoint(token)  # no endpoint: it is e-mailed or its failure recorded
            # The e-mail fallback if it applies. Otherwise only an unreachable SML/SMP may answer otherwise
            # later: every other outcome (bad SMP signature, rejected endpoint certificate...) fails now.
            by_email = await self._emails.fallback(lease, prepared, exc)
            if by_email is not None:
                return by_email
            return await self._finish(lease, None, discovery_failure(exc))

        self._reached_endpoint(token)  # it sends, waits for a slot (counted there, same step) or is refused
        if self._slots is None:
            return await self._send_as4(lease, prepared, endpoint, None)
        key = endpoint_key(endpoint.url)  # one receiving AP however its SMP entries spell its URL
        permit = await self._slots.acquire(key)
        if isinstance(permit, GateRefusal):
            # The endpoint is busy or its circuit open: hand the job back, not counted as an attempt.
            return await self._defer(lease, key, permit)
        try:
            return await self._send_as4(lease, prepared, endpoint, permit)
        finally:
            self._slots.release(permit, ok=None)  # a no-op once the send reported how it ended

    async def _send_as4(
        self, lease: DeliveryLease, prepared: PreparedDocument, endpoint: Endpoint, permit: SendPermit | None
    ) -> DeliveryResult:
        """Build (or load) the message, commit SEND_STARTED, send, judge and record the outcome."""
        started = await self._thread(self._build_and_start, lease, prepared, endpoint)
        if isinstance(started, Unbuilt):
            return await self._finish(lease, started.message_id, started.outcome)
        message, renewed_at, attempt = started
        document, outgoing = prepared.document, message.outgoing
        log.info(
            "sending document %s as AS4 message %s to %s (attempt %d)",
            document.id,
            outgoing.message_id,
            endpoint.url,
            lease.attempts,
        )
        if permit is not None and self._slots is not None:
            self._slots.gate.sending(permit)
        try:
            response = await self._post(endpoint.url, outgoing)
        except TransportError as exc:
            self._sent(permit, ok=False)
            await self._renew_after_send(lease, renewed_at)
            outcome = judge_transport_error(str(exc), retryable=exc.retryable, code=exc.code)
            result = await self._finish(lease, outgoing.message_id, outcome, attempt)
        else:
            self._sent(permit, ok=True)  # any HTTP answer: the endpoint is alive
            await self._renew_after_send(lease, renewed_at)
            result = await self._thread(self._judge_and_record, lease, response, outgoing, attempt)
        return replace(result, sent=True)

    async def _post(self, url: str, outgoing: OutgoingMessage) -> HTTPResponse:
        """Send the message; the wait for its answer is known to ``long_sends`` while it lasts."""
        awaited = self._awaited.begin()
        try:
            return await self._transport.post(url, headers=outgoing.headers, body=outgoing.body)
        finally:
            self._awaited.end(awaited)

    def _build_and_start(
        self, lease: DeliveryLease, prepared: PreparedDocument, endpoint: Endpoint
    ) -> tuple[AttemptMessage, datetime, StartedAttempt] | Unbuilt:
        """Build (or load) the message, then commit it and SEND_STARTED: one worker-thread hop (issue 12).

        Returns the message, the time the lease is renewed from and what SEND_STARTED committed (whether
        the document was sent before among it); or, when no message can be built for this receiver, the
        outcome to record instead.
        """
        try:
            message = self._messages.for_attempt(prepared, endpoint, self._steps.content)
        except AttemptRefused as refused:
            return Unbuilt(refused.outcome, prepared.document.as4_message_id)
        except AS4ProtocolError as exc:
            failed = AttemptOutcome(AttemptResult.GIVE_UP, f"cannot-build-message: {exc.detail or exc}")
            return Unbuilt(failed, None)
        renewed_at = self._clock.now()  # start_attempt renews the lease from this time or later
        return message, renewed_at, self._steps.start_attempt(lease, message, endpoint, prepared)

    def _judge_and_record(
        self, lease: DeliveryLease, response: HTTPResponse, outgoing: OutgoingMessage, attempt: StartedAttempt
    ) -> DeliveryResult:
        """Judge the answer and record the outcome: one worker-thread hop (issue 12)."""
        try:
            outcome = self._judge(response, outgoing, attempt.previously_sent)
        except Exception as exc:
            # A bug or an unforeseen input in the AS4 core: record why and retry later (the same bytes),
            # instead of raising and resending once per lease period with nothing in the timeline.
            log.exception("document %s: judging the answer failed", lease.document_id)
            outcome = judge_internal_error(exc, response.status, response.body)
        return self._steps.record_outcome(lease, outgoing.message_id, outcome, attempt)

    async def _renew_after_send(self, lease: DeliveryLease, renewed_at: datetime) -> None:
        """Renew the lease if the send used up half of it or more: judging (signature checks) and recording
        (which may wait for the database lock) must not run on an expired lease. A send that took less
        left at least half a lease (the heartbeat renews it too): one unit of work fewer per document."""
        if self._clock.now() - renewed_at >= self._settings.lease_for / 2:
            await self._thread(self._steps.renew, lease)

    def _sent(self, permit: SendPermit | None, *, ok: bool) -> None:
        """Report how the send ended to the endpoint gate (its slot and circuit breaker)."""
        if permit is not None and self._slots is not None:
            self._slots.release(permit, ok=ok)

    async def _defer(self, lease: DeliveryLease, endpoint: str, refusal: GateRefusal) -> DeliveryResult:
        """Hand the job back without counting an attempt and remember its endpoint (bounded); a document
        past its retry window behind an open circuit is given up instead (``defer_attempt``)."""
        result = await self._thread(self._steps.hand_back, lease, refusal)
        if not result.deferred:
            return result  # given up (past its retry window) or gone: nothing comes back
        if len(self._refused) >= MAX_REMEMBERED_REFUSALS:
            del self._refused[next(iter(self._refused))]  # the oldest
        self._refused[lease.document_id] = endpoint
        return result

    async def _resolve(self, document: OutboundDocument, receiver: ParticipantID) -> Endpoint:
        """The receiver's endpoint; a retry bypasses the lookup cache, so a receiver whose certificate
        changed since the last attempt is seen now and the message rebuilt for it (``MessageFactory``)."""
        args = (receiver, document.document_type, document.process)
        if document.as4_message_id is not None and isinstance(self._resolver, RefreshableResolver):
            return await self._resolver.resolve_fresh(*args)
        return await self._resolver.resolve(*args)

    def _judge(
        self, response: HTTPResponse, outgoing: OutgoingMessage, previously_sent: bool
    ) -> AttemptOutcome:
        now = self._clock.now()
        headers = dict(response.headers)
        verdict = verify_receipt(
            headers, response.body, outgoing, trust=self._trust, at=now, verdicts=self._verdicts
        )
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
        self,
        lease: DeliveryLease,
        message_id: str | None,
        outcome: AttemptOutcome,
        attempt: StartedAttempt | None = None,
    ) -> DeliveryResult:
        return await self._thread(self._steps.record_outcome, lease, message_id, outcome, attempt)

    @staticmethod
    async def _thread(func: Callable[..., T], *args: object) -> T:
        # Database and CPU-heavy steps (signing, verifying) must not block the event loop.
        return await anyio.to_thread.run_sync(partial(func, *args))
