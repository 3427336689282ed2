"""Peppol reporting's C4 country of a sent document (BT-55), read without a tree of the whole document."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from gateway.model import Invoice
from gateway.services.conversion import parse_document_json
from gateway.services.outbound_input import prepare_json_document
from gateway.services.reporting_records import buyer_country

DOCUMENTS = Path(__file__).resolve().parents[2] / "data" / "documents"


def _ubl(name: str, **changes: object) -> bytes:
    document = {**json.loads((DOCUMENTS / name).read_bytes()), **changes}
    return prepare_json_document(parse_document_json(json.dumps(document).encode(), Invoice)).ubl


def test_buyer_country_of_documents() -> None:
    assert buyer_country(_ubl("be-domestic-mixed-rates.json")) == "BE"
    assert buyer_country(_ubl("export-us.json")) == "US"


def test_buyer_country_after_a_large_attachment() -> None:
    template = json.loads((DOCUMENTS / "attachment-pdf.json").read_bytes())
    big = {**template["attachments"][0], "content": base64.b64encode(b"%PDF" + bytes(3_000_000)).decode()}
    assert buyer_country(_ubl("attachment-pdf.json", attachments=[big])) == "BE"


def test_not_a_document() -> None:
    assert buyer_country(b"not xml") == "ZZ"
    assert buyer_country(b"<Invoice/>") == "ZZ"
