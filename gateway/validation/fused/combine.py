"""Combining several official stylesheets' top level in one module: their namespaces and their
declarations and location templates, each kept once, or ``CombineError`` when they clash."""

from __future__ import annotations

from lxml import etree

from gateway.validation.fused.findings import PREFIX as FINDINGS_PREFIX
from gateway.validation.fused.skeleton import Skeleton, SkeletonError, xsl


class CombineError(SkeletonError):
    """Stylesheets that cannot share one module (their layers are then run apart)."""


def _same(left: etree._Element, right: etree._Element) -> bool:
    """Whether two elements are the same XSLT (names, attributes, texts; whitespace-only text, which
    XSLT strips but in ``xsl:text``, aside), namespace declarations aside (the prefixes they use are
    bound alike: checked on the stylesheets)."""

    def text(node: etree._Element, value: str | None) -> str:
        return value or "" if (value or "").strip() or node.tag == xsl("text") else ""

    def shape(node: etree._Element) -> tuple[object, ...]:
        attributes = {str(key): str(value) for key, value in node.attrib.items()}
        return (node.tag, attributes, text(node, node.text), (node.tail or "").strip() and node.tail)

    if shape(left) != shape(right):
        return False
    return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))


def shared_top_level(nodes: list[etree._Element], *, ours: bool = False) -> list[etree._Element]:
    """Top-level declarations and location templates of several stylesheets, each kept once: a name
    (or a template's mode, match, name and priority) declared twice must be declared alike; names of
    the gateway's own (``fused...``) are refused unless ``ours``.

    Raises:
        CombineError: two different declarations of one name.
    """
    kept: dict[tuple[str, ...], etree._Element] = {}
    for node in nodes:
        key = (str(node.tag), *(node.get(a, "") for a in ("name", "mode", "match", "priority")))
        if not any(key[1:]):
            raise CombineError(f"an unnamed top-level {node.tag}")
        if not ours and key[1].startswith(("fused", f"{FINDINGS_PREFIX}:")):
            raise CombineError(f"a declaration named like the gateway's own: {key[1]!r}")
        found = kept.setdefault(key, node)
        if found is not node and not _same(found, node):
            raise CombineError(f"two different declarations of {key[1:]!r}")
    return list(kept.values())


def merged_namespaces(skeletons: list[Skeleton]) -> dict[str, str]:
    nsmap: dict[str, str] = {}
    for skeleton in skeletons:
        for prefix, uri in skeleton.root.nsmap.items():
            if prefix and nsmap.setdefault(prefix, uri) != uri:
                raise CombineError(f"the prefix {prefix!r} is bound to two namespaces")
    return nsmap
