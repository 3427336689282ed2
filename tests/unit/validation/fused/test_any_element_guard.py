"""The walk's guard for a pattern of one any-element rule ``*[P]`` (Peppol R008): read only when P is
safe (no error, no position), and the same findings as the official stylesheet where P holds and
where it does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from saxonche import PySaxonProcessor

from gateway.validation.compact import read_report
from gateway.validation.fused import fuse_stylesheet
from gateway.validation.fused.dispatch import any_element_guard


@pytest.mark.parametrize(
    ("matches", "guard"),
    [
        (["//*[not(*) and not(normalize-space())]"], "not(*) and not(normalize-space())"),
        (["*[(not(*) or text()) and string()]"], "(not(*) or text()) and string()"),
        (["*[not(@id) or @*]"], "not(@id) or @*"),
        (["*[*]"], "*"),
    ],
)
def test_a_safe_predicate_on_any_element_becomes_the_guard(matches: list[str], guard: str) -> None:
    assert any_element_guard(matches) == guard


@pytest.mark.parametrize(
    "matches",
    [
        ["*[1]"],  # position among siblings: not what an xsl:if would test
        ["*[position() = 1]"],
        ["*[not(*)][1]"],
        ["*[last()]"],
        ["*[not(*)]", "*[text()]"],  # two rules: the guard of one would hide the other
        ["*[not(*)] | cbc:ID"],
        ["cac:A/*[not(*)]"],  # a parent step
        ["*"],  # no predicate: nothing to save
        ["cbc:Note[not(*)]"],
        ["*[cbc:ID]"],  # a name test: its prefix could be declared on the rule only
        ["*[@cbc:id]"],
        ["*[xs:decimal(.) > 0]"],  # can raise an error, which a match pattern turns into "no match"
        ["*[normalize-space(cbc:ID)]"],  # XPTY0004 with two cbc:ID
        ["*[not(*) = not(*)]"],
        ["*[not(*) and 'x']"],
        ["*[()]"],
        ["*[not()]"],
    ],
)
def test_anything_else_gets_no_guard(matches: list[str]) -> None:
    assert any_element_guard(matches) is None


EMPTIES = {
    "a leaf with blanks": ("<cbc:Note>", "<cbc:AccountingCost> </cbc:AccountingCost><cbc:Note>"),
    "a leaf with attributes only": ("<cbc:Note>", '<cbc:AccountingCost name="x"/><cbc:Note>'),
    "a comment in a leaf": ("<cbc:Note>", "<cbc:AccountingCost><!-- c --> </cbc:AccountingCost><cbc:Note>"),
    "an empty leaf in a line": ("<cbc:InvoicedQuantity", "<cbc:Note/><cbc:InvoicedQuantity"),
    "a parent of an empty leaf": ("<cac:Delivery>", "<cac:Delivery><cac:DeliveryParty> </cac:DeliveryParty>"),
}


@pytest.mark.parametrize("case", sorted(EMPTIES))
def test_the_guarded_walk_reports_empty_elements_as_officially(case: str, artefacts_dir: Path) -> None:
    """Every empty element, wherever it is and whatever else it holds, fires R008 once, at the official
    location and in the official order; with the guard, the walk no longer applies the pattern to the
    other elements (the fused stylesheet shows it), so a guard that was false too often would lose
    these findings."""
    release = artefacts_dir / "peppol-bis-billing-3.0.21"
    official = (release / "xslt/PEPPOL-EN16931-UBL.xslt").read_bytes()
    fused = fuse_stylesheet(official)
    guarded = '<xsl:if test="not(*) and not(normalize-space())"><xsl:apply-templates select="." mode="M26"/>'
    assert guarded.encode() in fused
    assert b'</xsl:if><xsl:apply-templates select="." mode="M26"/>' not in fused
    example = (release / "examples/base-example.xml").read_text(encoding="utf-8")
    old, new = EMPTIES[case]
    assert old in example
    document = example.replace(old, new, 1)
    saxon = PySaxonProcessor(license=False)
    node = saxon.parse_xml(xml_text=document)
    reports = []
    for stylesheet in (fused, official):
        executable = saxon.new_xslt30_processor().compile_stylesheet(stylesheet_text=stylesheet.decode())
        reports.append(
            [
                (f.id, f.flag, f.location, f.text)
                for f in read_report(str(executable.transform_to_string(xdm_node=node)))
            ]
        )
    assert any(finding[0] == "PEPPOL-EN16931-R008" for finding in reports[1])
    assert reports[0] == reports[1]
