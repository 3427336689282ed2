"""The ``inbound.invalid`` webhook (gateway.services.inbound_webhooks): written to the outbox in the unit of
work that records a received document's INVALID verdict, once per document, bounded whatever the report.
SQLite store, AS4 receiver, stub validator."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from as4_support import NOW, RECEIVER, SENDER, counter_ids, dev_pki, make_sbd
from sqlalchemy import select

from gateway.api.webhook_schemas import InboundInvalid
from gateway.as4 import OutgoingMessage, build_user_message
from gateway.errors import StoreError
from gateway.model import BIS_INVOICE
from gateway.model.message import VALIDATION_PENDING, InboundStatus
from gateway.model.responses import MLSCode
from gateway.services.inbound_webhooks import (
    INBOUND_INVALID,
    MAX_FINDING_TEXT,
    MAX_FINDINGS,
    InvalidDocumentWebhooks,
)
from gateway.services.message_status import PlannedMLS
from gateway.services.receive import SIZE_RULE, AS4Receiver, ReceiveOutcome, ReceiveResult
from gateway.services.webhooks import encode_payload
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.store.tables import webhook_outbox
from gateway.validation import Finding, Layer, Severity, ValidationReport
from gateway.xmlcore import parse_xml
from gateway.xmlcore.held import HeldDocument

RULE_SET = "peppol-bis-billing-3.0.21"


class FixedClock:
    def now(self) -> datetime:
        return NOW


class UUIDs:
    def new_id(self) -> str:
        return str(uuid.uuid4())


class StubValidator:
    """Returns the findings it is given; hands the parsed tree on as the real engine does."""

    def __init__(self) -> None:
        self.findings: tuple[Finding, ...] = ()

    def validate(
        self,
        xml: bytes | HeldDocument,
        *,
        rule_set: str | None = None,
        on_parsed: Callable[[Any], object] | None = None,
    ) -> ValidationReport:
        if on_parsed is not None:
            on_parsed(parse_xml(xml if isinstance(xml, bytes) else xml.data()))
        return ValidationReport(rule_set=rule_set or RULE_SET, findings=self.findings)


class _FailingOutbox:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def add(self, message: object) -> None:
        raise StoreError("insert webhook: OperationalError")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _UoW:
    def __init__(self, inner: Any, store: Store) -> None:
        self._inner, self._store = inner, store

    def __enter__(self) -> _UoW:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.__exit__(*exc)

    @property
    def outbox(self) -> Any:
        return _FailingOutbox(self._inner.outbox) if self._store.fail_outbox else self._inner.outbox

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Store:
    """A real SQLite store whose webhook outbox can be made to fail."""

    def __init__(self, inner: SQLDocumentStore) -> None:
        self.inner = inner
        self.fail_outbox = False

    def unit_of_work(self, *, read_only: bool = False) -> Any:
        return _UoW(self.inner.unit_of_work(read_only=read_only), self)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'receive.db'}"
    upgrade_database(url)
    inner = SQLDocumentStore.from_url(url)
    yield Store(inner)
    inner.close()


@pytest.fixture
def validator() -> StubValidator:
    return StubValidator()


def make_receiver(store: Store, validator: StubValidator, **kw: Any) -> AS4Receiver:
    p = dev_pki()
    values: dict[str, Any] = {
        "store": store,
        "validator": validator,
        "identity": p.receiver,
        "trust": p.trust,
        "served": {RECEIVER},
        "clock": FixedClock(),
        "ids": UUIDs(),
        "rule_set": lambda: RULE_SET,
        "message_id_domain": "gw.test",
        "on_invalid": InvalidDocumentWebhooks(UUIDs()),
    }
    values.update(kw)
    return AS4Receiver(**values)


def make_message(message_id: str = "msg-1@gateway.test") -> OutgoingMessage:
    p = dev_pki()
    return build_user_message(
        make_sbd(),
        sender=p.sender,
        receiver_certificate=p.receiver.certificate,
        message_id=message_id,
        timestamp=NOW,
        new_id=counter_ids(),
    )


def post(receiver: AS4Receiver, msg: OutgoingMessage) -> ReceiveResult:
    return receiver.receive(tuple(msg.headers.items()), msg.body)


def events(store: Store) -> list[dict[str, Any]]:
    with store.inner.engine.connect() as connection:
        rows = connection.execute(select(webhook_outbox.c.payload, webhook_outbox.c.document_id)).all()
    for payload, document_id in rows:
        assert document_id == payload["data"]["inbound_document_id"]
        InboundInvalid.model_validate(payload)  # as the OpenAPI ``webhooks`` section describes it
    return [payload for payload, _ in rows if payload["type"] == INBOUND_INVALID]


def fatal(rule: str, message: str = "totals do not add up") -> Finding:
    return Finding(rule, Severity.FATAL, Layer.CEN, message, "/Invoice/cac:LegalMonetaryTotal")


def test_an_invalid_document_is_announced_with_its_verdict(store: Store, validator: StubValidator) -> None:
    validator.findings = (
        Finding("PEPPOL-EN16931-R001", Severity.WARNING, Layer.PEPPOL, "a warning"),
        fatal("BR-CO-15"),
    )
    msg = make_message()
    result = post(make_receiver(store, validator), msg)
    assert result.status is InboundStatus.INVALID
    [event] = events(store)
    assert event["type"] == "inbound.invalid"
    assert event["created_at"] == NOW.isoformat()
    assert event["data"] == {
        "inbound_document_id": result.document_id,
        "as4_message_id": msg.message_id,
        "sender": str(SENDER),
        "document_type": str(BIS_INVOICE),
        "document_number": "KIT-2024-0001",  # BT-1, from the tree validation parsed
        "reason": "BR-CO-15",
        "rule_set": RULE_SET,
        "findings": [  # the fatal ones first
            {
                "rule": "BR-CO-15",
                "flag": "fatal",
                "layer": "cen",
                "message": "totals do not add up",
                "location": "/Invoice/cac:LegalMonetaryTotal",
            },
            {
                "rule": "PEPPOL-EN16931-R001",
                "flag": "warning",
                "layer": "peppol",
                "message": "a warning",
                "location": "",
            },
        ],
        "findings_total": 2,
        "fatal_total": 1,
        "report_url": f"/v1/inbound/{result.document_id}",
        "mls": None,
    }


def test_a_valid_document_is_not_announced(store: Store, validator: StubValidator) -> None:
    validator.findings = (Finding("PEPPOL-EN16931-R001", Severity.WARNING, Layer.PEPPOL, "a warning"),)
    result = post(make_receiver(store, validator), make_message())
    assert result.status is InboundStatus.VALID
    assert events(store) == []


def test_without_webhooks_nothing_is_announced(store: Store, validator: StubValidator) -> None:
    validator.findings = (fatal("BR-CO-15"),)
    result = post(make_receiver(store, validator, on_invalid=None), make_message())
    assert result.status is InboundStatus.INVALID
    assert events(store) == []


def test_a_duplicate_message_and_an_application_resend_are_not_announced_again(
    store: Store, validator: StubValidator
) -> None:
    validator.findings = (fatal("BR-CO-15"),)
    receiver = make_receiver(store, validator)
    msg = make_message()
    first = post(receiver, msg)
    assert post(receiver, msg).outcome is ReceiveOutcome.DUPLICATE_MESSAGE  # same AS4 MessageId
    resend = post(receiver, make_message("msg-2@gateway.test"))  # same SBD instance, new MessageId
    assert resend.document_id == first.document_id
    assert [e["data"]["inbound_document_id"] for e in events(store)] == [first.document_id]


def test_the_webhook_is_committed_with_the_verdict_or_not_at_all(
    store: Store, validator: StubValidator
) -> None:
    """A store failure writing the webhook rolls the verdict back: the document stays pending and the sender's
    resend (same MessageId) records both, once."""
    validator.findings = (fatal("BR-CO-15"),)
    receiver = make_receiver(store, validator)
    msg = make_message()
    store.fail_outbox = True
    with pytest.raises(StoreError):
        post(receiver, msg)
    with store.inner.unit_of_work(read_only=True) as uow:
        [pending] = uow.inbound.pending_validation(limit=10)
        assert pending.status_reason == VALIDATION_PENDING
    assert events(store) == []
    store.fail_outbox = False
    again = post(receiver, msg)
    assert again.status is InboundStatus.INVALID
    assert [e["data"]["inbound_document_id"] for e in events(store)] == [again.document_id]


def test_thousands_of_findings_make_a_bounded_payload(store: Store, validator: StubValidator) -> None:
    long = "x" * 20_000
    warnings = [
        Finding(f"W-{i}", Severity.WARNING, Layer.PEPPOL, long, "/Invoice" + "/cac:X" * 2000)
        for i in range(3000)
    ]
    fatals = [fatal(f"BR-{i}" + "R" * 500, long) for i in range(3000)]
    validator.findings = (*warnings, *fatals)
    post(make_receiver(store, validator), make_message())
    [event] = events(store)
    data = event["data"]
    assert data["findings_total"] == 6000
    assert data["fatal_total"] == 3000
    assert len(data["findings"]) == MAX_FINDINGS
    assert all(f["flag"] == "fatal" for f in data["findings"])  # fatal first, in report order
    assert data["findings"][0]["rule"].startswith("BR-0R")
    for finding in data["findings"]:
        assert max(len(finding[k]) for k in ("rule", "message", "location")) <= MAX_FINDING_TEXT
    assert len(data["reason"]) <= MAX_FINDING_TEXT
    assert len(encode_payload(event)) < 16 * 1024


def test_a_document_refused_by_size_is_announced_without_being_parsed(
    store: Store, validator: StubValidator
) -> None:
    result = post(make_receiver(store, validator, max_document=100), make_message())
    assert result.status is InboundStatus.INVALID
    [event] = events(store)
    assert event["data"]["reason"] == SIZE_RULE
    assert event["data"]["document_number"] is None  # never parsed
    assert [f["rule"] for f in event["data"]["findings"]] == [SIZE_RULE]


@dataclass
class RejectingMLS:
    """The MLS port deciding RE for an invalid document (``MessageStatusService`` does)."""

    refused: str | None = None

    def prepare(
        self, document_id: str, envelope: Any, read: Any, *, awaited: Any = None
    ) -> PlannedMLS | None:
        assert envelope.recorded.status is InboundStatus.INVALID
        if awaited is not None and not awaited():
            return None
        return PlannedMLS(document_id, MLSCode.REJECTED, response=None, refused=self.refused, at=NOW)  # type: ignore[arg-type]

    def queue(self, uow: Any, planned: PlannedMLS) -> str:
        return "mls-outbound-1"

    def queued(self, planned: PlannedMLS, mls_document: str) -> None:
        pass

    def read_answer(self, document_id: str, envelope: Any, business: bytes | None) -> None:
        return None

    def answer(self, uow: Any, document_id: str, read: Any) -> None:
        raise AssertionError("an invoice carries no answer")


@pytest.mark.parametrize("refused", [None, "SCH-MLS-01"])
def test_the_mls_rejection_queued_with_the_verdict_is_named(
    store: Store, validator: StubValidator, refused: str | None
) -> None:
    validator.findings = (fatal("BR-CO-15"),)
    post(make_receiver(store, validator, mls=RejectingMLS(refused)), make_message())
    [event] = events(store)
    assert event["data"]["mls"] == {
        "code": "RE",
        "outbound_document_id": "mls-outbound-1",
        "sent": refused is None,
        "refused": refused,
    }


def test_a_bug_building_the_event_never_costs_the_verdict(store: Store, validator: StubValidator) -> None:
    validator.findings = (fatal("BR-CO-15"),)

    def broken(uow: object, receipt: object) -> None:
        raise KeyError("bug")

    result = post(make_receiver(store, validator, on_invalid=broken), make_message())
    assert result.status is InboundStatus.INVALID
    with store.inner.unit_of_work(read_only=True) as uow:
        assert uow.inbound.pending_validation(limit=10) == []


def test_the_encoded_event_is_json(store: Store, validator: StubValidator) -> None:
    validator.findings = (fatal("BR-CO-15", "naïve – ünïcode"),)
    post(make_receiver(store, validator), make_message())
    [event] = events(store)
    assert json.loads(encode_payload(event))["data"]["findings"][0]["message"] == "naïve – ünïcode"


def test_two_finishers_of_one_document_announce_it_once(store: Store, validator: StubValidator) -> None:
    """The work after the receipt and a second finisher (a sweep, another process) both validate the
    document: only the one whose conditional record wins writes the webhook."""
    validator.findings = (fatal("BR-CO-15"),)
    receiver = make_receiver(store, validator)
    deferred: list[Any] = []
    msg = make_message()
    first = receiver.receive(tuple(msg.headers.items()), msg.body, defer=deferred.append)
    assert first.status is InboundStatus.RECEIVED  # answered before validation
    [finish] = deferred
    assert finish() is InboundStatus.INVALID
    assert finish() is InboundStatus.INVALID  # validated again, found recorded: nothing written
    assert [e["data"]["inbound_document_id"] for e in events(store)] == [first.document_id]
