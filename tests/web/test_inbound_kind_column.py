"""The received documents' list says each one's kind (invoice, credit note, Invoice Response, MLS), in the
page's words: the walk found them told apart only by their number or UUID. Another document type is named
by its root element, as the outbound list names a document posted as UBL."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from conftest import Site

from gateway.model import identifiers as ids
from gateway.model.responses import MLS_DOCUMENT_TYPE
from tests.contract.store_builders import T0, content, inbound

#: A document type the gateway has no kind for (an MLR: an ApplicationResponse of another profile).
MLR = ids.DocumentTypeID(
    "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2::ApplicationResponse"
    "##urn:fdc:peppol.eu:poacc:trns:mlr:3::2.1"
)
TYPES = {
    "KIND30-INV": ids.BIS_INVOICE,
    "KIND30-CN": ids.BIS_CREDIT_NOTE,
    "KIND30-IR": ids.INVOICE_RESPONSE,
    "KIND30-MLS": MLS_DOCUMENT_TYPE,
    "KIND30-MLR": MLR,
}
WORDS = {
    "en": ["invoice", "credit note", "Invoice Response", "MLS", "ApplicationResponse"],
    "fr": ["facture", "note de crédit", "Invoice Response", "MLS", "ApplicationResponse"],
    "nl": ["factuur", "creditnota", "Invoice Response", "MLS", "ApplicationResponse"],
}
HEADINGS = {"en": "Kind", "fr": "Type", "nl": "Soort"}


@pytest.fixture(name="received", scope="module")
def received_fixture(site: Site) -> None:
    with site.services.store.unit_of_work() as uow:
        for position, (number, document_type) in enumerate(TYPES.items()):
            document = inbound(received_at=T0 + timedelta(minutes=position))
            uow.inbound.add(replace(document, document_type=document_type, document_number=number), content())
        uow.commit()


@pytest.mark.usefixtures("received")
@pytest.mark.parametrize("language", ["en", "fr", "nl"])
def test_each_received_document_says_its_kind(login: Callable[[str], httpx.Client], language: str) -> None:
    answer = login("sam").get("/web/inbound", params={"number": "KIND30-*", "lang": language})
    assert answer.status_code == 200
    headings = re.findall(r'<th scope="col">([^<]*)</th>', answer.text)
    assert headings[2] == HEADINGS[language], headings
    rows = re.findall(r"<tr>(.*?)</tr>", answer.text, re.S)[1:]
    cells = [
        [html.unescape(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in rows
    ]
    # newest first: the MLR, the MLS, the Invoice Response, the credit note, the invoice
    assert [(row[1], row[2]) for row in cells] == list(zip(TYPES, WORDS[language], strict=True))[::-1]
    assert all(len(row) == len(headings) for row in cells)
