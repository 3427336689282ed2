"""Differential suite: the fused single-pass stylesheets against the official compiled XSLTs (3.0.21).

For every official example (3.0.21, 3.0.19, CEN examples and test files), every vefa unit-test
document (Peppol unit-UBL-PEPPOL, CEN Invoice-unit-UBL) and a few hundred seeded mutants of the
examples, each layer (CEN, Peppol) must give the SAME SVRL findings in the same order: rule id,
flag, location, text and test of every failed assert. Where the official stylesheet stops on an
XPath dynamic error, the fused one must stop with the same error code.

The engine itself (fused by default) is also compared with an engine running the official stylesheets
on the examples and mutants, report against report.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from mutants import mutants
from saxonche import PySaxonApiError
from vefa import read_suite

from gateway.bench.large import attachment_invoice, many_lines_invoice
from gateway.errors import XMLInputError
from gateway.validation import (
    DEFAULT_RULE_SET_ID,
    ArtefactStore,
    Evaluation,
    ValidationEngine,
)
from gateway.validation.binary_stub import stub_binary_objects
from gateway.validation.blank_text import without_blank_text
from gateway.validation.compact import read_report
from gateway.validation.compiled import cached_fused_layers, cached_fused_stylesheet
from gateway.validation.fused import ONLY_PARAMETER
from gateway.validation.report import XSD_RULE
from gateway.validation.saxon import SaxonRuntime, SharedLayers, XSLTLayer
from gateway.validation.schematron import SVRLFinding
from gateway.validation.streamed import streamed_document

pytestmark = pytest.mark.slow

DOCUMENT_DIRS = (
    "peppol-bis-billing-3.0.21/examples",
    "peppol-bis-billing-3.0.19/examples",
    "cen-en16931-1.3.16/ubl/examples",
    "cen-en16931-1.3.16/test/testfiles",
)
UNIT_TEST_DIRS = ("peppol-bis-billing-3.0.19/unit-UBL-PEPPOL", "cen-en16931-1.3.16/test/Invoice-unit-UBL")
MUTANT_SOURCES = ("peppol-bis-billing-3.0.21/examples", "cen-en16931-1.3.16/ubl/examples")
MUTANTS_PER_EXAMPLE = 12
_ERROR_CODE = re.compile(r"\b([A-Z]{4}\d{4})\b")

Outcome = tuple[SVRLFinding, ...] | str


def _examples(artefacts: Path, folders: tuple[str, ...]) -> Iterator[tuple[str, bytes]]:
    for folder in folders:
        for path in sorted((artefacts / folder).rglob("*.xml")):
            yield f"{folder}/{path.relative_to(artefacts / folder)}", path.read_bytes()


def _corpus(artefacts: Path) -> list[tuple[str, bytes]]:
    documents = list(_examples(artefacts, DOCUMENT_DIRS))
    for folder in UNIT_TEST_DIRS:
        documents += [(f"{t.file.name} test {t.number}", t.document) for t in read_suite(artefacts / folder)]
    return documents


def _mutants(artefacts: Path) -> list[tuple[str, bytes]]:
    found = []
    for name, document in _examples(artefacts, MUTANT_SOURCES):
        found += list(mutants(name, document, MUTANTS_PER_EXAMPLE))
    return found


class _Pair:
    """The official and the fused stylesheet of each layer, on one Saxon runtime; and the one fused
    stylesheet of both layers the engine runs (``SharedLayers``), with each layer alone in it."""

    def __init__(self, store: ArtefactStore) -> None:
        self.runtime = SaxonRuntime()
        rule_set = store.manifest.rule_set(DEFAULT_RULE_SET_ID)
        shared_text, _ = cached_fused_layers(store, rule_set.layers)
        self.shared = SharedLayers(
            self.runtime,
            tuple(spec.layer for spec in rule_set.layers),
            shared_text,
            name="fused layers",
            parameter=ONLY_PARAMETER,
        )
        self.layers: list[tuple[XSLTLayer, XSLTLayer]] = []
        self.alone: list[XSLTLayer] = []
        for spec in rule_set.layers:
            official = XSLTLayer(self.runtime, spec.layer, store.read(spec.main), name=spec.main)
            fused_text, _ = cached_fused_stylesheet(store, spec)
            fused = XSLTLayer(self.runtime, spec.layer, fused_text, name=f"fused {spec.main}")
            self.layers.append((official, fused))
            alone = XSLTLayer(
                self.runtime,
                spec.layer,
                b"",
                name=f"alone {spec.main}",
                shared=(self.shared, spec.layer.value),
            )
            self.alone.append(alone)

    def differences(self, document: bytes) -> list[str]:
        root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
        node = self.runtime.parse(etree.tostring(root.getroottree(), encoding="unicode"))
        found = []
        wanted = []
        for (official, fused), alone in zip(self.layers, self.alone, strict=True):
            want = _outcome(official, node)
            wanted.append(want)
            for name, got in (
                ("fused", _outcome(fused, node)),
                ("alone in the shared", _outcome(alone, node)),
            ):
                if want != got:
                    found.append(f"{official.layer.value}: official {_show(want)} != {name} {_show(got)}")
        # All layers in one transform: each layer's report as official, or an error when a layer errs.
        try:
            outputs = self.shared.outputs(node)
        except PySaxonApiError:
            if not any(isinstance(want, str) for want in wanted):
                found.append("the shared stylesheet stopped on an error no official one stops on")
            return found
        if outputs is None:
            return [*found, "the shared stylesheet wrote no report per layer"]
        for (official, _), want, output in zip(self.layers, wanted, outputs, strict=True):
            got = tuple(read_report(output))
            if want != got:
                found.append(f"{official.layer.value}: official {_show(want)} != shared {_show(got)}")
        return found


def _outcome(layer: XSLTLayer, node: Any) -> Outcome:
    try:
        return tuple(read_report(layer.output(node)))
    except PySaxonApiError as exc:
        code = _ERROR_CODE.search(str(exc))
        return f"dynamic error {code.group(1) if code else str(exc)}"


def _show(outcome: Outcome) -> str:
    if isinstance(outcome, str):
        return outcome
    return str([(f.id, f.flag, f.location) for f in outcome][:6]) + f" ({len(outcome)} findings)"


@pytest.fixture(scope="module")
def store(artefacts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ArtefactStore:
    return ArtefactStore.from_paths(mirror=artefacts_dir, cache_dir=tmp_path_factory.mktemp("fused"))


@pytest.fixture(scope="module")
def pair(store: ArtefactStore) -> _Pair:
    return _Pair(store)


def _check(pair: _Pair, documents: list[tuple[str, bytes]]) -> None:
    failures = []
    for name, document in documents:
        failures += [f"{name}: {d}" for d in pair.differences(document)]
    assert not failures, f"{len(failures)} differences:\n" + "\n".join(failures[:20])


def test_official_examples_and_unit_tests_give_identical_findings(pair: _Pair, artefacts_dir: Path) -> None:
    documents = _corpus(artefacts_dir)
    assert len(documents) > 1200  # 3.0.21/3.0.19/CEN examples, CEN test files, 221 + 915 unit tests
    _check(pair, documents)


def test_mutants_give_identical_findings(pair: _Pair, artefacts_dir: Path) -> None:
    documents = _mutants(artefacts_dir)
    assert len(documents) >= 300
    _check(pair, documents)


def test_mutants_fire_rules_and_errors(pair: _Pair, artefacts_dir: Path) -> None:
    """The mutants exercise the rules: most fire something, and some stop an official XSLT (XPath error)."""
    outcomes = [
        _outcome(official, pair.runtime.parse(document.decode()))
        for _, document in _mutants(artefacts_dir)
        for official, _ in pair.layers
    ]
    assert sum(1 for o in outcomes if isinstance(o, tuple) and o) > len(outcomes) // 3
    assert sum(1 for o in outcomes if isinstance(o, str)) >= 10


def test_fused_engine_reports_equal_official_engine(store: ArtefactStore, artefacts_dir: Path) -> None:
    fused = ValidationEngine(store)
    official = ValidationEngine(store, evaluation=Evaluation.OFFICIAL)
    documents = list(_examples(artefacts_dir, MUTANT_SOURCES)) + _mutants(artefacts_dir)[::5]
    for name, document in documents:
        assert fused.validate(document) == official.validate(document), name


def test_fused_stylesheet_differs_from_official(store: ArtefactStore) -> None:
    """Guard against a vacuous suite: the engine's default really runs a different (fused) stylesheet."""
    spec = store.manifest.rule_set(DEFAULT_RULE_SET_ID).layers[0]
    fused, _ = cached_fused_stylesheet(store, spec)
    assert fused != store.read(spec.main)
    assert b"fused-walk" in fused
    assert b"svrl:fired-rule" not in fused


_BINARY = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}EmbeddedDocumentBinaryObject"
_BASE64 = base64.b64encode(bytes(range(256)) * 24).decode()  # 8 kB: above STUB_MIN_CHARS


def _attachment_variants(artefacts: Path) -> list[tuple[str, bytes]]:
    """Every corpus document with an embedded attachment, with its content as is, empty, blank, large
    base64, large blank and not base64 at all (the Schematron layers run on XSD-invalid documents too)."""
    variants = []
    for name, document in _corpus(artefacts):
        if b"EmbeddedDocumentBinaryObject" not in document:
            continue
        for label, content in (
            ("as is", None),
            ("empty", ""),
            ("blank", " \n\t "),
            ("base64", f"\n{_BASE64}\n"),
            ("large blank", " \n" * 3000),
            ("not base64", "%% not base64 %%" * 400),
        ):
            root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
            for element in root.iter(_BINARY):
                if content is not None and not len(element):
                    element.text = content
            variants.append((f"{name} ({label})", etree.tostring(root)))
    return variants


def test_attachment_placeholder_gives_identical_findings(pair: _Pair, artefacts_dir: Path) -> None:
    """binary_stub: the Schematron findings (official and fused) are the same with every attachment's
    content replaced by its placeholder, whatever the content (empty, blank, base64, not base64)."""
    variants = _attachment_variants(artefacts_dir)
    assert len(variants) >= 6 * 8
    failures, stubbed_count = [], 0
    for name, document in variants:
        root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
        stubbed_count += stub_binary_objects(root, min_chars=0)
        original = pair.runtime.parse(document.decode())
        stubbed = pair.runtime.parse(etree.tostring(root.getroottree(), encoding="unicode"))
        for (official, fused), alone in zip(pair.layers, pair.alone, strict=True):
            want = _outcome(official, original)
            for layer, node in ((official, stubbed), (fused, stubbed), (alone, stubbed)):
                got = _outcome(layer, node)
                if got != want:
                    failures.append(f"{name} {layer.name}: {_show(want)} != stubbed {_show(got)}")
    assert stubbed_count >= 4 * 8  # the placeholder really replaced content
    assert not failures, f"{len(failures)} differences:\n" + "\n".join(failures[:20])


def test_attachment_content_libxml2_accepts_is_refused_alike_by_both_engines(
    store: ArtefactStore, artefacts_dir: Path
) -> None:
    """Content outside xs:base64Binary that libxml2 lets through (the XSD layer's own check): the fused
    and the official engine report the same findings, the XSD one included."""
    fused, official = ValidationEngine(store), ValidationEngine(store, evaluation=Evaluation.OFFICIAL)
    documents = [(n, d) for n, d in _corpus(artefacts_dir) if b"EmbeddedDocumentBinaryObject" in d][:3]
    assert documents
    for name, document in documents:
        for content in ("QUJ!" * 1000, "!!!!"):
            root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
            for element in root.iter(_BINARY):
                element.text = content
            variant = etree.tostring(root)
            report = fused.validate(variant)
            assert report == official.validate(variant), name
            assert any("xs:base64Binary" in f.message for f in report.findings if f.rule == XSD_RULE), name


def test_large_documents_give_identical_findings(pair: _Pair, store: ArtefactStore) -> None:
    """The shapes of ``gateway bench large`` (an embedded PDF, many lines), smaller: official = fused,
    and the engine's report (with the placeholder) equals the official engine's."""
    documents = [
        ("attachment", attachment_invoice(400_000, tag="diff").ubl),
        ("1,000 lines", many_lines_invoice(1000, tag="diff").ubl),
    ]
    _check(pair, documents)
    fused, official = ValidationEngine(store), ValidationEngine(store, evaluation=Evaluation.OFFICIAL)
    for name, document in documents:
        assert fused.validate(document) == official.validate(document), name


_EXTENSIONS = "{urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2}UBLExtensions"


def _without_blank_nodes(root: etree._Element) -> int:
    """Remove every whitespace-only text node whose parent has element children and no other text,
    outside ``ext:UBLExtensions`` (what ``blank_text`` removes from a valid document, and more: it
    also runs on invalid ones, next to comments and CDATA). Returns how many were removed."""
    removed = 0
    for element in root.iter("*"):
        if (
            len(element) == 0
            or element.tag == _EXTENSIONS
            or any(a.tag == _EXTENSIONS for a in element.iterancestors())
        ):
            continue
        texts = [element.text, *(child.tail for child in element)]
        if any(text and text.strip(" \t\r\n") for text in texts):
            continue  # mixed content stays as it is
        removed += sum(1 for text in texts if text)
        element.text = None
        for child in element:
            child.tail = None
    return removed


def test_blank_text_between_elements_changes_no_finding(pair: _Pair, artefacts_dir: Path) -> None:
    """blank_text: the official stylesheets (and the fused ones) report the same SVRL - ids, flags,
    locations, texts - on every document of the corpus and every mutant with the whitespace between
    elements removed as on the document as received."""
    failures, removed = [], 0
    for name, document in _corpus(artefacts_dir) + _mutants(artefacts_dir):
        root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
        original = pair.runtime.parse(etree.tostring(root.getroottree(), encoding="unicode"))
        count = _without_blank_nodes(root)
        if not count:
            continue
        removed += count
        stripped = pair.runtime.parse(etree.tostring(root.getroottree(), encoding="unicode"))
        for (official, fused), alone in zip(pair.layers, pair.alone, strict=True):
            want = _outcome(official, original)
            for layer in (official, fused, alone):
                got = _outcome(layer, stripped)
                if got != want:
                    failures.append(f"{name} {layer.name}: {_show(want)} != without blank text {_show(got)}")
    assert removed > 100_000
    assert not failures, f"{len(failures)} differences:\n" + "\n".join(failures[:20])


def test_engine_reports_the_same_with_and_without_blank_text(
    store: ArtefactStore, artefacts_dir: Path
) -> None:
    """Every document of the corpus and every mutant through the streamed path (where valid: the
    whitespace between elements then removed) and through the tree path (as received): the same report."""
    stripping = ValidationEngine(store, stream_above_bytes=1)
    tree = ValidationEngine(store, stream_above_bytes=0)
    xsd = stripping.compiled().xsd
    stripped = 0
    large = [("1,000 lines", many_lines_invoice(1000, tag="blank").ubl)]
    for name, document in _corpus(artefacts_dir) + _mutants(artefacts_dir) + large:
        try:
            want = tree.validate(document)
        except XMLInputError:
            continue
        assert stripping.validate(document) == want, name
        streamed = streamed_document(document, xsd, max_bytes=stripping.max_bytes)
        if streamed is not None:
            stripped += without_blank_text(document) != document
    assert stripped > 150  # 180 on 2026-12-05


def _many_failing_siblings() -> bytes:
    """150 empty ``cbc:Note`` at the root, 120 empty no-namespace ``x`` between them, and 150 lines each
    with an empty ``cbc:Note`` and ``cbc:AccountingCost``: hundreds of findings on same-named siblings
    (their locations past the 31 siblings the location function still counts)."""
    ubl = many_lines_invoice(150, tag="siblings").ubl
    marker = b"<cbc:DocumentCurrencyCode>"
    notes = b"".join(b"<cbc:Note/>" + (b'<x xmlns=""/>' if i % 5 else b"") for i in range(150))
    ubl = ubl.replace(marker, notes + marker, 1)
    line = rb"(<cac:InvoiceLine>\s*<cbc:ID>[^<]*</cbc:ID>)"
    ubl = re.sub(line, rb"\1<cbc:Note/><cbc:AccountingCost/>", ubl)
    return ubl


def test_locations_of_many_same_named_siblings_are_official(pair: _Pair, store: ArtefactStore) -> None:
    """Findings on hundreds of same-named siblings: the fused locations (``fused.locations``: positions
    from an accumulator past 31 siblings) are the official ones, character for character."""
    document = _many_failing_siblings()
    _check(pair, [("many failing siblings", document)])
    fused, official = ValidationEngine(store), ValidationEngine(store, evaluation=Evaluation.OFFICIAL)
    report = fused.validate(document)
    assert report == official.validate(document)
    locations = {f.location for f in report.findings}
    assert len(report.findings) >= 450
    assert any("[150]" in location and "InvoiceLine" in location for location in locations)
    assert any(location.endswith("/x[120]") for location in locations)
