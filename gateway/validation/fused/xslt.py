"""XSLT elements as the fused writers build them: an ``xsl:`` child with its attributes, and the
namespaces every fused stylesheet binds."""

from __future__ import annotations

from lxml import etree

from gateway.validation.fused.codes import MAP_NAMESPACE
from gateway.validation.fused.findings import NAMESPACE as FINDINGS_NAMESPACE
from gateway.validation.fused.findings import PREFIX as FINDINGS_PREFIX
from gateway.validation.fused.skeleton import SVRL, XSL, SkeletonError, xsl

XS = "http://www.w3.org/2001/XMLSchema"


def sub(parent: etree._Element, local: str, **attributes: str) -> etree._Element:
    """Append ``xsl:local`` to ``parent``; ``as_`` and ``on_multiple_match`` name ``as`` and
    ``on-multiple-match``."""
    node = etree.SubElement(parent, xsl(local))
    for key, value in attributes.items():
        node.set(key.rstrip("_").replace("_", "-"), value)
    return node


def bind_fused_namespaces(nsmap: dict[str, str]) -> None:
    """Add to ``nsmap`` the prefixes the fused stylesheet's own XSLT uses (unless bound already).

    Raises:
        SkeletonError: the stylesheet binds the findings' prefix to another namespace.
    """
    nsmap.setdefault("map", MAP_NAMESPACE)
    nsmap.setdefault("svrl", SVRL)
    nsmap.setdefault("xsl", XSL)
    nsmap.setdefault("xs", XS)
    if nsmap.setdefault(FINDINGS_PREFIX, FINDINGS_NAMESPACE) != FINDINGS_NAMESPACE:
        raise SkeletonError(f"the stylesheet binds the prefix {FINDINGS_PREFIX!r} the fused one needs")
