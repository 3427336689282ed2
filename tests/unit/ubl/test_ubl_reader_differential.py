"""The UBL reader (``read_ubl_tree`` with its ``ChildIndex``) reads what the reader before the index read:
the same model (``==`` and the same JSON, so the same lexical amounts) or the same refusal (type and
message), for every Invoice and CreditNote we hold - the official examples and unit-test documents of the
artefact mirror, the interop sample, the JSON test documents as the sender writes them - and for mutants of
them: each element path removed, doubled, given bad text (dates, amounts, codes, blanks), each attribute
dropped, blanked or padded, comments and processing instructions everywhere, children in reverse order,
look-alike elements of other namespaces (BENCHMARKS.md, *Expense draft read instructions*).

The oracle is a frozen copy of the reader before the index (``reader_before_index``), run here on the same
tree, rather than golden files recorded once: it answers for any input, so the mutants are made here and
not stored (a golden file of every outcome would be megabytes, or hashes that say nothing of what
differs), and a later change of the model moves both sides alike instead of staling every golden.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from gateway.model import BIS_BILLING_CUSTOMIZATION, CreditNote, Invoice
from gateway.services.conversion import convert_to_ubl, parse_document_json
from gateway.ubl import read_ubl_streamed, read_ubl_tree
from gateway.ubl.codes import CREDIT_NOTE_NS, INVOICE_NS, UBL_NS
from gateway.xmlcore import parse_xml
from tests.conftest import SHARED
from tests.unit.ubl.reader_before_index import read_ubl_tree_before

DOCUMENTS = Path(__file__).resolve().parents[2] / "data" / "documents"
_ROOTS = frozenset({(INVOICE_NS, "Invoice"), (CREDIT_NOTE_NS, "CreditNote")})
_ROOT_TAGS = tuple(f"{{{namespace}}}{local}" for namespace, local in _ROOTS)
_CUSTOMIZATION = f"{{{UBL_NS['cbc']}}}CustomizationID"
#: Text a document may carry where a value is read: blanks, words, too many decimals, impossible dates, an
#: exponent, not-a-number, a signed zero, other scripts' digits, a decimal comma, a huge number, a
#: character XML carries but the model's text refuses nothing of, blanks around a value.
BAD_TEXT = (
    "",
    "   ",
    "abc",
    "1.005",
    "2026-02-30",
    "1e3",
    "NaN",
    "-0.00",
    "\uff11\uff12",
    "12,50",
    "99999999999999999",
    "2026-13-01",
    " \u00a0 12.5 \t",
    "true ",
)

Reader = Callable[[etree._Element], Invoice | CreditNote]


def _outcome(read: Reader, root: etree._Element) -> tuple[Any, ...]:
    try:
        model = read(root)
    except Exception as exc:  # any refusal, even a bug's: the new reader must fail alike
        return ("refused", type(exc), str(exc))
    return ("read", type(model), model, model.model_dump(mode="json"))


def _same(root: etree._Element, what: str) -> str:
    """Assert both readers agree on ``root``; "read" or "refused"."""
    before = _outcome(read_ubl_tree_before, root)
    after = _outcome(read_ubl_tree, root)
    assert after == before, what
    return str(before[0])


def _corpus(artefacts_dir: Path) -> list[tuple[str, bytes]]:
    """Every UBL Invoice and CreditNote of the mirror and the interop samples, a whole file's or one in a
    unit-test set (``testSet/test/Invoice``: a fragment without BT-24 is also read given the BIS one), and
    the JSON test documents as UBL."""
    found = []
    for path in sorted([*artefacts_dir.rglob("*.xml"), *(SHARED / "interop" / "samples").glob("*.xml")]):
        data = path.read_bytes()
        try:
            root = parse_xml(data, what="document")
        except Exception:
            continue
        name = str(path.relative_to(SHARED))
        if (etree.QName(root).namespace, etree.QName(root).localname) in _ROOTS:
            found.append((name, data))
            continue
        for n, el in enumerate(el for el in root.iter(*_ROOT_TAGS)):
            document = etree.fromstring(etree.tostring(el))
            found.append((f"{name} #{n}", etree.tostring(document)))
            if document.find(_CUSTOMIZATION) is None:
                customization = etree.Element(_CUSTOMIZATION)
                customization.text = BIS_BILLING_CUSTOMIZATION
                document.insert(0, customization)
                found.append((f"{name} #{n} with BT-24", etree.tostring(document)))
    for path in sorted(DOCUMENTS.glob("*.json")):
        found.append((path.name, convert_to_ubl(parse_document_json(path.read_bytes())).ubl))
    return found


@pytest.fixture(scope="module")
def corpus(artefacts_dir: Path) -> list[tuple[str, bytes]]:
    return _corpus(artefacts_dir)


def _tag_path(el: etree._Element) -> str:
    parts = []
    while el is not None:
        parts.append(etree.QName(el).localname)
        el = el.getparent()
    return "/".join(reversed(parts))


def _position(el: etree._Element) -> list[int]:
    """Where ``el`` sits: its index under each ancestor, from the root."""
    at = []
    while el.getparent() is not None:
        parent = el.getparent()
        at.append(parent.index(el))
        el = parent
    return list(reversed(at))


def _at(root: etree._Element, position: list[int]) -> etree._Element:
    for index in position:
        root = root[index]
    return root


def _mutants(name: str, data: bytes, seen: set[tuple[str, ...]]) -> Iterator[tuple[str, etree._Element]]:
    """Mutants of one document: the structural ones always, each per-path one the first time its path
    (and kind) is met in the corpus."""
    base = parse_xml(data, what="document")
    elements = [el for el in base.iter(etree.Element) if el is not base]
    bad = itertools.cycle(BAD_TEXT)

    def fresh(el: etree._Element) -> tuple[etree._Element, etree._Element]:
        tree = copy.deepcopy(base)
        return tree, _at(tree, _position(el))

    for el in elements:
        path = _tag_path(el)
        if ("removed", path) not in seen:
            seen.add(("removed", path))
            tree, target = fresh(el)
            target.getparent().remove(target)
            yield f"{name}: {path} removed", tree
        if ("doubled", path) not in seen:
            seen.add(("doubled", path))
            tree, target = fresh(el)
            twin = copy.deepcopy(target)
            if len(twin) == 0:
                twin.text = f"X{twin.text or ''}"
            target.addprevious(twin)
            yield f"{name}: {path} doubled", tree
        if len(el) == 0 and ("text", path) not in seen:
            seen.add(("text", path))
            for _ in range(3):
                tree, target = fresh(el)
                target.text = next(bad)
                yield f"{name}: {path} = {target.text!r}", tree
        for attribute in el.attrib:
            if ("attribute", path, attribute) not in seen:
                seen.add(("attribute", path, attribute))
                tree, target = fresh(el)
                del target.attrib[attribute]
                yield f"{name}: {path} @{attribute} dropped", tree
                tree, target = fresh(el)
                target.set(attribute, "  ")
                yield f"{name}: {path} @{attribute} blank", tree
                tree, target = fresh(el)
                target.set(attribute, f" {target.get(attribute)}\t")
                yield f"{name}: {path} @{attribute} padded", tree

    tree = copy.deepcopy(base)
    for el in list(tree.iter(etree.Element)):
        for child in list(el):
            child.addprevious(etree.Comment(" c "))
            child.addprevious(etree.ProcessingInstruction("pi", "x"))
    yield f"{name}: comments and PIs", tree

    tree = copy.deepcopy(base)
    for el in list(tree.iter(etree.Element)):
        children = list(el)
        for child in children:
            el.remove(child)
        el.extend(reversed(children))
    yield f"{name}: children reversed", tree

    tree = copy.deepcopy(base)
    for el in list(tree.iter(etree.Element)):
        for child in [c for c in el if isinstance(c.tag, str)]:
            local = etree.QName(child).localname
            for twin_tag in (f"{{urn:example:other}}{local}", local):
                twin = copy.deepcopy(child)
                twin.tag = twin_tag
                if len(twin) == 0:
                    twin.text = "1"
                child.addprevious(twin)
    yield f"{name}: look-alikes of other namespaces", tree


def test_every_document_reads_as_before(corpus: list[tuple[str, bytes]]) -> None:
    counts = {"read": 0, "refused": 0}
    for name, data in corpus:
        counts[_same(parse_xml(data, what="document"), name)] += 1
    # both kinds, each in number: 78 documents read, the rest refused (mostly unit-test fragments)
    assert counts["read"] >= 70, counts
    assert counts["refused"] >= 1000, counts


def test_every_mutant_reads_as_before(corpus: list[tuple[str, bytes]]) -> None:
    counts = {"read": 0, "refused": 0}
    seen: set[tuple[str, ...]] = set()
    for name, data in corpus:
        for what, tree in _mutants(name, data, seen):
            counts[_same(tree, what)] += 1
    assert counts["read"] >= 500, counts
    assert counts["refused"] >= 500, counts


def test_the_streamed_read_reads_as_before(corpus: list[tuple[str, bytes]]) -> None:
    """The line-by-line reader shares ``read_line`` (an index of its own per line) and ``read_ubl_tree``:
    it reads each document the reader before read into a model into the same model. (Its refusals may come
    from another element first - a line is read as it ends, before the root's BT-24 check - as before.)"""
    read = 0
    for name, data in corpus:
        before = _outcome(read_ubl_tree_before, parse_xml(data, what="document"))
        if before[0] == "read":
            after = _outcome(
                lambda _root, data=data: read_ubl_streamed(data), parse_xml(data, what="document")
            )
            assert after == before, name
            read += 1
    assert read >= 70
