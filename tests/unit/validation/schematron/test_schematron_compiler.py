"""Schematron semantics of the compiled XSLT, run with saxonche on tiny hand-written schemas."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree
from saxonche import PySaxonProcessor

from gateway.validation.schematron import RULE_ERROR_ID, SVRLFinding, compile_schematron, parse_svrl

NS = (
    'xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2" '
    'xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:u="utils"'
)
NS_DECL = """
  <ns prefix="inv" uri="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>
  <ns prefix="cac" uri="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"/>
  <ns prefix="cbc" uri="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"/>
  <ns prefix="u" uri="utils"/>
"""
INV = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

Run = Callable[[str, str], list[SVRLFinding]]


def _invoice(body: str) -> str:
    return f'<Invoice xmlns="{INV}" xmlns:cac="{CAC}" xmlns:cbc="{CBC}">{body}</Invoice>'


@pytest.fixture(scope="module")
def run() -> Run:
    processor = PySaxonProcessor(license=False)
    xslt = processor.new_xslt30_processor()

    def _run(schema: str, document: str) -> list[SVRLFinding]:
        stylesheet = compile_schematron(f"<schema {NS}>{NS_DECL}{schema}</schema>".encode())
        executable = xslt.compile_stylesheet(stylesheet_text=stylesheet.decode("utf-8"))
        node = processor.parse_xml(xml_text=document)
        return parse_svrl(str(executable.transform_to_string(xdm_node=node)).encode("utf-8"))

    return _run


def _ids(findings: list[SVRLFinding]) -> list[str]:
    return [f.id for f in findings]


def test_only_the_first_matching_rule_of_a_pattern_fires(run: Run) -> None:
    # bis-billing.md §3.2 trap 1 (PEPPOL-EN16931-R041 vs R043): an AllowanceCharge with a percentage
    # but no base amount matches both rules; only the first (R041) may fire, in this pattern.
    schema = """
      <pattern>
        <rule context="cac:AllowanceCharge[cbc:MultiplierFactorNumeric and not(cbc:BaseAmount)]">
          <assert id="R041" flag="fatal" test="false()">base amount required</assert>
        </rule>
        <rule context="cac:AllowanceCharge">
          <assert id="R043" flag="fatal" test="cbc:BaseAmount">never seen for the first node</assert>
        </rule>
      </pattern>
      <pattern>
        <rule context="cac:AllowanceCharge"><assert id="OTHER" flag="warning" test="false()">x</assert></rule>
      </pattern>"""
    document = _invoice(
        "<cac:AllowanceCharge><cbc:MultiplierFactorNumeric>5</cbc:MultiplierFactorNumeric></cac:AllowanceCharge>"
        "<cac:AllowanceCharge><cbc:Amount>1</cbc:Amount></cac:AllowanceCharge>"
    )
    findings = run(schema, document)
    assert sorted(_ids(findings)) == ["OTHER", "OTHER", "R041", "R043"]
    r043 = next(f for f in findings if f.id == "R043")
    assert r043.location.endswith(f"/*:AllowanceCharge[namespace-uri()='{CAC}'][2]")


def test_rules_fire_on_nested_nodes_and_attributes(run: Run) -> None:
    schema = """
      <pattern>
        <rule context="cbc:Amount/@currencyID">
          <assert id="CUR" flag="fatal" test=". = 'EUR'">currency</assert>
        </rule>
        <rule context="cac:Line"><assert id="LINE" flag="fatal" test="false()">line</assert></rule>
      </pattern>"""
    document = _invoice(
        '<cac:Line><cac:Line><cbc:Amount currencyID="USD">1</cbc:Amount></cac:Line></cac:Line>'
        '<cbc:Amount currencyID="EUR">1</cbc:Amount>'
    )
    findings = run(schema, document)
    assert sorted(_ids(findings)) == ["CUR", "LINE", "LINE"]
    currency = next(f for f in findings if f.id == "CUR")
    assert currency.location == (
        f"/*:Invoice[namespace-uri()='{INV}'][1]/*:Line[namespace-uri()='{CAC}'][1]"
        f"/*:Line[namespace-uri()='{CAC}'][1]/*:Amount[namespace-uri()='{CBC}'][1]/@currencyID"
    )


def test_lets_at_schema_pattern_and_rule_level(run: Run) -> None:
    schema = """
      <let name="lines" value="count(//cac:Line)"/>
      <pattern>
        <let name="limit" value="$lines - 1"/>
        <rule context="cac:Line">
          <let name="position" value="count(preceding-sibling::cac:Line) + 1"/>
          <assert id="POS" flag="fatal" test="$position le $limit"
            >line <value-of select="$position"/> of <value-of select="$lines"/></assert>
        </rule>
      </pattern>"""
    findings = run(schema, _invoice("<cac:Line/><cac:Line/><cac:Line/>"))
    assert [(f.id, f.text) for f in findings] == [("POS", "line 3 of 3")]


def test_same_pattern_let_name_in_two_patterns(run: Run) -> None:
    schema = """
      <pattern><let name="v" value="'one'"/>
        <rule context="inv:Invoice">
          <assert id="A" flag="fatal" test="false()"><value-of select="$v"/></assert>
        </rule>
      </pattern>
      <pattern><let name="v" value="'two'"/>
        <rule context="inv:Invoice">
          <assert id="B" flag="fatal" test="false()"><value-of select="$v"/></assert>
        </rule>
      </pattern>"""
    assert [(f.id, f.text) for f in run(schema, _invoice(""))] == [("A", "one"), ("B", "two")]


def test_embedded_xsl_function_and_variable_in_union_pattern(run: Run) -> None:
    # Peppol's DE rules use an XSLT 3.0 pattern "(/a | /b)[$var]" and u:* functions.
    schema = """
      <let name="isBE" value="/*/cbc:Country = 'BE'"/>
      <xsl:function name="u:mod97" as="xs:boolean" xmlns:xs="http://www.w3.org/2001/XMLSchema">
        <xsl:param name="val" as="xs:string"/>
        <xsl:sequence
          select="97 - (xs:integer(substring($val, 1, 8)) mod 97) = xs:integer(substring($val, 9, 2))"/>
      </xsl:function>
      <pattern>
        <rule context="(/inv:Invoice | /inv:CreditNote)[$isBE]">
          <assert id="KBO" flag="fatal" test="u:mod97(cbc:ID)">bad KBO</assert>
        </rule>
      </pattern>"""
    assert _ids(run(schema, _invoice("<cbc:Country>BE</cbc:Country><cbc:ID>0739484052</cbc:ID>"))) == []
    assert _ids(run(schema, _invoice("<cbc:Country>BE</cbc:Country><cbc:ID>0739484053</cbc:ID>"))) == ["KBO"]
    assert _ids(run(schema, _invoice("<cbc:Country>NL</cbc:Country><cbc:ID>0739484053</cbc:ID>"))) == []


def test_flags_explicit_inherited_and_absent(run: Run) -> None:
    schema = """
      <pattern>
        <rule context="inv:Invoice" flag="warning">
          <assert id="OWN" flag="fatal" test="false()">own flag</assert>
          <assert id="INHERITED" test="false()">rule flag</assert>
        </rule>
      </pattern>
      <pattern>
        <rule context="inv:Invoice"><assert id="NONE" test="false()">no flag</assert></rule>
      </pattern>"""
    findings = run(schema, _invoice(""))
    assert [(f.id, f.flag) for f in findings] == [("OWN", "fatal"), ("INHERITED", "warning"), ("NONE", "")]


def test_text_with_value_of_name_and_braces_in_test(run: Run) -> None:
    schema = """
      <pattern>
        <rule context="cbc:Note">
          <assert id="N" flag="warning" test="matches(., '^[0-9]{3,}$')"
            >The <name/> '<value-of select="."/>' in <name path=".."/> needs 3+ digits.</assert>
          <report id="R" flag="warning" test="string-length(.) = 2">two chars</report>
        </rule>
      </pattern>"""
    findings = run(schema, _invoice("<cbc:Note>ab</cbc:Note>"))
    assert [(f.id, f.report) for f in findings] == [("N", False), ("R", True)]
    assert findings[0].text == "The cbc:Note 'ab' in Invoice needs 3+ digits."
    assert findings[0].test == "matches(., '^[0-9]{3,}$')"


def test_dynamic_error_is_isolated_to_its_rule(run: Run) -> None:
    # bis-billing.md §3.2 trap 2: xs:decimal('') raises FORG0001 and would abort the whole transform.
    schema = """
      <pattern>
        <rule context="cac:Line">
          <let name="amount" value="xs:decimal(cbc:Amount)"/>
          <assert id="R120" flag="fatal" test="$amount ge 0">negative</assert>
          <assert id="R121" flag="warning" test="true()">never</assert>
        </rule>
        <rule context="cbc:Amount"><assert id="AMT" flag="warning" test="false()">amount seen</assert></rule>
      </pattern>
      <pattern>
        <rule context="cac:Line"><assert id="OTHER" flag="fatal" test="false()">other pattern</assert></rule>
      </pattern>"""
    document = _invoice(
        "<cac:Line><cbc:Amount></cbc:Amount></cac:Line><cac:Line><cbc:Amount>-1</cbc:Amount></cac:Line>"
    )
    findings = run(schema, document)
    assert sorted((f.id, f.flag) for f in findings) == [
        ("AMT", "warning"),
        ("AMT", "warning"),
        (RULE_ERROR_ID, "fatal"),
        ("OTHER", "fatal"),
        ("OTHER", "fatal"),
        ("R120", "fatal"),
    ]
    error = next(f for f in findings if f.id == RULE_ERROR_ID)
    assert "R120, R121" in error.text
    assert "FORG0001" in error.text
    assert error.location == f"/*:Invoice[namespace-uri()='{INV}'][1]/*:Line[namespace-uri()='{CAC}'][1]"


def test_phase_selects_patterns(run: Run) -> None:
    schema = """
      <phase id="only-b"><active pattern="b"/></phase>
      <pattern id="a"><rule context="inv:Invoice"><assert id="A" test="false()">a</assert></rule></pattern>
      <pattern id="b"><rule context="inv:Invoice"><assert id="B" test="false()">b</assert></rule></pattern>"""
    assert _ids(run(schema, _invoice(""))) == ["A", "B"]
    compiled = compile_schematron(f"<schema {NS}>{NS_DECL}{schema}</schema>".encode(), phase="only-b")
    assert b"gwsch:p2" not in compiled
    assert b'id="B"' in compiled
    assert b'id="A"' not in compiled


def test_svrl_reader_reads_flagless_and_report_entries() -> None:
    svrl = (
        b'<svrl:schematron-output xmlns:svrl="http://purl.oclc.org/dsdl/svrl">'
        b'<svrl:failed-assert test="t" location="/a"><svrl:text> a\n b </svrl:text></svrl:failed-assert>'
        b'<svrl:successful-report id="X" flag="warning" test="u" location="/b"/>'
        b"</svrl:schematron-output>"
    )
    assert parse_svrl(svrl) == [
        SVRLFinding(id="", flag="", location="/a", text="a b", test="t"),
        SVRLFinding(id="X", flag="warning", location="/b", text="", test="u", report=True),
    ]


def _official_location(element: etree._Element) -> str:
    """The skeleton's location of ``element``: per ancestor-or-self, its name and ``1 +`` the count of
    its preceding siblings of the same expanded name."""
    steps = []
    for node in (*reversed(list(element.iterancestors())), element):
        name = etree.QName(node)
        same = [s for s in node.itersiblings(preceding=True) if isinstance(s.tag, str) and s.tag == node.tag]
        namespace = f"[namespace-uri()='{name.namespace}']"
        step = f"*:{name.localname}{namespace}" if name.namespace else name.localname
        steps.append(f"/{step}[{1 + len(same)}]")
    return "".join(steps)


def test_locations_of_many_same_named_siblings(run: Run) -> None:
    """Past 31 preceding siblings the position comes from an accumulator: the same location."""
    schema = '<pattern><rule context="*[not(*)]"><assert id="L" test="false()">leaf</assert></rule></pattern>'
    children = "".join(
        '<cbc:Note/><n xmlns=""/><cac:Line><cbc:Note/></cac:Line>' if i % 3 else "<cbc:Other/><cbc:Note/>"
        for i in range(120)
    )
    empty = '<n xmlns=""/>'
    document = _invoice(f"{children}<cac:Line>{empty * 40}</cac:Line>")
    findings = run(schema, document)
    leaves = [e for e in etree.fromstring(document).iter() if len(e) == 0]
    assert len(findings) == len(leaves) > 300
    assert [f.location for f in findings] == [_official_location(e) for e in leaves]
    assert f"/*:Invoice[namespace-uri()='{INV}'][1]/*:Line[namespace-uri()='{CAC}'][81]/n[40]" in {
        f.location for f in findings
    }
