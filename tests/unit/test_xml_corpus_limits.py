"""Every XML document the gateway is known to meet passes the bounds checked on the bytes before a parse
(``xmlcore.start_tags``: attributes per start tag, namespace URI length, name length): the validation
artefacts (examples, XSDs, Schematron, XSLT), the AS4 test vectors and the interop sample, in files and in
the received MIME messages of the vectors, and every sending document the tests build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.xmlcore import check_start_tags
from tests.conftest import SHARED

ROOT = Path(__file__).resolve().parents[2]
SUFFIXES = {".xml", ".xsd", ".xsl", ".xslt", ".sch", ".as4in", ".as4out"}


def _files() -> list[Path]:
    where = [SHARED / "artefacts", SHARED / "as4-vectors", SHARED / "interop", ROOT / "tests" / "data"]
    return sorted(path for top in where for path in top.rglob("*") if path.suffix in SUFFIXES)


def test_every_known_xml_file_passes_the_bounds_checked_before_a_parse() -> None:
    files = _files()
    if len(files) < 500:
        pytest.fail(f"{len(files)} XML files under {SHARED}: the shared directory is missing")
    for path in files:
        check_start_tags(path.read_bytes(), what=str(path))


def test_every_test_document_as_the_gateway_writes_it_passes_them() -> None:
    from gateway.model import CreditNote, Invoice
    from gateway.services.outbound_input import prepare_json_document

    documents = sorted((ROOT / "tests" / "data" / "documents").glob("*.json"))
    assert documents
    for path in documents:
        data = json.loads(path.read_text())
        model = CreditNote if data["kind"] == "credit_note" else Invoice
        ubl = prepare_json_document(model.model_validate(data)).ubl
        check_start_tags(ubl, what=path.name)
