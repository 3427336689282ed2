"""Findings written by one shared function: the same SVRL as the literal ``svrl:failed-assert`` bodies.

The differential suite (tests/conformance/test_fused_differential.py) proves the findings equal on the
official stylesheets; these tests pin the rewrite itself on small stylesheets run with saxonche.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from saxonche import PySaxonProcessor

from gateway.validation.fused import fuse_stylesheet
from gateway.validation.fused.findings import FUNCTION, NAMESPACE, declarations, share_findings
from gateway.validation.fused.skeleton import SVRL, XSL, svrl

ORDER, POSITION = "fused-pattern", "fused-assert"
LOCATION = """<xsl:template match="*" mode="schematron-select-full-path">
    <xsl:value-of select="concat('/', name(), '[', count(preceding-sibling::*) + 1, ']')"/>
  </xsl:template>"""


@pytest.fixture(scope="module")
def saxon() -> PySaxonProcessor:
    return PySaxonProcessor(license=False)


def _stylesheet(findings: str) -> etree._Element:
    text = f"""<xsl:stylesheet xmlns:xsl="{XSL}" xmlns:svrl="{SVRL}" xmlns:fused="{NAMESPACE}"
        xmlns:xs="http://www.w3.org/2001/XMLSchema" exclude-result-prefixes="fused xs" version="3.0">
      {LOCATION}
      <xsl:template match="/"><out><xsl:for-each select="//b">{findings}</xsl:for-each></out></xsl:template>
    </xsl:stylesheet>"""
    return etree.fromstring(text.encode())


def _finding(kind: str, test: str, text: str, extra: str = "") -> str:
    return f"""<svrl:{kind} test="{test}" {ORDER}="3" {extra}>
          <xsl:attribute name="id">R-1</xsl:attribute>
          <xsl:attribute name="flag">warning</xsl:attribute>
          <xsl:attribute name="location">
            <xsl:apply-templates mode="schematron-select-full-path" select="."/>
          </xsl:attribute>
          <svrl:text>{text}</svrl:text>
        </svrl:{kind}>"""


def _run(saxon: PySaxonProcessor, stylesheet: etree._Element) -> bytes:
    executable = saxon.new_xslt30_processor().compile_stylesheet(
        stylesheet_text=etree.tostring(stylesheet).decode()
    )
    document = saxon.parse_xml(xml_text="<a><b/><c/><b/></a>")
    return etree.tostring(etree.fromstring(executable.transform_to_string(xdm_node=document).encode()))


@pytest.mark.parametrize(
    ("kind", "test", "text", "extra"),
    [
        ("failed-assert", "count(x) = 1 and 'a' != &quot;b&quot;", "[R-1]-It's {not} an AVT &amp; &lt;", ""),
        ("successful-report", "string-length('{{x}}') &gt; 0", "  spaced\n  text  ", f'{POSITION}="17"'),
        ("failed-assert", "true()", "", ""),
        ("failed-assert", "true()", " \n ", ""),
        ("failed-assert", "matches(., '^[0-9]{9}$|^x{7, 08}$')", "t", ""),  # AVT numbers: ^[0-9]9$|^x7 8$
    ],
)
def test_a_shared_finding_writes_the_same_svrl(
    saxon: PySaxonProcessor, kind: str, test: str, text: str, extra: str
) -> None:
    literal = _stylesheet(_finding(kind, test, text, extra))
    shared = _stylesheet(_finding(kind, test, text, extra))
    assert share_findings(shared, ORDER, POSITION) == 1
    shared.extend(declarations(ORDER, POSITION))
    assert len(list(shared.iter(svrl(kind)))) == 1  # only the function's own element is left
    assert _run(saxon, shared) == _run(saxon, literal)
    assert b'location="/b[1]"' in _run(saxon, shared)


@pytest.mark.parametrize(
    "other",
    [
        _finding("failed-assert", "{count(x)}", "t"),  # an expression in the test attribute
        _finding("failed-assert", "matches(., 'x{²}')", "t"),  # a digit int() reads, not XPath
        _finding("failed-assert", "x", "t", 'role="r"'),  # an attribute the function does not write
        _finding("failed-assert", "x", '<xsl:value-of select="name()"/>'),  # a computed text
        _finding("failed-assert", "x", "t").replace('select="."', 'select=".."'),  # another location
    ],
)
def test_a_finding_of_another_shape_is_kept(other: str) -> None:
    stylesheet = _stylesheet(other)
    assert share_findings(stylesheet, ORDER, POSITION) == 0
    assert len(list(stylesheet.iter(svrl("failed-assert")))) == 1


def test_the_fused_stylesheets_write_every_finding_by_the_shared_function(artefacts_dir: Path) -> None:
    release = artefacts_dir / "peppol-bis-billing-3.0.21/xslt"
    for name in ("CEN-EN16931-UBL.xslt", "PEPPOL-EN16931-UBL.xslt"):
        fused = etree.fromstring(fuse_stylesheet((release / name).read_bytes()))
        literal = [f for f in fused.iter(svrl("failed-assert")) if f.getparent().tag != f"{{{XSL}}}function"]
        assert literal == []
        assert len([c for c in fused.iter(f"{{{XSL}}}sequence") if FUNCTION in c.get("select", "")]) > 100
