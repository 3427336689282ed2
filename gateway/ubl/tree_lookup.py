"""Child-step lookups in a UBL tree (``cac:Party/cbc:EndpointID``): the reader's ``find``, text and
attribute reads without lxml's ElementPath, which costs 3-4 times more per call (issue 12)."""

from __future__ import annotations

from collections.abc import Iterator
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
    """Drop None values and empty containers so model defaults apply."""
    return {k: v for k, v in data.items() if v is not None and v != [] and v != {}}
