"""The pending sweep and the start-up of ``gateway serve`` beside workers that finish received documents
(``GATEWAY_AS4__AFTER_RECEIPT=worker``), and the wake-up ``NOTIFY`` only where workers wait for it.

* In worker mode the sweep claims what it takes, as a worker does (``AS4Receiver.sweep_pending(claim_for=
  ...)``): it leaves a document a live worker holds, and no worker takes the document it is validating.
  Before, the sweep ignored claims: once a backlog was older than the sweep's age, serve and the workers
  validated the same documents (the verdict recorded once, the validation spent twice).
* The claiming pass ends: a document it claimed but left pending is not claimed again by the same pass, a
  document whose finish raises stops the pass and the next pass takes the others.
* A restart of serve leaves the fresh documents to the workers (before, its start-up recovery, with no age
  threshold, validated the workers' whole backlog itself, before answering any request) and still
  validates those older than the sweep's age.
* In serve mode no worker listens, so no ``NOTIFY`` is sent with the receipt's commit (PostgreSQL
  serialises the commits of transactions that notified)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from gateway.model.message import InboundStatus
from gateway.services.receive import AfterReceipt, ReceiveOutcome
from gateway.services.receive_recovery import CLAIM_FOR, PendingRecovery
from gateway.store.job_signal import RECEIVED_CHANNEL
from gateway.validation import ValidationEngine
from tests.integration.test_after_receipt_in_worker import (
    claim_as_a_worker,
    counting,
    leave,
    post_example,
    worker_mode_app,
)
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


def test_in_worker_mode_the_sweep_leaves_a_live_claim_alone_and_claims_what_it_takes(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, hand_ons = MovingClock(), HandOns()
    api = make_receiver(store, validation_engine, clock, hand_ons)
    held = leave(api, artefacts_dir)
    clock.at = NOW + timedelta(milliseconds=500)
    free = leave(api, artefacts_dir)
    # A live worker claims the oldest one (``held``) and is still validating it when the sweep comes.
    clock.at = NOW + AGE + timedelta(seconds=1)
    assert claim_as_a_worker(store, clock) == held
    calls = counting(validation_engine, monkeypatch)
    sweep = make_receiver(store, validation_engine, clock, hand_ons)
    assert sweep.sweep_pending(older_than=AGE, claim_for=CLAIM_FOR) == 1
    assert len(calls) == 1  # only the unclaimed one
    assert statuses(store) == {held: InboundStatus.RECEIVED, free: InboundStatus.VALID}
    # The worker's claim runs out (it died): the next sweep takes the document over, once.
    clock.at += CLAIM_FOR + timedelta(seconds=1)
    assert sweep.sweep_pending(older_than=AGE, claim_for=CLAIM_FOR) == 1
    assert sweep.sweep_pending(older_than=AGE, claim_for=CLAIM_FOR) == 0
    assert len(calls) == 2
    assert statuses(store) == {held: InboundStatus.VALID, free: InboundStatus.VALID}
    assert sorted(hand_ons.valid) == sorted([held, free])


def test_in_worker_mode_a_document_the_sweep_took_is_no_worker_s_to_claim(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, hand_ons = MovingClock(), HandOns()
    api = make_receiver(store, validation_engine, clock, hand_ons)
    document = leave(api, artefacts_dir)
    clock.at = NOW + AGE + timedelta(seconds=1)
    worker = make_receiver(store, validation_engine, clock, hand_ons)
    claims: list[bool] = []
    validate = validation_engine.validate

    def validate_while_a_worker_looks(*args: object, **kwargs: object) -> object:
        claims.append(worker.finish_next_pending(claim_for=CLAIM_FOR))  # mid-validation in serve's sweep
        return validate(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(validation_engine, "validate", validate_while_a_worker_looks)
    sweep = make_receiver(store, validation_engine, clock, hand_ons)
    assert sweep.sweep_pending(older_than=AGE, claim_for=CLAIM_FOR) == 1
    assert claims == [False]  # the sweep's claim kept the worker off
    assert statuses(store) == {document: InboundStatus.VALID}
    assert hand_ons.valid == [document]


def test_a_receipt_wakes_the_workers_only_when_they_finish_the_document(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
) -> None:
    engine = store.inner.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's workers watch PRAGMA data_version: no NOTIFY")
    clock, hand_ons = MovingClock(), HandOns()
    receiver = make_receiver(store, validation_engine, clock, hand_ons)
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f"LISTEN {RECEIVED_CHANNEL}")
        deferred: list[AfterReceipt] = []
        msg = make_message(sbd_of(official_example(artefacts_dir)))
        served = receiver.receive(tuple(msg.headers.items()), msg.body, defer=deferred.append)
        assert served.outcome is ReceiveOutcome.ACCEPTED
        assert list(listener.notifies(timeout=0.5)) == []  # serve mode: its own work, nobody to wake
        leave(receiver, artefacts_dir)
        assert [n.channel for n in listener.notifies(timeout=5, stop_after=1)] == [RECEIVED_CHANNEL]
    for finish in deferred:
        finish.release()


def test_a_document_the_pass_claimed_but_left_pending_is_not_claimed_again_by_it(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, hand_ons = MovingClock(), HandOns()
    receiver = make_receiver(store, validation_engine, clock, hand_ons)
    first, second = leave(receiver, artefacts_dir), leave(receiver, artefacts_dir)
    finished: list[str] = []

    def no_verdict(self: PendingRecovery, document: Any, read: Any) -> None:
        finished.append(document.id)
        assert len(finished) <= 2, "the pass claimed a document it had claimed already"

    monkeypatch.setattr(PendingRecovery, "_finish", no_verdict)
    clock.at = NOW + AGE + timedelta(seconds=1)
    assert receiver.sweep_pending(older_than=AGE, claim_for=CLAIM_FOR) == 2
    assert sorted(finished) == sorted([first, second])
    assert receiver.sweep_pending(older_than=AGE, claim_for=CLAIM_FOR) == 0  # both claims still live
    assert statuses(store) == {first: InboundStatus.RECEIVED, second: InboundStatus.RECEIVED}


def test_a_finish_that_raises_stops_the_pass_and_the_next_pass_takes_the_rest(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, hand_ons = MovingClock(), HandOns()
    receiver = make_receiver(store, validation_engine, clock, hand_ons)
    poison = leave(receiver, artefacts_dir)
    clock.at = NOW + timedelta(seconds=1)
    other = leave(receiver, artefacts_dir)
    finish = PendingRecovery._finish

    def raise_on_poison(self: PendingRecovery, document: Any, read: Any) -> Any:
        if document.id == poison:
            raise RuntimeError("a bug in the finish of this document")
        return finish(self, document, read)

    monkeypatch.setattr(PendingRecovery, "_finish", raise_on_poison)
    clock.at = NOW + AGE + timedelta(seconds=2)
    with pytest.raises(RuntimeError):
        receiver.sweep_pending(older_than=AGE, claim_for=CLAIM_FOR)
    assert statuses(store) == {poison: InboundStatus.RECEIVED, other: InboundStatus.RECEIVED}
    # The next pass steps over the poison document (claimed by the failed pass) and takes the other one.
    assert receiver.sweep_pending(older_than=AGE, claim_for=CLAIM_FOR) == 1
    assert statuses(store) == {poison: InboundStatus.RECEIVED, other: InboundStatus.VALID}
    # Once that claim has run out, the poison document is tried again (not left forever).
    clock.at += CLAIM_FOR + timedelta(seconds=1)
    monkeypatch.setattr(PendingRecovery, "_finish", finish)
    assert receiver.sweep_pending(older_than=AGE, claim_for=CLAIM_FOR) == 1
    assert statuses(store) == {poison: InboundStatus.VALID, other: InboundStatus.VALID}


def test_a_restart_of_serve_in_worker_mode_validates_the_documents_older_than_the_sweep_s_age(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Age 0: the document is old enough at once (make_app's clock does not move).
    app = worker_mode_app(artefacts_dir, tmp_path, store, validation_engine, pending_sweep_age_seconds=0)
    with TestClient(app) as client:
        assert post_example(client, artefacts_dir).status_code == 200
    [document] = inbound_documents(store)
    assert document.status is InboundStatus.RECEIVED
    calls = counting(validation_engine, monkeypatch)
    with TestClient(app):  # serve restarts: its start-up sweep takes the document, no worker did
        pass
    [document] = inbound_documents(store)
    assert len(calls) == 1
    assert document.status is InboundStatus.VALID


def test_a_restart_of_serve_in_worker_mode_leaves_fresh_documents_to_the_workers(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = worker_mode_app(artefacts_dir, tmp_path, store, validation_engine)
    with TestClient(app) as client:
        assert post_example(client, artefacts_dir).status_code == 200
    calls = counting(validation_engine, monkeypatch)
    with TestClient(app):  # serve restarts (a deploy): the document was received a moment ago
        pass
    [document] = inbound_documents(store)
    assert calls == [], "serve's start-up validated a document that waits for a worker"
    assert document.status is InboundStatus.RECEIVED
