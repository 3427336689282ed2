"""A document behind an open circuit is not deferred for ever: once it has waited longer than its retry
schedule's horizon (the delays of its attempts at the schedule's ceilings), the next deferral gives it up as
the attempt limit would have (``failed``, ``retries-exhausted`` in the timeline, the status webhook, no
e-mail); a younger one is deferred as before (``retrying``, not counted as an attempt)."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from as4_support import NOW, dev_pki
from buyer_contact import BUYER_EMAIL, with_buyer_contact
from delivery_support import SettableClock, UUIDs, directory_json, queue_document

from gateway.model.message import DeliveryEvent, DeliveryStatus
from gateway.services.backoff import backoff_ceiling
from gateway.services.circuit_breaker import BreakerPolicy
from gateway.services.deliver import Deliverer, DeliveryResult, DeliverySettings
from gateway.services.email_fallback import EmailChannel
from gateway.services.endpoint_gate import EndpointGate
from gateway.services.ports import DeliveryLease
from gateway.store import SQLDocumentStore
from gateway.transport.directory import parse_directory
from gateway.worker import BackoffPolicy
from tests.unit.services.test_deliver import URL, RefusingTransport
from tests.unit.services.test_deliver_fallback_after_as4 import RecordingMailer

LEASE = timedelta(minutes=5)
HOOK = "https://erp.example.be/hooks"
# The default schedule: 12 attempts, 30 s doubling up to 1 h: 30+60+...+1920 s, then 4 x 1 h.
HORIZON = timedelta(hours=5, minutes=3, seconds=30)


def test_the_default_horizon_sums_the_ceilings_of_all_but_the_last_attempt() -> None:
    policy = BackoffPolicy()
    ceilings = [
        backoff_ceiling(n, base=policy.base, factor=policy.factor, cap=policy.cap)
        for n in range(1, policy.max_attempts)
    ]
    assert policy.horizon == sum(ceilings, timedelta(0)) == HORIZON
    assert BackoffPolicy(max_attempts=1).horizon == timedelta(0)


class Rig:
    def __init__(
        self, store: SQLDocumentStore, *, max_attempts: int = 12, policy: BreakerPolicy | None = None
    ) -> None:
        self.store = store
        self.clock = SettableClock()
        self.transport = RefusingTransport()
        self.mailer = RecordingMailer()
        # An open period as long as the outage: the circuit opened by the first failure stays open.
        policy = policy or BreakerPolicy(failure_threshold=1, open_for=timedelta(minutes=10))
        self.deliverer = Deliverer(
            store=store,
            resolver=parse_directory(directory_json(URL), base_dir=Path(".")),
            transport=self.transport,
            identity=dev_pki().sender,
            trust=dev_pki().trust,
            clock=self.clock,
            ids=UUIDs(),
            retry=BackoffPolicy(max_attempts=max_attempts),
            jitter=random.Random(1).random,
            settings=DeliverySettings(message_id_domain="unit.test", lease_for=LEASE, webhook_url=HOOK),
            email=EmailChannel(self.mailer, "invoices@coop.test"),
            gate=EndpointGate(per_endpoint=4, breaker=policy, clock=self.clock),
        )

    def leased(self) -> dict[str, DeliveryLease]:
        with self.store.unit_of_work() as uow:
            leases = uow.jobs.lease(
                now=self.clock.now(), limit=10, lease_for=LEASE, token=str(self.clock.now())
            )
            uow.commit()
        return {lease.document_id: lease for lease in leases}

    def deliver(self, *leases: DeliveryLease) -> list[DeliveryResult]:
        async def main() -> list[DeliveryResult]:
            return [await self.deliverer.deliver_one(lease) for lease in leases]

        return asyncio.run(main())

    def document(self, document_id: str) -> Any:
        with self.store.unit_of_work(read_only=True) as uow:
            return uow.outbound.get(document_id)

    def job(self, document_id: str) -> Any:
        with self.store.unit_of_work(read_only=True) as uow:
            return uow.jobs.get(document_id)

    def timeline(self, document_id: str) -> Any:
        with self.store.unit_of_work(read_only=True) as uow:
            return uow.outbound.timeline(document_id)

    def webhooks(self, document_id: str) -> list[dict[str, Any]]:
        with self.store.unit_of_work() as uow:
            leases = uow.outbox.lease(
                now=self.clock.now() + timedelta(days=1), limit=50, lease_for=timedelta(minutes=1), token="t"
            )
            uow.rollback()
        data = [dict(lease.message.payload["data"]) for lease in leases]  # type: ignore[arg-type]
        return [d for d in data if d["document_id"] == document_id]


def test_a_document_waiting_behind_an_open_circuit_past_its_retry_window_is_given_up(
    store: SQLDocumentStore,
) -> None:
    rig = Rig(store)
    body = with_buyer_contact(BUYER_EMAIL, "BE", "9000")  # the e-mail fallback would have an address
    old = queue_document(store, body=body)
    (first,) = rig.deliver(rig.leased()[old])
    assert first.sent
    assert first.status is DeliveryStatus.RETRYING

    # Within the window: deferred as before, not counted as an attempt.
    rig.clock.advance(minutes=2)
    (deferred,) = rig.deliver(rig.leased()[old])
    assert deferred.deferred
    assert not deferred.sent
    assert rig.document(old).status is DeliveryStatus.RETRYING
    assert (rig.document(old).status_reason or "").startswith(f"circuit-open: {URL} failed 1 times in a row")
    assert rig.job(old).attempts == 1

    # Hours later the receiver is still dead: each open period's probe fails (here a fresh document's).
    young = queue_document(store, at=NOW + timedelta(hours=5), body=body)
    rig.clock.current = NOW + HORIZON + timedelta(seconds=1)
    prober = queue_document(store, at=rig.clock.now())
    leases = rig.leased()
    assert set(leases) == {old, young, prober}
    probe, given_up, waiting = rig.deliver(leases[prober], leases[old], leases[young])
    assert probe.sent
    assert probe.status is DeliveryStatus.RETRYING

    # The old one: first due (and first attempted) longer ago than the horizon of its schedule -> failed,
    # as if its attempts had run out.
    reason = (
        f"circuit-open: {URL} unreachable since {NOW.isoformat(timespec='seconds')}, "
        "retry window of 5 h 3 min 30 s exceeded"
    )
    assert not given_up.sent
    assert not given_up.deferred
    assert (given_up.status, given_up.event, given_up.reason) == (
        DeliveryStatus.FAILED,
        DeliveryEvent.RETRIES_EXHAUSTED,
        reason,
    )
    document = rig.document(old)
    assert (document.status, document.status_reason) == (DeliveryStatus.FAILED, reason)
    last = rig.timeline(old)[-1]
    assert (last.from_status, last.to_status, last.event) == (
        DeliveryStatus.RETRYING,
        DeliveryStatus.FAILED,
        DeliveryEvent.RETRIES_EXHAUSTED,
    )
    assert rig.job(old) is None  # nothing left queued
    (hook,) = [h for h in rig.webhooks(old) if h["status"] == "failed"]
    assert (hook["previous_status"], hook["status"], hook["reason"]) == ("retrying", "failed", reason)
    assert rig.mailer.sent == []  # exhausted retries over Peppol are never e-mailed

    # The young one (due 5 h after NOW, never attempted): deferred as today.
    assert waiting.deferred
    assert not waiting.sent
    assert waiting.status is DeliveryStatus.RETRYING
    assert (rig.document(young).status_reason or "").startswith(
        f"circuit-open: {URL} failed 2 times in a row"
    )
    assert rig.job(young).attempts == 0
    assert rig.timeline(young)[-1].event is DeliveryEvent.RETRYABLE_FAILURE

    # Remembered as refused, the young one is handed back on the gate's word later - and given up once its
    # own window has passed.
    rig.clock.current = NOW + timedelta(hours=5) + HORIZON + timedelta(seconds=1)
    leases = rig.leased()
    assert set(leases) == {young, prober}
    prober_again, young_given_up = rig.deliver(leases[prober], leases[young])
    assert prober_again.sent
    assert young_given_up.status is DeliveryStatus.FAILED
    assert rig.document(young).status_reason == (
        f"circuit-open: {URL} unreachable since {NOW.isoformat(timespec='seconds')}, "
        "retry window of 5 h 3 min 30 s exceeded"
    )
    assert rig.mailer.sent == []


def test_a_document_queued_long_ago_behind_a_circuit_that_just_opened_is_deferred(
    store: SQLDocumentStore,
) -> None:
    """The window counts the wait behind the open circuit: a document that sat in the queue for hours (the
    worker was down) is not given up the moment its endpoint's circuit opens, before any attempt of its own
    and before the endpoint was unreachable for a whole window."""
    rig = Rig(store)
    stale = queue_document(store, at=NOW - HORIZON - timedelta(hours=1))
    prober = queue_document(store, at=NOW)
    leases = rig.leased()
    probe, waiting = rig.deliver(leases[prober], leases[stale])
    assert probe.sent  # its failure opened the circuit at NOW
    assert waiting.deferred
    assert rig.document(stale).status is DeliveryStatus.RETRYING
    assert rig.job(stale).attempts == 0


@pytest.mark.parametrize("max_attempts", [1, 2])
def test_a_short_retry_window_does_not_give_up_a_document_before_the_longest_open_period(
    store: SQLDocumentStore, max_attempts: int
) -> None:
    """With a small attempt limit the schedule's horizon (0 s for 1 attempt, 30 s for 2) is not longer than
    the breaker's open periods: the window is at least the longest open period, so a document queued behind
    a circuit opened by other documents' failures waits for its attempt instead of failing untried."""
    rig = Rig(
        store, max_attempts=max_attempts, policy=BreakerPolicy(failure_threshold=1)
    )  # open 30 s .. 10 min
    waiting = queue_document(store, at=NOW)
    first_prober = queue_document(store, at=NOW)
    leases = rig.leased()
    (opened,) = rig.deliver(leases[first_prober])
    assert opened.sent  # its failure opened the circuit at NOW for 30 s

    rig.clock.advance(seconds=1)
    (deferred,) = rig.deliver(leases[waiting])
    assert deferred.deferred
    assert rig.document(waiting).status is DeliveryStatus.RETRYING

    # The next open period's probe (another document's) fails too: the circuit reopens for 60 s.
    rig.clock.current = NOW + timedelta(seconds=30)
    second_prober = queue_document(store, at=rig.clock.now())
    leases = rig.leased()
    assert {waiting, second_prober} <= set(leases)  # with 2 attempts the first prober's retry is due too
    probes = rig.deliver(*(lease for document_id, lease in leases.items() if document_id != waiting))
    assert [result.sent for result in probes].count(True) == 1  # the half-open circuit's one probe
    rig.clock.advance(seconds=1)
    (still,) = rig.deliver(leases[waiting])
    assert still.deferred  # 31 s behind the circuit: past the schedule's horizon, not the longest open period
    assert rig.document(waiting).status is DeliveryStatus.RETRYING
    assert rig.job(waiting).attempts == 0


def test_the_retry_window_behind_an_open_circuit_survives_worker_restarts(store: SQLDocumentStore) -> None:
    """The breaker lives in the worker process: a restarted worker's circuit is closed and, once it opens
    again, opened recently. The document's own timeline keeps its first circuit-open deferral, so a worker
    restarted more often than the window still gives the document up once the window has passed."""
    rig = Rig(store)
    stuck = queue_document(store, at=NOW)
    (first,) = rig.deliver(rig.leased()[stuck])
    assert first.sent  # its failure opens the circuit at NOW
    rig.clock.advance(minutes=2)
    (deferred,) = rig.deliver(rig.leased()[stuck])
    assert deferred.deferred  # the first circuit-open deferral: NOW + 2 min, in the timeline

    def after_restart(at: datetime) -> DeliveryResult:
        """A new worker process at ``at``: a fresh document's failure opens its circuit, then ``stuck``."""
        worker = Rig(store)
        worker.clock.current = at
        prober = queue_document(store, at=at)
        leases = worker.leased()
        assert stuck in leases
        others = [lease for document_id, lease in leases.items() if document_id != stuck]
        (opened, *_) = worker.deliver(
            leases[prober], *(lease for lease in others if lease.document_id != prober)
        )
        assert opened.sent
        (result,) = worker.deliver(leases[stuck])
        return result

    # A worker restarted every hour: each process's circuit opened an instant before the deferral.
    for hours in range(1, 5):
        again = after_restart(NOW + timedelta(hours=hours))
        assert again.deferred, hours
        assert rig.job(stuck).attempts == 1
    given_up = after_restart(NOW + timedelta(minutes=2) + HORIZON + timedelta(seconds=1))
    assert (given_up.status, given_up.event) == (DeliveryStatus.FAILED, DeliveryEvent.RETRIES_EXHAUSTED)
    since = (NOW + timedelta(minutes=2)).isoformat(timespec="seconds")
    assert given_up.reason == (
        f"circuit-open: {URL} unreachable since {since}, retry window of 5 h 3 min 30 s exceeded"
    )
    assert rig.document(stuck).status is DeliveryStatus.FAILED
    assert rig.job(stuck) is None


def test_a_retried_failed_document_counts_its_window_from_its_new_job(store: SQLDocumentStore) -> None:
    """Circuit-open deferrals before the document's job was (re)queued belong to an earlier series of
    attempts (a failed document's retry request queues a new job): they do not shorten the new window."""
    rig = Rig(store)
    document = queue_document(store, at=NOW)
    (first,) = rig.deliver(rig.leased()[document])
    assert first.sent
    rig.clock.advance(minutes=2)
    assert rig.deliver(rig.leased()[document])[0].deferred  # a circuit-open deferral of the first series
    rig.clock.current = NOW + timedelta(minutes=2) + HORIZON + timedelta(seconds=1)
    prober = queue_document(store, at=rig.clock.now())
    leases = rig.leased()
    rig.deliver(leases[prober])
    (given_up,) = rig.deliver(leases[document])
    assert given_up.status is DeliveryStatus.FAILED

    # Retried by an operator; the worker was down for longer than a window; a new process's circuit opens.
    with store.unit_of_work() as uow:
        uow.outbound.transition(document, DeliveryEvent.RETRY_REQUESTED, at=rig.clock.now())
        uow.jobs.enqueue(document, due_at=rig.clock.now())
        uow.commit()
    worker = Rig(store)
    worker.clock.current = rig.clock.now() + HORIZON + timedelta(hours=1)
    prober = queue_document(store, at=worker.clock.now())
    leases = worker.leased()
    worker.deliver(*(lease for document_id, lease in leases.items() if document_id != document))
    (waiting,) = worker.deliver(leases[document])
    assert waiting.deferred  # the circuit opened just now: its new window has only begun
    assert worker.document(document).status is DeliveryStatus.RETRYING


def test_documents_deferred_behind_an_open_circuit_come_due_spread_after_it_reopens(
    store: SQLDocumentStore,
) -> None:
    """Not all at the circuit's reopening: each document gets its own time within half the open period after
    it (none before: a document due while the circuit is still open would only be deferred again)."""
    rig = Rig(store)  # open for 10 min
    prober = queue_document(store, at=NOW)
    waiting = [queue_document(store, at=NOW) for _ in range(8)]
    leases = rig.leased()
    (opened,) = rig.deliver(leases[prober])
    assert opened.sent  # the circuit opens at NOW, until NOW + 10 min
    results = rig.deliver(*(leases[document_id] for document_id in waiting))
    assert all(result.deferred for result in results)
    due = [rig.job(document_id).due_at for document_id in waiting]
    assert len(set(due)) == len(due)
    reopening = NOW + timedelta(minutes=10)
    assert min(due) == reopening
    assert max(due) < reopening + timedelta(minutes=5)
    assert [rig.document(document_id).next_attempt_at for document_id in waiting] == due

    # The first due after the reopening is the probe (it fails: the circuit opens again); the next one due
    # is deferred to the next reopening, again at a place of its own.
    first, second = sorted(waiting, key=lambda document_id: rig.job(document_id).due_at)[:2]
    rig.clock.current = reopening
    leases = rig.leased()
    assert first in leases
    assert second not in leases
    (probe,) = rig.deliver(leases[first])
    assert probe.sent
    assert rig.job(first).attempts == 1  # its first attempt: the deferrals did not count
    rig.clock.current = rig.job(second).due_at
    (again,) = rig.deliver(rig.leased()[second])
    assert again.deferred
    assert rig.job(second).due_at >= reopening + timedelta(minutes=10)
    assert rig.job(second).attempts == 0
