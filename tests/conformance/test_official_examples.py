"""Official examples validate as documented (bis-billing.md §5), and a differential check against the raw
official compiled XSLTs gives the same (rule, flag) multisets on every example and unit-test document."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from vefa import ARTEFACTS, RawRunner, read_suite

from gateway.validation import RULE_ERROR, Layer, Severity, ValidationEngine, ValidationReport

V21, V19 = "peppol-bis-billing-3.0.21", "peppol-bis-billing-3.0.19-sch"
RULE_SETS = (V21, V19)

PEPPOL_EXAMPLES = sorted((ARTEFACTS / "peppol-bis-billing-3.0.21" / "examples").glob("*.xml")) + sorted(
    (ARTEFACTS / "peppol-bis-billing-3.0.19" / "examples").glob("*.xml")
)
CEN_EXAMPLES = sorted((ARTEFACTS / "cen-en16931-1.3.16" / "ubl" / "examples").iterdir())
CEN_TESTFILES = sorted((ARTEFACTS / "cen-en16931-1.3.16" / "test" / "testfiles").glob("*.xml"))
ALL_EXAMPLES = PEPPOL_EXAMPLES + CEN_EXAMPLES + CEN_TESTFILES

#: CEN examples/testfiles that are also valid under the Peppol rules (bis-billing.md §5 table).
PEPPOL_VALID_CEN_FILES = {
    "BIS3_Invoice_positive.XML",
    "BIS3_Invoice_negativ.XML",
    "FT G2G_TD01 con Allegato, Bonifico e Split Payment.xml",
    "BIS_Billing_30-InomstatligFakturering.xml",
}

OFFICIAL_CEN = {
    V21: "peppol-bis-billing-3.0.21/xslt/CEN-EN16931-UBL.xslt",
    V19: "cen-en16931-1.3.16/ubl/xslt/EN16931-UBL-validation.xslt",  # the same CEN release as the sources
}
OFFICIAL_PEPPOL_21 = "peppol-bis-billing-3.0.21/xslt/PEPPOL-EN16931-UBL.xslt"
#: Peppol rules whose behaviour changed between 3.0.19 and 3.0.21 (release notes, bis-billing.md §1):
#: R007 accepts profile 02 / rejects versioned ids, R056-2 is a new NL warning, DK-R-017 was changed.
RELEASE_CHANGED_3019_3021 = {"PEPPOL-EN16931-R007", "PEPPOL-COMMON-R056-2", "DK-R-017"}


def _ids(paths: list[Path]) -> list[str]:
    return [p.relative_to(ARTEFACTS).as_posix() for p in paths]


def _multiset(report: ValidationReport, layer: Layer) -> Counter[tuple[str, str]]:
    return Counter((f.rule, f.severity.value) for f in report.findings if f.layer is layer)


@pytest.mark.parametrize("rule_set", RULE_SETS)
@pytest.mark.parametrize("path", PEPPOL_EXAMPLES, ids=_ids(PEPPOL_EXAMPLES))
def test_peppol_examples_are_clean(validation_engine: ValidationEngine, rule_set: str, path: Path) -> None:
    report = validation_engine.validate(path.read_bytes(), rule_set=rule_set)
    if rule_set == V19 and path.name == "base-example_profile02.xml":
        # Profile 02 (billing with invoice response) only exists from 3.0.21 on.
        assert [(f.rule, f.severity) for f in report.findings] == [("PEPPOL-EN16931-R007", Severity.FATAL)]
    else:
        assert report.findings == ()


@pytest.mark.parametrize("rule_set", RULE_SETS)
@pytest.mark.parametrize("path", CEN_EXAMPLES + CEN_TESTFILES, ids=_ids(CEN_EXAMPLES + CEN_TESTFILES))
def test_cen_examples(validation_engine: ValidationEngine, rule_set: str, path: Path) -> None:
    report = validation_engine.validate(path.read_bytes(), rule_set=rule_set)
    # XSD + CEN clean for every CEN example and test file.
    assert [f for f in report.findings if f.layer in (Layer.XSD, Layer.CEN)] == []
    if path.name in PEPPOL_VALID_CEN_FILES:
        assert report.valid, report.to_dict()
    else:
        assert not report.valid
        assert {f.layer for f in report.fatal} == {Layer.PEPPOL}
        assert RULE_ERROR not in {f.rule for f in report.findings}


def _unit_test_documents() -> list[tuple[str, bytes]]:
    tests = read_suite(ARTEFACTS / "peppol-bis-billing-3.0.19" / "unit-UBL-PEPPOL") + read_suite(
        ARTEFACTS / "cen-en16931-1.3.16" / "test" / "Invoice-unit-UBL"
    )
    return [(f"{t.file.name}#{t.number}", t.document) for t in tests]


def _corpus() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in ALL_EXAMPLES] + _unit_test_documents()


def _compare(
    ours: Counter[tuple[str, str]],
    raw: Counter[tuple[str, str]],
    ignore: set[str] = frozenset(),  # type: ignore[assignment]
) -> str | None:
    if ("ERROR", "") in raw:
        # The official transform aborted on a dynamic error (bis-billing.md §3.2 trap 2): ours must
        # report the layer as failed, never pass.
        return None if (RULE_ERROR, "fatal") in ours else "official XSLT aborted but no GATEWAY-RULE-ERROR"
    a = Counter({k: v for k, v in ours.items() if k[0] not in ignore})
    b = Counter({k: v for k, v in raw.items() if k[0] not in ignore})
    return None if a == b else f"ours-only {dict(a - b)}, official-only {dict(b - a)}"


def _safe_raw(raw_official: RawRunner, xslt: str, document: bytes) -> Counter[tuple[str, str]]:
    try:
        return raw_official(xslt, document)
    except Exception:  # saxonche raises its own error type on dynamic errors
        return Counter({("ERROR", ""): 1})


@pytest.mark.parametrize("rule_set", RULE_SETS)
def test_differential_cen_layer(
    validation_engine: ValidationEngine, raw_official: RawRunner, rule_set: str
) -> None:
    """Our CEN layer (official XSLT, or our compilation of the 1.3.16 sources) == the official XSLT."""
    mismatches = {}
    for name, document in _corpus():
        report = validation_engine.validate(document, rule_set=rule_set, layers={Layer.CEN})
        problem = _compare(
            _multiset(report, Layer.CEN), _safe_raw(raw_official, OFFICIAL_CEN[rule_set], document)
        )
        if problem:
            mismatches[name] = problem
    assert mismatches == {}


@pytest.mark.parametrize("rule_set", RULE_SETS)
def test_differential_peppol_layer(
    validation_engine: ValidationEngine, raw_official: RawRunner, rule_set: str
) -> None:
    """Our Peppol layer == the official 3.0.21 XSLT (3.0.19: except the rules changed by 3.0.20/3.0.21)."""
    ignore = set() if rule_set == V21 else RELEASE_CHANGED_3019_3021
    mismatches = {}
    for name, document in _corpus():
        report = validation_engine.validate(document, rule_set=rule_set, layers={Layer.PEPPOL})
        raw = _safe_raw(raw_official, OFFICIAL_PEPPOL_21, document)
        if rule_set == V19 and ("ERROR", "") in raw:
            # Our compiler isolates the error per rule (xsl:try) and keeps the other rules' findings;
            # the 3.0.21 official aborts. Only the error marker can be compared.
            assert (RULE_ERROR, "fatal") in _multiset(report, Layer.PEPPOL), name
            continue
        problem = _compare(_multiset(report, Layer.PEPPOL), raw, ignore)
        if problem:
            mismatches[name] = problem
    assert mismatches == {}
