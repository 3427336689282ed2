"""Locations of findings without counting every preceding sibling (``fused.locations``).

The differential suite (tests/conformance/test_fused_differential.py, *many same-named siblings*)
proves the findings equal on the official stylesheets; these tests pin the rewrite on the skeleton's
location template run with saxonche.
"""

from __future__ import annotations

import pytest
from lxml import etree
from saxonche import PySaxonApiError, PySaxonProcessor

from gateway.validation.fused import fuse_stylesheet, fuse_stylesheets
from gateway.validation.fused.findings import NAMESPACE
from gateway.validation.fused.locations import (
    ACCUMULATOR,
    FUNCTION,
    linear_locations,
    with_linear_locations,
)
from gateway.validation.fused.skeleton import XSL

#: The skeleton's element template of the location mode, as the official stylesheets hold it.
TEMPLATE = """<xsl:template match="*" mode="schematron-get-full-path">
    <xsl:apply-templates mode="schematron-get-full-path" select="parent::*" />
    <xsl:text>/</xsl:text>
    <xsl:choose>
      <xsl:when test="namespace-uri()=''"><xsl:value-of select="name()" /></xsl:when>
      <xsl:otherwise>
        <xsl:text>*:</xsl:text><xsl:value-of select="local-name()" />
        <xsl:text>[namespace-uri()='</xsl:text><xsl:value-of select="namespace-uri()" />
        <xsl:text>']</xsl:text>
      </xsl:otherwise>
    </xsl:choose>
    <xsl:variable name="preceding" select="count(preceding-sibling::*[local-name()=local-name(current())
                                      and namespace-uri() = namespace-uri(current())])" />
    <xsl:text>[</xsl:text><xsl:value-of select="1+ $preceding" /><xsl:text>]</xsl:text>
  </xsl:template>"""
_COUNT = "count(preceding-sibling::*[local-name()=local-name(current())"


def _stylesheet(template: str = TEMPLATE) -> etree._Element:
    text = f"""<xsl:stylesheet xmlns:xsl="{XSL}" xmlns:fused="{NAMESPACE}"
        xmlns:xs="http://www.w3.org/2001/XMLSchema" exclude-result-prefixes="fused xs" version="3.0">
      <xsl:output method="text"/>
      {template}
      <xsl:template match="/">
        <xsl:for-each select="//*">
          <xsl:apply-templates select="." mode="schematron-get-full-path"/><xsl:text>&#10;</xsl:text>
        </xsl:for-each>
        <xsl:variable name="copy"><xsl:copy-of select="/*/*[last()]"/></xsl:variable>
        <xsl:for-each select="$copy/*/*">
          <xsl:apply-templates select="." mode="schematron-get-full-path"/>
        </xsl:for-each>
      </xsl:template>
    </xsl:stylesheet>"""
    return etree.fromstring(text.encode())


def _document() -> str:
    """Same-named siblings past 31 of three names in two namespaces and none, nested; the last child
    of the root holds 40 elements (copied into a temporary tree by the stylesheet)."""
    children = "".join(
        '<a:n xmlns:a="urn:a"/><n/><b:n xmlns:b="urn:b"><b:n/></b:n>' if i % 3 else "<m/><n><n/></n>"
        for i in range(120)
    )
    return f'<r xmlns:a="urn:a"><a:n/>{children}<p>{"<n/>" * 40}</p></r>'


@pytest.fixture(scope="module")
def saxon() -> PySaxonProcessor:
    return PySaxonProcessor(license=False)


def _run(saxon: PySaxonProcessor, stylesheet: etree._Element) -> str:
    text = etree.tostring(stylesheet).decode()
    executable = saxon.new_xslt30_processor().compile_stylesheet(stylesheet_text=text)
    return str(executable.transform_to_string(xdm_node=saxon.parse_xml(xml_text=_document())))


def test_rewritten_locations_equal_the_counted_ones(saxon: PySaxonProcessor) -> None:
    rewritten = _stylesheet()
    assert linear_locations(rewritten) == 1
    assert _COUNT not in etree.tostring(rewritten).decode()
    want = _run(saxon, _stylesheet())
    assert _run(saxon, rewritten) == want
    assert "/r[1]/*:n[namespace-uri()='urn:b'][80]/*:n[namespace-uri()='urn:b'][1]" in want
    assert "/r[1]/n[120]\n" in want
    assert "/r[1]/m[40]\n" in want
    assert "/p[1]/n[40]" in want  # the temporary tree's elements: counted, no accumulator there


def test_a_stylesheet_declaring_the_unnamed_mode_is_left_as_it_is() -> None:
    stylesheet = _stylesheet()
    etree.SubElement(stylesheet, f"{{{XSL}}}mode")
    before = etree.tostring(stylesheet)
    assert linear_locations(stylesheet) == 0
    assert etree.tostring(stylesheet) == before


def test_another_location_expression_is_left_as_it_is() -> None:
    other = TEMPLATE.replace("count(preceding-sibling::*[", "count(preceding-sibling::*[true() and ")
    stylesheet = _stylesheet(other)
    before = etree.tostring(stylesheet)
    assert linear_locations(stylesheet) == 0
    assert etree.tostring(stylesheet) == before


def test_fused_stylesheets_count_no_location(officials: list[bytes]) -> None:
    alone = [fuse_stylesheet(official) for official in officials]
    for fused in (*alone, fuse_stylesheets(officials, ["a", "b"])):
        text = fused.decode()
        assert _COUNT not in text
        assert f"{FUNCTION}(.)" in text
        assert f'use-accumulators="{ACCUMULATOR}"' in text


# Peppol R120's lets cast "" to xs:decimal (FORG0001) on this line, after 100 empty-note findings.
ERROR_DOCUMENT = f"""<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
  xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">{"<cbc:Note/>" * 100}
  <cac:InvoiceLine>
    <cbc:InvoicedQuantity unitCode="2D"></cbc:InvoicedQuantity>
    <cac:Price><cbc:BaseQuantity unitCode="MO"></cbc:BaseQuantity></cac:Price>
  </cac:InvoiceLine>
</Invoice>"""


def test_official_run_for_its_error_stops_on_the_same_error(
    saxon: PySaxonProcessor, officials: list[bytes]
) -> None:
    """The official stylesheet the engine runs for a dynamic error (``with_linear_locations``):
    its locations rewritten, the same error message; a stylesheet without the skeleton's count as it is."""
    node = saxon.parse_xml(xml_text=ERROR_DOCUMENT)
    messages = []
    for official in officials:
        rewritten = with_linear_locations(official)
        assert _COUNT not in rewritten.decode()
        assert _COUNT in official.decode()
        for text in (official, rewritten):
            executable = saxon.new_xslt30_processor().compile_stylesheet(stylesheet_text=text.decode())
            try:
                executable.transform_to_string(xdm_node=node)
                messages.append("")
            except PySaxonApiError as exc:
                messages.append(str(exc))
    assert messages[0] == messages[1] == ""  # CEN: no error, the same findings (the differential suite)
    assert messages[2] == messages[3]
    assert "xs:decimal" in messages[3]
    plain = b'<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="3.0"/>'
    assert with_linear_locations(plain) is plain
