"""The fused stylesheets' compact report (gateway.validation.compact): what Saxon writes with
``FINDING_XPATH`` reads back as exactly what ``parse_svrl`` reads of the same findings as SVRL, whatever
characters their fields hold; a damaged report fails closed."""

from __future__ import annotations

import pytest
from lxml import etree
from saxonche import PySaxonProcessor

from gateway.validation.compact import (
    FINDING_XPATH,
    MARKER,
    ReportError,
    findings_from_report,
    read_compact,
    read_report,
)
from gateway.validation.report import RULE_ERROR, Finding, Layer, Severity
from gateway.validation.saxon import SaxonRuntime, XSLTLayer
from gateway.validation.schematron import parse_svrl

SVRL = "http://purl.oclc.org/dsdl/svrl"
XSL = "http://www.w3.org/1999/XSL/Transform"

#: Findings as SVRL, with awkward fields: colons and digits (the format's own separators), line ends,
#: tabs, characters outside the BMP, markup characters, a missing id / flag / text, nesting, and an
#: element that is no finding.
FINDINGS = f"""<findings xmlns:svrl="{SVRL}">
  <svrl:failed-assert id="R-1" flag="fatal" location="/a[1]/b[2]" test="x = '1:2'">
    <svrl:text>  [R-1]-Two
      lines:	tab 12:34 </svrl:text></svrl:failed-assert>
  <svrl:successful-report location="/*:Invoice[namespace-uri()='urn:x'][1]" test="&lt;&amp;&gt;&#10;&#13;">
    <svrl:text>\U0001f600 é 3:</svrl:text><svrl:text>second text, not read</svrl:text>
  </svrl:successful-report>
  <svrl:failed-assert id="" flag="warning" location="" test=""/>
  <svrl:fired-rule context="not a finding"/>
  <svrl:failed-assert id="outer" flag="warning" location="/o" test="o"><svrl:text>o<b>ut</b>er</svrl:text>
    <svrl:failed-assert id="inner" flag="fatal" location="/i" test="i"/></svrl:failed-assert>
</findings>"""

_WRITER = f"""<xsl:stylesheet version="3.0" xmlns:xsl="{XSL}">
  <xsl:output method="text"/>
  <xsl:template match="/">
    <xsl:text>{MARKER}</xsl:text>
    <xsl:for-each select="/findings/*"><xsl:value-of select="{FINDING_XPATH}"/></xsl:for-each>
  </xsl:template>
</xsl:stylesheet>"""


@pytest.fixture(scope="module")
def compact() -> str:
    """The compact report Saxon writes of ``FINDINGS`` (as a fused stylesheet writes its findings)."""
    saxon = PySaxonProcessor(license=False)
    executable = saxon.new_xslt30_processor().compile_stylesheet(stylesheet_text=_WRITER)
    return str(executable.transform_to_string(xdm_node=saxon.parse_xml(xml_text=FINDINGS)))


def test_the_compact_report_reads_as_the_svrl_of_the_same_findings(compact: str) -> None:
    svrl = etree.tostring(etree.fromstring(FINDINGS.encode()))
    expected = parse_svrl(svrl)
    assert [f.id for f in expected] == ["R-1", "", "", "outer", "inner"]  # the SVRL reading itself
    assert compact.startswith(MARKER)
    assert read_report(compact) == expected
    assert read_report(svrl.decode()) == expected  # SVRL still reads as SVRL


def test_a_run_without_findings_is_a_report_and_no_output_is_none() -> None:
    assert read_compact(MARKER) == []
    runtime = SaxonRuntime()
    silent = f'<xsl:stylesheet version="3.0" xmlns:xsl="{XSL}"><xsl:output method="text"/>'
    silent += '<xsl:template match="/"/></xsl:stylesheet>'
    layer = XSLTLayer(runtime, Layer.PEPPOL, silent.encode(), name="silent.xsl")
    [finding] = layer.run(runtime.parse("<a/>")).findings
    assert (finding.rule, finding.severity) == (RULE_ERROR, Severity.FATAL)
    assert "produced no report" in finding.message


@pytest.mark.parametrize(
    "damaged",
    [
        "1:a2:R1",  # ends inside a finding
        "1:a2:R15:fatal3:/a[1]0:9:text",  # a length past the end
        "x:a",  # no length
        "1:z0:0:0:0:0:",  # unknown kind
        "\u00b2:a",  # a digit to str.isdigit that int() refuses (superscript two)
    ],
)
def test_a_damaged_compact_report_is_a_fatal_finding_never_a_pass(damaged: str) -> None:
    with pytest.raises(ReportError):
        read_compact(MARKER + damaged)
    runtime = SaxonRuntime()
    layer = XSLTLayer(runtime, Layer.CEN, _WRITER.encode(), name="writer.xsl")
    [finding] = layer.findings(MARKER + damaged)
    assert (finding.rule, finding.severity, finding.layer) == (RULE_ERROR, Severity.FATAL, Layer.CEN)
    assert "unreadable report" in finding.message


def test_findings_carry_the_layer_and_the_svrl_reading_of_id_and_flag(compact: str) -> None:
    found = findings_from_report(compact, Layer.PEPPOL)
    assert found[0] == Finding(
        "R-1", Severity.FATAL, Layer.PEPPOL, "[R-1]-Two lines: tab 12:34", "/a[1]/b[2]"
    )
    # No id: the test stands in; no flag: fatal (fail closed), as for SVRL.
    assert (found[1].rule, found[1].severity) == ("assert:<&>", Severity.FATAL)
    assert found[1].message == "\U0001f600 é 3:"
