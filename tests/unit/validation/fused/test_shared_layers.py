"""The CEN and Peppol fused layers in ONE stylesheet (``write_fused_layers``, ``SharedLayers``): one walk
and one transform for both, each layer's report as its own fused stylesheet writes it, and, after a
dynamic error, each layer run alone in the same stylesheet so that an error stops only its own layer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from saxonche import PySaxonApiError

from gateway.validation import ArtefactStore, Evaluation, ValidationEngine
from gateway.validation import engine as engine_module
from gateway.validation.compact import MARKER, read_compact, read_report, split_reports
from gateway.validation.fused import ONLY_PARAMETER, CombineError, fuse_stylesheet, fuse_stylesheets
from gateway.validation.report import RULE_ERROR, Layer
from gateway.validation.saxon import SaxonRuntime, SharedLayers, XSLTLayer

RELEASE = "peppol-bis-billing-3.0.21"
CEN = f"{RELEASE}/xslt/CEN-EN16931-UBL.xslt"
PEPPOL = f"{RELEASE}/xslt/PEPPOL-EN16931-UBL.xslt"


def _field(text: str) -> str:
    return f"{len(text)}:{text}"


def test_split_reports_finds_each_layer_report_by_its_marker_where_a_finding_may_start() -> None:
    tricky = f"text holding the marker {MARKER} and 3:abc"  # a document's text reaches some fields
    first = MARKER + "".join(_field(f) for f in ("a", "BR-01", "fatal", "/x", "t", tricky))
    second = MARKER + "".join(_field(f) for f in ("r", "PEPPOL-R008", "warning", "/y", "u", "v"))
    empty = MARKER
    assert split_reports(first + empty + second) == [first, empty, second]
    assert read_compact(first)[0].text == " ".join(tricky.split())
    assert split_reports(first) == [first]


@pytest.mark.parametrize("output", ["<svrl:schematron-output/>", MARKER + "5:ab", MARKER + "x:1", ""])
def test_split_reports_leaves_anything_else_whole(output: str) -> None:
    assert split_reports(output) == [output]


@pytest.fixture(scope="module")
def runtime() -> SaxonRuntime:
    return SaxonRuntime()


@pytest.fixture(scope="module")
def stylesheets(artefacts_dir: Path) -> tuple[bytes, bytes, bytes]:
    """The shared stylesheet of CEN and Peppol, and each layer's own fused stylesheet."""
    cen, peppol = (artefacts_dir / CEN).read_bytes(), (artefacts_dir / PEPPOL).read_bytes()
    return fuse_stylesheets([cen, peppol], ["cen", "peppol"]), fuse_stylesheet(cen), fuse_stylesheet(peppol)


def _documents(artefacts_dir: Path) -> list[str]:
    example = (artefacts_dir / RELEASE / "examples/base-example.xml").read_text("utf-8")
    amount = '<cbc:LineExtensionAmount currencyID= "EUR">2800</cbc:LineExtensionAmount>'
    return [
        example,
        example.replace("<cbc:Note>", "<cbc:UUID>1</cbc:UUID><cbc:Note></cbc:Note><cbc:Note>", 1),  # both
        example.replace(amount, amount.replace("2800", "2800.001"), 1),
        example.replace('currencyID= "EUR"', 'currencyID="XXX"'),
    ]


def test_one_transform_reports_each_layer_as_its_own_fused_stylesheet(
    runtime: SaxonRuntime, stylesheets: tuple[bytes, bytes, bytes], artefacts_dir: Path
) -> None:
    shared_text, cen_text, peppol_text = stylesheets
    shared = SharedLayers(
        runtime, (Layer.CEN, Layer.PEPPOL), shared_text, name="both", parameter=ONLY_PARAMETER
    )
    cen = XSLTLayer(runtime, Layer.CEN, cen_text, name="cen")
    peppol = XSLTLayer(runtime, Layer.PEPPOL, peppol_text, name="peppol")
    alone = [
        XSLTLayer(runtime, layer, b"", name=layer.value, shared=(shared, layer.value))
        for layer in (Layer.CEN, Layer.PEPPOL)
    ]
    findings = [0, 0]
    for document in _documents(artefacts_dir):
        node = runtime.parse(document)
        want = [read_report(cen.output(node)), read_report(peppol.output(node))]
        outputs = shared.outputs(node)
        assert outputs is not None
        assert [read_report(output) for output in outputs] == want
        assert [read_report(layer.output(node)) for layer in alone] == want
        findings = [count + len(w) for count, w in zip(findings, want, strict=True)]
    assert min(findings) >= 2  # the documents fire rules in both layers
    assert shared_text.count(b'mode="fused-walk"') < cen_text.count(b'mode="fused-walk"') + peppol_text.count(
        b'mode="fused-walk"'
    )  # one walk: the names both layers dispatch on have one template


def test_an_error_in_one_layer_stops_the_transform_but_not_the_other_layer(
    runtime: SaxonRuntime, stylesheets: tuple[bytes, bytes, bytes], artefacts_dir: Path
) -> None:
    """Two ``cbc:ID`` in the seller's tax scheme: officially a CEN error (``upper-case()`` of two items);
    for Peppol only errors while matching (no match), so its findings stand."""
    shared = SharedLayers(
        runtime, (Layer.CEN, Layer.PEPPOL), stylesheets[0], name="both", parameter=ONLY_PARAMETER
    )
    example = (artefacts_dir / RELEASE / "examples/base-example.xml").read_text("utf-8")
    scheme = "<cac:TaxScheme>\n                    <cbc:ID>VAT</cbc:ID>"
    document = example.replace(scheme, scheme + "<cbc:ID>VAT</cbc:ID>", 1).replace(
        "<cbc:Note>", "<cbc:Note></cbc:Note><cbc:Note>", 1
    )
    node = runtime.parse(document)
    with pytest.raises(PySaxonApiError):
        shared.outputs(node)
    cen = XSLTLayer(runtime, Layer.CEN, b"", name="cen", shared=(shared, "cen"))
    peppol = XSLTLayer(runtime, Layer.PEPPOL, b"", name="peppol", shared=(shared, "peppol"))
    with pytest.raises(PySaxonApiError):
        cen.output(node)
    assert [f.id for f in read_report(peppol.output(node))] == ["PEPPOL-EN16931-R008"]


def test_the_engine_reports_as_the_official_engine_when_one_layer_errs(
    artefacts_dir: Path, tmp_path: Path
) -> None:
    store = ArtefactStore.from_paths(mirror=artefacts_dir, cache_dir=tmp_path)
    fused, official = ValidationEngine(store), ValidationEngine(store, evaluation=Evaluation.OFFICIAL)
    assert fused.compiled().shared is not None
    example = (artefacts_dir / RELEASE / "examples/base-example.xml").read_text("utf-8")
    scheme = "<cac:TaxScheme>\n                    <cbc:ID>VAT</cbc:ID>"
    document = example.replace(scheme, scheme + "<cbc:ID>VAT</cbc:ID>", 1).replace(
        "<cbc:Note>", "<cbc:Note></cbc:Note><cbc:Note>", 1
    )
    report = fused.validate(document.encode())
    assert report == official.validate(document.encode())
    assert [f.layer for f in report.findings if f.rule == RULE_ERROR] == [Layer.CEN]
    assert any(f.layer is Layer.PEPPOL for f in report.findings)


def test_the_engine_runs_the_layers_apart_when_they_cannot_share_a_stylesheet(
    artefacts_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object, **__: object) -> tuple[bytes, bool]:
        raise CombineError("two different declarations of ('x',)")

    monkeypatch.setattr(engine_module, "cached_fused_layers", refuse)
    store = ArtefactStore.from_paths(mirror=artefacts_dir, cache_dir=tmp_path)
    engine = ValidationEngine(store)
    compiled = engine.compiled()
    assert compiled.shared is None
    assert "cen-fuse" in compiled.build_seconds
    assert "peppol-fuse" in compiled.build_seconds
    example = (artefacts_dir / RELEASE / "examples/base-example.xml").read_bytes()
    assert engine.validate(example) == ValidationEngine(store, evaluation=Evaluation.OFFICIAL).validate(
        example
    )


_SKELETON = """<xsl:stylesheet version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:svrl="http://purl.oclc.org/dsdl/svrl" xmlns:{prefix}="{uri}">
  {declarations}
  <xsl:template match="/"><svrl:schematron-output>
    <xsl:apply-templates select="/" mode="{mode}"/></svrl:schematron-output></xsl:template>
  <xsl:template match="{prefix}:a" priority="1000" mode="{mode}">
    <svrl:fired-rule context="a"/>
    <xsl:choose><xsl:when test="string(.) = $expected"/><xsl:otherwise>
      <svrl:failed-assert test="string(.) = $expected" id="{mode}-1" flag="fatal" location="/a">
        <svrl:text>wrong</svrl:text></svrl:failed-assert></xsl:otherwise></xsl:choose>
    <xsl:apply-templates select="@*|*" mode="{mode}"/>
  </xsl:template>
  <xsl:template match="text()" priority="-1" mode="{mode}"/>
  <xsl:template match="@*|node()" priority="-2" mode="{mode}">
    <xsl:apply-templates select="@*|*" mode="{mode}"/></xsl:template>
</xsl:stylesheet>"""


def _skeleton(mode: str, *, prefix: str = "n", uri: str = "urn:n", expected: str = "'x'") -> bytes:
    declaration = f'<xsl:variable name="expected" select="{expected}"/>'
    return _SKELETON.format(prefix=prefix, uri=uri, mode=mode, declarations=declaration).encode()


def test_identical_declarations_are_kept_once(runtime: SaxonRuntime) -> None:
    shared_text = fuse_stylesheets([_skeleton("M1"), _skeleton("M2")], ["one", "two"])
    assert len(re.findall(rb'<xsl:variable name="expected"', shared_text)) == 1
    shared = SharedLayers(
        runtime, (Layer.CEN, Layer.PEPPOL), shared_text, name="both", parameter=ONLY_PARAMETER
    )
    outputs = shared.outputs(runtime.parse('<n:a xmlns:n="urn:n">y</n:a>'))
    assert outputs is not None
    assert [[f.id for f in read_report(output)] for output in outputs] == [["M1-1"], ["M2-1"]]


@pytest.mark.parametrize(
    ("second", "names"),
    [
        (_skeleton("M2", uri="urn:other"), ["one", "two"]),  # one prefix, two namespaces
        (_skeleton("M2", expected="'z'"), ["one", "two"]),  # one name, two declarations
        (_skeleton("M1"), ["one", "two"]),  # one pattern mode in both
        (_skeleton("M2"), ["one", "one"]),  # two layers of one name
    ],
)
def test_stylesheets_that_cannot_share_a_module_are_refused(second: bytes, names: list[str]) -> None:
    with pytest.raises(CombineError):
        fuse_stylesheets([_skeleton("M1"), second], names)


def test_a_declaration_named_like_the_gateways_own_is_refused() -> None:
    first = (
        _skeleton("M1")
        .replace(b'name="expected"', b'name="fused-only"')
        .replace(b"$expected", b"$fused-only")
    )
    with pytest.raises(CombineError):
        fuse_stylesheets([first, _skeleton("M2")], ["one", "two"])
