"""A large document's bytes are not held in the process while Saxon transforms it, neither on the sender
(``POST /v1/outbound/ubl``) nor on the receiver (the work after an AS4 receipt), and what follows the
validation gets them intact (BENCHMARKS.md, *Memory, fifteenth pass*).

Measured with tracemalloc, started once the test has made its own copy of the document: the largest block
Python holds when the fused transform starts. Before, the request's body (sender) or the decompressed
business document (receiver) was held then: one block of at least the document's size."""

from __future__ import annotations

import errno
import logging
import os
import tempfile
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from as4_support import NOW, counter_ids, dev_pki
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.api.routes import as4 as as4_routes
from gateway.as4 import build_user_message
from gateway.bench.large import many_lines_invoice
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.errors import StoreError
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE
from gateway.model.message import VALIDATION_PENDING
from gateway.services.receive_finish import InboundFinisher
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.store.documents import SQLOutboundDocumentRepository
from gateway.ubl import build_sbd
from gateway.validation import ValidationEngine
from gateway.xmlcore import held as held_module
from gateway.xmlcore.held import HeldDocument
from tests.held_spills import record_spills
from tests.integration.conftest import SENDER_KEY
from tests.integration.expense_support import (  # noqa: F401 - fixtures
    COOP,
    SUPPLIER,
    ExpenseApp,
    app_fixture,
)

LINES = 1400  # ≈ 1.15 MB: the streamed path


@pytest.fixture
def at_transform(validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The largest memory block Python allocated under tracemalloc and still holds, each time the fused
    transform starts (the real transform still runs). The document's bytes, if held, are one such block."""
    shared: Any = validation_engine.compiled().shared
    outputs = shared.outputs
    seen: list[int] = []

    def transforming(node: Any) -> Any:
        blocks = tracemalloc.take_snapshot().statistics("traceback")
        seen.append(max(stat.size for stat in blocks))
        return outputs(node)

    monkeypatch.setattr(shared, "outputs", transforming)
    return seen


@pytest.fixture
def sender(
    artefacts_dir: Path, validation_engine: ValidationEngine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    settings = Settings.model_validate(
        {
            "artefacts": {"mirror": artefacts_dir, "cache_dir": tmp_path_factory.mktemp("cache")},
            "api": {"keys": [{"name": "invoicing", "role": "sender", "key": SENDER_KEY}]},
        }
    )
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'held.db'}"
    upgrade_database(url)
    services = Services(settings=settings, validation=validation_engine, store=SQLDocumentStore.from_url(url))
    with TestClient(
        create_app(settings, services=services, warm=False), headers={"Authorization": f"Bearer {SENDER_KEY}"}
    ) as client:
        yield client
    services.close()


def _no_held_file_named() -> bool:
    return not list(Path(tempfile.gettempdir()).glob("gateway-held-*"))


def _traced(post: Callable[[], httpx.Response]) -> httpx.Response:
    """``post()`` with tracemalloc on (the probes record the largest block it holds)."""
    tracemalloc.start()
    try:
        return post()
    finally:
        tracemalloc.stop()


def test_the_sender_holds_no_copy_of_the_posted_document_while_it_is_transformed(
    sender: TestClient, at_transform: list[int]
) -> None:
    ubl = many_lines_invoice(LINES, tag=uuid.uuid4().hex[:8]).ubl
    response = _traced(
        lambda: sender.post("/v1/outbound/ubl", content=ubl, headers={"Content-Type": "application/xml"})
    )
    assert response.status_code == 202, response.text
    assert len(at_transform) == 1
    largest = at_transform[0]
    assert largest < 0.5 * len(ubl), largest / len(ubl)  # before: the request's body, ≥ 1× the document
    stored = sender.get(f"/v1/outbound/{response.json()['id']}/ubl")
    assert stored.content == ubl  # read back intact, stored as posted
    assert _no_held_file_named()
    again = sender.post("/v1/outbound/ubl", content=ubl, headers={"Content-Type": "application/xml"})
    assert again.status_code == 200, again.text  # the same bytes: the duplicate answer, as before
    assert again.json()["duplicate"] is True


def test_the_receiver_holds_no_copy_of_the_business_document_while_it_is_transformed(
    app: ExpenseApp, at_transform: list[int]
) -> None:
    ubl = many_lines_invoice(LINES, tag=uuid.uuid4().hex[:8]).ubl
    message_id = f"{uuid.uuid4()}@supplier.test"
    message = _as4_message(ubl, message_id)
    response = _traced(lambda: app.client.post("/as4", content=message.body, headers=dict(message.headers)))
    assert response.status_code == 200
    assert b"Receipt" in response.content
    assert len(at_transform) == 1
    largest = at_transform[0]
    assert largest < 0.5 * len(ubl), largest / len(ubl)  # before: the business document, ≥ 1× the document
    _assert_valid_drafted_and_released(app, message_id, ubl)


def _assert_valid_drafted_and_released(app: ExpenseApp, message_id: str, ubl: bytes) -> None:
    """The received document is stored valid, its bytes as the SBD carried them (no XML declaration), an
    expense draft was made of it, and no held file is left with a name."""
    with app.store.unit_of_work(read_only=True) as uow:
        document = uow.inbound.get_by_message_id(message_id)
        assert document is not None
        content = uow.inbound.get_content(document.id)
        drafted = uow.expenses.get_by_inbound(document.id)
    assert document.status.value == "valid", document.status_reason
    assert content is not None
    assert content.body.strip() == ubl.split(b"?>", 1)[1].strip()
    assert drafted is not None
    # Validated without a tree (streamed): its number is the one its draft read (BT-1), no parse of its own.
    assert document.document_number == drafted.number
    assert drafted.number
    assert _no_held_file_named()


def _largest_block_at(owner: Any, name: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The largest single memory block Python allocated under tracemalloc and still holds, each time
    ``owner.name`` is called under tracemalloc (the real one then runs)."""
    real = getattr(owner, name)
    seen: list[int] = []

    def measured(*args: Any, **kwargs: Any) -> Any:
        if tracemalloc.is_tracing():
            seen.append(max(trace.size for trace in tracemalloc.take_snapshot().traces))
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, measured)
    return seen


def test_the_sender_holds_no_copy_of_the_posted_document_while_it_is_stored(
    sender: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbound row is written from the spilled body a slice at a time (BENCHMARKS.md, *Memory, eighteenth
    pass*): Python holds no block of the document's size beside SQLite's copies of the row."""
    at_insert = _largest_block_at(SQLOutboundDocumentRepository, "add", monkeypatch)
    warm = many_lines_invoice(LINES, tag=uuid.uuid4().hex[:8]).ubl  # rule sets compiled, caches filled
    assert sender.post(
        "/v1/outbound/ubl", content=warm, headers={"Content-Type": "application/xml"}
    ).is_success
    ubl = many_lines_invoice(LINES, tag=uuid.uuid4().hex[:8]).ubl
    headers = {"Content-Type": "application/xml", "Idempotency-Key": uuid.uuid4().hex}
    response = _traced(lambda: sender.post("/v1/outbound/ubl", content=ubl, headers=headers))
    assert response.status_code == 202, response.text
    assert len(at_insert) == 1  # the measured post's (the warm one's ran without tracemalloc)
    assert at_insert[0] < 0.5 * len(ubl), at_insert[0] / len(ubl)  # before: the body read back, ≥ 1×
    assert sender.get(f"/v1/outbound/{response.json()['id']}/ubl").content == ubl
    replayed = sender.post("/v1/outbound/ubl", content=ubl, headers=headers)  # the fingerprint kept
    assert replayed.status_code == 202, replayed.text
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    assert replayed.json() == response.json()
    assert _no_held_file_named()


def test_the_receiver_holds_no_copy_of_the_business_document_while_its_verdict_is_recorded(
    app: ExpenseApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After validation and the draft's reading, the document is spilled again for the verdict's record
    (the expense draft's lines, the MLS) and not read back after it (BENCHMARKS.md, *Memory, eighteenth
    pass*)."""
    at_record = _largest_block_at(InboundFinisher, "_record", monkeypatch)
    warm = _as4_message(
        many_lines_invoice(LINES, tag=uuid.uuid4().hex[:8]).ubl, f"{uuid.uuid4()}@supplier.test"
    )
    assert app.client.post("/as4", content=warm.body, headers=dict(warm.headers)).status_code == 200
    ubl = many_lines_invoice(LINES, tag=uuid.uuid4().hex[:8]).ubl
    message_id = f"{uuid.uuid4()}@supplier.test"
    message = _as4_message(ubl, message_id)
    response = _traced(lambda: app.client.post("/as4", content=message.body, headers=dict(message.headers)))
    assert response.status_code == 200
    assert len(at_record) == 1
    assert at_record[0] < 0.5 * len(ubl), at_record[0] / len(ubl)  # before: the document, ≥ 1×
    _assert_valid_drafted_and_released(app, message_id, ubl)


def _as4_message(ubl: bytes, message_id: str) -> Any:
    p = dev_pki()
    sbd = build_sbd(
        ubl,
        sender=SUPPLIER,
        receiver=COOP,
        document_type=BIS_INVOICE,
        process=BIS_BILLING_PROCESS,
        country_c1="BE",
        instance_id=str(uuid.uuid4()),
        created=NOW,
    )
    return build_user_message(
        sbd,
        sender=p.sender,
        receiver_certificate=p.receiver.certificate,
        message_id=message_id,
        timestamp=NOW,
        new_id=counter_ids(),
    )


@pytest.fixture
def reads(validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The engine compiled and warm; the first read-back of a spilled document fails (EIO), later ones read.
    The descriptors read back from, in order."""
    validation_engine.validate(many_lines_invoice(LINES, tag="warm").ubl)
    real = held_module._read_all
    seen: list[int] = []

    def read_all(fd: int, size: int) -> bytes:
        seen.append(fd)
        if len(seen) == 1:
            raise OSError(errno.EIO, "injected read-back failure")
        return real(fd, size)

    monkeypatch.setattr(held_module, "_read_all", read_all)
    return seen


def test_a_failed_read_back_on_the_receiver_leaves_the_document_pending_for_the_sweep(
    app: ExpenseApp, reads: list[int], tmp_path: Path
) -> None:
    """The receipt is sent; the read-back after Saxon's transform fails (EIO, or MemoryError under a memory
    limit). The validation's catch-all logs it, and meanwhile another thread opens a file, which takes the
    spill's freed descriptor number. The document must stay RECEIVED and pending (its bytes are in the
    store: the sweep validates it), never be recorded from that other file's bytes as "validation could
    not run", which nothing retries."""
    ubl = many_lines_invoice(LINES, tag=uuid.uuid4().hex[:8]).ubl
    opened: list[int] = []

    class OpensAFile(logging.Handler):  # another thread's file, opened as the failure is logged
        def emit(self, record: logging.LogRecord) -> None:
            if "validation of AS4 message" in record.getMessage() and not opened:
                while not opened or opened[-1] < reads[0]:  # up to the spill's freed number
                    fd = os.open(tmp_path / "other.xml", os.O_RDWR | os.O_CREAT, 0o600)
                    os.write(fd, b"<Other/>" + b" " * len(ubl))
                    opened.append(fd)

    handler = OpensAFile()
    logging.getLogger("gateway.receive").addHandler(handler)
    message_id = f"{uuid.uuid4()}@supplier.test"
    message = _as4_message(ubl, message_id)
    try:
        response = app.client.post("/as4", content=message.body, headers=dict(message.headers))
    finally:
        logging.getLogger("gateway.receive").removeHandler(handler)
        for fd in opened:
            os.close(fd)
    assert response.status_code == 200
    assert b"Receipt" in response.content
    assert reads  # the spill was read back (and failed)
    with app.store.unit_of_work(read_only=True) as uow:
        document = uow.inbound.get_by_message_id(message_id)
        assert document is not None
        content = uow.inbound.get_content(document.id)
    assert document.status.value == "received"
    assert document.status_reason == VALIDATION_PENDING, document.status_reason
    assert content is not None
    assert content.body.strip() == ubl.split(b"?>", 1)[1].strip()  # recoverable from the store
    assert _no_held_file_named()


def test_a_failed_read_back_on_the_sender_is_a_problem_with_nothing_stored(
    sender: TestClient, reads: list[int]
) -> None:
    """500 problem+json (our fault, not the document's), no descriptor left, nothing stored: the same post
    again (same Idempotency-Key) is accepted, not answered from a record of the failure."""
    ubl = many_lines_invoice(LINES, tag=uuid.uuid4().hex[:8]).ubl
    headers = {"Content-Type": "application/xml", "Idempotency-Key": uuid.uuid4().hex}
    with TestClient(sender.app, headers=dict(sender.headers), raise_server_exceptions=False) as client:
        assert client.get("/v1/outbound").status_code == 200  # the client's own loop and its descriptors
        descriptors = len(os.listdir("/proc/self/fd"))
        failed = client.post("/v1/outbound/ubl", content=ubl, headers=headers)
        assert failed.status_code == 500, failed.text
        assert failed.headers["content-type"].startswith("application/problem+json")
        assert len(os.listdir("/proc/self/fd")) == descriptors
        assert reads
        again = client.post("/v1/outbound/ubl", content=ubl, headers=headers)
    assert again.status_code == 202, again.text
    assert again.headers.get("Idempotent-Replayed") is None
    assert sender.get(f"/v1/outbound/{again.json()['id']}/ubl").content == ubl
    assert _no_held_file_named()


@pytest.fixture
def spills(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The descriptors of the temporary files held documents are spilled to, in order."""
    return record_spills(monkeypatch)


def _cut_at_insert(spills: list[int], monkeypatch: pytest.MonkeyPatch, *, after: bool) -> list[int]:
    """The spilled body's temporary file is cut short (as an I/O error would leave it) as the outbound row
    is inserted: before the insert reads it (``after=False``), or once it has (``after=True``)."""
    real = SQLOutboundDocumentRepository.add
    cut: list[int] = []

    def add(self: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("body") is None:
            return real(self, *args, **kwargs)
        if not after:
            os.ftruncate(spills[-1], 100_000)
            cut.append(spills[-1])
        event = real(self, *args, **kwargs)
        if after:
            os.ftruncate(spills[-1], 100_000)
            cut.append(spills[-1])
        return event

    monkeypatch.setattr(SQLOutboundDocumentRepository, "add", add)
    return cut


def test_a_spilled_body_that_cannot_be_read_at_the_insert_is_a_503_with_nothing_stored(
    sender: TestClient, spills: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its file fails as the row is written (BENCHMARKS.md, *Held documents, second review pass*): a retryable
    503 store-unavailable problem with Retry-After, not a 500; nothing stored, no descriptor left; the same
    post (same Idempotency-Key) is accepted after."""
    ubl = many_lines_invoice(LINES, tag=uuid.uuid4().hex[:8]).ubl
    headers = {"Content-Type": "application/xml", "Idempotency-Key": uuid.uuid4().hex}
    with TestClient(sender.app, headers=dict(sender.headers), raise_server_exceptions=False) as client:
        warm = many_lines_invoice(LINES, tag=uuid.uuid4().hex[:8]).ubl  # Saxon loaded, the store's pool
        assert client.post("/v1/outbound/ubl", content=warm).status_code == 202
        cut = _cut_at_insert(spills, monkeypatch, after=False)
        descriptors = len(os.listdir("/proc/self/fd"))
        failed = client.post("/v1/outbound/ubl", content=ubl, headers=headers)
        assert cut
        assert failed.status_code == 503, failed.text
        assert failed.headers["content-type"].startswith("application/problem+json")
        assert failed.json()["type"] == "/problems/store-unavailable"
        assert failed.headers["Retry-After"]
        assert len(os.listdir("/proc/self/fd")) == descriptors
        monkeypatch.undo()
        again = client.post("/v1/outbound/ubl", content=ubl, headers=headers)
    assert again.status_code == 202, again.text
    assert again.headers.get("Idempotent-Replayed") is None
    assert sender.get(f"/v1/outbound/{again.json()['id']}/ubl").content == ubl
    assert _no_held_file_named()


def test_a_spilled_body_is_not_read_back_once_it_is_stored(
    sender: TestClient, spills: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing reads the posted bytes after the insert: they are not read back from the file (a failure of
    that read answered 500 for a document stored and queued), and the answer is the acceptance."""
    cut = _cut_at_insert(spills, monkeypatch, after=True)
    ubl = many_lines_invoice(LINES, tag=uuid.uuid4().hex[:8]).ubl
    headers = {"Content-Type": "application/xml", "Idempotency-Key": uuid.uuid4().hex}
    with TestClient(sender.app, headers=dict(sender.headers), raise_server_exceptions=False) as client:
        accepted = client.post("/v1/outbound/ubl", content=ubl, headers=headers)
        assert cut
        assert accepted.status_code == 202, accepted.text
        replayed = client.post("/v1/outbound/ubl", content=ubl, headers=headers)
        other = many_lines_invoice(LINES, tag=uuid.uuid4().hex[:8]).ubl
        conflict = client.post("/v1/outbound/ubl", content=other, headers=headers)
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    assert replayed.json() == accepted.json()
    assert conflict.status_code == 409, conflict.text  # the same key, another large body
    assert conflict.json()["type"] == "/problems/idempotency-conflict"
    assert sender.get(f"/v1/outbound/{accepted.json()['id']}/ubl").content == ubl
    assert _no_held_file_named()


@pytest.mark.parametrize("read_back", ["reads", "fails"])
def test_a_store_failure_at_the_receivers_record_is_retried_from_the_spilled_document(
    app: ExpenseApp, monkeypatch: pytest.MonkeyPatch, read_back: str
) -> None:
    """The verdict's record fails (StoreError) while the document is spilled for it: the bytes are read back
    and the after-receipt retry records the verdict and the draft from them; if that read-back fails, the
    document stays pending with its bytes in the store (the sweep's). No descriptor is left either way."""
    monkeypatch.setattr(as4_routes, "AFTER_RECEIPT_PAUSE_SECONDS", 0)
    warm = _as4_message(
        many_lines_invoice(LINES, tag=uuid.uuid4().hex[:8]).ubl, f"{uuid.uuid4()}@supplier.test"
    )
    assert app.client.post("/as4", content=warm.body, headers=dict(warm.headers)).status_code == 200
    real_finish, real_record, real_read = (
        InboundFinisher.finish,
        InboundFinisher._record,
        held_module._read_all,
    )
    documents: list[HeldDocument] = []
    records: list[bool] = []  # each record: whether the document was out of the process then

    def finish(self: Any, facts: Any, document: Any) -> Any:
        documents.append(document)
        return real_finish(self, facts, document)

    def record(self: Any, *args: Any) -> Any:
        records.append(not documents[-1].in_memory)
        if len(records) == 1:
            if read_back == "fails":
                monkeypatch.setattr(held_module, "_read_all", _raising_eio)
            raise StoreError("injected: database is locked")
        return real_record(self, *args)

    monkeypatch.setattr(InboundFinisher, "finish", finish)
    monkeypatch.setattr(InboundFinisher, "_record", record)
    ubl = many_lines_invoice(LINES, tag=uuid.uuid4().hex[:8]).ubl
    message_id = f"{uuid.uuid4()}@supplier.test"
    message = _as4_message(ubl, message_id)
    descriptors = len(os.listdir("/proc/self/fd"))
    response = app.client.post("/as4", content=message.body, headers=dict(message.headers))
    assert response.status_code == 200
    assert b"Receipt" in response.content
    assert len(os.listdir("/proc/self/fd")) == descriptors
    monkeypatch.setattr(held_module, "_read_all", real_read)
    with app.store.unit_of_work(read_only=True) as uow:
        document = uow.inbound.get_by_message_id(message_id)
        assert document is not None
        content = uow.inbound.get_content(document.id)
        drafted = uow.expenses.get_by_inbound(document.id)
    assert content is not None
    assert content.body.strip() == ubl.split(b"?>", 1)[1].strip()
    if read_back == "reads":
        assert records == [True, True]  # spilled again for the retry's record
        assert document.status.value == "valid", document.status_reason
        assert drafted is not None
    else:
        assert records == [True]  # the retry finds the document lost: it records nothing
        assert document.status.value == "received"
        assert document.status_reason == VALIDATION_PENDING
        assert drafted is None
    assert _no_held_file_named()


def _raising_eio(fd: int, size: int) -> bytes:
    raise OSError(errno.EIO, "injected read-back failure")
