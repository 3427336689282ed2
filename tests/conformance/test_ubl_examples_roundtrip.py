"""Every official Peppol-valid example survives UBL -> model -> UBL, stays valid and keeps its warnings."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from gateway.ubl import read_ubl, write_ubl
from gateway.validation import ValidationEngine, ValidationReport

ARTEFACTS = Path(__file__).resolve().parents[2].parent / "shared" / "artefacts"

# bis-billing.md §5: the BIS examples are valid; of the CEN examples and test files only these four are
# clean under the Peppol rules too (the others are CEN-layer positives but Peppol negatives).
CEN_PEPPOL_VALID = (
    "cen-en16931-1.3.16/ubl/examples/BIS3_Invoice_positive.XML",
    "cen-en16931-1.3.16/ubl/examples/BIS3_Invoice_negativ.XML",
    "cen-en16931-1.3.16/ubl/examples/FT G2G_TD01 con Allegato, Bonifico e Split Payment.xml",
    "cen-en16931-1.3.16/test/testfiles/BIS_Billing_30-InomstatligFakturering.xml",
)


def _examples() -> list[str]:
    names = [
        str(p.relative_to(ARTEFACTS))
        for release in ("peppol-bis-billing-3.0.21", "peppol-bis-billing-3.0.19")
        for p in sorted((ARTEFACTS / release / "examples").glob("*.xml"))
    ]
    return names + list(CEN_PEPPOL_VALID)


def _warnings(report: ValidationReport) -> Counter[str]:
    return Counter(f.rule for f in report.warnings)


def test_example_set_is_complete() -> None:
    # 10 examples in 3.0.21, 9 in 3.0.19, 4 CEN files: a missing mirror must not shrink the suite silently.
    assert len(_examples()) == 23


@pytest.mark.parametrize("name", _examples())
def test_example_round_trip_stays_valid(
    name: str, artefacts_dir: Path, validation_engine: ValidationEngine
) -> None:
    original = (artefacts_dir / name).read_bytes()
    before = validation_engine.validate(original)
    assert before.valid, [f.to_dict() for f in before.fatal]

    doc = read_ubl(original)
    written = write_ubl(doc)
    after = validation_engine.validate(written)

    assert after.valid, [f.to_dict() for f in after.fatal]
    assert _warnings(after) == _warnings(before)
    # The model read back from our output is the model we wrote (stated amounts included), and the
    # writer is a fixed point from there on.
    again = read_ubl(written)
    assert again == doc
    assert write_ubl(again) == written
