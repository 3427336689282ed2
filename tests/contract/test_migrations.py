"""Migrations: ``upgrade_database(url)`` builds the schema from empty on both databases, and the migrated
schema equals the table metadata (Alembic autogenerate finds no difference)."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table, func, insert, inspect, select, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import IntegrityError
from store_builders import received_expense
from store_databases import BACKENDS, PostgresServer

from gateway.model.document_number import NumberSearch
from gateway.model.expense import ExpenseStatus
from gateway.model.identifiers import BIS_CREDIT_NOTE, BIS_INVOICE
from gateway.model.message import VALIDATION_PENDING, Direction, InboundStatus, RawHTTPMessage, SignalKind
from gateway.services import IdempotencyRecord
from gateway.services.number_backfill import BackfillOutcome, backfill_numbers
from gateway.services.ports import InboundQuery, SentFacts
from gateway.store import (
    SQLDocumentStore,
    current_revision,
    head_revision,
    make_engine,
    metadata,
    upgrade_database,
)
from gateway.store.migrate import alembic_config, made_on, shipped_head
from gateway.store.tables import as4_messages, delivery_jobs, outbound_documents, outbound_events


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | URL]:
    """A brand-new empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sub' / 'fresh.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


def outbound_row(at: datetime, **values: object) -> dict[str, object]:
    """A delivered invoice's outbound_documents row, with the columns every revision since 0003 has."""
    return {
        "kind": "invoice",
        "seller_id": "0208:0739484052",
        "sender_id": "0208:0739484052",
        "receiver_id": "0208:0123456749",
        "receiver_key": "0208:0123456749",
        "document_type_id": "t",
        "process_id": "p",
        "ubl": b"<Invoice/>",
        "status": "delivered",
        "attempts": 1,
        "created_at": at,
        "updated_at": at,
        **values,
    }


def test_upgrade_from_empty_matches_the_metadata(empty_database: str | URL) -> None:
    engine = make_engine(empty_database)
    try:
        assert current_revision(engine) is None
        upgrade_database(empty_database)
        upgrade_database(empty_database)  # idempotent
        assert current_revision(engine) == head_revision() is not None
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": made_on(connection.dialect.name)}
            )
            differences = compare_metadata(context, metadata)
            tables = set(inspect(connection).get_table_names())
        assert differences == []
        assert tables == {table.name for table in metadata.sorted_tables} | {"alembic_version"}
    finally:
        engine.dispose()


def test_the_head_read_from_the_migration_files_is_alembics_head() -> None:
    assert shipped_head() == head_revision() is not None


_UPGRADE_AND_REPORT_ALEMBIC = (
    "import sys; from gateway.store import upgrade_database; upgrade_database(sys.argv[1]);"
    " print('alembic' in sys.modules)"
)


def test_a_database_at_the_head_is_recognised_without_importing_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"

    def upgrade_in_a_fresh_process() -> str:
        run = subprocess.run(
            [sys.executable, "-c", _UPGRADE_AND_REPORT_ALEMBIC, url], capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    upgrade_database(url, "0009")
    assert upgrade_in_a_fresh_process() == "True"  # behind: Alembic runs the missing revision
    assert upgrade_in_a_fresh_process() == "False"  # at the head: Alembic (≈ 12 MiB) stays unimported
    engine = make_engine(url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_sqlite_connections_use_wal_foreign_keys_and_full_sync(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pragma.db'}"
    upgrade_database(url)
    engine = make_engine(url, busy_timeout=2.5)
    try:
        with engine.connect() as connection:
            pragmas = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    finally:
        engine.dispose()
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 2500, "synchronous": 2}


def test_signal_history_revision_carries_the_stored_latest_signals_over(empty_database: str | URL) -> None:
    upgrade_database(empty_database, revision="0002")
    engine = make_engine(empty_database)
    try:
        at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        common = {"direction": "out", "request_headers": [], "request_body": b"\x00req", "created_at": at}
        with engine.begin() as connection:
            # as4_messages is unchanged since 0001, so its table definition writes a 0002 database too.
            connection.execute(
                insert(as4_messages),
                {
                    **common,
                    "message_id": "answered@gw",
                    "signal_kind": "error",
                    "signal_headers": [["Content-Type", "text/xml"]],
                    "signal_body": b"\xffsig",
                    "signal_at": at,
                    "ebms_error_code": "EBMS:0004",
                    "receipt_summary": {"valid": False},
                },
            )
            connection.execute(insert(as4_messages), {**common, "message_id": "silent@gw"})
        upgrade_database(empty_database)
        with SQLDocumentStore(engine).unit_of_work(read_only=True) as uow:
            carried = uow.messages.signals("answered@gw", Direction.OUT)
            assert uow.messages.signals("silent@gw", Direction.OUT) == []
    finally:
        engine.dispose()
    assert [(s.kind, s.raw, s.ebms_error_code, s.receipt_summary) for s in carried] == [
        (
            SignalKind.ERROR,
            RawHTTPMessage((("Content-Type", "text/xml"),), b"\xffsig"),
            "EBMS:0004",
            {"valid": False},
        )
    ]
    assert carried[0].at == at


def test_webhook_target_revision_drops_the_stored_urls(empty_database: str | URL) -> None:
    upgrade_database(empty_database, revision="0003")
    engine = make_engine(empty_database)
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    token_url = "https://erp.example.be/hooks?token=tok-0123456789"
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO webhook_outbox (id, url, payload, created_at, due_at, attempts)"
                    " VALUES ('evt-1', :url, '{}', :at, :at, 0)"
                ),
                {"url": token_url, "at": at},
            )
        upgrade_database(empty_database)
        with engine.connect() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("webhook_outbox")}
            rows = connection.execute(text("SELECT * FROM webhook_outbox")).all()
        with SQLDocumentStore(engine).unit_of_work(read_only=True) as uow:
            entry = uow.outbox.get("evt-1")
    finally:
        engine.dispose()
    assert "url" not in columns
    assert all(token_url not in repr(tuple(row)) for row in rows)
    assert entry is not None
    assert entry.message.target == "default"  # every stored entry was for the one configured URL


def test_responses_revision_keeps_timelines_and_jobs_and_admits_the_new_values(
    empty_database: str | URL,
) -> None:
    # The SQLite rebuild of outbound_documents must not cascade-delete its children (foreign_keys=ON).
    upgrade_database(empty_database, revision="0003")
    engine = make_engine(empty_database)
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    row = outbound_row(at)
    try:
        with engine.begin() as connection:
            connection.execute(insert(outbound_documents), {**row, "id": "d1", "document_number": "N1"})
            connection.execute(
                insert(outbound_events),
                {"document_id": "d1", "at": at, "to_status": "accepted", "event": "submitted"},
            )
            connection.execute(
                insert(delivery_jobs), {"document_id": "d1", "due_at": at, "attempts": 1, "created_at": at}
            )
        upgrade_database(empty_database)
        with engine.begin() as connection:
            assert connection.execute(select(func.count()).select_from(outbound_events)).scalar() == 1
            assert connection.execute(select(func.count()).select_from(delivery_jobs)).scalar() == 1
            new = {**row, "id": "d2", "document_number": "N2", "kind": "mls", "status": "confirmed"}
            connection.execute(insert(outbound_documents), new)
    finally:
        engine.dispose()


def test_idempotency_client_revision_keeps_stored_keys_under_the_shared_scope(
    empty_database: str | URL,
) -> None:
    upgrade_database(empty_database, revision="0010")
    engine = make_engine(empty_database)
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO idempotency_keys (key, fingerprint, document_id, response_status,"
                    " response_body, created_at) VALUES ('order-1', 'f', NULL, 422, '{}', :at)"
                ),
                {"at": at},
            )
        upgrade_database(empty_database)
        store = SQLDocumentStore(engine)
        with store.unit_of_work() as uow:
            old = uow.idempotency.get("", "order-1")  # the scope of the keys stored before 0011
            assert uow.idempotency.get("erp", "order-1") is None
            mine = IdempotencyRecord("erp", "order-1", "g", 202, {"id": "d"}, at)
            assert uow.idempotency.claim(mine) == mine  # another client's key, not a conflict
            uow.commit()
    finally:
        engine.dispose()
    assert old is not None
    assert (old.client, old.fingerprint, old.response_status) == ("", "f", 422)


def test_buyer_country_revision_keeps_documents_and_leaves_their_country_to_the_stored_ubl(
    empty_database: str | URL,
) -> None:
    # 0012 adds outbound_documents.buyer_country without rebuilding the table (children survive); a
    # document stored before it has none, so its delivery's reporting record reads the stored UBL.
    upgrade_database(empty_database, revision="0011")
    engine = make_engine(empty_database)
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    ubl = b"<Invoice>old</Invoice>"
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(outbound_documents), outbound_row(at, id="d1", document_number="N1", ubl=ubl)
            )
            connection.execute(
                insert(outbound_events),
                {"document_id": "d1", "at": at, "to_status": "accepted", "event": "submitted"},
            )
            connection.execute(
                insert(as4_messages),
                {
                    "message_id": "m1@x",
                    "direction": Direction.OUT.value,
                    "document_id": "d1",
                    "request_headers": [],
                    "request_body": b"",
                    "created_at": at,
                },
            )
        upgrade_database(empty_database)
        store = SQLDocumentStore(engine)
        with store.unit_of_work(read_only=True) as uow:
            facts = uow.reporting.sent_facts("m1@x")
        with engine.begin() as connection:
            assert connection.execute(select(func.count()).select_from(outbound_events)).scalar() == 1
            assert connection.execute(select(outbound_documents.c.buyer_country)).scalar_one() is None
    finally:
        engine.dispose()
    assert facts == SentFacts(at, None, ubl)


def test_inbound_bodies_revision_moves_each_body_to_its_own_row_and_back(empty_database: str | URL) -> None:
    # 0013 moves inbound_documents.body to inbound_document_bodies (a status update no longer rewrites
    # the bytes); the rows and what references them stay, and the downgrade puts every body back.
    upgrade_database(empty_database, revision="0012")
    engine = make_engine(empty_database)
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    bodies = {"i1": b"\x00<Invoice>one</Invoice>", "i2": b"<Invoice>two</Invoice>\xff" * 1000}
    try:
        with engine.begin() as connection:
            at_0012 = Table("inbound_documents", MetaData(), autoload_with=connection)
            for number, (document_id, body) in enumerate(bodies.items()):
                connection.execute(
                    insert(at_0012),
                    {
                        "id": document_id,
                        "as4_message_id": f"m{number}@x",
                        "sender_id": "0208:0739484052",
                        "sender_key": "0208:0739484052",
                        "receiver_id": "0208:0123456749",
                        "receiver_key": "0208:0123456749",
                        "document_type_id": "t",
                        "process_id": "p",
                        "body": body,
                        "validation_report": {"valid": number == 0},
                        "status": "valid" if number == 0 else "received",
                        "received_at": at,
                        "updated_at": at,
                    },
                )
            # A row referencing a received document (ON DELETE CASCADE): a migration rebuilding
            # inbound_documents (DROP TABLE with foreign_keys=ON) would delete it silently.
            at_0012_outbound = Table("outbound_documents", MetaData(), autoload_with=connection)
            connection.execute(insert(at_0012_outbound), outbound_row(at, id="d1", document_number="N1"))
            connection.execute(
                text(
                    "INSERT INTO pending_answers (inbound_document_id, outbound_document_id, held_at)"
                    " VALUES ('i1', 'd1', :at)"
                ),
                {"at": at},
            )
        upgrade_database(empty_database)
        store = SQLDocumentStore(engine)
        with store.unit_of_work(read_only=True) as uow:
            moved = {document_id: uow.inbound.get_content(document_id) for document_id in bodies}
            statuses = {document_id: uow.inbound.get(document_id) for document_id in bodies}
        with engine.begin() as connection:
            children_upgraded = connection.execute(text("SELECT count(*) FROM pending_answers")).scalar()
            command.downgrade(alembic_config(connection), "0012")
        with engine.begin() as connection:
            back = dict(
                (id_, body)
                for id_, body in connection.execute(text("SELECT id, body FROM inbound_documents"))
            )
            assert not inspect(connection).has_table("inbound_document_bodies")
            children_downgraded = connection.execute(text("SELECT count(*) FROM pending_answers")).scalar()
    finally:
        engine.dispose()
    assert {key: (content.body, content.validation_report) for key, content in moved.items() if content} == {
        "i1": (bodies["i1"], {"valid": True}),
        "i2": (bodies["i2"], {"valid": False}),
    }
    assert [document.status.value for document in statuses.values() if document] == ["valid", "received"]
    assert {key: bytes(value) for key, value in back.items()} == bodies
    assert (children_upgraded, children_downgraded) == (1, 1)


def test_document_number_revision_adds_the_columns_and_the_backfill_reads_the_stored_documents(
    empty_database: str | URL,
) -> None:
    # 0015 adds inbound_documents.document_number (and its search key) without reading any body and
    # without rebuilding the table (the rows referencing it stay); ``backfill_numbers`` then reads them.
    upgrade_database(empty_database, revision="0014")
    engine = make_engine(empty_database)
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    ar = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"
    inv = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
    cbc = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
    invoice_type = f"{inv}::Invoice##urn:cen.eu:en16931:2017::2.1"
    documents = {  # id: (document type, status, status reason, body)
        "i1": (
            invoice_type,
            "valid",
            None,
            f'<Invoice xmlns="{inv}" xmlns:cbc="{cbc}"><cbc:ID> INV-1 </cbc:ID></Invoice>',
        ),
        "i2": (
            invoice_type,
            "invalid",
            "BR-CO-15",
            f'<Invoice xmlns="{inv}" xmlns:cbc="{cbc}"><cbc:ID>inv-2</cbc:ID><x/></Invoice>',
        ),
        "i3": (
            f"{ar}::ApplicationResponse##urn:peppol:edec:mls:1.0::2.1",
            "valid",
            None,
            f'<ApplicationResponse xmlns="{ar}" xmlns:cbc="{cbc}">'
            "<cbc:ID>MLS-3</cbc:ID></ApplicationResponse>",
        ),
        "i4": (invoice_type, "invalid", "XML", "<Invoice><unclosed></Invoice>"),
        "i5": (
            "urn:oasis:names:specification:ubl:schema:xsd:Order-2::Order##urn:fdc:peppol.eu:poacc:trns:order:3::2.1",
            "received",
            "no rule set",
            f'<Order xmlns:cbc="{cbc}"><cbc:ID>ORD-5</cbc:ID></Order>',
        ),
        "i6": (
            invoice_type,
            "received",
            VALIDATION_PENDING,
            f'<Invoice xmlns="{inv}" xmlns:cbc="{cbc}"><cbc:ID>INV-6</cbc:ID></Invoice>',
        ),
        "i7": (
            invoice_type,
            "valid",
            None,
            f'<Invoice xmlns="{inv}" xmlns:cbc="{cbc}"><cbc:ID>INV-7</cbc:ID></Invoice>',
        ),
    }
    try:
        with engine.begin() as connection:
            for number, (document_id, (type_id, status, reason, body)) in enumerate(documents.items()):
                connection.execute(
                    text(
                        "INSERT INTO inbound_documents (id, as4_message_id, sender_id, sender_key,"
                        " receiver_id, receiver_key, document_type_id, process_id, status, status_reason,"
                        " received_at,"
                        " updated_at) VALUES (:id, :m, '0208:0739484052', '0208:0739484052',"
                        " '0208:0123456749', '0208:0123456749', :t, 'p', :s, :r, :at, :at)"
                    ),
                    {
                        "id": document_id,
                        "m": f"m{number}@x",
                        "t": type_id,
                        "s": status,
                        "r": reason,
                        "at": at,
                    },
                )
                connection.execute(
                    text("INSERT INTO inbound_document_bodies (document_id, body) VALUES (:id, :body)"),
                    {"id": document_id, "body": body.encode()},
                )
            at_0014_outbound = Table("outbound_documents", MetaData(), autoload_with=connection)
            connection.execute(insert(at_0014_outbound), outbound_row(at, id="d1", document_number="N1"))
            connection.execute(
                text(
                    "INSERT INTO pending_answers (inbound_document_id, outbound_document_id, held_at)"
                    " VALUES ('i1', 'd1', :at)"
                ),
                {"at": at},
            )
        upgrade_database(empty_database)
        store = SQLDocumentStore(engine)
        with store.unit_of_work(read_only=True) as uow:
            before = {key: uow.inbound.get(key) for key in documents}
        with store.unit_of_work() as uow:  # a verdict recorded meanwhile brings its own number
            uow.inbound.record_validation(
                "i7", status=InboundStatus.VALID, report=None, reason=None, at=at, number="Recorded-7"
            )
            uow.commit()
        outcome = backfill_numbers(store, batch=2)
        again = backfill_numbers(store, batch=2)
        with store.unit_of_work(read_only=True) as uow:
            after = {key: document.document_number for key in documents if (document := uow.inbound.get(key))}
            found = [d.id for d in uow.inbound.search(InboundQuery(number=NumberSearch.parse("inv-1"))).items]
        with engine.begin() as connection:
            children = connection.execute(text("SELECT count(*) FROM pending_answers")).scalar()
            command.downgrade(alembic_config(connection), "0014")
        with engine.begin() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("inbound_documents")}
            rows = connection.execute(text("SELECT count(*) FROM inbound_documents")).scalar()
    finally:
        engine.dispose()
    assert all(document is not None and document.document_number is None for document in before.values())
    assert after == {
        "i1": "INV-1",
        "i2": "inv-2",  # invalid but well-formed
        "i3": "MLS-3",  # an MLS's own ID
        "i4": None,  # not well-formed
        "i5": None,  # a type the receiver does not number
        "i6": None,  # still awaiting its verdict, which brings the number
        "i7": "Recorded-7",  # recorded with its verdict: kept
    }
    assert outcome == BackfillOutcome(read=4, filled=3, without=1)
    assert again == BackfillOutcome(read=1, filled=0, without=1)  # only the one with nothing to read
    assert found == ["i1"]
    assert children == 1
    assert "document_number" not in columns
    assert "document_number_key" not in columns
    assert rows == 7


def test_number_per_kind_revision_admits_a_credit_note_numbered_as_an_invoice_and_keeps_the_children(
    empty_database: str | URL,
) -> None:
    # 0016: the unique (seller, number) becomes (seller, document type, number). The SQLite rebuild of
    # outbound_documents must not cascade-delete its children; the downgrade refuses (changing nothing)
    # while an invoice and a credit note share a number, and restores the old constraint once they do not.
    upgrade_database(empty_database, revision="0015")
    engine = make_engine(empty_database)
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    invoice = outbound_row(at, id="d1", document_number="2026-0017", document_type_id=BIS_INVOICE.uri)
    credit_note = {**invoice, "id": "d2", "kind": "ubl", "document_type_id": BIS_CREDIT_NOTE.uri}
    try:
        with engine.begin() as connection:
            at_0015 = Table("outbound_documents", MetaData(), autoload_with=connection)
            connection.execute(insert(at_0015), invoice)
            with pytest.raises(IntegrityError), connection.begin_nested():
                connection.execute(insert(at_0015), credit_note)  # refused before 0016
            connection.execute(
                insert(outbound_events),
                {"document_id": "d1", "at": at, "to_status": "accepted", "event": "submitted"},
            )
            connection.execute(
                insert(delivery_jobs), {"document_id": "d1", "due_at": at, "attempts": 1, "created_at": at}
            )
            connection.execute(
                text(
                    "INSERT INTO inbound_documents (id, as4_message_id, sender_id, sender_key, receiver_id,"
                    " receiver_key, document_type_id, process_id, status, received_at, updated_at)"
                    " VALUES ('i1', 'm1@x', 's', 's', 'r', 'r', 't', 'p', 'valid', :at, :at)"
                ),
                {"at": at},
            )
            connection.execute(
                text(
                    "INSERT INTO pending_answers (inbound_document_id, outbound_document_id, held_at)"
                    " VALUES ('i1', 'd1', :at)"
                ),
                {"at": at},
            )
        upgrade_database(empty_database, revision="0016")
        with engine.begin() as connection:
            connection.execute(insert(outbound_documents), credit_note)  # its own series now
            with pytest.raises(IntegrityError), connection.begin_nested():
                connection.execute(insert(outbound_documents), {**invoice, "id": "d3", "kind": "ubl"})
        upgrade_counts = _outbound_counts(engine)
        with pytest.raises(IntegrityError), engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0015")
        refused_revision = current_revision(engine)
        refused_counts = _outbound_counts(engine)
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM outbound_documents WHERE id = 'd2'"))
            command.downgrade(alembic_config(connection), "0015")
        with engine.begin() as connection:
            downgraded_revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            at_0015 = Table("outbound_documents", MetaData(), autoload_with=connection)
            with pytest.raises(IntegrityError), connection.begin_nested():
                connection.execute(insert(at_0015), credit_note)
        downgrade_counts = _outbound_counts(engine)
    finally:
        engine.dispose()
    # documents, timeline entries, jobs, held answers
    assert upgrade_counts == (2, 1, 1, 1)
    assert (refused_revision, refused_counts) == ("0016", (2, 1, 1, 1))
    assert (downgraded_revision, downgrade_counts) == ("0015", (1, 1, 1, 1))


def _outbound_counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as connection:
        return tuple(
            int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)
            for table in ("outbound_documents", "outbound_events", "delivery_jobs", "pending_answers")
        )


def test_number_per_kind_revision_round_trip_keeps_every_row_and_matches_the_metadata(
    empty_database: str | URL,
) -> None:
    # 0017 -> 0015 -> 0017 with rows in every table referencing outbound_documents (several documents,
    # several timeline entries each): every row comes back unchanged; back at the head, the schema is the
    # metadata's.
    upgrade_database(empty_database)
    engine = make_engine(empty_database)
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    tables = (
        "outbound_documents",
        "outbound_events",
        "delivery_jobs",
        "pending_answers",
        "inbound_documents",
    )
    try:
        with engine.begin() as connection:
            for n in range(3):
                document_id = f"d{n}"
                connection.execute(
                    insert(outbound_documents),
                    outbound_row(
                        at, id=document_id, document_number=f"2026-{n}", document_type_id=BIS_INVOICE.uri
                    ),
                )
                connection.execute(
                    insert(outbound_events),
                    [
                        {"document_id": document_id, "at": at, "to_status": "accepted", "event": "submitted"},
                        {
                            "document_id": document_id,
                            "at": at,
                            "from_status": "accepted",
                            "to_status": "sending",
                            "event": "send_started",
                        },
                    ],
                )
                connection.execute(
                    insert(delivery_jobs),
                    {"document_id": document_id, "due_at": at, "attempts": n, "created_at": at},
                )
                connection.execute(
                    text(
                        "INSERT INTO inbound_documents (id, as4_message_id, sender_id, sender_key,"
                        " receiver_id, receiver_key, document_type_id, process_id, status, received_at,"
                        " updated_at) VALUES (:id, :m, 's', 's', 'r', 'r', 't', 'p', 'valid', :at, :at)"
                    ),
                    {"id": f"i{n}", "m": f"m{n}@x", "at": at},
                )
                connection.execute(
                    text(
                        "INSERT INTO pending_answers (inbound_document_id, outbound_document_id, held_at)"
                        " VALUES (:i, :d, :at)"
                    ),
                    {"i": f"i{n}", "d": document_id, "at": at},
                )
        with engine.begin() as connection:  # the rows as 0017 has them (0018 adds a column)
            command.downgrade(alembic_config(connection), "0017")
        before = _rows(engine, tables)
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0015")
        downgraded = _rows(engine, tables)
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0017")
        after = _rows(engine, tables)
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": made_on(connection.dialect.name)}
            )
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert [len(rows) for rows in before] == [3, 6, 3, 3, 3]
    assert downgraded == before
    assert after == before
    assert differences == []


def _rows(engine: Engine, tables: tuple[str, ...]) -> list[list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return [
            sorted(tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}")))
            for table in tables
        ]


def test_response_link_revision_fills_the_column_from_the_timeline_and_the_expense_trail(
    empty_database: str | URL,
) -> None:
    # 0018 moves "the received document a response answers" to outbound_documents.answers_inbound_document_id:
    # filled from the SUBMITTED detail, else (responses queued before the detail held it) from the expense
    # event that queued the response; an invoice, and a response nothing names, keep NULL.
    upgrade_database(empty_database, revision="0017")
    engine = make_engine(empty_database)
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    response = {"kind": "invoice-response", "status": "accepted", "attempts": 0}
    documents = {  # id: (row values, SUBMITTED detail)
        "r1": (response, {"answers_inbound_document_id": "i1"}),
        "r2": (response, {"answers_inbound_document_id": "i1", "after_response_document_id": "r1"}),
        "r3": (response, None),  # queued before the detail held the link: the expense trail names it
        "r4": (response, None),  # named by nothing
        "d1": ({}, None),  # an invoice
    }
    try:
        with engine.begin() as connection:
            for n in (1, 2):
                connection.execute(
                    text(
                        "INSERT INTO inbound_documents (id, as4_message_id, sender_id, sender_key,"
                        " receiver_id, receiver_key, document_type_id, process_id, status, received_at,"
                        " updated_at) VALUES (:id, :m, 's', 's', 'r', 'r', 't', 'p', 'valid', :at, :at)"
                    ),
                    {"id": f"i{n}", "m": f"m{n}@x", "at": at},
                )
            at_0017 = Table("outbound_documents", MetaData(), autoload_with=connection)
            for document_id, (values, detail) in documents.items():
                row = outbound_row(at, id=document_id, document_number=document_id, **values)
                connection.execute(insert(at_0017), row)
                connection.execute(
                    insert(outbound_events),
                    {
                        "document_id": document_id,
                        "at": at,
                        "to_status": "accepted",
                        "event": "submitted",
                        "detail": detail,
                    },
                )
            expenses = Table("expenses", MetaData(), autoload_with=connection)
            expense_events = Table("expense_events", MetaData(), autoload_with=connection)
            connection.execute(
                insert(expenses),
                {
                    "id": "x2",
                    "inbound_document_id": "i2",
                    "kind": "invoice",
                    "status": "to_approve",
                    "supplier_key": "s",
                    "supplier_name": "S",
                    "number": "INV-2",
                    "currency": "EUR",
                    "amount": "10.00",
                    "issue_date": "2026-12-01",
                    "dedupe_key": "k2",
                    "draft": {},
                    "routing": {},
                    "created_at": at,
                    "updated_at": at,
                },
            )
            event = {"expense_id": "x2", "at": at, "actor": "a", "role": "member", "to_status": "to_approve"}
            connection.execute(
                insert(expense_events),
                [
                    {**event, "action": "created", "detail": {"response_document_id": "r3"}},
                    {**event, "action": "route", "detail": None},
                    {**event, "action": "assign", "detail": {"unit": "u"}},
                ],
            )
        upgrade_database(empty_database)
        with engine.connect() as connection:
            t = outbound_documents
            links = {k: v for k, v in connection.execute(select(t.c.id, t.c.answers_inbound_document_id))}
        with SQLDocumentStore(engine).unit_of_work(read_only=True) as uow:
            found = (
                uow.outbound.latest_unfinished_response("i1"),
                uow.outbound.latest_unfinished_response("i2"),
                uow.outbound.later_response("r1"),
                uow.outbound.later_response("r3"),
            )
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0017")
        with engine.connect() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("outbound_documents")}
            indexes = {i["name"] for i in inspect(connection).get_indexes("outbound_documents")}
            e = outbound_events
            details = {k: v for k, v in connection.execute(select(e.c.document_id, e.c.detail))}
        counts = _outbound_counts(engine)
    finally:
        engine.dispose()
    assert links == {"r1": "i1", "r2": "i1", "r3": "i2", "r4": None, "d1": None}
    assert found == ("r2", "r3", "r2", None)
    assert "answers_inbound_document_id" not in columns
    assert "ix_outbound_documents_answers_inbound_document_id" not in indexes
    assert details == {document_id: detail for document_id, (_, detail) in documents.items()}
    assert counts == (5, 5, 0, 0)


def test_response_link_revision_links_the_acknowledgement_queued_when_the_expense_was_created(
    empty_database: str | URL,
) -> None:
    # The rows as the code wrote them before the SUBMITTED detail held the link: the AB queued when an
    # expense is created is named by no audit entry (``ExpenseCreator``: the CREATED entry is stored before
    # the response is asked for, ``supplier_answer``), only the responses of later actions are
    # (``response_document_id``). The AB is queued in the creating transaction, dated with the expense
    # (one ``now``): 0018 finds it by that date when exactly one expense and one unlinked response share it.
    # Linked, a failed AB is not retried once a later response to the document exists (``later_response``).
    upgrade_database(empty_database, revision="0017")
    engine = make_engine(empty_database)
    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    minutes = [t0.replace(minute=m) for m in range(6)]
    documents = {  # id: (created_at, status); every SUBMITTED detail is NULL
        "ab1": (minutes[0], "failed"),  # the AB of x1's creation
        "ap1": (minutes[1], "delivered"),  # x1 approved: its audit entry names it
        "ab2": (minutes[2], "accepted"),  # the AB of x2's creation
        "ab3": (minutes[3], "delivered"),  # x3 and x4 were created at the same instant: whose AB is which
        "ab4": (minutes[3], "delivered"),  # cannot be told, both stay unlinked
        "lone": (minutes[4], "delivered"),  # a response dated like no expense
    }
    created = {"x1": minutes[0], "x2": minutes[2], "x3": minutes[3], "x4": minutes[3], "x5": minutes[5]}
    try:
        with engine.begin() as connection:
            at_0017 = Table("outbound_documents", MetaData(), autoload_with=connection)
            expenses = Table("expenses", MetaData(), autoload_with=connection)
            expense_events = Table("expense_events", MetaData(), autoload_with=connection)
            for n, (expense_id, at) in enumerate(created.items(), start=1):
                connection.execute(
                    text(
                        "INSERT INTO inbound_documents (id, as4_message_id, sender_id, sender_key,"
                        " receiver_id, receiver_key, document_type_id, process_id, status, received_at,"
                        " updated_at) VALUES (:id, :m, 's', 's', 'r', 'r', 't', 'p', 'valid', :at, :at)"
                    ),
                    {"id": f"i{n}", "m": f"m{n}@x", "at": at},
                )
                connection.execute(
                    insert(expenses),
                    {
                        "id": expense_id,
                        "inbound_document_id": f"i{n}",
                        "kind": "invoice",
                        "status": "to_approve",
                        "supplier_key": "s",
                        "supplier_name": "S",
                        "number": f"INV-{n}",
                        "currency": "EUR",
                        "amount": "10.00",
                        "issue_date": "2026-12-01",
                        "dedupe_key": f"k{n}",
                        "draft": {},
                        "routing": {},
                        "created_at": at,
                        "updated_at": at,
                    },
                )
                event = {"expense_id": expense_id, "actor": "system", "role": "system", "at": at}
                connection.execute(
                    insert(expense_events),
                    [
                        {**event, "action": "created", "to_status": "new", "detail": None},
                        {
                            **event,
                            "action": "route",
                            "from_status": "new",
                            "to_status": "to_approve",
                            "detail": {"rule": "unit", "reason": None},
                        },
                    ],
                )
            connection.execute(
                insert(expense_events),
                {
                    "expense_id": "x1",
                    "actor": "ann",
                    "role": "approver",
                    "at": minutes[1],
                    "action": "approve",
                    "from_status": "to_approve",
                    "to_status": "approved",
                    "detail": {"response_document_id": "ap1"},
                },
            )
            for document_id, (at, status) in documents.items():
                values = {"kind": "invoice-response", "status": status, "receiver_key": "s"}
                row = outbound_row(at, id=document_id, document_number=document_id, **values)
                connection.execute(insert(at_0017), row)
                connection.execute(
                    insert(outbound_events),
                    {"document_id": document_id, "at": at, "to_status": "accepted", "event": "submitted"},
                )
            connection.execute(insert(at_0017), outbound_row(minutes[5], id="d1", document_number="d1"))
        upgrade_database(empty_database)
        with engine.connect() as connection:
            t = outbound_documents
            links = {k: v for k, v in connection.execute(select(t.c.id, t.c.answers_inbound_document_id))}
        with SQLDocumentStore(engine).unit_of_work(read_only=True) as uow:
            later = uow.outbound.later_response("ab1")
    finally:
        engine.dispose()
    assert links == {
        "ab1": "i1",
        "ap1": "i1",
        "ab2": "i2",
        "ab3": None,
        "ab4": None,
        "lone": None,
        "d1": None,
    }
    assert later == "ap1"


def test_response_link_revision_reads_the_expense_trail_in_the_database(tmp_path: Path) -> None:
    # Every action's audit entry names its response (``response_document_id``): the trail holds about as
    # many links as the gateway has ever queued responses (a million in ten years of a large supplier). The
    # upgrade links them in the database, never holding the trail in the process (about 450 bytes a link
    # when it was read into a list: 450 MB for a million, at start-up). 10,000 links here: the peak of
    # Python allocations during the upgrade stays far below what holding them would take (4.5 MB).
    url = f"sqlite:///{tmp_path / 'trail.db'}"
    upgrade_database(url, revision="0017")
    engine = make_engine(url)
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    count = 10_000
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO inbound_documents (id, as4_message_id, sender_id, sender_key, receiver_id,"
                    " receiver_key, document_type_id, process_id, status, received_at, updated_at)"
                    " VALUES ('i1', 'm1@x', 's', 's', 'r', 'r', 't', 'p', 'valid', :at, :at)"
                ),
                {"at": at},
            )
            expenses = Table("expenses", MetaData(), autoload_with=connection)
            expense_events = Table("expense_events", MetaData(), autoload_with=connection)
            connection.execute(
                insert(expenses),
                {
                    "id": "x1",
                    "inbound_document_id": "i1",
                    "kind": "invoice",
                    "status": "to_approve",
                    "supplier_key": "s",
                    "supplier_name": "S",
                    "number": "INV-1",
                    "currency": "EUR",
                    "amount": "10.00",
                    "issue_date": "2026-12-01",
                    "dedupe_key": "k1",
                    "draft": {},
                    "routing": {},
                    "created_at": at,
                    "updated_at": at,
                },
            )
            event = {"expense_id": "x1", "at": at, "actor": "a", "role": "member", "action": "query"}
            connection.execute(
                insert(expense_events),
                [
                    {**event, "to_status": "under_query", "detail": {"response_document_id": f"r{n}"}}
                    for n in range(count)
                ],
            )
            at_0017 = Table("outbound_documents", MetaData(), autoload_with=connection)
            response = {"kind": "invoice-response", "status": "delivered"}
            connection.execute(
                insert(at_0017),
                [outbound_row(at, id=f"r{n}", document_number=f"r{n}", **response) for n in range(count)],
            )
        tracemalloc.start()
        try:
            upgrade_database(url)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        with engine.connect() as connection:
            t = outbound_documents
            linked = connection.execute(
                select(func.count()).where(t.c.answers_inbound_document_id == "i1")
            ).scalar_one()
    finally:
        engine.dispose()
    assert linked == count
    assert peak < 2_000_000


def test_expense_action_keys_revision_adds_the_table_and_its_downgrade_drops_it_keeping_the_expenses(
    empty_database: str | URL,
) -> None:
    # 0019 keeps the Idempotency-Keys of expense actions that changed nothing; back at 0018 they are
    # forgotten (as before the revision), the expenses and their audit trail stay.
    upgrade_database(empty_database, revision="0018")
    engine = make_engine(empty_database)
    store = SQLDocumentStore(engine)
    at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    try:
        eid = received_expense(store, status=ExpenseStatus.APPROVED, received=at)
        with engine.connect() as connection:
            before = set(inspect(connection).get_table_names())
        upgrade_database(empty_database)
        with store.unit_of_work() as uow:
            uow.expenses.keep_action_key(eid, "member-a", "late", "f" * 64, at)
            uow.commit()
        with store.unit_of_work(read_only=True) as uow:
            kept = uow.expenses.action_key(eid, "member-a", "late")
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0018")
        with engine.connect() as connection:
            downgraded = set(inspect(connection).get_table_names())
            expenses = connection.execute(text("SELECT id FROM expenses")).scalars().all()
            trail = connection.execute(text("SELECT count(*) FROM expense_events")).scalar()
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
        with store.unit_of_work(read_only=True) as uow:
            forgotten = uow.expenses.action_key(eid, "member-a", "late")
    finally:
        engine.dispose()
    assert "expense_action_keys" not in before
    assert kept == "f" * 64
    assert downgraded == before
    assert (expenses, trail) == ([eid], 1)
    assert forgotten is None
