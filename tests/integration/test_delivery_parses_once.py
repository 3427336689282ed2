"""Issue 12: a document is parsed once per side. The submit path parses and validates it and stores what
delivery needs (the buyer country of the reporting record); the worker then wraps it in the SBD and records
the delivered transmission without parsing it again. Real submit, real worker, real HTTP, both databases."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from delivery_support import ReceiverAP, UUIDs, queue_document, receiver_ap, write_directory
from lxml import etree

from gateway.as4 import builder as as4_builder
from gateway.model import Invoice, ParticipantID
from gateway.model.message import DeliveryStatus
from gateway.model.report import Transmission
from gateway.services.conversion import parse_document_json
from gateway.services.outbound import OutboundSubmitter, Submission, SubmissionOutcome
from gateway.services.outbound_input import PreparedDocument, prepare_json_document
from gateway.store import SQLDocumentStore
from gateway.transport.directory import load_directory
from gateway.validation import ValidationEngine
from gateway.xmlcore import parse as parse_module
from gateway.xmlcore import stream as stream_module
from tests.integration.test_delivery import Sender, store, url  # noqa: F401 - fixtures

#: A valid invoice to a buyer in the United States (BT-55 ``US``), addressed to BUYER.
POSTED = (Path(__file__).resolve().parents[1] / "data" / "documents" / "export-us.json").read_bytes()
BUYER = ParticipantID("0060", "123456789")
#: The document's own number: only the invoice's bytes (or an SBD around them) contain it.
NUMBER = b"2026-0004717"
#: Frames of the test receiver (it parses the SBD it receives): the other side, not counted.
_RECEIVER_SIDE = "delivery_support.py"


class ParseCounter:
    """Counts the parses of the document's bytes made by the sending side (the gateway's XML readers and
    lxml's own entry points, wherever a module imported them)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def counted(data: Any, *args: Any, **kwargs: Any) -> Any:
            text = data if isinstance(data, bytes | bytearray | memoryview) else b""
            if NUMBER in bytes(text) and not any(
                frame.filename.endswith(_RECEIVER_SIDE) for frame in inspect.stack(0)
            ):
                self.calls.append(name)
            return function(data, *args, **kwargs)

        return counted


@pytest.fixture
def receiver() -> ReceiverAP:
    return receiver_ap(served=frozenset({BUYER}))


@pytest.fixture
def sender(store: SQLDocumentStore, url: str, tmp_path: Path) -> Sender:  # noqa: F811 - fixture
    return Sender(store, load_directory(write_directory(tmp_path / "directory.json", url, participant=BUYER)))


def prepared() -> PreparedDocument:
    return prepare_json_document(parse_document_json(POSTED, Invoice))


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> ParseCounter:
    counter = ParseCounter()
    readers = {
        id(reader): reader
        for reader in (
            parse_module.parse_xml,
            stream_module.check_well_formed,
            stream_module.root_name,
            stream_module.top_level_element,
        )
    }
    for module in [m for name, m in sys.modules.items() if name.startswith("gateway") and m is not None]:
        for attribute, value in list(vars(module).items()):
            if value is not None and readers.get(id(value)) is value:
                monkeypatch.setattr(module, attribute, counter.wrap(value.__name__, value))
    for lxml_entry in ("fromstring", "XML", "parse"):
        monkeypatch.setattr(etree, lxml_entry, counter.wrap(lxml_entry, getattr(etree, lxml_entry)))
    return counter


def transmissions(sender: Sender) -> list[Transmission]:
    now = sender.clock.now()
    with sender.store.unit_of_work(read_only=True) as uow:
        return uow.reporting.transmissions(now - timedelta(days=1), now + timedelta(days=1))


def test_the_worker_parses_a_submitted_document_zero_times(
    sender: Sender, validation_engine: ValidationEngine, parses: ParseCounter
) -> None:
    submitter = OutboundSubmitter(
        store=sender.store,
        validation=validation_engine,
        clock=sender.clock,
        ids=UUIDs(),
        seller_id="0208:0739484052",
    )
    submitted = submitter.submit(Submission("POST /v1/outbound/invoices", POSTED), prepared)
    assert submitted.outcome is SubmissionOutcome.ACCEPTED, submitted.body
    assert parses.calls  # the submit side parsed it (the counter sees parses)
    parses.calls.clear()

    (result,) = sender.round()

    assert result.status is DeliveryStatus.DELIVERED
    assert parses.calls == []  # neither the SBD nor the reporting record parsed it again
    (counted,) = transmissions(sender)
    assert (counted.message_id, counted.c4_country) == (result.message_id, "US")  # BT-55 as submitted


def test_a_document_stored_without_its_buyer_country_is_parsed_once_for_it(
    sender: Sender, parses: ParseCounter
) -> None:
    # Documents stored before migration 0012 (or by a writer that does not know the country).
    queue_document(sender.store, receiver=BUYER, body=prepared().ubl)

    (result,) = sender.round()

    assert result.status is DeliveryStatus.DELIVERED
    assert parses.calls == ["top_level_element"]  # the reporting record's fallback, nothing else
    (counted,) = transmissions(sender)
    assert counted.c4_country == "US"


def test_the_worker_reads_back_no_sbd_header_it_wrote(
    sender: Sender, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SBD's header goes to the AS4 builder as written (``built_header``), not parsed back from the SBD.
    read: list[int] = []

    def counted(data: bytes, **kwargs: Any) -> Any:
        read.append(len(data))
        return real(data, **kwargs)

    real = as4_builder.read_sbd_header
    monkeypatch.setattr(as4_builder, "read_sbd_header", counted)
    queue_document(sender.store, receiver=BUYER, body=prepared().ubl, buyer_country="US")

    (result,) = sender.round()

    assert result.status is DeliveryStatus.DELIVERED
    assert read == []


def test_the_document_used_here_names_its_number() -> None:
    assert NUMBER in prepared().ubl  # the counter recognises the document by it
