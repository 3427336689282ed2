"""The cooperative's sample documents convert to valid BIS Billing 3.0, and Belgian mutation vectors fire
the exact rule (bis-billing.md §4 harness plan item 4, §5 golden set)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from gateway.model import Document, Invoice, complete_document
from gateway.model.identifiers import EmailReceiver
from gateway.services.email_only import WAIVED_RULE, waive_email_address_rule
from gateway.ubl import read_ubl, write_ubl
from gateway.validation import Severity, ValidationEngine

DOCUMENTS = Path(__file__).resolve().parents[1] / "data" / "documents"
ADAPTER: TypeAdapter[Invoice] = TypeAdapter(Document)  # type: ignore[arg-type]

# A private person has no Peppol participant id: its e-mail becomes BT-49 with the EAS code EM, which the CEN
# rules accept (BR-CL-25) and Peppol's EAS list does not (CL008): the one finding the gateway waives for a
# document it e-mails outside Peppol (gateway.services.email_only).
EMAILED = {"private-person"}


def convert(name: str) -> bytes:
    data = json.loads((DOCUMENTS / f"{name}.json").read_text(encoding="utf-8"))
    return write_ubl(complete_document(ADAPTER.validate_python(data)))


def fatal_rules(engine: ValidationEngine, xml: bytes) -> set[str]:
    return {f.rule for f in engine.validate(xml).findings if f.severity is Severity.FATAL}


def test_sample_set_covers_every_vat_category() -> None:
    categories = set()
    for path in DOCUMENTS.glob("*.json"):
        doc = complete_document(ADAPTER.validate_python(json.loads(path.read_text(encoding="utf-8"))))
        categories |= {line.vat.category.value for line in doc.lines}
    assert categories >= {"S", "Z", "E", "AE", "K", "G", "O", "L", "M"}


@pytest.mark.parametrize("path", sorted(DOCUMENTS.glob("*.json")), ids=lambda p: p.stem)
def test_sample_document_converts_without_fatal_findings(
    path: Path, validation_engine: ValidationEngine
) -> None:
    xml = convert(path.stem)
    report = validation_engine.validate(xml)
    if path.stem in EMAILED:
        # Under the official rules alone: exactly CL008, on the buyer's EndpointID.
        (fatal,) = report.fatal
        assert fatal.rule == WAIVED_RULE
        assert re.search(r"AccountingCustomerParty.*/\*:EndpointID\[[^/]*$", fatal.location), fatal.location
        report = waive_email_address_rule(report, EmailReceiver("lies.vermeulen@mail.example"))
        assert [f.rule for f in report.warnings] == [WAIVED_RULE]
        report = replace(report, findings=report.fatal)
    assert report.fatal == (), [f.to_dict() for f in report.fatal]
    assert report.warnings == (), [f.to_dict() for f in report.warnings]
    # what we send reads back to what we computed
    assert write_ubl(read_ubl(xml)) == xml


def _sub(pattern: str, replacement: str, count: int = 1) -> Callable[[str], str]:
    def mutate(xml: str) -> str:
        new, n = re.subn(pattern, replacement, xml, count=count, flags=re.S)
        assert n, f"mutation pattern {pattern!r} did not match"
        return new

    return mutate


_SELLER_VAT = (
    "<cac:PartyTaxScheme><cbc:CompanyID>BE0739484052</cbc:CompanyID>"
    "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>\n      <cac:PartyLegalEntity>"
)

MUTATIONS: list[tuple[str, str, Callable[[str], str], set[str]]] = [
    (
        "kbo-mod97",
        "be-domestic-mixed-rates",
        _sub(r'<cbc:EndpointID schemeID="0208">0739484052<', '<cbc:EndpointID schemeID="0208">0739484053<'),
        {"PEPPOL-COMMON-R043"},
    ),
    (
        "no-buyer-ref-no-po",
        "be-domestic-mixed-rates",
        lambda x: _sub(r"<cbc:BuyerReference>.*?</cbc:BuyerReference>\s*", "")(
            _sub(r"<cac:OrderReference>.*?</cac:OrderReference>\s*", "")(x)
        ),
        {"PEPPOL-EN16931-R003"},
    ),
    ("o-with-seller-vat", "out-of-scope-ch", _sub(r"<cac:PartyLegalEntity>", _SELLER_VAT), {"BR-O-02"}),
    (
        "k-without-delivery",
        "eu-intra-community-goods-de",
        _sub(r"<cac:Delivery>.*?</cac:Delivery>\s*", ""),
        {"BR-IC-11", "BR-IC-12"},
    ),
    (
        "empty-element",
        "be-exempt-vatex",
        _sub(
            r"<cbc:BuyerReference>ZORG-2026-11</cbc:BuyerReference>",
            "<cbc:BuyerReference></cbc:BuyerReference>",
        ),
        {"PEPPOL-EN16931-R008"},
    ),
    (
        "wrong-total",
        "be-domestic-mixed-rates",
        _sub(
            r'<cbc:TaxInclusiveAmount currencyID="EUR">([0-9.]+)</cbc:TaxInclusiveAmount>',
            '<cbc:TaxInclusiveAmount currencyID="EUR">9999.99</cbc:TaxInclusiveAmount>',
        ),
        {"BR-CO-15", "BR-CO-16"},
    ),
    (
        "three-decimals",
        "be-exempt-vatex",
        _sub(
            r'<cbc:PayableAmount currencyID="EUR">([0-9]+)\.([0-9]{2})</cbc:PayableAmount>',
            r'<cbc:PayableAmount currencyID="EUR">\1.\g<2>0</cbc:PayableAmount>',
        ),
        {"BR-DEC-18", "UBL-DT-01"},
    ),
    (
        "wrong-vat-amount",
        "be-domestic-mixed-rates",
        _sub(
            r'(<cac:TaxSubtotal>\s*<cbc:TaxableAmount currencyID="EUR">[0-9.]+</cbc:TaxableAmount>\s*)'
            r'<cbc:TaxAmount currencyID="EUR">[0-9.]+</cbc:TaxAmount>',
            r'\1<cbc:TaxAmount currencyID="EUR">1.00</cbc:TaxAmount>',
        ),
        {"BR-CO-14", "BR-CO-17", "BR-S-09"},
    ),
]


@pytest.mark.parametrize(("case", "source", "mutate", "expected"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_belgian_mutation_fires_exact_rules(
    case: str,
    source: str,
    mutate: Callable[[str], str],
    expected: set[str],
    validation_engine: ValidationEngine,
) -> None:
    xml = convert(source)
    assert fatal_rules(validation_engine, xml) == set()
    mutated = mutate(xml.decode("utf-8")).encode("utf-8")
    assert fatal_rules(validation_engine, mutated) == expected
