"""Review 27b: the claiming pending sweep of ``gateway serve`` in ``GATEWAY_AS4__AFTER_RECEIPT=worker``
(``AS4Receiver.sweep_pending(claim_for=...)``) ends, and what it leaves is taken later: a document it
claimed but left pending is not claimed again by the same pass (no endless loop), a document whose finish
raises stops the pass but the next pass takes the others, and start-up in worker mode still validates the
documents older than the sweep's age."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.model.message import InboundStatus
from gateway.services.receive_recovery import CLAIM_FOR, PendingRecovery
from gateway.validation import ValidationEngine
from tests.integration.test_after_receipt_in_worker import counting, leave
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
    settings = settings_for(
        artefacts_dir,
        tmp_path,
        after_receipt="worker",
        pending_sweep_age_seconds=0,
        pending_sweep_interval_seconds=3600,
    )
    app = make_app(settings, store, validation_engine)
    msg = make_message(sbd_of(official_example(artefacts_dir)))
    with TestClient(app) as client:
        assert client.post("/as4", content=msg.body, headers=dict(msg.headers)).status_code == 200
    [document] = inbound_documents(store)
    assert document.status is InboundStatus.RECEIVED
    calls = counting(validation_engine, monkeypatch)
    with TestClient(app):  # serve restarts: its start-up sweep takes the document, no worker did
        pass
    [document] = inbound_documents(store)
    assert len(calls) == 1
    assert document.status is InboundStatus.VALID
