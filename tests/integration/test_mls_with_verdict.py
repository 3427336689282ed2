"""A received document's MLS is queued in the unit of work that records its verdict: a store failure at that
point rolls the verdict back, and whichever path finishes the document later (the periodic sweep, the
start-up recovery, the sender's resend) records the verdict with exactly one MLS - or none where the MLS
rules say none. Real validation engine (the MLS is built and checked with the official rule set), SQLite
and PostgreSQL; only the directory (the public Peppol network) is a stand-in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from as4_support import NOW
from sqlalchemy import select

from gateway.errors import StoreError
from gateway.model import ParticipantID
from gateway.model.message import InboundStatus
from gateway.services import message_status
from gateway.services.message_status import MessageStatusService
from gateway.services.receive import AfterReceipt, AS4Receiver, ReceiveOutcome
from gateway.store.tables import delivery_jobs, outbound_documents
from gateway.validation import ValidationEngine
from tests.integration.test_as4_endpoint import (  # noqa: F401 - fixtures
    FlakyStore,
    UUIDs,
    inbound_documents,
    make_message,
    official_example,
    sbd_of,
    sql_store,
    store,
)
from tests.integration.test_pending_sweep import MovingClock, receiver_with

AGE = timedelta(minutes=5)
OUR_SPID = ParticipantID.parse("0242:000002")
THEIR_SPID = "0242:000009"


class Directory:
    """The directory stand-in of one receiver; asked once per MLS about to be built (before building it)."""

    def __init__(self, meanwhile: Callable[[], object] | None = None) -> None:
        self.asked = 0
        self.meanwhile = meanwhile  # run when asked: another process acting between the check and the record

    def __call__(self, participant: ParticipantID, *_: Any) -> bool:
        self.asked += 1
        if self.meanwhile is not None:
            self.meanwhile()
        return str(participant) == THEIR_SPID


class CountedMLSValidation:
    """The real engine, counting the MLS it validates (each MLS built is validated before it is queued)."""

    def __init__(self, engine: ValidationEngine) -> None:
        self.engine = engine
        self.mls = 0

    def validate(self, document: bytes, *, rule_set: str, **kw: Any) -> Any:
        if rule_set == message_status.MLS_RULE_SET:
            self.mls += 1
        return self.engine.validate(document, rule_set=rule_set, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


def make_receiver(
    documents: FlakyStore,
    engine: ValidationEngine | CountedMLSValidation,
    clock: MovingClock,
    directory: Directory | None = None,
) -> AS4Receiver:
    status = MessageStatusService(
        store=documents,
        validation=engine,  # type: ignore[arg-type]
        can_receive=directory or Directory(),
        clock=clock,
        ids=UUIDs(),
        our_spid=OUR_SPID,
        seller_id="0208:0000000097",
    )
    return receiver_with(documents, engine, clock, on_received=status.on_received, mls=status)  # type: ignore[arg-type]


def queued_mls(documents: FlakyStore) -> list[tuple[str, str, bool]]:
    """(receiver, status, has a delivery job) of every MLS stored."""
    o, j = outbound_documents, delivery_jobs
    stmt = (
        select(o.c.receiver_id, o.c.status, j.c.document_id.is_not(None))
        .outerjoin(j, j.c.document_id == o.c.id)
        .where(o.c.kind == "mls")
    )
    with documents.inner.engine.connect() as connection:
        return [(str(row[0]), str(row[1]), bool(row[2])) for row in connection.execute(stmt)]


class FailingOnce:
    """``queue_response`` of the MLS service, failing with a store error on its first call."""

    def __init__(self, real: Callable[..., str]) -> None:
        self.real = real
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        self.calls += 1
        if self.calls == 1:
            raise StoreError("insert outbound document: OperationalError (database is locked)")
        return self.real(*args, **kwargs)


def finish_by(path: str, receiver: AS4Receiver, clock: MovingClock, resend: Callable[[], object]) -> None:
    """Let ``path`` finish what is pending (the sweep needs the document to be older than its age)."""
    if path == "sweep":
        clock.at = NOW + AGE + timedelta(seconds=1)
        receiver.sweep_pending(older_than=AGE)
    elif path == "recovery":
        receiver.recover_pending()
    else:
        resend()


@pytest.mark.parametrize("path", ["sweep", "recovery", "resend"])
def test_an_mls_that_cannot_be_queued_rolls_the_verdict_back_and_is_queued_once_later(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
) -> None:
    clock = MovingClock()
    receiver = make_receiver(store, validation_engine, clock)
    failing = FailingOnce(message_status.queue_response)
    monkeypatch.setattr(message_status, "queue_response", failing)
    sbd = sbd_of(
        official_example(artefacts_dir), mls_to=ParticipantID.parse(THEIR_SPID), mls_type="ALWAYS_SEND"
    )
    msg = make_message(sbd)
    deferred: list[AfterReceipt] = []
    result = receiver.receive(tuple(msg.headers.items()), msg.body, defer=deferred.append)
    assert result.outcome is ReceiveOutcome.ACCEPTED
    [after_receipt] = deferred
    # The store fails where the MLS is stored: the verdict is not recorded without it.
    with pytest.raises(StoreError, match="database is locked"):
        after_receipt()
    after_receipt.release()  # its caller gives up on it (its last try)
    assert failing.calls == 1
    assert [d.status for d in inbound_documents(store)] == [InboundStatus.RECEIVED]
    assert queued_mls(store) == []

    def resend() -> None:
        again = receiver.receive(tuple(msg.headers.items()), msg.body)
        assert again.outcome is ReceiveOutcome.DUPLICATE_MESSAGE

    finish_by(path, receiver, clock, resend)
    assert [d.status for d in inbound_documents(store)] == [InboundStatus.VALID]
    assert queued_mls(store) == [(THEIR_SPID, "accepted", True)]
    # Every other path afterwards: nothing is queued twice.
    for other in ("sweep", "recovery", "resend"):
        finish_by(other, receiver, clock, resend)
    assert queued_mls(store) == [(THEIR_SPID, "accepted", True)]
    assert failing.calls == 2


def test_a_document_the_rules_give_no_mls_gets_none_on_any_path(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
) -> None:
    # FAILURE_ONLY (the default) and a valid document: no MLS, however the document is finished.
    clock = MovingClock()
    receiver = make_receiver(store, validation_engine, clock)
    msg = make_message(sbd_of(official_example(artefacts_dir), mls_to=ParticipantID.parse(THEIR_SPID)))
    lost: list[Callable[[], InboundStatus]] = []
    assert receiver.receive(tuple(msg.headers.items()), msg.body, defer=lost.append).document_id
    clock.at = NOW + timedelta(hours=1)  # its work after the receipt never ran (the hold has passed)
    assert receiver.sweep_pending(older_than=AGE) == 1
    assert receiver.recover_pending() == 0
    receiver.receive(tuple(msg.headers.items()), msg.body)
    assert [d.status for d in inbound_documents(store)] == [InboundStatus.VALID]
    assert queued_mls(store) == []


def test_a_sweep_of_another_process_racing_the_work_after_a_receipt_queues_one_mls(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
) -> None:
    clock = MovingClock()
    directory_here, validation_here = Directory(), CountedMLSValidation(validation_engine)
    here = make_receiver(store, validation_here, clock, directory_here)
    elsewhere = make_receiver(store, validation_engine, clock)  # a second API process, with its own MLS
    sbd = sbd_of(
        official_example(artefacts_dir), mls_to=ParticipantID.parse(THEIR_SPID), mls_type="ALWAYS_SEND"
    )
    msg = make_message(sbd)
    deferred: list[Callable[[], InboundStatus]] = []
    assert here.receive(tuple(msg.headers.items()), msg.body, defer=deferred.append).document_id
    clock.at = NOW + AGE + timedelta(seconds=1)  # its work waited longer than the age (a burst)
    assert elsewhere.sweep_pending(older_than=AGE) == 1  # records the verdict and its MLS first
    assert queued_mls(store) == [(THEIR_SPID, "accepted", True)]
    [finish] = deferred
    assert finish() is InboundStatus.VALID  # validated again, found recorded: no second MLS
    assert [d.status for d in inbound_documents(store)] == [InboundStatus.VALID]
    assert queued_mls(store) == [(THEIR_SPID, "accepted", True)]
    # Found recorded before its MLS was prepared: no directory question, no MLS built and validated.
    assert (directory_here.asked, validation_here.mls) == (0, 0)


def test_a_verdict_recorded_elsewhere_after_the_check_still_leaves_exactly_one_mls(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
) -> None:
    # The check before building found the document pending; another process records the verdict (and its
    # MLS) while this one builds its own: the conditional record drops this one's, nothing is queued twice.
    clock = MovingClock()
    elsewhere = make_receiver(store, validation_engine, clock)

    def sweep_elsewhere() -> None:
        assert elsewhere.sweep_pending(older_than=AGE) == 1

    directory_here = Directory(meanwhile=sweep_elsewhere)
    validation_here = CountedMLSValidation(validation_engine)
    here = make_receiver(store, validation_here, clock, directory_here)
    sbd = sbd_of(
        official_example(artefacts_dir), mls_to=ParticipantID.parse(THEIR_SPID), mls_type="ALWAYS_SEND"
    )
    msg = make_message(sbd)
    deferred: list[Callable[[], InboundStatus]] = []
    assert here.receive(tuple(msg.headers.items()), msg.body, defer=deferred.append).document_id
    clock.at = NOW + AGE + timedelta(seconds=1)
    [finish] = deferred
    assert finish() is InboundStatus.VALID
    assert (directory_here.asked, validation_here.mls) == (1, 1)  # built here, for nothing
    assert queued_mls(store) == [(THEIR_SPID, "accepted", True)]  # the other process's, once


def test_a_store_failure_on_the_check_before_the_mls_leaves_the_record_to_decide(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
) -> None:
    # The read before building fails (database down for a moment): the MLS is built all the same and the
    # verdict is recorded with it, never without it.
    clock = MovingClock()
    reads: list[bool] = []
    real_unit_of_work = store.unit_of_work

    def flaky_read(*, read_only: bool = False) -> Any:
        if read_only and not reads:  # the check is this call's only read-only unit of work
            reads.append(True)
            raise StoreError("begin transaction: OperationalError")
        return real_unit_of_work(read_only=read_only)

    here = make_receiver(store, validation_engine, clock)
    sbd = sbd_of(
        official_example(artefacts_dir), mls_to=ParticipantID.parse(THEIR_SPID), mls_type="ALWAYS_SEND"
    )
    msg = make_message(sbd)
    deferred: list[Callable[[], InboundStatus]] = []
    assert here.receive(tuple(msg.headers.items()), msg.body, defer=deferred.append).document_id
    [finish] = deferred
    store.unit_of_work = flaky_read  # type: ignore[method-assign]
    try:
        assert finish() is InboundStatus.VALID
    finally:
        del store.unit_of_work  # type: ignore[method-assign]
    assert reads == [True]
    assert queued_mls(store) == [(THEIR_SPID, "accepted", True)]
