"""The work after a receipt done by ``gateway worker`` (``GATEWAY_AS4__AFTER_RECEIPT=worker``): ``POST /as4``
answers the receipt and queues nothing, the document stays pending, and the workers claim and finish it
(one validation, one verdict, one MLS decision, one expense draft per document, whatever the number of
workers), woken by their job signal; without a worker the pending sweep of ``gateway serve`` still finishes
it, and a claim whose worker died is taken over. A resend of a message whose document is still pending gets
its original receipt and leaves the document to the workers' claims (before, serve validated it itself,
beside the worker that had claimed it). Real validation engine, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.model.message import InboundStatus
from gateway.services.receive import AS4Receiver, ReceiveOutcome
from gateway.services.receive_recovery import CLAIM_FOR
from gateway.store.job_signal import received_signal
from gateway.validation import ValidationEngine
from gateway.worker.loop import build_received_worker
from gateway.worker.received import ReceivedDocumentsWorker
from tests.integration.test_as4_endpoint import (  # noqa: F401 - fixtures
    FlakyStore,
    inbound_documents,
    make_app,
    make_message,
    official_example,
    sbd_of,
    settings_for,
    sql_store,
    store,
)
from tests.integration.test_pending_sweep import AGE, NOW, HandOns, MovingClock, make_receiver, statuses


def counting(validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The thread names of every validation from now on."""
    validate = validation_engine.validate
    calls: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(threading.current_thread().name)
        return validate(*args, **kwargs)

    monkeypatch.setattr(validation_engine, "validate", counted)
    return calls


def leave(receiver: AS4Receiver, artefacts_dir: Path) -> str:
    """Receive one valid message as ``POST /as4`` does in worker mode; its document id."""
    msg = make_message(sbd_of(official_example(artefacts_dir)))
    result = receiver.receive(tuple(msg.headers.items()), msg.body, leave_pending=True)
    assert result.outcome is ReceiveOutcome.ACCEPTED
    assert result.status is InboundStatus.RECEIVED
    assert result.document_id is not None
    return result.document_id


def claim_as_a_worker(receiving: FlakyStore, clock: MovingClock) -> str | None:
    """Claim the oldest pending document as a worker does, committed on its own; its id (None: nothing)."""
    with receiving.inner.unit_of_work() as uow:
        claimed = uow.inbound.claim_pending(now=clock.now(), claimed_before=clock.now() - CLAIM_FOR)
        uow.commit()
    return claimed.id if claimed is not None else None


def worker_mode_app(
    artefacts_dir: Path, tmp_path: Path, receiving: FlakyStore, engine: ValidationEngine, **settings: Any
) -> Any:
    """The receiving app in worker mode, its own sweep out of the way unless ``settings`` say otherwise."""
    chosen: dict[str, Any] = {"pending_sweep_interval_seconds": 3600, **settings}
    settings_of_app = settings_for(artefacts_dir, tmp_path, after_receipt="worker", **chosen)
    return make_app(settings_of_app, receiving, engine)


def post_example(client: TestClient, artefacts_dir: Path) -> Any:
    """``POST /as4`` of one valid official example; the response."""
    msg = make_message(sbd_of(official_example(artefacts_dir)))
    return client.post("/as4", content=msg.body, headers=dict(msg.headers))


def test_in_worker_mode_post_as4_answers_the_receipt_and_the_worker_validates_and_drafts(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = worker_mode_app(artefacts_dir, tmp_path, store, validation_engine)
    calls = counting(validation_engine, monkeypatch)
    with TestClient(app) as client:
        assert post_example(client, artefacts_dir).status_code == 200
        # The receipt is answered and nothing ran after it in serve: the document waits for a worker.
        [document] = inbound_documents(store)
        assert document.status is InboundStatus.RECEIVED
        assert calls == []
        assert app.state.as4_after_receipt_backlog.taken == (0, 0)  # nothing queued
        services = app.state.services
        worker = build_received_worker(services)
        assert worker is not None
        assert asyncio.run(worker.run(once=True)) == 1
    [document] = inbound_documents(store)
    assert document.status is InboundStatus.VALID
    assert len(calls) == 1
    with store.inner.unit_of_work(read_only=True) as uow:
        expense = uow.expenses.get_by_inbound(document.id)  # drafted with the verdict, by the worker
    assert expense is not None


def test_in_serve_mode_no_worker_finishes_received_documents(
    artefacts_dir: Path,
    tmp_path: Path,
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
) -> None:
    app = make_app(settings_for(artefacts_dir, tmp_path), store, validation_engine)
    assert app.state.services.settings.as4.after_receipt == "serve"
    assert build_received_worker(app.state.services) is None


def test_two_workers_validate_each_document_once(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, hand_ons = MovingClock(), HandOns()
    api = make_receiver(store, validation_engine, clock, hand_ons)
    documents = [leave(api, artefacts_dir) for _ in range(6)]
    calls = counting(validation_engine, monkeypatch)
    # Two worker processes: each its own receiver over the same database.
    workers = [make_receiver(store, validation_engine, clock, hand_ons) for _ in range(2)]
    claimed: list[int] = [0, 0]
    start = threading.Barrier(2)

    def work(number: int) -> None:
        start.wait()
        while workers[number].finish_next_pending(claim_for=CLAIM_FOR):
            claimed[number] += 1

    threads = [threading.Thread(target=work, args=(n,), name=f"worker-{n}") for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sum(claimed) == 6
    assert len(calls) == 6  # one validation per document, whichever worker claimed it
    assert sorted(hand_ons.received) == sorted(documents)
    assert sorted(hand_ons.valid) == sorted(documents)
    assert set(statuses(store).values()) == {InboundStatus.VALID}


def test_without_a_worker_the_sweep_finishes_a_document_left_pending(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
) -> None:
    clock, hand_ons = MovingClock(), HandOns()
    receiver = make_receiver(store, validation_engine, clock, hand_ons)
    document = leave(receiver, artefacts_dir)
    assert receiver.sweep_pending(older_than=AGE) == 0  # young: left to the workers
    clock.at = NOW + AGE + timedelta(seconds=1)
    assert receiver.sweep_pending(older_than=AGE) == 1
    assert statuses(store) == {document: InboundStatus.VALID}
    assert (hand_ons.received, hand_ons.valid) == ([document], [document])


def test_a_document_claimed_by_a_worker_that_died_is_taken_over_once_its_claim_ran_out(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
) -> None:
    clock, hand_ons = MovingClock(), HandOns()
    receiver = make_receiver(store, validation_engine, clock, hand_ons)
    document = leave(receiver, artefacts_dir)
    # A worker claims it and dies before its verdict (the claim is committed on its own).
    assert claim_as_a_worker(store, clock) == document
    assert receiver.finish_next_pending(claim_for=CLAIM_FOR) is False  # claimed: the others keep off
    clock.at = NOW + CLAIM_FOR + timedelta(seconds=1)
    assert receiver.finish_next_pending(claim_for=CLAIM_FOR) is True
    assert receiver.finish_next_pending(claim_for=CLAIM_FOR) is False
    assert statuses(store) == {document: InboundStatus.VALID}
    assert (hand_ons.received, hand_ons.valid) == ([document], [document])


def test_the_serve_mode_sweep_finishes_a_document_a_dead_worker_claimed_and_no_worker_takes_it_again(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
) -> None:
    clock, hand_ons = MovingClock(), HandOns()
    receiver = make_receiver(store, validation_engine, clock, hand_ons)
    document = leave(receiver, artefacts_dir)
    assert claim_as_a_worker(store, clock) == document
    # Older than the sweep's age; its claim has run out too (AGE == CLAIM_FOR).
    clock.at = NOW + AGE + timedelta(seconds=1)
    assert receiver.sweep_pending(older_than=AGE) == 1
    clock.at = NOW + CLAIM_FOR + AGE
    assert receiver.finish_next_pending(claim_for=CLAIM_FOR) is False  # it has its verdict
    assert (hand_ons.received, hand_ons.valid) == ([document], [document])


def test_a_waiting_worker_is_woken_by_a_receipt_well_before_its_poll(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
) -> None:
    clock, hand_ons = MovingClock(), HandOns()
    api = make_receiver(store, validation_engine, clock, hand_ons)
    receiver = make_receiver(store, validation_engine, clock, hand_ons)
    signal = received_signal(store.inner.engine, claims=CLAIM_FOR, now=clock.now)
    worker = ReceivedDocumentsWorker(receiver, signal=signal, poll_interval=60.0)  # the poll never comes

    async def scenario() -> tuple[str, float]:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(1.0)  # the worker found nothing and waits (on PostgreSQL: listens)
        document = await asyncio.to_thread(leave, api, artefacts_dir)
        received = time.monotonic()
        while statuses(store).get(document) is not InboundStatus.VALID:
            assert time.monotonic() - received < 30, "the worker was not woken"
            await asyncio.sleep(0.02)
        took = time.monotonic() - received
        stop.set()
        assert await asyncio.wait_for(running, 30) == 1
        return document, took

    document, took = asyncio.run(scenario())
    assert took < 10  # woken by the signal, not the 60 s poll (the validation itself is in this figure)
    assert (hand_ons.received, hand_ons.valid) == ([document], [document])


def test_in_worker_mode_a_resend_of_a_pending_document_answers_its_receipt_and_leaves_it_to_the_workers(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = worker_mode_app(artefacts_dir, tmp_path, store, validation_engine)
    calls = counting(validation_engine, monkeypatch)
    msg = make_message(sbd_of(official_example(artefacts_dir)))
    with TestClient(app) as client:
        first = client.post("/as4", content=msg.body, headers=dict(msg.headers))
        # The sender got no receipt (lost on the way) and sends the message again, before any worker ran.
        again = client.post("/as4", content=msg.body, headers=dict(msg.headers))
        assert (first.status_code, again.status_code) == (200, 200)
        assert again.content == first.content  # the original receipt, byte-identical
        [document] = inbound_documents(store)
        assert document.status is InboundStatus.RECEIVED  # left to the workers
        assert calls == []
        assert app.state.as4_after_receipt_backlog.taken == (0, 0)  # nothing queued
        worker = build_received_worker(app.state.services)
        assert worker is not None
        assert asyncio.run(worker.run(once=True)) == 1
    [document] = inbound_documents(store)
    assert document.status is InboundStatus.VALID
    assert len(calls) == 1


def test_in_worker_mode_a_resend_leaves_a_claimed_document_to_its_worker_and_a_lapsed_claim_to_the_others(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, hand_ons = MovingClock(), HandOns()
    api = make_receiver(store, validation_engine, clock, hand_ons)
    msg = make_message(sbd_of(official_example(artefacts_dir)))
    headers = tuple(msg.headers.items())
    first = api.receive(headers, msg.body, leave_pending=True)
    document = first.document_id
    assert document is not None
    # A worker claims it and is still validating it (or died) when the resend comes.
    assert claim_as_a_worker(store, clock) == document
    calls = counting(validation_engine, monkeypatch)
    again = api.receive(headers, msg.body, leave_pending=True)
    assert again.outcome is ReceiveOutcome.DUPLICATE_MESSAGE
    assert (again.signal, again.document_id) == (first.signal, document)
    assert again.status is InboundStatus.RECEIVED
    assert calls == []  # the worker's claim is respected
    # Its claim runs out (the worker died); a resend still leaves it, and a worker takes it over, once.
    clock.at = NOW + CLAIM_FOR + timedelta(seconds=1)
    assert api.receive(headers, msg.body, leave_pending=True).status is InboundStatus.RECEIVED
    assert calls == []
    assert statuses(store) == {document: InboundStatus.RECEIVED}  # nothing lost: still pending
    worker = make_receiver(store, validation_engine, clock, hand_ons)
    assert worker.finish_next_pending(claim_for=CLAIM_FOR) is True
    assert worker.finish_next_pending(claim_for=CLAIM_FOR) is False
    assert len(calls) == 1
    assert statuses(store) == {document: InboundStatus.VALID}
    assert (hand_ons.received, hand_ons.valid) == ([document], [document])
    # Once finished, a resend reports the verdict and changes nothing.
    late = api.receive(headers, msg.body, leave_pending=True)
    assert (late.outcome, late.status) == (ReceiveOutcome.DUPLICATE_MESSAGE, InboundStatus.VALID)
    assert len(calls) == 1


def test_in_serve_mode_a_resend_of_a_pending_document_still_finishes_it(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, hand_ons = MovingClock(), HandOns()
    receiver = make_receiver(store, validation_engine, clock, hand_ons)
    msg = make_message(sbd_of(official_example(artefacts_dir)))
    headers = tuple(msg.headers.items())
    # Left pending (its work after the receipt was not queued: the backlog was full), not held.
    first = receiver.receive(headers, msg.body, defer=lambda work: False)
    assert first.status is InboundStatus.RECEIVED
    calls = counting(validation_engine, monkeypatch)
    again = receiver.receive(headers, msg.body, defer=lambda work: False)
    assert (again.outcome, again.status) == (ReceiveOutcome.DUPLICATE_MESSAGE, InboundStatus.VALID)
    assert len(calls) == 1
    assert (hand_ons.received, hand_ons.valid) == ([first.document_id], [first.document_id])
