"""Contract: ``gateway archive export`` streams - it reads the period in keyset pages, writes each file as it
is read, and its memory does not grow with the number of documents (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import json
import re
import tracemalloc
from pathlib import Path
from typing import Any

from sqlalchemy import event
from store_builders import T0, as4_message, at, content, inbound, outbound

from gateway.cli.archive_export import export_archive
from gateway.model.message import AS4Signal, Direction, RawHTTPMessage, SignalKind
from gateway.services.archive import MANIFEST, SUMS, ArchiveInfo, ArchivePeriod, sha256_hex, verify
from gateway.store import SQLDocumentStore

PERIOD = ArchivePeriod(T0, at(24 * 60))
PAGE_QUERY = re.compile(r"ORDER BY (outbound|inbound)_documents\.\w+_at, \1_documents\.id\s+LIMIT", re.I)


def _export(store: SQLDocumentStore, folder: Path, *, page_size: int) -> dict[str, int]:
    summary = export_archive(
        store, folder, ArchiveInfo(PERIOD, at(2 * 24 * 60), 10, "test"), page_size=page_size
    )
    return summary.counts


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _digests(folder: Path) -> dict[str, str]:
    return {path: sha256_hex((folder / path).read_bytes()) for path in _files(folder)}


def test_export_reads_pages_and_writes_each_document_as_it_reads(
    store: SQLDocumentStore, tmp_path: Path
) -> None:
    # 7 outbound documents, four of them created at the same instant (a tie across a page boundary),
    # 5 inbound, one of each direction outside the period; pages of 3.
    outbound_docs = [outbound(created_at=at(10)) for _ in range(4)] + [
        outbound(created_at=at(m)) for m in (1, 20, 30)
    ]
    inbound_docs = [inbound(received_at=at(m)) for m in (5, 5, 6, 7, 8)]
    with store.unit_of_work() as uow:
        for sent in outbound_docs:
            uow.outbound.add(sent, content(f"<Invoice>{sent.id}</Invoice>".encode()))
        for received in inbound_docs:
            uow.inbound.add(received, content(f"<Invoice>{received.id}</Invoice>".encode()))
        uow.outbound.add(outbound(created_at=at(-1)), content())
        uow.inbound.add(inbound(received_at=at(24 * 60)), content())
        message = as4_message(document_id=outbound_docs[0].id, created_at=at(10))
        uow.messages.add(message)
        receipt = RawHTTPMessage((("Content-Type", "application/soap+xml"),), b"<Receipt/>")
        uow.messages.record_signal(
            message.message_id, Direction.OUT, AS4Signal(SignalKind.RECEIPT, receipt, at(11))
        )
        uow.commit()

    folder = tmp_path / "archive"
    written_at_page: list[tuple[str, int]] = []

    def page_query(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        found = PAGE_QUERY.search(statement)
        if found is not None:
            written = len([p for p in _files(folder) if not p.endswith(".partial")]) if folder.exists() else 0
            written_at_page.append((found.group(1), written))

    event.listen(store.engine, "before_cursor_execute", page_query)
    try:
        counts = _export(store, folder, page_size=3)
    finally:
        event.remove(store.engine, "before_cursor_execute", page_query)

    assert counts == {"outbound": 7, "inbound": 5}
    files = _files(folder)
    assert {p.split("/")[1] for p in files if p.startswith("outbound/")} == {d.id for d in outbound_docs}
    assert {p.split("/")[1] for p in files if p.startswith("inbound/")} == {d.id for d in inbound_docs}
    ids = [("outbound", d.id) for d in outbound_docs] + [("inbound", d.id) for d in inbound_docs]
    for direction, document_id in ids:
        body = (folder / direction / document_id / "document.xml").read_bytes()
        assert body == f"<Invoice>{document_id}</Invoice>".encode()
    assert f"outbound/{outbound_docs[0].id}/messages/01-signal-01-receipt.http" in files
    # Pages of 3: outbound 3 + 3 + 1, inbound 3 + 2; files were on disk before each later page was read.
    assert [direction for direction, _ in written_at_page] == ["outbound"] * 3 + ["inbound"] * 2
    written = [count for _, count in written_at_page]
    assert written[0] == 0
    assert all(later > earlier for earlier, later in itertools.pairwise(written))
    # The manifest written file by file is a complete, valid manifest.
    manifest = json.loads((folder / MANIFEST).read_bytes())
    assert set(manifest["files"]) == files - {MANIFEST, SUMS}
    assert verify((folder / MANIFEST).read_bytes(), (folder / SUMS).read_bytes(), _digests(folder)) == []


def test_export_memory_does_not_grow_with_the_documents(store: SQLDocumentStore, tmp_path: Path) -> None:
    size = 256 * 1024
    documents = 40  # 10 MiB of UBL; an exporter that gathers the files first holds all of it
    with store.unit_of_work() as uow:
        for n in range(documents):
            document = outbound(created_at=at(n))
            uow.outbound.add(document, content(bytes([n]) * size))
        uow.commit()
    _export(store, tmp_path / "warm-up", page_size=8)  # SQLAlchemy compiles and caches its statements

    tracemalloc.start()
    try:
        counts = _export(store, tmp_path / "archive", page_size=8)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert counts == {"outbound": documents, "inbound": 0}
    assert len(list((tmp_path / "archive" / "outbound").iterdir())) == documents
    assert peak < 8 * size, f"peak {peak / 2**20:.1f} MiB for {documents * size / 2**20:.0f} MiB of documents"
