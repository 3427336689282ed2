"""Reading a large UBL document without a tree of the whole: the receiver's expense-draft model
(``read_ubl_streamed``) and the submit's header facts (``prepare_ubl_document`` from 1 MiB up) are the
same as the tree reads give, errors included."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.bench.large import many_lines_invoice
from gateway.errors import GatewayError
from gateway.model import CreditNote, Invoice
from gateway.services import outbound_input
from gateway.services.conversion import parse_document_json
from gateway.services.outbound_input import prepare_json_document, prepare_ubl_document
from gateway.ubl import read_ubl, read_ubl_streamed

DOCUMENTS = Path(__file__).parents[2] / "data" / "documents"


def _ubl(path: Path) -> bytes:
    data = path.read_bytes()
    model: type[Invoice] | type[CreditNote] = (
        CreditNote if json.loads(data).get("kind") == "credit_note" else Invoice
    )
    try:
        return prepare_json_document(parse_document_json(data, model)).ubl
    except GatewayError:
        return prepare_json_document(parse_document_json(data, CreditNote)).ubl


def _documents() -> Iterator[tuple[str, bytes]]:
    for path in sorted(DOCUMENTS.glob("*.json")):
        yield path.name, _ubl(path)


def _many_lines(ubl: bytes, copies: int) -> bytes:
    start = ubl.index(b"<cac:InvoiceLine>")
    end = ubl.rindex(b"</cac:InvoiceLine>") + len(b"</cac:InvoiceLine>")
    return ubl[:start] + ubl[start:end] * copies + ubl[end:]


def _mutants(ubl: bytes) -> Iterator[bytes]:
    yield ubl.replace(b"<cbc:ID>", b"<cbc:ID> ", 1)
    yield ubl.replace(
        b"</cac:AccountingSupplierParty>", b"</cac:AccountingSupplierParty><cbc:ID>2nd</cbc:ID>", 1
    )
    yield ubl.replace(b"<cbc:EndpointID", b"<cbc:EndpointIDx", 2).replace(
        b"</cbc:EndpointID>", b"</cbc:EndpointIDx>", 2
    )
    yield ubl.replace(b"urn:cen.eu:en16931:2017", b"urn:other", 1)
    yield ubl.replace(b"<cbc:InvoicedQuantity", b"<cbc:InvoicedQuantity>x</cbc:InvoicedQuantity><cbc:Skip", 1)
    yield ubl.replace(b"</cac:InvoiceLine>", b"</cac:InvoiceLine><cac:Delivery/>", 1)
    yield ubl[: len(ubl) // 2]
    yield b'<!DOCTYPE x [<!ENTITY e "v">]>' + ubl
    yield b"<Order/>"
    yield b""


def _outcome(read: Callable[[bytes], object], ubl: bytes) -> object:
    try:
        return read(ubl)
    except GatewayError as exc:
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize(("name", "ubl"), list(_documents()))
def test_the_pull_read_model_is_the_tree_read_model(name: str, ubl: bytes) -> None:
    for document in (ubl, _many_lines(ubl, 3) if b"<cac:InvoiceLine>" in ubl else ubl, *_mutants(ubl)):
        assert _outcome(read_ubl_streamed, document) == _outcome(read_ubl, document), name


def test_a_many_line_invoice_keeps_its_lines_in_order() -> None:
    ubl = many_lines_invoice(40, tag="pull").ubl
    tree, pulled = read_ubl(ubl), read_ubl_streamed(ubl)
    assert len(pulled.lines) == len(tree.lines) >= 40
    assert pulled == tree


@pytest.mark.parametrize(("name", "ubl"), list(_documents()))
def test_the_submit_reads_the_same_header_without_a_tree(
    name: str, ubl: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    for document in (ubl, *_mutants(ubl)):
        monkeypatch.setattr(outbound_input, "HEADER_PULL_ABOVE_BYTES", 10**9)
        tree = _outcome(lambda b: prepare_ubl_document(b, max_bytes=10**7), document)
        monkeypatch.setattr(outbound_input, "HEADER_PULL_ABOVE_BYTES", 0)
        pulled = _outcome(lambda b: prepare_ubl_document(b, max_bytes=10**7), document)
        assert pulled == tree, name
