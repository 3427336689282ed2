"""UBL reader: what is not a BIS Billing invoice/credit note is refused with MappingError."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import MappingError, XMLInputError
from gateway.model import CreditNote, Invoice, VatCategory
from gateway.ubl import read_ubl


@pytest.fixture(scope="module")
def base_example(artefacts_dir: Path) -> bytes:
    return (artefacts_dir / "peppol-bis-billing-3.0.21" / "examples" / "base-example.xml").read_bytes()


def test_reads_stated_amounts_as_evidence(base_example: bytes) -> None:
    doc = read_ubl(base_example)
    assert isinstance(doc, Invoice)
    assert doc.totals is not None
    assert str(doc.totals.payable_amount) == "1656.25"
    assert doc.vat_breakdown is not None
    assert [(b.category, str(b.tax_amount)) for b in doc.vat_breakdown] == [(VatCategory.STANDARD, "331.25")]
    # lexical forms are kept exactly as stated ("2800", not "2800.00")
    assert [str(line.net_amount) for line in doc.lines] == ["2800", "-1500"]


def test_reads_credit_note(artefacts_dir: Path) -> None:
    data = (
        artefacts_dir / "peppol-bis-billing-3.0.21" / "examples" / "base-creditnote-correction.xml"
    ).read_bytes()
    doc = read_ubl(data)
    assert isinstance(doc, CreditNote)
    assert doc.type_code == "381"
    assert doc.preceding_invoices


def test_not_an_invoice() -> None:
    with pytest.raises(MappingError, match=r"not a UBL 2\.1 Invoice"):
        read_ubl(b"<Order xmlns='urn:oasis:names:specification:ubl:schema:xsd:Order-2'/>")


def test_not_en16931(base_example: bytes) -> None:
    data = base_example.replace(b"urn:cen.eu:en16931:2017#compliant#", b"urn:example:other#")
    with pytest.raises(MappingError, match="BT-24"):
        read_ubl(data)


def test_missing_mandatory_value(base_example: bytes) -> None:
    data = base_example.replace(b"<cbc:IssueDate>2017-11-13</cbc:IssueDate>", b"", 1)
    with pytest.raises(MappingError, match="issue_date"):
        read_ubl(data)


def test_bad_charge_indicator(artefacts_dir: Path) -> None:
    data = (artefacts_dir / "peppol-bis-billing-3.0.21" / "examples" / "Allowance-example.xml").read_bytes()
    with pytest.raises(MappingError, match="ChargeIndicator"):
        read_ubl(
            data.replace(
                b"<cbc:ChargeIndicator>true</cbc:ChargeIndicator>",
                b"<cbc:ChargeIndicator>1</cbc:ChargeIndicator>",
                1,
            )
        )


def test_dtd_is_refused_by_the_hardened_parser(base_example: bytes) -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>' + base_example.split(b"?>", 1)[1]
    with pytest.raises(XMLInputError):
        read_ubl(data)


@pytest.mark.parametrize("garbage", [b"", b"not xml", b"<Invoice/>", b"<a><b></a>"])
def test_garbage_is_refused_with_gateway_errors(garbage: bytes) -> None:
    with pytest.raises((MappingError, XMLInputError)):
        read_ubl(garbage)
