"""The fused-stylesheet generator: dispatch by name, exact rewrites, refusal of unknown shapes, caching.

The equivalence with the official stylesheets is proven by tests/conformance/test_fused_differential.py;
these tests pin the pieces, on small stylesheets and expressions run with saxonche.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree
from saxonche import PySaxonProcessor

from gateway.validation import ArtefactStore, Evaluation, ValidationEngine, compiled
from gateway.validation.compact import read_report
from gateway.validation.compiled import cached_fused_stylesheet
from gateway.validation.fused import SkeletonError, fuse_stylesheet
from gateway.validation.fused.absent import ForbiddenPaths
from gateway.validation.fused.codes import CodeLists
from gateway.validation.fused.dispatch import targets_of
from gateway.validation.fused.guards import guard_absent_runs
from gateway.validation.fused.patterns import without_root_descent
from gateway.validation.fused.skeleton import Rule, xsl
from gateway.validation.schematron import SVRLFinding

NS = {"cac": "urn:cac", "cbc": "urn:cbc", "ubl": "urn:ubl"}
CODES = "' AED EUR USD '"


def test_dispatch_reads_the_last_step_of_every_branch() -> None:
    targets = targets_of(
        ["cac:A/cbc:B[x = 'a|b'] | //cbc:C", "(/ubl:Invoice/cac:D | /ubl:Invoice/cac:E)[$p]"], NS
    )
    assert targets.names == {("urn:cbc", "B"), ("urn:cbc", "C"), ("urn:cac", "D"), ("urn:cac", "E")}
    assert not targets.any_element
    assert not targets.attributes
    assert not targets.document


@pytest.mark.parametrize(
    ("match", "any_element", "attributes"),
    [("//*[not(*)]", True, False), ("cac:X/@id", False, True), ("node()", True, True), ("x:Y", True, True)],
)
def test_dispatch_widens_what_it_cannot_name(match: str, any_element: bool, attributes: bool) -> None:
    targets = targets_of([match], NS)
    assert (targets.any_element, targets.attributes) == (any_element, attributes)


@pytest.mark.parametrize(
    "match",
    [
        "//*[ends-with(name(), 'Amount') and not(ends-with(name(),'PriceAmount'))]",
        "*[ends-with(local-name(), 'Amount')][x]",
    ],
)
def test_dispatch_reads_a_local_name_suffix(match: str) -> None:
    targets = targets_of([match], NS)
    assert targets.suffixes == {"Amount"}
    assert not targets.any_element
    assert targets.matches_name("urn:other", "LineAmount")
    assert not targets.matches_name("urn:cbc", "AmountType")


def test_dispatch_reads_the_parent_step_of_every_branch() -> None:
    targets = targets_of(["cac:A[x]/cbc:ID[@s] | cac:B/cbc:ID", "/ubl:Invoice/cac:C/cbc:ID", "cbc:N"], NS)
    parents = {("urn:cac", "A"), ("urn:cac", "B"), ("urn:cac", "C")}
    assert targets.parents_of("urn:cbc", "ID") == parents
    assert targets.parents_of("urn:cbc", "N") is None


@pytest.mark.parametrize("free", ["cbc:ID", "//cbc:ID", "/cbc:ID", "cac:A//cbc:ID", "x:Y/cbc:ID", "*/cbc:ID"])
def test_dispatch_lets_any_parent_through_when_one_branch_names_none(free: str) -> None:
    """One branch without a known parent element (none, ``//``, an unknown prefix, a wildcard) lets the
    element through under any parent, whatever the other branches require, in either order."""
    for matches in (["cac:A/cbc:ID", free], [free, "cac:A/cbc:ID"]):
        assert targets_of(matches, NS).parents_of("urn:cbc", "ID") is None


def test_dispatch_lets_any_parent_through_for_a_suffix_rule() -> None:
    targets = targets_of(["cac:A/cbc:TaxAmount", "//*[ends-with(name(), 'Amount')]"], NS)
    assert targets.parents_of("urn:cbc", "TaxAmount") is None


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        ("//cac:A[x = '//y'] | //*[not(*)] | //@id", "cac:A[x = '//y'] | *[not(*)] | @id"),
        ("/ubl:Invoice | //cbc:B", "/ubl:Invoice | cbc:B"),
        ("cac:A//cbc:B", "cac:A//cbc:B"),
        ("(//cac:A | //cac:B)[1]", "(//cac:A | //cac:B)[1]"),
        ("/", "/"),
    ],
)
def test_rule_matches_lose_only_a_leading_root_descent(match: str, expected: str) -> None:
    assert without_root_descent(match) == expected


@pytest.mark.parametrize(
    "match",
    [
        "//*[ends-with(name(), 'Amount') or x]",  # not a conjunct: could match other names
        "//*[x and ends-with(name(), 'Amount')]",  # only a leading conjunct is read
        "//*[ends-with(name(), 'cbc:Amount')]",  # a prefix in the literal: name() depends on the document
        "//*[ends-with(string(), 'Amount')]",
    ],
)
def test_dispatch_widens_other_predicates_on_any_element(match: str) -> None:
    targets = targets_of([match], NS)
    assert targets.any_element
    assert not targets.suffixes


@pytest.fixture(scope="module")
def saxon() -> PySaxonProcessor:
    return PySaxonProcessor(license=False)


def _evaluate(saxon: PySaxonProcessor, expression: str, value: str, prolog: str = "") -> bool:
    xpath = saxon.new_xpath_processor()
    xpath.declare_namespace("map", "http://www.w3.org/2005/xpath-functions/map")
    literal = value.replace("'", "''")
    result = xpath.evaluate_single(f"{prolog} let $v := '{literal}' return {expression}")
    return str(result) == "true"


@pytest.mark.parametrize("value", ["EUR", "AED", "eur", "", " ", "EUR USD", "AED EUR", "XXX", "EU"])
def test_code_list_rewrite_agrees_with_the_string_search(saxon: PySaxonProcessor, value: str) -> None:
    original = f"contains({CODES}, concat(' ', $v, ' '))"
    codes = CodeLists()
    rewritten = codes.rewrite(original)
    assert "map:contains" in rewritten
    (declaration,) = codes.declarations()
    prolog = f"let ${declaration.get('name')} := {declaration.get('select')} return"
    assert _evaluate(saxon, rewritten, value, prolog) == _evaluate(saxon, original, value)


def test_code_list_rewrite_leaves_other_literals_alone() -> None:
    irregular = "contains(' AED  EUR ', concat(' ', $v, ' '))"  # a double blank: not a token list
    assert CodeLists().rewrite(irregular) == irregular


def _assert(test: str) -> etree._Element:
    choose = etree.Element(xsl("choose"))
    etree.SubElement(choose, xsl("when")).set("test", test)
    return choose


def test_guards_nest_runs_and_keep_the_order() -> None:
    tests = ["not(cac:A/cbc:X)", "not(cac:A/cbc:Y)", "count(cbc:Z) <= 1", "not(cbc:W)"]
    out = guard_absent_runs([_assert(t) for t in tests])
    assert [node.tag for node in out] == [xsl("if"), xsl("choose"), xsl("choose")]
    assert out[0].get("test") == "cac:A"
    flattened = [n.get("test") for n in out[0].iter(xsl("when"))] + [n[0].get("test") for n in out[1:]]
    assert flattened == tests


def test_guards_read_many_names_once() -> None:
    tests = [f"not(cbc:N{i})" for i in range(6)]
    out = guard_absent_runs([_assert(t) for t in tests])
    assert out[0].tag == xsl("variable")
    assert all("map:contains" in node.get("test", "") for node in out[1:])


def test_a_stylesheet_of_another_shape_is_refused() -> None:
    stylesheet = b"""<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="2.0">
      <xsl:template match="/"><out/></xsl:template><xsl:template match="x"><y/></xsl:template>
    </xsl:stylesheet>"""
    with pytest.raises(SkeletonError):
        fuse_stylesheet(stylesheet)


def test_fused_stylesheet_is_cached_per_checksum(artefacts_dir: Path, tmp_path: Path) -> None:
    store = ArtefactStore.from_paths(mirror=artefacts_dir, cache_dir=tmp_path)
    spec = store.manifest.rule_set("peppol-bis-billing-3.0.21").layers[1]
    first, from_cache = cached_fused_stylesheet(store, spec)
    assert not from_cache
    again, from_cache = cached_fused_stylesheet(store, spec)
    assert from_cache
    assert again == first
    (cached,) = [p for p in tmp_path.rglob("*.xslt") if "fused" in p.name]
    cached.write_bytes(b"tampered")
    assert cached_fused_stylesheet(store, spec) == (first, False)


def test_the_cache_key_of_fused_stylesheets_covers_the_compact_report_format(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fused stylesheets write ``gateway.validation.compact``'s format: a change there (outside the
    fused package) must not reuse stylesheets cached in the old format."""
    fingerprint = compiled.compiler_fingerprint.__wrapped__  # type: ignore[attr-defined]
    with_format = fingerprint(compiled._FUSER_PACKAGE)
    monkeypatch.setattr(compiled, "_ALSO_HASHED", {})
    assert fingerprint(compiled._FUSER_PACKAGE) != with_format


def test_engine_runs_fused_by_default_and_official_on_request(artefacts_dir: Path, tmp_path: Path) -> None:
    store = ArtefactStore.from_paths(mirror=artefacts_dir, cache_dir=tmp_path)
    fused = ValidationEngine(store).compiled()
    official = ValidationEngine(store, evaluation=Evaluation.OFFICIAL).compiled()
    # Both fused layers in one stylesheet (``SharedLayers``), generated once for the two.
    assert "cen-peppol-fuse" in fused.build_seconds
    assert fused.shared is not None
    assert [layer.layer for layer in fused.layers] == list(fused.shared.layers)
    assert "cen-peppol-fuse" not in official.build_seconds
    assert "cen-fuse" not in official.build_seconds
    assert official.shared is None


def _findings(saxon: PySaxonProcessor, stylesheet: bytes, document: bytes) -> list[tuple[str, str]]:
    found = _report(saxon, stylesheet, document)
    return [(f.id, f.location) for f in found if not f.report]


def _report(saxon: PySaxonProcessor, stylesheet: bytes, document: bytes) -> list[SVRLFinding]:
    """The findings of a stylesheet's run on ``document``: SVRL (official) or compact (fused)."""
    executable = saxon.new_xslt30_processor().compile_stylesheet(stylesheet_text=stylesheet.decode())
    node = saxon.parse_xml(xml_text=document.decode())
    return read_report(str(executable.transform_to_string(xdm_node=node)))


def test_suffix_rules_reach_elements_the_stylesheet_never_names(
    saxon: PySaxonProcessor, artefacts_dir: Path
) -> None:
    """UBL-DT-01 matches ``//*[ends-with(name(), 'Amount') ...]``: an element of a name no rule lists
    (dispatched by the fallback walk, through the suffix test) must still be checked, as officially."""
    release = artefacts_dir / "peppol-bis-billing-3.0.21"
    official = (release / "xslt/CEN-EN16931-UBL.xslt").read_bytes()
    example = (release / "examples/base-example.xml").read_text(encoding="utf-8")
    extra = '<cbc:ExtraAmount currencyID="EUR">1.125</cbc:ExtraAmount><cbc:Note>'
    document = example.replace("<cbc:Note>", extra, 1).encode()
    assert document != example.encode()
    fused = _findings(saxon, fuse_stylesheet(official), document)
    assert any(rule == "UBL-DT-01" and "ExtraAmount" in location for rule, location in fused)
    assert fused == _findings(saxon, official, document)


def test_parent_dispatch_checks_every_parent_a_pattern_names(
    saxon: PySaxonProcessor, artefacts_dir: Path
) -> None:
    """CEN code-list rules match ``cbc:ID`` only under given parents (BR-CL-10 under
    ``cac:PartyIdentification``, BR-CL-21 under ``cac:StandardItemIdentification``): the walk applies
    the pattern to a ``cbc:ID`` under each of them, and not to the document's other ``cbc:ID``."""
    release = artefacts_dir / "peppol-bis-billing-3.0.21"
    official = (release / "xslt/CEN-EN16931-UBL.xslt").read_bytes()
    example = (release / "examples/base-example.xml").read_text(encoding="utf-8")
    party = '<cac:PartyIdentification><cbc:ID schemeID="NOPE">1</cbc:ID></cac:PartyIdentification>'
    item = (
        '<cac:StandardItemIdentification><cbc:ID schemeID="NOPE">2</cbc:ID></cac:StandardItemIdentification>'
    )
    document = (
        example.replace("<cac:PartyName>", party + "<cac:PartyName>", 1)
        .replace("<cac:ClassifiedTaxCategory>", item + "<cac:ClassifiedTaxCategory>", 1)
        .replace("<cbc:ID>Snippet1</cbc:ID>", '<cbc:ID schemeID="NOPE">Snippet1</cbc:ID>', 1)
        .encode()
    )
    fused = _findings(saxon, fuse_stylesheet(official), document)
    assert {"BR-CL-10", "BR-CL-21"} <= {rule for rule, _ in fused}
    assert fused == _findings(saxon, official, document)


def test_rules_without_root_descent_still_fire(saxon: PySaxonProcessor, artefacts_dir: Path) -> None:
    """Peppol R008 matches ``//*[not(*) and not(normalize-space())]``; fused, without the ``//``, an
    empty element still fires it, at the same location as officially."""
    release = artefacts_dir / "peppol-bis-billing-3.0.21"
    official = (release / "xslt/PEPPOL-EN16931-UBL.xslt").read_bytes()
    example = (release / "examples/base-example.xml").read_text(encoding="utf-8")
    document = example.replace(
        "<cbc:Note>", "<cbc:AccountingCost> </cbc:AccountingCost><cbc:Note>", 1
    ).encode()
    fused = _findings(saxon, fuse_stylesheet(official), document)
    assert any(rule == "PEPPOL-EN16931-R008" for rule, _ in fused)
    assert fused == _findings(saxon, official, document)


def test_forbidden_elements_met_by_the_walk_report_as_the_root_rule(
    saxon: PySaxonProcessor, artefacts_dir: Path
) -> None:
    """CEN's root rule asserts ``not(cbc:UUID)``, ``not(cbc:CopyIndicator)``, ``not((cac:InvoiceLine|
    cac:CreditNoteLine)/cbc:UUID)`` ... as templates of the walk: each fires once however many forbidden
    elements it meets (UUID at the root and on both lines), at the root element's location, and the
    root rule's findings stay in assert order, the kept asserts' (UBL-CR-... on attributes, count()
    limits) between the moved ones, ahead of the pattern's findings on other elements."""
    release = artefacts_dir / "peppol-bis-billing-3.0.21"
    official = (release / "xslt/CEN-EN16931-UBL.xslt").read_bytes()
    example = (release / "examples/base-example.xml").read_text(encoding="utf-8")
    document = (
        example.replace(
            "<cbc:IssueDate>",
            "<cbc:UUID>1</cbc:UUID><cbc:CopyIndicator>false</cbc:CopyIndicator><cbc:IssueDate>",
            1,
        )
        .replace("<cbc:ID>Snippet1</cbc:ID>", '<cbc:ID schemeID="X">Snippet1</cbc:ID>', 1)
        .replace("<cac:InvoiceLine>", "<cac:InvoiceLine><cbc:UUID>2</cbc:UUID>")
        .replace("<cac:InvoicePeriod>", "<cac:InvoicePeriod/><cac:InvoicePeriod>", 1)
        .encode()
    )
    fused = _findings(saxon, fuse_stylesheet(official), document)
    rules = [rule for rule, _ in fused]
    assert {"UBL-CR-004", "UBL-CR-005"} <= set(rules)
    assert len(rules) == len(set(rules))  # each assert once, though UUID is forbidden in three places
    assert fused == _findings(saxon, official, document)
    assert b"fused-absent" in fuse_stylesheet(official)


def test_a_rule_the_root_element_does_not_fire_reports_no_forbidden_element(
    saxon: PySaxonProcessor, artefacts_dir: Path
) -> None:
    """The root rule matches ``/ubl:Invoice | /cn:CreditNote``: under another root element the
    forbidden elements' markers (templates match ``/*/cbc:UUID``) are dropped, as the rule's asserts
    would never run."""
    release = artefacts_dir / "peppol-bis-billing-3.0.21"
    official = (release / "xslt/CEN-EN16931-UBL.xslt").read_bytes()
    example = (release / "examples/base-example.xml").read_text(encoding="utf-8")
    document = example.replace("<cbc:IssueDate>", "<cbc:UUID>1</cbc:UUID><cbc:IssueDate>", 1)
    other = document.replace(
        "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2", "urn:other", 1
    ).encode()
    fused = _findings(saxon, fuse_stylesheet(official), other)
    assert "UBL-CR-005" not in {rule for rule, _ in fused}
    assert fused == _findings(saxon, official, other)


def _rule_assert(test: str, text: str) -> etree._Element:
    choose = etree.Element(xsl("choose"))
    etree.SubElement(choose, xsl("when")).set("test", test)
    otherwise = etree.SubElement(choose, xsl("otherwise"))
    finding = etree.SubElement(otherwise, "{http://purl.oclc.org/dsdl/svrl}failed-assert", test=test)
    etree.SubElement(finding, xsl("value-of")).set("select", text)
    return choose


def test_only_root_rule_asserts_on_name_paths_are_moved() -> None:
    """Moved: ``not(S1/.../Sn)`` on name steps in a rule on the root element. Kept: a path with a
    predicate or an attribute step, a text reading a variable (out of scope where it is written),
    another rule's context, a pattern with a rule on the document node."""
    body = (
        _rule_assert("not(cac:A/cbc:B)", "'moved'"),
        _rule_assert("not((cac:L|cac:M)/cbc:B)", "'moved'"),
        _rule_assert("not(cac:A[cbc:X]/cbc:B)", "'kept'"),
        _rule_assert("not(cac:A/@b)", "'kept'"),
        _rule_assert("not(cac:A/cbc:C)", "$rule-variable"),
    )
    forbidden = ForbiddenPaths(NS)
    kept, fired = forbidden.take(Rule("/ubl:Invoice", "1000", body), 0, document_rules=False)
    assert fired is not None
    assert [index for index, _ in kept] == [2, 3, 4]
    # Below any root element: a rule fires only on one of its own (markers of others are dropped).
    assert sorted(forbidden.matches()) == ["/*/cac:A/cbc:B", "/*/cac:L/cbc:B", "/*/cac:M/cbc:B"]
    for match, document_rules in (("cac:A", False), ("/ubl:Invoice", True), ("/ubl:Invoice/cac:A", False)):
        other = ForbiddenPaths(NS)
        assert other.take(Rule(match, "1000", body), 0, document_rules=document_rules)[1] is None
        assert not other.asserts


def test_a_forbidden_path_is_matched_by_namespace_not_only_by_local_names(
    saxon: PySaxonProcessor, artefacts_dir: Path
) -> None:
    """The forbidden paths are looked up by their local names, then their namespaces compared:
    ``cac:ValidityPeriod`` in ``cac:DeliveryLocation`` under a ``Delivery`` of another namespace is not
    at the forbidden ``cac:Delivery/cac:DeliveryLocation/cac:ValidityPeriod`` (UBL-CR-358)."""
    release = artefacts_dir / "peppol-bis-billing-3.0.21"
    official = (release / "xslt/CEN-EN16931-UBL.xslt").read_bytes()
    example = (release / "examples/base-example.xml").read_text(encoding="utf-8")
    delivery = (
        '<o:Delivery xmlns:o="urn:other"><cac:DeliveryLocation><cac:ValidityPeriod/>'
        "</cac:DeliveryLocation></o:Delivery><cac:PaymentMeans>"
    )
    document = example.replace("<cac:PaymentMeans>", delivery, 1).encode()
    fused = _findings(saxon, fuse_stylesheet(official), document)
    assert fused == _findings(saxon, official, document)
    assert "UBL-CR-358" not in {rule for rule, _ in fused}
    ubl = document.replace(b'<o:Delivery xmlns:o="urn:other">', b"<cac:Delivery>").replace(
        b"</o:Delivery>", b"</cac:Delivery>"
    )
    fused = _findings(saxon, fuse_stylesheet(official), ubl)
    assert "UBL-CR-358" in {rule for rule, _ in fused}
    assert fused == _findings(saxon, official, ubl)


@pytest.mark.parametrize(
    ("cbc", "element"),
    [
        ("urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2", "<cbc:UUID>1</cbc:UUID>"),
        ("urn:zz", '<zz:UUID xmlns:zz="urn:zz">1</zz:UUID>'),  # a namespace the stylesheet root lacks
    ],
)
def test_a_prefix_declared_on_the_rule_template_is_read_as_the_assert_reads_it(
    saxon: PySaxonProcessor, artefacts_dir: Path, cbc: str, element: str
) -> None:
    """A moved assert's path is expanded with the assert's own in-scope namespaces: ``not(zz:UUID)``
    with ``zz`` declared on the root rule's template (not on the stylesheet) still reports UBL-CR-005."""
    release = artefacts_dir / "peppol-bis-billing-3.0.21"
    root_rule = '<xsl:template match="/ubl:Invoice | /cn:CreditNote" mode="M12" priority="1006">'
    official = (release / "xslt/CEN-EN16931-UBL.xslt").read_text(encoding="utf-8")
    edited = official.replace(root_rule, root_rule.replace(" mode=", f' xmlns:zz="{cbc}" mode='), 1)
    edited = edited.replace('test="not(cbc:UUID)"', 'test="not(zz:UUID)"')
    assert edited.count("zz:UUID") == 2
    example = (release / "examples/base-example.xml").read_text(encoding="utf-8")
    document = example.replace("<cbc:IssueDate>", f"{element}<cbc:IssueDate>", 1).encode()
    expected = _findings(saxon, edited.encode(), document)
    assert "UBL-CR-005" in {rule for rule, _ in expected}
    assert _findings(saxon, fuse_stylesheet(edited.encode()), document) == expected


def test_forbidden_markers_are_looked_for_no_deeper_than_the_longest_path(
    saxon: PySaxonProcessor, artefacts_dir: Path
) -> None:
    """One-step forbidden paths (``cbc:UUID``) reach the marker template under any parent: an element
    deeper than the longest path is left before its path is built (which would cost its depth, per
    element), and a deep document still gets the official findings."""
    release = artefacts_dir / "peppol-bis-billing-3.0.21"
    official = (release / "xslt/CEN-EN16931-UBL.xslt").read_bytes()
    fused = etree.fromstring(fuse_stylesheet(official))
    (marker,) = fused.iterfind(f"{xsl('template')}[@mode='fused-absent'][@match='*']")
    longest = max(len(path.split("/")) for path in _map_keys(fused, "fused-forbidden-paths"))
    assert marker[0].tag == xsl("if")
    assert marker[0].get("test") == f"empty(ancestor::*[{longest + 1}])"
    assert len(marker) == 1
    example = (release / "examples/base-example.xml").read_text(encoding="utf-8")
    deep = "<cac:Delivery>" * (longest + 2) + "<cbc:UUID>1</cbc:UUID>" + "</cac:Delivery>" * (longest + 2)
    document = example.replace("<cac:PaymentMeans>", deep + "<cac:PaymentMeans>", 1).encode()
    assert _findings(saxon, fuse_stylesheet(official), document) == _findings(saxon, official, document)


def _map_keys(stylesheet: etree._Element, variable: str) -> list[str]:
    (declared,) = stylesheet.iterfind(f"{xsl('variable')}[@name='{variable}']")
    return re.findall(r"'([^']*)': \(", declared.get("select", ""))


@pytest.mark.parametrize("scope", ["stylesheet", "template"])
def test_text_value_templates_are_evaluated_as_officially(
    saxon: PySaxonProcessor, artefacts_dir: Path, scope: str
) -> None:
    """With ``expand-text="yes"`` in scope (on the stylesheet, or on the rule's template) a finding's
    ``{name()}`` is evaluated: neither the shared finding function (fixed text) nor a copy moved out
    of its template may write it literally; kept (BR-52) and moved (UBL-CR-005) asserts alike."""
    release = artefacts_dir / "peppol-bis-billing-3.0.21"
    official = (release / "xslt/CEN-EN16931-UBL.xslt").read_text(encoding="utf-8")
    templates = (
        '<xsl:template match="cac:AdditionalDocumentReference" mode="M11" priority="1065">',
        '<xsl:template match="/ubl:Invoice | /cn:CreditNote" mode="M12" priority="1006">',
    )
    if scope == "stylesheet":
        edited = official.replace("<xsl:stylesheet ", '<xsl:stylesheet expand-text="yes" ', 1)
    else:
        edited = official
        for template in templates:
            edited = edited.replace(template, template.replace(" mode=", ' expand-text="yes" mode='), 1)
    for rule in ("BR-52", "UBL-CR-005"):
        edited = edited.replace(f"<svrl:text>[{rule}]-", f"<svrl:text>[{rule}]-{{name()}} ", 1)
    example = (release / "examples/base-example.xml").read_text(encoding="utf-8")
    reference = (  # no cbc:ID: BR-52
        "<cac:AdditionalDocumentReference><cbc:DocumentType>x</cbc:DocumentType>"
        "</cac:AdditionalDocumentReference>"
    )
    document = (
        example.replace("<cbc:IssueDate>", "<cbc:UUID>1</cbc:UUID><cbc:IssueDate>", 1)
        .replace("<cac:AccountingSupplierParty>", f"{reference}<cac:AccountingSupplierParty>", 1)
        .encode()
    )
    expected = _texts(saxon, edited.encode(), document)
    assert {"BR-52", "UBL-CR-005"} <= expected.keys()
    assert expected["UBL-CR-005"].startswith("[UBL-CR-005]-Invoice ")
    assert _texts(saxon, fuse_stylesheet(edited.encode()), document) == expected


def _texts(saxon: PySaxonProcessor, stylesheet: bytes, document: bytes) -> dict[str, str]:
    return {f.id: f.text for f in _report(saxon, stylesheet, document) if not f.report}
