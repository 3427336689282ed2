"""Contract: OutboundDocumentRepository and the unit of work (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, timedelta, timezone

import pytest
from sqlalchemy import event as sa_event
from store_builders import RECEIVER, REPORT, T0, UBL, at, content, outbound

from gateway.errors import DuplicateMessage, InvalidTransition, StoreError
from gateway.model import BIS_CREDIT_NOTE, BIS_INVOICE, ParticipantID
from gateway.model.message import DeliveryEvent, DeliveryStatus, DocumentKind, TimelineEvent
from gateway.model.number_series import BILLING_TYPES
from gateway.services import OutboundQuery, PageCursor
from gateway.store import SQLDocumentStore
from gateway.xmlcore.held import HeldDocument
from tests.held_spills import record_spills

E = DeliveryEvent
S = DeliveryStatus
INVOICES = (BIS_INVOICE,)


def test_add_and_get_round_trip(store: SQLDocumentStore) -> None:
    document = outbound()
    with store.unit_of_work() as uow:
        entry = uow.outbound.add(document, content())
        uow.commit()
    assert entry == TimelineEvent(document.id, T0, None, S.ACCEPTED, E.SUBMITTED)
    with store.unit_of_work(read_only=True) as uow:
        assert uow.outbound.get(document.id) == document
        stored = uow.outbound.get_content(document.id)
        assert uow.outbound.find_by_number(document.seller_id, document.document_number, INVOICES) == [
            document
        ]
        assert uow.outbound.timeline(document.id) == [entry]
        assert uow.outbound.get("no-such-id") is None
        assert uow.outbound.get_content("no-such-id") is None
    assert stored is not None
    assert stored.body == UBL
    assert stored.validation_report == REPORT


def test_a_large_body_is_stored_from_a_spilled_held_document(store: SQLDocumentStore) -> None:
    """``add(..., body=)``: the UBL written from a document held in a temporary file (BENCHMARKS.md, *Memory,
    eighteenth pass*), byte for byte; the duplicate number is refused alike and the row rolls back."""
    ubl = UBL + b"<!--" + bytes(range(32, 127)) * 30_000 + b"-->"  # 2.9 MB: written in slices on SQLite
    held = HeldDocument(ubl)
    document = outbound(number="2026-0100")
    with held.spilled() as out:
        assert out
        with store.unit_of_work() as uow:
            uow.outbound.add(document, content(b""), body=held)
            uow.commit()
        with store.unit_of_work() as uow:
            with pytest.raises(DuplicateMessage):
                uow.outbound.add(outbound(number="2026-0100"), content(b""), body=held)
            assert uow.outbound.find_by_number("PU-0001", "2026-0100", INVOICES) == [document]
        rolled_back = outbound(number="2026-0101")
        with store.unit_of_work() as uow:
            uow.outbound.add(rolled_back, content(b""), body=held)  # left without a commit
    with store.unit_of_work(read_only=True) as uow:
        stored = uow.outbound.get_content(document.id)
        assert uow.outbound.get(rolled_back.id) is None
    assert stored is not None
    assert stored.body == ubl
    assert stored.validation_report == REPORT


def test_a_held_body_whose_file_fails_is_a_store_error_and_nothing_is_stored(
    store: SQLDocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spilled document's temporary file cut short (as an I/O error would leave it) while the row is
    inserted: StoreError (the API's 503 + Retry-After, the client posts again), not an OSError (500), and
    the row is rolled back. SQLite reads it in slices, PostgreSQL whole: both fail alike (BENCHMARKS.md, *Held
    documents, second review pass*)."""
    made = record_spills(monkeypatch)
    ubl = UBL + b"<!--" + b"x" * 2_000_000 + b"-->"
    held = HeldDocument(ubl)
    document = outbound(number="2026-0110")
    with held.spilled(read_back=False) as out:  # not read back after: the file is cut
        assert out
        os.ftruncate(made[-1], 300_000)
        with store.unit_of_work() as uow, pytest.raises(StoreError, match="while reading the bytes"):
            uow.outbound.add(document, content(b""), body=held)
    with store.unit_of_work(read_only=True) as uow:
        assert uow.outbound.get(document.id) is None
        assert uow.outbound.find_by_number(document.seller_id, "2026-0110", INVOICES) == []


def test_timestamps_come_back_as_the_same_instant_in_utc(store: SQLDocumentStore) -> None:
    brussels = timezone(timedelta(hours=2))
    document = outbound(created_at=T0.astimezone(brussels))
    with store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        uow.commit()
    with store.unit_of_work() as uow:
        got = uow.outbound.get(document.id)
    assert got is not None
    assert got.created_at == T0
    assert got.created_at.tzinfo is UTC
    assert got.created_at.microsecond == T0.microsecond


def test_adding_a_document_is_two_inserts_with_a_savepoint_on_postgresql_only(
    store: SQLDocumentStore, backend: str
) -> None:
    """The document row is the one insert a unique constraint may refuse, and it comes first: SQLite undoes
    only that statement (``first_insert_refusable``), so the savepoint that keeps the unit of work usable
    after a duplicate (``test_seller_and_number_pair_is_unique``) is PostgreSQL's alone (issue 12: two
    statements fewer per submission on SQLite)."""
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    sa_event.listen(store.engine, "before_cursor_execute", count)
    try:
        with store.unit_of_work() as uow:
            statements.clear()
            uow.outbound.add(outbound(), content())
            added = list(statements)
            uow.commit()
    finally:
        sa_event.remove(store.engine, "before_cursor_execute", count)
    if backend == "sqlite":
        assert added == ["INSERT", "INSERT"]
    else:
        assert added == ["SAVEPOINT", "INSERT", "INSERT", "RELEASE"]


def test_naive_timestamps_are_refused(store: SQLDocumentStore) -> None:
    document = outbound(created_at=T0.replace(tzinfo=None))
    with store.unit_of_work() as uow, pytest.raises(StoreError):
        uow.outbound.add(document, content())


def test_seller_and_number_pair_is_unique(store: SQLDocumentStore) -> None:
    first = outbound(number="2026-0001")
    with store.unit_of_work() as uow:
        uow.outbound.add(first, content())
        uow.commit()
    with store.unit_of_work() as uow:
        with pytest.raises(DuplicateMessage):
            uow.outbound.add(outbound(number="2026-0001"), content())
        # The unit of work stays usable after the duplicate: the caller answers with the original.
        assert uow.outbound.find_by_number("PU-0001", "2026-0001", INVOICES) == [first]
        other_seller = outbound(number="2026-0001", seller="PU-0002")
        uow.outbound.add(other_seller, content())
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.outbound.count_by_status()[S.ACCEPTED] == 2


def test_a_number_is_unique_per_document_type_so_a_credit_note_may_share_an_invoices(
    store: SQLDocumentStore,
) -> None:
    """Numbers are unique per seller and per document type (migration 0016): a credit note numbered as an
    invoice is stored beside it, whichever kind it was submitted as; a second invoice of that number,
    posted as UBL this time, is still refused, and each type's lookup finds its own document."""
    invoice = outbound(number="2026-0017")
    credit_note = replace(
        outbound(number="2026-0017", created_at=at(1)), kind=DocumentKind.UBL, document_type=BIS_CREDIT_NOTE
    )
    with store.unit_of_work() as uow:
        uow.outbound.add(invoice, content())
        uow.outbound.add(credit_note, content())
        uow.commit()
    with store.unit_of_work() as uow:
        with pytest.raises(DuplicateMessage):
            uow.outbound.add(replace(outbound(number="2026-0017"), kind=DocumentKind.UBL), content())
        assert uow.outbound.find_by_number("PU-0001", "2026-0017", INVOICES) == [invoice]
        assert uow.outbound.find_by_number("PU-0001", "2026-0017", (BIS_CREDIT_NOTE,)) == [credit_note]
        assert uow.outbound.find_by_number("PU-0001", "2026-0017", BILLING_TYPES) == [invoice, credit_note]
        assert uow.outbound.find_by_number("PU-0001", "2026-0017", ()) == []


def test_a_new_document_starts_accepted(store: SQLDocumentStore) -> None:
    with store.unit_of_work() as uow, pytest.raises(InvalidTransition):
        uow.outbound.add(replace(outbound(), status=S.SENDING), content())


def test_transitions_update_status_and_append_the_timeline(store: SQLDocumentStore) -> None:
    document = outbound()
    with store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        uow.commit()
    steps = [
        (E.SEND_STARTED, {"as4_message_id": "m1@gw"}),
        (
            E.RETRYABLE_FAILURE,
            {"reason": "HTTP 503", "next_attempt_at": at(5), "detail": {"http_status": 503}},
        ),
        (E.SEND_STARTED, {}),
        (E.RECEIPT_RECEIVED, {"detail": {"receipt": "ok"}}),
    ]
    for minute, (event, options) in enumerate(steps, start=1):
        with store.unit_of_work() as uow:
            uow.outbound.transition(document.id, event, at=at(minute), **options)  # type: ignore[arg-type]
            uow.commit()
        if event is E.RETRYABLE_FAILURE:
            with store.unit_of_work() as uow:
                retrying = uow.outbound.get(document.id)
            assert retrying is not None
            assert (retrying.status, retrying.status_reason, retrying.next_attempt_at) == (
                S.RETRYING,
                "HTTP 503",
                at(5),
            )
    with store.unit_of_work() as uow:
        final = uow.outbound.get(document.id)
        timeline = uow.outbound.timeline(document.id)
    assert final is not None
    assert final.status is S.DELIVERED
    assert final.attempts == 2
    assert final.as4_message_id == "m1@gw"  # kept although later steps did not repeat it
    assert final.next_attempt_at is None
    assert final.status_reason is None
    assert final.updated_at == at(4)
    assert [(e.from_status, e.to_status, e.event) for e in timeline] == [
        (None, S.ACCEPTED, E.SUBMITTED),
        (S.ACCEPTED, S.SENDING, E.SEND_STARTED),
        (S.SENDING, S.RETRYING, E.RETRYABLE_FAILURE),
        (S.RETRYING, S.SENDING, E.SEND_STARTED),
        (S.SENDING, S.DELIVERED, E.RECEIPT_RECEIVED),
    ]
    assert [e.at for e in timeline] == [T0, at(1), at(2), at(3), at(4)]
    assert timeline[2].detail == {"http_status": 503}


def test_first_event_at_finds_the_earliest_entry_of_an_event_with_a_flag_in_its_detail(
    store: SQLDocumentStore,
) -> None:
    document, other = outbound(), outbound(number="INV-2")
    with store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        uow.outbound.add(other, content())
        uow.commit()
    steps = [
        (E.SEND_STARTED, None),
        (E.RETRYABLE_FAILURE, {"http_status": 503}),  # a real attempt's failure: no flag
        (E.RETRYABLE_FAILURE, None),  # no detail at all
        (E.RETRYABLE_FAILURE, {"circuit_open": False}),
        (E.RETRYABLE_FAILURE, {"circuit_open": True, "reason": "circuit-open: first"}),
        (E.RETRYABLE_FAILURE, {"circuit_open": True, "reason": "circuit-open: second"}),
    ]
    with store.unit_of_work() as uow:
        for minute, (event, detail) in enumerate(steps, start=1):
            uow.outbound.transition(document.id, event, at=at(minute), detail=detail)
        uow.outbound.transition(other.id, E.SEND_STARTED, at=at(1))
        uow.outbound.transition(other.id, E.RETRYABLE_FAILURE, at=at(2), detail={"circuit_open": True})
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.outbound.first_event_at(document.id, E.RETRYABLE_FAILURE, flag="circuit_open") == at(5)
        assert uow.outbound.first_event_at(document.id, E.RETRYABLE_FAILURE) == at(2)
        first_since = uow.outbound.first_event_at(
            document.id, E.RETRYABLE_FAILURE, flag="circuit_open", since=at(6)
        )
        assert first_since == at(6)
        assert uow.outbound.first_event_at(document.id, E.RETRYABLE_FAILURE, since=at(7)) is None
        assert uow.outbound.first_event_at(document.id, E.SEND_STARTED, flag="circuit_open") is None
        assert uow.outbound.first_event_at(document.id, E.RECEIPT_RECEIVED) is None
        assert uow.outbound.first_event_at("unknown", E.RETRYABLE_FAILURE, flag="circuit_open") is None


def test_a_refused_transition_changes_nothing(store: SQLDocumentStore) -> None:
    document = outbound()
    with store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        uow.outbound.transition(document.id, E.SEND_STARTED, at=at(1))
        uow.outbound.transition(document.id, E.RECEIPT_RECEIVED, at=at(2))
        uow.commit()
    with store.unit_of_work() as uow:
        with pytest.raises(InvalidTransition) as caught:
            uow.outbound.transition(document.id, E.RETRY_REQUESTED, at=at(3))
        assert (caught.value.status, caught.value.event) == (S.DELIVERED, E.RETRY_REQUESTED)
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.outbound.get(document.id).status is S.DELIVERED  # type: ignore[union-attr]
        assert len(uow.outbound.timeline(document.id)) == 3


def test_a_transition_from_a_document_read_for_update_gives_the_same_rows(store: SQLDocumentStore) -> None:
    """``locked``: the document read with ``get(for_update=True)`` in the same unit of work stands for the
    transition's own read (the delivery worker's path): same status, attempts, timeline and refusals."""
    plain, locked = outbound(), replace(outbound(), id="doc-locked", document_number="INV-LOCKED")
    with store.unit_of_work() as uow:
        uow.outbound.add(plain, content())
        uow.outbound.add(locked, content())
        uow.commit()
    steps = [(E.SEND_STARTED, {"as4_message_id": "m1@gw"}), (E.RETRYABLE_FAILURE, {"reason": "HTTP 503"})]
    steps += [(E.SEND_STARTED, {}), (E.RECEIPT_RECEIVED, {"detail": {"receipt": "ok"}})]
    for minute, (event, options) in enumerate(steps, start=1):
        with store.unit_of_work() as uow:
            uow.outbound.transition(plain.id, event, at=at(minute), **options)  # type: ignore[arg-type]
            current = uow.outbound.get(locked.id, for_update=True)
            assert current is not None
            uow.outbound.transition(locked.id, event, at=at(minute), locked=current, **options)  # type: ignore[arg-type]
            uow.commit()
    with store.unit_of_work() as uow:
        one, two = uow.outbound.get(plain.id), uow.outbound.get(locked.id)
        timelines = [uow.outbound.timeline(d.id) for d in (plain, locked)]
        current = uow.outbound.get(locked.id, for_update=True)
        assert current is not None
        with pytest.raises(InvalidTransition):
            uow.outbound.transition(locked.id, E.RETRY_REQUESTED, at=at(9), locked=current)
        with pytest.raises(ValueError, match="is not"):
            uow.outbound.transition(plain.id, E.RETRY_REQUESTED, at=at(9), locked=current)
    assert one is not None
    assert two is not None
    assert replace(two, id=one.id, document_number=one.document_number) == one
    assert (two.status, two.attempts, two.as4_message_id) == (S.DELIVERED, 2, "m1@gw")
    assert [(e.from_status, e.to_status, e.event, e.at, e.detail) for e in timelines[0]] == [
        (e.from_status, e.to_status, e.event, e.at, e.detail) for e in timelines[1]
    ]


def test_a_transition_of_a_document_read_before_applies_while_its_row_is_as_read(
    store: SQLDocumentStore,
) -> None:
    """``transition_if``: the delivery worker's transition of the document it read in an earlier unit of
    work, without reading it again (issue 12): the same rows as ``transition`` while the row still has the
    status, attempts and message id read; once any of them changed, None and nothing written."""
    plain, known = outbound(), replace(outbound(), id="doc-known", document_number="INV-KNOWN")
    with store.unit_of_work() as uow:
        uow.outbound.add(plain, content())
        uow.outbound.add(known, content())
        uow.commit()
    steps = [(E.SEND_STARTED, {"as4_message_id": "m1@gw"}), (E.RETRYABLE_FAILURE, {"reason": "HTTP 503"})]
    steps += [(E.SEND_STARTED, {}), (E.RECEIPT_RECEIVED, {"detail": {"receipt": "ok"}})]
    for minute, (event, options) in enumerate(steps, start=1):
        with store.unit_of_work(read_only=True) as uow:
            read = uow.outbound.get(known.id)
        assert read is not None
        with store.unit_of_work() as uow:
            uow.outbound.transition(plain.id, event, at=at(minute), **options)  # type: ignore[arg-type]
            entry = uow.outbound.transition_if(read, event, at=at(minute), **options)  # type: ignore[arg-type]
            uow.commit()
        assert entry is not None
        assert (entry.from_status, entry.event) == (read.status, event)
    with store.unit_of_work() as uow:
        one, two = uow.outbound.get(plain.id), uow.outbound.get(known.id)
        timelines = [uow.outbound.timeline(d.id) for d in (plain, known)]
    assert one is not None
    assert two is not None
    assert replace(two, id=one.id, document_number=one.document_number) == one
    assert [(e.from_status, e.to_status, e.event, e.at, e.detail) for e in timelines[0]] == [
        (e.from_status, e.to_status, e.event, e.at, e.detail) for e in timelines[1]
    ]


@pytest.mark.parametrize("change", ["status", "attempts", "message"])
def test_a_transition_of_a_document_read_before_writes_nothing_once_its_row_changed(
    store: SQLDocumentStore, change: str
) -> None:
    document = outbound()
    with store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        uow.outbound.transition(document.id, E.SEND_STARTED, at=at(1), as4_message_id="m1@gw")
        uow.outbound.transition(document.id, E.RETRYABLE_FAILURE, at=at(2), reason="HTTP 503")
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        read = uow.outbound.get(document.id)
    assert read is not None
    stale = {
        "status": replace(read, status=S.ACCEPTED),
        "attempts": replace(read, attempts=read.attempts - 1),
        "message": replace(read, as4_message_id=None),
    }[change]
    with store.unit_of_work() as uow:
        assert uow.outbound.transition_if(stale, E.SEND_STARTED, at=at(3)) is None
        with pytest.raises(InvalidTransition):  # judged on the status read: nothing written either
            uow.outbound.transition_if(read, E.RECEIPT_RECEIVED, at=at(3))
        assert uow.outbound.transition_if(replace(read, id="no-such-id"), E.SEND_STARTED, at=at(3)) is None
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.outbound.get(document.id) == read
        assert len(uow.outbound.timeline(document.id)) == 3


def test_a_document_for_an_attempt_comes_with_its_content_until_a_message_is_built(
    store: SQLDocumentStore,
) -> None:
    """``get_for_attempt``: one read of the row gives the document and, while no message was built for it,
    its UBL, validation report and buyer country; afterwards the document alone (the message is resent)."""
    document = outbound()
    with store.unit_of_work() as uow:
        uow.outbound.add(document, replace(content(), buyer_country="NL"))
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        first = uow.outbound.get_for_attempt(document.id)
        assert uow.outbound.get_for_attempt("no-such-id") is None
    assert first == (document, replace(content(), buyer_country="NL"))
    with store.unit_of_work() as uow:
        uow.outbound.transition(document.id, E.SEND_STARTED, at=at(1), as4_message_id="m1@gw")
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        again = uow.outbound.get_for_attempt(document.id)
        sent = uow.outbound.get(document.id)
    assert again == (sent, None)


def test_transition_of_an_unknown_document_fails(store: SQLDocumentStore) -> None:
    with store.unit_of_work() as uow, pytest.raises(StoreError):
        uow.outbound.transition("missing", E.SEND_STARTED, at=T0)


def test_leaving_without_commit_rolls_back_status_and_timeline(store: SQLDocumentStore) -> None:
    document = outbound()
    with store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        uow.commit()

    def crash_mid_send() -> None:
        with store.unit_of_work() as uow:
            uow.outbound.transition(document.id, E.SEND_STARTED, at=at(1))
            raise RuntimeError("worker crashed")

    with pytest.raises(RuntimeError):
        crash_mid_send()
    with store.unit_of_work() as uow:
        uow.outbound.transition(document.id, E.PERMANENT_FAILURE, at=at(2), reason="not committed")
    with store.unit_of_work() as uow:
        got = uow.outbound.get(document.id)
        assert got is not None
        assert got.status is S.ACCEPTED
        assert got.attempts == 0
        assert len(uow.outbound.timeline(document.id)) == 1


def test_an_uncommitted_document_does_not_exist(store: SQLDocumentStore) -> None:
    document = outbound()
    with store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        uow.rollback()
    with store.unit_of_work() as uow:
        assert uow.outbound.get(document.id) is None
        assert uow.outbound.timeline(document.id) == []


def _seed_for_search(store: SQLDocumentStore) -> list[str]:
    """12 documents, one a minute; receivers alternate; statuses vary. Returns ids oldest first."""
    other = ParticipantID("0208", "ABCDEF0001")
    ids = []
    with store.unit_of_work() as uow:
        for i in range(12):
            document = outbound(number=f"N-{i:02d}", receiver=other if i % 2 else RECEIVER, created_at=at(i))
            uow.outbound.add(document, content())
            if i % 3 == 0:
                uow.outbound.transition(document.id, E.PERMANENT_FAILURE, at=at(i), reason="unknown receiver")
            ids.append(document.id)
        uow.commit()
    return ids


def test_search_filters_newest_first(store: SQLDocumentStore) -> None:
    ids = _seed_for_search(store)
    with store.unit_of_work(read_only=True) as uow:
        every = uow.outbound.search(OutboundQuery(limit=100))
        failed = uow.outbound.search(OutboundQuery(status=S.FAILED))
        # Participant ids compare case-insensitively.
        by_receiver = uow.outbound.search(OutboundQuery(receiver=ParticipantID("0208", "abcdef0001")))
        by_number = uow.outbound.search(OutboundQuery(number="N-07"))
        since = uow.outbound.search(OutboundQuery(since=at(9)))
        combined = uow.outbound.search(OutboundQuery(status=S.ACCEPTED, receiver=RECEIVER, since=at(3)))
        none = uow.outbound.search(OutboundQuery(seller_id="PU-9999"))
        counts = uow.outbound.count_by_status()
    assert [d.id for d in every.items] == ids[::-1]
    assert every.next_cursor is None
    assert [d.id for d in failed.items] == [ids[9], ids[6], ids[3], ids[0]]
    assert [d.id for d in by_receiver.items] == [ids[i] for i in (11, 9, 7, 5, 3, 1)]
    assert [d.document_number for d in by_number.items] == ["N-07"]
    assert [d.id for d in since.items] == [ids[11], ids[10], ids[9]]  # created_at >= since, inclusive
    assert [d.id for d in combined.items] == [ids[10], ids[8], ids[4]]
    assert none.items == ()
    assert counts == {**dict.fromkeys(S, 0), S.ACCEPTED: 8, S.FAILED: 4}


def test_pagination_visits_every_document_once_even_with_equal_timestamps(store: SQLDocumentStore) -> None:
    with store.unit_of_work() as uow:
        for i in range(7):
            uow.outbound.add(outbound(created_at=T0 if i < 4 else at(1)), content())
        uow.commit()
    seen: list[str] = []
    cursor: PageCursor | None = None
    pages = 0
    while True:
        with store.unit_of_work(read_only=True) as uow:
            page = uow.outbound.search(OutboundQuery(limit=3, after=cursor))
        pages += 1
        seen.extend(d.id for d in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7
    with store.unit_of_work(read_only=True) as uow:
        assert seen == [d.id for d in uow.outbound.search(OutboundQuery(limit=7)).items]


def test_page_size_is_bounded(store: SQLDocumentStore) -> None:
    with store.unit_of_work(read_only=True) as uow, pytest.raises(ValueError, match="page size"):
        uow.outbound.search(OutboundQuery(limit=0))


def test_read_only_unit_of_work_on_postgresql_refuses_writes(store: SQLDocumentStore, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no read-only transactions; read_only only avoids the write lock there")
    with store.unit_of_work(read_only=True) as uow, pytest.raises(StoreError):
        uow.outbound.add(outbound(), content())
    with store.unit_of_work() as uow:  # the pooled connection is writable again
        uow.outbound.add(outbound(), content())
        uow.commit()


def test_a_unit_of_work_is_entered_once(store: SQLDocumentStore) -> None:
    uow = store.unit_of_work()
    with uow:
        pass
    with pytest.raises(RuntimeError):
        uow.__enter__()
