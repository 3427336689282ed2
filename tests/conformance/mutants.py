"""Deterministic mutants of the official examples, for the fused-vs-official differential suite.

Each mutant changes one thing a validator must notice: an element dropped, duplicated or emptied, a
code, amount, date or currency changed (valid-looking or garbage, including values that make the
official rules hit XPath dynamic errors), or an attribute the CEN syntax rules forbid added. The
choice of elements is seeded, so every run and every machine tests the same documents.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator

from lxml import etree

Mutation = Callable[[etree._Element, random.Random], str | None]

_CODES = ("XX", "ZZZ", "1", "S", "AE", "EUR", "380", "")
_AMOUNTS = ("0", "-1.00", "100.005", "1e3", "abc", "99999999.99")
_DATES = ("2026-02-30", "20260101", "2026-13-01", "1999-01-01")
_CURRENCIES = ("USD", "EUR", "XXX", "eur", "")


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname


def _leaves(root: etree._Element, suffix: str = "") -> list[etree._Element]:
    return [n for n in root.iter() if isinstance(n.tag, str) and len(n) == 0 and _local(n).endswith(suffix)]


def _drop(root: etree._Element, rng: random.Random) -> str | None:
    nodes = [n for n in root.iter() if isinstance(n.tag, str) and n.getparent() is not None]
    node = rng.choice(nodes)
    parent = node.getparent()
    assert parent is not None
    parent.remove(node)
    return f"drop {_local(node)}"


def _duplicate(root: etree._Element, rng: random.Random) -> str | None:
    node = rng.choice([n for n in root.iter() if isinstance(n.tag, str) and n.getparent() is not None])
    node.addnext(copy.deepcopy(node))
    return f"duplicate {_local(node)}"


def _empty(root: etree._Element, rng: random.Random) -> str | None:
    node = rng.choice(_leaves(root))
    node.text = rng.choice(("", " "))
    return f"empty {_local(node)}"


def _set_text(suffix: str, values: tuple[str, ...]) -> Mutation:
    def mutate(root: etree._Element, rng: random.Random) -> str | None:
        nodes = _leaves(root, suffix)
        if not nodes:
            return None
        node = rng.choice(nodes)
        node.text = rng.choice(values)
        return f"{_local(node)}={node.text!r}"

    return mutate


def _set_attribute(name: str, values: tuple[str, ...]) -> Mutation:
    def mutate(root: etree._Element, rng: random.Random) -> str | None:
        nodes = [n for n in root.iter() if isinstance(n.tag, str) and n.get(name) is not None]
        if not nodes:
            return None
        node = rng.choice(nodes)
        node.set(name, rng.choice(values))
        return f"{_local(node)}/@{name}={node.get(name)!r}"

    return mutate


def _add_attribute(root: etree._Element, rng: random.Random) -> str | None:
    node = rng.choice(_leaves(root))
    name = rng.choice(("listName", "languageID", "schemeAgencyID", "format", "name", "listURI"))
    node.set(name, "x")
    return f"{_local(node)}/@{name} added"


MUTATIONS: tuple[Mutation, ...] = (
    _add_attribute,
    _drop,
    _duplicate,
    _empty,
    _set_text("Code", _CODES),
    _set_text("Amount", _AMOUNTS),
    _set_text("Quantity", _AMOUNTS),
    _set_text("Date", _DATES),
    _set_text("CurrencyCode", _CURRENCIES),
    _set_text("ID", ("", "0", "DE123", "GB000000000")),
    _set_attribute("currencyID", _CURRENCIES),
    _set_attribute("unitCode", ("C62", "XYZ", "")),
    _set_attribute("schemeID", ("0088", "9999", "VAT", "")),
)


def mutants(name: str, document: bytes, count: int, *, seed: int = 12) -> Iterator[tuple[str, bytes]]:
    """Yield ``count`` mutants of ``document`` as ``(label, bytes)``, each with one mutation."""
    rng = random.Random(f"{seed}:{name}")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
    original = etree.fromstring(document, parser)
    made = 0
    for attempt in range(count * 4):
        if made == count:
            return
        root = copy.deepcopy(original)
        mutation = MUTATIONS[attempt % len(MUTATIONS)]
        what = mutation(root, rng)
        if what is None:
            continue
        made += 1
        yield f"{name} #{made}: {what}", etree.tostring(root, xml_declaration=True, encoding="UTF-8")
