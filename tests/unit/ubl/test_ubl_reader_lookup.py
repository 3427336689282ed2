"""The UBL reader's child-step lookups (``find_child``, ``all_at`` and ``ChildIndex``'s) answer exactly what
lxml's ElementPath ``find`` / ``findall`` answer, on every child path of the official examples: they replace
those calls for speed (issue 12, BENCHMARKS.md *End to end, fifth pass*, *Expense draft read
instructions*)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from gateway.ubl import tree_lookup
from gateway.ubl.codes import UBL_NS

PREFIX = {uri: prefix for prefix, uri in UBL_NS.items()}
EXAMPLES = ("base-example.xml", "base-creditnote-correction.xml", "Allowance-example.xml")


def _step(el: etree._Element) -> str:
    qname = etree.QName(el)
    return f"{PREFIX[qname.namespace]}:{qname.localname}"


def _paths(el: etree._Element, depth: int) -> set[str]:
    """Every child path of up to ``depth`` steps below ``el``, in the reader's ``cac:A/cbc:B`` form."""
    found: set[str] = set()
    for child in el.iterchildren(etree.Element):
        if etree.QName(child).namespace not in PREFIX:
            continue
        step = _step(child)
        found.add(step)
        if depth > 1:
            found.update(f"{step}/{rest}" for rest in _paths(child, depth - 1))
    return found


def _clark(path: str) -> str:
    return "/".join(f"{{{UBL_NS[s.split(':')[0]]}}}{s.split(':')[1]}" for s in path.split("/"))


@pytest.mark.parametrize("name", EXAMPLES)
def test_same_answers_as_elementpath(artefacts_dir: Path, name: str) -> None:
    root = etree.parse(artefacts_dir / "peppol-bis-billing-3.0.21" / "examples" / name).getroot()
    checked = 0
    index = tree_lookup.ChildIndex()
    for el in root.iter(etree.Element):
        for path in _paths(el, 3) | {"cbc:Absent", "cac:Absent/cbc:ID"}:
            assert tree_lookup.find_child(el, path) is el.find(_clark(path)), path
            assert tree_lookup.all_at(el, path) == el.findall(_clark(path)), path
            assert index.find(el, path) is el.find(_clark(path)), path
            assert index.all(el, path) == el.findall(_clark(path)), path
            assert index.text(el, path) == tree_lookup.text_at(el, path), path
            assert index.ident(el, path) == tree_lookup.ident_at(el, path), path
            assert index.attr(el, path, "schemeID") == tree_lookup.attr_at(el, path, "schemeID"), path
            checked += 1
    assert checked > 500  # the examples hold repeated and nested elements, not a handful of paths


def test_document_order_across_parents_and_comments() -> None:
    cac, cbc = UBL_NS["cac"], UBL_NS["cbc"]
    root = etree.fromstring(
        f'<r xmlns:cac="{cac}" xmlns:cbc="{cbc}"><cac:A><!-- c --><cbc:B>1</cbc:B><cbc:B>2</cbc:B></cac:A>'
        "<cbc:B>top</cbc:B><cac:A/><cac:A><?pi x?><cbc:B>3</cbc:B></cac:A></r>"
    )
    assert [b.text for b in tree_lookup.all_at(root, "cac:A/cbc:B")] == ["1", "2", "3"]
    assert tree_lookup.text_at(root, "cac:A/cbc:B") == "1"
    assert tree_lookup.text_at(root, "cbc:B") == "top"
    assert tree_lookup.all_at(root, ".") == [root]
    assert tree_lookup.find_child(root, ".") is root
    index = tree_lookup.ChildIndex()
    assert [b.text for b in index.all(root, "cac:A/cbc:B")] == ["1", "2", "3"]
    assert index.text(root, "cac:A/cbc:B") == "1"
    assert index.text(root, "cbc:B") == "top"
    assert index.all(root, ".") == [root]
    assert index.find(root, ".") is root


def test_the_first_match_is_found_past_parents_without_one() -> None:
    cac, cbc = UBL_NS["cac"], UBL_NS["cbc"]
    root = etree.fromstring(
        f'<r xmlns:cac="{cac}" xmlns:cbc="{cbc}"><cac:A><cac:C/></cac:A><cac:A><cac:C><cbc:B>x</cbc:B>'
        "</cac:C></cac:A><cac:A><cac:C><cbc:B>y</cbc:B></cac:C></cac:A></r>"
    )
    assert tree_lookup.text_at(root, "cac:A/cac:C/cbc:B") == "x"
    assert tree_lookup.find_child(root, "cac:A/cac:C/cbc:D") is None
    assert tree_lookup.find_child(root, ".") is root
    index = tree_lookup.ChildIndex()
    assert index.text(root, "cac:A/cac:C/cbc:B") == "x"
    assert index.find(root, "cac:A/cac:C/cbc:D") is None
