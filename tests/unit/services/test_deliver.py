"""The delivery recipe with an in-process receiver (no sockets): crash points, lease take-over, the
attempt-limit guard, discovery failures and the pure judgement of answers."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from as4_support import NOW, RECEIVER, dev_pki, make_message, receive
from delivery_support import (
    RESET,
    ReceiverAP,
    SettableClock,
    UUIDs,
    directory_json,
    queue_document,
    receiver_ap,
)

import gateway.as4.signal_check as signals_module
import gateway.crypto.certs as certs_module
import gateway.services.deliver as deliver_module
from gateway.as4 import EbmsError, ReceiptVerdict, SendOutcome, build_error, build_receipt, verify_receipt
from gateway.as4.restore import restore_outgoing
from gateway.errors import DiscoveryError, LocalProtocolError, TransportError
from gateway.model import DocumentTypeID, ParticipantID, ProcessID
from gateway.model.message import DeliveryEvent, DeliveryStatus, Direction, OutboundDocument
from gateway.services.deliver import (
    CRASH_ALLOWANCE,
    Deliverer,
    DeliveryResult,
    DeliverySettings,
)
from gateway.services.delivery_outcome import AttemptResult, is_duplicate_error, judge_response
from gateway.services.outbound import OutboundSubmitter
from gateway.services.ports import DeliveryLease, Endpoint, HTTPResponse
from gateway.services.webhooks import STATUS_CHANGED
from gateway.store import SQLDocumentStore, make_engine, upgrade_database
from gateway.transport.directory import LocalDirectory, parse_directory
from gateway.worker import BackoffPolicy

LEASE = timedelta(minutes=5)
URL = "https://receiver.test/as4"


class ProcessDied(Exception):
    """Stands for the worker process dying at this point (nothing after it runs)."""


@dataclass
class InProcessTransport:
    """Hands the request to the receiver directly; can die before or after the receiver saw it."""

    receiver: ReceiverAP
    die_before: int = 0  # the next n calls die before sending
    die_after: int = 0  # the next n calls die after the receiver answered (response lost)
    on_send: Callable[[], Any] | None = None
    bodies: list[bytes] = field(default_factory=list)

    async def post(self, url: str, *, headers: Mapping[str, str], body: bytes) -> HTTPResponse:
        assert url == URL
        if self.die_before:
            self.die_before -= 1
            raise ProcessDied("before send")
        if self.on_send is not None:
            hook, self.on_send = self.on_send, None
            await hook()
        self.bodies.append(body)
        answer = self.receiver.handle(dict(headers), body)
        if self.die_after:
            self.die_after -= 1
            raise ProcessDied("after the receipt arrived")
        if answer is RESET:
            raise TransportError("connection reset")
        return HTTPResponse(answer.status, tuple(answer.headers.items()), answer.body)


class FailingResolver:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def resolve(
        self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID
    ) -> Endpoint:
        raise self.error


@dataclass
class Rig:
    store: SQLDocumentStore
    receiver: ReceiverAP
    transport: InProcessTransport
    clock: SettableClock = field(default_factory=SettableClock)
    directory: Any = None
    max_attempts: int = 3
    webhook_url: str | None = None

    def __post_init__(self) -> None:
        self.directory = self.directory or parse_directory(directory_json(URL), base_dir=Path("."))

    def deliverer(self) -> Deliverer:
        return Deliverer(
            store=self.store,
            resolver=self.directory,
            transport=self.transport,
            identity=dev_pki().sender,
            trust=dev_pki().trust,
            clock=self.clock,
            ids=UUIDs(),
            retry=BackoffPolicy(base=timedelta(seconds=10), max_attempts=self.max_attempts),
            jitter=random.Random(1).random,
            settings=DeliverySettings(
                message_id_domain="unit.test", lease_for=LEASE, webhook_url=self.webhook_url
            ),
        )

    def lease(self, token: str) -> list[DeliveryLease]:
        with self.store.unit_of_work() as uow:
            leases = uow.jobs.lease(now=self.clock.now(), limit=10, lease_for=LEASE, token=token)
            uow.commit()
        return leases

    def deliver(self, lease: DeliveryLease) -> DeliveryResult:
        return asyncio.run(self.deliverer().deliver_one(lease))

    def document(self, document_id: str) -> OutboundDocument:
        with self.store.unit_of_work(read_only=True) as uow:
            document = uow.outbound.get(document_id)
        assert document is not None
        return document


@pytest.fixture
def rig(store: SQLDocumentStore) -> Rig:
    receiver = receiver_ap()
    return Rig(store, receiver, InProcessTransport(receiver))


def test_crash_before_the_message_is_stored_leaves_an_accepted_document_that_is_rebuilt(rig: Rig) -> None:
    doc_id = queue_document(rig.store)
    rig.directory, working = FailingResolver(ProcessDied("while resolving")), rig.directory
    (lease,) = rig.lease("w1")
    with pytest.raises(ProcessDied):
        rig.deliver(lease)
    assert rig.document(doc_id).status is DeliveryStatus.ACCEPTED
    assert rig.document(doc_id).as4_message_id is None

    rig.directory = working
    assert rig.lease("w2") == []  # the dead worker's lease still runs
    rig.clock.advance(minutes=6)
    (lease,) = rig.lease("w2")
    assert lease.attempts == 2
    assert rig.deliver(lease).status is DeliveryStatus.DELIVERED
    assert rig.receiver.delivered == [rig.document(doc_id).as4_message_id]


def test_crash_after_storing_before_sending_resends_the_stored_bytes(rig: Rig) -> None:
    doc_id = queue_document(rig.store)
    rig.transport.die_before = 1
    (lease,) = rig.lease("w1")
    with pytest.raises(ProcessDied):
        rig.deliver(lease)
    document = rig.document(doc_id)
    assert document.status is DeliveryStatus.SENDING  # committed before the send
    with rig.store.unit_of_work(read_only=True) as uow:
        stored = uow.messages.get(document.as4_message_id or "", Direction.OUT)
    assert stored is not None
    assert rig.receiver.requests == []

    rig.clock.advance(minutes=6)
    (lease,) = rig.lease("w2")
    assert rig.deliver(lease).status is DeliveryStatus.DELIVERED
    assert rig.transport.bodies == [stored.request.body]
    assert rig.document(doc_id).as4_message_id == stored.message_id
    assert rig.document(doc_id).attempts == 2


@pytest.mark.parametrize("duplicates", ["receipt", "error"])
def test_crash_after_the_receipt_before_the_status_change_ends_delivered_once(
    rig: Rig, duplicates: str
) -> None:
    rig.receiver.duplicates = duplicates
    doc_id = queue_document(rig.store)
    rig.transport.die_after = 1
    (lease,) = rig.lease("w1")
    with pytest.raises(ProcessDied):
        rig.deliver(lease)
    assert rig.document(doc_id).status is DeliveryStatus.SENDING
    assert len(rig.receiver.delivered) == 1  # the receiver has it; we do not know yet

    rig.clock.advance(minutes=6)
    (lease,) = rig.lease("w2")
    result = rig.deliver(lease)
    assert result.status is DeliveryStatus.DELIVERED
    assert rig.receiver.delivered == [rig.document(doc_id).as4_message_id]
    assert rig.transport.bodies[0] == rig.transport.bodies[1]
    reason = rig.document(doc_id).status_reason
    assert (reason is None) if duplicates == "receipt" else (reason or "").startswith("probably-delivered")


def test_the_signer_of_a_duplicate_error_is_verified_once(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 7: the answer's signer was verified by verify_receipt and again by restore.py for duplicates.
    rig.receiver.duplicates = "error"
    doc_id = queue_document(rig.store)
    rig.transport.die_after = 1
    (lease,) = rig.lease("w1")
    with pytest.raises(ProcessDied):
        rig.deliver(lease)
    verifications: list[object] = []
    real = signals_module.verify_signature_value

    def counting(*args: Any, **kwargs: Any) -> None:
        verifications.append(args)
        real(*args, **kwargs)

    monkeypatch.setattr(signals_module, "verify_signature_value", counting)
    rig.clock.advance(minutes=6)
    (lease,) = rig.lease("w2")
    assert rig.deliver(lease).status is DeliveryStatus.DELIVERED  # an authentic duplicate: probably delivered
    assert (rig.document(doc_id).status_reason or "").startswith("probably-delivered")
    assert len(verifications) == 1


def test_the_receiver_certificate_path_is_verified_once_per_worker(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # issue 12: the receiver certificate was validated before each send and again as the receipt's signer.
    paths: list[object] = []
    real = certs_module._validate

    def counting(*args: Any, **kwargs: Any) -> Any:
        paths.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(certs_module, "_validate", counting)
    first, second = queue_document(rig.store), queue_document(rig.store, number="INV-2")
    deliverer = rig.deliverer()

    async def both() -> list[DeliveryStatus | None]:
        return [(await deliverer.deliver_one(lease)).status for lease in rig.lease("w1")]

    assert asyncio.run(both()) == [DeliveryStatus.DELIVERED, DeliveryStatus.DELIVERED]
    assert {rig.document(first).status, rig.document(second).status} == {DeliveryStatus.DELIVERED}
    receiver_certificate = dev_pki().receiver.certificate
    # two sends to POP000002 and two receipts it signed: one path check (the in-process receiver checks ours)
    assert [p for p in paths if p == receiver_certificate] == [receiver_certificate]


def test_a_delivery_crosses_to_a_worker_thread_three_times(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 12: each hop costs a queue hand-off and an event-loop wake-up; building the message shares one
    # with SEND_STARTED, judging the answer one with recording the outcome.
    hops: list[str] = []
    real = anyio.to_thread.run_sync
    # The delivery's own hops only: the in-process receiver's app runs its background sweeps on the same
    # event loop, and on a slow host one of them may fall within the delivery.
    delivery_modules = {"gateway.services.deliver", "gateway.services.delivery_steps"}

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        target = getattr(func, "func", func)
        if getattr(target, "__module__", None) in delivery_modules:
            hops.append(getattr(target, "__name__", "?"))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)  # what Deliverer._thread calls
    queue_document(rig.store)
    (lease,) = rig.lease("w1")
    assert rig.deliver(lease).status is DeliveryStatus.DELIVERED
    assert hops == ["prepare", "_build_and_start", "_judge_and_record"]


def test_a_worker_whose_lease_was_taken_over_records_nothing(rig: Rig) -> None:
    doc_id = queue_document(rig.store)
    (slow,) = rig.lease("slow")
    other = InProcessTransport(rig.receiver)

    async def take_over() -> None:
        # While "slow" waits for its answer, its lease expires and another worker delivers the document.
        rig.clock.advance(minutes=6)
        (lease,) = rig.lease("fast")
        fast = rig.deliverer()
        fast._transport = other
        assert (await fast.deliver_one(lease)).status is DeliveryStatus.DELIVERED

    rig.transport.on_send = take_over
    result = rig.deliver(slow)
    assert result.event is None  # nothing applied by the slow worker
    assert rig.document(doc_id).status is DeliveryStatus.DELIVERED
    assert rig.transport.bodies == other.bodies  # both sent the same bytes
    assert rig.receiver.delivered == [rig.document(doc_id).as4_message_id]
    with rig.store.unit_of_work(read_only=True) as uow:
        events = [e.event for e in uow.outbound.timeline(doc_id)]
    assert events.count(DeliveryEvent.RECEIPT_RECEIVED) == 1


def test_a_document_that_keeps_killing_its_worker_ends_failed(rig: Rig) -> None:
    doc_id = queue_document(rig.store)
    for attempt in range(1, rig.max_attempts + CRASH_ALLOWANCE + 1):
        rig.transport.die_before = 1
        (lease,) = rig.lease(f"w{attempt}")
        with pytest.raises(ProcessDied):
            rig.deliver(lease)
        rig.clock.advance(minutes=6)
    (lease,) = rig.lease("last")
    result = rig.deliver(lease)
    assert result.status is DeliveryStatus.FAILED
    assert (rig.document(doc_id).status_reason or "").startswith("retries-exhausted: ")
    assert rig.lease("after") == []


def test_an_endpoint_name_resolving_to_an_internal_address_fails_with_its_reason(rig: Rig) -> None:
    # Production: the SMP's endpoint host passed discovery (a name, https) and resolves to the cloud
    # metadata address when the worker connects; the send is refused there and the document fails.
    import ipaddress

    from gateway.transport.http import HTTPAS4Transport
    from gateway.transport.peers import PeerPolicy

    async def metadata(host: str, port: int) -> list[Any]:
        return [ipaddress.ip_address("169.254.169.254")]

    doc_id = queue_document(rig.store)
    rig.transport = HTTPAS4Transport(plain_loopback=False, peers=PeerPolicy(resolve=metadata))  # type: ignore[assignment]
    (lease,) = rig.lease("w1")
    assert rig.deliver(lease).status is DeliveryStatus.FAILED
    reason = rig.document(doc_id).status_reason or ""
    assert reason.startswith(
        "peer-address-refused: receiver.test resolves to 169.254.169.254: not a public address"
    ), reason


def test_an_unreachable_directory_is_retried(rig: Rig) -> None:
    doc_id = queue_document(rig.store)
    rig.directory = FailingResolver(DiscoveryError("SMP timed out"))
    (lease,) = rig.lease("w1")
    assert rig.deliver(lease).status is DeliveryStatus.RETRYING
    document = rig.document(doc_id)
    assert document.status_reason == "discovery-failed: SMP timed out"
    assert document.next_attempt_at is not None
    assert document.next_attempt_at >= NOW + timedelta(seconds=10)


def test_a_document_whose_payload_cannot_be_wrapped_fails_at_once(rig: Rig) -> None:
    doc_id = queue_document(rig.store, body=b"<NotAnInvoice xmlns='urn:x'/>")
    (lease,) = rig.lease("w1")
    assert rig.deliver(lease).status is DeliveryStatus.FAILED
    assert (rig.document(doc_id).status_reason or "").startswith("cannot-build-message: ")
    assert rig.transport.bodies == []


def test_a_stored_document_in_utf_16_fails_at_once_naming_its_encoding(rig: Rig) -> None:
    # Stored before the encoding check refused UTF-16 at submission: the SBD builder's parse now refuses it
    # (``xmlcore.encoding``), which escaped the worker's build (only MappingError was caught there).
    from delivery_support import INVOICE

    text = INVOICE.read_text(encoding="utf-8")
    body = text.replace('encoding="UTF-8"', 'encoding="UTF-16"', 1).encode("utf-16")
    doc_id = queue_document(rig.store, body=body)
    (lease,) = rig.lease("w1")
    assert rig.deliver(lease).status is DeliveryStatus.FAILED
    reason = rig.document(doc_id).status_reason or ""
    assert reason.startswith("cannot-build-message: "), reason
    assert "business document is encoded in UTF-16 (a byte order mark)" in reason
    assert rig.transport.bodies == []


def test_a_stale_job_of_a_final_document_is_dropped(rig: Rig) -> None:
    doc_id = queue_document(rig.store)
    (lease,) = rig.lease("w1")
    assert rig.deliver(lease).status is DeliveryStatus.DELIVERED
    with rig.store.unit_of_work() as uow:
        uow.jobs.enqueue(doc_id, due_at=NOW)  # e.g. a duplicated enqueue
        uow.commit()
    rig.clock.advance(minutes=1)
    (lease,) = rig.lease("w2")
    result = rig.deliver(lease)
    assert (result.status, result.event) == (DeliveryStatus.DELIVERED, None)
    assert len(rig.transport.bodies) == 1
    assert rig.lease("w3") == []


@pytest.mark.parametrize("old_lease", [False, True], ids=["read", "renewed"])
def test_a_stale_job_is_dropped_after_its_read_gave_the_connection_back(
    tmp_path: Path, old_lease: bool
) -> None:
    # Writers take SQLite's write lock before a pooled connection, so the ones waiting for it hold none
    # (the worker's heartbeat relies on it: gateway.worker.heartbeat). The drop was a unit of work opened
    # inside the read's: it waited for the lock holding a connection, and with the pool taken up that way
    # the writer holding the lock waited for a connection in turn. One connection here: the drop needed two.
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade_database(url)
    store = SQLDocumentStore(make_engine(url, pool_size=1, max_overflow=0, pool_timeout=2))
    try:
        receiver = receiver_ap()
        rig = Rig(store, receiver, InProcessTransport(receiver))
        doc_id = queue_document(store)
        (lease,) = rig.lease("w1")
        assert rig.deliver(lease).status is DeliveryStatus.DELIVERED
        with store.unit_of_work() as uow:
            uow.jobs.enqueue(doc_id, due_at=NOW)
            uow.commit()
        rig.clock.advance(minutes=1)
        (lease,) = rig.lease("w2")
        if old_lease:  # leased more than half a lease ago: prepare renews it (a writing unit of work)
            rig.clock.advance(seconds=LEASE.total_seconds() * 0.6)
        result = rig.deliver(lease)
        assert (result.status, result.event) == (DeliveryStatus.DELIVERED, None)
        assert rig.lease("w3") == []
    finally:
        store.close()


class _SpyJobs:
    def __init__(self, inner: Any, store: SpyStore) -> None:
        self._inner, self._store = inner, store

    def renew(self, document_id: str, token: str, *, now: Any, lease_for: Any) -> Any:
        self._store.renewals.append(now)
        return self._inner.renew(document_id, token, now=now, lease_for=lease_for)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _BrokenContent:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def get_content(self, document_id: str) -> Any:
        raise RuntimeError("corrupt content row")

    def get_for_attempt(self, document_id: str) -> Any:  # the content is read with the document
        raise RuntimeError("corrupt content row")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _SpyUoW:
    def __init__(self, inner: Any, store: SpyStore) -> None:
        self._inner, self._store = inner, store

    def __enter__(self) -> _SpyUoW:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._inner.__exit__(*exc)

    @property
    def jobs(self) -> Any:
        return _SpyJobs(self._inner.jobs, self._store)

    @property
    def outbound(self) -> Any:
        return _BrokenContent(self._inner.outbound) if self._store.broken_content else self._inner.outbound

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class SpyStore:
    """A real store that records lease renewals and writing units of work, and can make reading the
    document content raise."""

    def __init__(self, inner: SQLDocumentStore) -> None:
        self.inner = inner
        self.renewals: list[Any] = []
        self.writes = 0
        self.broken_content = False

    def unit_of_work(self, *, read_only: bool = False) -> Any:
        self.writes += not read_only
        return _SpyUoW(self.inner.unit_of_work(read_only=read_only), self)

    def close(self) -> None:
        self.inner.close()


def test_a_step_that_always_raises_before_sending_still_ends_failed(store: SQLDocumentStore) -> None:
    spy = SpyStore(store)
    receiver = receiver_ap()
    rig = Rig(spy, receiver, InProcessTransport(receiver))  # type: ignore[arg-type]
    doc_id = queue_document(store)
    spy.broken_content = True  # _prepare raises on every attempt (a bug, a corrupt row)
    for attempt in range(1, rig.max_attempts + CRASH_ALLOWANCE + 1):
        (lease,) = rig.lease(f"w{attempt}")
        with pytest.raises(RuntimeError):
            rig.deliver(lease)
        rig.clock.advance(minutes=6)
    (lease,) = rig.lease("last")
    result = rig.deliver(lease)
    assert result.status is DeliveryStatus.FAILED
    assert (rig.document(doc_id).status_reason or "").startswith("retries-exhausted: ")
    assert rig.lease("after") == []
    assert receiver.requests == []


def test_an_answer_that_cannot_be_judged_is_retried_with_its_reason(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kw: object) -> ReceiptVerdict:
        raise RuntimeError("unforeseen receipt shape")

    monkeypatch.setattr(deliver_module, "verify_receipt", broken)
    doc_id = queue_document(rig.store)
    (lease,) = rig.lease("w1")
    result = rig.deliver(lease)
    assert result.status is DeliveryStatus.RETRYING
    assert result.sent is True
    document = rig.document(doc_id)
    assert document.status_reason == "judging-failed: RuntimeError: unforeseen receipt shape"
    assert document.next_attempt_at is not None
    with rig.store.unit_of_work(read_only=True) as uow:
        last = uow.outbound.timeline(doc_id)[-1]
        job = uow.jobs.get(doc_id)
    assert last.event is DeliveryEvent.RETRYABLE_FAILURE
    assert last.detail is not None
    assert last.detail["http_status"] == 200
    assert job is not None
    assert job.lease_token is None  # released for the retry, not left to expire


def test_the_lease_is_renewed_as_soon_as_the_answer_arrives(store: SQLDocumentStore) -> None:
    spy = SpyStore(store)
    receiver = receiver_ap()
    rig = Rig(spy, receiver, InProcessTransport(receiver))  # type: ignore[arg-type]
    queue_document(store)

    async def slow_answer() -> None:
        rig.clock.advance(minutes=4)  # most of the 5-minute lease went by waiting for the answer

    rig.transport.on_send = slow_answer
    (lease,) = rig.lease("w1")
    assert rig.deliver(lease).status is DeliveryStatus.DELIVERED
    assert spy.renewals[-1] == NOW + timedelta(minutes=4)  # renewed after the send, before recording


def test_a_fresh_lease_is_renewed_only_with_the_send_started_record(store: SQLDocumentStore) -> None:
    # Leased a moment ago and answered at once: loading the document is a read, and the send took far
    # less than half the lease, so the attempt writes twice (SEND_STARTED, the outcome), not four times.
    spy = SpyStore(store)
    receiver = receiver_ap()
    rig = Rig(spy, receiver, InProcessTransport(receiver))  # type: ignore[arg-type]
    queue_document(store)
    (lease,) = rig.lease("w1")
    spy.writes = 0
    assert rig.deliver(lease).status is DeliveryStatus.DELIVERED
    assert spy.renewals == [NOW]  # in the unit of work that commits SEND_STARTED
    assert spy.writes == 2


def test_an_old_lease_is_renewed_before_the_attempt_loads_the_document(store: SQLDocumentStore) -> None:
    spy = SpyStore(store)
    receiver = receiver_ap()
    rig = Rig(spy, receiver, InProcessTransport(receiver))  # type: ignore[arg-type]
    queue_document(store)
    (lease,) = rig.lease("w1")
    rig.clock.advance(minutes=3)  # e.g. the job waited for its endpoint: less than half the lease left
    assert rig.deliver(lease).status is DeliveryStatus.DELIVERED
    assert spy.renewals[0] == NOW + timedelta(minutes=3)


def test_the_attempt_limit_ends_a_document_never_sent_with_retries_exhausted(rig: Rig) -> None:
    doc_id = queue_document(rig.store)
    rig.directory = FailingResolver(ProcessDied("while resolving"))
    for attempt in range(1, rig.max_attempts):  # the worker dies before any outcome is recorded
        (lease,) = rig.lease(f"w{attempt}")
        with pytest.raises(ProcessDied):
            rig.deliver(lease)
        rig.clock.advance(minutes=6)
    assert rig.document(doc_id).status is DeliveryStatus.ACCEPTED
    rig.directory = FailingResolver(DiscoveryError("SMP timed out"))
    (lease,) = rig.lease("last")
    assert lease.attempts == rig.max_attempts
    result = rig.deliver(lease)
    assert (result.status, result.event) == (DeliveryStatus.FAILED, DeliveryEvent.RETRIES_EXHAUSTED)
    with rig.store.unit_of_work(read_only=True) as uow:
        last = uow.outbound.timeline(doc_id)[-1]
    assert (last.from_status, last.event) == (DeliveryStatus.ACCEPTED, DeliveryEvent.RETRIES_EXHAUSTED)


def test_delivery_and_retry_request_webhooks_share_one_format(rig: Rig) -> None:
    hook = "https://erp.example.be/hooks"
    rig.webhook_url = hook
    doc_id = queue_document(rig.store)
    rig.receiver.script.append("error:EBMS:0004")  # a permanent failure: sending -> failed
    (lease,) = rig.lease("w1")
    assert rig.deliver(lease).status is DeliveryStatus.FAILED
    submitter = OutboundSubmitter(
        store=rig.store,
        validation=None,  # type: ignore[arg-type]  # not used by request_retry
        clock=rig.clock,
        ids=UUIDs(),
        seller_id="0208:0739484052",
        webhook_url=hook,
    )
    rig.clock.advance(minutes=1)
    submitter.request_retry(doc_id, requested_by="support")
    with rig.store.unit_of_work() as uow:
        leased = uow.outbox.lease(now=rig.clock.now(), limit=50, lease_for=LEASE, token="t")
    order = ["sending", "failed", "retrying"]
    payloads = sorted((x.message.payload for x in leased), key=lambda p: order.index(p["data"]["status"]))
    kinds = [(p["data"]["previous_status"], p["data"]["status"]) for p in payloads]
    assert kinds == [("accepted", "sending"), ("sending", "failed"), ("failed", "retrying")]
    for payload in payloads:
        assert set(payload) == {"id", "type", "created_at", "data"}
        assert payload["type"] == STATUS_CHANGED
        assert set(payload["data"]) == set(payloads[-1]["data"])  # the retry path's schema
        assert payload["data"]["document_id"] == doc_id
    message_id = rig.document(doc_id).as4_message_id
    assert [p["data"]["as4_message_id"] for p in payloads] == [message_id] * 3


# --- restoring the sent message --------------------------------------------------------------------------


def test_a_restored_message_verifies_the_receipt_like_the_original() -> None:
    original = make_message()
    restored = restore_outgoing(tuple(original.headers.items()), original.body, instance_id="inst-1")
    assert restored.message_id == original.message_id
    assert restored.receiver_certificate == original.receiver_certificate
    assert restored.payload_content_id == original.payload_content_id
    assert restored.signed_references == original.signed_references
    receipt = build_receipt(
        receive(dict(original.headers), original.body),
        key=dev_pki().receiver,
        message_id="r-1",
        timestamp=NOW,
    )
    verdict = verify_receipt({}, receipt, restored, trust=dev_pki().trust, at=NOW)
    assert verdict.is_success


def test_restoring_bytes_we_did_not_build_is_refused() -> None:
    with pytest.raises(LocalProtocolError):
        restore_outgoing({"Content-Type": "multipart/related; boundary=x"}, b"--x\r\n\r\n<a/>\r\n--x--\r\n")


def test_only_errors_signed_by_the_receiver_count_as_authentic() -> None:
    outgoing = make_message()
    p = dev_pki()
    signed = build_error(
        outgoing.message_id, EbmsError.DUPLICATE_DETECTED, key=p.receiver, message_id="e", timestamp=NOW
    )
    forged = build_error(
        outgoing.message_id, EbmsError.DUPLICATE_DETECTED, key=p.sender, message_id="e", timestamp=NOW
    )
    assert verify_receipt({}, signed, outgoing, trust=p.trust, at=NOW).signer_verified
    assert not verify_receipt({}, forged, outgoing, trust=p.trust, at=NOW).signer_verified
    assert not verify_receipt({}, b"<not-a-signal/>", outgoing).signer_verified


# --- judging answers (pure) --------------------------------------------------------------------------------


def error_verdict(code: str, text: str) -> ReceiptVerdict:
    return ReceiptVerdict(
        SendOutcome.AS4_ERROR_MESSAGE_RECEIVED, EbmsError.from_code(code), "sig", "msg", text, ((code, text),)
    )


@pytest.mark.parametrize(
    ("code", "text", "duplicate"),
    [
        ("EBMS:4001", "", True),
        ("EBMS:0004", "Duplicate message id", True),  # phase4 before 4.5.0
        ("EBMS:0004", "PEPPOL:NOT_SERVICED", False),
        ("EBMS:0202", "duplicate", False),
    ],
)
def test_duplicate_errors_are_recognised(code: str, text: str, duplicate: bool) -> None:
    assert is_duplicate_error(error_verdict(code, text)) is duplicate


@pytest.mark.parametrize(
    ("previously_sent", "authentic", "result"),
    [
        (True, True, AttemptResult.DELIVERED),  # lost response: probably delivered
        (True, False, AttemptResult.RETRY),  # unauthenticated claim: neither delivered nor failed
        (False, True, AttemptResult.GIVE_UP),  # never sent before: our ids clash at the receiver
    ],
)
def test_a_duplicate_error_is_judged_by_history_and_authenticity(
    previously_sent: bool, authentic: bool, result: AttemptResult
) -> None:
    judged = judge_response(
        200,
        (),
        b"<x/>",
        error_verdict("EBMS:4001", "dup"),
        at=NOW,
        previously_sent=previously_sent,
        duplicate_authentic=authentic,
    )
    assert judged.result is result
    assert judged.probably_delivered is (result is AttemptResult.DELIVERED)
    assert judged.signal is not None  # the error is kept as evidence in every case


def test_an_invalid_receipt_is_retried_and_kept_while_a_bare_error_page_is_only_summarised() -> None:
    invalid = ReceiptVerdict(
        SendOutcome.INVALID_SIGNAL_MESSAGE_RECEIVED, EbmsError.INVALID_RECEIPT, "s", "m", "bad NRI"
    )
    judged = judge_response(
        200, (), b"<r/>", invalid, at=NOW, previously_sent=False, duplicate_authentic=False
    )
    assert (judged.result, judged.signal is not None) == (AttemptResult.RETRY, True)
    page = ReceiptVerdict(
        SendOutcome.INVALID_SIGNAL_MESSAGE_RECEIVED, EbmsError.INVALID_RECEIPT, detail="not XML"
    )
    judged = judge_response(
        502, (), b"<html>bad gateway</html>", page, at=NOW, previously_sent=False, duplicate_authentic=False
    )
    assert (judged.result, judged.signal) == (AttemptResult.RETRY, None)
    assert judged.reason is not None
    assert judged.reason.startswith("no-signal: HTTP 502")
    assert judged.detail["body_excerpt"] == "<html>bad gateway</html>"


def test_the_local_directory_is_a_resolver(tmp_path: Path) -> None:
    directory: LocalDirectory = parse_directory(directory_json(URL), base_dir=tmp_path)
    assert RECEIVER in directory.participants


class HeldLookup:
    """The directory, but each lookup waits until ``answer`` is set."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.answer = asyncio.Event()
        self.asked = 0

    async def resolve(self, *args: Any) -> Endpoint:
        self.asked += 1
        await self.answer.wait()
        return await self.inner.resolve(*args)  # type: ignore[no-any-return]


def test_a_send_counts_as_long_once_it_has_waited_longer_than_asked_for_its_answer(rig: Rig) -> None:
    # The worker does not count such sends against its slots (issue 12 part 3): the wait is the request's.
    queue_document(rig.store)
    (lease,) = rig.lease("w1")
    deliverer = rig.deliverer()
    seen: list[tuple[int, float | None]] = []

    async def answer_late() -> None:
        seen.append(deliverer.long_sends(5.0))
        rig.clock.advance(seconds=6)
        seen.append(deliverer.long_sends(5.0))

    rig.transport.on_send = answer_late
    result = asyncio.run(deliverer.deliver_one(lease))
    assert seen == [(0, 5.0), (1, None)]
    assert deliverer.long_sends(5.0) == (0, None)  # answered: no longer waiting
    assert result.status is DeliveryStatus.DELIVERED


def test_a_send_that_ends_without_an_answer_no_longer_counts_as_waiting(rig: Rig) -> None:
    queue_document(rig.store)
    (lease,) = rig.lease("w1")
    deliverer = rig.deliverer()
    rig.transport.die_before = 1  # the request fails with no answer (here: the worker dies in it)
    with pytest.raises(ProcessDied):
        asyncio.run(deliverer.deliver_one(lease))
    rig.clock.advance(seconds=60)
    assert deliverer.long_sends(5.0) == (0, None)


def test_a_delivery_counts_as_before_its_endpoint_until_it_reaches_the_endpoints_slot(rig: Rig) -> None:
    # The worker says busy only once the deliveries of a lease that filled its slots know whether they
    # send or wait for their endpoint's slot (Workers, busy signal): it is told when none is left before.
    from gateway.services.circuit_breaker import BreakerPolicy
    from gateway.services.endpoint_gate import EndpointGate

    queue_document(rig.store)
    (lease,) = rig.lease("w1")
    lookup = HeldLookup(rig.directory)
    rig.directory = lookup
    plain = rig.deliverer()
    gate = EndpointGate(per_endpoint=1, breaker=BreakerPolicy(), clock=rig.clock, initial_send_seconds=0.01)
    deliverer = Deliverer(
        store=rig.store,
        resolver=lookup,
        transport=rig.transport,
        identity=dev_pki().sender,
        trust=dev_pki().trust,
        clock=rig.clock,
        ids=UUIDs(),
        retry=plain._retry,
        jitter=random.Random(1).random,
        settings=plain._settings,
        gate=gate,
    )
    told: list[int] = []
    deliverer.watch_endpoints(lambda: told.append(deliverer.before_endpoints()))

    async def main() -> tuple[int, list[int], DeliveryResult]:
        delivery = asyncio.ensure_future(deliverer.deliver_one(lease))
        while not lookup.asked:
            await asyncio.sleep(0.01)
        during = deliverer.before_endpoints()
        told_during = list(told)
        lookup.answer.set()
        return during, told_during, await delivery

    during, told_during, result = asyncio.run(main())
    assert (during, told_during) == (1, [])
    assert told == [0]  # once, when it reached the endpoint (it sent: no wait to tell)
    assert deliverer.before_endpoints() == 0
    assert result.status is DeliveryStatus.DELIVERED


def test_a_delivery_whose_lookup_failed_no_longer_counts_as_before_its_endpoint_while_recording_it(
    rig: Rig,
) -> None:
    # A delivery that will neither send nor wait for an endpoint's slot (its lookup failed; an e-mail
    # delivery likewise) is not counted by ``before_endpoints`` while it records its outcome or e-mails: a
    # full worker would put off saying busy for it (Workers, busy signal, review pass).
    queue_document(rig.store)
    (lease,) = rig.lease("w1")
    rig.directory = FailingResolver(DiscoveryError("SMP timed out"))
    deliverer = rig.deliverer()
    told: list[int] = []
    deliverer.watch_endpoints(lambda: told.append(deliverer.before_endpoints()))
    seen: list[int] = []
    record = deliverer._steps.record_outcome

    def recording(*args: Any) -> DeliveryResult:
        seen.append(deliverer.before_endpoints())
        return record(*args)

    deliverer._steps.record_outcome = recording  # type: ignore[method-assign]
    result = asyncio.run(deliverer.deliver_one(lease))
    assert result.status is DeliveryStatus.RETRYING
    assert seen == [0]
    assert told == [0]
    assert deliverer.before_endpoints() == 0


class RefusingTransport:
    """Every connection is refused (a dead receiving AP); remembers the URLs it was asked to post to."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    async def post(self, url: str, *, headers: Mapping[str, str], body: bytes) -> HTTPResponse:
        self.urls.append(url)
        raise TransportError(f"POST {url}: ConnectError: connection refused")


def test_one_receiving_ap_spelled_two_ways_in_the_smp_is_one_endpoint_for_its_circuit(rig: Rig) -> None:
    # Two receivers served by one AP whose SMP entries spell its URL differently (host case, explicit
    # default port: RFC 3986 §6.2.2.1, §6.2.3, the same endpoint) must share its limit and circuit breaker:
    # keyed by the raw string, a dead AP would need its failures counted once per spelling and would hold
    # per_endpoint sends per spelling.
    from gateway.services.circuit_breaker import BreakerPolicy
    from gateway.services.endpoint_gate import EndpointGate

    other = ParticipantID.parse("0088:7300010000003")
    entries = {
        **directory_json("https://ap.receiver.test/as4"),
        **directory_json("https://AP.Receiver.TEST:443/as4", participant=other),
    }
    rig.directory = parse_directory(entries, base_dir=Path("."))
    transport = RefusingTransport()
    plain = rig.deliverer()
    policy = BreakerPolicy(failure_threshold=2, open_for=timedelta(minutes=10))
    deliverer = Deliverer(
        store=rig.store,
        resolver=rig.directory,
        transport=transport,
        identity=dev_pki().sender,
        trust=dev_pki().trust,
        clock=rig.clock,
        ids=UUIDs(),
        retry=plain._retry,
        jitter=random.Random(1).random,
        settings=plain._settings,
        gate=EndpointGate(per_endpoint=4, breaker=policy, clock=rig.clock),
    )
    first, second = queue_document(rig.store), queue_document(rig.store, receiver=other)
    third = queue_document(rig.store)

    leases = {lease.document_id: lease for lease in rig.lease("w1")}

    async def main() -> list[DeliveryResult]:
        return [await deliverer.deliver_one(leases[i]) for i in (first, second, third)]

    results = asyncio.run(main())
    assert [r.sent for r in results] == [True, True, False], transport.urls
    assert results[2].deferred
    reason = rig.document(third).status_reason or ""
    assert reason.startswith("circuit-open: https://ap.receiver.test/as4 failed 2 times in a row"), reason


class CountingLookup:
    """The directory, counting the lookups of each receiver."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.asked = 0

    async def resolve(self, *args: Any) -> Endpoint:
        self.asked += 1
        return await self.inner.resolve(*args)  # type: ignore[no-any-return]


class DeadThenHeldTransport:
    """The first request is refused (the circuit opens); the next one (the probe) waits for ``answer``."""

    def __init__(self) -> None:
        self.calls = 0
        self.answer = asyncio.Event()

    async def post(self, url: str, *, headers: Mapping[str, str], body: bytes) -> HTTPResponse:
        self.calls += 1
        if self.calls > 1:
            await self.answer.wait()
        raise TransportError(f"POST {url}: ConnectError: connection refused")


def test_a_job_refused_for_the_probe_in_flight_is_handed_back_again_without_a_lookup(rig: Rig) -> None:
    # While a half-open circuit's probe is out, a job refused for it before is handed back again on the
    # gate's word (``refusal``), like a job refused for a busy endpoint: not read and looked up again each
    # time it comes back only to be refused.
    from gateway.services.circuit_breaker import BreakerPolicy
    from gateway.services.endpoint_gate import EndpointGate

    lookup = CountingLookup(rig.directory)
    transport = DeadThenHeldTransport()
    plain = rig.deliverer()
    policy = BreakerPolicy(failure_threshold=1, open_for=timedelta(seconds=30))
    deliverer = Deliverer(
        store=rig.store,
        resolver=lookup,
        transport=transport,
        identity=dev_pki().sender,
        trust=dev_pki().trust,
        clock=rig.clock,
        ids=UUIDs(),
        retry=plain._retry,
        jitter=random.Random(1).random,
        settings=plain._settings,
        gate=EndpointGate(per_endpoint=4, breaker=policy, clock=rig.clock),
    )
    probed, other = queue_document(rig.store), queue_document(rig.store, at=NOW + timedelta(seconds=30))

    def leased() -> dict[str, DeliveryLease]:
        return {lease.document_id: lease for lease in rig.lease("w")}

    async def main() -> list[DeliveryResult]:
        assert (await deliverer.deliver_one(leased()[probed])).status is DeliveryStatus.RETRYING  # opens it
        rig.clock.advance(seconds=60)  # the open period and the backoff are over
        both = leased()
        probe = asyncio.ensure_future(deliverer.deliver_one(both[probed]))
        while transport.calls < 2:
            await asyncio.sleep(0.01)
        refused = [await deliverer.deliver_one(both[other])]  # refused: the probe is out
        assert lookup.asked == 3
        rig.clock.advance(seconds=5)  # its place in the endpoint's queue: it comes back, the probe still out
        refused.append(await deliverer.deliver_one(leased()[other]))
        transport.answer.set()
        await probe
        return refused

    refused = asyncio.run(main())
    assert all(r.deferred and not r.sent for r in refused), refused
    assert all("probing" in (r.reason or "") for r in refused), refused
    assert lookup.asked == 3  # not looked up again
    assert transport.calls == 2
