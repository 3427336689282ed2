"""Contract: InboundDocumentRepository - one document per AS4 message, filters and pagination."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event
from store_builders import RECEIVER, REPORT, SENDER, UBL, at, content, inbound

from gateway.errors import DuplicateMessage, StoreError
from gateway.model import ParticipantID
from gateway.model.document_number import NumberSearch
from gateway.model.message import VALIDATION_PENDING, DocumentContent, InboundStatus
from gateway.services import InboundQuery, PageCursor
from gateway.store import SQLDocumentStore


def test_add_get_and_content(store: SQLDocumentStore) -> None:
    document = inbound(message_id="m-1@peer")
    with store.unit_of_work() as uow:
        uow.inbound.add(document, content())
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.inbound.get(document.id) == document
        assert uow.inbound.get_by_message_id("m-1@peer") == document
        assert uow.inbound.get_by_message_id("m-2@peer") is None
        stored = uow.inbound.get_content(document.id)
    assert stored is not None
    assert stored.body == UBL
    assert stored.validation_report == REPORT


def test_a_large_body_is_kept_exactly_through_its_verdict_and_gone_with_a_rollback(
    store: SQLDocumentStore,
) -> None:
    # The body lives in its own row, written in slices on SQLite (store/blobs.py): not a whole number of
    # slices, every byte value, unchanged by the status update; a rolled-back unit of work leaves neither.
    big = random.Random(11).randbytes(3 * 1024 * 1024 + 5)
    kept = replace(inbound(status=InboundStatus.RECEIVED), status_reason=VALIDATION_PENDING)
    dropped = inbound(message_id="dropped@peer")
    with store.unit_of_work() as uow:
        uow.inbound.add(kept, DocumentContent(big, None))
        uow.commit()
    with store.unit_of_work() as uow:
        uow.inbound.add(dropped, DocumentContent(big[::-1], None))  # not committed
    with store.unit_of_work() as uow:
        assert uow.inbound.record_validation(
            kept.id, status=InboundStatus.VALID, report=REPORT, reason=None, at=at(5), only_pending=True
        )
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        stored = uow.inbound.get_content(kept.id)
        assert uow.inbound.get_content(dropped.id) is None
        assert uow.inbound.get(dropped.id) is None
    assert stored == DocumentContent(big, REPORT)


def test_one_document_per_as4_message(store: SQLDocumentStore) -> None:
    with store.unit_of_work() as uow:
        uow.inbound.add(inbound(message_id="m-1@peer"), content())
        with pytest.raises(DuplicateMessage):
            uow.inbound.add(inbound(message_id="m-1@peer"), content())
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.inbound.search(InboundQuery()).items[0].as4_message_id == "m-1@peer"
        assert len(uow.inbound.search(InboundQuery()).items) == 1


def test_search_filters_and_pages(store: SQLDocumentStore) -> None:
    third_party = ParticipantID("9925", "BE0477472701")
    ids = []
    with store.unit_of_work() as uow:
        for i in range(9):
            document = inbound(
                sender=third_party if i % 3 == 0 else RECEIVER,
                status=InboundStatus.INVALID if i % 2 else InboundStatus.VALID,
                received_at=at(i),
            )
            uow.inbound.add(document, content())
            ids.append(document.id)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        by_sender = uow.inbound.search(InboundQuery(sender=ParticipantID("9925", "be0477472701")))
        invalid = uow.inbound.search(InboundQuery(status=InboundStatus.INVALID, since=at(3)))
        for_us = uow.inbound.search(InboundQuery(receiver=SENDER, limit=4))
        nobody = uow.inbound.search(InboundQuery(receiver=third_party))
        rest = uow.inbound.search(InboundQuery(receiver=SENDER, limit=4, after=for_us.next_cursor))
        last = uow.inbound.search(InboundQuery(receiver=SENDER, limit=4, after=rest.next_cursor))
    assert [d.id for d in by_sender.items] == [ids[6], ids[3], ids[0]]
    assert [d.id for d in invalid.items] == [ids[7], ids[5], ids[3]]
    assert nobody.items == ()
    assert for_us.next_cursor == PageCursor(at(5), ids[5])
    assert [d.id for d in for_us.items + rest.items + last.items] == ids[::-1]
    assert last.next_cursor is None


def test_validation_is_recorded_on_a_pending_document(store: SQLDocumentStore) -> None:
    first = replace(
        inbound(status=InboundStatus.RECEIVED, received_at=at(2)), status_reason=VALIDATION_PENDING
    )
    second = replace(
        inbound(status=InboundStatus.RECEIVED, received_at=at(1)), status_reason=VALIDATION_PENDING
    )
    unrelated = [inbound(), inbound(status=InboundStatus.RECEIVED)]  # validated; no rule set (no reason)
    with store.unit_of_work() as uow:
        for document in (first, second, *unrelated):
            uow.inbound.add(document, DocumentContent(UBL, None))
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.inbound.pending_validation(limit=10) == [second, first]  # oldest first
        assert uow.inbound.pending_validation(limit=1) == [second]
    with store.unit_of_work() as uow:
        uow.inbound.record_validation(
            second.id, status=InboundStatus.INVALID, report=REPORT, reason="BR-CO-15", at=at(5)
        )
        with pytest.raises(StoreError):
            uow.inbound.record_validation(
                "no-such-document", status=InboundStatus.VALID, report=None, reason=None, at=at(5)
            )
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.inbound.get(second.id) == replace(
            second, status=InboundStatus.INVALID, status_reason="BR-CO-15", updated_at=at(5)
        )
        stored = uow.inbound.get_content(second.id)
        assert stored == DocumentContent(UBL, REPORT)
        assert uow.inbound.pending_validation(limit=10) == [first]
        assert uow.inbound.count_by_status() == {
            InboundStatus.RECEIVED: 2,
            InboundStatus.VALID: 1,
            InboundStatus.INVALID: 1,
        }


def test_only_a_pending_document_gets_a_verdict_when_asked_so(store: SQLDocumentStore) -> None:
    # Two validations of one document (the sweep and the work after the receipt): exactly one records.
    pending = replace(inbound(status=InboundStatus.RECEIVED), status_reason=VALIDATION_PENDING)
    done = inbound(status=InboundStatus.VALID)
    with store.unit_of_work() as uow:
        uow.inbound.add(pending, DocumentContent(UBL, None))
        uow.inbound.add(done, DocumentContent(UBL, REPORT))
        uow.commit()
    with store.unit_of_work() as uow:

        def record(document_id: str) -> bool:
            return uow.inbound.record_validation(
                document_id,
                status=InboundStatus.INVALID,
                report=REPORT,
                reason="BR-CO-15",
                at=at(5),
                only_pending=True,
            )

        assert [record(pending.id), record(pending.id), record(done.id), record("none")] == [
            True,
            False,
            False,
            False,
        ]
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.inbound.get(pending.id) == replace(
            pending, status=InboundStatus.INVALID, status_reason="BR-CO-15", updated_at=at(5)
        )
        assert uow.inbound.get(done.id) == done


def test_counts_cover_every_status(store: SQLDocumentStore) -> None:
    with store.unit_of_work(read_only=True) as uow:
        assert uow.inbound.count_by_status() == dict.fromkeys(InboundStatus, 0)


def _number_search_and_its_statement(store: SQLDocumentStore, search: str) -> tuple[str, Any]:
    """Store INV-0..INV-2, search ``search`` (finding INV-1 alone) and return the search's SELECT."""
    with store.unit_of_work() as uow:
        for n in range(3):
            document = replace(inbound(received_at=at(n)), document_number=f"INV-{n}")
            uow.inbound.add(document, content())
        uow.commit()
    selects: list[tuple[str, Any]] = []

    def capture(conn: object, cursor: object, statement: str, parameters: Any, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append((statement, parameters))

    event.listen(store.engine, "after_cursor_execute", capture)
    try:
        with store.unit_of_work(read_only=True) as uow:
            found = uow.inbound.search(InboundQuery(number=NumberSearch.parse(search))).items
    finally:
        event.remove(store.engine, "after_cursor_execute", capture)
    assert [document.document_number for document in found] == ["INV-1"]
    [select] = selects
    return select


@pytest.mark.parametrize("search", ["inv-1", "INV-1*"])
def test_a_number_search_walks_the_number_index_on_sqlite(store: SQLDocumentStore, search: str) -> None:
    # Support's "did you get INV-1?" over every document received: the index on the lower-case key finds
    # the whole number and, on SQLite (whose LIKE uses no index of a BINARY column), a prefix by its range.
    if store.engine.dialect.name != "sqlite":
        pytest.skip("the plan is SQLite's")
    sql, args = _number_search_and_its_statement(store, search)
    with store.engine.connect() as connection:
        plan = " | ".join(
            str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", args)
        )
    assert "ix_inbound_documents_document_number_key_received_at" in plan, plan
    assert "<" in plan or "=" in plan, plan  # a search of the index, not a scan of it


def test_a_number_prefix_search_walks_the_pattern_index_on_postgresql(store: SQLDocumentStore) -> None:
    # PostgreSQL uses a b-tree for LIKE 'inv-1%' only when the index compares bytes (migration 0017's
    # varchar_pattern_ops): without it a prefix search reads the whole table. The planner is told not to
    # scan the table, so the plan shows whether an index can serve the LIKE at all.
    if store.engine.dialect.name != "postgresql":
        pytest.skip("the plan is PostgreSQL's")
    sql, args = _number_search_and_its_statement(store, "INV-1*")
    with store.engine.connect() as connection:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = " | ".join(str(row[0]) for row in connection.exec_driver_sql(f"EXPLAIN {sql}", args))
    assert "ix_inbound_documents_document_number_key_pattern" in plan, plan
    assert "~>=~" in plan, plan  # the prefix's range searched in the index, not a filter over all of it
