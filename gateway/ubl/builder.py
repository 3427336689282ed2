"""Small lxml building blocks for the UBL writer: elements in UBL order, no empty elements."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from lxml import etree

from gateway.errors import MappingError
from gateway.model.values import format_decimal
from gateway.ubl.codes import CAC, CBC

_PREFIX = {"cac": CAC, "cbc": CBC}

Value = str | Decimal | dt.date | bool | None


#: ``cac:Name`` -> ``{namespace}Name``, filled as the writer uses names (a fixed set: its literals).
_QNAMES: dict[str, str] = {}


def _qname(name: str) -> str:
    qname = _QNAMES.get(name)
    if qname is None:
        prefix, _, local = name.partition(":")
        qname = _QNAMES[name] = f"{{{_PREFIX[prefix]}}}{local}"
    return qname


def _text(value: str | Decimal | dt.date | bool) -> str:
    if isinstance(value, str):  # the most frequent
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def add(
    parent: etree._Element, name: str, value: Value, /, **attributes: str | None
) -> etree._Element | None:
    """Append ``<name>value</name>`` unless value is None (PEPPOL-EN16931-R008: no empty elements).

    Attributes whose value is None are left out.

    Raises:
        MappingError: the value or an attribute holds a character XML 1.0 cannot carry.
    """
    if value is None:
        return None
    element = etree.SubElement(parent, _qname(name))
    try:
        element.text = _text(value)
        for key, attr in attributes.items():
            if attr is not None:
                element.set(key, attr)
    except ValueError as exc:  # lxml: a character XML 1.0 cannot carry (the model refuses them first)
        parent.remove(element)
        raise MappingError(f"{name} cannot be written as XML: {exc}") from exc
    return element


def group(parent: etree._Element, name: str) -> etree._Element:
    """Append an aggregate (``cac:``) element; :func:`prune` removes it later if it stays empty."""
    return etree.SubElement(parent, _qname(name))


def amount(parent: etree._Element, name: str, value: Decimal | None, currency: str) -> None:
    """Append an amount with its ``currencyID`` (PEPPOL-EN16931-R051)."""
    add(parent, name, value, currencyID=currency)


def prune(root: etree._Element) -> None:
    """Remove aggregates that received no child and no text, bottom-up."""
    for element in reversed(list(root.iter())):
        if element is root:
            continue
        if len(element) == 0 and not (element.text or "").strip():
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
