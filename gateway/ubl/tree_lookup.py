"""Child-step lookups in a UBL tree (``cac:Party/cbc:EndpointID``): the reader's ``find``, text and
attribute reads without lxml's ElementPath, which costs 3-4 times more per call (issue 12).

Two forms with the same answers: the functions (``find_child``, ``text_at``...) scan an element's children
at each call; :class:`ChildIndex`, the reader's, reads each element's children once and answers the
element's later lookups from that (BENCHMARKS.md, *Expense draft read instructions*)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

from lxml import etree

from gateway.ubl.codes import UBL_NS

Data = dict[str, Any]


@cache
def child_steps(path: str) -> tuple[str, ...]:
    """``cac:A/cbc:B`` as Clark names (``{ns}A``, ``{ns}B``); ``.`` is no step (the element itself)."""
    steps = []
    for step in path.split("/"):
        if step == ".":
            continue
        prefix, colon, local = step.partition(":")
        steps.append(f"{{{UBL_NS[prefix]}}}{local}" if colon else step)
    return tuple(steps)


def descend(el: etree._Element, steps: tuple[str, ...]) -> Iterator[etree._Element]:
    """The elements at the child steps ``steps`` below ``el``, in document order (as ``findall``)."""
    if not steps:
        yield el
        return
    for child in el.iterchildren(steps[0]):
        yield from descend(child, steps[1:])


def find_child(el: etree._Element, path: str) -> etree._Element | None:
    """``el.find(path)`` for a path of child steps: lxml's ``find`` goes through ElementPath in Python, a
    3-4 times dearer call, and the reader makes ~200 finds per document (issue 12: ≈ 0.4 ms on the
    receiving side)."""
    steps = child_steps(path)
    if len(steps) == 1:
        return next(el.iterchildren(steps[0]), None)
    if not steps:
        return el
    return _first_at(el, steps, 0)


def _first_at(el: etree._Element, steps: tuple[str, ...], at: int) -> etree._Element | None:
    """The first element, in document order, at ``steps[at:]`` below ``el``: :func:`descend`'s first,
    without a generator per level (the reader's ~230 finds per document, a third of them of two steps or
    more; BENCHMARKS.md, *Receiver instructions per document*)."""
    last = at == len(steps) - 1
    for child in el.iterchildren(steps[at]):
        if last:
            return child
        found = _first_at(child, steps, at + 1)
        if found is not None:
            return found
    return None


def text_at(el: etree._Element | None, path: str) -> str | None:
    """Stripped text at ``path`` below ``el``; None when absent or blank."""
    if el is None:
        return None
    found = find_child(el, path)
    text = found.text if found is not None else None
    return (text.strip() or None) if text is not None else None


def attr_at(el: etree._Element | None, path: str, name: str) -> str | None:
    """Stripped attribute ``name`` of the element at ``path``; None when absent or blank."""
    if el is None:
        return None
    found = find_child(el, path)
    value = found.get(name) if found is not None else None
    return value.strip() if value and value.strip() else None


def all_at(el: etree._Element | None, path: str) -> list[etree._Element]:
    """Every element at ``path`` below ``el``, in document order."""
    return [] if el is None else list(descend(el, child_steps(path)))


def ident_at(el: etree._Element | None, path: str) -> Data | None:
    """An identifier and its ``schemeID`` at ``path``, as model data; None when absent."""
    value = text_at(el, path)
    return None if value is None else {"value": value, "scheme": attr_at(el, path, "schemeID")}


def compact(data: Data) -> Data:
    """Drop None values and empty containers (lists, dicts) so model defaults apply. A falsy value is dropped
    only if it is a list or a dict: ``v != [] and v != {}`` built two containers and compared twice for every
    value (the reader's values are text, flags, lists, dicts and None)."""
    return {k: v for k, v in data.items() if v is not None and (v or not isinstance(v, (list, dict)))}


class ChildIndex:
    """The element children of a tree's elements, grouped by tag: the lookups of :func:`find_child`,
    :func:`text_at`, :func:`attr_at`, :func:`all_at` and :func:`ident_at`, with the same answers, for one
    read of one tree.

    An element's children are read once, at the first lookup below it (``iterchildren`` of elements only,
    as the functions' tag match: no comment or processing instruction); each later lookup there is a dict
    read. The functions set up lxml's tag matcher at every call, ≈ 8 k instructions a lookup, against ≈ 3 k
    an element and ≈ 4 k a child to read the children once; the reader makes ≈ 230 lookups per document,
    ≈ 45 of them below the root's ≈ 26 children (BENCHMARKS.md, *Expense draft read instructions*).

    Elements are keys by identity: lxml hands out the same proxy for an element while one is alive, and
    the index holds every element it read until it is dropped. So it holds (part of) the tree's proxies:
    one index per read (the reader's lines have one each), never kept beside the tree.
    """

    __slots__ = ("_groups",)

    def __init__(self) -> None:
        self._groups: dict[etree._Element, dict[str, list[etree._Element]]] = {}

    def children(self, el: etree._Element, tag: str) -> Sequence[etree._Element]:
        """The children of ``el`` whose tag is ``tag`` (Clark notation), in document order."""
        groups = self._groups.get(el)
        if groups is None:
            groups = self._groups[el] = _grouped(el)
        return groups.get(tag, ())

    def find(self, el: etree._Element, path: str) -> etree._Element | None:
        """:func:`find_child`: the first element at ``path`` below ``el``, in document order."""
        steps = child_steps(path)
        if len(steps) == 1:  # most lookups: :meth:`children` inline (a call fewer)
            groups = self._groups.get(el)
            if groups is None:
                groups = self._groups[el] = _grouped(el)
            found = groups.get(steps[0])
            return found[0] if found is not None else None
        if not steps:
            return el
        return self._first_at(el, steps, 0)

    def _first_at(self, el: etree._Element, steps: tuple[str, ...], at: int) -> etree._Element | None:
        """The first element at ``steps[at:]`` below ``el``, in document order (:func:`_first_at`'s)."""
        groups = self._groups.get(el)
        if groups is None:
            groups = self._groups[el] = _grouped(el)
        same = groups.get(steps[at])
        if same is None:
            return None
        if at == len(steps) - 1:
            return same[0]
        for child in same:
            found = self._first_at(child, steps, at + 1)
            if found is not None:
                return found
        return None

    def text(self, el: etree._Element | None, path: str) -> str | None:
        """:func:`text_at`: the stripped text at ``path`` below ``el``; None when absent or blank."""
        if el is None:
            return None
        steps = child_steps(path)
        if len(steps) == 1:  # most lookups: :meth:`find` inline (two calls fewer)
            groups = self._groups.get(el)
            if groups is None:
                groups = self._groups[el] = _grouped(el)
            same = groups.get(steps[0])
            if same is None:
                return None
            text = same[0].text
        else:
            found = self._first_at(el, steps, 0) if steps else el
            text = found.text if found is not None else None
        return (text.strip() or None) if text is not None else None

    def attr(self, el: etree._Element | None, path: str, name: str) -> str | None:
        """:func:`attr_at`: the stripped attribute ``name`` of the element at ``path``; None when absent or
        blank."""
        if el is None:
            return None
        found = self.find(el, path)
        value = found.get(name) if found is not None else None
        return value.strip() if value and value.strip() else None

    def all(self, el: etree._Element | None, path: str) -> list[etree._Element]:
        """:func:`all_at`: every element at ``path`` below ``el``, in document order."""
        if el is None:
            return []
        steps = child_steps(path)
        if len(steps) == 1:
            return list(self.children(el, steps[0]))
        found: list[etree._Element] = []
        self._collect(el, steps, 0, found)
        return found

    def _collect(
        self, el: etree._Element, steps: tuple[str, ...], at: int, found: list[etree._Element]
    ) -> None:
        if at == len(steps):
            found.append(el)
            return
        for child in self.children(el, steps[at]):
            self._collect(child, steps, at + 1, found)

    def ident(self, el: etree._Element | None, path: str) -> Data | None:
        """:func:`ident_at`: the identifier at ``path`` and its ``schemeID``, as model data; None when
        absent (the element is found once for both)."""
        if el is None:
            return None
        found = self.find(el, path)
        text = found.text if found is not None else None
        value = (text.strip() or None) if text is not None else None
        if value is None:
            return None
        assert found is not None
        scheme = found.get("schemeID")
        return {"value": value, "scheme": scheme.strip() if scheme and scheme.strip() else None}


def _grouped(el: etree._Element) -> dict[str, list[etree._Element]]:
    """The element children of ``el`` by tag, each tag's in document order."""
    groups: dict[str, list[etree._Element]] = {}
    for child in el.iterchildren(etree.Element):
        tag = child.tag
        same = groups.get(tag)
        if same is None:
            groups[tag] = [child]
        else:
            same.append(child)
    return groups
