"""Rules told apart by one code, chosen once per node (``code_dispatch``): the same findings, and the
same dynamic errors, as the official stylesheets on small invoices with every VAT category in every
place (document and line allowances and charges, tax subtotals, invoice and credit-note lines), and on
the documents where a pattern's predicate raises (two ``cbc:ID``, a charge indicator that is no boolean),
where the dispatcher must hand the node to the original templates. The last tests break the dispatcher
on purpose and check that these documents notice."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from lxml import etree
from saxonche import PySaxonProcessor

from gateway.validation.fused import fuse_stylesheet, fuse_stylesheets
from gateway.validation.fused.code_dispatch import GUARD_PREFIX, _error_guard
from gateway.validation.fused.skeleton import xsl
from tests.unit.validation.fused.vat_corpus import CATEGORIES, compile_stylesheet, outcome


def _differences(
    saxon: PySaxonProcessor, officials: list[bytes], fused: list[bytes], documents: list[tuple[str, str]]
) -> list[str]:
    """Where a fused layer's findings (or error) differ from its official stylesheet's."""
    pairs = [
        (compile_stylesheet(saxon, o), compile_stylesheet(saxon, f))
        for o, f in zip(officials, fused, strict=True)
    ]
    found = []
    for name, document in documents:
        node = saxon.parse_xml(xml_text=document)
        for number, (official, mine) in enumerate(pairs):
            want, got = outcome(official, node), outcome(mine, node)
            if want != got:
                found.append(f"{name} (layer {number}): official {str(want)[:200]} != fused {str(got)[:200]}")
    return found


def test_the_vat_category_rules_get_dispatchers(officials: list[bytes]) -> None:
    cen = etree.fromstring(fuse_stylesheet(officials[0]))
    guards = [v for v in cen.iter(xsl("variable")) if v.get("name", "").startswith(GUARD_PREFIX)]
    assert len(guards) == 2
    dispatchers = [
        t
        for t in cen.iter(xsl("template"))
        if t.find(f"{xsl('choose')}/{xsl('when')}[@test='${guards[0].get('name')}']") is not None
    ]
    assert [t.get("match") for t in dispatchers] == ["cac:TaxCategory"]
    calls = dispatchers[0].findall(f".//{xsl('call-template')}")
    assert len(calls) == 27  # nine categories x (tax subtotal, allowance, charge)
    assert len({c.get("name") for c in calls}) == 27
    peppol = etree.fromstring(fuse_stylesheet(officials[1]))
    assert len([v for v in peppol.iter(xsl("variable")) if v.get("name", "").startswith(GUARD_PREFIX)]) == 1


def test_the_documents_exercise_every_category_and_error(
    saxon: PySaxonProcessor, officials: list[bytes], documents: list[tuple[str, str]]
) -> None:
    """Not a vacuous corpus: the categories fire different rules, and a few documents stop the official
    CEN stylesheet on a dynamic error (in a rule body: a pattern that raised only did not match)."""
    cen = compile_stylesheet(saxon, officials[0])
    outcomes = {name: outcome(cen, saxon.parse_xml(xml_text=document)) for name, document in documents}
    rules = {
        code: {f[0] for f in outcomes[f"invoice: all {code!r}"]}  # type: ignore[union-attr]
        for code in CATEGORIES
    }
    assert len({frozenset(found) for found in rules.values()}) >= 7  # S and M, as given, fire nothing
    assert 0 < sum(isinstance(o, str) for o in outcomes.values()) < len(documents) // 10
    assert len(documents) > 150


def test_fused_layers_give_the_official_findings(
    saxon: PySaxonProcessor, officials: list[bytes], documents: list[tuple[str, str]]
) -> None:
    fused = [fuse_stylesheet(official) for official in officials]
    differences = _differences(saxon, officials, fused, documents)
    assert not differences, f"{len(differences)} differences:\n" + "\n".join(differences[:10])


def test_the_shared_stylesheet_gives_the_official_findings(
    saxon: PySaxonProcessor, officials: list[bytes], documents: list[tuple[str, str]]
) -> None:
    """Both layers in one walk (an error in either stops it) and each layer alone in it."""
    shared = compile_stylesheet(saxon, fuse_stylesheets(officials, ["cen", "peppol"]))
    compiled = [compile_stylesheet(saxon, official) for official in officials]
    failures = []
    for name, document in documents:
        node = saxon.parse_xml(xml_text=document)
        wanted = [outcome(official, node) for official in compiled]
        for layer, want in zip(("cen", "peppol"), wanted, strict=True):
            if outcome(shared, node, layer) != want:
                failures.append(f"{name}: {layer} alone")
        both = outcome(shared, node, "")
        if isinstance(both, str) != any(isinstance(want, str) for want in wanted):
            failures.append(f"{name}: both layers {str(both)[:200]}")
        elif not isinstance(both, str) and both != wanted:
            failures.append(f"{name}: both layers' findings")
    assert not failures, "\n".join(failures[:10])


def _broken(official: bytes, change: Callable[[etree._Element], int]) -> tuple[bytes, int]:
    root = etree.fromstring(fuse_stylesheet(official))
    changed = change(root)
    return etree.tostring(root), changed


def _without_guard(root: etree._Element) -> int:
    guards = [v for v in root.iter(xsl("variable")) if v.get("name", "").startswith(GUARD_PREFIX)]
    for guard in guards:
        guard.set("select", "true()")
    return len(guards)


def _reversed_choices(root: etree._Element) -> int:
    changed = 0
    for template in root.iter(xsl("template")):
        for choose in template.iterfind(f"{xsl('choose')}/{xsl('when')}/{xsl('if')}/{xsl('choose')}"):
            choose[:] = list(reversed(choose))
            changed += 1
    return changed


def _without_ancestors(root: etree._Element) -> int:
    changed = 0
    for when in root.iter(xsl("when")):
        test = when.get("test", "")
        if test.startswith("$fused-code = ") and " and exists(" in test:
            when.set("test", test.split(" and exists(")[0])
            changed += 1
    return changed


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_without_guard, ("two exemption reasons",)),
        (_reversed_choices, ("two indicators",)),
        (_without_ancestors, ("allowance",)),
    ],
)
def test_a_broken_dispatcher_is_noticed(
    saxon: PySaxonProcessor,
    officials: list[bytes],
    documents: list[tuple[str, str]],
    change: Callable[[etree._Element], int],
    expected: tuple[str, ...],
) -> None:
    """Without the guard the dispatcher chooses on documents where a pattern raised (and so did not
    match); in another order it picks a later template; without the ancestor steps, the wrong context."""
    broken = [_broken(official, change) for official in officials]
    assert sum(changed for _, changed in broken) > 0
    fused = [stylesheet for stylesheet, _ in broken]
    differences = _differences(saxon, officials, fused, documents)
    for what in expected:
        assert any(what in difference for difference in differences), (what, differences[:5])


@pytest.mark.parametrize(
    ("predicate", "element", "guard"),
    [
        ("normalize-space(cbc:ID) = 'S'", "cac:C", "//cac:C[cbc:ID[2]]"),
        ("normalize-space(upper-case(cbc:ID))='VAT'", "cac:C", "//cac:C[cbc:ID[2]]"),
        ("cac:S/normalize-space(upper-case(cbc:ID))='VAT'", "cac:C", "//cac:C/cac:S[cbc:ID[2]]"),
        (
            "cbc:ChargeIndicator=false()",
            "cac:A",
            "//cac:A/cbc:ChargeIndicator[not(. castable as xs:boolean)]",
        ),
        ("cbc:X = 'a' and not(cbc:Y)", "cac:A", ""),
        ("xs:decimal(cbc:P) > 0", "cac:A", None),
        ("1", "cac:A", None),
        ("position() = 1", "cac:A", None),
        ("normalize-space(cbc:ID) = $code", "cac:C", None),
    ],
)
def test_error_guards(predicate: str, element: str, guard: str | None) -> None:
    assert _error_guard(predicate, element) == guard


@pytest.mark.parametrize(("shift", "expected"), [(1_000_000, "1001036"), (Decimal("12345.25"), "13381.25")])
def test_the_dispatcher_priority_is_an_exact_decimal(
    saxon: PySaxonProcessor,
    officials: list[bytes],
    documents: list[tuple[str, str]],
    shift: int | Decimal,
    expected: str,
) -> None:
    """A rule set whose priorities reach 10^6 (or have decimals): the dispatcher's priority is the top
    member's plus one, written as an xs:decimal (``:g`` wrote 1.00104e+06: Saxon refused to compile,
    and rounded 13381.25 to 13381.2), and the findings stay the official ones."""
    official = re.sub(
        rb'(mode="M11" priority=")(\d+)"',
        lambda found: found.group(1) + str(int(found.group(2)) + shift).encode() + b'"',
        officials[0],
    )
    fused = fuse_stylesheet(official)
    dispatchers = [
        t.get("priority")
        for t in etree.fromstring(fused).iter(xsl("template"))
        if t.get("match") == "cac:TaxCategory" and t.get("mode") == "M11" and t.get("name") is None
    ]
    assert dispatchers == [expected]
    differences = _differences(saxon, [official], [fused], documents[::9])
    assert not differences, "\n".join(differences[:5])
