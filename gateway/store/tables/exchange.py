"""The document exchange: documents sent and received, their delivery jobs, AS4 messages and signals,
and answers held for a receipt not yet recorded."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from gateway.model.document_number import MAX_DOCUMENT_NUMBER
from gateway.model.message import DeliveryStatus, Direction, DocumentKind, InboundStatus, SignalKind
from gateway.store.tables.columns import (
    ID,
    IDENTIFIER,
    MESSAGE_ID,
    PARTICIPANT,
    UTCDateTime,
    metadata,
    one_of,
)

#: The unique constraint on (seller_id, document_type_id, document_number) of outbound_documents.
NUMBER_UNIQUE = "uq_outbound_documents_seller_type_number"

#: The partial index on outbound_documents.answers_inbound_document_id (migration 0018) and its predicate.
ANSWERS_INDEX = "ix_outbound_documents_answers_inbound_document_id"
ANSWERS_LINKED = "answers_inbound_document_id IS NOT NULL"

outbound_documents = Table(
    "outbound_documents",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("seller_id", String(PARTICIPANT), nullable=False),
    Column("document_number", String(200), nullable=False),
    Column("sender_id", String(PARTICIPANT), nullable=False),
    Column("receiver_id", String(PARTICIPANT), nullable=False),
    # Participant ids compare case-insensitively (Peppol Policy for use of identifiers 4.x): filter on
    # the case-folded key, show the id as submitted.
    Column("receiver_key", String(PARTICIPANT), nullable=False),
    Column("document_type_id", String(IDENTIFIER), nullable=False),
    Column("process_id", String(IDENTIFIER), nullable=False),
    Column("ubl", LargeBinary, nullable=False),
    Column("validation_report", JSON(none_as_null=True), nullable=True),
    # BT-55 buyer country (``ZZ``: none), read at submit from the tree validation parsed, for the reporting
    # record of the delivery: the worker never parses the document for it. NULL (rows stored before 0012,
    # documents we write ourselves): read from ``ubl`` when needed.
    Column("buyer_country", String(2), nullable=True),
    Column("status", String(24), nullable=False),
    Column("status_reason", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("as4_message_id", String(MESSAGE_ID), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The received document an Invoice Response answers (NULL for every other document, and for a response
    # that answers none it can name: migration 0018). Not a foreign key: a response outlives the retention
    # of the document it answered. Its SUBMITTED entry's detail names it too (``RESPONSE_ANSWERS``).
    Column("answers_inbound_document_id", String(ID), nullable=True),
    # A number is unique per seller and per document type (``gateway.model.number_series``): an invoice and
    # a credit note may share one (migration 0016). Named: the conventional name is 64 characters, one more
    # than PostgreSQL keeps.
    UniqueConstraint("seller_id", "document_type_id", "document_number", name=NUMBER_UNIQUE),
    CheckConstraint(one_of("status", DeliveryStatus), name="status"),
    CheckConstraint(one_of("kind", DocumentKind), name="kind"),
    Index(None, "created_at", "id"),
    Index(None, "status", "created_at"),
    Index(None, "receiver_key", "created_at"),
    Index(None, "document_number"),
    Index(None, "as4_message_id"),
    # The responses to one received document (``SQLOutboundDocumentRepository.later_response``): a handful
    # of entries whatever the supplier's history. Partial: an invoice (NULL) writes no entry.
    Index(
        ANSWERS_INDEX,
        "answers_inbound_document_id",
        postgresql_where=text(ANSWERS_LINKED),
        sqlite_where=text(ANSWERS_LINKED),
    ),
)

outbound_events = Table(
    "outbound_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "document_id", String(ID), ForeignKey("outbound_documents.id", ondelete="CASCADE"), nullable=False
    ),
    Column("at", UTCDateTime, nullable=False),
    Column("from_status", String(24), nullable=True),
    Column("to_status", String(24), nullable=False),
    Column("event", String(32), nullable=False),
    Column("detail", JSON(none_as_null=True), nullable=True),
    Index(None, "document_id", "id"),
)

delivery_jobs = Table(
    "delivery_jobs",
    metadata,
    # At most one job per document: the primary key is the document id, so a document can never be
    # queued twice (the "never sent twice" invariant starts here).
    Column(
        "document_id",
        String(ID),
        ForeignKey("outbound_documents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("due_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("lease_token", String(64), nullable=True),
    Column("leased_until", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "due_at"),
)

as4_messages = Table(
    "as4_messages",
    metadata,
    Column("message_id", String(MESSAGE_ID), primary_key=True),
    Column("direction", String(3), primary_key=True),
    Column("document_id", String(ID), nullable=True),
    Column("sbdh_instance_id", String(MESSAGE_ID), nullable=True),
    Column("request_headers", JSON, nullable=False),
    Column("request_body", LargeBinary, nullable=False),
    Column("signal_kind", String(16), nullable=True),
    Column("signal_headers", JSON(none_as_null=True), nullable=True),
    Column("signal_body", LargeBinary, nullable=True),
    Column("signal_at", UTCDateTime, nullable=True),
    Column("ebms_error_code", String(64), nullable=True),
    Column("receipt_summary", JSON(none_as_null=True), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(one_of("direction", Direction), name="direction"),
    CheckConstraint(f"signal_kind IS NULL OR {one_of('signal_kind', SignalKind)}", name="signal_kind"),
    Index(None, "document_id"),
    # The earliest message of an SBDH instance is this index's first entry (``messages.instance_check``):
    # ordering by created_at from the table read each candidate's body on SQLite (migration 0014).
    Index("ix_as4_messages_instance_order", "sbdh_instance_id", "direction", "created_at", "message_id"),
)

SIGNAL_HISTORY_KINDS = ("receipt", "error", "other")
"""Kinds of ``as4_signals`` rows: the ebMS signal kinds plus ``other`` for an answer that is no ebMS
signal (e.g. an HTTP 500 HTML page) should the delivery service choose to keep those too."""

as4_signals = Table(
    "as4_signals",
    metadata,
    # The full signal history of a message (append-only evidence): as4_messages keeps only the latest
    # signal, a retry after an invalid receipt or a retryable ebMS error would otherwise lose the bytes.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(MESSAGE_ID), nullable=False),
    Column("direction", String(3), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("ebms_error_code", String(64), nullable=True),
    Column("headers", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("summary", JSON(none_as_null=True), nullable=True),
    # The delivery attempt (outbound_documents.attempts) the signal answered; NULL for inbound messages.
    Column("attempt", Integer, nullable=True),
    ForeignKeyConstraint(
        ["message_id", "direction"],
        ["as4_messages.message_id", "as4_messages.direction"],
        ondelete="CASCADE",
    ),
    CheckConstraint(one_of("direction", Direction), name="direction"),
    CheckConstraint(f"kind IN ({', '.join(repr(kind) for kind in SIGNAL_HISTORY_KINDS)})", name="kind"),
    Index(None, "message_id", "direction", "at"),
)

inbound_documents = Table(
    "inbound_documents",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("as4_message_id", String(MESSAGE_ID), nullable=False),
    Column("sender_id", String(PARTICIPANT), nullable=False),
    Column("sender_key", String(PARTICIPANT), nullable=False),
    Column("receiver_id", String(PARTICIPANT), nullable=False),
    Column("receiver_key", String(PARTICIPANT), nullable=False),
    Column("document_type_id", String(IDENTIFIER), nullable=False),
    Column("process_id", String(IDENTIFIER), nullable=False),
    Column("sbdh_instance_id", String(MESSAGE_ID), nullable=True),
    Column("validation_report", JSON(none_as_null=True), nullable=True),
    Column("status", String(16), nullable=False),
    Column("status_reason", Text, nullable=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The document's own number (BT-1, an ApplicationResponse's cbc:ID), read when it is validated, and its
    # lower-case form that support searches (migration 0015; gateway.model.document_number).
    Column("document_number", String(MAX_DOCUMENT_NUMBER), nullable=True),
    Column("document_number_key", String(MAX_DOCUMENT_NUMBER), nullable=True),
    UniqueConstraint("as4_message_id"),
    CheckConstraint(one_of("status", InboundStatus), name="status"),
    Index(None, "received_at", "id"),
    Index(None, "status", "received_at"),
    Index(None, "sender_key", "received_at"),
    Index(None, "receiver_key", "received_at"),
    Index(None, "document_number_key", "received_at"),
    # PostgreSQL: prefix searches (LIKE 'inv-12%') use only a byte-comparing index (migration 0017).
    Index(
        "ix_inbound_documents_document_number_key_pattern",
        "document_number_key",
        postgresql_ops={"document_number_key": "varchar_pattern_ops"},
    ).ddl_if(dialect="postgresql"),
)

inbound_document_bodies = Table(
    "inbound_document_bodies",
    metadata,
    # The received business document's bytes, apart from its row (migration 0013): recording the verdict
    # updates the status columns, and SQLite rewrites a whole row on UPDATE, a 20 MB body included.
    Column(
        "document_id",
        String(ID),
        ForeignKey("inbound_documents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("body", LargeBinary, nullable=False),
)


pending_answers = Table(
    "pending_answers",
    metadata,
    # A received MLS or Invoice Response that arrived before the receipt of the document it answers was
    # recorded: applied (and removed) by the unit of work that records that receipt.
    Column(
        "inbound_document_id",
        String(ID),
        ForeignKey("inbound_documents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "outbound_document_id",
        String(ID),
        ForeignKey("outbound_documents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("held_at", UTCDateTime, nullable=False),
    Index(None, "outbound_document_id"),
    Index(None, "held_at", "inbound_document_id"),
)
