"""VAT-category searches skipped when the document holds no category of their code (``categories``):
which tests are rewritten, and that the fused layers keep the official findings and dynamic errors on
the code-dispatch corpus (every category in every place, and the documents whose predicates raise).
The last tests break the rewrite on purpose and check that the corpus notices."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree
from saxonche import PySaxonApiError, PySaxonProcessor

from gateway.validation.fused import fuse_stylesheet, fuse_stylesheets
from gateway.validation.fused.categories import VARIABLE, CategorySearches
from gateway.validation.fused.codes import MAP_NAMESPACE
from gateway.validation.fused.skeleton import xsl
from tests.unit.validation.fused.vat_corpus import compile_stylesheet, outcome

UBL = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
VAT = "[cac:TaxScheme/normalize-space(upper-case(cbc:ID))='VAT']"
SKIP = "if (map:contains($fused-category-skip, '{code}')) then () else ({search})"


def _skip(code: str, search: str) -> str:
    return SKIP.format(code=code, search=search)


LINES_AE = f"//cac:ClassifiedTaxCategory[normalize-space(cbc:ID) = 'AE']{VAT}"
SUBTOTAL_K = f"cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory{VAT}/cbc:ID[normalize-space(.) = 'K']"
ALLOWANCE_G = (
    "//cac:AllowanceCharge[cbc:ChargeIndicator=false()]/cac:TaxCategory[normalize-space(cbc:ID)='G']"
)
ROOT_O = "(/ubl:Invoice|/cn:CreditNote)/cac:AllowanceCharge/cac:TaxCategory[normalize-space(cbc:ID) = 'O']"


@pytest.mark.parametrize(
    ("test", "rewritten"),
    [
        (f"exists({LINES_AE})", f"exists({_skip('AE', LINES_AE)})"),
        (f"count({SUBTOTAL_K}) = 1", f"count({_skip('K', SUBTOTAL_K)}) = 1"),
        (f"not(exists({ALLOWANCE_G}))", f"not(exists({_skip('G', ALLOWANCE_G)}))"),
        (f"exists({ROOT_O})", f"exists({_skip('O', ROOT_O)})"),
        (
            "//cac:TaxCategory/cbc:ID ='B' or //x",
            "(if (map:contains($fused-category-skip, 'B')) then false() else (//cac:TaxCategory/cbc:ID ='B'))"
            " or //x",
        ),
    ],
)
def test_category_searches_are_guarded(test: str, rewritten: str) -> None:
    searches = CategorySearches(UBL)
    assert searches.rewrite(test) == rewritten
    assert searches.codes


@pytest.mark.parametrize(
    "test",
    [
        "exists(//cac:TaxCategory[cbc:Percent = 21])",  # no code named
        "exists(//cac:TaxCategory[normalize-space(cbc:ID) = 'S'][cbc:Percent = 21])",  # another predicate
        "exists(//cac:TaxCategory[normalize-space(cbc:ID) = 'S']/..)",  # a step up: not under the category
        "exists(//cac:TaxCategory[normalize-space(cbc:ID) = 'S'] | //cbc:Note)",  # a union with other nodes
        "exists(//cac:TaxCategory[normalize-space(cbc:ID) != 'S'])",  # every category but S
        "sum(//cac:TaxCategory[normalize-space(cbc:ID) = 'S']/cbc:Percent)",  # not exists, count or not
        "fused:exists(//cac:TaxCategory[normalize-space(cbc:ID) = 'S'])",  # another function's name
        "'exists(//cac:TaxCategory[normalize-space(cbc:ID) = ''S''])'",  # inside a literal
        "x + //cac:TaxCategory/cbc:ID = 'B'",  # a comparison inside arithmetic
        "//cac:TaxCategory/cbc:ID = 'B' + 1",
        "//cac:TaxCategory/cbc:ID != 'B'",  # true when another code is present
        "//x[cac:TaxCategory/cbc:ID = 'B']",  # inside a predicate
    ],
)
def test_other_tests_are_left_alone(test: str) -> None:
    searches = CategorySearches(UBL)
    assert searches.rewrite(test) == test
    assert not searches.codes


def test_nothing_is_rewritten_unless_the_prefixes_are_ubl() -> None:
    test = "exists(//cac:TaxCategory[normalize-space(cbc:ID) = 'S'])"
    assert CategorySearches({**UBL, "cac": "urn:x"}).rewrite(test) == test


def test_the_root_rule_reads_one_map(officials: list[bytes]) -> None:
    """CEN's category searches are guarded; Peppol's layer has none; both layers share one map."""
    cen = fuse_stylesheet(officials[0]).decode()
    assert cen.count(f"map:contains(${VARIABLE}, ") > 80
    assert f"map:contains(${VARIABLE}, " not in fuse_stylesheet(officials[1]).decode()
    shared = etree.fromstring(fuse_stylesheets(officials, ["cen", "peppol"]))
    maps = [v for v in shared.iter(xsl("variable")) if v.get("name") == VARIABLE]
    assert len(maps) == 1


def _cen_differences(
    saxon: PySaxonProcessor, official: bytes, fused: bytes, documents: list[tuple[str, str]]
) -> list[str]:
    reference, mine = compile_stylesheet(saxon, official), compile_stylesheet(saxon, fused)
    found = []
    for name, document in documents:
        node = saxon.parse_xml(xml_text=document)
        want, got = outcome(reference, node), outcome(mine, node)
        if want != got:
            found.append(f"{name}: official {str(want)[:160]} != fused {str(got)[:160]}")
    return found


def _with_map(official: bytes, select: Callable[[str], str]) -> bytes:
    root = etree.fromstring(fuse_stylesheet(official))
    (variable,) = [v for v in root.iter(xsl("variable")) if v.get("name") == VARIABLE]
    variable.set("select", select(variable.get("select", "")))
    return etree.tostring(root)


ERROR_TESTS = [
    f"exists({LINES_AE})",
    f"count({SUBTOTAL_K}) = 1",
    f"not(exists({ALLOWANCE_G}))",
    "//cac:TaxCategory/cbc:ID = 'B'",
]
_INVOICE = (
    '<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"'
    ' xmlns:cac="{cac}" xmlns:cbc="{cbc}">'
    "<cac:AllowanceCharge><cbc:ChargeIndicator>{indicator}</cbc:ChargeIndicator>{category}</cac:AllowanceCharge>"
    "<cac:TaxTotal><cac:TaxSubtotal>{category}</cac:TaxSubtotal></cac:TaxTotal>"
    "<cac:InvoiceLine><cac:Item>{classified}</cac:Item></cac:InvoiceLine></Invoice>"
)
_CATEGORY = (
    "<cac:TaxCategory><cbc:ID>{ids}</cbc:ID>"
    "<cac:TaxScheme><cbc:ID>{scheme}</cbc:ID></cac:TaxScheme></cac:TaxCategory>"
)


def _invoice(code: str = "S", indicator: str = "false", scheme: str = "VAT") -> str:
    category = _CATEGORY.format(ids=code, scheme=scheme)
    classified = category.replace("TaxCategory>", "ClassifiedTaxCategory>")
    return _INVOICE.format(indicator=indicator, category=category, classified=classified, **UBL)


SMALL = {
    "S": _invoice(),
    "AE": _invoice("AE"),
    "K padded": _invoice(" K "),
    "B": _invoice("B"),
    "G, a charge": _invoice("G", "true"),
    # each raises in one search's predicate, and only there when its code is skipped
    "S, indicator yes": _invoice(indicator="yes"),
    "S, two ids": _invoice("S</cbc:ID><cbc:ID>S"),
    "S, two scheme ids": _invoice(scheme="VAT</cbc:ID><cbc:ID>VAT"),
}


def _evaluate(
    saxon: PySaxonProcessor, tests: list[str], declarations: list[etree._Element]
) -> dict[str, object]:
    """Each test's boolean value (or dynamic error) on each SMALL document, the root element as context."""
    namespaces = {"xsl": xsl("")[1:-1], "map": MAP_NAMESPACE, **UBL}
    root = etree.Element(xsl("stylesheet"), nsmap=namespaces, version="3.0")
    root.extend(declarations)
    template = etree.SubElement(root, xsl("template"), match="/")
    for test in tests:
        etree.SubElement(
            etree.SubElement(template, xsl("for-each"), select="/*"),
            xsl("value-of"),
            select=f"boolean({test}), '|'",
        )
    executable = compile_stylesheet(saxon, etree.tostring(root))
    return {
        name: _outcome_text(executable, saxon.parse_xml(xml_text=document))
        for name, document in SMALL.items()
    }


def _outcome_text(executable: object, node: object) -> object:
    try:
        return str(executable.transform_to_string(xdm_node=node))  # type: ignore[attr-defined]
    except PySaxonApiError:
        return "dynamic error"


def test_a_search_that_raises_is_never_skipped(saxon: PySaxonProcessor) -> None:
    """The map stays empty when a search could raise: each error document keeps the original's error,
    which the map built without that check would hide (the second half)."""
    searches = CategorySearches(UBL)
    rewritten = [searches.rewrite(test) for test in ERROR_TESTS]
    assert rewritten != ERROR_TESTS
    original = _evaluate(saxon, ERROR_TESTS, [])
    assert _evaluate(saxon, rewritten, searches.declarations()) == original
    assert sum(value == "dynamic error" for value in original.values()) == 3
    (unchecked,) = searches.declarations()
    unchecked.set("select", unchecked.get("select", "").replace("if (not(", "if (true() or not(", 1))
    hidden = _evaluate(saxon, rewritten, [unchecked])
    assert [name for name in SMALL if hidden[name] != original[name]] == [
        "S, indicator yes",
        "S, two ids",
        "S, two scheme ids",
    ]


def test_the_corpus_notices_a_map_that_skips_a_present_code(
    saxon: PySaxonProcessor, officials: list[bytes], documents: list[tuple[str, str]]
) -> None:
    """Every code taken as absent: the categories the documents hold lose their findings."""
    codes = "('AE', 'B', 'E', 'G', 'K', 'L', 'M', 'O', 'S', 'Z')"
    everything = _with_map(
        officials[0], lambda _: f"map:merge(for $c in {codes} return map:entry($c, true()))"
    )
    assert len(_cen_differences(saxon, officials[0], everything, documents)) > 20
