"""Contract: AS4MessageRepository - exact bytes as evidence, duplicate message ids, signal storage."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event, select
from store_builders import HEADERS, MIME_BODY, T0, UBL, as4_message, at, content, outbound

from gateway.errors import DuplicateMessage, StoreError
from gateway.model.message import (
    AS4MessageSummary,
    AS4Signal,
    DeliveryEvent,
    Direction,
    RawHTTPMessage,
    SignalKind,
)
from gateway.services.ports import InstanceCheck, InstanceMessage, SentFacts
from gateway.store import SQLDocumentStore, make_engine
from gateway.store.tables import as4_signals

RECEIPT = RawHTTPMessage(
    (("Content-Type", "application/soap+xml; charset=UTF-8"),),
    b'<?xml version="1.0"?>\n<S12:Envelope xmlns:S12="http://www.w3.org/2003/05/soap-envelope">\r\n\t</S12:Envelope>',
)


def test_raw_bytes_and_headers_are_stored_exactly(store: SQLDocumentStore) -> None:
    big = random.Random(7).randbytes(3 * 1024 * 1024)  # a large attachment, every byte value
    record = replace(as4_message(instance_id="sbdh-1"), request=RawHTTPMessage(HEADERS, big))
    signal = AS4Signal(SignalKind.RECEIPT, RECEIPT, at(1), receipt_summary={"ref": record.message_id})
    with store.unit_of_work() as uow:
        uow.messages.add(record)
        uow.messages.record_signal(record.message_id, Direction.OUT, signal)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        got = uow.messages.get(record.message_id, Direction.OUT)
    assert got is not None
    assert got.request.body == big
    assert got.request.headers == HEADERS  # order and repeated fields kept
    assert got.signal == signal
    assert got.signal.raw.body == RECEIPT.body


def test_inbound_duplicate_message_id_is_detected(store: SQLDocumentStore) -> None:
    original = as4_message(direction=Direction.IN, message_id="dup@peer")
    answered = AS4Signal(SignalKind.RECEIPT, RECEIPT, at(1))
    with store.unit_of_work() as uow:
        uow.messages.add(original)
        uow.commit()
    with store.unit_of_work() as uow:
        uow.messages.record_signal("dup@peer", Direction.IN, answered)
        uow.commit()
    with store.unit_of_work() as uow:
        with pytest.raises(DuplicateMessage):
            uow.messages.add(as4_message(direction=Direction.IN, message_id="dup@peer", created_at=at(5)))
        # Same unit of work, still usable: answer with the stored original receipt.
        stored = uow.messages.get("dup@peer", Direction.IN)
        assert stored is not None
        assert stored.signal == answered
        assert stored.created_at == T0


def test_same_message_id_may_exist_once_per_direction(store: SQLDocumentStore) -> None:
    # The demonstration sends to itself: the message we sent is also the message we receive.
    with store.unit_of_work() as uow:
        uow.messages.add(as4_message(direction=Direction.OUT, message_id="self@gw"))
        uow.messages.add(as4_message(direction=Direction.IN, message_id="self@gw"))
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.messages.get("self@gw", Direction.OUT) is not None
        assert uow.messages.get("self@gw", Direction.IN) is not None
        assert uow.messages.get("other@gw", Direction.IN) is None


def test_inbound_message_is_durable_once_committed(store: SQLDocumentStore, database_url: str) -> None:
    record = as4_message(direction=Direction.IN)
    with store.unit_of_work() as uow:
        uow.messages.add(record)
        uow.commit()
    # Another engine (another process after a crash) reads it back.
    other = make_engine(database_url)
    try:
        with SQLDocumentStore(other).unit_of_work(read_only=True) as uow:
            assert uow.messages.get(record.message_id, Direction.IN) == record
    finally:
        other.dispose()


def test_lookup_by_sbdh_instance_and_by_document(store: SQLDocumentStore) -> None:
    document = outbound()
    first = as4_message(document_id=document.id, instance_id="inst-1", created_at=T0)
    second = as4_message(document_id=document.id, instance_id="inst-1", created_at=at(1))
    with store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        uow.messages.add(second)
        uow.messages.add(first)
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.messages.find_by_instance_id("inst-1", Direction.OUT) == first
        assert uow.messages.find_by_instance_id("inst-1", Direction.IN) is None
        assert uow.messages.for_document(document.id) == [first, second]
        # The earliest without its bytes, and whether a MessageId is one of the instance's, in one direction
        # (a received message is checked against it).
        earliest = InstanceMessage(first.message_id, document.id)
        for message_id, resent in ((first.message_id, True), (second.message_id, True), ("other", False)):
            check = uow.messages.instance_check("inst-1", message_id, Direction.OUT)
            assert check == InstanceCheck(earliest, resent=resent)
        assert uow.messages.instance_check("inst-1", first.message_id, Direction.IN) == InstanceCheck(
            None, False
        )
        assert uow.messages.instance_check("inst-2", first.message_id, Direction.OUT) == InstanceCheck(
            None, False
        )


def test_the_instance_check_reads_two_rows_at_most_however_often_an_instance_is_reused(
    store: SQLDocumentStore,
) -> None:
    """A sender may reuse one SBDH InstanceIdentifier for thousands of messages: each later message is
    checked with bounded reads (its earliest message, and a primary-key probe), never all of them."""
    messages = [
        as4_message(direction=Direction.IN, message_id=f"m{n}@peer", instance_id="reused", created_at=at(n))
        for n in range(30)
    ]
    other = as4_message(direction=Direction.IN, message_id="elsewhere@peer", instance_id="another")
    with store.unit_of_work() as uow:
        for message in (*messages, other):
            uow.messages.add(message)
        uow.commit()
    selects: list[tuple[str, Any]] = []

    def count(conn: object, cursor: object, statement: str, parameters: Any, *args: object) -> None:
        # PostgreSQL's advisory lock on the instance reads no table (and would wait for this unit of work)
        if statement.lstrip().upper().startswith("SELECT") and "pg_advisory_xact_lock" not in statement:
            selects.append((statement, parameters))

    def rows() -> int:  # the rows the captured statements read (run again: the rows are not peeked at)
        captured = list(selects)
        with store.engine.connect() as connection:
            return sum(len(connection.exec_driver_sql(sql, args).all()) for sql, args in captured)

    earliest = InstanceMessage("m0@peer", messages[0].document_id)
    event.listen(store.engine, "after_cursor_execute", count)
    try:
        with store.unit_of_work(read_only=True) as uow:
            for message_id, resent in (("m17@peer", True), ("m0@peer", True), ("new@peer", False)):
                selects.clear()
                check = uow.messages.instance_check("reused", message_id, Direction.IN)
                assert check == InstanceCheck(earliest, resent=resent)
                assert selects
                assert rows() <= 2
            # A MessageId stored under another instance is not this instance's (the insert refuses it).
            assert uow.messages.instance_check("reused", "elsewhere@peer", Direction.IN).resent is False
    finally:
        event.remove(store.engine, "after_cursor_execute", count)


def test_the_earliest_message_of_an_instance_is_read_from_the_index_without_sorting_the_rows(
    store: SQLDocumentStore,
) -> None:
    """SQLite stores created_at after the message's bytes: sorting the instance's rows by it read each
    candidate's whole body (20 MB each) inside the write lock. The index gives the order (migration 0014)."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("the plan is SQLite's; PostgreSQL keeps large values out of line")
    with store.unit_of_work() as uow:
        for n in range(3):
            uow.messages.add(
                as4_message(
                    direction=Direction.IN, message_id=f"m{n}@peer", instance_id="i", created_at=at(n)
                )
            )
        uow.commit()
    selects: list[tuple[str, Any]] = []

    def capture(conn: object, cursor: object, statement: str, parameters: Any, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append((statement, parameters))

    event.listen(store.engine, "after_cursor_execute", capture)
    try:
        with store.unit_of_work(read_only=True) as uow:
            assert uow.messages.instance_check("i", "new@peer", Direction.IN).earliest is not None
    finally:
        event.remove(store.engine, "after_cursor_execute", capture)
    assert len(selects) == 2  # the earliest, then this MessageId within the instance (its primary key)
    with store.engine.connect() as connection:
        plans = [
            " | ".join(str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", args))
            for sql, args in selects
        ]
    assert "ix_as4_messages_instance_order" in plans[0], plans[0]
    assert all("TEMP B-TREE" not in plan and "USING" in plan for plan in plans), plans


def test_summaries_list_a_documents_messages_in_one_direction_with_their_signals_and_no_bytes(
    store: SQLDocumentStore,
) -> None:
    # What the status views list and poll: a document's stored messages without their bytes.
    document = outbound()
    first = as4_message(document_id=document.id, message_id="first@gw", created_at=T0)
    resent = as4_message(document_id=document.id, message_id="resent@gw", created_at=at(2))
    received = as4_message(
        document_id=document.id, message_id="in@peer", direction=Direction.IN, created_at=at(3)
    )
    error = AS4Signal(SignalKind.ERROR, HTTP_500_ERROR, at(1), ebms_error_code="EBMS:0004")
    receipt = AS4Signal(SignalKind.RECEIPT, RECEIPT, at(4), receipt_summary={"ref": "resent@gw"})
    with store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        uow.messages.add(resent)
        uow.messages.add(first)
        uow.messages.add(received)
        uow.messages.record_signal(first.message_id, Direction.OUT, error)
        uow.messages.record_signal(received.message_id, Direction.IN, receipt)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        sent = uow.messages.summaries_for_document(document.id, Direction.OUT)
        got = uow.messages.summaries_for_document(document.id, Direction.IN)
        assert uow.messages.summaries_for_document("no-such-document", Direction.OUT) == []
    assert sent == [
        AS4MessageSummary("first@gw", Direction.OUT, T0, error),
        AS4MessageSummary("resent@gw", Direction.OUT, at(2), None),  # not answered yet
    ]
    assert got == [AS4MessageSummary("in@peer", Direction.IN, at(3), receipt)]


def test_receipt_summaries_of_an_instance_and_a_messages_signal_summary_are_read_without_bytes(
    store: SQLDocumentStore,
) -> None:
    # What an MLS is checked against: the receipts of our messages carrying the instance it reports on,
    # and the summary of the receipt we gave for the message carrying the MLS.
    document = outbound()
    signed = as4_message(document_id=document.id, instance_id="inst-1", message_id="a@gw")
    errored = as4_message(document_id=document.id, instance_id="inst-1", message_id="b@gw")
    other_instance = as4_message(document_id=document.id, instance_id="inst-2", message_id="c@gw")
    unanswered = as4_message(document_id=document.id, instance_id="inst-1", message_id="d@gw")
    mls = as4_message(direction=Direction.IN, message_id="mls@peer")
    bare = as4_message(direction=Direction.IN, message_id="bare@peer")
    with store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        for record in (signed, errored, other_instance, unanswered, mls, bare):
            uow.messages.add(record)
        for message_id, summary in (("a@gw", {"signer": "POP000002"}), ("c@gw", {"signer": "POP000009"})):
            receipt = AS4Signal(SignalKind.RECEIPT, RECEIPT, at(1), receipt_summary=summary)
            uow.messages.record_signal(message_id, Direction.OUT, receipt)
        error = AS4Signal(SignalKind.ERROR, RECEIPT, at(1), receipt_summary={"signer": "POP000003"})
        uow.messages.record_signal("b@gw", Direction.OUT, error)
        ours = AS4Signal(SignalKind.RECEIPT, RECEIPT, at(2), receipt_summary={"fromParty": "POP000002"})
        uow.messages.record_signal("mls@peer", Direction.IN, ours)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.messages.receipt_summaries(document.id, "inst-1", Direction.OUT) == [
            {"signer": "POP000002"}
        ]
        assert uow.messages.receipt_summaries(document.id, "inst-1", Direction.IN) == []
        assert uow.messages.receipt_summaries("no-such-document", "inst-1", Direction.OUT) == []
        assert uow.messages.signal_summary("mls@peer", Direction.IN) == {"fromParty": "POP000002"}
        assert uow.messages.signal_summary("mls@peer", Direction.OUT) is None
        assert uow.messages.signal_summary("bare@peer", Direction.IN) is None  # not answered
        assert uow.messages.signal_summary("nothing@peer", Direction.IN) is None


def test_error_signal_replaces_nothing_but_the_signal(store: SQLDocumentStore) -> None:
    record = as4_message()
    error = AS4Signal(SignalKind.ERROR, RECEIPT, at(1), ebms_error_code="EBMS:0004")
    with store.unit_of_work() as uow:
        uow.messages.add(record)
        uow.messages.record_signal(record.message_id, Direction.OUT, error)
        with pytest.raises(StoreError):
            uow.messages.record_signal("unknown", Direction.OUT, error)
        uow.commit()
    with store.unit_of_work() as uow:
        got = uow.messages.get(record.message_id, Direction.OUT)
    assert got is not None
    assert got.signal is not None
    assert got.signal.ebms_error_code == "EBMS:0004"
    assert got.request.body == MIME_BODY


# -- signal history ----------------------------------------------------------------------------------------

BAD_RECEIPT = RawHTTPMessage(
    (("Content-Type", "application/soap+xml"), ("X-Peer", "a"), ("X-Peer", "b")),
    b"<S12:Envelope>receipt with a wrong digest</S12:Envelope>\x00\xff",
)
HTTP_500_ERROR = RawHTTPMessage(
    (("Content-Type", "application/soap+xml"),), b"<S12:Envelope>eb:Error EBMS:0004</S12:Envelope>"
)


def test_every_recorded_signal_is_kept_in_order_and_the_latest_stays_on_the_message(
    store: SQLDocumentStore,
) -> None:
    record = as4_message()
    other = as4_message()
    invalid = AS4Signal(SignalKind.RECEIPT, BAD_RECEIPT, at(1), receipt_summary={"valid": False})
    error = AS4Signal(SignalKind.ERROR, HTTP_500_ERROR, at(2), ebms_error_code="EBMS:0004")
    receipt = AS4Signal(SignalKind.RECEIPT, RECEIPT, at(3), receipt_summary={"valid": True})
    with store.unit_of_work() as uow:
        uow.messages.add(record)
        uow.messages.add(other)
        uow.messages.record_signal(record.message_id, Direction.OUT, invalid)
        uow.commit()
    with store.unit_of_work() as uow:
        uow.messages.record_signal(record.message_id, Direction.OUT, error)
        uow.messages.record_signal(other.message_id, Direction.OUT, receipt)
        uow.commit()
    with store.unit_of_work() as uow:
        uow.messages.record_signal(record.message_id, Direction.OUT, receipt)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        history = uow.messages.signals(record.message_id, Direction.OUT)
        latest = uow.messages.get(record.message_id, Direction.OUT)
        assert uow.messages.signals(other.message_id, Direction.OUT) == [receipt]
        assert uow.messages.signals(record.message_id, Direction.IN) == []
        assert uow.messages.signals("unknown", Direction.OUT) == []
    assert history == [invalid, error, receipt]
    assert history[0].raw.body == BAD_RECEIPT.body  # exact bytes of the refused answer survive the retry
    assert history[0].raw.headers == BAD_RECEIPT.headers
    assert latest is not None
    assert latest.signal == receipt == history[-1]


def test_a_signal_stored_with_the_message_starts_its_history(store: SQLDocumentStore) -> None:
    answered = AS4Signal(SignalKind.RECEIPT, RECEIPT, at(1), receipt_summary={"ref": "in@peer"})
    record = replace(as4_message(direction=Direction.IN, message_id="in@peer"), signal=answered)
    with store.unit_of_work() as uow:
        uow.messages.add(record)
        uow.commit()
    with store.unit_of_work() as uow:
        # A refused duplicate leaves no history row behind (its savepoint is rolled back; on SQLite,
        # where there is none, the refused statement is undone and the history insert never runs).
        with pytest.raises(DuplicateMessage):
            uow.messages.add(replace(record, signal=replace(answered, at=at(9))))
        assert uow.messages.signals("in@peer", Direction.IN) == [answered]
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.messages.signals("in@peer", Direction.IN) == [answered]


def test_signal_for_an_unknown_message_adds_no_history(store: SQLDocumentStore) -> None:
    with store.unit_of_work() as uow:
        with pytest.raises(StoreError):
            uow.messages.record_signal(
                "unknown", Direction.OUT, AS4Signal(SignalKind.RECEIPT, RECEIPT, at(1))
            )
        assert uow.messages.signals("unknown", Direction.OUT) == []


def test_history_rows_carry_the_delivery_attempt(store: SQLDocumentStore) -> None:
    document = outbound()
    record = as4_message(document_id=document.id)
    inbound_record = as4_message(direction=Direction.IN)
    with store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        uow.messages.add(record)
        uow.messages.add(inbound_record)
        uow.outbound.transition(document.id, DeliveryEvent.SEND_STARTED, at=at(1))
        uow.messages.record_signal(
            record.message_id, Direction.OUT, AS4Signal(SignalKind.ERROR, RECEIPT, at(2))
        )
        uow.outbound.transition(document.id, DeliveryEvent.RETRYABLE_FAILURE, at=at(2))
        uow.outbound.transition(document.id, DeliveryEvent.SEND_STARTED, at=at(3))
        uow.messages.record_signal(
            record.message_id, Direction.OUT, AS4Signal(SignalKind.RECEIPT, RECEIPT, at(4))
        )
        uow.messages.record_signal(
            inbound_record.message_id, Direction.IN, AS4Signal(SignalKind.RECEIPT, RECEIPT, at(5))
        )
        uow.commit()
    s = as4_signals
    with store.engine.connect() as connection:
        rows = connection.execute(select(s.c.message_id, s.c.kind, s.c.attempt).order_by(s.c.at)).all()
    assert [tuple(row) for row in rows] == [
        (record.message_id, "error", 1),
        (record.message_id, "receipt", 2),
        (inbound_record.message_id, "receipt", None),
    ]


def test_sent_facts_give_the_message_time_and_the_stored_buyer_country_of_an_outgoing_message_only(
    store: SQLDocumentStore,
) -> None:
    # What a delivered transmission's reporting record reads (services/delivery_records.count_delivered):
    # the buyer country stored at submit, and the UBL only for a document stored without it (before 0012).
    counted, legacy = outbound(), outbound()
    body = UBL.replace(b"</Invoice>", b"<!-- this one -->\n</Invoice>")
    sent = as4_message(document_id=counted.id, created_at=at(3))
    sent_legacy = as4_message(message_id=f"old-{uuid.uuid4()}@x", document_id=legacy.id, created_at=at(4))
    received = as4_message(direction=Direction.IN, message_id=f"in-{uuid.uuid4()}@x", document_id=None)
    with store.unit_of_work() as uow:
        uow.outbound.add(counted, replace(content(body), buyer_country="NL"))
        uow.outbound.add(legacy, content(body))
        uow.messages.add(sent)
        uow.messages.add(sent_legacy)
        uow.messages.add(received)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.reporting.sent_facts(sent.message_id) == SentFacts(at(3), "NL", None)
        assert uow.reporting.sent_facts(sent_legacy.message_id) == SentFacts(at(4), None, body)
        assert uow.reporting.sent_facts(received.message_id) is None
        assert uow.reporting.sent_facts("unknown@x") is None


def test_an_attempt_given_by_the_caller_is_recorded_and_an_unknown_message_is_still_refused(
    store: SQLDocumentStore,
) -> None:
    """The delivery worker passes the attempt it read with the document (no second read): the history row
    carries it, and an unknown message is refused as without it, with no history row."""
    document = outbound()
    record = as4_message(document_id=document.id)
    receipt = AS4Signal(SignalKind.RECEIPT, RECEIPT, at(2))
    with store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        uow.messages.add(record)
        uow.messages.record_signal(record.message_id, Direction.OUT, receipt, attempt=3)
        with pytest.raises(StoreError):
            uow.messages.record_signal("unknown", Direction.OUT, receipt, attempt=1)
        uow.commit()
    s = as4_signals
    with store.engine.connect() as connection:
        rows = connection.execute(select(s.c.message_id, s.c.attempt)).all()
    assert [tuple(row) for row in rows] == [(record.message_id, 3)]
    with store.unit_of_work(read_only=True) as uow:
        got = uow.messages.get(record.message_id, Direction.OUT)
    assert got is not None
    assert got.signal is not None
    assert got.signal.kind is SignalKind.RECEIPT


@pytest.mark.parametrize("size", [len(MIME_BODY), 1024 * 1024 + 17], ids=["small", "streamed"])
def test_a_refused_duplicate_keeps_the_writes_before_and_after_it(store: SQLDocumentStore, size: int) -> None:
    """Without a savepoint on SQLite, the refused insert must undo only itself: what the unit of work wrote
    before it and writes after it is committed (a large body takes the zeroblob path, streamed)."""
    body = (MIME_BODY * (size // len(MIME_BODY) + 1))[:size]
    answered = AS4Signal(SignalKind.RECEIPT, RECEIPT, at(1), receipt_summary={"ref": "dup@peer"})
    first = replace(as4_message(direction=Direction.IN, message_id="dup@peer"), signal=answered)
    first = replace(first, request=RawHTTPMessage(HEADERS, body))
    with store.unit_of_work() as uow:
        uow.messages.add(first)
        uow.commit()
    before = replace(as4_message(direction=Direction.IN, message_id="before@peer"), signal=answered)
    after = as4_message(direction=Direction.IN, message_id="after@peer")
    with store.unit_of_work() as uow:
        uow.messages.add(before)
        with pytest.raises(DuplicateMessage):
            uow.messages.add(replace(first, signal=replace(answered, at=at(9))))
        with pytest.raises(DuplicateMessage):  # refused twice in one unit of work: still usable
            uow.messages.add(first)
        uow.messages.add(after)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.messages.get("before@peer", Direction.IN) is not None
        assert uow.messages.signals("before@peer", Direction.IN) == [answered]
        assert uow.messages.get("after@peer", Direction.IN) is not None
        stored = uow.messages.get("dup@peer", Direction.IN)
        assert stored is not None
        assert stored.request.body == body
        assert uow.messages.signals("dup@peer", Direction.IN) == [answered]


@pytest.mark.postgres
def test_a_refused_duplicate_writes_no_second_body_on_postgresql(store: SQLDocumentStore) -> None:
    """A sender resending a large message it got no receipt for: refused without its body being written
    (a refused plain INSERT puts the whole body in TOAST and the WAL before the key refuses it)."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL writes the tuple before its unique check; SQLite checks first")
    body = random.Random(3).randbytes(4 * 1024 * 1024)  # incompressible
    first = replace(as4_message(direction=Direction.IN), request=RawHTTPMessage(HEADERS, body))
    with store.unit_of_work() as uow:
        uow.messages.add(first)
        uow.commit()

    def size() -> int:
        with store.engine.connect() as connection:
            return int(
                connection.exec_driver_sql("SELECT pg_total_relation_size('as4_messages')").scalar_one()
            )

    before = size()
    with store.unit_of_work() as uow:
        with pytest.raises(DuplicateMessage):
            uow.messages.add(first)
        uow.commit()
    assert size() - before < len(body) // 4
    with store.unit_of_work(read_only=True) as uow:
        stored = uow.messages.get(first.message_id, Direction.IN)
    assert stored is not None
    assert stored.request.body == body


def test_a_received_message_is_two_statements_and_a_duplicate_one_leaving_the_transaction_usable(
    store: SQLDocumentStore,
) -> None:
    """The message row and its signal's history row: two statements, no savepoint (PostgreSQL's
    ON CONFLICT DO NOTHING refuses a stored MessageId without failing; SQLite undoes only the refused
    statement). A duplicate is its one refused statement: the unit of work goes on (it reads the original,
    writes, commits) and nothing of the duplicate is written."""
    answered = AS4Signal(SignalKind.RECEIPT, RECEIPT, at(1))
    first = replace(as4_message(direction=Direction.IN, message_id="once@peer"), signal=answered)
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        with store.unit_of_work() as uow:
            statements.clear()
            uow.messages.add(first)
            added = list(statements)
            uow.commit()
        with store.unit_of_work() as uow:
            statements.clear()
            with pytest.raises(DuplicateMessage):
                uow.messages.add(replace(first, signal=replace(answered, at=at(9)), created_at=at(5)))
            refused = list(statements)
            stored = uow.messages.get("once@peer", Direction.IN)  # the transaction is still usable
            uow.messages.add(as4_message(direction=Direction.IN, message_id="next@peer"))
            uow.commit()
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert added == ["INSERT", "INSERT"]
    assert refused == ["INSERT"]
    assert stored is not None
    assert stored.created_at == T0
    with store.unit_of_work(read_only=True) as uow:
        assert uow.messages.signals("once@peer", Direction.IN) == [answered]  # no second history row
        assert uow.messages.get("next@peer", Direction.IN) is not None
    with store.engine.connect() as connection:
        rows = connection.execute(select(as4_signals.c.message_id)).all()
    assert [row.message_id for row in rows] == ["once@peer"]
