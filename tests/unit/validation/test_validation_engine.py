"""ValidationEngine: independent layers, dynamic-error isolation, unknown roots, caching, threads."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from gateway.errors import ArtefactError, XMLInputError
from gateway.validation import (
    RULE_ERROR,
    ArtefactStore,
    Layer,
    Severity,
    ValidationEngine,
    ValidationReport,
)

V21, V19 = "peppol-bis-billing-3.0.21", "peppol-bis-billing-3.0.19-sch"
BOTH = pytest.mark.parametrize("rule_set", [V21, V19])

# CEN unit test BR-CL-23 test 2 (bis-billing.md §3.2 trap 2): empty quantities make the rule-level lets
# of PEPPOL-EN16931-R120 cast "" to xs:decimal -> FORG0001 in the Peppol layer.
FORG0001_DOC = b"""<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
  xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cac:InvoiceLine>
    <cbc:InvoicedQuantity unitCode="2D"></cbc:InvoicedQuantity>
    <cac:Price><cbc:BaseQuantity unitCode="MO"></cbc:BaseQuantity></cac:Price>
  </cac:InvoiceLine>
</Invoice>"""


@pytest.fixture(scope="module")
def base_example(artefacts_dir: Path) -> bytes:
    return (artefacts_dir / "peppol-bis-billing-3.0.21" / "examples" / "base-example.xml").read_bytes()


def _rules(report: ValidationReport, layer: Layer) -> Counter[tuple[str, Severity]]:
    return Counter((f.rule, f.severity) for f in report.findings if f.layer is layer)


@BOTH
def test_base_example_is_clean(
    validation_engine: ValidationEngine, base_example: bytes, rule_set: str
) -> None:
    report = validation_engine.validate(base_example, rule_set=rule_set)
    assert report.rule_set == rule_set
    assert report.findings == ()


@BOTH
def test_schematron_layers_run_when_the_xsd_fails(
    validation_engine: ValidationEngine, base_example: bytes, rule_set: str
) -> None:
    # cbc:IssueDate before cbc:ID breaks the XSD sequence; a wrong ProfileID breaks PEPPOL-EN16931-R007;
    # a total that does not add up breaks BR-CO-15 at the CEN layer.
    broken = (
        base_example.replace(b"<cbc:ID>Snippet1</cbc:ID>", b"")
        .replace(b"</cbc:IssueDate>", b"</cbc:IssueDate><cbc:ID>Snippet1</cbc:ID>", 1)
        .replace(b"urn:fdc:peppol.eu:2017:poacc:billing:01:1.0", b"urn:example:profile")
        .replace(
            b'<cbc:TaxInclusiveAmount currencyID="EUR">1656.25<',
            b'<cbc:TaxInclusiveAmount currencyID="EUR">1.00<',
        )
    )
    assert broken.count(b"<cbc:ID>Snippet1</cbc:ID>") == 1
    assert b"urn:example:profile" in broken
    report = validation_engine.validate(broken, rule_set=rule_set)
    assert not report.valid
    xsd = [f for f in report.findings if f.layer is Layer.XSD]
    assert xsd
    assert all(f.rule == "XSD" and f.location.startswith("line ") for f in xsd)
    assert ("PEPPOL-EN16931-R007", Severity.FATAL) in _rules(report, Layer.PEPPOL)
    assert ("BR-CO-15", Severity.FATAL) in _rules(report, Layer.CEN)
    finding = next(f for f in report.findings if f.rule == "BR-CO-15")
    assert finding.message
    assert finding.location.startswith("/")


@BOTH
def test_dynamic_error_is_a_fatal_finding_and_other_layers_still_report(
    validation_engine: ValidationEngine, rule_set: str
) -> None:
    report = validation_engine.validate(FORG0001_DOC, rule_set=rule_set)
    assert not report.valid
    errors = [f for f in report.findings if f.rule == RULE_ERROR]
    assert errors
    assert {(f.layer, f.severity) for f in errors} == {(Layer.PEPPOL, Severity.FATAL)}
    assert "FORG0001" in errors[0].message or "xs:decimal" in errors[0].message
    # The CEN layer is unaffected and reports the rule the unit test expects, twice.
    assert _rules(report, Layer.CEN)[("BR-CL-23", Severity.FATAL)] == 2


def test_layers_can_be_selected(validation_engine: ValidationEngine) -> None:
    report = validation_engine.validate(FORG0001_DOC, layers={Layer.CEN})
    assert {f.layer for f in report.findings} == {Layer.CEN}


def test_unknown_root_is_a_fatal_finding(validation_engine: ValidationEngine) -> None:
    report = validation_engine.validate(b"<Order xmlns='urn:example'/>")
    assert not report.valid
    first = report.findings[0]
    assert (first.rule, first.layer, first.severity) == ("XSD", Layer.XSD, Severity.FATAL)
    assert "urn:example" in first.message


def test_credit_notes_use_the_credit_note_schema(
    validation_engine: ValidationEngine, artefacts_dir: Path
) -> None:
    data = (
        artefacts_dir / "peppol-bis-billing-3.0.21" / "examples" / "base-creditnote-correction.xml"
    ).read_bytes()
    assert validation_engine.validate(data).findings == ()


@pytest.mark.parametrize(
    "data",
    [b"", b"not xml", b"<a>", b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>'],
    ids=["empty", "text", "open", "dtd"],
)
def test_non_xml_input_raises_xml_input_error(validation_engine: ValidationEngine, data: bytes) -> None:
    with pytest.raises(XMLInputError):
        validation_engine.validate(data)


def test_unknown_rule_set(validation_engine: ValidationEngine, base_example: bytes) -> None:
    with pytest.raises(ArtefactError, match="unknown rule set"):
        validation_engine.validate(base_example, rule_set="peppol-bis-billing-0.0")


def test_threads_get_the_same_answers(validation_engine: ValidationEngine, base_example: bytes) -> None:
    documents = [base_example, FORG0001_DOC, base_example.replace(b"1656.25", b"1.00")]
    expected = [validation_engine.validate(d) for d in documents]
    results: dict[int, list[ValidationReport]] = {}
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            results[worker] = [validation_engine.validate(documents[(worker + i) % 3]) for i in range(12)]
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    for worker, reports in results.items():
        for i, report in enumerate(reports):
            assert report == expected[(worker + i) % 3]


def test_compiled_schematron_is_cached_and_a_corrupt_entry_recompiled(
    artefacts_dir: Path, tmp_path: Path
) -> None:
    def build() -> dict[str, float]:
        engine = ValidationEngine(
            ArtefactStore.from_paths(mirror=artefacts_dir, cache_dir=tmp_path), default_rule_set=V19
        )
        engine.warm_up()
        return engine.compiled().build_seconds

    first = build()
    assert first["cen-sch-compile"] > 0
    assert first["peppol-sch-compile"] > 0
    cached = sorted((tmp_path / "compiled").glob("*.xslt"))
    assert [p.name.split("-")[0] for p in cached] == ["cen", "peppol"]
    second = build()
    assert second["cen-sch-compile"] == 0.0
    assert second["peppol-sch-compile"] == 0.0
    # Corrupt the CEN stylesheet: its checksum sidecar no longer matches -> recompiled, cache repaired.
    original = cached[0].read_bytes()
    cached[0].write_bytes(b"<garbage/>")
    third = build()
    assert third["cen-sch-compile"] > 0
    assert third["peppol-sch-compile"] == 0.0
    assert cached[0].read_bytes() == original


def test_a_cache_that_cannot_be_written_costs_the_cache_only(
    artefacts_dir: Path, tmp_path: Path, base_example: bytes
) -> None:
    # The compiled stylesheets are an optimisation: a full disk or a read-only cache directory (here a
    # file where the directory should be) must not stop validation. The OSError of the write used to
    # escape from the build: the service failed to start, or every validation of a rule set compiled
    # later (the next release, by date) failed.
    (tmp_path / "compiled").write_bytes(b"not a directory")
    engine = ValidationEngine(ArtefactStore.from_paths(mirror=artefacts_dir, cache_dir=tmp_path))
    assert engine.validate(base_example).findings == ()


def test_unfused_official_layers_locate_many_findings_as_published(
    validation_engine: ValidationEngine, artefacts_dir: Path
) -> None:
    """The MLS layer runs the official XSLT with its locations rewritten (``fused.locations``): 100
    empty ``cac:LineResponse`` give the findings of the published stylesheet, locations and all."""
    from gateway.validation import Evaluation

    example = (artefacts_dir / "peppol-bis-billing-3.0.21" / "MessageLevelResponse_Example.xml").read_bytes()
    start = example.index(b"<cac:LineResponse>")
    document = example[:start] + b"<cac:LineResponse></cac:LineResponse>" * 100 + example[start:]
    official = ValidationEngine(validation_engine.store, evaluation=Evaluation.OFFICIAL)
    report = validation_engine.validate(document, rule_set="peppol-mls-1.0.1")
    assert report == official.validate(document, rule_set="peppol-mls-1.0.1")
    schematron = [f for f in report.findings if f.layer is not Layer.XSD]
    assert len(schematron) >= 100
    assert any(f.location.endswith("'][100]") for f in schematron)
