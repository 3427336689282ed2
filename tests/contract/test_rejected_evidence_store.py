"""Contract: rejected-request evidence has its own retention - expired ``rejected-…`` records (and their
signal history) are purged in batches; accepted messages and young records stay. SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, select
from store_builders import as4_message, at

from gateway.model.message import AS4MessageRecord, AS4Signal, Direction, RawHTTPMessage, SignalKind
from gateway.services.rejected_evidence import (
    REJECTED_KEY_PREFIX,
    RejectedEvidencePurge,
    purge_rejected_evidence,
)
from gateway.store import SQLDocumentStore
from gateway.store.tables import as4_messages, as4_signals

SIGNED = RawHTTPMessage((), b"<signed error/>")
ERROR = AS4Signal(SignalKind.ERROR, SIGNED, at(0), "EBMS:0009", {"bodySha256": "00"})


def _rejected(n: int, minutes: int) -> AS4MessageRecord:
    key = f"{REJECTED_KEY_PREFIX}{n}"
    record = as4_message(direction=Direction.IN, message_id=key, created_at=at(minutes))
    return replace(record, signal=ERROR)


def _keys(store: SQLDocumentStore) -> set[str]:
    with store.engine.connect() as connection:
        return set(connection.execute(select(as4_messages.c.message_id)).scalars())


def test_expired_rejected_evidence_is_purged_in_batches(store: SQLDocumentStore) -> None:
    accepted = as4_message(direction=Direction.IN, message_id="genuine@peer", created_at=at(0))
    with store.unit_of_work() as uow:
        uow.messages.add(accepted)
        for n in range(7):
            uow.messages.add(_rejected(n, 0))
        uow.messages.add(_rejected(99, 60))
        uow.commit()
    with store.unit_of_work() as uow:
        assert isinstance(uow.messages, RejectedEvidencePurge)
    deleted = purge_rejected_evidence(store, before=at(30), batch_size=3)
    assert deleted == 7
    assert _keys(store) == {"genuine@peer", f"{REJECTED_KEY_PREFIX}99"}
    with store.engine.connect() as connection:
        history = connection.execute(select(func.count()).select_from(as4_signals)).scalar_one()
    assert history == 1  # the young record's error only
    assert purge_rejected_evidence(store, before=at(30)) == 0


def test_an_accepted_message_whose_id_looks_like_evidence_is_never_purged(store: SQLDocumentStore) -> None:
    """eb:MessageId is the sender's choice: a received (receipted) message called ``rejected-…`` is evidence
    of a document we accepted, not of a rejected request, and keeps its own record for ever."""
    receipt = AS4Signal(SignalKind.RECEIPT, RawHTTPMessage((), b"<signed receipt/>"), at(0))
    lookalike = replace(
        as4_message(
            direction=Direction.IN,
            message_id=f"{REJECTED_KEY_PREFIX}lookalike@peer",
            document_id="5a5315be-8524-488e-90af-2509bb637021",
            created_at=at(0),
        ),
        signal=receipt,
    )
    with store.unit_of_work() as uow:
        uow.messages.add(lookalike)
        uow.messages.add(_rejected(1, 0))
        uow.commit()
    assert purge_rejected_evidence(store, before=at(30)) == 1
    assert _keys(store) == {lookalike.message_id}
