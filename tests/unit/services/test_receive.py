"""The receive recipe (gateway.services.receive): evidence before the receipt, duplicate policy, ebMS errors,
validation verdicts and recovery after a failure between the two commits. SQLite store, stub validator."""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from as4_support import INVOICE, NOW, RECEIVER, SENDER, counter_ids, dev_pki, make_sbd
from sqlalchemy import delete, event
from sqlalchemy.sql.elements import ReleaseSavepointClause, SavepointClause

from gateway.as4 import (
    PEPPOL_NOT_SERVICED,
    EbmsError,
    OutgoingMessage,
    build_user_message,
    read_signal,
    verify_receipt,
)
from gateway.as4.signal_check import load_signal, verify_signal_signature
from gateway.crypto import issue_ap
from gateway.errors import StoreError, XMLInputError
from gateway.model import INVOICE_RESPONSE, INVOICE_RESPONSE_PROCESS, DocumentTypeID, ParticipantID, ProcessID
from gateway.model.message import VALIDATION_PENDING, Direction, InboundStatus, SignalKind
from gateway.services.message_status import ReceivedEnvelope
from gateway.services.ports import InboundQuery, InstanceCheck
from gateway.services.receive import (
    MAX_ID_LENGTH,
    REJECTED_KEY_PREFIX,
    SIZE_RULE,
    AS4Receiver,
    ReceiveOutcome,
    ReceiveResult,
)
from gateway.services.rejected_evidence import (
    DEFAULT_UNAUTHENTICATED_EVIDENCE_BYTES,
    DEFAULT_UNAUTHENTICATED_HEADER_BYTES,
    EvidenceLimits,
)
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.store.tables import inbound_documents
from gateway.ubl import build_sbd
from gateway.validation import Finding, Layer, Severity, ValidationReport
from gateway.xmlcore import parse_xml
from gateway.xmlcore.held import HeldDocument

RULE_SET = "peppol-bis-billing-3.0.21"

#: The savepoint statements SQLAlchemy builds per ``begin_nested`` (PostgreSQL's, ``first_insert_refusable``).
SAVEPOINTS = (SavepointClause, ReleaseSavepointClause)


class FixedClock:
    def now(self) -> datetime:
        return NOW


class CountingIDs:
    """UUID-shaped, deterministic ids."""

    def __init__(self) -> None:
        self._n = itertools.count(1)

    def new_id(self) -> str:
        return str(uuid.UUID(int=next(self._n)))


class StubValidator:
    """Returns a fixed verdict and counts calls (the real engine is exercised by the integration suite)."""

    def __init__(self) -> None:
        self.calls = 0
        self.rule_sets: list[str | None] = []
        self.fatal: tuple[Finding, ...] = ()
        self.error: Exception | None = None

    def validate(
        self,
        xml: bytes | HeldDocument,
        *,
        rule_set: str | None = None,
        on_parsed: Callable[[Any], object] | None = None,
    ) -> ValidationReport:
        self.calls += 1
        self.rule_sets.append(rule_set)
        if self.error is not None:
            raise self.error
        if on_parsed is not None:
            on_parsed(parse_xml(xml if isinstance(xml, bytes) else xml.data()))  # the receipt's: held
        assert rule_set in (RULE_SET, "peppol-invoice-response-3-t111", "peppol-mls-1.0.1")
        return ValidationReport(rule_set=rule_set or RULE_SET, findings=self.fatal)


class _FailingInbound:
    """Recording a validation fails (the store went away between the receipt's commit and this one)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def record_validation(self, *args: object, **kw: object) -> None:
        raise StoreError("inbound validation: OperationalError")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _BlindMessages:
    """Sees no stored message: simulates a concurrent delivery that commits right after our check."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def get(self, *args: object) -> None:
        return None

    def instance_check(self, *args: object) -> InstanceCheck:
        return InstanceCheck(None, resent=False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _ReadSpy:
    """Records the stored bytes a writing unit of work reads (documents, whole messages)."""

    READS = ("get_content", "get", "find_by_instance_id", "for_document")

    def __init__(self, inner: Any, kind: str, reads: list[str]) -> None:
        self._inner, self._kind, self._reads = inner, kind, reads

    def __getattr__(self, name: str) -> Any:
        if name in self.READS:
            self._reads.append(f"{self._kind}.{name}")
        return getattr(self._inner, name)


class _UoW:
    def __init__(self, inner: Any, store: FlakyStore, read_only: bool) -> None:
        self._inner, self._store, self._read_only = inner, store, read_only

    def __enter__(self) -> _UoW:
        self._inner.__enter__()
        self._store.open_units += 1
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._store.open_units -= 1
        self._inner.__exit__(t, e, tb)

    @property
    def inbound(self) -> Any:
        inbound = _FailingInbound(self._inner.inbound) if self._store.fail_inbound else self._inner.inbound
        return inbound if self._read_only else _ReadSpy(inbound, "inbound", self._store.write_reads)

    @property
    def messages(self) -> Any:
        blind = self._store.blind_check and not self._read_only
        messages = _BlindMessages(self._inner.messages) if blind else self._inner.messages
        return messages if self._read_only else _ReadSpy(messages, "messages", self._store.write_reads)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class FlakyStore:
    """A real store that can be switched off entirely or only for inbound documents."""

    def __init__(self, inner: SQLDocumentStore) -> None:
        self.inner = inner
        self.open_units = 0  # units of work currently open (each holds a pooled connection)
        self.down = False
        self.fail_inbound = False
        self.blind_check = False
        self.write_reads: list[str] = []  # stored bytes read by writing units of work

    def unit_of_work(self, *, read_only: bool = False) -> Any:
        if self.down:
            raise StoreError("begin transaction: OperationalError")
        return _UoW(self.inner.unit_of_work(read_only=read_only), self, read_only)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FlakyStore]:
    url = f"sqlite:///{tmp_path / 'receive.db'}"
    upgrade_database(url)
    s = FlakyStore(SQLDocumentStore.from_url(url))
    yield s
    s.close()


@pytest.fixture
def validator() -> StubValidator:
    return StubValidator()


def make_receiver(store: FlakyStore, validator: StubValidator, **kw: Any) -> AS4Receiver:
    p = dev_pki()
    values: dict[str, Any] = {
        "store": store,
        "validator": validator,
        "identity": p.receiver,
        "trust": p.trust,
        "served": {RECEIVER},
        "clock": FixedClock(),
        "ids": CountingIDs(),
        "rule_set": lambda: RULE_SET,
        "message_id_domain": "gw.test",
    }
    values.update(kw)
    return AS4Receiver(**values)


@pytest.fixture
def receiver(store: FlakyStore, validator: StubValidator) -> AS4Receiver:
    return make_receiver(store, validator)


def make_message(sbd: bytes | None = None, *, message_id: str = "msg-1@gateway.test") -> OutgoingMessage:
    """POP000001 -> POP000002 (our receiver), the kit's sample invoice unless ``sbd`` is given."""
    p = dev_pki()
    return build_user_message(
        sbd if sbd is not None else make_sbd(),
        sender=p.sender,
        receiver_certificate=p.receiver.certificate,
        message_id=message_id,
        timestamp=NOW,
        new_id=counter_ids(),
    )


def post(receiver: AS4Receiver, msg: OutgoingMessage, body: bytes | None = None) -> ReceiveResult:
    return receiver.receive(tuple(msg.headers.items()), msg.body if body is None else body)


def signal_error(result: ReceiveResult) -> tuple[str | None, list[tuple[str, str]]]:
    root = load_signal({}, result.signal)
    cert = verify_signal_signature(root)  # every error is signed, with our certificate
    assert cert == dev_pki().receiver.certificate
    _, ref, errors, receipt = read_signal(root)
    assert receipt is None
    return ref, errors


def pending_documents(store: FlakyStore) -> int:
    with store.inner.unit_of_work(read_only=True) as uow:
        return len(uow.inbound.pending_validation(limit=500))


def inbound_count(store: FlakyStore) -> int:
    with store.inner.unit_of_work(read_only=True) as uow:
        return len(uow.inbound.search(InboundQuery(limit=500)).items)


# --- accepted ---------------------------------------------------------------------------------------------


def test_accepted_message_gets_a_strict_receipt_and_everything_is_stored(
    receiver: AS4Receiver, store: FlakyStore
) -> None:
    msg = make_message()
    result = post(receiver, msg)
    assert result.outcome is ReceiveOutcome.ACCEPTED
    assert result.status is InboundStatus.VALID
    verdict = verify_receipt({"Content-Type": result.content_type}, result.signal, msg)
    assert verdict.is_success, verdict.detail
    with store.inner.unit_of_work(read_only=True) as uow:
        record = uow.messages.get(msg.message_id, Direction.IN)
        assert record is not None
        assert result.document_id is not None
        document = uow.inbound.get(result.document_id)
        content = uow.inbound.get_content(result.document_id)
    # The raw request byte-exact, headers in wire order, and the receipt exactly as answered.
    assert record.request.body == msg.body
    assert record.request.headers == tuple(msg.headers.items())
    assert record.signal is not None
    assert record.signal.kind is SignalKind.RECEIPT
    assert record.signal.raw.body == result.signal
    assert record.document_id == result.document_id
    assert record.sbdh_instance_id == "inst-1"
    assert record.signal.receipt_summary is not None
    assert record.signal.receipt_summary["refToMessageId"] == msg.message_id
    assert document is not None
    assert content is not None
    assert document.as4_message_id == msg.message_id
    assert (document.sender, document.receiver) == (ParticipantID.parse("0208:0123456749"), RECEIVER)
    assert document.sbdh_instance_id == "inst-1"
    assert content.body.startswith(b"<Invoice") or b"<Invoice" in content.body[:200]
    assert b"StandardBusinessDocumentHeader" not in content.body
    assert content.validation_report == {"rule_set": RULE_SET, "valid": True, "issues": []}


def test_invalid_document_is_still_received_and_marked_invalid(
    receiver: AS4Receiver, store: FlakyStore, validator: StubValidator
) -> None:
    validator.fatal = (Finding("BR-CO-15", Severity.FATAL, Layer.CEN, "totals"),)
    msg = make_message()
    result = post(receiver, msg)
    assert result.outcome is ReceiveOutcome.ACCEPTED
    assert verify_receipt({}, result.signal, msg).is_success
    assert result.status is InboundStatus.INVALID
    with store.inner.unit_of_work(read_only=True) as uow:
        assert result.document_id is not None
        document = uow.inbound.get(result.document_id)
        content = uow.inbound.get_content(result.document_id)
    assert document is not None
    assert document.status_reason == "BR-CO-15"
    assert content is not None
    assert content.validation_report is not None
    assert content.validation_report["valid"] is False


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (XMLInputError("too large"), InboundStatus.INVALID),
        (RuntimeError("engine bug"), InboundStatus.RECEIVED),
    ],
)
def test_validation_failure_never_costs_the_receipt(
    receiver: AS4Receiver, validator: StubValidator, error: Exception, status: InboundStatus
) -> None:
    validator.error = error
    result = post(receiver, make_message())
    assert result.outcome is ReceiveOutcome.ACCEPTED
    assert result.status is status


# --- duplicates -------------------------------------------------------------------------------------------


def test_duplicate_message_id_returns_the_original_receipt_and_is_not_processed_again(
    receiver: AS4Receiver, store: FlakyStore, validator: StubValidator
) -> None:
    msg = make_message()
    first = post(receiver, msg)
    again = post(receiver, msg)
    assert again.outcome is ReceiveOutcome.DUPLICATE_MESSAGE
    assert again.signal == first.signal  # byte-identical original receipt
    assert again.document_id == first.document_id
    assert again.status is InboundStatus.VALID
    assert validator.calls == 1
    assert inbound_count(store) == 1


def test_a_resent_message_id_reads_nothing_stored_in_the_writing_unit_of_work(
    receiver: AS4Receiver, store: FlakyStore, validator: StubValidator
) -> None:
    """The write unit of work (on SQLite the database's write lock) of a first delivery and of a resent
    MessageId reads no stored document or message: the resend is seen among the SBDH instance's messages
    (no bytes) and answered from a read-only unit of work. Only an application-level resend under a new
    MessageId compares its document with the original's."""
    msg = make_message()
    first = post(receiver, msg)
    assert (first.outcome, store.write_reads) == (ReceiveOutcome.ACCEPTED, [])
    again = post(receiver, msg)
    assert again.outcome is ReceiveOutcome.DUPLICATE_MESSAGE
    assert again.signal == first.signal
    assert store.write_reads == []
    linked = post(receiver, make_message(message_id="msg-2@gateway.test"))  # new MessageId, same SBD
    assert linked.outcome is ReceiveOutcome.DUPLICATE_DOCUMENT
    assert store.write_reads == ["inbound.get_content"]
    assert (validator.calls, inbound_count(store)) == (1, 1)


def test_every_statement_of_a_receipt_and_its_verdict_is_built_once(
    receiver: AS4Receiver, store: FlakyStore
) -> None:
    """As the worker's (``test_every_statement_of_a_delivery_is_built_once``): a second message's units of
    work (the receipt's, the verdict's) execute only statement objects the first one's did (issue 12)."""
    executed: list[list[object]] = []

    def statement(conn: object, clause: object, *args: object) -> None:
        if not isinstance(clause, SAVEPOINTS):  # SQLAlchemy's own, PostgreSQL's (``first_insert_refusable``)
            executed[-1].append(clause)

    engine = store.inner.engine
    event.listen(engine, "before_execute", statement)
    try:
        for n in range(2):
            executed.append([])
            sbd = make_sbd(instance_id=f"inst-once-{n}")
            result = post(receiver, make_message(sbd, message_id=f"msg-once-{n}@gateway.test"))
            assert (result.outcome, result.status) == (ReceiveOutcome.ACCEPTED, InboundStatus.VALID)
    finally:
        event.remove(engine, "before_execute", statement)
    first, second = executed
    assert len(second) >= 6
    assert [clause for clause in second if not any(clause is seen for seen in first)] == []


def test_an_instance_reused_many_times_is_checked_with_bounded_reads(
    receiver: AS4Receiver, store: FlakyStore, validator: StubValidator
) -> None:
    """A hostile sender reusing one SBDH InstanceIdentifier for many messages (each a different document:
    all stored): each later message reads the instance's earliest message and probes its own MessageId,
    never every message of the instance. A resend of any of them (not only the earliest) is the duplicate
    path with its own receipt; a new one is stored as a new document."""
    sent = [
        make_message(
            make_sbd(
                INVOICE.read_bytes().replace(b"</cbc:ID>", f"-{n}</cbc:ID>".encode(), 1), instance_id="x"
            ),
            message_id=f"reuse-{n}@gateway.test",
        )
        for n in range(8)
    ]
    results = [post(receiver, msg) for msg in sent[:6]]
    assert [r.outcome for r in results] == [ReceiveOutcome.ACCEPTED] * 6
    selects: list[tuple[str, Any]] = []

    def capture(conn: object, cursor: object, statement: str, parameters: Any, *args: object) -> None:
        if "as4_messages.sbdh_instance_id =" in statement:  # a look-up of the instance's messages
            selects.append((statement, parameters))

    def rows_read() -> int:  # the rows of the instance's statements, run again (not peeked at)
        captured = list(selects)
        with store.inner.engine.connect() as connection:
            return sum(len(connection.exec_driver_sql(sql, args).all()) for sql, args in captured)

    event.listen(store.inner.engine, "after_cursor_execute", capture)
    try:
        store.write_reads.clear()
        again = post(receiver, sent[3])  # a resend of a later message of the instance
        assert (again.outcome, again.signal) == (ReceiveOutcome.DUPLICATE_MESSAGE, results[3].signal)
        assert store.write_reads == []  # no document read or compared
        assert selects
        assert rows_read() <= 2
        selects.clear()
        fresh = post(receiver, sent[6])  # a new message, another document: stored
        assert fresh.outcome is ReceiveOutcome.ACCEPTED
        assert selects
        assert rows_read() <= 2
    finally:
        event.remove(store.inner.engine, "after_cursor_execute", capture)
    assert inbound_count(store) == 7


def test_deferred_work_runs_once_even_when_a_duplicate_arrives_before_it(
    store: FlakyStore, validator: StubValidator
) -> None:
    received: list[tuple[object, ...]] = []
    receiver = make_receiver(store, validator, on_received=lambda *args: received.append(args))
    deferred: list[Any] = []
    msg = make_message()
    first = receiver.receive(tuple(msg.headers.items()), msg.body, defer=deferred.append)
    assert first.outcome is ReceiveOutcome.ACCEPTED
    assert first.status is InboundStatus.RECEIVED  # answered before validation
    assert (validator.calls, pending_documents(store)) == (0, 1)
    # The sender resends before the deferred work ran: the original receipt, and nothing run twice (a
    # second run would queue a second MLS).
    again = post(receiver, msg)
    assert again.outcome is ReceiveOutcome.DUPLICATE_MESSAGE
    assert again.signal == first.signal
    assert (validator.calls, received) == (0, [])
    [finish] = deferred
    assert finish() is InboundStatus.VALID
    assert (validator.calls, len(received), pending_documents(store)) == (1, 1, 0)


def test_no_unit_of_work_is_open_while_the_document_is_validated(
    receiver: AS4Receiver, store: FlakyStore, validator: StubValidator
) -> None:
    # Validation takes tens of milliseconds: holding a pooled connection meanwhile starved the pool under
    # 20 concurrent /as4 requests (found by `gateway bench e2e`, PostgreSQL, 2 workers).
    seen: list[int] = []
    original = validator.validate

    def validate(xml: bytes, *, rule_set: str | None = None, **kw: Any) -> ValidationReport:
        seen.append(store.open_units)
        return original(xml, rule_set=rule_set, **kw)

    validator.validate = validate  # type: ignore[method-assign]
    assert post(receiver, make_message()).outcome is ReceiveOutcome.ACCEPTED
    assert seen == [0]


def test_a_message_id_reused_by_another_access_point_is_refused_and_gets_no_receipt(
    receiver: AS4Receiver, store: FlakyStore, validator: StubValidator
) -> None:
    p = dev_pki()
    first = post(receiver, make_message(message_id="victim@gateway.test"))
    chain = (p.pki.ap_ca.certificate, p.pki.root.certificate)
    other_ap = issue_ap(p.pki.ap_ca, "POP000003", now=NOW, serial=3003).key_material(chain)
    reuse = build_user_message(
        make_sbd(instance_id="inst-other"),
        sender=other_ap,
        receiver_certificate=p.receiver.certificate,
        message_id="victim@gateway.test",
        timestamp=NOW,
        new_id=counter_ids("x"),
    )
    again = post(receiver, reuse)
    assert again.outcome is ReceiveOutcome.REJECTED
    assert again.signal != first.signal  # the original receipt is not handed to another AP
    ref, errors = signal_error(again)
    assert ref == "victim@gateway.test"
    assert [code for code, _ in errors] == ["EBMS:4001"]
    assert inbound_count(store) == 1
    assert validator.calls == 1


def test_lost_race_on_the_message_id_answers_as_a_duplicate(
    receiver: AS4Receiver, store: FlakyStore, validator: StubValidator
) -> None:
    msg = make_message()
    first = post(receiver, msg)
    store.blind_check = True  # the existence check misses; the insert's uniqueness must catch it
    again = post(receiver, msg)
    assert again.outcome is ReceiveOutcome.DUPLICATE_MESSAGE
    assert again.signal == first.signal
    assert inbound_count(store) == 1
    assert validator.calls == 1


def test_application_level_resend_is_linked_not_stored_twice(
    receiver: AS4Receiver, store: FlakyStore, validator: StubValidator
) -> None:
    first = post(receiver, make_message())
    resend = make_message(message_id="msg-2@gateway.test")  # new MessageId, same SBD (instance inst-1)
    result = post(receiver, resend)
    assert result.outcome is ReceiveOutcome.DUPLICATE_DOCUMENT
    assert verify_receipt({}, result.signal, resend).is_success  # a receipt for the new message
    assert result.document_id == first.document_id
    assert inbound_count(store) == 1
    assert validator.calls == 1
    with store.inner.unit_of_work(read_only=True) as uow:
        record = uow.messages.get("msg-2@gateway.test", Direction.IN)
    assert record is not None
    assert record.request.body == resend.body
    assert record.document_id == first.document_id
    assert record.signal is not None
    assert record.signal.receipt_summary is not None
    assert record.signal.receipt_summary["duplicateOfMessageId"] == "msg-1@gateway.test"


def test_reused_instance_id_with_another_document_is_kept(receiver: AS4Receiver, store: FlakyStore) -> None:
    post(receiver, make_message())
    other = make_sbd(make_sbd_payload_variant())
    result = post(receiver, make_message(other, message_id="msg-3@gateway.test"))
    assert result.outcome is ReceiveOutcome.ACCEPTED
    assert inbound_count(store) == 2


def make_sbd_payload_variant() -> bytes:
    return INVOICE.read_bytes().replace(b"</cbc:ID>", b"-B</cbc:ID>", 1)


# --- rejected ---------------------------------------------------------------------------------------------


def test_not_served_receiver_gets_peppol_not_serviced(store: FlakyStore, validator: StubValidator) -> None:
    receiver = make_receiver(store, validator, served={ParticipantID.parse("0208:0739484052")})
    msg = make_message()
    result = post(receiver, msg)
    assert result.outcome is ReceiveOutcome.REJECTED
    assert result.ebms is EbmsError.OTHER
    ref, errors = signal_error(result)
    assert ref == msg.message_id
    assert errors == [("EBMS:0004", PEPPOL_NOT_SERVICED)]
    assert result.record_key.startswith(REJECTED_KEY_PREFIX)
    with store.inner.unit_of_work(read_only=True) as uow:
        record = uow.messages.get(result.record_key, Direction.IN)
        assert uow.messages.get(msg.message_id, Direction.IN) is None
    assert record is not None
    assert record.request.body == msg.body
    assert record.signal is not None
    assert record.signal.ebms_error_code == "EBMS:0004"
    assert record.signal.receipt_summary is not None
    assert "not served" in record.signal.receipt_summary["reason"]  # internal detail kept here ...
    assert b"not served" not in result.signal  # ... never sent to the peer
    assert inbound_count(store) == 0


def test_rejected_message_id_does_not_block_the_genuine_message(
    store: FlakyStore, validator: StubValidator
) -> None:
    # An unauthenticated request claiming MessageId X must not make the real X a "duplicate".
    receiver = make_receiver(store, validator)
    msg = make_message()
    forged = post(receiver, msg, msg.body.replace(b"POP000001</eb:PartyId>", b"POP000009</eb:PartyId>", 1))
    assert forged.outcome is ReceiveOutcome.REJECTED
    assert forged.message_id == msg.message_id
    assert post(receiver, msg).outcome is ReceiveOutcome.ACCEPTED


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (
            lambda b: b.replace(b"0088:7300010000002</eb:Property>", b"0088:7300010000003</eb:Property>", 1),
            "0101",
        ),
        (lambda b: b.replace(b"<ds:SignatureValue>", b"<ds:SignatureValue>AAAA", 1), "0101"),
        (lambda b: b[:-200] + bytes([b[-200] ^ 1]) + b[-199:], "0102"),
        (lambda b: b"garbage", "0009"),
        (lambda b: b"", "0009"),
    ],
    ids=["final-recipient", "signature-value", "ciphertext", "garbage", "empty"],
)
def test_tampered_or_garbage_requests_get_signed_errors_and_are_stored(
    receiver: AS4Receiver, store: FlakyStore, tamper: Any, code: str
) -> None:
    msg = make_message()
    body = tamper(msg.body)
    assert body != msg.body
    result = post(receiver, msg, body)
    assert result.outcome is ReceiveOutcome.REJECTED
    _, errors = signal_error(result)
    assert [c for c, _ in errors] == [f"EBMS:{code}"]
    with store.inner.unit_of_work(read_only=True) as uow:
        record = uow.messages.get(result.record_key, Direction.IN)
    assert record is not None
    assert record.signal is not None
    summary = record.signal.receipt_summary
    assert summary is not None
    assert summary["bodySha256"] == hashlib.sha256(body).hexdigest()
    # The ciphertext is only reached once the signer is authenticated: its request is kept whole.
    assert summary["authenticated"] is (code == "0102")
    if code == "0102":
        assert record.request.body == body
        assert record.signal.raw.body == result.signal
    else:  # refused before the signer was authenticated: a prefix and hashes only (issue 13)
        assert record.request.body == body[:DEFAULT_UNAUTHENTICATED_EVIDENCE_BYTES]
        assert summary["errorCode"] == f"EBMS:{code}"
        assert record.signal.raw.body == b""  # the signed Error to an anonymous request is not kept
        with store.inner.unit_of_work(read_only=True) as uow:
            assert uow.messages.signals(result.record_key, Direction.IN) == []  # nor a history row
    assert inbound_count(store) == 0


def test_oversized_and_overlong_ids_are_refused_with_invalid_header(
    receiver: AS4Receiver, store: FlakyStore
) -> None:
    msg = make_message()
    big = receiver.reject_oversized(tuple(msg.headers.items()), msg.body[:100], 99)
    assert big.outcome is ReceiveOutcome.REJECTED
    assert big.ebms is EbmsError.INVALID_HEADER
    with store.inner.unit_of_work(read_only=True) as uow:
        record = uow.messages.get(big.record_key, Direction.IN)
    assert record is not None
    assert record.signal is not None
    assert record.signal.receipt_summary is not None
    assert record.signal.receipt_summary["truncated"] is True
    long_id = make_message(message_id="x" * MAX_ID_LENGTH + "@gateway.test")
    result = post(receiver, long_id)
    assert result.outcome is ReceiveOutcome.REJECTED
    assert result.ebms is EbmsError.INVALID_HEADER


def test_rejected_evidence_is_capped(store: FlakyStore, validator: StubValidator) -> None:
    receiver = make_receiver(store, validator, evidence=EvidenceLimits(anonymous_body=64))
    result = receiver.receive((("Content-Type", "text/plain"),), b"z" * 1000)
    with store.inner.unit_of_work(read_only=True) as uow:
        record = uow.messages.get(result.record_key, Direction.IN)
    assert record is not None
    assert record.request.body == b"z" * 64
    assert record.signal is not None
    assert record.signal.receipt_summary is not None
    assert record.signal.receipt_summary["bodyBytes"] == 1000


# --- store failures ---------------------------------------------------------------------------------------


def test_store_down_raises_and_stores_nothing(receiver: AS4Receiver, store: FlakyStore) -> None:
    store.down = True
    with pytest.raises(StoreError):
        post(receiver, make_message())
    with pytest.raises(StoreError):
        post(receiver, make_message(), b"garbage")
    store.down = False
    with store.inner.unit_of_work(read_only=True) as uow:
        assert uow.messages.get("msg-1@gateway.test", Direction.IN) is None


def test_failure_after_the_evidence_commit_is_finished_by_the_senders_resend(
    receiver: AS4Receiver, store: FlakyStore, validator: StubValidator
) -> None:
    msg = make_message()
    store.fail_inbound = True
    with pytest.raises(StoreError):  # the route answers 503: no receipt, the sender resends
        post(receiver, msg)
    assert pending_documents(store) == 1  # stored with the receipt, validation not recorded
    store.fail_inbound = False
    result = post(receiver, msg)
    assert result.outcome is ReceiveOutcome.DUPLICATE_MESSAGE
    assert verify_receipt({}, result.signal, msg).is_success
    assert result.status is InboundStatus.VALID
    assert inbound_count(store) == 1
    assert pending_documents(store) == 0
    with store.inner.unit_of_work(read_only=True) as uow:
        assert result.document_id is not None
        document = uow.inbound.get(result.document_id)
        stored = uow.inbound.get_content(result.document_id)
    assert document is not None
    assert document.as4_message_id == msg.message_id
    assert stored is not None
    assert stored.validation_report == {"rule_set": RULE_SET, "valid": True, "issues": []}


class ProcessDied(BaseException):
    """Stands for the API process dying at this point (nothing after it runs, no handler catches it)."""


def test_a_crash_between_the_two_commits_loses_nothing_and_is_repaired_without_the_sender(
    store: FlakyStore, validator: StubValidator
) -> None:
    msg = make_message()
    validator.error = ProcessDied()
    crashed = make_receiver(store, validator)
    with pytest.raises(ProcessDied):
        post(crashed, msg)
    # The receipt's unit of work holds the business document too: accepted never means missing.
    with store.inner.unit_of_work(read_only=True) as uow:
        record = uow.messages.get(msg.message_id, Direction.IN)
        assert record is not None
        assert record.document_id is not None
        document = uow.inbound.get(record.document_id)
        assert document is not None
        assert (document.status, document.status_reason) == (InboundStatus.RECEIVED, VALIDATION_PENDING)
        stored = uow.inbound.get_content(document.id)
        assert stored is not None
        assert stored.validation_report is None
    # Other RECEIVED documents (no rule set for their type) are not pending and are left alone.
    validator.error = None
    ubl = b'<ApplicationResponse xmlns="urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"/>'
    other = build_sbd(
        ubl,
        sender=SENDER,
        receiver=RECEIVER,
        document_type=INVOICE_RESPONSE,
        process=INVOICE_RESPONSE_PROCESS,
        country_c1="BE",
        instance_id="inst-ir",
        created=NOW,
    )
    post(crashed, make_message(other, message_id="msg-ir@gateway.test"))
    calls = validator.calls

    seen: list[tuple[str, ReceivedEnvelope]] = []
    # start-up after the crash: no resend needed
    restarted = make_receiver(store, validator, on_received=lambda *args: seen.append(args))
    assert restarted.recover_pending() == 1
    assert validator.calls == calls + 1
    # The recovered document is handed on like a new one (MLS, answers); only the seat id is known now.
    # The recovered document's envelope knows the sender, and the verdict just recorded goes with it.
    [(seen_id, envelope)] = seen
    assert seen_id == document.id
    assert envelope.from_party == "POP000001"
    assert envelope.recorded is not None
    assert envelope.recorded.status is InboundStatus.VALID
    with store.inner.unit_of_work(read_only=True) as uow:
        repaired = uow.inbound.get(document.id)
        content = uow.inbound.get_content(document.id)
    assert repaired is not None
    assert (repaired.status, repaired.status_reason) == (InboundStatus.VALID, None)
    assert content is not None
    assert content.validation_report == {"rule_set": RULE_SET, "valid": True, "issues": []}
    assert restarted.recover_pending() == 0
    assert validator.calls == calls + 1
    # And the sender's resend, if it comes, gets the original receipt and changes nothing.
    again = post(restarted, msg)
    assert again.outcome is ReceiveOutcome.DUPLICATE_MESSAGE
    assert record.signal is not None
    assert again.signal == record.signal.raw.body
    assert again.status is InboundStatus.VALID
    assert len(seen) == 1


def test_a_message_stored_without_its_document_by_an_older_release_is_finished_on_resend(
    receiver: AS4Receiver, store: FlakyStore
) -> None:
    msg = make_message()
    first = post(receiver, msg)
    with store.inner.engine.begin() as connection:  # what a crash left behind before the fix
        connection.execute(delete(inbound_documents))
    again = post(receiver, msg)
    assert again.outcome is ReceiveOutcome.DUPLICATE_MESSAGE
    assert again.document_id == first.document_id
    assert again.status is InboundStatus.VALID
    assert inbound_count(store) == 1


def test_in_worker_mode_a_resend_leaves_a_pending_document_but_still_restores_a_missing_one(
    receiver: AS4Receiver, store: FlakyStore, validator: StubValidator
) -> None:
    # GATEWAY_AS4__AFTER_RECEIPT=worker: a pending document is the workers' to claim, but a document an
    # older release never stored is no worker's (none can claim it): the resend still restores it.
    msg = make_message()
    headers = tuple(msg.headers.items())
    first = receiver.receive(headers, msg.body, leave_pending=True)
    again = receiver.receive(headers, msg.body, leave_pending=True)
    assert (again.outcome, again.signal) == (ReceiveOutcome.DUPLICATE_MESSAGE, first.signal)
    assert again.status is InboundStatus.RECEIVED
    assert validator.calls == 0
    assert pending_documents(store) == 1
    with store.inner.engine.begin() as connection:  # what a crash left behind before the fix
        connection.execute(delete(inbound_documents))
    restored = receiver.receive(headers, msg.body, leave_pending=True)
    assert restored.document_id == first.document_id
    assert restored.status is InboundStatus.VALID
    assert validator.calls == 1
    assert inbound_count(store) == 1


def test_documents_without_a_rule_set_are_received_without_validation(
    receiver: AS4Receiver, store: FlakyStore, validator: StubValidator
) -> None:
    ubl = b'<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"/>'
    order = DocumentTypeID(
        "urn:oasis:names:specification:ubl:schema:xsd:Order-2::Order"
        "##urn:fdc:peppol.eu:poacc:trns:order:3::2.1"
    )
    sbd = build_sbd(
        ubl,
        sender=SENDER,
        receiver=RECEIVER,
        document_type=order,
        process=ProcessID("urn:fdc:peppol.eu:poacc:bis:ordering:3"),
        country_c1="BE",
        instance_id="inst-order",
        created=NOW,
    )
    result = post(receiver, make_message(sbd))
    assert result.outcome is ReceiveOutcome.ACCEPTED
    assert result.status is InboundStatus.RECEIVED
    assert validator.calls == 0
    assert inbound_count(store) == 1


def stored_number(store: FlakyStore, result: ReceiveResult) -> str | None:
    assert result.document_id is not None
    with store.inner.unit_of_work(read_only=True) as uow:
        document = uow.inbound.get(result.document_id)
    assert document is not None
    return document.document_number


def test_the_documents_number_is_stored_with_its_verdict_valid_or_not(
    receiver: AS4Receiver, store: FlakyStore, validator: StubValidator
) -> None:
    assert stored_number(store, post(receiver, make_message())) == "KIT-2024-0001"  # BT-1 of the sample
    validator.fatal = (Finding("BR-CO-15", Severity.FATAL, Layer.CEN, "totals"),)
    long = "N" * 250
    invoice = INVOICE.read_bytes().replace(b"KIT-2024-0001", long.encode(), 1)
    result = post(
        receiver, make_message(make_sbd(invoice, instance_id="inst-long"), message_id="msg-2@gateway.test")
    )
    assert result.status is InboundStatus.INVALID
    assert stored_number(store, result) == "N" * 200  # bounded as an expense's number


def test_a_document_that_is_not_parsed_has_no_number(
    receiver: AS4Receiver, store: FlakyStore, validator: StubValidator
) -> None:
    validator.error = XMLInputError("not well-formed")
    result = post(receiver, make_message())
    assert result.status is InboundStatus.INVALID
    assert stored_number(store, result) is None


def test_invoice_responses_are_validated_with_the_t111_rule_set(
    receiver: AS4Receiver, store: FlakyStore, validator: StubValidator
) -> None:
    ubl = (
        b'<ApplicationResponse xmlns="urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"'
        b' xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
        b"<cbc:ID>IR-7</cbc:ID></ApplicationResponse>"
    )
    sbd = build_sbd(
        ubl,
        sender=SENDER,
        receiver=RECEIVER,
        document_type=INVOICE_RESPONSE,
        process=INVOICE_RESPONSE_PROCESS,
        country_c1="BE",
        instance_id="inst-ir",
        created=NOW,
    )
    result = post(receiver, make_message(sbd))
    assert result.outcome is ReceiveOutcome.ACCEPTED
    assert result.status is InboundStatus.VALID
    assert validator.rule_sets == ["peppol-invoice-response-3-t111"]
    assert stored_number(store, result) == "IR-7"  # an Invoice Response's own ID


def test_a_document_above_the_document_limit_is_stored_and_refused_without_validation(
    store: FlakyStore, validator: StubValidator
) -> None:
    validator.error = RuntimeError("the validator must not run")  # it would leave the document RECEIVED
    result = post(make_receiver(store, validator, max_document=100), make_message())
    assert result.outcome is ReceiveOutcome.ACCEPTED  # the receipt: the MSH took the message (§7.1)
    assert result.status is InboundStatus.INVALID
    with store.inner.unit_of_work(read_only=True) as uow:
        assert result.document_id is not None
        document = uow.inbound.get(result.document_id)
        content = uow.inbound.get_content(result.document_id)
    assert document is not None
    assert document.status_reason == SIZE_RULE
    assert content is not None
    assert content.validation_report is not None
    (issue,) = content.validation_report["issues"]  # type: ignore[misc]
    assert issue["rule"] == SIZE_RULE
    assert "100-byte document limit" in issue["message"]


# --- evidence of rejected requests (issue 13) ---------------------------------------------------------------


def _stored(store: FlakyStore, key: str) -> Any:
    with store.inner.unit_of_work(read_only=True) as uow:
        record = uow.messages.get(key, Direction.IN)
    assert record is not None
    return record


CREDENTIALS = (
    ("Authorization", "Bearer secret-api-key-0123456789"),
    ("X-API-Key", "secret-api-key-0123456789"),
    ("Cookie", "session=secret"),
    ("Proxy-Authorization", "Basic c2VjcmV0"),
)


def test_credential_headers_are_never_stored(receiver: AS4Receiver, store: FlakyStore) -> None:
    msg = make_message()
    accepted = receiver.receive((*msg.headers.items(), *CREDENTIALS), msg.body)
    assert accepted.outcome is ReceiveOutcome.ACCEPTED
    junk = receiver.receive((("Content-Type", "text/plain"), *CREDENTIALS), b"junk")
    big = receiver.reject_oversized((("content-type", "text/plain"), *CREDENTIALS), b"", 10, 11)
    for key in (accepted.record_key, junk.record_key, big.record_key):
        names = {name.lower() for name, _ in _stored(store, key).request.headers}
        assert names.isdisjoint({"authorization", "x-api-key", "cookie", "proxy-authorization"})
        assert "content-type" in names


def test_junk_keeps_a_prefix_bounded_headers_and_hashes(receiver: AS4Receiver, store: FlakyStore) -> None:
    body = b"<junk>" + b"x" * 200_000
    headers = (("Content-Type", "text/xml"), *((f"X-Filler-{n}", "y" * 500) for n in range(20)))
    result = receiver.receive(headers, body)
    record = _stored(store, result.record_key)
    assert record.request.body == body[:DEFAULT_UNAUTHENTICATED_EVIDENCE_BYTES]
    assert sum(len(n) + len(v) for n, v in record.request.headers) <= DEFAULT_UNAUTHENTICATED_HEADER_BYTES
    assert record.request.headers[0] == ("Content-Type", "text/xml")
    summary = record.signal.receipt_summary
    assert summary["bodyBytes"] == len(body)
    assert summary["bodySha256"] == hashlib.sha256(body).hexdigest()
    assert summary["headersTruncated"] is True
    assert summary["authenticated"] is False
    assert record.signal.raw.body == b""  # the signed Error to junk is not kept


def test_a_refusal_after_authentication_keeps_the_whole_request(
    store: FlakyStore, validator: StubValidator
) -> None:
    receiver = make_receiver(store, validator, served={ParticipantID.parse("0208:0739484052")})
    msg = make_message()
    result = post(receiver, msg)  # signed by a trusted AP, for a participant we do not serve
    record = _stored(store, result.record_key)
    assert record.request.body == msg.body
    assert record.signal.raw.body == result.signal
    assert record.signal.receipt_summary["authenticated"] is True


def test_oversized_request_records_how_much_was_received(receiver: AS4Receiver, store: FlakyStore) -> None:
    result = receiver.reject_oversized((("Content-Type", "text/xml"),), b"a" * 2000, 1000, 5000)
    summary = _stored(store, result.record_key).signal.receipt_summary
    assert summary["bodyBytes"] == 5000
    assert summary["truncated"] is True


def test_the_expense_hook_shares_the_verdicts_unit_of_work_and_its_failure_costs_only_the_draft(
    store: FlakyStore, validator: StubValidator
) -> None:
    received: list[str] = []
    seen: list[tuple[str, object, str]] = []

    def draft(uow: Any, document_id: str, validated: Any) -> None:
        # Inside the unit of work that records the verdict: it already sees the document VALID.
        # Its facts come from the validation's tree (the invoice was read, not parsed again here).
        seen.append((document_id, uow.inbound.get(document_id).status, validated.model.number))
        raise StoreError("expenses: OperationalError")

    receiver = make_receiver(
        store, validator, on_valid=draft, on_received=lambda document_id, _: received.append(document_id)
    )
    result = post(receiver, make_message())
    assert result.status is InboundStatus.VALID
    assert seen == [(result.document_id, InboundStatus.VALID, "KIT-2024-0001")]
    assert received == [result.document_id]  # handed on once, after the verdict recorded alone
    assert pending_documents(store) == 0
