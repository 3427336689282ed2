"""Rules whose match is a union, split into one template per branch (``unions``): only where the
templates select exactly what the union does, including when matching raises a dynamic error (which
makes a union fail as a whole, a split branch alone)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from saxonche import PySaxonApiError, PySaxonProcessor

from gateway.validation.compact import read_report
from gateway.validation.fused import fuse_stylesheet
from gateway.validation.fused.skeleton import xsl
from gateway.validation.fused.unions import error_free, exact_branches

NS = {"cac": "urn:cac", "cbc": "urn:cbc", "ubl": "urn:ubl", "cn": "urn:cn"}
PEPPOL = "peppol-bis-billing-3.0.21"


@pytest.mark.parametrize(
    ("match", "branches"),
    [
        ("cac:InvoiceLine | cac:CreditNoteLine", ["cac:InvoiceLine", "cac:CreditNoteLine"]),
        ("/ubl:Invoice | /cn:CreditNote", ["/ubl:Invoice", "/cn:CreditNote"]),
        # other names: each branch is tried only on its own name, whatever its predicates
        (
            "cbc:EndpointID[xs:integer(.) > 0] | cbc:CompanyID[normalize-space(cbc:X) = 'a']",
            ["cbc:EndpointID[xs:integer(.) > 0]", "cbc:CompanyID[normalize-space(cbc:X) = 'a']"],
        ),
        # one name, predicates that cannot raise
        (
            "ubl:Invoice/cac:A[cbc:M and not(cbc:B)] | ubl:Invoice/cac:L/cac:A[cbc:M and not(cbc:B)]",
            ["ubl:Invoice/cac:A[cbc:M and not(cbc:B)]", "ubl:Invoice/cac:L/cac:A[cbc:M and not(cbc:B)]"],
        ),
        (
            "cbc:ID[@schemeID = '0088'] | cac:P/cbc:ID[@schemeID = '0088'] | cbc:C[@schemeID = '0088']",
            ["cbc:ID[@schemeID = '0088']", "cac:P/cbc:ID[@schemeID = '0088']", "cbc:C[@schemeID = '0088']"],
        ),
        ("cac:T[cac:S]/cbc:A | cac:S/cbc:A", ["cac:T[cac:S]/cbc:A", "cac:S/cbc:A"]),
        # one name, the same last step (its predicates may raise: on the same node in every branch)
        (
            "cac:L/cac:C[normalize-space(cbc:ID) = 'S'] | cac:N/cac:C[normalize-space(cbc:ID) = 'S']",
            ["cac:L/cac:C[normalize-space(cbc:ID) = 'S']", "cac:N/cac:C[normalize-space(cbc:ID) = 'S']"],
        ),
        (
            "/ubl:Invoice/cbc:ID[$greek] | /cn:CreditNote/cbc:ID[$greek]",
            ["/ubl:Invoice/cbc:ID[$greek]", "/cn:CreditNote/cbc:ID[$greek]"],
        ),
    ],
)
def test_a_union_is_split_where_each_branch_fails_as_the_union_would(match: str, branches: list[str]) -> None:
    assert exact_branches(match, NS) == branches


@pytest.mark.parametrize(
    "match",
    [
        "cac:InvoiceLine",  # not a union
        "cbc:ID[xs:integer(.) > 0] | cac:P/cbc:ID",  # an error in the first branch fails the union
        "cac:L/cac:C[normalize-space(cbc:ID) = 'S'] | cac:N/cac:C[normalize-space(cbc:ID) = 'Z']",
        "ubl:Invoice[$dk = 'DK']/cac:P | cn:CreditNote[$dk = 'DK']/cac:P",  # a raising step before the last
        "ubl:Invoice/cac:A[cbc:C = false()] | cn:CreditNote/cac:B/cac:A",  # FORG0001 on "yes"
        "cac:A[1] | cac:B/cac:A",  # a function-like predicate: not known to be error-free
        "* | cbc:ID",
        "cac:A/* | cbc:ID",
        "@id | cbc:ID",
        "/ | cbc:ID",
        "(cac:A | cac:B)[cbc:X] | cbc:ID",
        "x:A | cbc:ID",  # unknown prefix
    ],
)
def test_any_other_union_stays_one_template(match: str) -> None:
    assert exact_branches(match, NS) is None


@pytest.mark.parametrize(
    ("predicate", "safe"),
    [
        ("cbc:M and not(cbc:B)", True),
        ("@schemeID = '0088' or @schemeID != \"x\"", True),
        ("'VAT' = cac:TaxScheme/cbc:ID", True),
        ("(cbc:A or cbc:B) and cac:C/@x", True),
        ("cbc:A = cbc:B", False),
        ("cbc:A = false()", False),
        ("normalize-space(cbc:ID) = 'S'", False),
        ("$country = 'DK'", False),
        ("cbc:A < '5'", False),
        ("1", False),
        ("cbc:A[xs:decimal(.) > 0]", False),
        ("cbc:A[cbc:B = 'x']", True),
        ("cbc:A = 'x' = 'y'", False),
    ],
)
def test_error_free_predicates(predicate: str, safe: bool) -> None:
    assert error_free(predicate) is safe


def _outcome(saxon: PySaxonProcessor, stylesheet: bytes, document: str) -> object:
    executable = saxon.new_xslt30_processor().compile_stylesheet(stylesheet_text=stylesheet.decode())
    try:
        output = str(executable.transform_to_string(xdm_node=saxon.parse_xml(xml_text=document)))
    except PySaxonApiError as exc:
        return ("error", str(exc).split(":")[0])
    return [(f.id, f.flag, f.location, f.text) for f in read_report(output)]


@pytest.fixture(scope="module")
def saxon() -> PySaxonProcessor:
    return PySaxonProcessor(license=False)


def test_the_shipped_peppol_unions_are_split(artefacts_dir: Path) -> None:
    """The line rule ``cac:InvoiceLine | cac:CreditNoteLine`` and the 16 ``@schemeID`` rules become
    templates Saxon indexes by name, each calling its rule's one body."""
    official = (artefacts_dir / PEPPOL / "xslt/PEPPOL-EN16931-UBL.xslt").read_bytes()
    fused = etree.fromstring(fuse_stylesheet(official))
    templates = [t for t in fused.iter(xsl("template")) if t.get("mode") == "M28"]
    lines = [t for t in templates if t.get("match") in ("cac:InvoiceLine", "cac:CreditNoteLine")]
    assert len(lines) == 2
    assert {t.get("priority") for t in lines} == {"1019"}
    calls = {t.find(xsl("call-template")).get("name") for t in lines}  # type: ignore[union-attr]
    assert len(calls) == 1
    (body,) = [t for t in fused.iter(xsl("template")) if t.get("name") in calls]
    assert body.find(".//" + xsl("choose")) is not None  # the rule's asserts, once
    schemes = [t for t in templates if t.get("match", "").startswith("cbc:EndpointID[@schemeID")]
    assert len(schemes) == 16
    assert not [t for t in templates if "|" in t.get("match", "") and t.get("priority") != "-2"]


LINE = '<cbc:LineExtensionAmount currencyID= "EUR">2800</cbc:LineExtensionAmount>'


@pytest.mark.parametrize("line_id", ["1", "x1"])
def test_a_union_whose_first_branch_raises_is_left_whole(
    saxon: PySaxonProcessor, artefacts_dir: Path, line_id: str
) -> None:
    """The official line rule edited to ``cac:InvoiceLine[xs:integer(cbc:ID) > 0] |
    ubl-invoice:Invoice/cac:InvoiceLine | cac:CreditNoteLine``: on a line whose ``cbc:ID`` is not an
    integer the first branch raises, so the union does not match and R120 (a wrong line amount) is not
    reported; split, the second branch would fire the rule and report it."""
    release = artefacts_dir / PEPPOL
    official = (release / "xslt/PEPPOL-EN16931-UBL.xslt").read_bytes()
    old = b'match="cac:InvoiceLine | cac:CreditNoteLine"'
    edited = official.replace(
        old,
        b'match="cac:InvoiceLine[xs:integer(cbc:ID) &gt; 0] | ubl-invoice:Invoice/cac:InvoiceLine'
        b' | cac:CreditNoteLine"',
    )
    assert edited != official
    example = (release / "examples/base-example.xml").read_text(encoding="utf-8")
    document = example.replace(LINE, LINE.replace("2800", "2799"), 1).replace(
        "<cbc:ID>1</cbc:ID>\n    <cbc:InvoicedQuantity",
        f"<cbc:ID>{line_id}</cbc:ID>\n    <cbc:InvoicedQuantity",
        1,
    )
    assert document.count("2799") == 1
    assert document.count(f"<cbc:ID>{line_id}</cbc:ID>\n    <cbc:InvoicedQuantity") == 1
    expected = _outcome(saxon, edited, document)
    assert isinstance(expected, list)
    assert any(f[0] == "PEPPOL-EN16931-R120" for f in expected) is (line_id == "1")
    assert _outcome(saxon, fuse_stylesheet(edited), document) == expected


def test_a_shared_last_step_that_raises_fails_every_branch_as_the_union(
    saxon: PySaxonProcessor, artefacts_dir: Path
) -> None:
    """CEN's VAT-category rules on ``cac:ClassifiedTaxCategory`` (under an invoice or a credit-note
    line) are split; a category with two ``cbc:ID`` makes their ``normalize-space(cbc:ID)`` raise on the
    same node whichever branch is tried: no rule fires, as officially (same findings, or same error)."""
    release = artefacts_dir / PEPPOL
    official = (release / "xslt/CEN-EN16931-UBL.xslt").read_bytes()
    fused = fuse_stylesheet(official)
    assert b'<xsl:template match="cac:CreditNoteLine/cac:Item/cac:ClassifiedTaxCategory[' in fused
    example = (release / "examples/base-example.xml").read_text(encoding="utf-8")
    category = "<cac:ClassifiedTaxCategory>"
    assert category in example
    document = example.replace(category, category + "<cbc:ID>S</cbc:ID>", 1)
    assert _outcome(saxon, fused, document) == _outcome(saxon, official, document)
