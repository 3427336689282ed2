"""A document the rules cannot evaluate: the fused layer reports the official stylesheet's error.

The fused walk meets nodes in document order, the official stylesheet pattern by pattern: with several
XPath dynamic errors in one document they stop on different ones, so the fused layer asks the official
stylesheet for its message when it stops.
"""

from __future__ import annotations

from pathlib import Path

from gateway.validation import ValidationEngine
from gateway.validation.report import RULE_ERROR, Layer


def test_a_document_with_two_dynamic_errors_reports_the_official_one(
    artefacts_dir: Path, validation_engine: ValidationEngine
) -> None:
    """Two ``cbc:ID`` in the seller's tax scheme (an ``upper-case()`` of two items, met first in document
    order) and a line amount ``1e3`` (an ``xs:decimal`` cast, in an earlier pattern): officially the
    cast's error."""
    example = (artefacts_dir / "peppol-bis-billing-3.0.21/examples/base-example.xml").read_text("utf-8")
    scheme = "<cac:TaxScheme>\n                    <cbc:ID>VAT</cbc:ID>"
    amount = '<cbc:LineExtensionAmount currencyID= "EUR">2800</cbc:LineExtensionAmount>'
    document = example.replace(scheme, scheme + "<cbc:ID>VAT</cbc:ID>", 1).replace(
        amount, amount.replace("2800", "1e3"), 1
    )
    assert document.count("1e3") == 1
    assert document.count("<cbc:ID>VAT</cbc:ID><cbc:ID>VAT</cbc:ID>") == 1
    report = validation_engine.validate(document.encode(), layers={Layer.CEN})
    (error,) = [f for f in report.findings if f.rule == RULE_ERROR]
    assert 'Cannot convert string "1e3" to xs:decimal' in error.message
